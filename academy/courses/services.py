"""Course rules: who teaches what, assignments tied to nbgrader folders, due dates, extensions, grades."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from academy.admissions.models import Enrollment, EnrollmentStatus
from academy.audit.services import record
from academy.auth.models import User
from academy.courses.models import (
    Assignment,
    AssignmentSkill,
    Course,
    DueDate,
    Extension,
    Grade,
    course_cohorts,
    course_instructors,
)
from academy.courses.versions import CourseCache
from academy.extensions import db
from academy.notifications import events
from academy.skills.models import LEVELS, Skill
from academy.skills.services import SkillRetired, refuse_retired
from academy.universities.models import Cohort
from academy.util import utcnow
from academy.validators import RRN_MESSAGE, looks_like_rrn

# Folder names nbgrader accepts as assignment ids, and nothing that could climb out of source/.
_NBGRADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
# Enrolments whose trainees belong in a course's gradebook (a withdrawn trainee drops out).
GRADEBOOK_STATUSES = (EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED)


class CourseError(ValueError):
    """A request that breaks a course rule; the message is shown to the user."""


class UnknownNbgraderAssignment(CourseError):
    pass


class NotInCourse(CourseError):
    pass


class ScoreOutOfRange(CourseError):
    pass


def _refuse_rrn(*texts: str) -> None:
    # Forms refuse it already; the service says so too, for imports, the API and the CLI.
    if any(looks_like_rrn(t) for t in texts):
        raise CourseError(RRN_MESSAGE)


# --- time: forms speak Seoul wall-clock time, the database UTC -------------------------------


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def local_to_utc(value: datetime) -> datetime:
    """Read a naive form datetime as academy (Seoul) time and return it in UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=_zone())
    return value.astimezone(ZoneInfo("UTC"))


# --- who may see what -----------------------------------------------------------------------


def get_course_outline(course_id: int, *, details: bool = True) -> Course | None:
    """Return a course with what its pages show loaded in a fixed few queries: instructors, cohorts and their
    universities, assignments with (unless details is False: the gradebook and dashboard show neither) their
    skills and due dates (not a query or three per assignment). Always read afresh, data_version included."""
    assignments = selectinload(Course.assignments)
    options = [selectinload(Course.instructors), selectinload(Course.cohorts).joinedload(Cohort.university), assignments]
    if details:
        options += [assignments.selectinload(Assignment.skills).joinedload(AssignmentSkill.skill),
                    assignments.selectinload(Assignment.due_dates)]
    return db.session.scalar(
        sa.select(Course).where(Course.id == course_id).options(*options).execution_options(populate_existing=True))


def courses_taught(user: User) -> list[Course]:
    """Return the courses the instructor teaches."""
    return list(
        db.session.scalars(
            sa.select(Course)
            .options(selectinload(Course.cohorts), selectinload(Course.assignments))
            .join(course_instructors, course_instructors.c.course_id == Course.id)
            .where(course_instructors.c.user_id == user.id)
            .order_by(Course.code)
        )
    )


def teaches(user: User, course: Course) -> bool:
    return any(i.id == user.id for i in course.instructors)


def _trainee_cohort_ids(user: User, statuses=(EnrollmentStatus.ACTIVE,)) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(Enrollment.cohort_id).where(Enrollment.student_id == user.id, Enrollment.status.in_(statuses))
        )
    )


def trainee_courses(user: User, *, archived: bool = False) -> list[Course]:
    """Return the courses offered to the trainee's active or completed cohorts (archived ones only if asked)."""
    cohort_ids = _trainee_cohort_ids(user, GRADEBOOK_STATUSES)
    query = (
        sa.select(Course)
        .join(course_cohorts, course_cohorts.c.course_id == Course.id)
        .where(course_cohorts.c.cohort_id.in_(cohort_ids))
        .distinct()
        .order_by(Course.code)
    )
    if not archived:
        query = query.where(Course.archived_at.is_(None))
    return list(db.session.scalars(query))


def takes(user: User, course: Course) -> bool:
    # An archived course's history stays open to its trainees; only their list leaves it out.
    mine = sa.select(Enrollment.cohort_id).where(Enrollment.student_id == user.id,
                                                 Enrollment.status.in_(GRADEBOOK_STATUSES))
    return db.session.execute(sa.select(course_cohorts.c.cohort_id).where(
        course_cohorts.c.course_id == course.id, course_cohorts.c.cohort_id.in_(mine)).limit(1)).first() is not None


def course_trainees(course: Course, cohort_id: int | None = None, statuses=GRADEBOOK_STATUSES) -> list[tuple[User, Cohort]]:
    """Return (trainee, cohort) for the course's cohorts, optionally one cohort, by name."""
    cohort_ids = [c.id for c in course.cohorts if cohort_id is None or c.id == cohort_id]
    rows = db.session.execute(
        sa.select(User, Cohort)
        .join(Enrollment, Enrollment.student_id == User.id)
        .join(Cohort, Cohort.id == Enrollment.cohort_id)
        .where(Enrollment.cohort_id.in_(cohort_ids), Enrollment.status.in_(statuses))
        .order_by(User.name, User.id)
    ).all()
    return [(u, c) for u, c in rows]


def roster_choices(course: Course, statuses=GRADEBOOK_STATUSES) -> list[tuple[int, str]]:
    """Return (trainee id, "name · cohort") for a form's choice of the course's trainees, by name: plain values
    in one query (a course of a year has ~150 trainees; course_trainees loads them as full rows)."""
    cohort_ids = [c.id for c in course.cohorts]
    rows = db.session.execute(
        sa.select(User.id, User.name, Cohort.name)
        .join(Enrollment, Enrollment.student_id == User.id)
        .join(Cohort, Cohort.id == Enrollment.cohort_id)
        .where(Enrollment.cohort_id.in_(cohort_ids), Enrollment.status.in_(statuses))
        .order_by(User.name, User.id)).tuples()
    return [(uid, f"{name} · {cohort}") for uid, name, cohort in rows]


def _require_trainee(course: Course, trainee: User, statuses=(EnrollmentStatus.ACTIVE,)) -> None:
    if not any(u.id == trainee.id for u, _c in course_trainees(course, statuses=statuses)):
        raise NotInCourse(_l("This trainee is not in a cohort of this course."))


# --- the nbgrader folder -----------------------------------------------------------------------
# One course, one folder: a folder's gradebook, its formgrader (opened by the course's instructors) and its
# grade sync (which writes that course's grades) belong to exactly one portal course. Two courses on one
# folder would share a gradebook, so each one's instructors would grade and see the other's trainees.

# Folder names become part of paths, of the gradebook's file name and of URLs.
_FOLDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")


class FolderTaken(CourseError):
    """Another course already uses this nbgrader folder."""


class BadFolderName(CourseError):
    pass


def link_nbgrader_folder(course: Course, folder: str) -> Course:
    """Link the course to an nbgrader course folder that no other course uses."""
    if not _FOLDER_NAME.match(folder or ""):
        raise BadFolderName(_l("An nbgrader folder name is 1-60 lowercase letters, digits, '-' or '_'."))
    with db.session.no_autoflush:  # a new course is not flushed before the check
        other = next((c for c in db.session.scalars(sa.select(Course).where(Course.nbgrader_course == folder))
                      if c is not course), None)
    if other is not None:
        raise FolderTaken(_l("The nbgrader folder %(folder)s already belongs to course %(code)s. One course, one "
                             "folder: its gradebook, formgrader and grade sync serve that course alone. Give this "
                             "course a folder of its own.", folder=folder, code=other.code))
    previous = course.nbgrader_course
    course.nbgrader_course = folder
    db.session.add(course)
    try:
        with db.session.begin_nested():  # another request may link the folder at the same moment
            db.session.flush()
    except sa.exc.IntegrityError:
        raise FolderTaken(_l("The nbgrader folder %(folder)s already belongs to another course.",
                             folder=folder)) from None
    if previous != folder:
        record("course.folder_linked", obj=course, detail={"from": previous, "to": folder})
    return course


# --- assignments ----------------------------------------------------------------------------


def nbgrader_assignments(course: Course) -> list[str]:
    """Return the assignment folders under <COURSES_DIR>/<course>/source/, sorted."""
    if not _NBGRADER_NAME.match(course.nbgrader_course or ""):
        return []
    source = current_app.config["COURSES_DIR"] / course.nbgrader_course / "source"
    if not source.is_dir():
        return []
    return sorted(p.name for p in source.iterdir() if p.is_dir() and _NBGRADER_NAME.match(p.name))


def save_assignment(
    course: Course,
    assignment: Assignment | None,
    *,
    nbgrader_name: str,
    title_ko: str,
    title_en: str,
    week: int,
    max_points: float,
    needs_gpu: bool,
    skills: dict[int, int],
) -> Assignment:
    """Create or change an assignment; it must name an nbgrader folder and catalogue skills."""
    _refuse_rrn(title_ko, title_en)
    keeping = assignment is not None and assignment.nbgrader_name == nbgrader_name
    # An existing assignment may keep a name whose folder is not there yet; a new name must exist.
    if not keeping and nbgrader_name not in nbgrader_assignments(course):
        raise UnknownNbgraderAssignment(_l("There is no nbgrader assignment of that name in this course."))
    clash = db.session.scalar(
        sa.select(Assignment.id).where(Assignment.course_id == course.id, Assignment.nbgrader_name == nbgrader_name)
    )
    if clash is not None and (assignment is None or clash != assignment.id):
        raise CourseError(_l("This course already has an assignment for that nbgrader assignment."))
    if max_points <= 0:
        raise ScoreOutOfRange(_l("Maximum points must be more than zero."))
    known = set(db.session.scalars(sa.select(Skill.id).where(Skill.id.in_(list(skills)))))
    if set(skills) - known or any(level not in LEVELS for level in skills.values()):
        raise CourseError(_l("Choose skills from the catalogue with levels 1 to 5."))
    try:
        refuse_retired(skills, [s.skill_id for s in assignment.skills] if assignment is not None else [])
    except SkillRetired as exc:
        raise CourseError(str(exc)) from None
    if assignment is not None and max_points < _highest_score(assignment):
        raise ScoreOutOfRange(_l("Some grades are above the new maximum points."))
    created = assignment is None
    if assignment is None:
        assignment = Assignment(course=course)
        db.session.add(assignment)
    assignment.nbgrader_name = nbgrader_name
    assignment.title_ko = title_ko.strip()
    assignment.title_en = title_en.strip()
    assignment.week = week
    assignment.max_points = max_points
    assignment.needs_gpu = needs_gpu
    current = {s.skill_id: s for s in assignment.skills}
    assignment.skills = [
        current[sid] if sid in current else AssignmentSkill(skill_id=sid, level=level) for sid, level in skills.items()
    ]
    for s in assignment.skills:
        s.level = skills[s.skill_id]
    db.session.flush()
    record(
        "assignment.created" if created else "assignment.updated",
        obj=assignment,
        detail={"course_id": course.id, "nbgrader_name": nbgrader_name, "max_points": max_points, "skills": skills},
    )
    return assignment


def _highest_score(assignment: Assignment) -> float:
    return db.session.scalar(sa.select(sa.func.max(Grade.score)).where(Grade.assignment_id == assignment.id)) or 0.0


# --- due dates and extensions ---------------------------------------------------------------


def set_due_date(assignment: Assignment, cohort: Cohort, due_at: datetime, released_at: datetime | None = None) -> DueDate:
    """Set or change when an assignment is due for one cohort of its course."""
    if not any(c.id == cohort.id for c in assignment.course.cohorts):
        raise CourseError(_l("That cohort does not take this course."))
    if assignment.course.archived_at is not None:
        raise CourseError(_l("This course is archived: un-archive it first."))
    if released_at is not None and released_at > due_at:
        raise CourseError(_l("An assignment cannot be released after it is due."))
    due = db.session.scalar(
        sa.select(DueDate).where(DueDate.assignment_id == assignment.id, DueDate.cohort_id == cohort.id)
    )
    before = due.due_at if due else None
    if due is None:
        due = DueDate(assignment_id=assignment.id, cohort_id=cohort.id, due_at=due_at)
        db.session.add(due)
    due.due_at = due_at
    if released_at is not None:
        due.released_at = released_at
    db.session.flush()
    record(
        "due_date.set",
        obj=due,
        detail={"assignment_id": assignment.id, "cohort_id": cohort.id, "from": before, "to": due_at},
    )
    return due


def release_now(assignment: Assignment, cohort_id: int | None) -> DueDate:
    """Release an assignment to one cohort now: nbgrader makes its trainee version, then trainees may fetch it."""
    due = db.session.scalar(
        sa.select(DueDate).where(DueDate.assignment_id == assignment.id, DueDate.cohort_id == cohort_id)
    )
    if due is None:
        raise CourseError(_l("Set this cohort's due date first, then release."))
    if assignment.course.archived_at is not None:
        raise CourseError(_l("This course is archived: un-archive it first."))
    from academy.integrations import nbgrader as releases

    try:
        releases.ensure_release(assignment, force=True)
    except releases.ReleaseError as exc:
        raise CourseError(_l("nbgrader could not generate the released version: %(error)s", error=str(exc))) from exc
    now = utcnow()
    if due.released_at is None or due.released_at > now:
        due.released_at = now
    record("assignment.released", obj=due, detail={"assignment_id": assignment.id, "cohort_id": due.cohort_id})
    events.assignment_released(due)
    return due


def grant_extension(assignment: Assignment, trainee: User, due_at: datetime, reason: str, by: User) -> Extension:
    """Give one trainee of the course a later due date for an assignment, with a reason."""
    _require_trainee(assignment.course, trainee)
    reason = reason.strip()
    _refuse_rrn(reason)
    if not reason:
        raise CourseError(_l("An extension needs a reason."))
    base = due_for(trainee, assignment, with_extension=False)
    if base is not None and due_at <= base:
        raise CourseError(_l("An extension must be later than the cohort's due date."))
    extension = db.session.scalar(
        sa.select(Extension).where(Extension.assignment_id == assignment.id, Extension.student_id == trainee.id)
    )
    before = extension.due_at if extension else None
    if extension is None:
        extension = Extension(assignment_id=assignment.id, student_id=trainee.id, due_at=due_at)
        db.session.add(extension)
    extension.due_at = due_at
    extension.reason = reason
    extension.granted_by_id = by.id
    extension.granted_at = utcnow()
    db.session.flush()
    record(
        "extension.granted",
        actor_id=by.id,
        subject_user_id=trainee.id,
        obj=extension,
        detail={"assignment_id": assignment.id, "from": before, "to": due_at, "reason": reason},
    )
    return extension


def revoke_extension(extension: Extension) -> None:
    """Take an extension back; the cohort's due date applies again."""
    record(
        "extension.revoked",
        subject_user_id=extension.student_id,
        obj=extension,
        detail={"assignment_id": extension.assignment_id, "was": extension.due_at},
    )
    db.session.delete(extension)
    db.session.flush()


def due_for(trainee: User, assignment: Assignment, *, with_extension: bool = True) -> datetime | None:
    """Return when the assignment is due for this trainee: their extension, else their cohort's date."""
    if with_extension:
        extended = db.session.scalar(
            sa.select(Extension.due_at).where(Extension.assignment_id == assignment.id, Extension.student_id == trainee.id)
        )
        if extended is not None:
            return extended
    course_cohort_ids = [c.id for c in assignment.course.cohorts]
    mine = [cid for cid in _trainee_cohort_ids(trainee, GRADEBOOK_STATUSES) if cid in course_cohort_ids]
    # A trainee in two cohorts of the course gets the later of their dates.
    return db.session.scalar(
        sa.select(sa.func.max(DueDate.due_at)).where(DueDate.assignment_id == assignment.id, DueDate.cohort_id.in_(mine))
    )


def dues_for(trainee: User, assignments: list[Assignment]) -> dict[int, datetime | None]:
    """Return due_for(trainee, a) for each assignment's id, in three queries for them all."""
    ids = [a.id for a in assignments]
    if not ids:
        return {}
    extensions = dict(db.session.execute(
        sa.select(Extension.assignment_id, Extension.due_at)
        .where(Extension.student_id == trainee.id, Extension.assignment_id.in_(ids))).tuples().all())
    # Only the cohorts that take each assignment's course count; a trainee in two gets the later date.
    mine = _trainee_cohort_ids(trainee, GRADEBOOK_STATUSES)
    dues = dict(db.session.execute(
        sa.select(DueDate.assignment_id, sa.func.max(DueDate.due_at))
        .join(Assignment, Assignment.id == DueDate.assignment_id)
        .join(course_cohorts, sa.and_(course_cohorts.c.course_id == Assignment.course_id,
                                      course_cohorts.c.cohort_id == DueDate.cohort_id))
        .where(DueDate.assignment_id.in_(ids), DueDate.cohort_id.in_(mine))
        .group_by(DueDate.assignment_id)).tuples().all())
    return {i: extensions.get(i) or dues.get(i) for i in ids}


# --- grades ---------------------------------------------------------------------------------


def upsert_grade(
    assignment: Assignment,
    trainee: User,
    score: float,
    feedback: str,
    by: User | None,
    late_penalty: float = 0.0,
    source: str = "portal",
) -> Grade:
    """Enter or change a trainee's score (after any late penalty) and feedback; by None is the grader."""
    # A trainee who completed the cohort can still be graded (late marking); a withdrawn one cannot.
    _require_trainee(assignment.course, trainee, GRADEBOOK_STATUSES)
    _refuse_rrn(feedback)
    if not 0 <= score <= assignment.max_points:
        raise ScoreOutOfRange(
            _l("The score must be between 0 and %(max)s.", max=f"{assignment.max_points:g}")
        )
    # Written so that NaN fails too: every comparison with NaN is false, so "not in range" catches it.
    if not 0 <= late_penalty <= assignment.max_points - score:
        raise ScoreOutOfRange(_l("The late penalty must be between 0 and the points lost to lateness."))
    grade = db.session.scalar(
        sa.select(Grade).where(Grade.assignment_id == assignment.id, Grade.student_id == trainee.id)
    )
    before = {"score": grade.score, "late_penalty": grade.late_penalty} if grade else None
    if grade is None:
        grade = Grade(assignment_id=assignment.id, student_id=trainee.id, score=score, max_score=assignment.max_points)
        db.session.add(grade)
    grade.score = score
    grade.max_score = assignment.max_points
    grade.late_penalty = late_penalty
    grade.feedback = feedback.strip()
    grade.source = source
    grade.graded_by_id = by.id if by else None
    grade.updated_at = utcnow()
    db.session.flush()
    record(
        "grade.saved",
        actor_id=by.id if by else None,
        subject_user_id=trainee.id,
        obj=grade,
        detail={"assignment_id": assignment.id, "before": before, "score": score, "late_penalty": late_penalty,
                "source": source},
    )
    return grade


def get_grade(assignment: Assignment, trainee: User) -> Grade | None:
    return db.session.scalar(
        sa.select(Grade).where(Grade.assignment_id == assignment.id, Grade.student_id == trainee.id)
    )


# --- gradebook ------------------------------------------------------------------------------


class Trainee(NamedTuple):
    id: int
    name: str
    email: str


class CohortName(NamedTuple):
    id: int
    name: str


class Cell(NamedTuple):
    """One grade as the gradebook shows it: the score after the late penalty, and the penalty."""

    score: float
    late_penalty: float


@dataclass
class GradebookRow:
    """A trainee's line of the gradebook, in plain values (kept between requests: academy/courses/versions.py)."""

    trainee: Trainee
    cohort: CohortName
    cells: dict[int, Cell | None] = field(default_factory=dict)
    # The trainee's points over the course's assignments (after late penalties; ungraded count 0), and the
    # points taken off for lateness: summed once, as the rows are read.
    total: float = field(init=False)
    late_penalty: float = field(init=False)

    def __post_init__(self) -> None:
        graded = [g for g in self.cells.values() if g is not None]
        self.total = round(sum(g.score for g in graded), 2)
        self.late_penalty = round(sum(g.late_penalty for g in graded), 2)


@dataclass
class Gradebook:
    course: Course
    assignments: list[Assignment]
    rows: list[GradebookRow]
    cohort_id: int | None = None  # the one cohort shown, or None for all the course's cohorts

    @property
    def student_ids(self) -> list[int]:
        return [r.trainee.id for r in self.rows]

    @cached_property
    def max_total(self) -> float:
        return round(sum(a.max_points for a in self.assignments), 2)

    @cached_property
    def assignment_ids(self) -> list[int]:
        return [a.id for a in self.assignments]

    def average(self, assignment_id: int) -> tuple[float | None, int]:
        """Return the mean score of the trainees graded on an assignment, and how many were graded."""
        scores = [r.cells[assignment_id].score for r in self.rows if r.cells.get(assignment_id) is not None]
        return (round(sum(scores) / len(scores), 2) if scores else None), len(scores)

    @property
    def average_total(self) -> float | None:
        """The mean of the trainees' totals (an ungraded assignment counts 0 for its trainee)."""
        return round(sum(r.total for r in self.rows) / len(self.rows), 2) if self.rows else None


def percent(points: float, of: float) -> float | None:
    return round(100 * points / of, 1) if of > 0 else None


# The gradebook's rows of the courses viewed last, per process, until the course's data version changes: the
# gradebook, its downloads and the dashboard all start from them.
GRADEBOOK_ROWS = CourseCache(32)


def gradebook(course: Course, cohort_id: int | None = None) -> Gradebook:
    """Return the course's grades: a row per trainee of its cohorts, a column per assignment.

    The course must be freshly loaded (get_course_outline): its data version says whether rows read earlier
    still hold.
    """
    assignments = list(course.assignments)
    rows = GRADEBOOK_ROWS.get(course, (cohort_id,), lambda: _gradebook_rows(course, assignments, cohort_id))
    return Gradebook(course, assignments, rows, cohort_id)


def _gradebook_rows(course: Course, assignments: list[Assignment], cohort_id: int | None) -> list[GradebookRow]:
    cohorts = {c.id: CohortName(c.id, c.name) for c in course.cohorts if cohort_id is None or c.id == cohort_id}
    trainees = db.session.execute(
        sa.select(User.id, User.name, User.email, Enrollment.cohort_id)
        .join(Enrollment, Enrollment.student_id == User.id)
        .where(Enrollment.cohort_id.in_(list(cohorts)), Enrollment.status.in_(GRADEBOOK_STATUSES))
        .order_by(User.name, User.id)).tuples().all()
    ids = list({t[0] for t in trainees})
    grades = {(sid, aid): Cell(score, penalty) for sid, aid, score, penalty in db.session.execute(
        sa.select(Grade.student_id, Grade.assignment_id, Grade.score, Grade.late_penalty)
        .where(Grade.assignment_id.in_([a.id for a in assignments]), Grade.student_id.in_(ids))).tuples()}
    return [GradebookRow(Trainee(uid, name, email), cohorts[cid], {a.id: grades.get((uid, a.id)) for a in assignments})
            for uid, name, email, cid in trainees]


def record_course_view(course: Course, what: str, student_ids: list[int], cohort_id: int | None = None) -> None:
    """Log one view of a course page that shows several trainees' personal data (one entry per view)."""
    record(
        "personal_data.viewed",
        obj=course,
        detail={"what": what, "course_id": course.id, "cohort_id": cohort_id, "student_ids": student_ids},
        kept=True,  # on record whatever the request answers: a refused form shows the same data
    )


def csv_safe(value: object) -> str:
    """Return a cell that a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def gradebook_csv(book: Gradebook) -> str:
    """Write the gradebook as CSV: score and late penalty per assignment, blank when ungraded."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["student_id", "name", "email", "cohort"]
    for a in book.assignments:
        header += [f"{a.nbgrader_name} score", f"{a.nbgrader_name} late_penalty"]
    writer.writerow([csv_safe(h) for h in header + ["total", "late_penalty_total", "max_total", "percent"]])
    for row in book.rows:
        writer.writerow([csv_safe(v) for v in _book_line(book, row, text=True)])
    return out.getvalue()


def _book_line(book: Gradebook, row: GradebookRow, text: bool) -> list[object]:
    """One trainee's gradebook row: who, then score and late penalty per assignment, then the totals."""
    line: list[object] = [row.trainee.id, row.trainee.name, row.trainee.email, row.cohort.name]
    for aid in book.assignment_ids:
        g = row.cells.get(aid)
        values = (g.score, g.late_penalty) if g else (None, None)
        line += [("" if v is None else f"{v:g}") if text else v for v in values]
    totals = (row.total, row.late_penalty, book.max_total, percent(row.total, book.max_total))
    line += [("" if v is None else f"{v:g}") if text else v for v in totals]
    return line


def gradebook_xlsx(book: Gradebook) -> bytes:
    """Write the gradebook as an Excel workbook: the CSV's columns, numbers as numbers, a row of averages.

    Text that a spreadsheet would run (a name starting with "=", "+", "-", "@" or a tab) is stored as text and
    escaped as in the CSV; no cell is ever a formula.
    """
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "gradebook"
    header = ["student_id", "name", "email", "cohort"]
    for a in book.assignments:
        header += [f"{a.nbgrader_name} score", f"{a.nbgrader_name} late_penalty"]
    header += ["total", "late_penalty_total", "max_total", "percent"]
    averages: list[object] = ["", "average", "", ""]
    for a in book.assignments:
        mean, graded = book.average(a.id)
        averages += [mean, f"n={graded}"]
    averages += [book.average_total, "", book.max_total, percent(book.average_total or 0, book.max_total)]
    for line in [header, *(_book_line(book, row, text=False) for row in book.rows), averages]:
        ws.append([None] * len(line))
        for cell, value in zip(ws[ws.max_row], line):
            if isinstance(value, str):  # control characters a workbook cannot hold are dropped
                cell.value = ILLEGAL_CHARACTERS_RE.sub("", csv_safe(value))
                cell.data_type = "s"  # openpyxl would read a leading "=" as a formula
            else:
                cell.value = value
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "E2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def assignment_cells_csv(course: Course, assignment: Assignment, cohort_id: int | None = None) -> tuple[str, list[int]]:
    """Write one assignment's per-test scores: a row per trainee of the course (their newest graded submission),
    a column per test cell, as the grader scored it (before scaling to the assignment's points).

    Returns the CSV text and the trainees' ids (for the audit of the view).
    """
    from academy.submissions.models import Submission, SubmissionCell

    trainees = course_trainees(course, cohort_id)
    ids = [u.id for u, _c in trainees]
    final = ("graded", "time_limit", "memory_limit", "error")
    latest: dict[int, Submission] = {}
    for sub in db.session.scalars(sa.select(Submission).where(
            Submission.assignment_id == assignment.id, Submission.student_id.in_(ids),
            Submission.status.in_(final)).order_by(Submission.id)):
        latest[sub.student_id] = sub  # the newest wins
    by_sub: dict[int, dict[tuple[str, str], SubmissionCell]] = {}
    order: dict[tuple[str, str], tuple[int, float]] = {}
    for cell in db.session.scalars(sa.select(SubmissionCell).where(
            SubmissionCell.submission_id.in_([s.id for s in latest.values()]))):
        key = (cell.notebook, cell.grade_id)
        by_sub.setdefault(cell.submission_id, {})[key] = cell
        position, top = order.get(key, (cell.position, cell.max_score))
        order[key] = (min(position, cell.position), max(top, cell.max_score))
    columns = sorted(order, key=lambda k: (order[k][0], k))
    several = len({nb for nb, _g in columns}) > 1
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["student_id", "name", "cohort", "submission_id", "graded_at"]
    header += [f"{nb + '/' if several else ''}{gid} (/{order[(nb, gid)][1]:g})" for nb, gid in columns]
    writer.writerow([csv_safe(h) for h in header + ["total", "max_total"]])
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Seoul"))
    for user, cohort in trainees:
        sub = latest.get(user.id)
        cells = by_sub.get(sub.id, {}) if sub else {}
        line: list[object] = [user.id, user.name, cohort.name, sub.id if sub else "",
                              sub.graded_at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if sub and sub.graded_at else ""]
        line += [f"{cells[k].score:g}" if k in cells else "" for k in columns]
        line += [f"{sum(c.score for c in cells.values()):g}" if cells else "",
                 f"{sum(c.max_score for c in cells.values()):g}" if cells else ""]
        writer.writerow([csv_safe(v) for v in line])
    return out.getvalue(), ids


# --- a trainee's own view -------------------------------------------------------------------


@dataclass
class MyAssignment:
    assignment: Assignment
    due_at: datetime | None
    extended: bool
    grade: Grade | None


def my_assignments(trainee: User, course: Course) -> list[MyAssignment]:
    """Return each assignment of the course with the trainee's due date, extension and grade."""
    return my_assignments_in(trainee, [course]).get(course.id, [])


def my_assignments_in(trainee: User, courses: list[Course]) -> dict[int, list[MyAssignment]]:
    """Return, per course id, each assignment (by week) with the trainee's due date, extension and grade.

    One query for all the courses, whatever their length: the due date is the later of the trainee's cohorts'
    dates for the assignment (only cohorts that take its course count; as dues_for), an extension wins.
    """
    ids = [c.id for c in courses]
    if not ids:
        return {}
    mine = sa.select(Enrollment.cohort_id).where(Enrollment.student_id == trainee.id,
                                                 Enrollment.status.in_(GRADEBOOK_STATUSES))
    due = (sa.select(DueDate.assignment_id, sa.func.max(DueDate.due_at).label("due_at"))
           .join(Assignment, Assignment.id == DueDate.assignment_id)
           .join(course_cohorts, sa.and_(course_cohorts.c.course_id == Assignment.course_id,
                                         course_cohorts.c.cohort_id == DueDate.cohort_id))
           .where(Assignment.course_id.in_(ids), DueDate.cohort_id.in_(mine))
           .group_by(DueDate.assignment_id).subquery())
    rows = db.session.execute(
        sa.select(Assignment, due.c.due_at, Extension.due_at, Grade)
        .outerjoin(due, due.c.assignment_id == Assignment.id)
        .outerjoin(Extension, sa.and_(Extension.assignment_id == Assignment.id, Extension.student_id == trainee.id))
        .outerjoin(Grade, sa.and_(Grade.assignment_id == Assignment.id, Grade.student_id == trainee.id))
        .where(Assignment.course_id.in_(ids)).order_by(Assignment.course_id, Assignment.week, Assignment.id))
    out: dict[int, list[MyAssignment]] = {}
    for assignment, cohort_due, extended_to, grade in rows:
        out.setdefault(assignment.course_id, []).append(MyAssignment(
            assignment=assignment, due_at=extended_to or cohort_due, extended=extended_to is not None, grade=grade))
    return out
