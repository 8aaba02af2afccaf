"""One request, one transaction: views never commit or roll back; the end of the request does, once.

- A request that changes state (POST, PUT, PATCH, DELETE) commits when it answers with a success or a
  redirect (a status below 400) and rolls back when it answers with an error.
- A GET or HEAD never commits: showing a page changes nothing. (Under TESTING a page that tried to is an
  error, so a test finds it.) On PostgreSQL such a request runs without a transaction of its own (autocommit:
  no BEGIN and no ROLLBACK, two round trips of every page), on read-only connections (extensions.reads_engine):
  a flush it tries is refused before anything is written, and PostgreSQL refuses any other write, in production
  too. The one exception is a view its protocol makes change state on a GET, marked
  with changes_on_get(why): the OAuth authorization endpoint, which issues a code.
- What a request must leave on record whatever it answers (the audit entry of a view of someone's personal
  data, of a refused sign-in, of any refusal) is kept (keep()): written after the request's own transaction
  has ended, committed or rolled back, in a short transaction of its own.
- A view answers a service's domain error with refused(): that rolls back the service's half-done work,
  unless the error says its refusal is itself a change to keep (`keeps_changes = True`: an offer found past
  its deadline is marked expired), then flashes the error and redirects.
- Work that must follow the commit (queueing the next grading job once a result is stored) is handed to
  afterwards(): it runs once the request's transaction is committed, and never if it is rolled back.
"""
from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask, Response, current_app, flash, g, has_request_context, redirect, request, url_for

from academy.extensions import db

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def keep(row: db.Model) -> None:
    """Write this row (an audit entry) at the end of the request, whether the request commits or not."""
    g.setdefault("kept_rows", []).append(row)


def changes_on_get(why: str) -> Callable:
    """Mark a view whose protocol makes a GET change state (say why); its GET commits like a POST."""
    def mark(view: Callable) -> Callable:
        view.changes_on_get = why  # type: ignore[attr-defined]
        return view
    return mark


def afterwards(work: Callable[[], object]) -> None:
    """Run this once the request's transaction is committed (not at all if it is rolled back)."""
    g.setdefault("afterwards", []).append(work)


def discard() -> None:
    """Drop what the request has changed so far (a service refused half-way); later changes still commit."""
    db.session.rollback()


def done(message: str, endpoint: str, **values) -> Response:
    """Answer a change that succeeded: say so, and go to the endpoint (the request then commits)."""
    flash(message, "success")
    return redirect(url_for(endpoint, **values))


def report(exc: Exception) -> None:
    """Take a service's domain error for the page to show again: roll back its work (unless it keeps it), say why."""
    if not getattr(exc, "keeps_changes", False):
        discard()
    flash(str(exc), "error")


def refused(exc: Exception, endpoint: str, **values) -> Response:
    """Answer a service's domain error: roll back its work (unless it keeps it), say why, go to the endpoint."""
    report(exc)
    return redirect(url_for(endpoint, **values))


def _changed() -> bool:
    session = db.session()
    return bool(g.get("flushed") or session.new or session.dirty or session.deleted)


def _note_flush(session: sa.orm.Session, context: object) -> None:  # noqa: ARG001 - SQLAlchemy's signature
    if has_request_context():
        g.flushed = True  # something was written to the database in this request, committed or not


def _reads_only() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return request.method in SAFE_METHODS and not getattr(view, "changes_on_get", None)


def finish(response: Response) -> Response:
    """Commit or roll back the request's transaction, run what follows a commit, then write the rows it keeps."""
    g.pop("reads_autocommit", None)  # the rows kept below get a transaction of their own, as on every database
    follow = g.pop("afterwards", [])
    if not _reads_only() and response.status_code < 400:
        db.session.commit()
        for work in follow:
            try:
                work()
            except Exception:  # noqa: BLE001 - the request's own change is committed; the answer stands
                db.session.rollback()
                current_app.logger.exception("work after the commit of %s %s failed", request.method, request.path)
    else:
        if _reads_only() and current_app.testing and _changed():
            db.session.rollback()
            raise RuntimeError(f"GET {request.path} changed the database; a page must not (academy.transactions)")
        db.session.rollback()
    g.pop("flushed", None)
    rows = g.pop("kept_rows", [])
    if rows:
        try:
            db.session.add_all(rows)
            db.session.commit()
        except Exception:  # noqa: BLE001 - the answer stands; a lost audit row is logged, not a 500
            db.session.rollback()
            current_app.logger.exception("could not write the rows kept by %s %s", request.method, request.path)
    return response


def _autocommit_reads() -> bool:
    """Whether this request reads only and can do so without a transaction: on PostgreSQL, with no session open yet
    (a test may hold one, with rows of its own not committed, around its requests: the request then shares it)."""
    if not _reads_only() or db.engine.dialect.name != "postgresql":
        return False
    if not db.session.registry.has():
        return True
    session = db.session()
    return not (session.in_transaction() or session.new or session.dirty or session.deleted)


def _refuse_write_on_read(session: sa.orm.Session, _context: object, _instances: object) -> None:
    """A request answered in autocommit would write at once what it flushes: refuse the flush (a page must not
    write; a page that did was rolled back before, and is an error now)."""
    if has_request_context() and g.get("reads_autocommit") and (
            session.new or session.deleted or any(session.is_modified(o) for o in session.dirty)):
        raise RuntimeError(f"{request.method} {request.path} changed the database; a page must not "
                           "(academy.transactions)")


def _begin() -> None:
    g.pop("flushed", None)  # tests keep one g around many requests
    g.reads_autocommit = _autocommit_reads()


def _end(_exc: BaseException | None) -> None:
    """A request in autocommit that finish() did not end (an exception got past the error pages, as tests let
    it): drop what its session holds, so nothing it tried to write is flushed later (tests keep the session)."""
    if g.pop("reads_autocommit", None):
        db.session.rollback()


def init_app(app: Flask) -> None:
    # Registered before every other after-request hook, so it runs last (Flask runs them in reverse):
    # the refusal hook's audit entry is kept by then.
    app.after_request(finish)
    app.before_request(_begin)
    app.teardown_request(_end)
    sa.event.listen(db.session, "after_flush", _note_flush)
    sa.event.listen(db.session, "before_flush", _refuse_write_on_read)
