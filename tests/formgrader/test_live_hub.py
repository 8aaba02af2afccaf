"""A real hub with the formgrader service: a member of formgrade-<course> gets the formgrader, others 403.

The hub signs in with its shared-password authenticator here (the portal's sign-in is tested in
tests/hub/); what is under test is the service and role that formgrader_services gives the hub.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.hub.stack import free_port, wait_until

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
PASSWORD = "formgrader-live-test"
CONFIG = """\
import sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from academy.integrations.formgrader import formgrader_services

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
c.Authenticator.allowed_users = {{"u1", "u2"}}
# What the portal's sign-in does at login: u1 teaches the course, u2 takes it.
c.JupyterHub.load_groups = {{"formgrade-manufacturing-ai": {{"users": ["u1"]}},
                            "nbgrader-manufacturing-ai": {{"users": ["u2"]}}}}
c.JupyterHub.services, c.JupyterHub.load_roles = formgrader_services(
    here / "courses", {{}}, state_dir=here / "formgrader",
    portal_url="http://127.0.0.1:9")
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    proxy = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
    if not proxy.exists():
        pytest.fail(f"{proxy} is missing: run `npm ci --prefix .` (scripts/setup.sh does)")
    root = tmp_path_factory.mktemp("formgrader-hub")
    course = root / "courses" / "manufacturing-ai"
    (course / "source").mkdir(parents=True)  # a copy: the formgrader creates its gradebook in the course folder
    shutil.copy(REPO / "courses" / "manufacturing-ai" / "nbgrader_config.py", course)
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


def test_the_courses_instructor_gets_the_formgrader(hub):
    page = signed_in(hub, "u1").get(f"{hub}/services/formgrade-manufacturing-ai/formgrader", timeout=30)
    assert page.status_code == 200
    assert page.url.startswith(f"{hub}/services/formgrade-manufacturing-ai/formgrader/")
    assert re.search(r"<title>\s*nbgrader formgrade\s*</title>", page.text)


def test_a_trainee_of_the_course_is_refused(hub):
    session = signed_in(hub, "u2")
    page = session.get(f"{hub}/services/formgrade-manufacturing-ai/formgrader", timeout=30)
    assert page.status_code == 403 and "nbgrader formgrade" not in page.text
    # Nor can the trainee reach the server's API behind the page.
    api = session.get(f"{hub}/services/formgrade-manufacturing-ai/api/contents", timeout=30, allow_redirects=False)
    assert api.status_code in (302, 403) and "content" not in api.text


def test_the_formgrader_offers_no_shell_and_no_kernel(hub):
    session = signed_in(hub, "u1")
    base = f"{hub}/services/formgrade-manufacturing-ai"
    session.get(f"{base}/formgrader", timeout=30)  # completes the service's OAuth: the instructor is in
    assert session.get(f"{base}/api/contents", timeout=30).status_code == 200
    # The service sets its own _xsrf cookie under its path (the hub has another).
    token = next((c.value for c in session.cookies if c.name == "_xsrf" and c.path.startswith("/services/")), "")
    xsrf = {"X-XSRFToken": token}
    assert session.post(f"{base}/api/terminals", headers=xsrf, timeout=30).status_code in (403, 404)
    assert session.get(f"{base}/api/kernelspecs", timeout=30).json()["kernelspecs"] == {}
    started = session.post(f"{base}/api/kernels", json={"name": "python3"}, headers=xsrf, timeout=30)
    assert started.status_code >= 400
