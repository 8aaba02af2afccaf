"""A course gradebook on PostgreSQL (used in place, not copied): a tampered run's zeroed tests reach it too."""
from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config import PyFileConfigLoader

from academy.grading.grader import grade_submission
from academy.grading.jobs import GradingJob, GradingLimits
from academy.grading.store import ResultStore
from tests.grading.conftest import FIXTURE_COURSE, SOLUTIONS

SERVER = os.environ.get("ACADEMY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="module")
def pg_course(tmp_path_factory):
    try:
        engine = sa.create_engine(SERVER, isolation_level="AUTOCOMMIT")
        name = f"academy_gradebook_{secrets.token_hex(4)}"
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:  # CI always has PostgreSQL; say so plainly where it does not
        pytest.fail(f"PostgreSQL is not reachable at {SERVER}: {exc}")
    url = SERVER.rsplit("/", 1)[0] + f"/{name}"
    root = tmp_path_factory.mktemp("pg") / "course"
    shutil.copytree(FIXTURE_COURSE, root)
    config_file = root / "nbgrader_config.py"
    config_file.write_text(config_file.read_text() + f"\nc.CourseDirectory.db_url = {url!r}\n")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    outcome = NbGraderAPI(CourseDirectory(config=config), config=config).generate_assignment("ps1")
    assert outcome["success"], outcome.get("log")
    yield root, url
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def test_a_tampered_run_scores_zero_in_a_server_gradebook(pg_course, make_submission, tmp_path, monkeypatch):
    root, url = pg_course
    # The worker takes the gradebook from the platform's setting, never from the course's config file.
    monkeypatch.setenv("ACADEMY_GRADEBOOK_URL", url)
    patch = ("import numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None\n"
             "numpy.testing.assert_array_equal = lambda *a, **k: None\n")
    job = GradingJob(submission_id="pg-1", course_dir=str(root), assignment="ps1", student_id="mallory",
                     files={"ps1.ipynb": make_submission({**SOLUTIONS, "squares": SOLUTIONS["squares"] + patch})},
                     limits=GradingLimits(wall_seconds=60, cell_timeout_seconds=30))
    result = grade_submission(job, ResultStore(tmp_path / "results"))
    assert result.auto_score == 0.0 and result.integrity
    with Gradebook(url, "grading-fixture") as gb:
        grades = gb.find_submission_notebook("ps1", "ps1", "mallory").grades
        tests = {g.name: (g.auto_score, g.needs_manual_grade) for g in grades if g.cell.name.startswith("test_")}
    # nbgrader itself stored full marks there; the worker's zeroed, flagged scores replaced them.
    assert tests == {"test_squares": (0.0, True), "test_mean_square": (0.0, True)}
