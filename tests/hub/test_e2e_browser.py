"""End to end: portal sign-in, "Open my notebooks", JupyterLab with no second sign-in; refusals at the hub."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.hub.stack import portal_login

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TRAINEE = "trainee001@academy.test"
RECRUITER = "recruiter01@academy.test"


def test_trainee_reaches_jupyterlab_without_a_second_login_and_is_refused_after_withdrawal(stack, chromium):
    uid = stack.user_id(TRAINEE)
    context = chromium.new_context(locale="ko-KR")
    page = context.new_page()
    portal_login(page, stack, TRAINEE)
    hops: list[tuple[str, int]] = []  # every page load on the way, redirects included
    page.on("response", lambda r: hops.append((r.url, r.status)) if r.request.is_navigation_request() else None)
    page.goto(f"{stack.portal_url}/notebooks")
    assert page.get_attribute("[data-test=server-state]", "data-state") == "not_started"
    page.click("[data-test=open-notebooks]")
    page.wait_for_url(re.compile(rf"^{re.escape(stack.hub_url)}/user/u{uid}/lab"), timeout=90_000)
    page.wait_for_selector("#jp-main-dock-panel", timeout=90_000)
    # JupyterLab is in Korean by default: deploy/singleuser/labconfig sets the server-wide default language.
    # Checked: fails when that default setting override is removed.
    expect(page.get_by_role("menuitem", name="파일", exact=True)).to_be_visible(timeout=30_000)
    expect(page.get_by_role("menuitem", name="File", exact=True)).to_have_count(0)
    # No second sign-in: after the portal's, no page on the way was a sign-in form (the portal's /login
    # or the hub's own login page); the only portal stop was the OAuth authorize redirect.
    shown = [u for u, status in hops if status == 200]
    assert not any(urlsplit(u).path in {"/login", "/hub/login"} for u in shown), hops
    assert any(u.startswith(f"{stack.portal_url}/oauth/authorize") and status == 302 for u, status in hops), hops
    assert page.locator("input[type=password]").count() == 0

    server = stack.hub_api("GET", f"/users/u{uid}").json()["servers"][""]
    assert server["ready"] is True
    groups = stack.hub_api("GET", f"/users/u{uid}").json()["groups"]
    assert any(g.startswith("cohort-") for g in groups) and any(g.startswith("nbgrader-c") for g in groups)
    page.goto(f"{stack.portal_url}/notebooks")
    assert page.get_attribute("[data-test=server-state]", "data-state") == "running"

    # Withdrawn in the portal: the next hub login is refused with a clear message.
    stack.portal_python(
        "from academy.admissions.models import Enrollment\n"
        "from academy.admissions.services import withdraw\n"
        f"e = db.session.scalar(db.select(Enrollment).where(Enrollment.student_id == {uid}))\n"
        "withdraw(e.trainee, e.cohort, 'e2e test: left the programme')\n"
        "db.session.commit()"
    )
    stack.hub_api("DELETE", f"/users/u{uid}/server")
    page.goto(f"{stack.hub_url}/hub/logout")
    response = page.goto(f"{stack.hub_url}/hub/spawn")
    assert response.status == 403
    assert "수강 중인 기수가 없어" in page.content() and "not enrolled in an active cohort" in page.content()
    context.close()


def _open_lab(chromium, stack, email: str):
    """Sign in at the portal, open my notebooks, and return the page once JupyterLab is up."""
    context = chromium.new_context(locale="ko-KR", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    portal_login(page, stack, email)
    page.goto(f"{stack.portal_url}/notebooks")
    page.click("[data-test=open-notebooks]")
    page.wait_for_url(re.compile(rf"^{re.escape(stack.hub_url)}/user/u{stack.user_id(email)}/lab"), timeout=90_000)
    page.wait_for_selector("#jp-main-dock-panel", timeout=90_000)
    return page


@pytest.mark.parametrize("email, staff", [("trainee002@academy.test", False), ("instructor01@academy.test", True)])
def test_a_trainees_jupyterlab_has_no_assignment_creation_or_formgrader_and_an_instructors_has(stack, chromium,
                                                                                             email, staff):
    """In the Nbgrader menu a trainee finds the assignment list only; an instructor also finds Create Assignment,
    the course list and the formgrader. A trainee's server does not serve the formgrader at all.

    Checked: with the trainee layer (deploy/singleuser/trainee) removed, the trainee's menu held all four items
    and /formgrader answered.
    """
    page = _open_lab(chromium, stack, email)
    page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
    menu = page.locator("#jp-mainmenu-nbgrader")
    expect(menu.get_by_role("menuitem", name="Assignment List")).to_be_visible(timeout=30_000)
    items = {text.strip() for text in menu.get_by_role("menuitem").all_inner_texts() if text.strip()}
    staff_items = {"Course List", "Formgrader", "Create assignment"}
    assert items == ({"Assignment List"} | staff_items if staff else {"Assignment List"}), items
    sidebar = page.get_by_role("tab", name="Create Assignment")  # nbgrader's right-hand panel
    expect(sidebar).to_have_count(1 if staff else 0)
    page.keyboard.press("Escape")
    response = page.request.get(f"{stack.hub_url}/user/u{stack.user_id(email)}/formgrader", max_redirects=0)
    assert (response.status == 404) is not staff, response.status
    page.context.close()


def test_recruiter_is_refused_by_the_hub_with_a_clear_message(stack, chromium):
    context = chromium.new_context(locale="ko-KR")
    page = context.new_page()
    portal_login(page, stack, RECRUITER)
    response = page.goto(f"{stack.hub_url}/hub/spawn")
    assert response.status == 403
    assert "기업 담당자" in page.content() and "Company recruiter" in page.content()
    uid = stack.user_id(RECRUITER)
    assert stack.hub_api("GET", f"/users/u{uid}").status_code == 404  # never became a hub user
    context.close()
