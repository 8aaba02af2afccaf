"""Copy a database out to one file and back: pg_dump/pg_restore for PostgreSQL, SQLite's backup API otherwise.

A live SQLite file is never copied as a file (a copy taken during a write is torn); the backup API copies a
consistent snapshot. A PostgreSQL dump and the row counts beside it come from one exported snapshot, so the
counts describe exactly the rows in the dump.
"""
from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

from academy.backup.errors import BackupError
from academy.env import environment

KINDS = {"sqlite": ".sqlite", "postgresql": ".dump"}  # the database kinds a backup holds, and their file suffix
_TOOL_TIMEOUT_S = 6 * 3600  # a dump or restore of a very large database still ends, with an error


def kind(url: str) -> str:
    """Return the database kind of a SQLAlchemy URL (sqlite or postgresql), refusing any other."""
    name = make_url(url).get_backend_name()
    if name not in KINDS:
        raise BackupError(f"databases of kind {name!r} cannot be backed up (only SQLite and PostgreSQL)")
    return name


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"the SQLite database {url!r} is not a file: nothing to back up or restore into")
    return Path(database)


def sqlite_file_exists(url: str) -> bool:
    """Return whether a SQLite URL names an existing database file."""
    return _sqlite_path(url).is_file()


def _counts_and_revision(conn: Connection) -> tuple[dict[str, int], str | None]:
    counts = {name: conn.scalar(sa.select(sa.func.count()).select_from(sa.table(name)))
              for name in sorted(sa.inspect(conn).get_table_names())}
    revision = MigrationContext.configure(conn).get_current_revision() if "alembic_version" in counts else None
    return counts, revision


def count_rows(url: str) -> dict[str, int]:
    """Return the number of rows of every table of the database."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return _counts_and_revision(conn)[0]
    finally:
        engine.dispose()


# PostgreSQL's tools: the client of the server's major version (Debian installs each under its own folder).

def _server_major(conn: Connection) -> int:
    return int(conn.scalar(sa.text("SHOW server_version_num"))) // 10000


def _tool_major(path: str) -> int | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except OSError:
        return None
    found = re.search(r"\)\s*(\d+)", out) or re.search(r"(\d+)\.\d+", out)
    return int(found.group(1)) if found else None


def pg_tool(name: str, server_major: int) -> str:
    """Return the path of pg_dump or pg_restore of the server's major version, or say how to install it."""
    candidates = [f"/usr/lib/postgresql/{server_major}/bin/{name}", shutil.which(name)]
    seen = []
    for path in dict.fromkeys(c for c in candidates if c and Path(c).is_file()):
        major = _tool_major(path)
        if major == server_major:
            return path
        seen.append(f"{path} is version {major}")
    raise BackupError(
        f"{name} of PostgreSQL {server_major} (the server's version) is not installed"
        + (f" ({'; '.join(seen)})" if seen else "")
        + f": install Debian's postgresql-client-{server_major} (apt-get install postgresql-client-{server_major})")


def check_pg_tool(url: str, name: str) -> str:
    """Connect to the PostgreSQL server of url and return its matching tool (BackupError if none)."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return pg_tool(name, _server_major(conn))
    except sa.exc.OperationalError as exc:
        raise BackupError(f"cannot connect to the PostgreSQL database: {exc.orig}") from None
    finally:
        engine.dispose()


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """Return the libpq connection URI (without the password) and the environment that carries the password."""
    parsed = make_url(url)
    env = environment()
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=_TOOL_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} exited {proc.returncode}: {(proc.stderr or proc.stdout)[-2000:]}")


@contextmanager
def _snapshot(url: str) -> Iterator[tuple[Connection, str, int]]:
    """Hold one repeatable-read transaction on the database and yield it with its exported snapshot's id."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.scalar(sa.text("SELECT pg_export_snapshot()"))
                yield conn, snapshot, _server_major(conn)
    finally:
        engine.dispose()


def dump(url: str, target: Path) -> tuple[dict[str, int], str | None]:
    """Write a consistent copy of the database to target; return its row counts and its alembic revision."""
    if kind(url) == "sqlite":
        source = sqlite3.connect(_sqlite_path(url))
        copy = sqlite3.connect(target)
        try:
            with copy:
                source.backup(copy)
        finally:
            source.close()
            copy.close()
        return _describe_sqlite(target)
    with _snapshot(url) as (conn, snapshot, major):
        conninfo, env = _libpq(url)
        _run([pg_tool("pg_dump", major), "--format=custom", "--no-owner", "--no-privileges",
              f"--snapshot={snapshot}", "--file", str(target), "--dbname", conninfo], env)
        return _counts_and_revision(conn)


def _describe_sqlite(path: Path) -> tuple[dict[str, int], str | None]:
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return _counts_and_revision(conn)
    finally:
        engine.dispose()


def load(url: str, source: Path) -> None:
    """Replace the database's contents with the copy in source (one transaction: all of it or nothing)."""
    if kind(url) == "sqlite":
        path = _sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        copy = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        target = sqlite3.connect(path)
        try:
            copy.backup(target)
        finally:
            copy.close()
            target.close()
        return
    conninfo, env = _libpq(url)
    _run([check_pg_tool(url, "pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
          "--single-transaction", "--exit-on-error", "--dbname", conninfo, str(source)], env)
