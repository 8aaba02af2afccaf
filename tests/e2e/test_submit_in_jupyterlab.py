"""Issue 5, first "Done when": a trainee fetches, answers and submits in JupyterLab's assignment list and
sees the score and feedback in the portal within seconds.

Everything is real: gunicorn portal, JupyterHub with its proxy and the trainee's server, nbgrader's
JupyterLab extension on the portal exchange (academy/exchange), a Celery grading worker running the
notebook in its sandbox. The course is a one-notebook stand-in for manufacturing-ai (tests/e2e/fixtures),
so grading itself takes a few seconds and the test measures the path around it.
"""
from __future__ import annotations

import os
import re
import time
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ASSIGNMENT
from tests.hub.stack import portal_login

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TRAINEE, OTHER = "trainee001@academy.test", "trainee002@academy.test"
ANSWER = "def double(x): return 2 * x"  # one line: the editor's auto-indent cannot change it
# Issue 5 says "within seconds"; a correct run takes ~10 s here (see the printed figure).
SCORE_WITHIN_S = 60
# JupyterLab and nbgrader's calls are slow on a busy 2-core machine: wait up to this long for each step.
STEP_MS = 30_000


def snap(page, name: str) -> None:
    """Keep a screenshot of a step when ACADEMY_SCREENSHOTS names a folder (as the portal browser tests do)."""
    folder = os.environ.get("ACADEMY_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        page.screenshot(path=os.path.join(folder, f"e2e_submit_{name}.png"), full_page=True)


@contextmanager
def evidence(stack, context, folder):
    """On failure, keep a screenshot of every open page and add the worker's and portal's logs."""
    try:
        yield
    except Exception as exc:
        for i, page in enumerate(context.pages):
            page.screenshot(path=str(folder / f"page{i}.png"))
        logs = "".join(f"\n--- {name} ---\n{stack.log(name)[-2500:]}" for name in ("worker.log", "portal.log"))
        raise AssertionError(f"{exc}\nscreenshots in {folder}{logs}") from exc


def open_jupyterlab(page, stack) -> None:
    """Go from the portal's notebooks page to JupyterLab (the hub signs in through the portal)."""
    page.goto(f"{stack.portal_url}/notebooks")
    page.click("[data-test=open-notebooks]")
    page.wait_for_url(re.compile(rf"^{re.escape(stack.hub_url)}/user/u\d+/lab"), timeout=90_000)
    page.wait_for_selector("#jp-main-dock-panel", timeout=90_000)


def open_assignment_list(page) -> None:
    page.get_by_role("menuitem", name="Nbgrader").click()
    page.get_by_role("menuitem", name="Assignment List").click()
    page.wait_for_selector("#assignments")


def answer_and_save(page) -> None:
    """Replace the stub of the answer cell with ANSWER and save the notebook."""
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    # The kernel's first answer rewrites the notebook's metadata, marking it unsaved again: let it come first.
    # (Read from the toolbar's data attribute: the status bar says "대기", not "Idle", in the Korean UI.)
    expect(notebook.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute("data-status", "idle",
                                                                                 timeout=STEP_MS)
    answer = notebook.locator(".jp-CodeCell").first  # the notebook's one answer cell, then its test cell
    expect(answer).to_contain_text("raise NotImplementedError()")
    answer.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.type(ANSWER)
    page.keyboard.press("Escape")
    expect(answer.locator(".cm-content")).to_have_text(ANSWER)
    tab = page.locator(".lm-TabBar-tab.jp-mod-current", has_text=f"{ASSIGNMENT}.ipynb")
    for _attempt in range(5):  # saved when the tab loses its unsaved mark; a late metadata change can re-mark it
        page.keyboard.press("Control+s")
        try:
            expect(tab).not_to_have_class(re.compile(r"\bjp-mod-dirty\b"), timeout=STEP_MS // 5)
            return
        except AssertionError:
            continue
    raise AssertionError(f"{ASSIGNMENT}.ipynb stayed unsaved after five saves")


def test_trainee_submits_in_jupyterlab_and_sees_score_and_feedback_in_the_portal(graded_stack, chromium, tmp_path):
    stack = graded_stack
    context = chromium.new_context(locale="ko-KR", viewport={"width": 1400, "height": 900})
    context.set_default_timeout(STEP_MS)
    with evidence(stack, context, tmp_path):
        submission_id = submit_and_follow(stack, context)
    context.close()

    # Another trainee of the same cohort sees none of it.
    other = chromium.new_context(locale="ko-KR")
    page = other.new_page()
    portal_login(page, stack, OTHER)
    page.goto(f"{stack.portal_url}/my/submissions")
    expect(page.locator("#submissions")).to_be_visible()
    expect(page.locator("#submissions tr[data-submission-id]")).to_have_count(0)
    assert page.goto(f"{stack.portal_url}/my/submissions/{submission_id}/feedback").status == 404
    assert page.goto(f"{stack.portal_url}/my/submissions/{submission_id}/feedback.html").status == 404
    other.close()


def submit_and_follow(stack, context) -> str:
    """Fetch, answer and submit in JupyterLab, then follow the portal to the feedback; return the submission id."""
    page = context.new_page()
    portal_login(page, stack, TRAINEE)
    open_jupyterlab(page, stack)

    # Fetch the released assignment from the assignment list and open its notebook.
    open_assignment_list(page)
    released = page.locator("#released_assignments_list > .list_item", has_text=ASSIGNMENT)
    released.get_by_role("button", name="Fetch").click()
    fetched = page.locator("#fetched_assignments_list > .list_item", has_text=ASSIGNMENT)
    fetched.locator("a.assignment-notebooks-link").click()
    fetched.locator(".nested_list_item a", has_text=ASSIGNMENT).click()
    answer_and_save(page)

    # Back to the assignment list: submit.
    page.locator(".lm-TabBar-tab", has_text="Assignments").click()
    fetched.get_by_role("button", name="Submit").click()
    submitted_at = time.monotonic()
    submitted = page.locator("#submitted_assignments_list > .list_item", has_text=ASSIGNMENT)
    expect(submitted).to_be_visible(timeout=STEP_MS)
    received = time.monotonic() - submitted_at  # the portal has answered the exchange's upload
    snap(page, "1_jupyterlab_submitted")

    # The portal: my submissions page, which refreshes itself until grading is done.
    portal = context.new_page()
    portal.goto(f"{stack.portal_url}/my/submissions")
    row = portal.locator("#submissions tr[data-submission-id]")
    expect(row).to_have_count(1, timeout=STEP_MS)
    expect(row.locator(".state .s-graded")).to_be_visible(timeout=SCORE_WITHIN_S * 1000)
    expect(row.locator(".score")).to_have_text("10 / 10", timeout=STEP_MS)
    seconds = time.monotonic() - submitted_at
    snap(portal, "2_portal_graded")
    print(f"\nsubmit click -> score visible in the portal: {seconds:.1f} s "
          f"(JupyterLab listed it as submitted after {received:.1f} s)")
    assert seconds < SCORE_WITHIN_S

    # The feedback: the score, and the graded notebook without the hidden tests' source.
    submission_id = row.get_attribute("data-submission-id")
    row.locator("a.feedback-link").click()
    portal.wait_for_url(f"{stack.portal_url}/my/submissions/{submission_id}/feedback")
    expect(portal.locator("#submission-summary .score")).to_have_text("10 / 10", timeout=STEP_MS)
    feedback = portal.frame_locator("iframe.feedback")
    expect(feedback.locator("body")).to_contain_text("double ok", timeout=STEP_MS)
    expect(feedback.locator("body")).not_to_contain_text("e2e-hidden-check", timeout=STEP_MS)
    snap(portal, "3_portal_feedback")
    return submission_id


NOTEBOOK_URL = re.compile(rf"/user/u\d+/lab/tree/{ASSIGNMENT}/{ASSIGNMENT}\.ipynb$")
KEEP_JS = """async ([path, text]) => {
  const xsrf = decodeURIComponent((document.cookie.split('; ').find(c => c.startsWith('_xsrf=')) || '=').split('=')[1]);
  const base = location.pathname.split('/lab')[0];
  const put = await fetch(`${base}/api/contents/${path}`, {method: 'PUT', headers: {'Content-Type': 'application/json',
    'X-XSRFToken': xsrf}, body: JSON.stringify({type: 'file', format: 'text', content: text})});
  const notebook = await (await fetch(`${base}/api/contents/${path.split('/')[0]}/${path.split('/')[0]}.ipynb?content=0`)).json();
  return [put.status, notebook.last_modified];
}"""


def stop_server(page, stack, uid: int) -> None:
    """Stop my server as a trainee does: the hub's home page, "Stop My Server", until the hub says it is stopped."""
    page.goto(f"{stack.hub_url}/hub/home")
    page.wait_for_selector("#stop:visible, #start:visible")
    stop = page.locator("#stop")
    if stop.is_visible():
        stop.click()
        expect(page.locator("#start")).to_be_visible(timeout=60_000)
    deadline = time.monotonic() + 120
    while stack.hub_api("GET", f"/users/u{uid}").json().get("servers"):  # until the stop is no longer pending
        assert time.monotonic() < deadline, f"the server did not stop: {stack.hub_api('GET', f'/users/u{uid}').json()}"
        time.sleep(0.2)


def start_from_portal(page, stack, shot: str = "", with_buttons: bool = False) -> float:
    """Click "Start in JupyterLab" on the portal's home page; return the seconds until the notebook is ready (open,
    its kernel idle; with_buttons: and the academy's Check and Submit on its toolbar)."""
    page.goto(f"{stack.portal_url}/home/student")
    link = page.locator(f"[data-test=start-lab-{stack.assignment_id}]")
    expect(link).to_have_text(re.compile("JupyterLab에서 시작"))
    if shot:
        snap(page, f"{shot}_portal_home")
    started = time.monotonic()
    link.click()
    page.wait_for_url(NOTEBOOK_URL, timeout=120_000)
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(notebook.locator(".jp-CodeCell").first).to_contain_text("def double", timeout=STEP_MS)
    expect(page.locator(".lm-TabBar-tab.jp-mod-current", has_text=f"{ASSIGNMENT}.ipynb")).to_be_visible()
    # Ready: its kernel has started and is idle (a server stopped while a kernel starts can take a minute to stop).
    expect(notebook.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute("data-status", "idle",
                                                                                 timeout=STEP_MS)
    if with_buttons:
        expect(notebook.locator(".jp-NotebookPanel-toolbar").get_by_text("제출 / Submit")).to_be_visible()
    return time.monotonic() - started


def test_start_in_jupyterlab_opens_the_notebook_in_one_click_and_never_fetches_over_work(graded_stack, chromium):
    """From the portal's home, "Start in JupyterLab" starts the trainee's stopped server, fetches the assignment
    through the portal exchange and opens its notebook; clicked again (server running, and after the server was
    stopped) it opens the same folder: a file the trainee added is still there and the notebook was not replaced.

    Checked: with /academy/start fetching every time, the second click stopped on nbgrader's "already have a copy"
    error page instead of the notebook.
    """
    stack = graded_stack
    uid = stack.user_id(OTHER)
    context = chromium.new_context(locale="ko-KR", viewport={"width": 1400, "height": 900})
    context.set_default_timeout(STEP_MS)
    page = context.new_page()
    portal_login(page, stack, OTHER)
    assert not stack.hub_api("GET", f"/users/u{uid}").json().get("servers")  # stopped, as on most mornings
    first = start_from_portal(page, stack, "0a")
    snap(page, "0b_notebook_open")
    status, modified = page.evaluate(KEEP_JS, [f"{ASSIGNMENT}/my_notes.txt", "내 메모 / my notes"])
    assert status == 201, status
    running = start_from_portal(page, stack)
    stop_server(page, stack, uid)
    stopped = start_from_portal(page, stack)
    status, modified_after = page.evaluate(KEEP_JS, [f"{ASSIGNMENT}/my_notes.txt", "내 메모 / my notes"])
    assert status == 200 and modified_after == modified  # the file was there to overwrite; the notebook untouched
    print(f"\nStart in JupyterLab -> notebook ready: first (server stopped, fetch) {first:.1f} s; "
          f"again, server running {running:.1f} s; again, server stopped {stopped:.1f} s")
    context.close()
