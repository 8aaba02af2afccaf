"""Fixtures of the end-to-end tests: the whole stack with a grading worker, on a one-notebook course."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.hub.conftest import chromium  # noqa: F401 - the same headless Chromium fixture
from tests.hub.stack import PYTHON, REPO, Stack

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
        pytest.fail(f"{proxy} is missing: run `npm ci --prefix .` (scripts/setup.sh does)")
    # The worker grades against the course gradebook, which must already know the assignment's cells.
    # Nothing in the portal writes it yet (its release store uses a scratch gradebook), so the
    # instructor's step is done here, while the stack starts.
    course = courses_dir / COURSE.name
    env = {**os.environ, "PATH": f"{Path(PYTHON).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    generate = subprocess.Popen([PYTHON, "-m", "nbgrader", "generate_assignment", ASSIGNMENT], cwd=course, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stack = Stack(tmp_path_factory.mktemp("e2e-stack"), trainees=2, courses_dir=courses_dir, grader=True)
    try:
        stack.start()
        out, _ = generate.communicate(timeout=120)
        assert generate.returncode == 0, out[-3000:]
        stack.assignment_id = stack.release_assignment(ASSIGNMENT, "Double it", "두 배 함수", MAX_POINTS)
    except Exception:
        generate.kill()
        stack.stop()
        raise RuntimeError(f"stack did not start\nhub.log:\n{stack.log('hub.log')}\nportal.log:\n"
                           f"{stack.log('portal.log')}\nworker.log:\n{stack.log('worker.log')}")
    yield stack
    stack.stop()
