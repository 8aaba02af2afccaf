"""Fixtures of the end-to-end tests: the whole stack with a grading worker, on a one-notebook course."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.hub.conftest import chromium  # noqa: F401 - the same headless Chromium fixture
from tests.hub.stack import REPO, Stack

COURSE = Path(__file__).resolve().parent / "fixtures" / "manufacturing-ai"
ASSIGNMENT = "e2e_quick"
MAX_POINTS = 10.0


@pytest.fixture(scope="module")
def courses_dir(tmp_path_factory) -> Path:
    """Return a COURSES_DIR holding a copy of the one-notebook course under the real course's id."""
    root = tmp_path_factory.mktemp("courses")
    shutil.copytree(COURSE, root / COURSE.name)
    return root


@pytest.fixture(scope="module")
def graded_stack(tmp_path_factory, courses_dir):
    """Start portal, hub, proxy and one grading worker; release the assignment to the seeded cohort."""
    proxy = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
    if not proxy.exists():
        pytest.fail(f"{proxy} is missing: run `npm ci --prefix .` (scripts/install.sh does)")
    # Nothing but the portal prepares the course: the trainee's first fetch makes the release, which also
    # records the assignment in the course gradebook the worker grades against.
    stack = Stack(tmp_path_factory.mktemp("e2e-stack"), trainees=2, courses_dir=courses_dir, grader=True)
    stack.start_or_explain()
    try:
        stack.assignment_id = stack.release_assignment(ASSIGNMENT, "Double it", "두 배 함수", MAX_POINTS)
    except Exception:
        stack.stop()
        raise
    yield stack
    stack.stop()
