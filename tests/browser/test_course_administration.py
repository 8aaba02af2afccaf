"""The office sets up a course in the browser (issue 12's Done-when): create it on an nbgrader folder, link
cohorts, assign an instructor, set a late policy; then the instructor sees the course. Korean, on a phone,
under the pages' Content-Security-Policy; screenshots in the test's tmp dir and $ACADEMY_SCREENSHOTS where set.
"""
from __future__ import annotations

import shutil
import uuid

import pytest

from tests.browser.conftest import REPO
from tests.browser.test_pages import sign_in, sign_out

WATCH_CSP = """
document.addEventListener('securitypolicyviolation', e =>
  console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
"""
INSTRUCTOR = "instructor12@academy.test"  # teaches nothing in the demo data


@pytest.fixture
def course_folder():
    """A new nbgrader course folder in the portal's COURSES_DIR (the repository's courses/), removed afterwards."""
    name = f"browser-{uuid.uuid4().hex[:8]}"
    folder = REPO / "courses" / name
    (folder / "source" / "week1_intro").mkdir(parents=True)
    (folder / "syllabus.toml").write_text(f'course_id = "{name}"\n[[assignment]]\nname = "week1_intro"\n')
    yield name
    shutil.rmtree(folder, ignore_errors=True)


def _shot(page, name, tmp_path, screenshot_dir):
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if screenshot_dir:
        shutil.copy(path, screenshot_dir / path.name)


def _fits_the_screen(page):
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390 + 1, f"page is {width}px wide on a 390px phone"


@pytest.mark.browser
def test_office_sets_up_a_course_and_its_instructor_sees_it(page, portal_url, course_folder, tmp_path,
                                                              screenshot_dir):
    problems: list[str] = []
    page.add_init_script(WATCH_CSP)
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text
            or "CSP violation" in m.text else None)
    code = course_folder.upper()[:20]
    sign_in(page, portal_url, "office@academy.test")
    page.click("nav a:has-text('과목')")
    page.locator("[data-test=courses]").wait_for()
    page.click("a:has-text('과목 만들기')")
    form = page.locator("[data-test=course-form]")
    form.locator("input[name=code]").fill(code)
    form.locator("input[name=title_ko]").fill("스마트 공장 기초")
    form.locator("input[name=title_en]").fill("Smart factory basics")
    form.locator("input[name=nbgrader_course]").fill(course_folder)
    cohorts = form.locator("[data-test=cohorts] input[type=checkbox]")
    assert cohorts.count() >= 2
    cohorts.nth(0).check()
    cohorts.nth(1).check()
    form.locator(f"[data-test=instructors] label:has-text('{INSTRUCTOR}') input").check()
    form.locator("input[name=late_percent_per_day]").fill("5")
    form.locator("input[name=late_max_deduction]").fill("30")
    form.locator("input[name=late_cutoff_days]").fill("4")
    _fits_the_screen(page)
    _shot(page, "office_course_form", tmp_path, screenshot_dir)
    form.locator("button[type=submit]").click()
    assert "과목을 저장했습니다" in page.inner_text("main")
    row = page.locator("[data-test=courses] tr", has_text=code)
    assert row.count() == 1
    assert "5/30/4" in row.inner_text()
    _shot(page, "office_course_list", tmp_path, screenshot_dir)

    # A folder that is not there is refused with the reason.
    page.click("a:has-text('과목 만들기')")
    page.fill("input[name=code]", code + "-X")
    page.fill("input[name=title_ko]", "없는 폴더")
    page.fill("input[name=title_en]", "No folder")
    page.fill("input[name=nbgrader_course]", "no-such-folder")
    page.click("[data-test=course-form] button[type=submit]")
    assert "no-such-folder" in page.inner_text("main") and "없습니다" in page.inner_text("main")

    # The instructor sees the course, and its late policy.
    sign_out(page)
    sign_in(page, portal_url, INSTRUCTOR)
    page.click("nav a:has-text('내 과목')")
    page.click("main a:has-text('스마트 공장 기초')")
    assert code in page.inner_text("main h1")
    page.click("[data-test=late-policy-link]")
    assert page.input_value("input[name=late_percent_per_day]") == "5"
    assert page.input_value("input[name=late_max_deduction]") == "30"
    assert page.input_value("input[name=late_cutoff_days]") == "4"
    _fits_the_screen(page)
    _shot(page, "instructor_late_policy", tmp_path, screenshot_dir)
    assert problems == []
