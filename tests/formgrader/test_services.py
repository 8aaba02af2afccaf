"""The formgrader services and roles the hub gets for the portal's courses (config level, no hub started)."""
from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import stat
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from jupyter_server.serverapp import ServerApp
from jupyterhub.app import JupyterHub
from werkzeug.serving import make_server

from academy.audit.models import AuditEntry
from academy.extensions import db
from academy.integrations import formgrader
from academy.integrations.formgrader import (CourseLink, fetch_course_links, formgrader_path, formgrader_services,
                                             os_user)
from academy.integrations.formgrader_contents import ReadOnlyContentsManager
from academy.integrations.service_tokens import derive, manual_scope
from tests.hub.stack import free_port
from tests.hub.test_hub_config import load

REPO = Path(__file__).resolve().parents[2]
COURSES = REPO / "courses"
MASTER = "g" * 40
MAI = CourseLink(7, "manufacturing-ai", "MAI-101")


def build(links, courses_dir: Path, tmp_path: Path, as_root=False, **env):
    return formgrader_services(links, courses_dir, {"ACADEMY_GRADER_TOKEN": MASTER,
                                                     "ACADEMY_VAR_DIR": str(tmp_path / "var"), **env},
                               state_dir=tmp_path / "fg", portal_url="http://10.0.0.2:5000", python="/venv/bin/python",
                               allow_root=False, as_root=as_root)


@pytest.fixture(autouse=True)
def _formgrader_log(monkeypatch, request):
    # Alembic's logging set-up (the app fixture runs the migrations) disables loggers that already exist.
    monkeypatch.setattr(logging.getLogger("academy.formgrader"), "disabled", False)
    if request.node.name != "test_a_user_who_cannot_run_the_services_python_gets_no_formgraders":
        # The services' Python here is /venv/bin/python (made up); trying it as another user is tested below.
        monkeypatch.setattr(formgrader, "cannot_run", lambda *a, **k: None)


def by_name(services) -> dict:
    return {s["name"]: s for s in services}


def two_courses(root: Path, *names: str) -> Path:
    courses = root / "courses"
    for name in names:
        (courses / name / "source").mkdir(parents=True)
        shutil.copy(COURSES / "manufacturing-ai" / "nbgrader_config.py", courses / name)
    return courses


def test_a_course_gets_a_formgrader_named_by_its_id_that_only_its_instructors_group_opens(tmp_path):
    services, roles = build([MAI], COURSES, tmp_path)
    assert set(by_name(services)) == {"formgrade-c7", "formgrade-sync-c7"}
    service = by_name(services)["formgrade-c7"]
    folder = COURSES / "manufacturing-ai"
    # Unset base port: a free loopback port, picked when the hub loads its config.
    assert re.fullmatch(r"http://127\.0\.0\.1:\d{4,5}", service["url"])
    assert service["timeout"] == 120  # a formgrader slow to start on a busy machine must not stop the hub
    assert service["command"][:3] == ["/venv/bin/python", "-m", "jupyterhub.singleuser"]
    assert f"--ServerApp.root_dir={folder}" in service["command"]
    # Not started in the course folder: Python would import from it first.
    assert service["cwd"] == str(tmp_path / "fg" / "c7")
    assert "--allow-root" not in service["command"] and "user" not in service
    assert service["oauth_no_confirm"] is True and service["environment"]["JUPYTERHUB_DEFAULT_URL"] == "/formgrader"
    assert service["environment"]["JUPYTER_RUNTIME_DIR"] == str(tmp_path / "fg" / "c7" / "runtime")
    assert service["info"] == {"course_id": 7, "course": "MAI-101", "folder": "manufacturing-ai",
                               "path": "/services/formgrade-c7/formgrader"}
    assert formgrader_path(7) == "/services/formgrade-c7/formgrader"
    [role] = roles
    # The course's instructors' group and nobody else: no users, no services, no other group.
    assert role["name"] == "formgrade-c7" and role["groups"] == ["formgrade-c7"]
    assert "users" not in role and "services" not in role
    assert set(role["scopes"]) == {"access:services!service=formgrade-c7", "read:services!service=formgrade-c7"}


def test_the_formgrader_uses_the_platforms_gradebook_and_cannot_write_files_or_run_code(tmp_path):
    services, _ = build([MAI], COURSES, tmp_path, ACADEMY_GRADEBOOK_URL="postgresql://gb/{course}")
    service = by_name(services)["formgrade-c7"]
    assert "--CourseDirectory.db_url=postgresql://gb/manufacturing-ai" in service["command"]
    # The course's own config reads its db_url from here: it agrees with the command line.
    assert service["environment"]["ACADEMY_GRADEBOOK_URL"] == "postgresql://gb/manufacturing-ai"
    app = ServerApp()
    app.parse_command_line(service["command"][3:])
    assert app.jpserver_extensions["nbgrader.server_extensions.formgrader"] is True
    assert app.jpserver_extensions["nbgrader.server_extensions.assignment_list"] is False
    assert app.root_dir == str(COURSES / "manufacturing-ai")
    assert app.contents_manager_class is ReadOnlyContentsManager and app.terminals_enabled is False


def test_each_course_has_its_own_sync_with_a_token_for_that_course_only(tmp_path):
    """The hub hands each sync a token derived for its course; no service ever sees the master secret.

    Checked: fails when _sync passes ACADEMY_GRADER_TOKEN (the master) to the sync, as one shared token did.
    """
    courses = two_courses(tmp_path, "b-course", "a-course")
    (courses / "notes").mkdir()  # a folder no course is linked to: nothing for it
    links = [CourseLink(12, "b-course", "B"), CourseLink(3, "a-course", "A")]
    services, roles = build(links, courses, tmp_path, ACADEMY_FORMGRADER_BASE_PORT="9800",
                            ACADEMY_FORMGRADER_SYNC_EVERY="15", ACADEMY_FORMGRADER_START_TIMEOUT="60")
    named = by_name(services)
    assert [named[f"formgrade-c{i}"]["url"] for i in (3, 12)] == ["http://127.0.0.1:9800", "http://127.0.0.1:9801"]
    assert named["formgrade-c3"]["timeout"] == 60
    for course_id, folder in ((3, "a-course"), (12, "b-course")):
        sync = named[f"formgrade-sync-c{course_id}"]
        assert "url" not in sync and sync["display"] is False
        command = sync["command"]
        assert command[:3] == ["/venv/bin/python", "-m", "academy.grading.manual_sync"]
        assert command[command.index("--course-dir") + 1] == str(courses / folder)
        assert command[command.index("--every") + 1] == "15"
        assert sync["environment"]["ACADEMY_SYNC_TOKEN"] == derive(MASTER, manual_scope(course_id))
        assert sync["environment"]["ACADEMY_PORTAL_URL"] == "http://10.0.0.2:5000"
    assert all(MASTER not in str(s) for s in services)
    assert [r["groups"] for r in roles] == [["formgrade-c3"], ["formgrade-c12"]]


def test_a_relinked_folder_follows_its_new_course_and_the_group_stays_with_the_course(tmp_path):
    """Course 1 taught folder alpha, then beta; course 2 got alpha. Group formgrade-c1 opens beta, never alpha.

    Checked: fails when services and groups are named by folder again (formgrade-alpha would pass to course 2
    and carry course 1's instructors along).
    """
    courses = two_courses(tmp_path, "alpha", "beta")
    before, _ = build([CourseLink(1, "alpha"), CourseLink(2, "beta")], courses, tmp_path)
    after, roles = build([CourseLink(1, "beta"), CourseLink(2, "alpha")], courses, tmp_path)
    root = {name: next(a for a in s["command"] if a.startswith("--ServerApp.root_dir="))
            for name, s in by_name(after).items() if "url" in s}
    assert root == {"formgrade-c1": f"--ServerApp.root_dir={courses / 'beta'}",
                    "formgrade-c2": f"--ServerApp.root_dir={courses / 'alpha'}"}
    assert {r["name"]: r["groups"] for r in roles} == {"formgrade-c1": ["formgrade-c1"],
                                                      "formgrade-c2": ["formgrade-c2"]}
    assert set(by_name(before)) == set(by_name(after))


def test_switched_off_or_without_courses_there_is_nothing(tmp_path):
    assert build([MAI], COURSES, tmp_path, ACADEMY_FORMGRADERS="off") == ([], [])
    assert build([], COURSES, tmp_path) == ([], [])
    assert build(None, COURSES, tmp_path) == ([], [])  # the portal did not answer
    assert build([CourseLink(5, "no-such-folder")], COURSES, tmp_path) == ([], [])


def test_without_the_master_secret_the_formgraders_run_but_nothing_syncs(tmp_path):
    services, roles = build([MAI], COURSES, tmp_path, ACADEMY_GRADER_TOKEN="")
    assert set(by_name(services)) == {"formgrade-c7"} and roles


# --- the OS user --------------------------------------------------------------------------------------

NOBODY = os_user("nobody")
needs_root = pytest.mark.skipif(os.geteuid() != 0 or NOBODY is None, reason="switching OS users needs root")


@needs_root
def test_as_root_the_formgraders_run_as_their_own_user_who_owns_only_the_gradebook_and_state(tmp_path):
    """The formgrader user may write its course's gradebook (outside the course) and its runtime files only.

    Checked: fails when _course_gradebook stops handing the gradebook folder to that user (manual grading
    would then fail) or _prepare_state hands it the config folder too.
    """
    courses = two_courses(tmp_path, "lab-course")
    services, _ = build([CourseLink(4, "lab-course")], courses, tmp_path, as_root=True, ACADEMY_FORMGRADER_USER="nobody")
    named = by_name(services)
    assert named["formgrade-c4"]["user"] == "nobody" and named["formgrade-sync-c4"]["user"] == "nobody"
    gradebook = tmp_path / "var" / "gradebooks" / "lab-course" / "gradebook.db"
    assert f"--CourseDirectory.db_url=sqlite:///{gradebook}" in named["formgrade-c4"]["command"]
    for path in (gradebook, gradebook.parent, tmp_path / "fg" / "c4" / "runtime", tmp_path / "fg" / "c4" / "sync"):
        assert path.stat().st_uid == NOBODY.uid, path
    assert stat.S_IMODE(gradebook.parent.stat().st_mode) == 0o700  # grades: nobody else reads them
    for path in (courses / "lab-course", courses / "lab-course" / "nbgrader_config.py", tmp_path / "fg" / "c4",
                 tmp_path / "fg" / "c4" / "config"):
        assert not formgrader.writable_by(path, NOBODY), path


@needs_root
def test_a_course_folder_its_user_could_change_gets_no_formgrader(tmp_path, caplog):
    """If the formgrader's user could write the course folder (its config, its tests), that course is refused.

    Checked: fails when _course_gradebook no longer checks writable_paths on the course folder.
    """
    courses = two_courses(tmp_path, "safe-course", "given-away")
    os.chown(courses / "given-away" / "nbgrader_config.py", NOBODY.uid, -1)
    with caplog.at_level(logging.ERROR, "academy.formgrader"):
        services, _ = build([CourseLink(1, "safe-course"), CourseLink(2, "given-away")], courses, tmp_path,
                            as_root=True, ACADEMY_FORMGRADER_USER="nobody")
    assert set(by_name(services)) == {"formgrade-c1", "formgrade-sync-c1"}
    assert "could change course folder" in caplog.text and "given-away" in caplog.text


@needs_root
def test_no_formgrader_starts_when_its_user_could_change_code_others_run(tmp_path, monkeypatch, caplog):
    """The formgrader user must not be able to write the academy code, the venv or the proxy.

    Checked: fails when _run_as no longer checks code_paths().
    """
    code = tmp_path / "code"
    code.mkdir()
    (code / "module.py").write_text("")
    os.chown(code / "module.py", NOBODY.uid, -1)
    monkeypatch.setattr(formgrader, "code_paths", lambda: [(code, formgrader.TREE)])
    with caplog.at_level(logging.ERROR, "academy.formgrader"):
        assert build([MAI], COURSES, tmp_path, as_root=True, ACADEMY_FORMGRADER_USER="nobody") == ([], [])
    assert "could change code" in caplog.text


def test_the_real_code_and_courses_are_not_writable_by_an_unprivileged_user():
    """What the repository ships: nobody but its owner writes the code, the venv or the course material."""
    user = NOBODY or formgrader.OSUser("nobody", 65534, frozenset({65534}))
    assert formgrader.writable_paths([*formgrader.code_paths(), (COURSES, formgrader.TREE)], user) == []


@needs_root
def test_a_user_who_cannot_run_the_services_python_gets_no_formgraders(tmp_path, caplog):
    """The hub tries the formgrader's Python as its user first: a service that cannot start would stop the hub.

    Checked: fails when _run_as no longer calls cannot_run (the hub would then die on the first formgrader).
    """
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)  # like a Python installed under /root
    (hidden / "python").symlink_to(Path(os.path.realpath(sys.executable)))
    with caplog.at_level(logging.ERROR, "academy.formgrader"):
        services = formgrader_services([MAI], COURSES, {"ACADEMY_FORMGRADER_USER": "nobody",
                                                        "ACADEMY_VAR_DIR": str(tmp_path / "var")},
                                       state_dir=tmp_path / "fg", portal_url="http://p", python=str(hidden / "python"),
                                       as_root=True)
    assert services == ([], []) and "nobody cannot run" in caplog.text
    assert formgrader.cannot_run(NOBODY, "/usr/bin/python3", modules=["json"]) is None  # what it can run, it may


@needs_root
def test_a_gradebook_left_inside_the_course_folder_is_not_served(tmp_path, caplog):
    courses = two_courses(tmp_path, "old-course")
    (courses / "old-course" / "gradebook.db").touch()  # where earlier versions kept it
    with caplog.at_level(logging.ERROR, "academy.formgrader"):
        services, _ = build([CourseLink(1, "old-course")], courses, tmp_path, as_root=True,
                            ACADEMY_FORMGRADER_USER="nobody")
    assert services == [] and "move it to" in caplog.text


def test_as_root_without_the_formgrader_user_nothing_starts(tmp_path, caplog):
    with caplog.at_level(logging.ERROR, "academy.formgrader"):
        assert build([MAI], COURSES, tmp_path, as_root=True,
                     ACADEMY_FORMGRADER_USER="no-such-user-here") == ([], [])
    assert "does not exist" in caplog.text and "install.sh" in caplog.text
    # root only when named outright (tests and containers that cannot switch users).
    services, _ = build([MAI], COURSES, tmp_path, as_root=True, ACADEMY_FORMGRADER_USER="root")
    assert by_name(services)["formgrade-c7"]["user"] == "root"


# --- asking the portal -------------------------------------------------------------------------------


@pytest.fixture
def portal(app):
    """The test app on a free loopback port with the hub's client secret, as the hub reaches it."""
    app.config.update(HUB_CLIENT_ID="jupyterhub", HUB_CLIENT_SECRET="s" * 40)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_the_hub_learns_each_courses_id_and_folder_from_the_portal(portal, make):
    course = make.course(code="MAI-101", nbgrader_course="manufacturing-ai")
    other = make.course(code="PY-100", nbgrader_course="python-basics")
    db.session.commit()
    links = fetch_course_links(portal, "jupyterhub", "s" * 40, 5)
    assert links == [CourseLink(course.id, "manufacturing-ai", "MAI-101"), CourseLink(other.id, "python-basics", "PY-100")]


def test_a_wrong_client_secret_is_refused_audited_and_not_retried(portal, make, client):
    sleeps = []
    assert fetch_course_links(portal, "jupyterhub", "x" * 40, 30, sleep=sleeps.append) is None
    assert sleeps == []  # waiting does not fix a secret
    assert client.get("/api/hub/formgraders").status_code == 401
    entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "grading.token_refused"))
    assert [json.loads(e.detail)["reason"] for e in entries] == ["invalid", "missing"]


@pytest.mark.parametrize("user, password", [("jupyterhub", "x"), ("jupyterhub", ""), ("other", "x")])
def test_a_hub_secret_shorter_than_a_client_secret_may_be_is_never_accepted(app, client, user, password):
    """Found in review: the hub's secret, checked against its setting, must meet the length register_client asks
    (32 characters); a configured "x" let "jupyterhub:x" in (without the length check the first case answers 200)."""
    app.config.update(HUB_CLIENT_ID="jupyterhub", HUB_CLIENT_SECRET="x")
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    assert client.get("/api/hub/formgraders", headers={"Authorization": f"Basic {basic}"}).status_code == 401


def test_a_slow_or_absent_portal_leaves_the_hub_without_formgraders_after_the_wait(caplog):
    now = [0.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    with caplog.at_level(logging.ERROR, "academy.formgrader"):
        links = fetch_course_links(f"http://127.0.0.1:{free_port()}", "jupyterhub", "s" * 40, 60, sleep=sleep,
                                   clock=lambda: now[0])
    assert links is None and 50 <= sum(sleeps) <= 60 and len(sleeps) >= 5  # asked again and again, then gave up
    assert "starts without formgraders" in caplog.text


def test_a_portal_that_comes_up_while_the_hub_waits_is_heard(app, make):
    app.config.update(HUB_CLIENT_ID="jupyterhub", HUB_CLIENT_SECRET="s" * 40)
    course = make.course(nbgrader_course="manufacturing-ai")
    db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    port = server.server_port
    server.server_close()  # nothing listens yet: the first asks are refused
    started = []

    def sleep(seconds):
        if len(started) == 0 and seconds >= 2:  # the second pause: the portal comes up
            started.append(make_server("127.0.0.1", port, app, threaded=True))
            threading.Thread(target=started[0].serve_forever, daemon=True).start()

    try:
        links = fetch_course_links(f"http://127.0.0.1:{port}", "jupyterhub", "s" * 40, 60, sleep=sleep)
    finally:
        for s in started:
            s.shutdown()
    assert links == [CourseLink(course.id, "manufacturing-ai", course.code)]


def test_the_hub_config_asks_the_portal_and_carries_the_formgraders(monkeypatch, tmp_path, portal, make):
    """jupyterhub_config.py, loaded by the hub itself, asks the portal and adds the services and roles."""
    course = make.course(nbgrader_course="manufacturing-ai")
    db.session.commit()
    JupyterHub.instance()  # as when the hub loads its config (a plain read of the file asks nobody)
    try:
        c = load(monkeypatch, tmp_path, None, ACADEMY_GRADER_TOKEN=MASTER, ACADEMY_PORTAL_INTERNAL_URL=portal,
                 ACADEMY_HUB_CLIENT_SECRET="s" * 40, ACADEMY_FORMGRADER_USER="root", ACADEMY_VAR_DIR=str(tmp_path))
    finally:
        JupyterHub.clear_instance()
    services = by_name(c.JupyterHub.services)
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    name = f"formgrade-c{course.id}"
    assert name in services and f"formgrade-sync-c{course.id}" in services
    assert roles[name]["groups"] == [name]
    assert {"academy-portal", "idle-culler"} <= set(services)
