"""A real hub with two courses' formgraders: a member of formgrade-c<id> gets that course's formgrader, anyone
else 403, and through it nobody changes a course file or runs code.

The hub signs in with its shared-password authenticator here (the portal's sign-in is tested in
tests/hub/ and tests/formgrader/test_portal_hub.py); what is under test is the services and roles that
formgrader_services gives the hub. The hub runs as root here and this machine's Python lives where no other
OS user may read, so the formgraders run as root (named outright): what stops writes and code below is the
formgrader's own configuration, not the OS user (tests/formgrader/test_services.py checks that part).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import requests
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from academy.integrations.course_config import course_config, gradebook_url
from tests.hub.stack import free_port, wait_until

pytestmark = pytest.mark.slow
HUB_ROOTS: dict[str, Path] = {}
REPO = Path(__file__).resolve().parents[2]
PASSWORD = "formgrader-live-test"
CONFIG = """\
import sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from academy.integrations.formgrader import CourseLink, formgrader_services

c = get_config()
here = Path({root!r})
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.pid_file = str(here / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{{here / 'hub.sqlite'}}"
c.JupyterHub.cookie_secret_file = str(here / "cookie_secret")
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = {password!r}
c.Authenticator.allowed_users = {{"u1", "u2", "u3"}}
# What the portal's sign-in does at login: u1 teaches course 1, u3 course 2, u2 takes course 1.
c.JupyterHub.load_groups = {{"formgrade-c1": {{"users": ["u1"]}}, "formgrade-c2": {{"users": ["u3"]}},
                            "nbgrader-c1": {{"users": ["u2"]}}}}
c.JupyterHub.services, c.JupyterHub.load_roles = formgrader_services(
    [CourseLink(1, "manufacturing-ai", "MAI-101"), CourseLink(2, "second-course", "SEC-101")], here / "courses",
    {{"ACADEMY_FORMGRADER_USER": "root", "ACADEMY_VAR_DIR": str(here / "var")}}, state_dir=here / "formgrader",
    portal_url="http://127.0.0.1:9")
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    proxy = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
    if not proxy.exists():
        pytest.fail(f"{proxy} is missing: run `npm ci --prefix .` (scripts/install.sh does)")
    root = tmp_path_factory.mktemp("formgrader-hub")
    for name in ("manufacturing-ai", "second-course"):
        course = root / "courses" / name
        (course / "source" / "lab1").mkdir(parents=True)
        shutil.copy(REPO / "courses" / "manufacturing-ai" / "nbgrader_config.py", course)
        (course / f"only-in-{name}.md").write_text(name)
    planted_submission(root / "courses" / "manufacturing-ai", root / "var", root / "ran-in-formgrader")
    HUB_ROOTS["root"] = root
    port = free_port()
    (root / "hub_config.py").write_text(CONFIG.format(
        repo=str(REPO), root=str(root), port=port, hub_port=free_port(), proxy_port=free_port(),
        proxy=str(proxy), password=PASSWORD))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "ACADEMY_GRADEBOOK"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    log = (root / "hub.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(root / "hub_config.py")], cwd=root,
                               env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        # The hub answers once its managed services (the formgrader) are up.
        wait_until(lambda: requests.get(f"{url}/hub/api", timeout=2).ok, 90, "hub", process)
        yield url
    except Exception:
        raise RuntimeError((root / "hub.log").read_text(errors="replace")[-4000:])
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def signed_in(hub: str, user: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{hub}/hub/login", timeout=10)
    response = session.post(f"{hub}/hub/login", data={"username": user, "password": PASSWORD,
                                                      "_xsrf": session.cookies.get("_xsrf")},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text[-500:]
    return session


def planted_submission(course: Path, var: Path, marker: Path) -> None:
    """A released lab in the course gradebook and a trainee's submission whose answer writes the marker when
    anything runs it: what autograde would run."""
    def cell(source, **meta):
        return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {"schema_version": 3, "locked": False,
                                                                        "points": 0, **meta}})

    def notebook(answer):
        return nbformat.v4.new_notebook(cells=[cell(answer, solution=True, grade=False, grade_id="answer"),
                                               cell("assert True", solution=False, grade=True, grade_id="test",
                                                    points=1, locked=True)])

    nbformat.write(notebook("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"), course / "source" / "lab1" / "lab1.ipynb")
    db_url = gradebook_url(course, env={"ACADEMY_VAR_DIR": str(var)})
    Path(db_url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    config = course_config(course, db_url=db_url)
    assert NbGraderAPI(CourseDirectory(config=config), config=config).generate_assignment("lab1")["success"]
    folder = course / "submitted" / "u2" / "lab1"
    folder.mkdir(parents=True)
    nbformat.write(notebook(f"open({str(marker)!r}, 'w').write('ran')"), folder / "lab1.ipynb")


def test_the_courses_instructor_gets_the_formgrader(hub):
    page = signed_in(hub, "u1").get(f"{hub}/services/formgrade-c1/formgrader", timeout=30)
    assert page.status_code == 200
    assert page.url.startswith(f"{hub}/services/formgrade-c1/formgrader/")
    assert re.search(r"<title>\s*nbgrader formgrade\s*</title>", page.text)


def test_an_instructor_of_one_course_cannot_open_anothers(hub):
    """Groups and services are keyed by course id: u1 (course 1) is refused course 2's formgrader and files.

    Checked: fails when the role of each formgrader also lists another course's group.
    """
    session = signed_in(hub, "u1")
    page = session.get(f"{hub}/services/formgrade-c2/formgrader", timeout=30)
    assert page.status_code == 403 and "nbgrader formgrade" not in page.text
    api = session.get(f"{hub}/services/formgrade-c2/api/contents", timeout=30, allow_redirects=False)
    assert api.status_code in (302, 403) and "only-in-second-course" not in api.text
    own = signed_in(hub, "u3")
    own.get(f"{hub}/services/formgrade-c2/formgrader", timeout=30)
    listing = own.get(f"{hub}/services/formgrade-c2/api/contents", timeout=30).json()
    assert "only-in-second-course.md" in {item["name"] for item in listing["content"]}


def test_a_trainee_of_the_course_is_refused(hub):
    session = signed_in(hub, "u2")
    page = session.get(f"{hub}/services/formgrade-c1/formgrader", timeout=30)
    assert page.status_code == 403 and "nbgrader formgrade" not in page.text
    # Nor can the trainee reach the server's API behind the page.
    api = session.get(f"{hub}/services/formgrade-c1/api/contents", timeout=30, allow_redirects=False)
    assert api.status_code in (302, 403) and "content" not in api.text


def instructor(hub: str) -> tuple[requests.Session, str, dict]:
    session = signed_in(hub, "u1")
    base = f"{hub}/services/formgrade-c1"
    session.get(f"{base}/formgrader", timeout=30)  # completes the service's OAuth: the instructor is in
    # The service sets its own _xsrf cookie under its path (the hub has another).
    token = next((c.value for c in session.cookies if c.name == "_xsrf" and c.path.startswith("/services/")), "")
    return session, base, {"X-XSRFToken": token}


def test_the_formgrader_offers_no_shell_and_no_kernel(hub):
    session, base, xsrf = instructor(hub)
    assert session.get(f"{base}/api/contents", timeout=30).status_code == 200
    assert session.post(f"{base}/api/terminals", headers=xsrf, timeout=30).status_code in (403, 404)
    assert session.get(f"{base}/api/kernelspecs", timeout=30).json()["kernelspecs"] == {}
    started = session.post(f"{base}/api/kernels", json={"name": "python3"}, headers=xsrf, timeout=30)
    assert started.status_code >= 400


def test_no_course_file_can_be_changed_through_the_formgrader(hub, tmp_path_factory):
    """The worker runs the course's source notebooks and the portal reads its config: the formgrader's file
    API reads them and changes none (save, upload, new, copy, rename, delete).

    Checked: fails when the formgrader runs with jupyter_server's own (writable) contents manager.
    """
    session, base, xsrf = instructor(hub)
    listing = session.get(f"{base}/api/contents", timeout=30).json()
    assert "nbgrader_config.py" in {item["name"] for item in listing["content"]}
    original = session.get(f"{base}/api/contents/nbgrader_config.py", timeout=30).json()["content"]
    evil = {"type": "file", "format": "text", "content": "import os\nos.system('id > /tmp/owned')\n"}
    attempts = [
        session.put(f"{base}/api/contents/nbgrader_config.py", json=evil, headers=xsrf, timeout=30),
        session.put(f"{base}/api/contents/source/lab1/evil.py", json=evil, headers=xsrf, timeout=30),
        session.post(f"{base}/api/contents/source", json={"type": "file", "ext": ".py"}, headers=xsrf, timeout=30),
        session.post(f"{base}/api/contents/source", json={"copy_from": "nbgrader_config.py"}, headers=xsrf,
                     timeout=30),
        session.patch(f"{base}/api/contents/only-in-manufacturing-ai.md", json={"path": "nbgrader_config.py"},
                      headers=xsrf, timeout=30),
        session.delete(f"{base}/api/contents/only-in-manufacturing-ai.md", headers=xsrf, timeout=30),
        session.post(f"{base}/api/contents/nbgrader_config.py/checkpoints", headers=xsrf, timeout=30),
    ]
    assert [a.status_code for a in attempts] == [403] * len(attempts), [a.text[:200] for a in attempts]
    assert session.get(f"{base}/api/contents/nbgrader_config.py", timeout=30).json()["content"] == original
    assert session.get(f"{base}/api/contents/only-in-manufacturing-ai.md", timeout=30).status_code == 200


def test_autograding_through_the_formgrader_runs_no_trainee_code(hub):
    """Trainee code runs only in the worker's sandbox: the formgrader's own autograde button starts no kernel.

    Checked: fails when the formgrader's kernel provisioner is left at jupyter_client's default.
    """
    session, base, xsrf = instructor(hub)
    marker = HUB_ROOTS["root"] / "ran-in-formgrader"
    response = session.post(f"{base}/formgrader/api/submission/lab1/u2/autograde", headers=xsrf, timeout=120)
    assert response.status_code == 200, response.text[:300]  # nbgrader answers its own outcome as JSON
    assert not marker.exists()
    assert response.json()["success"] is False
