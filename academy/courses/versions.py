"""Each course's data version (courses.data_version): a number that changes with every flush that changes what
the course's gradebook and dashboard show, so their caches can be keyed by it.

The version lives in the database, in the row every course page loads anyway, so every portal process (each
gunicorn worker, each machine) sees a change on its next view, and it commits or rolls back with the change
itself. A new version is a random number, not the old one plus one: a new or restored database (or a test's)
must never repeat a version that some process still holds figures for. It is set by SQLAlchemy session events,
not by each service, so a new way of writing a grade cannot forget it. What counts:

- grades, submissions, their test cells, extensions, due dates, assignments (and their skills) of a course,
  and the course itself (its cohorts, its policy);
- enrolments (who is in a course's cohorts), a trainee's name or e-mail and a cohort's name, for every
  course of the cohorts concerned;
- a bulk INSERT, UPDATE or DELETE through the session on one of those tables (course unknown): every course,
  unless it sets only columns that no course page reads (the grading queue's bookkeeping).

Writes that bypass the session (raw SQL on a connection) are not seen: do not write these tables that way.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from academy.admissions.models import Enrollment
from academy.auth.models import User
from academy.courses.models import Assignment, AssignmentSkill, Course, DueDate, Extension, Grade, course_cohorts
from academy.universities.models import Cohort

T = TypeVar("T")
ALL = "all"  # every course: a change whose courses are not known
MAX_AGE = 600.0  # seconds: the longest a value is kept, for changes made outside the portal (psql, a restore)

# A changed column of these models changes what a course page shows; other columns (a sign-in time, a seat
# count) do not, so they bump nothing.
_SHOWN = {User: ("name", "email"), Cohort: ("name",)}
# Bulk statements that set only these columns change nothing a course page shows: the grading queue's
# bookkeeping (academy/submissions/queue.py), and a cohort's seats (admissions).
_UNSHOWN_BULK = {"submissions": {"queued_at", "job_id"}, "cohorts": {"capacity", "enrolled_count", "is_open"}}
# ... nor does the queue's superseding of waiting submissions (not final either way: a page counts them the same).
_UNSHOWN_STATUS = "superseded"


def _submission_models():
    from academy.submissions.models import Submission, SubmissionCell

    return Submission, SubmissionCell


def _changed(obj: object, columns: Iterable[str]) -> bool:
    state = sa.inspect(obj)
    return any(state.attrs[c].history.has_changes() for c in columns)


def _courses_of(session: Session, objects: list[object]) -> set[int] | str:
    """Return the ids of the courses whose pages show these new, changed or deleted rows."""
    Submission, SubmissionCell = _submission_models()
    courses: set[int] = set()
    assignments: set[int] = set()
    submissions: set[int] = set()
    cohorts: set[int] = set()
    users: set[int] = set()
    for obj in objects:
        if isinstance(obj, Course):
            courses.add(obj.id)
        elif isinstance(obj, Assignment):
            courses.add(obj.course_id)
        elif isinstance(obj, (Grade, Submission, Extension, DueDate, AssignmentSkill)):
            assignments.add(obj.assignment_id)
        elif isinstance(obj, SubmissionCell):
            submissions.add(obj.submission_id)
        elif isinstance(obj, Enrollment):
            cohorts.add(obj.cohort_id)
            cohorts.update(sa.inspect(obj).attrs.cohort_id.history.deleted or ())  # moved from another cohort
        elif isinstance(obj, Cohort) and (obj in session.deleted or _changed(obj, _SHOWN[Cohort])):
            cohorts.add(obj.id)
        elif isinstance(obj, User) and obj not in session.new and (obj in session.deleted or _changed(obj, _SHOWN[User])):
            users.add(obj.id)
    conn = session.connection()
    if submissions:
        assignments.update(conn.scalars(sa.select(Submission.assignment_id).where(Submission.id.in_(submissions))))
    if assignments:
        courses.update(conn.scalars(sa.select(Assignment.course_id).where(Assignment.id.in_(assignments))))
    if users:
        cohorts.update(conn.scalars(sa.select(Enrollment.cohort_id).where(Enrollment.student_id.in_(users))))
    if cohorts:
        courses.update(conn.scalars(sa.select(course_cohorts.c.course_id).where(course_cohorts.c.cohort_id.in_(cohorts))))
    courses.discard(None)  # type: ignore[arg-type]  # a row not flushed yet has no id: it has no cache either
    return courses


def bump(session: Session, courses: set[int] | str) -> None:
    """Give these courses (or ALL) a new data version, in the session's transaction."""
    if not courses:
        return
    table = Course.__table__
    connection = session.connection()
    # Lock the rows in one order (by id) before writing them: two transactions bumping overlapping courses in
    # different orders would otherwise deadlock on PostgreSQL (SQLite writes one transaction at a time).
    locked = sa.select(table.c.id).order_by(table.c.id).with_for_update()
    if courses != ALL:
        locked = locked.where(table.c.id.in_(sorted(courses)))
    ids = list(connection.execute(locked).scalars())
    if ids:
        connection.execute(sa.update(table).where(table.c.id.in_(ids)).values(data_version=new_version()))


def new_version() -> int:
    """A data version never seen before: random, not a counter that a new or restored database could repeat."""
    return secrets.randbits(62)


def _after_flush(session: Session, _context: object) -> None:
    watched = _watched()
    objects = [o for o in (*session.new, *session.dirty, *session.deleted) if isinstance(o, watched)]
    objects = [o for o in objects if o in session.new or o in session.deleted or session.is_modified(o)]
    if objects:
        bump(session, _courses_of(session, objects))


def _on_bulk(state: sa.orm.ORMExecuteState):
    if not (state.is_insert or state.is_update or state.is_delete):
        return None
    table = getattr(state.statement, "table", None)
    if table is None or table.name not in _watched_tables() or (state.is_update and unshown_update(table.name, state.statement)):
        return None
    result = state.invoke_statement()
    if result.rowcount:
        bump(state.session, ALL)
    return result


def unshown_update(table: str, statement: sa.Update) -> bool:
    """Whether a bulk UPDATE sets only columns no page shows (the grading queue's bookkeeping, seat counts)."""
    values = {getattr(c, "key", c): getattr(v, "value", v) for c, v in (statement._values or {}).items()}
    if not values:
        return False
    if table == "submissions" and values.get("status") == _UNSHOWN_STATUS:
        values.pop("status")
    return set(values) <= _UNSHOWN_BULK.get(table, set())


def _watched() -> tuple[type, ...]:
    Submission, SubmissionCell = _submission_models()
    return (Course, Assignment, AssignmentSkill, DueDate, Extension, Grade, Submission, SubmissionCell, Enrollment,
            Cohort, User)


def _watched_tables() -> set[str]:
    return {m.__tablename__ for m in _watched()} | {course_cohorts.name}


def install() -> None:
    """Listen to every session (the portal's, the CLI's, the grading workers')."""
    if sa.event.contains(Session, "after_flush", _after_flush):
        return
    sa.event.listen(Session, "after_flush", _after_flush)
    sa.event.listen(Session, "do_orm_execute", _on_bulk)


_NONE = object()  # no value kept (a kept value may be None)


class CourseCache:
    """Values computed from a course's data, kept per process while the course's data version stays the same
    (and still_good says so): the newest `size` keys, each a course and something more (a cohort filter)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[tuple, tuple[int, object, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[tuple, threading.Lock] = {}  # a lock per key being computed now

    def get(self, course: Course, key: tuple, compute: Callable[[], T],
            still_good: Callable[[T], bool] = lambda _value: True) -> T:
        """Return compute()'s value for this course and key, computing it only when the course has changed.

        The course must be freshly loaded (populate_existing, as services.get_course_outline does): its
        data_version is what says whether a value computed earlier still holds.
        """
        key, version = (course.id, *key), course.data_version
        found = self._fresh(key, version, still_good)
        if found is not _NONE:
            return found  # type: ignore[return-value]
        # One computation per key at a time: the threads asking meanwhile wait for its value. (A cold dashboard
        # costs a third of a second; its 8 threads per process each computed it, 8 times the CPU, before.)
        with self._lock:
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:
            found = self._fresh(key, version, still_good)
            if found is not _NONE:
                return found  # type: ignore[return-value]
            try:
                value = compute()
                with self._lock:
                    self._values[key] = (version, value, time.monotonic())
                    self._values.move_to_end(key)
                    while len(self._values) > self.size:
                        self._values.popitem(last=False)
            finally:
                with self._lock:
                    if self._computing.get(key) is computing:
                        del self._computing[key]
        return value

    def _fresh(self, key: tuple, version: int, still_good: Callable[[T], bool]) -> object:
        with self._lock:
            kept = self._values.get(key)
            if (kept is not None and kept[0] == version and time.monotonic() - kept[2] < MAX_AGE
                    and still_good(kept[1])):  # type: ignore[arg-type]
                self._values.move_to_end(key)
                return kept[1]
        return _NONE

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
