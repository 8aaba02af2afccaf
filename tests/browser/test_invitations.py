"""An imported trainee's first password, on a phone: the coordinator hands out a link, the trainee sets it."""
from __future__ import annotations

import pytest

from tests.browser.test_pages import sign_in, sign_out

NEW_PASSWORD = "harbour-crane-blue-27"


@pytest.mark.browser
def test_imported_trainee_sets_own_password_through_the_coordinators_link(page, portal_url, tmp_path, screenshot_dir):
    sign_in(page, portal_url, "coord.inje@academy.test")
    page.goto(portal_url + "/admissions/import")
    source = tmp_path / "trainees.csv"
    source.write_text("이름,이메일,기수연도\n한바다,badaa@academy.test,2027\n", encoding="utf-8")
    page.set_input_files("input[name=file]", str(source))
    page.click("main button[type=submit].primary")
    result = page.locator("[data-test=result]")
    result.wait_for()
    assert "badaa@academy.test" in result.inner_text() and "비밀번호" in result.inner_text()

    page.click("nav a:has-text('초대 링크')")
    row = page.locator("[data-test=invitations] tr", has_text="badaa@academy.test")
    link = row.locator("input.link-copy").input_value()
    assert "/welcome/" in link
    sign_out(page)

    page.goto(link)
    assert page.url.endswith("/welcome")  # the token has left the address bar
    assert "비밀번호 설정" in page.inner_text("h1") and "badaa@academy.test" in page.inner_text("main")
    if screenshot_dir:
        page.screenshot(path=str(screenshot_dir / "welcome-set-password-phone.png"), full_page=True)
    # The page is usable on a phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.fill("input[name=new]", NEW_PASSWORD)
    page.fill("input[name=repeat]", NEW_PASSWORD)
    page.click("main button[type=submit].primary")
    page.wait_for_url("**/login")
    page.fill("input[name=email]", "badaa@academy.test")
    page.fill("input[name=password]", NEW_PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    assert "/login" not in page.url
    # An account made for the trainee gives its privacy consent at the first sign-in, each one separately.
    assert "/privacy/consent" in page.url and "개인정보 수집·이용 안내" in page.inner_text("main")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    if screenshot_dir:
        page.screenshot(path=str(screenshot_dir / "privacy-consent-phone.png"), full_page=True)
    page.check("[data-test=consent_required]")
    page.click("[data-test=consent-submit]")
    page.wait_for_load_state()
    assert "/privacy/consent" not in page.url and "동의가 기록되었습니다" in page.inner_text("main")

    # The same link a second time says it was used.
    page.goto(link)
    assert "이미 사용된 링크" in page.inner_text("main")
    if screenshot_dir:
        page.screenshot(path=str(screenshot_dir / "welcome-link-used-phone.png"), full_page=True)
