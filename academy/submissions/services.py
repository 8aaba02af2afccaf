"""Receive submissions on the portal's clock, queue their grading, and record results exactly once."""
from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import contains_eager, joinedload

from academy.admissions.models import Enrollment
from academy.audit.services import record
from academy.auth.models import User
from academy.config import var_dir
from academy.courses.models import Assignment, Course, DueDate, course_cohorts
from academy.courses.services import (
    GRADEBOOK_STATUSES,
    due_for,
    dues_for,
    get_grade,
    takes,
    upsert_grade,
)
from academy.extensions import db
from academy.notifications import events
from academy.submissions.models import Submission, SubmissionCell, SubmissionStatus
# requeue_unqueued and stored_files are part of this module's interface; they live with the queue.
from academy.submissions.queue import (  # noqa: F401 - the queue's doors, used by views and commands
    drain_backlog,
    queue_after_result,
    queue_next,
    requeue_unqueued,
    stored_files,
    supersede_waiting,
)
from academy.util import utcnow
from academy.validators import MAX_ID

log = logging.getLogger(__name__)
FINAL = {SubmissionStatus.GRADED, SubmissionStatus.TIME_LIMIT, SubmissionStatus.MEMORY_LIMIT, SubmissionStatus.ERROR}
# Statuses whose result is never recorded: graded already, or replaced by newer work before grading.
CLOSED = FINAL | {SubmissionStatus.SUPERSEDED}
MIB = 1024 * 1024
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


class StorageFull(SubmissionError):
    """The trainee's kept submissions and this one together exceed their storage allowance."""

    def __init__(self, used: int, size: int, allowance: int):
        super().__init__(
            f"제출물 보관 한도({allowance / MIB:.0f} MiB)를 넘어 이 제출을 받을 수 없습니다. 지금까지의 제출물이 "
            f"{used / MIB:.1f} MiB, 이번 제출이 {size / MIB:.1f} MiB입니다. 필요 없는 큰 파일(데이터, 출력)을 빼고 다시 "
            f"제출하거나 아카데미 사무국에 문의하세요. / This submission cannot be accepted: it would exceed your "
            f"storage for submissions ({allowance / MIB:.0f} MiB). Your earlier submissions hold {used / MIB:.1f} MiB "
            f"and this one is {size / MIB:.1f} MiB. Leave out large files you do not need (data, outputs) and submit "
            f"again, or ask the academy office.")
        self.used, self.size, self.allowance = used, size, allowance


def days_late(received_at: datetime, due_at: datetime | None) -> int:
    """Return the started days past the due date (0 when on time or undated)."""
    if due_at is None or received_at <= due_at:
        return 0
    return math.ceil((received_at - due_at) / timedelta(days=1))


def penalty_percent(assignment: Assignment, late_days: int) -> float:
    """Return the percent deducted for this many days late under the course's policy."""
    course = assignment.course
    return float(min(late_days * course.late_percent_per_day, course.late_max_deduction))


def scale_score(points: float, out_of: float, max_points: float) -> float:
    """Put points out of a total on the assignment's scale (max_points); extra credit stops at the maximum."""
    if out_of <= 0:
        return 0.0
    return round(min(max(points / out_of, 0.0), 1.0) * max_points, 2)


def apply_late_penalty(score: float, assignment: Assignment, late_days: int) -> tuple[float, float]:
    """Return (the score less the course's late penalty, the penalty): the one place a late penalty is applied.

    The penalty is the policy's percent of the score; rounding never lets score and penalty sum past the maximum.
    """
    penalty = round(score * penalty_percent(assignment, late_days) / 100, 2)
    final = round(score - penalty, 2)
    return final, min(penalty, assignment.max_points - final)


# A file name part the filesystem stores (NAME_MAX is 255 bytes), and a whole name (folders included)
# that an assignment's files never need to pass, well inside PATH_MAX under any data directory.
MAX_NAME_PART_BYTES = 255
MAX_NAME_CHARS = 255
# Files in one submission, and folders above any of them: an assignment folder holds a few notebooks
# and small files; thousands of files or a deep tree is a way to use up the disk's inodes, not work.
MAX_FILES = 500
MAX_DEPTH = 8
# What each file costs the disk beyond its bytes (a block, an inode, a directory entry): counted in a
# submission's size and so in the trainee's allowance, or thousands of empty files would cost nothing.
FILE_OVERHEAD_BYTES = 4096


def _safe_name(name: str) -> str:
    path = PurePosixPath(name.replace("\\", "/"))
    if not name or path.is_absolute() or ".." in path.parts or any(p.startswith(".") for p in path.parts):
        raise BadFiles(_l("A submitted file has an unsafe name."))
    # Control characters (NUL above all) and over-long names cannot be stored as files: refused, not a 500.
    if any(ord(c) < 32 for c in name) or \
            any(len(p.encode("utf-8", "surrogatepass")) > MAX_NAME_PART_BYTES for p in path.parts):
        raise BadFiles(_l("A submitted file has an unsafe name."))
    if len(str(path)) > MAX_NAME_CHARS:
        raise BadFiles(_l("A submitted file's name is too long: at most %(n)d characters, its folders included.",
                          n=MAX_NAME_CHARS))
    if len(path.parts) > MAX_DEPTH + 1:
        raise BadFiles(_l("A submitted file lies too deep: at most %(n)d folders above a file.", n=MAX_DEPTH))
    return str(path)


def charged_size(files: dict[str, bytes]) -> int:
    """Return what a submission's files cost the trainee's storage: their bytes plus a block for each."""
    return sum(len(b) for b in files.values()) + FILE_OVERHEAD_BYTES * len(files)


def _write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write the files into a new folder; one the filesystem refuses is a refused submission, not a 500."""
    try:
        for name, blob in files.items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob)
    except OSError as exc:
        log.warning("submitted files could not be stored in %s: %s", folder, exc)
        raise BadFiles(_l("The submitted files could not be stored. Check their names and sizes and submit "
                          "again.")) from None


def digest(files: dict[str, bytes]) -> str:
    """Return the sha256 of the submission: each file's name and contents, in name order."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).hexdigest().encode() + b"\n")
    return h.hexdigest()


# --- what a trainee may fetch ----------------------------------------------------------------


@dataclass
class ReleasedAssignment:
    """An assignment released to one of the trainee's cohorts, with the trainee's own dates."""

    assignment: Assignment
    released_at: datetime
    due_at: datetime | None
    cutoff_at: datetime | None


def _released_to(trainee: User, at: datetime):
    """Return a select of (assignment id, first release time) released to the trainee's cohorts by `at`.

    Only cohorts that still take the assignment's course count, and a withdrawn trainee has none.
    """
    cohort_ids = sa.select(Enrollment.cohort_id).where(Enrollment.student_id == trainee.id,
                                                       Enrollment.status.in_(GRADEBOOK_STATUSES))  # in the query
    return (
        sa.select(DueDate.assignment_id, sa.func.min(DueDate.released_at).label("released_at"))
        .join(Assignment, Assignment.id == DueDate.assignment_id)
        .join(course_cohorts, sa.and_(course_cohorts.c.course_id == Assignment.course_id,
                                      course_cohorts.c.cohort_id == DueDate.cohort_id))
        .where(DueDate.cohort_id.in_(cohort_ids), DueDate.released_at.is_not(None), DueDate.released_at <= at)
        .group_by(DueDate.assignment_id)
    )


def is_released_to(trainee: User, assignment: Assignment, at: datetime | None = None) -> bool:
    """Return whether the assignment was released to one of the trainee's cohorts (by now or `at`)."""
    released = _released_to(trainee, at or utcnow()).where(DueDate.assignment_id == assignment.id)
    return db.session.execute(released).first() is not None


def cutoff_for(assignment: Assignment, due_at: datetime | None) -> datetime | None:
    """Return when submissions close: the due date plus the course's cut-off days."""
    return due_at + timedelta(days=assignment.course.late_cutoff_days) if due_at is not None else None


def released_ids(trainee: User) -> set[int]:
    """Return the ids of the assignments released to the trainee by now (one query)."""
    return set(db.session.scalars(sa.select(_released_to(trainee, utcnow()).subquery().c.assignment_id)))


def released_assignments(trainee: User, nbgrader_course: str | None = None) -> list[ReleasedAssignment]:
    """Return the assignments released to the trainee, with their own due dates, by course and week."""
    released = _released_to(trainee, utcnow()).subquery()
    query = (
        sa.select(Assignment, released.c.released_at)
        .join(released, released.c.assignment_id == Assignment.id)
        .join(Course, Course.id == Assignment.course_id)
        .options(contains_eager(Assignment.course))
        .order_by(Course.code, Assignment.week, Assignment.id)
    )
    if nbgrader_course is not None:
        query = query.where(Course.nbgrader_course == nbgrader_course)
    found = db.session.execute(query).all()
    dues = dues_for(trainee, [a for a, _r in found])  # in one go, not three queries per assignment
    return [ReleasedAssignment(a, released_at, dues[a.id], cutoff_for(a, dues[a.id])) for a, released_at in found]


def get_released(trainee: User, assignment_id: int) -> Assignment | None:
    """Return the assignment if it exists and was released to the trainee, else None (the two look alike)."""
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None or not is_released_to(trainee, assignment):
        return None
    return assignment


# --- receiving work -------------------------------------------------------------------------


def receive_submission(assignment: Assignment, trainee: User, files: dict[str, bytes]) -> Submission:
    """Store a trainee's files with the portal's receipt time and sha256, then queue grading."""
    received_at = utcnow()
    if not takes(trainee, assignment.course):
        raise NotYourCourse(_l("You are not a trainee of this course."))
    due_at = due_for(trainee, assignment)
    if due_at is None or not is_released_to(trainee, assignment, received_at):
        raise NotReleased(_l("This assignment has not been released to you."))
    late = days_late(received_at, due_at)
    if received_at > cutoff_for(assignment, due_at):
        raise PastCutoff(_l("The cut-off for this assignment has passed; submissions are closed."))
    if len(files) > MAX_FILES:
        raise BadFiles(_l("A submission may hold at most %(n)d files.", n=MAX_FILES))
    clean = {_safe_name(n): b for n, b in files.items() if PurePosixPath(n).name not in IGNORED_FILES}
    folders = {str(parent) for n in clean for parent in PurePosixPath(n).parents if str(parent) != "."}
    if folders & set(clean):
        raise BadFiles(_l("A submitted file has the same name as a submitted folder."))
    if not clean or not any(n.endswith(".ipynb") for n in clean):
        raise BadFiles(_l("A submission needs at least one notebook."))
    size = charged_size(clean)
    if size > MAX_BYTES:
        raise BadFiles(_l("The submission is too large."))
    # PostgreSQL: a trainee's submissions take turns on their row, so two at once cannot both fit the
    # allowance that only one fits (SQLite runs one writer at a time anyway).
    db.session.execute(sa.select(User.id).where(User.id == trainee.id).with_for_update())
    submission = Submission(assignment_id=assignment.id, student_id=trainee.id, received_at=received_at,
                            sha256=digest(clean), stored_path="", days_late=late, size_bytes=size,
                            status=SubmissionStatus.QUEUED)
    db.session.add(submission)
    db.session.flush()
    _check_storage(trainee, submission)
    rel = Path("submissions") / str(assignment.id) / str(trainee.id) / str(submission.id)
    # The files are written into a folder of their own and moved into place whole, only once everything
    # else is accepted; whatever refuses or fails on the way takes every file of this request with it.
    incoming = var_dir() / "submissions" / ".incoming" / secrets.token_hex(16)
    try:
        _write_files(incoming, clean)
        # A folder under this id can only be the leftover of a request that failed before its commit.
        shutil.rmtree(var_dir() / rel, ignore_errors=True)
        (var_dir() / rel).mkdir(parents=True)
        os.rename(incoming, var_dir() / rel / "files")
        submission.stored_path = str(rel)
        record("submission.received", actor_id=trainee.id, subject_user_id=trainee.id, obj=submission,
               detail={"assignment_id": assignment.id, "sha256": submission.sha256, "days_late": late})
        # Only the newest waiting submission of a work is graded: an older one still waiting is superseded.
        supersede_waiting(trainee.id)
        # The submission is durable before its job exists: a job never names a row that could be rolled back
        # (and whose id another trainee's submission could then take).
        db.session.commit()
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        shutil.rmtree(var_dir() / rel, ignore_errors=True)
        raise
    # Queued now unless a job of this trainee is in the queue: then it waits for that job's result.
    queue_next(trainee.id)
    return submission


def _check_storage(trainee: User, submission: Submission) -> None:
    """Refuse the submission when the trainee's kept submissions and it exceed their storage allowance."""
    allowance = int(current_app.config["SUBMISSION_STORAGE_PER_TRAINEE"])
    used = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Submission.size_bytes), 0))
                             .where(Submission.student_id == trainee.id, Submission.id != submission.id))
    if used + submission.size_bytes > allowance:
        raise StorageFull(int(used), submission.size_bytes, allowance)


def prune_superseded_files(trainee: User | None = None) -> tuple[int, int]:
    """Delete the files of superseded submissions (of one trainee, or all); return (submissions, bytes) freed.

    A superseded submission is never graded and never queued again, so its files serve nothing; its record
    (receipt time, sha256, status) stays. What was freed counts no more against the storage allowance.
    """
    query = sa.select(Submission).where(Submission.status == SubmissionStatus.SUPERSEDED, Submission.size_bytes > 0)
    if trainee is not None:
        query = query.where(Submission.student_id == trainee.id)
    pruned = freed = 0
    for submission in db.session.scalars(query):
        if submission.stored_path:
            shutil.rmtree(var_dir() / submission.stored_path / "files", ignore_errors=True)
        record("submission.files_pruned", subject_user_id=submission.student_id, obj=submission,
               detail={"bytes": submission.size_bytes, "sha256": submission.sha256})
        pruned, freed = pruned + 1, freed + submission.size_bytes
        submission.size_bytes = 0
    db.session.flush()
    return pruned, freed


def _result_id(value: object) -> int:
    """Return the submission id a result names: a whole number, as the worker sends it (text) or plain."""
    if isinstance(value, int) and not isinstance(value, bool):
        key = value
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 10:
        key = int(value)
    else:
        raise UnknownSubmission(_l("No such submission."))
    if not 0 < key <= MAX_ID:
        raise UnknownSubmission(_l("No such submission."))
    return key


def _result_number(data: dict, key: str) -> float:
    """Return a finite score of a result (absent: 0); NaN, infinities, text and lists are refused."""
    value = data.get(key)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SubmissionError(_l("Invalid result."))
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise SubmissionError(_l("Invalid result.")) from None
    if not math.isfinite(number):
        raise SubmissionError(_l("Invalid result."))
    return number


def _result_text(data: dict, key: str, default: str = "") -> str:
    """Return a text field of a result; NUL characters (which PostgreSQL cannot store) are dropped."""
    value = data.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise SubmissionError(_l("Invalid result."))
    # The message and the feedback quote the trainee's notebook: a NUL there must not lose the grade.
    return str(value).replace("\x00", "")


MAX_RESULT_CELLS = 500
_CELL_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


def _result_cells(data: dict) -> list[tuple[str, str, float, float]]:
    """Return the result's per-test-cell scores (notebook, grade id, score, max), checked; refuse a malformed list."""
    cells = data.get("cells") or []
    if not isinstance(cells, list) or len(cells) > MAX_RESULT_CELLS:
        raise SubmissionError(_l("Invalid result."))
    checked, seen = [], set()
    for cell in cells:
        if not isinstance(cell, dict):
            raise SubmissionError(_l("Invalid result."))
        notebook, grade_id = cell.get("notebook"), cell.get("grade_id")
        if not all(isinstance(v, str) and _CELL_NAME.fullmatch(v) for v in (notebook, grade_id)):
            raise SubmissionError(_l("Invalid result."))
        score, top = _result_number(cell, "score"), _result_number(cell, "max_score")
        if (notebook, grade_id) in seen or top < 0:
            raise SubmissionError(_l("Invalid result."))
        seen.add((notebook, grade_id))
        checked.append((notebook, grade_id, min(max(score, 0.0), top), top))
    return checked


def record_result(data: dict) -> Submission:
    """Record a worker's result once: later copies of the same result change nothing."""
    key = _result_id(data.get("submission_id"))
    # The row lock makes two copies of one result arriving together record it once (PostgreSQL).
    submission = db.session.get(Submission, key, with_for_update=True)
    if submission is None:
        raise UnknownSubmission(_l("No such submission."))
    if submission.status in CLOSED:
        # Graded already (a redelivered job), or superseded: a superseded submission is never graded, even
        # if a job for it ran after all (its claim outlived a crashed portal process).
        return submission
    status = _result_text(data, "status", "error")
    if status not in set(SubmissionStatus) - {SubmissionStatus.QUEUED}:
        raise SubmissionError(_l("Unknown grading status."))
    assignment = submission.assignment
    # Every field is checked before anything is recorded: a malformed result changes nothing.
    auto, total, top_auto = (_result_number(data, k) for k in ("auto_score", "max_total_score", "max_auto_score"))
    top = total or top_auto
    message, html = _result_text(data, "message")[:2000], _result_text(data, "feedback_html")
    cells = _result_cells(data)
    # A report names the work it graded; one about another trainee's or assignment's files is refused.
    if _result_text(data, "student_id", str(submission.student_id)) != str(submission.student_id) or \
            _result_text(data, "assignment", assignment.nbgrader_name) != assignment.nbgrader_name:
        raise SubmissionError(_l("This result belongs to another submission."))
    if status == SubmissionStatus.GRADING:
        submission.status = status
        return submission
    trainee = db.session.get(User, submission.student_id)
    # An extension granted after the submission counts: lateness is measured against today's due date.
    due_at = due_for(trainee, assignment)
    if due_at is not None:
        submission.days_late = days_late(submission.received_at, due_at)
    # Scaled against all of nbgrader's points (tests and hand-graded answers): written answers are not
    # free marks while they wait for an instructor.
    score = scale_score(auto, top, assignment.max_points)
    final, penalty = apply_late_penalty(score, assignment, submission.days_late)
    submission.status = status
    submission.auto_score = score
    submission.late_penalty = penalty
    submission.message = message
    submission.graded_at = utcnow()
    if html:
        rel = Path(submission.stored_path) / "feedback.html"
        (var_dir() / rel).parent.mkdir(parents=True, exist_ok=True)
        (var_dir() / rel).write_text(html, encoding="utf-8")
        submission.feedback_path = str(rel)
    db.session.add_all(SubmissionCell(submission_id=submission.id, notebook=notebook, grade_id=grade_id,
                                      position=position, score=score, max_score=top)
                       for position, (notebook, grade_id, score, top) in enumerate(cells))
    db.session.flush()
    if not _newer_graded(submission):
        # Feedback an instructor wrote in the portal stays; the grader's own is in the feedback document.
        grade = get_grade(assignment, trainee)
        upsert_grade(assignment, trainee, final, grade.feedback if grade else "", None,
                     late_penalty=penalty, source="autograde")
        if status == SubmissionStatus.GRADED:
            events.graded(trainee, assignment, submission.id, final)
    return submission


def _newer_graded(submission: Submission) -> bool:
    """Return whether a later submission of the same work already set the grade."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Submission).where(
        Submission.assignment_id == submission.assignment_id, Submission.student_id == submission.student_id,
        Submission.id > submission.id, Submission.status.in_([s.value for s in FINAL]))) > 0


def my_submissions(
    trainee: User, nbgrader_course: str | None = None, nbgrader_name: str | None = None
) -> list[Submission]:
    """Return a trainee's own submissions, newest first, optionally of one nbgrader course and assignment."""
    query = my_submissions_query(trainee)
    if nbgrader_course is not None or nbgrader_name is not None:
        query = query.join(Assignment, Assignment.id == Submission.assignment_id)
    if nbgrader_course is not None:
        query = query.join(Course, Course.id == Assignment.course_id).where(Course.nbgrader_course == nbgrader_course)
    if nbgrader_name is not None:
        query = query.where(Assignment.nbgrader_name == nbgrader_name)
    return list(db.session.scalars(query.order_by(Submission.received_at.desc(), Submission.id.desc())))


def my_submissions_query(trainee: User) -> sa.Select:
    """A select of the trainee's own submissions, each with its assignment and course (shown on every row)."""
    return sa.select(Submission).where(Submission.student_id == trainee.id).options(
        joinedload(Submission.assignment).joinedload(Assignment.course))


def submitted_notebooks(submission: Submission) -> list[str]:
    """Return the notebooks of a submission (stems of its top-level .ipynb files), sorted."""
    if not submission.stored_path:
        return []
    folder = var_dir() / submission.stored_path / "files"
    return sorted(p.stem for p in folder.glob("*.ipynb") if p.is_file()) if folder.is_dir() else []


def own_submission(trainee: User, submission_id: int) -> Submission | None:
    """Return the trainee's own submission, else None: another trainee's looks like one that does not exist."""
    submission = db.session.get(Submission, submission_id)
    return submission if submission is not None and submission.student_id == trainee.id else None


def feedback_html(submission: Submission) -> str | None:
    """Return the stored feedback HTML of a submission, if any."""
    if not submission.feedback_path:
        return None
    return (var_dir() / submission.feedback_path).read_text(encoding="utf-8")
