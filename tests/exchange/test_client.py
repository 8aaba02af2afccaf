"""The portal exchange on its own: safe unpacking, what a submission carries, which token it sends, the
messages a trainee sees for each portal answer, and how a notebook server finds it (no portal app here)."""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeError, ExchangeFactory
from nbgrader.server_extensions.assignment_list.handlers import AssignmentList
from traitlets.config import Config, PyFileConfigLoader

from academy.exchange import (PortalCollect, PortalFetchAssignment, PortalFetchFeedback, PortalList,
                              PortalReleaseAssignment, PortalReleaseFeedback, PortalSubmit)
from academy.exchange.files import UnsafeArchive, collect_submission, read_release, write_release
from academy.exchange.list import PortalListError

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT = {"id": 3, "course": "manufacturing-ai", "assignment": "lab1", "notebooks": ["lab1"],
              "due_at": "2027-03-09T00:00:00+00:00", "released_at": "2027-03-01T00:00:00+00:00"}


# --- a stand-in portal (and hub) answering canned replies ---------------------------------------

class Stub:
    """An HTTP server on a free port: routes[(method, path)] = (status, body); records what it got."""

    def __init__(self):
        self.routes: dict[tuple[str, str], tuple] = {}  # (status, body[, headers])
        self.seen: list[tuple[str, str, dict]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?")[0]
                stub.seen.append((self.command, self.path, dict(self.headers)))
                status, body, *headers = stub.routes.get((self.command, path), (404, {"error": "Not found."}))
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for key, value in (headers[0] if headers else {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/octet-stream" if isinstance(body, bytes)
                                 else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def portal(monkeypatch, tmp_path):
    stub = Stub()
    for key in ("JUPYTERHUB_API_URL", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_USER"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ACADEMY_PORTAL_URL", stub.url)
    monkeypatch.setenv("ACADEMY_PORTAL_TOKEN", "env-token")
    monkeypatch.chdir(tmp_path)
    yield stub
    stub.close()


def run(cls, course="manufacturing-ai", assignment="lab1", parent=None, **traits):
    config = Config()
    config.CourseDirectory.course_id = course
    config.CourseDirectory.assignment_id = assignment
    for key, value in traits.items():
        setattr(config[_section(cls)], key, value)
    exchange = cls(coursedir=CourseDirectory(config=config), authenticator=Authenticator(config=config),
                   config=config, parent=parent)
    return exchange.start(), exchange


def _section(cls) -> str:
    for base in cls.__mro__:
        if base.__module__.startswith("nbgrader.exchange.abc") and base.__name__ != "Exchange":
            return base.__name__
    return "Exchange"


def tarball(members: list[tuple[str, bytes | None, bytes]]) -> bytes:
    """members: (name, contents or None, kind) with kind b"f" file, b"l" symlink, b"h" hardlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            if kind == b"l":
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
            elif kind == b"h":
                info.type, info.linkname = tarfile.LNKTYPE, "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = len(data or b"")
                tar.addfile(info, io.BytesIO(data or b""))
    return buf.getvalue()


# --- unpacking and gathering files --------------------------------------------------------------

@pytest.mark.parametrize("bad", [("/etc/evil", b"f"), ("../evil", b"f"), ("a/../../evil", b"f"),
                                 ("link", b"l"), ("hard", b"h")])
def test_unsafe_release_members_are_refused_before_anything_is_written(tmp_path, bad):
    blob = tarball([("lab1.ipynb", b"{}", b"f"), (bad[0], b"x", bad[1])])
    with pytest.raises(UnsafeArchive):
        read_release(blob)
    assert list(tmp_path.iterdir()) == []


def test_release_never_overwrites_the_trainees_files(tmp_path):
    dest = tmp_path / "lab1"
    entries = read_release(tarball([("lab1.ipynb", b"released", b"f"), ("data/readme.txt", b"r", b"f")]))
    assert sorted(write_release(entries, str(dest))) == ["data/readme.txt", "lab1.ipynb"]
    (dest / "lab1.ipynb").write_bytes(b"my answers")
    (dest / "data" / "readme.txt").unlink()
    assert write_release(entries, str(dest)) == ["data/readme.txt"]
    assert (dest / "lab1.ipynb").read_bytes() == b"my answers"
    assert [p.name for p in tmp_path.iterdir()] == ["lab1"]  # no scratch folder left behind


def test_submission_leaves_out_checkpoints_feedback_hidden_and_large_files(tmp_path):
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "lab1-checkpoint.ipynb").write_text("{}")
    (tmp_path / "feedback" / "2027-03-02").mkdir(parents=True)
    (tmp_path / "feedback" / "2027-03-02" / "lab1.html").write_text("<p>")
    (tmp_path / ".secret").write_text("x")
    (tmp_path / "lab1.ipynb").write_text("{}")
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "notes.txt").write_text("n")
    (tmp_path / "big.bin").write_bytes(b"0" * 2000)
    (tmp_path / "data.csv").write_text("a,b")
    got = collect_submission(str(tmp_path), ["*.csv"], max_file_bytes=1000)
    assert sorted(got.files) == ["extra/notes.txt", "lab1.ipynb"]
    assert got.skipped_large == ["big.bin"]
    assert {".ipynb_checkpoints/", "feedback/", ".secret", "data.csv"} <= set(got.skipped_other)


def test_the_package_imports_without_the_portal(tmp_path):
    """In the course image only academy/exchange is installed (no Flask, no academy/__init__.py)."""
    site = tmp_path / "site"
    (site / "academy").mkdir(parents=True)
    subprocess.run(["cp", "-r", str(REPO / "academy" / "exchange"), str(site / "academy" / "exchange")], check=True)
    code = (
        "import sys\n"
        "import academy.exchange as e\n"
        "import academy\n"
        "assert e.__file__.startswith(sys.argv[1]), e.__file__\n"
        "assert not hasattr(academy, 'create_app')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in {'flask', 'flask_babel', 'flask_sqlalchemy'})\n"
        "print('ok', e.PortalList.__name__, loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(site)], cwd=site, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ok PortalList []" in out.stdout


# --- which token, and what the trainee reads -------------------------------------------------------

def test_a_fresh_token_from_the_hub_wins_over_the_spawn_time_one(portal, monkeypatch):
    hub = Stub()
    try:
        hub.routes[("GET", "/hub/api/users/u7")] = (200, {"name": "u7", "auth_state": {"access_token": "hub-fresh"}})
        monkeypatch.setenv("JUPYTERHUB_API_URL", f"{hub.url}/hub/api")
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "server-token")
        monkeypatch.setenv("JUPYTERHUB_USER", "u7")
        portal.routes[("GET", "/api/exchange/assignments")] = (200, [ASSIGNMENT])
        run(PortalList)
        assert hub.seen[0][2]["Authorization"] == "token server-token"
        assert portal.seen[-1][2]["Authorization"] == "Bearer hub-fresh"
        # A hub that does not share auth_state (older role config): the server's own token is used.
        hub.routes[("GET", "/hub/api/users/u7")] = (200, {"name": "u7"})
        run(PortalList)
        assert portal.seen[-1][2]["Authorization"] == "Bearer env-token"
    finally:
        hub.close()


def test_list_has_the_default_exchanges_shape_and_only_what_the_portal_released(portal, tmp_path):
    other = {**ASSIGNMENT, "id": 4, "assignment": "lab2", "notebooks": ["lab2"]}
    portal.routes[("GET", "/api/exchange/assignments")] = (200, [ASSIGNMENT, other])
    (tmp_path / "lab2").mkdir()
    (tmp_path / "lab2" / "lab2.ipynb").write_text("{}")
    listed, _ = run(PortalList, assignment="")
    assert [(a["assignment_id"], a["status"]) for a in listed] == [("lab1", "released"), ("lab2", "fetched")]
    assert set(listed[0]) == {"course_id", "assignment_id", "status", "path", "notebooks"}
    assert listed[1]["notebooks"] == [{"notebook_id": "lab2", "path": str(tmp_path / "lab2" / "lab2.ipynb")}]
    assert "course=manufacturing-ai" in portal.seen[-1][1]


def test_submitted_list_marks_feedback_available_then_fetched(portal, tmp_path):
    sub = {"id": 9, "assignment_id": 3, "assignment": "lab1", "course": "manufacturing-ai",
           "received_at": "2027-03-02T01:02:03.000004+00:00", "sha256": "ab", "status": "graded",
           "status_label": "graded", "score": 8.0, "max_points": 10.0, "has_feedback": True, "notebooks": ["lab1"]}
    portal.routes[("GET", "/api/exchange/submissions")] = (200, [sub])
    portal.routes[("GET", "/api/exchange/submissions/9/feedback")] = (200, b"<html>fb</html>")
    listed, _ = run(PortalList, cached=True)
    (entry,) = listed[0]["submissions"]
    assert entry["timestamp"] == "2027-03-02 01:02:03.000004 UTC"
    assert entry["has_exchange_feedback"] and not entry["has_local_feedback"]
    assert set(entry) == {"course_id", "student_id", "assignment_id", "timestamp", "status", "path", "notebooks",
                          "has_local_feedback", "has_exchange_feedback", "feedback_updated", "local_feedback_path"}

    run(PortalFetchFeedback)
    html = tmp_path / "lab1" / "feedback" / "2027-03-02 01:02:03.000004 UTC" / "lab1.html"
    assert html.read_bytes() == b"<html>fb</html>"
    (entry,) = run(PortalList, cached=True)[0][0]["submissions"]
    assert entry["has_local_feedback"] and entry["local_feedback_path"] == str(html.parent)


@pytest.mark.parametrize("status, body, expected", [
    (401, {"error": "Sign in again"}, r"Open the hub home page \(/hub/home\) to renew it"),
    (422, {"error": "The cut-off for this assignment has passed; submissions are closed."}, "cut-off"),
    (403, {"error": "You are not a trainee of this course."}, "not a trainee"),
    (500, b"<html>oops</html>", "HTTP 500"),
])
def test_portal_answers_become_clear_messages(portal, tmp_path, caplog, status, body, expected):
    portal.routes[("GET", "/api/exchange/assignments")] = (200, [ASSIGNMENT])
    portal.routes[("POST", "/api/exchange/assignments/3/submit")] = (status, body)
    (tmp_path / "lab1").mkdir()
    (tmp_path / "lab1" / "lab1.ipynb").write_text("{}")
    with pytest.raises(ExchangeError, match=expected):
        run(PortalSubmit)


def test_unreachable_portal_and_missing_sign_in_say_what_to_do(portal, monkeypatch):
    monkeypatch.setenv("ACADEMY_PORTAL_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(ExchangeError, match="Cannot reach the portal"):
        run(PortalFetchAssignment)
    monkeypatch.delenv("ACADEMY_PORTAL_TOKEN")
    with pytest.raises(ExchangeError, match="No portal sign-in"):
        run(PortalFetchAssignment)


def test_jupyterlab_list_shows_the_real_reason_not_nbgraders_exchange_directory_text(portal):
    portal.routes[("GET", "/api/exchange/assignments")] = (401, {"error": "x"})
    with pytest.raises(PortalListError, match="sign-in has expired"):
        run(PortalList)  # as nbgrader's list handler builds it: no application parent


def test_not_released_assignment_is_named_with_what_is_released(portal, tmp_path):
    portal.routes[("GET", "/api/exchange/assignments")] = (200, [ASSIGNMENT])
    with pytest.raises(ExchangeError, match="lab9 has not been released to you.*manufacturing-ai/lab1"):
        run(PortalFetchAssignment, assignment="lab9")
    assert not (tmp_path / "lab9").exists()


def test_damaged_or_hostile_release_writes_nothing(portal, tmp_path):
    portal.routes[("GET", "/api/exchange/assignments")] = (200, [ASSIGNMENT])
    portal.routes[("GET", "/api/exchange/assignments/3/release")] = (
        200, tarball([("lab1.ipynb", b"{}", b"f"), ("../../.bashrc", b"evil", b"f")]))
    with pytest.raises(ExchangeError, match="refused"):
        run(PortalFetchAssignment)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("cls", [PortalReleaseAssignment, PortalReleaseFeedback, PortalCollect])
def test_instructor_actions_point_to_the_portal(portal, cls):
    with pytest.raises(ExchangeError, match="done in the portal"):
        run(cls)
    assert portal.seen == []


# --- how a notebook server finds it --------------------------------------------------------------

def test_notebook_server_loads_the_portal_exchange_from_any_working_folder(monkeypatch, tmp_path):
    """jupyterhub_config.py points local servers at deploy/singleuser; nbgrader's assignment list, which
    loads its config from the Jupyter config path plus the working folder, then uses the portal classes."""
    for key, value in {"ACADEMY_HUB_CLIENT_SECRET": "c" * 40, "JUPYTERHUB_CRYPT_KEY": "ab" * 32,
                       "ACADEMY_DATA_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(key, value)
    hub = PyFileConfigLoader("jupyterhub_config.py", path=str(REPO)).load_config()
    roles = {r["name"]: r for r in hub.JupyterHub.load_roles}
    assert "admin:auth_state!user" in roles["server"]["scopes"]
    assert "admin:auth_state!user" in hub.JupyterHub.extra_user_scopes  # a server token gets only its user's scopes
    assert "idle-culler" in roles  # the services section's roles are kept
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v(SimpleNamespace(home_dir=str(home))) for k, v in hub.Spawner.environment.items()}
    monkeypatch.chdir(home)
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", env["JUPYTER_CONFIG_PATH"])
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(home / ".jupyter"))
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(REPO)
    manager = AssignmentList()
    manager.root_dir = str(home)
    with manager.get_assignment_dir_config() as config:
        factory = ExchangeFactory(config=config)
        assert factory.list is PortalList and factory.submit is PortalSubmit
        assert factory.collect is PortalCollect


def test_fetch_restores_only_missing_files_when_asked(portal, tmp_path):
    blob = tarball([("lab1.ipynb", b"released", b"f"), ("helpers.py", b"def f(): pass", b"f")])
    portal.routes[("GET", "/api/exchange/assignments")] = (200, [ASSIGNMENT])
    portal.routes[("GET", "/api/exchange/assignments/3/release")] = (200, blob)
    run(PortalFetchAssignment)
    (tmp_path / "lab1" / "lab1.ipynb").write_bytes(b"my answers")
    (tmp_path / "lab1" / "helpers.py").unlink()
    with pytest.raises(ExchangeError, match="already have a copy"):
        run(PortalFetchAssignment)
    run(PortalFetchAssignment, replace_missing_files=True)
    assert (tmp_path / "lab1" / "lab1.ipynb").read_bytes() == b"my answers"
    assert (tmp_path / "lab1" / "helpers.py").read_bytes() == b"def f(): pass"
    # The release's checksum header, when the portal sends one, must match what arrived.
    (tmp_path / "lab1" / "helpers.py").unlink()
    portal.routes[("GET", "/api/exchange/assignments/3/release")] = (200, blob, {"X-Release-Sha256": "0" * 64})
    with pytest.raises(ExchangeError, match="damaged"):
        run(PortalFetchAssignment, replace_missing_files=True)
    assert not (tmp_path / "lab1" / "helpers.py").exists()
    good = {"X-Release-Sha256": hashlib.sha256(blob).hexdigest()}
    portal.routes[("GET", "/api/exchange/assignments/3/release")] = (200, blob, good)
    run(PortalFetchAssignment, replace_missing_files=True)
    assert (tmp_path / "lab1" / "helpers.py").exists()


def test_strict_submit_refuses_a_missing_notebook_and_large_work_is_named(portal, tmp_path):
    portal.routes[("GET", "/api/exchange/assignments")] = (200, [ASSIGNMENT])
    (tmp_path / "lab1").mkdir()
    (tmp_path / "lab1" / "renamed.ipynb").write_text("{}")
    with pytest.raises(ExchangeError, match="missing notebooks.*lab1.ipynb"):
        run(PortalSubmit, strict=True)
    (tmp_path / "lab1" / "lab1.ipynb").write_text("{}")
    (tmp_path / "lab1" / "model.pkl").write_bytes(b"0" * 3000)
    (tmp_path / "lab1" / "outputs.pkl").write_bytes(b"0" * 3500)
    with pytest.raises(ExchangeError, match="too large.*Largest files: outputs.pkl, model.pkl"):
        run(PortalSubmit, max_submission_bytes=4000)
    assert not any(method == "POST" for method, *_ in portal.seen)


# --- too many submissions -------------------------------------------------------------------------

PORTAL_429 = {"error": "제출이 너무 잦습니다. 이 과제는 10분에 6번까지 제출할 수 있습니다. 4분 10초 뒤(한국 시각 14:32:05 이후)에 "
                       "다시 제출하세요. / Too many submissions. This assignment takes at most 6 submissions per 10 "
                       "minutes. Submit again in 4 min 10 s (after 14:32:05 Korea time).",
              "retry_after": 250, "retry_at": "2027-03-02T05:32:05+00:00"}


def test_a_429_shows_the_portals_own_words_on_when_to_submit_again(portal, tmp_path):
    """The trainee reads the portal's refusal as it is (its rule and the clock time to submit again).

    Checked: fails when PortalSubmit.too_many_text ignores the portal's words (only Retry-After's seconds).
    """
    portal.routes[("GET", "/api/exchange/assignments")] = (200, [ASSIGNMENT])
    portal.routes[("POST", "/api/exchange/assignments/3/submit")] = (429, PORTAL_429, {"Retry-After": "250"})
    (tmp_path / "lab1").mkdir()
    (tmp_path / "lab1" / "lab1.ipynb").write_text("{}")
    with pytest.raises(ExchangeError) as refused:
        run(PortalSubmit)
    assert str(refused.value) == PORTAL_429["error"]


@pytest.mark.parametrize("retry_after, said", [("90", "in 90 s"), ("", "in a few minutes"),
                                               ("Wed, 21 Oct 2099 07:28:00 GMT", "in ")])
def test_a_429_without_the_portals_words_still_says_when_to_retry(portal, tmp_path, retry_after, said):
    """A 429 from something in front of the portal (a proxy's HTML page) still tells the trainee, in Korean
    and English, that they submitted too often and when to retry, from Retry-After (seconds or a date).

    Checked: fails when PortalSubmit answers a 429 with the generic portal error ("HTTP 429").
    """
    portal.routes[("GET", "/api/exchange/assignments")] = (200, [ASSIGNMENT])
    headers = {"Retry-After": retry_after} if retry_after else {}
    portal.routes[("POST", "/api/exchange/assignments/3/submit")] = (429, b"<html>slow down</html>", headers)
    (tmp_path / "lab1").mkdir()
    (tmp_path / "lab1" / "lab1.ipynb").write_text("{}")
    with pytest.raises(ExchangeError, match="제출이 너무 잦습니다.*Too many submissions. Submit again " + said):
        run(PortalSubmit)
