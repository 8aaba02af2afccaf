"""Every dashboard in Korean on a phone with the demo data: screenshots, each chart with its table of numbers,
no Content-Security-Policy violation, nothing wider than the screen.

Screenshots go to the test's tmp dir, and to $ACADEMY_SCREENSHOTS where set (as the other browser tests do).
"""
from __future__ import annotations

import shutil

import pytest

from tests.browser.test_pages import sign_in

# Collected in the page itself (Playwright's init scripts run whatever the page's policy says).
WATCH_CSP = """
document.addEventListener('securitypolicyviolation', e =>
  console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
"""
# Each chart image, and whether its table of numbers is beside it: inside its figure, or the element after it.
CHARTS = """
() => [...document.querySelectorAll('main img[src^="data:image/svg"], main img[src*="/charts/"]')].map(img => {
  const fig = img.closest('figure');
  const next = fig && fig.nextElementSibling;
  const table = (fig && fig.querySelector('table')) || (next && (next.matches('table') ? next : next.querySelector('table')));
  return {name: img.dataset.test || img.alt, loaded: img.complete && img.naturalWidth > 0,
          table: !!table && table.querySelectorAll('tbody tr').length > 0};
})
"""


def _check(page, portal_url: str, path: str, shot: str, tmp_path, screenshot_dir, *, charts: bool = True) -> list:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text
            or "CSP violation" in m.text else None)
    page.goto(portal_url + path)
    page.wait_for_load_state("load")
    found = page.evaluate(CHARTS)
    if charts:
        assert found, f"{path}: no chart"
    for chart in found:
        assert chart["loaded"], f"{path}: {chart['name']} did not load"
        assert chart["table"], f"{path}: {chart['name']} has no table of its numbers"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), f"{path} is wider than a phone"
    target = tmp_path / f"{shot}.png"
    page.screenshot(path=str(target), full_page=True)
    if screenshot_dir:
        shutil.copy(target, screenshot_dir / target.name)
    assert problems == [], f"{path}: {problems}"
    return found


@pytest.fixture
def watched(page):
    page.add_init_script(WATCH_CSP)
    return page


@pytest.mark.browser
def test_office_outcome_and_progress_dashboards(watched, portal_url, tmp_path, screenshot_dir):
    sign_in(watched, portal_url, "office@academy.test")
    charts = _check(watched, portal_url, "/admin/reports/outcomes?by=cohort", "dashboard_office_outcomes", tmp_path,
                    screenshot_dir)
    assert any(c["name"].startswith("trend-") for c in charts)  # the trend by year, a line per measure
    assert "연도별 추이" in watched.inner_text("main")
    _check(watched, portal_url, "/admin/reports/progress", "dashboard_office_progress", tmp_path, screenshot_dir)
    assert "훈련 진행 현황" in watched.inner_text("h1")


@pytest.mark.browser
def test_province_dashboards(watched, portal_url, tmp_path, screenshot_dir):
    sign_in(watched, portal_url, "province@academy.test")
    _check(watched, portal_url, "/home/province", "dashboard_province_home", tmp_path, screenshot_dir, charts=False)
    watched.click("nav a:has-text('성과 지표')")
    assert "/admin/reports/outcomes" in watched.url
    _check(watched, portal_url, "/admin/reports/outcomes", "dashboard_province_outcomes", tmp_path, screenshot_dir)
    assert "&lt;3" not in watched.inner_text("main") and "<3" in watched.inner_text("main")
    _check(watched, portal_url, "/admin/reports/progress", "dashboard_province_progress", tmp_path, screenshot_dir)
    assert watched.locator("[data-test=at-risk-link]").count() == 0


@pytest.mark.browser
def test_instructor_dashboard(watched, portal_url, tmp_path, screenshot_dir):
    sign_in(watched, portal_url, "instructor01@academy.test")
    watched.click("nav a:has-text('내 과목')")
    watched.click("main a[href^='/courses/']:not([href$='gradebook'])")
    watched.click("[data-test=course-dashboard]")
    _check(watched, portal_url, watched.url.removeprefix(portal_url), "dashboard_instructor", tmp_path,
           screenshot_dir)


@pytest.mark.browser
def test_trainee_progress_and_competencies(watched, portal_url, tmp_path, screenshot_dir):
    sign_in(watched, portal_url, "trainee001@academy.test")
    watched.goto(portal_url + "/my/courses")
    # The demo's course with labs (other browser tests may add courses without labs to the trainee's cohort).
    courses = watched.eval_on_selector_all("main a[href^='/my/courses/']", "links => links.map(a => a.getAttribute('href'))")
    with_labs = []
    for href in courses:
        watched.goto(portal_url + href)
        if watched.locator("main img").count():
            with_labs.append(href)
    assert with_labs, courses
    _check(watched, portal_url, with_labs[0], "dashboard_trainee_progress", tmp_path, screenshot_dir)
    _check(watched, portal_url, "/my/competencies", "dashboard_trainee_competencies", tmp_path, screenshot_dir)
