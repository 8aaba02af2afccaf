"""Each role signs in with its demo login, sees its home page in Korean, switches to English, signs out."""
from __future__ import annotations

import pytest

DEMO_PASSWORD = "academy-demo-2027"
ROLES = [
    ("office@academy.test", "admin", "아카데미 사무국", "Academy office"),
    ("coord.inje@academy.test", "coordinator", "대학 코디네이터", "University coordinator"),
    ("instructor01@academy.test", "instructor", "강사", "Instructor"),
    ("trainee001@academy.test", "student", "훈련생", "Trainee"),
    ("recruiter01@academy.test", "recruiter", "기업 채용 담당자", "Company recruiter"),
]


@pytest.mark.browser
@pytest.mark.parametrize(("email", "role", "korean", "english"), ROLES, ids=[r[1] for r in ROLES])
def test_role_signs_in_sees_korean_home_switches_to_english_and_signs_out(
    page, portal_url, email, role, korean, english, screenshot_dir
):
    page.goto(portal_url + "/")
    assert page.locator("html").get_attribute("lang") == "ko"
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit].primary")
    title = page.locator("[data-test=home-title]")
    title.wait_for()
    assert korean in title.inner_text()
    assert page.url.endswith(f"/home/{role}")
    if screenshot_dir:
        page.screenshot(path=str(screenshot_dir / f"{english.replace(' ', '_')}_ko.png"), full_page=True)

    page.click("[data-test=lang-switch]")
    page.locator("html[lang=en]").wait_for()
    assert english in page.locator("[data-test=home-title]").inner_text()
    if screenshot_dir:
        page.screenshot(path=str(screenshot_dir / f"{english.replace(' ', '_')}_en.png"), full_page=True)

    page.click("[data-test=logout]")
    page.locator("input[name=password]").wait_for()
    assert "/login" in page.url
    # Signed out means signed out: the home page sends us back to the login form.
    page.goto(f"{portal_url}/home/{role}")
    assert "/login" in page.url
