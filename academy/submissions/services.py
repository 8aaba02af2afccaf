"""Receive submissions on the portal's clock, queue their grading, and record results exactly once."""
from __future__ import annotations

import hashlib
import logging
import math
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Callable

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from academy.audit.services import record
from academy.auth.models import User
from academy.config import var_dir
from academy.courses.models import Assignment, Course, DueDate, course_cohorts
from academy.courses.services import (
    GRADEBOOK_STATUSES,
    _student_cohort_ids,
    due_for,
    find_grade,
    takes,
    upsert_grade,
)
from academy.extensions import db
from academy.submissions.models import Submission, SubmissionStatus
from academy.util import utcnow

log = logging.getLogger(__name__)
FINAL = {SubmissionStatus.GRADED, SubmissionStatus.TIME_LIMIT, SubmissionStatus.MEMORY_LIMIT, SubmissionStatus.ERROR}
MAX_BYTES = 20 * 1024 * 1024
# nbgrader writes this file; its time is the trainee's claim and never counts.
IGNORED_FILES = {"timestamp.txt"}


class SubmissionError(ValueError):
    """A submission or result the portal refuses."""


class NotYourCourse(SubmissionError):
    pass


class NotReleased(SubmissionError):
    pass


class PastCutoff(SubmissionError):
    pass


class BadFiles(SubmissionError):
    pass


class UnknownSubmission(SubmissionError):
    pass


def days_late(received_at: datetime, due_at: datetime | None) -> int:
    """Return the started days past the due date (0 when on time or undated)."""
    if due_at is None or received_at <= due_at:
        return 0
    return math.ceil((received_at - due_at) / timedelta(days=1))


def penalty_percent(assignment: Assignment, late_days: int) -> float:
    """Return the percent deducted for this many days late under the course's policy."""
    course = assignment.course
    return float(min(late_days * course.late_percent_per_day, course.late_max_deduction))


def _safe_name(name: str) -> str:
    path = PurePosixPath(name.replace("\\", "/"))
    if not name or path.is_absolute() or ".." in path.parts or any(p.startswith(".") for p in path.parts):
        raise BadFiles(_l("A submitted file has an unsafe name."))
    return str(path)


def digest(files: dict[str, bytes]) -> str:
    """Return the sha256 of the submission: each file's name and contents, in name order."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).hexdigest().encode() + b"\n")
    return h.hexdigest()


def _default_enqueue(submission: Submission, files: dict[str, bytes]) -> str:
    from academy.grading.jobs import GradingJob
    from academy.grading.tasks import submit

    assignment = submission.assignment
    job = GradingJob(
        submission_id=str(submission.id),
        course_dir=str(Path(current_app.config["COURSES_DIR"]) / assignment.course.nbgrader_course),
        assignment=assignment.nbgrader_name,
        student_id=str(submission.student_id),
        files=files,
        submitted_at=submission.received_at,
        gpu=assignment.needs_gpu,
    )
    return submit(job)


def _enqueuer() -> Callable[[Submission, dict[str, bytes]], str]:
    return current_app.config.get("SUBMISSIONS_ENQUEUE") or _default_enqueue


# --- what a trainee may fetch ----------------------------------------------------------------


@dataclass
class ReleasedAssignment:
    """An assignment released to one of the trainee's cohorts, with the trainee's own dates."""

    assignment: Assignment
    released_at: datetime
    due_at: datetime | None
    cutoff_at: datetime | None


def _released_to(student: User, at: datetime):
    """Return a select of (assignment id, first release time) released to the trainee's cohorts by `at`.

    Only cohorts that still take the assignment's course count, and a withdrawn trainee has none.
    """
    cohort_ids = _student_cohort_ids(student, GRADEBOOK_STATUSES)
    return (
        sa.select(DueDate.assignment_id, sa.func.min(DueDate.released_at).label("released_at"))
        .join(Assignment, Assignment.id == DueDate.assignment_id)
        .join(course_cohorts, sa.and_(course_cohorts.c.course_id == Assignment.course_id,
                                      course_cohorts.c.cohort_id == DueDate.cohort_id))
        .where(DueDate.cohort_id.in_(cohort_ids), DueDate.released_at.is_not(None), DueDate.released_at <= at)
        .group_by(DueDate.assignment_id)
    )


def is_released_to(student: User, assignment: Assignment, at: datetime | None = None) -> bool:
    """Return whether the assignment was released to one of the trainee's cohorts (by now or `at`)."""
    released = _released_to(student, at or utcnow()).where(DueDate.assignment_id == assignment.id)
    return db.session.execute(released).first() is not None


def cutoff_for(assignment: Assignment, due_at: datetime | None) -> datetime | None:
    """Return when submissions close: the due date plus the course's cut-off days."""
    return due_at + timedelta(days=assignment.course.late_cutoff_days) if due_at is not None else None


def released_assignments(student: User, nbgrader_course: str | None = None) -> list[ReleasedAssignment]:
    """Return the assignments released to the trainee, with their own due dates, by course and week."""
    released = _released_to(student, utcnow()).subquery()
    query = (
        sa.select(Assignment, released.c.released_at)
        .join(released, released.c.assignment_id == Assignment.id)
        .join(Course, Course.id == Assignment.course_id)
        .order_by(Course.code, Assignment.week, Assignment.id)
    )
    if nbgrader_course is not None:
        query = query.where(Course.nbgrader_course == nbgrader_course)
    rows = []
    for assignment, released_at in db.session.execute(query).all():
        due_at = due_for(student, assignment)
        rows.append(ReleasedAssignment(assignment, released_at, due_at, cutoff_for(assignment, due_at)))
    return rows


def find_released(student: User, assignment_id: int) -> Assignment | None:
    """Return the assignment if it exists and was released to the trainee, else None (the two look alike)."""
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None or not is_released_to(student, assignment):
        return None
    return assignment


# --- receiving work -------------------------------------------------------------------------


def receive_submission(assignment: Assignment, student: User, files: dict[str, bytes]) -> Submission:
    """Store a trainee's files with the portal's receipt time and sha256, then queue grading."""
    received_at = utcnow()
    if not takes(student, assignment.course):
        raise NotYourCourse(_l("You are not a trainee of this course."))
    due_at = due_for(student, assignment)
    if due_at is None or not is_released_to(student, assignment, received_at):
        raise NotReleased(_l("This assignment has not been released to you."))
    late = days_late(received_at, due_at)
    if received_at > cutoff_for(assignment, due_at):
        raise PastCutoff(_l("The cut-off for this assignment has passed; submissions are closed."))
    clean = {_safe_name(n): b for n, b in files.items() if PurePosixPath(n).name not in IGNORED_FILES}
    folders = {str(parent) for n in clean for parent in PurePosixPath(n).parents if str(parent) != "."}
    if folders & set(clean):
        raise BadFiles(_l("A submitted file has the same name as a submitted folder."))
    if not clean or not any(n.endswith(".ipynb") for n in clean):
        raise BadFiles(_l("A submission needs at least one notebook."))
    if sum(len(b) for b in clean.values()) > MAX_BYTES:
        raise BadFiles(_l("The submission is too large."))
    submission = Submission(assignment_id=assignment.id, student_id=student.id, received_at=received_at,
                            sha256=digest(clean), stored_path="", days_late=late,
                            status=SubmissionStatus.QUEUED)
    db.session.add(submission)
    db.session.flush()
    rel = Path("submissions") / str(assignment.id) / str(student.id) / str(submission.id)
    # A folder under this id can only be the leftover of a request that failed before its commit.
    shutil.rmtree(var_dir() / rel, ignore_errors=True)
    for name, blob in clean.items():
        target = var_dir() / rel / "files" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
    submission.stored_path = str(rel)
    record("submission.received", actor_id=student.id, subject_user_id=student.id, obj=submission,
           detail={"assignment_id": assignment.id, "sha256": submission.sha256, "days_late": late})
    # The submission is durable before its job exists: a job never names a row that could be rolled back
    # (and whose id another trainee's submission could then take).
    db.session.commit()
    _queue(submission, clean)
    return submission


def _queue(submission: Submission, files: dict[str, bytes]) -> bool:
    """Queue a stored submission's grading job; a down broker leaves it queued for requeue_unqueued()."""
    try:
        submission.job_id = _enqueuer()(submission, files)
    except Exception:  # noqa: BLE001 - a down broker must not lose the submission
        log.exception("grading queue unavailable; submission %s stays queued", submission.id)
        return False
    db.session.flush()
    return True


def stored_files(submission: Submission) -> dict[str, bytes]:
    """Return the files of a stored submission, by their submitted names."""
    root = var_dir() / submission.stored_path / "files"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def requeue_unqueued(limit: int = 50, older_than: timedelta = timedelta(seconds=30)) -> int:
    """Queue the submissions that arrived while the broker was down; return how many were queued.

    Grading results are recorded once per submission, so queueing one that was in fact queued is harmless.
    """
    cutoff = utcnow() - older_than
    waiting = list(db.session.scalars(sa.select(Submission).where(
        Submission.status == SubmissionStatus.QUEUED, Submission.job_id.is_(None),
        Submission.received_at <= cutoff).order_by(Submission.id).limit(limit)))
    queued = 0
    for submission in waiting:
        if not _queue(submission, stored_files(submission)):
            break  # still down: try again later
        queued += 1
    return queued


def record_result(data: dict) -> Submission:
    """Record a worker's result once: later copies of the same result change nothing."""
    try:
        key = int(data.get("submission_id", 0) or 0)
    except (TypeError, ValueError):
        raise UnknownSubmission(_l("No such submission.")) from None
    # The row lock makes two copies of one result arriving together record it once (PostgreSQL).
    submission = db.session.get(Submission, key, with_for_update=True)
    if submission is None:
        raise UnknownSubmission(_l("No such submission."))
    if submission.status in FINAL:
        return submission
    status = str(data.get("status", "error"))
    if status not in set(SubmissionStatus) - {SubmissionStatus.QUEUED}:
        raise SubmissionError(_l("Unknown grading status."))
    assignment = submission.assignment
    # A report names the work it graded; one about another trainee's or assignment's files is refused.
    if str(data.get("student_id", submission.student_id)) != str(submission.student_id) or \
            str(data.get("assignment", assignment.nbgrader_name)) != assignment.nbgrader_name:
        raise SubmissionError(_l("This result belongs to another submission."))
    if status == SubmissionStatus.GRADING:
        submission.status = status
        return submission
    student = db.session.get(User, submission.student_id)
    # An extension granted after the submission counts: lateness is measured against today's due date.
    due_at = due_for(student, assignment)
    if due_at is not None:
        submission.days_late = days_late(submission.received_at, due_at)
    auto = float(data.get("auto_score") or 0)
    # Scaled against all of nbgrader's points (tests and hand-graded answers): written answers are not
    # free marks while they wait for an instructor.
    top = float(data.get("max_total_score") or data.get("max_auto_score") or 0)
    score = round(min(max(auto / top, 0.0), 1.0) * assignment.max_points, 2) if top > 0 else 0.0
    penalty = round(score * penalty_percent(assignment, submission.days_late) / 100, 2)
    submission.status = status
    submission.auto_score = score
    submission.late_penalty = penalty
    submission.message = str(data.get("message", ""))[:2000]
    submission.graded_at = utcnow()
    html = str(data.get("feedback_html") or "")
    if html:
        rel = Path(submission.stored_path) / "feedback.html"
        (var_dir() / rel).parent.mkdir(parents=True, exist_ok=True)
        (var_dir() / rel).write_text(html, encoding="utf-8")
        submission.feedback_path = str(rel)
    db.session.flush()
    if not _newer_graded(submission):
        # Feedback an instructor wrote in the portal stays; the grader's own is in the feedback document.
        grade = find_grade(assignment, student)
        upsert_grade(assignment, student, score - penalty, grade.feedback if grade else "", None,
                     late_penalty=penalty, source="autograde")
    return submission


def _newer_graded(submission: Submission) -> bool:
    """Return whether a later submission of the same work already set the grade."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Submission).where(
        Submission.assignment_id == submission.assignment_id, Submission.student_id == submission.student_id,
        Submission.id > submission.id, Submission.status.in_([s.value for s in FINAL]))) > 0


def my_submissions(
    student: User, nbgrader_course: str | None = None, nbgrader_name: str | None = None
) -> list[Submission]:
    """Return a trainee's own submissions, newest first, optionally of one nbgrader course and assignment."""
    query = sa.select(Submission).where(Submission.student_id == student.id)
    if nbgrader_course is not None or nbgrader_name is not None:
        query = query.join(Assignment, Assignment.id == Submission.assignment_id)
    if nbgrader_course is not None:
        query = query.join(Course, Course.id == Assignment.course_id).where(Course.nbgrader_course == nbgrader_course)
    if nbgrader_name is not None:
        query = query.where(Assignment.nbgrader_name == nbgrader_name)
    return list(db.session.scalars(query.order_by(Submission.received_at.desc(), Submission.id.desc())))


def submitted_notebooks(submission: Submission) -> list[str]:
    """Return the notebooks of a submission (stems of its top-level .ipynb files), sorted."""
    if not submission.stored_path:
        return []
    folder = var_dir() / submission.stored_path / "files"
    return sorted(p.stem for p in folder.glob("*.ipynb") if p.is_file()) if folder.is_dir() else []


def own_submission(student: User, submission_id: int) -> Submission | None:
    """Return the trainee's own submission, else None: another trainee's looks like one that does not exist."""
    submission = db.session.get(Submission, submission_id)
    return submission if submission is not None and submission.student_id == student.id else None


def feedback_html(submission: Submission) -> str | None:
    """Return the stored feedback HTML of a submission, if any."""
    if not submission.feedback_path:
        return None
    return (var_dir() / submission.feedback_path).read_text(encoding="utf-8")
