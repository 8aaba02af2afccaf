"""Benchmark: "Start in JupyterLab" in the portal, click to notebook ready, against the plain path.

Run from the repository root (needs the proxy from npm and Debian's chromium, as the hub tests do):
    .venv/bin/python bench/bench_start_lab.py [--runs 5]

Starts the real stack as tests/e2e does (gunicorn portal, JupyterHub with its proxy, the one-notebook e2e course
released to a cohort), signs a trainee in at the portal in headless Chromium, and times from the click on
"Start in JupyterLab" on the portal's home page to the assignment's notebook open in JupyterLab: once for the
first start (server stopped, assignment fetched), then --runs times with the server already running and --runs
times with it stopped (the notebook ready: open, its kernel idle, and the academy's Check and Submit on its
toolbar, since issue 15's JupyterLab extension). The plain path, for comparison: from the portal's "Open my notebooks" to JupyterLab, then
Nbgrader > Assignment List, Fetch, open the notebook (the server running). Prints medians as JSON.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.e2e.conftest import ASSIGNMENT, COURSE, MAX_POINTS  # noqa: E402
from tests.e2e.test_submit_in_jupyterlab import (  # noqa: E402
    STEP_MS, open_assignment_list, open_jupyterlab, start_from_portal, stop_server)
from tests.hub.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.hub.stack import Stack, portal_login  # noqa: E402


def plain_path(page, stack) -> float:
    """The way before: open notebooks, Assignment List, Fetch, open the notebook; return the seconds."""
    started = time.monotonic()
    open_jupyterlab(page, stack)
    open_assignment_list(page)
    page.locator("#released_assignments_list > .list_item", has_text=ASSIGNMENT).get_by_role(
        "button", name="Fetch").click()
    fetched = page.locator("#fetched_assignments_list > .list_item", has_text=ASSIGNMENT)
    fetched.locator("a.assignment-notebooks-link").click()
    fetched.locator(".nested_list_item a", has_text=ASSIGNMENT).click()
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(notebook.locator(".jp-CodeCell").first).to_contain_text("def double", timeout=STEP_MS)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-start-"))
    courses = root / "courses"
    shutil.copytree(COURSE, courses / COURSE.name)
    stack = Stack(root / "stack", trainees=2, courses_dir=courses).start_or_explain()
    try:
        stack.assignment_id = stack.release_assignment(ASSIGNMENT, "Double it", "두 배 함수", MAX_POINTS)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            results = {}
            # The plain path first, by the second trainee (whose home then holds the fetched assignment).
            page = browser.new_context(locale="ko-KR", viewport={"width": 1400, "height": 900}).new_page()
            page.context.set_default_timeout(STEP_MS)
            portal_login(page, stack, "trainee002@academy.test")
            open_jupyterlab(page, stack)  # warm: the server is running for the timed run
            results["plain_path_server_running_s"] = round(plain_path(page, stack), 2)
            page.context.close()
            email = "trainee001@academy.test"
            uid = stack.user_id(email)
            page = browser.new_context(locale="ko-KR", viewport={"width": 1400, "height": 900}).new_page()
            page.context.set_default_timeout(STEP_MS)
            portal_login(page, stack, email)
            results["first_start_server_stopped_with_fetch_s"] = round(
                start_from_portal(page, stack, with_buttons=True), 2)
            running = [start_from_portal(page, stack, with_buttons=True) for _ in range(args.runs)]
            stopped = []
            for _ in range(args.runs):
                stop_server(page, stack, uid)
                stopped.append(start_from_portal(page, stack, with_buttons=True))
            results.update(
                start_server_running_median_s=round(statistics.median(running), 2),
                start_server_running_runs_s=[round(x, 2) for x in running],
                start_server_stopped_median_s=round(statistics.median(stopped), 2),
                start_server_stopped_runs_s=[round(x, 2) for x in stopped],
            )
            browser.close()
        print(json.dumps(results, indent=1))
    except Exception:
        Path("/tmp/bench_start_hub.log").write_text((stack.root / "hub.log").read_text(errors="replace"))
        raise
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
