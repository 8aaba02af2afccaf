"""Each test of this package gets its own data directory: submission folders are named by row ids, which
the per-test purge of the database hands out again, so a shared folder would mix one test's files into the next."""
from __future__ import annotations

import pytest

from tests.submissions.test_api import GRADER


@pytest.fixture(autouse=True)
def own_var_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ACADEMY_VAR_DIR", str(tmp_path / "var"))
    return tmp_path / "var"


@pytest.fixture
def queue(app):
    """Capture grading jobs in order, as the broker would receive them (the grader token set as well)."""
    jobs: list[int] = []
    app.config["SUBMISSIONS_ENQUEUE"] = lambda sub, files: jobs.append(sub.id) or f"job-{sub.id}"
    app.config["GRADER_TOKEN"] = GRADER
    yield jobs
    app.config.pop("SUBMISSIONS_ENQUEUE", None)
