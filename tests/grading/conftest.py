"""Fixtures for the grading worker: a tiny nbgrader course, submissions built from it, a store."""
from __future__ import annotations

import itertools
import os
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Callable

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config import PyFileConfigLoader

from academy.grading.grader import grade_submission
from academy.grading.jobs import GradingJob, GradingLimits, GradingResult
from academy.grading.store import ResultStore

FIXTURE_COURSE = Path(__file__).resolve().parent / "fixtures" / "course"
DUE = datetime(2026, 3, 1, 12, 0, 0)
SOLUTIONS = {
    "squares": "import numpy as np\n\ndef squares(n):\n    return np.arange(n) ** 2\n",
    "mean_square": "def mean_square(x):\n    return float(np.mean(np.asarray(x, dtype=float) ** 2))\n",
}
WRONG = {
    "squares": "import numpy as np\n\ndef squares(n):\n    return np.arange(n)\n",
    "mean_square": "def mean_square(x):\n    return 0.0\n",
}

# nbgrader runs `alembic` when it creates a gradebook; the venv's scripts must be on PATH.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


@pytest.fixture(scope="session")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a fresh copy of the fixture course with ps1 generated and a due date set."""
    root = tmp_path_factory.mktemp("grading") / "course"
    shutil.copytree(FIXTURE_COURSE, root)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    # ps2: hidden tests that compare with ==; ps3: a hidden constant; ps4: a probe changed in place
    # (tests/grading/test_hostile.py); ps5: an instructor's task cell with a mark scheme (test_feedback.py);
    # ps6: a hidden test that runs the notebook again on changed data (tests/grading/test_rerun.py); ps7: a hidden
    # test that reads the data folder again (tests/grading/test_judge_files.py)
    for assignment in ("ps1", "ps2", "ps3", "ps4", "ps5", "ps6", "ps7"):
        outcome = api.generate_assignment(assignment)
        assert outcome["success"], outcome.get("log")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "grading-fixture") as gb:
        gb.update_or_create_assignment("ps1", duedate=DUE)
    return root


@pytest.fixture(scope="session")
def release_nb(course: Path) -> nbformat.NotebookNode:
    """Return the released ps1 notebook (what trainees receive)."""
    return nbformat.read(course / "release" / "ps1" / "ps1.ipynb", as_version=4)


SubmissionMaker = Callable[..., bytes]


@pytest.fixture()
def make_submission(release_nb: nbformat.NotebookNode) -> SubmissionMaker:
    """Return a builder: answers by grade id, optional edit of the notebook, as .ipynb bytes."""

    def build(answers: dict[str, str] | None = None,
              edit: Callable[[nbformat.NotebookNode], None] | None = None) -> bytes:
        nb = nbformat.from_dict(release_nb)
        for cell in nb.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if answers and grade_id in answers:
                cell.source = answers[grade_id]
        if edit is not None:
            edit(nb)
        return nbformat.writes(nb).encode()

    return build


@pytest.fixture()
def store(tmp_path: Path) -> ResultStore:
    """Return an empty result store."""
    return ResultStore(tmp_path / "state")


_ids = itertools.count()


@pytest.fixture()
def grade(course: Path, store: ResultStore) -> Callable[..., GradingResult]:
    """Return a function that grades notebook bytes for a student and returns the result."""
    def run(notebook: bytes, student: str, extra_files: dict[str, bytes] | None = None,
            **job_fields: object) -> GradingResult:
        limits = job_fields.pop("limits", GradingLimits(wall_seconds=60, cell_timeout_seconds=30))
        job = GradingJob(
            submission_id=f"{student}-{next(_ids)}", course_dir=str(course), assignment="ps1",
            student_id=student, files={"ps1.ipynb": notebook, **(extra_files or {})},
            limits=limits, **job_fields,  # type: ignore[arg-type]
        )
        return grade_submission(job, store)

    return run


@pytest.fixture()
def grade_other(course: Path, store: ResultStore) -> Callable[..., GradingResult]:
    """Grade a ps2-ps7 notebook whose answer cells have the given source (with other files, under other limits)."""
    def run(assignment: str, answer: str, student: str, files: dict[str, bytes] | None = None,
            limits: GradingLimits | None = None) -> GradingResult:
        released = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
        nb = nbformat.from_dict(released)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                cell.source = answer
        job = GradingJob(submission_id=f"{student}-{assignment}", course_dir=str(course), assignment=assignment,
                         student_id=student,
                         files={f"{assignment}.ipynb": nbformat.writes(nb).encode(), **(files or {})},
                         limits=limits or GradingLimits(wall_seconds=90, cell_timeout_seconds=30))
        return grade_submission(job, store)

    return run


def graded_notebook(course: Path, student: str) -> nbformat.NotebookNode:
    """Return the autograded notebook the worker published for a student."""
    return nbformat.read(course / "autograded" / student / "ps1" / "ps1.ipynb", as_version=4)


def all_output_text(nb: nbformat.NotebookNode) -> str:
    """Return every stream and error text in a notebook, joined."""
    parts: list[str] = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") or f"{out.get('ename', '')}: {out.get('evalue', '')}")
    return "\n".join(parts)
