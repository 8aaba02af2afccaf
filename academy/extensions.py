"""Flask extensions, created once and bound to the app in create_app."""
from __future__ import annotations

import threading
import weakref

import sqlalchemy as sa
from flask import g, has_request_context
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mailman import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# A naming convention keeps constraint names stable across SQLite and PostgreSQL, so the
# Alembic history stays readable and batch migrations on SQLite can find them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


_READS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> its reads engine
_READS_LOCK = threading.Lock()
READ_ONLY = "-c default_transaction_read_only=on"


def reads_engine(engine: sa.Engine) -> sa.Engine:
    """The engine for requests that only read: the same database, in autocommit, on connections of its own whose
    every statement runs read-only (PostgreSQL refuses any write there: a data-changing CTE, SELECT INTO, EXPLAIN
    ANALYZE of an UPDATE, nextval...). One per engine, made once (the session keys its connections by engine)."""
    found = _READS.get(engine)
    if found is None:
        with _READS_LOCK:
            found = _READS.get(engine)
            if found is None:
                options = " ".join(filter(None, [engine.url.query.get("options"), READ_ONLY]))
                found = sa.create_engine(engine.url.difference_update_query(["options"]), isolation_level="AUTOCOMMIT",
                                         connect_args={"options": options})
                sa.event.listen(found, "before_cursor_execute", _refuse_writes)
                _READS[engine] = found
    return found


def dispose_reads(engine: sa.Engine) -> None:
    """Close the reads engine's connections along with the engine's own (tests make an app, and engines, per test)."""
    found = _READS.pop(engine, None)
    if found is not None:
        found.dispose()


class Session(FlaskSession):
    """Flask-SQLAlchemy's session, with one addition for academy.transactions: while a request that only reads is
    answered on PostgreSQL (g.reads_autocommit), its statements go to reads_engine(): autocommit, so the request
    sends no BEGIN and no ROLLBACK (two round trips of the floor of every page), and read-only. Its statements each
    see the data committed when they start, as they did in a READ COMMITTED transaction."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        engine = super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
        if bind is None and isinstance(engine, sa.Engine) and has_request_context() and g.get("reads_autocommit"):
            return reads_engine(engine)
        return engine


def _refuse_writes(_conn, _cursor, statement: str, _parameters, context, _executemany) -> None:
    """Say clearly, before PostgreSQL refuses it, that a page tried an INSERT, UPDATE or DELETE (a bulk or Core
    statement; a flush is refused before it starts, in academy.transactions)."""
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        raise RuntimeError(f"a page must not write to the database (academy.transactions): {statement[:80]!r}")


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
mail = Mail()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def init_sqlite_pragmas(app) -> None:
    """Turn on foreign keys for every SQLite connection (SQLite leaves them off by default)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _fk_on(dbapi_connection, connection_record) -> None:  # noqa: ARG001
        if dbapi_connection.__class__.__module__.startswith("sqlite3"):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
