"""The real portal and hub (tests/hub/stack.py): signed in through the portal, the course's instructor
opens its formgrader and a trainee of the course is refused. Runs once jupyterhub_config.py adds the
formgraders (formgrader_services)."""
from __future__ import annotations

import re
import shutil

import pytest
import requests

from tests.hub.stack import DEMO_PASSWORD, REPO, Stack

pytestmark = pytest.mark.slow
FORMGRADER = "/services/formgrade-manufacturing-ai/formgrader"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if "formgrader_services" not in (REPO / "jupyterhub_config.py").read_text():
        pytest.skip("jupyterhub_config.py does not call formgrader_services yet")
    root = tmp_path_factory.mktemp("formgrader-stack")
    course = root / "courses" / "manufacturing-ai"
    course.mkdir(parents=True)  # a copy: the formgrader creates its gradebook in the course folder
    shutil.copy(REPO / "courses" / "manufacturing-ai" / "nbgrader_config.py", course)
    stack = Stack(root / "stack", courses_dir=root / "courses")
    try:
        stack.start()
    except Exception:
        stack.stop()
        raise RuntimeError(f"stack did not start\nhub.log:\n{stack.log('hub.log')}")
    yield stack
    stack.stop()


def portal_session(stack, email: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{stack.portal_url}/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    data = {"email": email, "password": DEMO_PASSWORD, **({"csrf_token": token.group(1)} if token else {})}
    assert session.post(f"{stack.portal_url}/login", data=data, allow_redirects=False, timeout=10).status_code == 302
    return session


def test_the_instructor_opens_the_formgrader_and_a_trainee_is_refused(stack):
    page = portal_session(stack, "instructor01@academy.test").get(stack.hub_url + FORMGRADER, timeout=60)
    assert page.status_code == 200 and "<title>nbgrader formgrade</title>" in page.text
    refused = portal_session(stack, "trainee001@academy.test").get(stack.hub_url + FORMGRADER, timeout=60)
    assert refused.status_code == 403 and "nbgrader formgrade" not in refused.text
