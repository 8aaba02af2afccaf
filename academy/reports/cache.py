"""Keep the reports' computed figures and charts in each portal process under the version of their data, so a
report page costs milliseconds until what it summarises changes.

Honest by construction:
- a report's version is (token, next moment): the token (report_data_versions) is renewed, in the same
  transaction, by every commit of the portal's session that wrote to one of the report's tables (ORM flushes and
  INSERT/UPDATE/DELETE statements alike: a new grade, a submission, an offer accepted, a renamed university);
  the next moment is the next due date or extension (a lab counts as due, or missed, once it has passed) or open
  offer's deadline (an open offer past it counts as expired). Both are read from the database once per request
  (one small query), so a change made through any gunicorn worker, or the time passing a due date, shows on the
  next view in every worker;
- MAX_AGE bounds what a change made outside the portal (psql, a restored backup) could leave unseen.
What is kept is figures and charts by language and audience (the province's hidden counts apart), and a trainee's
home lists by trainee and language, never a whole page: the page around them (the user, the CSRF token, the bell)
is rendered for each request.
"""
from __future__ import annotations

import functools
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from itertools import chain
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Flask, current_app, g, has_app_context
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session

from academy.courses.models import DueDate, Extension
from academy.courses.versions import unshown_update
from academy.extensions import db
from academy.placements.models import Offer, OfferStatus
from academy.reports.models import ReportDataVersion
from academy.util import utcnow

T = TypeVar("T")

# The tables each report reads: a write to one renews the report's token.
TABLES = {
    "progress": frozenset({"universities", "cohorts", "enrollments", "courses", "course_cohorts", "assignments",
                           "due_dates", "extensions", "grades", "submissions"}),
    "outcomes": frozenset({"universities", "cohorts", "match_rounds", "companies", "demands", "round_demands",
                           "offers", "placements", "placement_follow_ups"}),
    # Not a report: a trainee's home page (due dates, latest scores, applications, the labs released to them).
    "trainee_home": frozenset({"universities", "cohorts", "enrollments", "courses", "course_cohorts", "assignments",
                               "due_dates", "extensions", "grades", "applications"}),
    # Not a report either: how many of each cohort's trainees meet the completion rule (certificates.services).
    "certificates": frozenset({"enrollments", "course_cohorts", "assignments", "grades", "attendance_rates",
                               "certificates", "completion_rules"}),
}
MAX_AGE = 600.0  # seconds: the longest anything is kept, for changes made outside the portal
_CHANGED = "reports_changed"  # Session.info key: the reports whose tables this transaction wrote to


def _reports_of(tables: object) -> set[str]:
    names = {getattr(t, "name", None) for t in tables}  # type: ignore[attr-defined]
    return {report for report, read in TABLES.items() if names & read}


def _note_flush(session: Session, context: object) -> None:  # noqa: ARG001 - SQLAlchemy's signature
    """Remember which reports the objects just flushed belong to (new, deleted, or changed for real)."""
    changed = session.info.setdefault(_CHANGED, set())
    for obj in chain(session.new, (o for o in session.dirty if session.is_modified(o))):
        changed |= _reports_of(_tables_written(obj))
    for obj in session.deleted:
        changed |= _reports_of(_tables_written(obj, deleted=True))


def _tables_written(obj: object, deleted: bool = False) -> set[Any]:
    """The tables a flush of this object writes: its own, and the association tables of its many-to-many collections
    that changed, or all of them for a deleted object (course.cohorts = [...] writes course_cohorts, while only the
    course is in the session's dirty set)."""
    state = sa.inspect(obj)
    tables = set(state.mapper.tables)
    for relationship in state.mapper.relationships:
        if relationship.secondary is not None and (deleted or state.attrs[relationship.key].history.has_changes()):
            tables.add(relationship.secondary)
    return tables


def _note_statement(state: ORMExecuteState):
    """Remember which reports an INSERT, UPDATE or DELETE statement run through the session wrote to: one that
    changed rows, and not only the bookkeeping columns no report reads (the grading queue's claim, a requeue
    that found nothing: running a scheduled job twice must change nothing)."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return None
    table = getattr(state.statement, "table", None)
    reports = _reports_of([table])
    if not reports or (state.is_update and unshown_update(table.name, state.statement)):
        return None
    result = state.invoke_statement()
    if result.rowcount:
        state.session.info.setdefault(_CHANGED, set()).update(reports)
    return result


def _renew_tokens(session: Session) -> None:
    """Before the commit, give each report whose tables the transaction wrote to a new token (in it)."""
    session.flush()  # what is still pending is written now, and noted
    changed = session.info.pop(_CHANGED, None)
    if not changed:
        return
    if has_app_context():
        g.pop("report_versions", None)  # this request's later reads see the new tokens
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for name in sorted(changed):
        token = uuid.uuid4().hex
        session.execute(insert(ReportDataVersion).values(name=name, token=token)
                        .on_conflict_do_update(index_elements=["name"], set_={"token": token}))


def _forget(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the whole transaction ended (committed or rolled back)
        session.info.pop(_CHANGED, None)


@functools.cache
def _versions_statement() -> sa.Select:
    """Every token and every next moment in one statement (one round trip), built once per process."""
    now = sa.bindparam("now")
    token = lambda name: (sa.select(ReportDataVersion.token)  # noqa: E731
                          .where(ReportDataVersion.name == name).scalar_subquery())
    return sa.select(
        *(token(name).label(name) for name in TABLES),
        sa.select(sa.func.min(DueDate.due_at)).where(DueDate.due_at > now).scalar_subquery().label("due"),
        sa.select(sa.func.min(Extension.due_at)).where(Extension.due_at > now).scalar_subquery().label("extended"),
        sa.select(sa.func.min(DueDate.released_at)).where(DueDate.released_at > now)
        .scalar_subquery().label("released"),
        sa.select(sa.func.min(Offer.deadline_at)).where(Offer.status == OfferStatus.OPEN, Offer.deadline_at >= now)
        .scalar_subquery().label("deadline"))


def versions() -> dict[str, tuple]:
    """Each report's version now: (its token, the next moments its figures change by the time alone)."""
    if "report_versions" not in g:
        # On the session's connection (its transaction), without the ORM layer: plain columns, read on many requests.
        row = db.session.connection().execute(_versions_statement(), {"now": utcnow()}).one()
        g.report_versions = {"progress": (row.progress, row.due, row.extended),
                             "outcomes": (row.outcomes, row.deadline),
                             "trainee_home": (row.trainee_home, row.due, row.extended, row.released),
                             "certificates": (row.certificates,)}
    return g.report_versions


class _Store:
    """What one process keeps: key -> (version, when made, value), and a lock per key so that concurrent first
    views compute a figure once. At most LIMIT keys per report (the least recently used go first): per-trainee
    entries must not grow with the number of people who ever looked, nor push out a report's costly figures."""

    LIMIT = 4096

    def __init__(self) -> None:
        self.entries: dict[str, OrderedDict[tuple, tuple[tuple, float, Any]]] = {}
        self.locks: dict[tuple, threading.Lock] = {}
        self.guard = threading.Lock()

    def lock(self, key: tuple) -> threading.Lock:
        with self.guard:
            return self.locks.setdefault(key, threading.Lock())

    def fresh(self, key: tuple, version: tuple) -> tuple[bool, Any]:
        kept = self.entries.get(key[0], {})
        entry = kept.get(key)
        if entry and entry[0] == version and time.monotonic() - entry[1] < MAX_AGE:
            with self.guard:
                if key in kept:
                    kept.move_to_end(key)
            return True, entry[2]
        return False, None

    def keep(self, key: tuple, version: tuple, value: Any) -> None:
        with self.guard:
            kept = self.entries.setdefault(key[0], OrderedDict())
            kept[key] = (version, time.monotonic(), value)
            kept.move_to_end(key)
            while len(kept) > self.LIMIT:
                old, _ = kept.popitem(last=False)
                self.locks.pop(old, None)

    def forget_lock(self, key: tuple) -> None:
        """A computation that failed leaves no lock behind (nothing is kept under its key)."""
        with self.guard:
            if key not in self.entries.get(key[0], {}):
                self.locks.pop(key, None)


def kept(report: str, key: tuple, compute: Callable[[], T]) -> T:
    """The value compute() gives for this report and key, computed once per version of the report's data."""
    store: _Store = current_app.extensions["report_cache"]
    version = versions()[report]
    full = (report, *key)
    ok, value = store.fresh(full, version)
    if ok:
        return value
    with store.lock(full):
        ok, value = store.fresh(full, version)
        if not ok:
            try:
                value = compute()
            except BaseException:
                store.forget_lock(full)
                raise
            store.keep(full, version, value)
    return value


def _new_request() -> None:
    g.pop("report_versions", None)  # read once per request (tests keep one g around many requests)


def init_app(app: Flask) -> None:
    """Give the app its own store and listen for the writes that renew the reports' tokens."""
    app.extensions["report_cache"] = _Store()
    app.before_request(_new_request)
    for name, listener in (("after_flush", _note_flush), ("do_orm_execute", _note_statement),
                           ("before_commit", _renew_tokens), ("after_transaction_end", _forget)):
        if not sa.event.contains(db.session, name, listener):
            sa.event.listen(db.session, name, listener)
