"""Main flows of each role through real clicks on the seeded demo portal (phone viewport, Korean)."""
from __future__ import annotations

import json

import pytest

DEMO_PASSWORD = "academy-demo-2027"


def sign_in(page, portal_url: str, email: str) -> None:
    """Sign in with a demo login and wait for the role's home page."""
    page.goto(portal_url + "/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit].primary")
    page.locator("[data-test=home-title]").wait_for()


def sign_out(page) -> None:
    """Sign out and wait for the sign-in form.

    Going on before the sign-out's answer has come races it: its cookie (an emptied session) can land after the next
    page's and wipe what that page kept in the session, such as an invitation link's token. CI saw exactly that once.
    """
    page.click("[data-test=logout]")
    page.wait_for_url("**/login")
    page.locator("input[name=password]").wait_for()


@pytest.mark.browser
def test_coordinator_opens_an_application_and_moves_it_to_interview(page, portal_url):
    sign_in(page, portal_url, "coord.inje@academy.test")
    page.goto(portal_url + "/admissions/applications")
    page.click("main a:has-text('신민재')")
    assert "검토 중" in page.inner_text("main")
    step = page.locator("[data-test=step-interview]")
    step.locator("textarea[name=reason]").fill("서류 통과, 면접 일정 안내")
    step.locator("button[type=submit]").click()
    page.wait_for_load_state()
    main = page.inner_text("main")
    assert "면접" in main and "서류 통과, 면접 일정 안내" in main
    # The way back to the list is on the page.
    page.click("main a:has-text('지원서')")
    assert page.url.endswith("/admissions/applications")


@pytest.mark.browser
def test_instructor_opens_the_gradebook_from_my_courses(page, portal_url):
    sign_in(page, portal_url, "instructor01@academy.test")
    page.click("nav a:has-text('내 과목')")
    page.click("main a:has-text('성적부')")
    table = page.locator("[data-test=gradebook]")
    table.wait_for()
    assert "성적부" in page.inner_text("h1")
    assert table.locator("tbody tr").count() > 0
    assert "평균" in table.locator("tfoot").inner_text()  # the averages row
    with page.expect_download() as info:
        page.click("[data-test=gradebook-xlsx]")
    assert info.value.suggested_filename.endswith(".xlsx")
    with open(info.value.path(), "rb") as xlsx:
        assert xlsx.read(2) == b"PK"  # a zip, as an .xlsx is


@pytest.mark.browser
def test_instructor_dashboard_draws_its_charts_under_the_pages_policy(page, portal_url, screenshot_dir):
    """The course dashboard's charts load as images under the portal's Content-Security-Policy (no violation),
    with Korean labels, on a phone-sized screen."""
    violations = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    sign_in(page, portal_url, "instructor01@academy.test")
    page.click("nav a:has-text('내 과목')")
    page.click("main a[href^='/courses/']:not([href$='gradebook'])")
    page.click("[data-test=course-dashboard]")
    assert "대시보드" in page.inner_text("h1")
    page.wait_for_load_state("load")
    charts = page.locator("img[data-test^=chart-]")
    for i in range(charts.count()):
        assert charts.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    assert violations == []
    if screenshot_dir:
        page.screenshot(path=str(screenshot_dir / "instructor_dashboard.png"), full_page=True)


@pytest.mark.browser
def test_trainee_downloads_own_data_as_json(page, portal_url):
    sign_in(page, portal_url, "trainee001@academy.test")
    page.click("nav a:has-text('내 데이터')")
    with page.expect_download() as info:
        page.click("[data-test=download-json]")
    data = json.loads(open(info.value.path(), encoding="utf-8").read())
    assert data  # the export carries the trainee's own records
    assert "trainee001@academy.test" in json.dumps(data, ensure_ascii=False)


@pytest.mark.browser
def test_recruiter_creates_and_submits_a_demand_and_the_office_approves_it(page, portal_url):
    title = "브라우저 시험: 품질 검사 비전 모델"
    sign_in(page, portal_url, "recruiter01@academy.test")
    page.click("nav a:has-text('채용 수요')")
    page.click("main a.button.primary")
    page.fill("input[name=title]", title)
    page.fill("input[name=headcount]", "2")
    page.fill("input[name=start_date]", "2027-09-01")
    page.fill("input[name=duration_months]", "6")
    page.locator("select[name^=skill_]").first.select_option("3")  # at least one skill is required
    page.click("main form button[type=submit]")
    page.locator("form[action$='/submit'] button").click()
    page.wait_for_load_state()
    assert title in page.inner_text("main") and "제출됨" in page.inner_text("main")

    sign_out(page)
    sign_in(page, portal_url, "office@academy.test")
    page.click("nav a:has-text('채용 수요')")
    page.fill("input[name=q]", title)
    page.press("input[name=q]", "Enter")
    page.click(f"main a:has-text('{title}')")
    review = page.locator("[data-test=review-form]")
    review.locator("textarea[name=reason]").fill("요건 확인 완료")
    review.locator("button[value=approve]").click()
    page.wait_for_load_state()
    assert "승인됨" in page.inner_text("main")


@pytest.mark.browser
def test_office_outcome_charts_load_under_the_pages_policy(page, portal_url, screenshot_dir):
    """The office's outcome figures are charted (SVG images) with no Content-Security-Policy violation."""
    violations = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    sign_in(page, portal_url, "office@academy.test")
    page.goto(f"{portal_url}/admin/reports/outcomes?by=university")
    page.wait_for_load_state("load")
    charts = page.locator("img[data-test^=chart-]")
    assert charts.count() >= 1
    for i in range(charts.count()):
        assert charts.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    assert violations == []
    if screenshot_dir:
        page.screenshot(path=str(screenshot_dir / "office_outcomes.png"), full_page=True)
