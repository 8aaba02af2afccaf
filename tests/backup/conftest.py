"""A whole academy of its own for each backup test: its own database (of the run's kind: a scratch PostgreSQL
database on the PostgreSQL stage, a SQLite file otherwise), its own var folder and course folder, so a restore
can replace everything without touching the suite's shared database."""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from nbgrader.api import Gradebook

from academy import create_app
from academy.config import TestConfig
from academy.extensions import db
from tests.conftest import REPO, _database_url

COURSE = "manufacturing-ai"


class Site:
    """One academy: its app, its folders, and a full picture of what it holds."""

    def __init__(self, app, var: Path, backups: Path):
        self.app, self.var, self.backups = app, var, backups
        self.runner = app.test_cli_runner()
        self.gradebook = var / "gradebooks" / COURSE / "gradebook.db"

    def cli(self, *args: str, input: str | None = None):
        return self.runner.invoke(args=["academy", *args], input=input)

    def rows(self) -> dict[str, list]:
        """Return every row of every table of the portal's database, sorted."""
        db.session.remove()
        with db.engine.connect() as conn:
            return {name: sorted(tuple(map(repr, row)) for row in conn.execute(sa.text(f'SELECT * FROM "{name}"')))
                    for name in sorted(sa.inspect(conn).get_table_names())}

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.rows().items()}

    def files(self) -> dict[str, str]:
        """Return the sha256 of every file under submissions/ and certificates/."""
        found = {}
        for tree in ("submissions", "certificates"):
            for path in sorted((self.var / tree).rglob("*")):
                if path.is_file():
                    found[path.relative_to(self.var).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
        return found

    def grades(self) -> list:
        """Return the gradebook's students (the rows nbgrader keeps), or None without a gradebook."""
        if not self.gradebook.exists():
            return None
        with sqlite3.connect(self.gradebook) as conn:
            return sorted(conn.execute("SELECT id, first_name, last_name FROM student").fetchall())

    def picture(self) -> dict:
        return {"rows": self.rows(), "files": self.files(), "grades": self.grades()}

    def put(self, rel: str, content: bytes) -> None:
        path = self.var / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    def fill_files(self) -> None:
        """Stored submissions and feedback, an issued certificate, a course gradebook with two trainees."""
        self.put("submissions/1/7/1/files/lab01.ipynb", b'{"cells": [], "nbformat": 4}')
        self.put("submissions/1/7/1/feedback.html", "<p>잘했습니다</p>".encode())
        self.put("submissions/2/8/3/files/data/sensor.csv", b"t,v\n0,1.5\n" * 100)
        self.put("certificates/2027/trainee-7.pdf", b"%PDF-1.7 certificate")
        self.gradebook.parent.mkdir(parents=True, exist_ok=True)
        with Gradebook(f"sqlite:///{self.gradebook}", course_id=COURSE) as gradebook:
            gradebook.add_student("trainee001", first_name="민준", last_name="김")
            gradebook.add_student("trainee002", first_name="서연", last_name="이")


@contextmanager
def _academy(root: Path) -> Iterator[Site]:
    url, drop = _database_url(root)
    var = root / "var"
    courses = root / "courses"
    shutil.copytree(REPO / "courses" / COURSE, courses / COURSE)

    class Cfg(TestConfig):
        SQLALCHEMY_DATABASE_URI = url
        COURSES_DIR = courses
        GRADEBOOK_URL = None  # the platform's default: <var>/gradebooks/<course>/gradebook.db

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ACADEMY_VAR_DIR", str(var))
        # nbgrader runs `alembic` when it creates a gradebook; the venv's scripts must be on PATH.
        mp.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        app = create_app(Cfg)
        try:
            with app.app_context():
                upgrade()
                yield Site(app, var, root / "backups")
                db.session.remove()
                db.engine.dispose()
        finally:
            drop()


@pytest.fixture
def site(tmp_path):
    """A fresh academy for one test."""
    with _academy(tmp_path) as one:
        yield one


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory):
    """One academy for a module of tests that each leave it as they found it."""
    with _academy(tmp_path_factory.mktemp("academy")) as one:
        yield one
