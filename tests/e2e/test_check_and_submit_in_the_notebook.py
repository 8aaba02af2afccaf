"""Issue 15, "Done when": from the portal's "Start in JupyterLab" to the score in JupyterLab, in Korean.

A trainee signs in at the portal, clicks "Start in JupyterLab" for the lab and lands in its open notebook; runs
Check / 확인 (the visible test fails on the stub, then passes on the answer); submits with Submit / 제출 in the
notebook's toolbar; reads "received at ..." and then the score in JupyterLab; follows its link to the readable
feedback in the portal. Everything is real (tests/e2e/conftest.py: portal, hub, proxy, the trainee's server with the
academy's JupyterLab extension from labextension/, a grading worker). Screenshots of each step go to
$ACADEMY_SCREENSHOTS when it is set.
"""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ASSIGNMENT
from tests.e2e.test_submit_in_jupyterlab import STEP_MS, answer_and_save, evidence, start_from_portal
from tests.e2e.test_submit_in_jupyterlab import snap as _snap
from tests.hub.stack import REPO, portal_login

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TRAINEE, OTHER = "trainee001@academy.test", "trainee002@academy.test"
SCORE_WITHIN_S = 90
BUILT = REPO / "labextension" / "built" / "@academy" / "lab" / "package.json"


def snap(page, name: str) -> None:
    _snap(page, f"lab_{name}")


def toolbar(page):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-NotebookPanel-toolbar")


def status_line(page):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) [data-test=academy-status]")


def run_check(page, passed: bool, shot: str) -> None:
    """Click Check / 확인, read the verdict of the one visible test in the dialog, close it."""
    toolbar(page).get_by_text("확인 / Check").click()
    report = page.locator(".jp-Dialog [data-test=academy-checks]")
    expect(report).to_be_visible(timeout=90_000)  # the kernel runs the notebook
    test = report.locator("li[data-test-name=test_double]")
    expect(test).to_have_attribute("data-passed", "true" if passed else "false")
    expect(test).to_contain_text("통과 / passed" if passed else "실패 / failed")
    expect(test).to_contain_text("double ok" if passed else "NotImplementedError")
    expect(report).not_to_contain_text("e2e-hidden-check")  # hidden tests never reach the trainee
    snap(page, shot)
    page.locator(".jp-Dialog .jp-mod-accept").click()
    expect(report).to_have_count(0)


def test_trainee_checks_and_submits_in_the_notebook_and_reads_the_score_there(graded_stack, chromium, tmp_path):
    if not BUILT.exists():
        pytest.fail(f"{BUILT} is missing: scripts/install.sh builds the academy's JupyterLab extension")
    stack = graded_stack
    context = chromium.new_context(locale="ko-KR", viewport={"width": 1400, "height": 900})
    context.set_default_timeout(STEP_MS)
    with evidence(stack, context, tmp_path):
        page = context.new_page()
        portal_login(page, stack, TRAINEE)
        ready = start_from_portal(page, stack, "1")
        snap(page, "2_notebook_open")
        status = status_line(page)

        run_check(page, passed=False, shot="3_check_fails_on_the_stub")
        answer_and_save(page)
        run_check(page, passed=True, shot="4_check_passes")
        expect(status).to_contain_text("1/1 통과")

        toolbar(page).get_by_text("제출 / Submit").click()
        page.locator(".jp-Dialog .jp-mod-accept").click()  # "Submit this assignment?"
        clicked = time.monotonic()
        expect(status).to_contain_text("에 받았습니다 / received at", timeout=STEP_MS)
        received = time.monotonic() - clicked
        snap(page, "5_received")
        expect(status).to_have_attribute("data-state", "graded", timeout=SCORE_WITHIN_S * 1000)
        expect(status).to_contain_text("점수 / score 10 / 10")
        scored = time.monotonic() - clicked
        snap(page, "6_score_in_jupyterlab")

        link = status.locator("[data-test=academy-feedback-link]")
        href = link.get_attribute("href") or ""
        assert re.fullmatch(rf"{re.escape(stack.portal_url)}/my/submissions/\d+/feedback", href), href
        with context.expect_page() as opened:
            link.click()
        portal = opened.value
        portal.wait_for_load_state()
        expect(portal.locator("#submission-summary .score")).to_have_text("10 / 10", timeout=STEP_MS)
        feedback = portal.frame_locator("iframe.feedback")
        expect(feedback.locator("body")).to_contain_text("double ok", timeout=STEP_MS)
        expect(feedback.locator("body")).not_to_contain_text("e2e-hidden-check")
        snap(portal, "7_portal_feedback")
        print(f"\nStart in JupyterLab -> notebook ready {ready:.1f} s; Submit -> received {received:.1f} s; "
              f"Submit -> score in JupyterLab {scored:.1f} s")

        # The launcher: the trainee's course with this assignment, and the dataset tour.
        page.keyboard.press("Control+Shift+L")
        launcher = page.locator(".jp-Launcher:visible")
        expect(launcher).to_contain_text("내 과목 / My course: manufacturing-ai")
        expect(launcher.locator(".jp-LauncherCard", has_text="두 배 함수 / Double it")).to_be_visible()
        expect(launcher.locator(".jp-LauncherCard", has_text="데이터셋 둘러보기 / Dataset tour")).to_be_visible()
        snap(page, "8_launcher")
        launcher.locator(".jp-LauncherCard", has_text="데이터셋 둘러보기 / Dataset tour").click()
        page.wait_for_url(re.compile(r"/lab/tree/datasets_tour\.ipynb$"), timeout=STEP_MS)
        expect(page.locator(".lm-TabBar-tab.jp-mod-current", has_text="datasets_tour.ipynb")).to_be_visible()
    context.close()


def test_another_trainees_server_reads_none_of_it(graded_stack, chromium):
    """Trainee 2's server asks the portal, with trainee 2's token, for the submission of the same assignment after
    trainee 1 submitted (the test above): nothing (404). Check and Submit are offered only in an assignment's
    notebook (the server answers 404 for any other).
    """
    stack = graded_stack
    context = chromium.new_context(locale="ko-KR", viewport={"width": 1400, "height": 900})
    context.set_default_timeout(STEP_MS)
    page = context.new_page()
    portal_login(page, stack, OTHER)
    start_from_portal(page, stack)
    expect(toolbar(page).get_by_text("제출 / Submit")).to_be_visible()
    answer = page.evaluate("""async (query) => {
      const base = location.pathname.split('/lab')[0];
      const xsrf = decodeURIComponent((document.cookie.split('; ').find(c => c.startsWith('_xsrf=')) || '=').split('=')[1]);
      const reply = await fetch(`${base}/academy/submission?${query}`, {headers: {'X-XSRFToken': xsrf}});
      return [reply.status, await reply.text()];
    }""", f"course=manufacturing-ai&assignment={ASSIGNMENT}")
    assert answer[0] == 404, answer
    assert "10" not in answer[1] and "score" not in answer[1]
    # Not an assignment's notebook: no Check or Submit (the server says 404 for it).
    status = page.evaluate("""async () => {
      const base = location.pathname.split('/lab')[0];
      const xsrf = decodeURIComponent((document.cookie.split('; ').find(c => c.startsWith('_xsrf=')) || '=').split('=')[1]);
      await fetch(`${base}/api/contents/scratch.ipynb`, {method: 'PUT', headers: {'Content-Type': 'application/json',
        'X-XSRFToken': xsrf}, body: JSON.stringify({type: 'notebook', content: {cells: [], metadata: {}, nbformat: 4,
        nbformat_minor: 5}})});
      return (await fetch(`${base}/academy/assignment?path=scratch.ipynb`, {headers: {'X-XSRFToken': xsrf}})).status;
    }""")
    assert status == 404
    context.close()
