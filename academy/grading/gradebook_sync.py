"""Per-job gradebook copies and the merge of their grades into the course gradebook.

nbgrader's SQLite gradebook is not safe for concurrent writers, so each job autogrades against
its own copy and the worker merges that submission's grades back under a file lock. With a
server database (PostgreSQL) jobs use it directly and the lock only orders the merges.
"""
from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

import nbformat
from nbformat import NotebookNode
from nbgrader.api import Gradebook, MissingEntry

from academy.grading import untrusted
from academy.grading.safe_display import for_instructors
from academy.grading.store import file_lock

PUBLISH_MAX_FILE = 64 * 1024 * 1024
PUBLISH_MAX_TOTAL = 128 * 1024 * 1024


@dataclass
class GradeRow:
    """One grade of a submitted notebook, as autograde left it."""

    notebook: str
    grade_id: str
    auto_score: float | None
    max_score: float
    needs_manual_grade: bool
    is_test: bool  # an autograder test cell, not a manually graded answer


def sqlite_path(db_url: str) -> Path | None:
    """Return the file of a sqlite:/// URL, or None for a server database."""
    prefix = "sqlite:///"
    return Path(db_url[len(prefix):]) if db_url.startswith(prefix) else None


def lock_path(course_dir: Path) -> Path:
    """Return the lock file that orders writes to a course's gradebook."""
    return course_dir / ".gradebook.lock"


def copy_gradebook(course_dir: Path, db_url: str, dest: Path) -> str:
    """Return a db URL for the job: a consistent copy of a SQLite gradebook, or db_url itself."""
    source = sqlite_path(db_url)
    if source is None:
        return db_url
    with file_lock(lock_path(course_dir)):
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
    return f"sqlite:///{dest}"


def instructor_cell_ids(db_url: str, course_id: str, assignment: str) -> set[str]:
    """Return the ids of the cells autograde restores from the gradebook: tests and locked cells."""
    with Gradebook(db_url, course_id) as gb:
        found = set()
        for notebook in gb.find_assignment(assignment).notebooks:
            solutions = {cell.name for cell in notebook.solution_cells}
            found |= {c.name for c in notebook.grade_cells if c.cell_type == "code" and c.name not in solutions}
            found |= {c.name for c in notebook.source_cells if c.locked and c.name not in solutions}
        return found


def instructor_tests(db_url: str, course_id: str, assignment: str) -> dict[str, dict[str, str]]:
    """Return the assignment's autograder test cells, notebook -> grade id -> source, from the gradebook.

    The judge runs these sources, never a notebook's copy of them (an unlocked test cell is the trainee's to edit).
    """
    with Gradebook(db_url, course_id) as gb:
        found: dict[str, dict[str, str]] = {}
        for notebook in gb.find_assignment(assignment).notebooks:
            solutions = {cell.name for cell in notebook.solution_cells}
            tests = {c.name for c in notebook.grade_cells if c.cell_type == "code" and c.name not in solutions}
            sources = {c.name: c.source for c in notebook.source_cells if c.name in tests}
            found[notebook.name] = {name: sources.get(name, "") for name in tests}
        return found


def read_grades(db_url: str, course_id: str, assignment: str, student: str) -> tuple[list[GradeRow], dict[str, float]]:
    """Return a submission's grades and each notebook's late penalty."""
    rows: list[GradeRow] = []
    penalties: dict[str, float] = {}
    with Gradebook(db_url, course_id) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return rows, penalties
        for nb in submission.notebooks:
            solutions = {cell.name for cell in nb.notebook.solution_cells}
            penalties[nb.name] = float(nb.late_submission_penalty or 0.0)
            for grade in nb.grades:
                rows.append(GradeRow(
                    notebook=nb.name, grade_id=grade.name, auto_score=grade.auto_score,
                    max_score=float(grade.max_score), needs_manual_grade=bool(grade.needs_manual_grade),
                    is_test=grade.cell.cell_type == "code" and grade.name not in solutions,
                ))
    return rows, penalties


def merge_grades(course_dir: Path, db_url: str, course_id: str, assignment: str, student: str,
                 submitted_at: datetime | None, rows: list[GradeRow], penalties: dict[str, float]) -> None:
    """Write a job's grades for one submission into the course gradebook, under the lock."""
    with file_lock(lock_path(course_dir)), Gradebook(db_url, course_id) as gb:
        gb.update_or_create_student(student)
        extra = {"timestamp": submitted_at.replace(tzinfo=None)} if submitted_at else {}
        gb.update_or_create_submission(assignment, student, **extra)
        for row in rows:
            grade = gb.find_grade(row.grade_id, row.notebook, assignment, student)
            grade.auto_score = row.auto_score
            grade.needs_manual_grade = row.needs_manual_grade
        for name, penalty in penalties.items():
            gb.find_submission_notebook(name, assignment, student).late_submission_penalty = penalty
        gb.db.commit()


def publish_files(course_dir: Path, step: str, student: str, assignment: str, source: Path) -> list[str]:
    """Replace course_dir/step/student/assignment with the regular files of source, under the lock.

    Only plain, single-linked regular files under the caps are copied (academy.grading.untrusted):
    a link, FIFO, socket or device file is left out, never followed. Return what was left out.
    """
    found = _collect(source)
    _swap_in(course_dir, step, student, assignment, found.files)
    return [f"{path}: {why}" for path, why in found.refused]


def publish_graded(course_dir: Path, student: str, assignment: str, notebooks: Mapping[str, NotebookNode],
                   submitted: Path, instructor_cells: Collection[str]) -> list[str]:
    """Replace course_dir/autograded/student/assignment with the graded notebooks and the trainee's own files.

    The notebooks are made safe to render first (academy.grading.safe_display: the formgrader shows them in the
    hub's origin). Nothing else of nbgrader's autograded folder is published: autograde copies the assignment's
    source files into it, and those are the course's, not the trainee's. Return what was left out.
    """
    found = _collect(submitted)
    files = {rel: blob for rel, blob in found.files.items()
             if not (len(PurePosixPath(rel).parts) == 1 and rel.endswith(".ipynb"))}
    for name, nb in notebooks.items():
        files[f"{name}.ipynb"] = nbformat.writes(for_instructors(nb, instructor_cells)).encode()
    _swap_in(course_dir, "autograded", student, assignment, files)
    return [f"{path}: {why}" for path, why in found.refused]


def _collect(source: Path) -> untrusted.Collected:
    return untrusted.collect(source, max_file=PUBLISH_MAX_FILE, max_total=PUBLISH_MAX_TOTAL,
                             skip=frozenset({".ipynb_checkpoints", "__pycache__"}))


def _swap_in(course_dir: Path, step: str, student: str, assignment: str, files: dict[str, bytes]) -> None:
    """Put files in course_dir/step/student/assignment in one rename, under the gradebook lock."""
    target = course_dir / step / student / assignment
    staging = target.with_name(f".{assignment}.incoming")
    with file_lock(lock_path(course_dir)):
        shutil.rmtree(staging, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        untrusted.write_tree(staging, files)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
