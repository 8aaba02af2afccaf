"""Shared fixtures: the app on SQLite (default) or PostgreSQL (ACADEMY_TEST_DATABASE=postgresql),
a test client, factories for the academy's records, and signing in as any role.

On PostgreSQL a scratch database is created for the run and dropped afterwards.
"""
from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import g
from flask_migrate import upgrade
from werkzeug.security import generate_password_hash

from academy import create_app
from academy.admissions.services import enroll
from academy.auth.models import User
from academy.companies.models import Company, Demand, DemandSkill
from academy.config import TestConfig
from academy.courses.models import Assignment, AssignmentSkill, Course
from academy.extensions import db, dispose_reads, limiter
from academy.privacy.models import PolicyConsent
from academy.privacy.services import CONSENTING_ROLES, POLICY_VERSION, REQUIRED
from academy.skills.catalogue import seed_skills
from academy.skills.models import Skill
from academy.universities.models import Cohort, University

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PASSWORD = "correct-horse-battery-staple"
_PASSWORD_HASH = generate_password_hash(PASSWORD)


def _database_url(tmp_root: Path) -> tuple[str, callable]:
    """Return the URL of a fresh database for this run and a function that drops it."""
    if os.environ.get("ACADEMY_TEST_DATABASE") == "postgresql":
        server = os.environ.get("ACADEMY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
        name = f"academy_test_{uuid.uuid4().hex[:10]}"
        engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

        def drop() -> None:
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            engine.dispose()

        return re.sub(r"/[^/]*$", f"/{name}", server), drop
    return f"sqlite:///{tmp_root / 'academy-test.sqlite'}", lambda: None


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url, drop = _database_url(tmp_path_factory.mktemp("db"))
    yield url
    drop()


@pytest.fixture(scope="session")
def _schema(database_url, tmp_path_factory):
    """Build the schema once per run through the migration history (what production runs)."""
    os.environ["ACADEMY_VAR_DIR"] = str(tmp_path_factory.mktemp("var"))

    gradebooks = tmp_path_factory.mktemp("gradebooks")

    class Cfg(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        # Releases record assignments in a course gradebook: the tests' own, never the repository's.
        GRADEBOOK_URL = f"sqlite:///{gradebooks}/{{course}}.db"

    app = create_app(Cfg)
    with app.app_context():
        upgrade()
        # Tables of packages still being built join here until their migration is written;
        # tests/test_migrations.py fails while models and migrations disagree.
        db.create_all()
    return Cfg


@pytest.fixture
def app(_schema):
    app = create_app(_schema)
    # Tests keep one app context open around many requests, so g would carry the signed-in
    # user from one client to the next; production gets a fresh g per request.
    def fresh_g() -> None:
        g.pop("_login_user", None)
        g.pop("_flask_babel", None)

    app.before_request_funcs.setdefault(None, []).insert(0, fresh_g)
    with app.app_context():
        seed_skills()
        db.session.commit()
        limiter.reset()
        yield app
        empty_database(db)
        dispose_reads(db.engine)  # and those of the reads engine (academy.extensions)
        db.engine.dispose()  # one app per test: give its connections back to the server


def empty_database(db) -> None:
    """Empty every table so each test starts from the same state (users and companies refer to
    each other, so foreign keys are set aside for the purge)."""
    db.session.remove()
    tables = db.metadata.sorted_tables
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Fail loudly instead of waiting forever if a stray session still holds a lock.
            conn.execute(sa.text("SET LOCAL lock_timeout = '60s'"))
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            conn.execute(sa.text("PRAGMA foreign_keys=OFF"))
            for table in reversed(tables):
                conn.execute(table.delete())
            conn.execute(sa.text("PRAGMA foreign_keys=ON"))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def csrf_app(_schema):
    """The app with CSRF protection on, as in production."""
    class Cfg(_schema):
        WTF_CSRF_ENABLED = True

    app = create_app(Cfg)
    yield app
    # Its rows live in the same database and the app fixture (always in use through `make`)
    # empties it; here only this app's own session and connections are let go, so they cannot
    # hold a lock the purge waits for.
    with app.app_context():
        db.session.remove()
        dispose_reads(db.engine)
        db.engine.dispose()


class Factory:
    """Make records the way the services do, with sensible defaults."""

    def __init__(self, db):
        self.db = db
        self.n = 0

    def _next(self) -> int:
        self.n += 1
        return self.n

    def university(self, code: str | None = None, **kw):
        i = self._next()
        uni = University(code=code or f"U{i}", name_ko=kw.pop("name_ko", f"대학{i}"),
                         name_en=kw.pop("name_en", f"University {i}"), city=kw.pop("city", "changwon"), **kw)
        self.db.session.add(uni)
        self.db.session.flush()
        return uni

    def cohort(self, university=None, capacity: int = 30, year: int = 2027, **kw):
        cohort = Cohort(university=university or self.university(), year=year,
                        name=kw.pop("name", f"{year}-{self._next()}"), capacity=capacity, **kw)
        self.db.session.add(cohort)
        self.db.session.flush()
        return cohort

    def user(self, role: str = "student", **kw):
        i = self._next()
        if role == "coordinator" and "university_id" not in kw:
            kw["university_id"] = self.university().id
        if role == "recruiter" and "company_id" not in kw:
            kw["company_id"] = self.company().id
        consented = kw.pop("consented", True)  # to the current privacy policy (trainees and recruiters are asked)
        user = User(email=kw.pop("email", f"{role}{i}@example.test"), name=kw.pop("name", f"{role} {i}"),
                    role=role, password_hash=_PASSWORD_HASH, **kw)
        self.db.session.add(user)
        self.db.session.flush()
        if consented and role in CONSENTING_ROLES:
            self.db.session.add(PolicyConsent(user_id=user.id, version=POLICY_VERSION, purpose=REQUIRED, given=True))
            self.db.session.flush()
        return user

    def company(self, status: str = "approved", **kw):
        i = self._next()
        company = Company(name=kw.pop("name", f"회사{i}"), sector=kw.pop("sector", "machinery"),
                          city=kw.pop("city", "changwon"), size=kw.pop("size", "small"), status=status, **kw)
        self.db.session.add(company)
        self.db.session.flush()
        return company

    def demand(self, company=None, status: str = "approved", skills: dict[str, int] | None = None, **kw):
        demand = Demand(company=company or self.company(), title=kw.pop("title", f"수요 {self._next()}"),
                        kind=kw.pop("kind", "internship"), headcount=kw.pop("headcount", 1),
                        start_date=kw.pop("start_date", (datetime.now(UTC) + timedelta(days=60)).date()),
                        duration_months=kw.pop("duration_months", 6), work_city=kw.pop("work_city", "changwon"),
                        status=status, **kw)
        with self.db.session.no_autoflush:
            for code, level in (skills or {"predictive_maintenance": 3}).items():
                skill = self.db.session.scalar(sa.select(Skill).where(Skill.code == code))
                demand.skills.append(DemandSkill(skill=skill, min_level=level))
        self.db.session.add(demand)
        self.db.session.flush()
        return demand

    def enrolled_student(self, cohort=None, **kw):
        student = self.user("student", **kw)
        enroll(student, cohort or self.cohort())
        return student

    def course(self, cohorts=(), instructors=(), **kw):
        i = self._next()
        folder = kw.pop("nbgrader_course", None)
        if folder is None:
            # One course, one folder: the first course gets the labs' folder, later ones a folder of their own.
            taken = self.db.session.scalar(sa.select(Course.id).where(Course.nbgrader_course == "manufacturing-ai"))
            folder = "manufacturing-ai" if taken is None else f"course-{i}"
        course = Course(code=kw.pop("code", f"C{i}"), title_ko=kw.pop("title_ko", f"과목{i}"),
                        title_en=kw.pop("title_en", f"Course {i}"), nbgrader_course=folder,
                        cohorts=list(cohorts), instructors=list(instructors), **kw)
        self.db.session.add(course)
        self.db.session.flush()
        return course

    def assignment(self, course=None, name: str = "lab1_predictive_maintenance", skills=None, **kw):
        assignment = Assignment(course=course or self.course(), nbgrader_name=name,
                                title_ko=kw.pop("title_ko", name), title_en=kw.pop("title_en", name), **kw)
        with self.db.session.no_autoflush:
            for code, level in (skills or {"predictive_maintenance": 3}).items():
                skill = self.db.session.scalar(sa.select(Skill).where(Skill.code == code))
                assignment.skills.append(AssignmentSkill(skill=skill, level=level))
        self.db.session.add(assignment)
        self.db.session.flush()
        return assignment


@pytest.fixture
def make(app):
    return Factory(db)


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, user, password: str = PASSWORD):
        db.session.commit()
        response = self.client.post("/login", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.data[:500]
        return response

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return Auth(client)
