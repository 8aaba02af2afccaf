"""Ten years of data (issue 13): `flask academy seed-scale` fills a database in bulk, and pages cost the same
number of queries however much data there is (no query per row), with the long lists a page at a time."""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from academy.admissions.models import Enrollment
from academy.audit import views as audit_views
from academy.audit.models import AuditEntry
from academy.auth.models import User
from academy.companies.models import Company, Demand
from academy.courses.models import Assignment, DueDate, Grade
from academy.extensions import db, reads_engine
from academy.placements.models import Consent, FollowUp, MatchRound, Placement
from academy.students.privacy import EXPORT_SECTIONS
from academy.submissions.models import Submission
from academy.universities.models import Cohort
from tests.conftest import PASSWORD, empty_database

SCALE_PASSWORD = "academy-scale-2027"


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _fill(runner, *args: str):
    empty_database(db)
    result = runner.invoke(args=["academy", "seed-scale", "--years", "1", *args])
    assert result.exit_code == 0, result.output
    return result


def _fingerprint() -> tuple:
    return (db.session.scalar(sa.select(sa.func.sum(Submission.auto_score))),
            db.session.scalar(sa.select(sa.func.sum(Grade.score))),
            tuple(db.session.scalars(sa.select(User.name).order_by(User.id).limit(50))),
            db.session.scalar(sa.select(sa.func.count()).select_from(Consent)))


def test_one_year_has_a_tenth_of_the_ten_year_counts_and_is_deterministic(runner):
    result = _fill(runner)
    for table in ("submissions", "audit_entries", "demands", "companies"):
        assert re.search(rf"{table}\s+\d+ rows", result.output), f"no progress line for {table}"
    assert _count(Cohort) == 4
    assert db.session.scalar(sa.select(sa.func.count()).where(User.role == "student")) == 150 + 12  # + applicants
    assert db.session.scalar(sa.select(sa.func.count()).where(Enrollment.status == "active")) == 150
    assert _count(Assignment) == 12 and db.session.scalar(sa.select(sa.func.count(sa.distinct(Assignment.course_id)))) == 2
    assert _count(Submission) == 10_000
    assert _count(Company) == 50 and _count(Demand) == 200
    assert _count(MatchRound) == 1
    assert _count(AuditEntry) == 20_000
    # Plausible: scores spread, some late work, every grade within its points.
    percents = [s / m for s, m in db.session.execute(sa.select(Grade.score, Grade.max_score))]
    assert 0.5 < sum(percents) / len(percents) < 0.95 and min(percents) < 0.5 < max(percents)
    assert db.session.scalar(sa.select(sa.func.count()).where(Submission.days_late > 0)) > 0
    first = _fingerprint()
    _fill(runner)
    assert _fingerprint() == first
    _fill(runner, "--seed", "7")
    assert _fingerprint() != first


def test_two_years_have_a_finished_round_with_placements_and_follow_ups(runner):
    _fill(runner)  # clears; then two years
    empty_database(db)
    result = runner.invoke(args=["academy", "seed-scale", "--years", "2"])
    assert result.exit_code == 0, result.output
    assert _count(Submission) == 20_000 and _count(MatchRound) == 2
    assert _count(Placement) > 0 and _count(FollowUp) > 0
    years = db.session.scalars(sa.select(Cohort.year).distinct().order_by(Cohort.year)).all()
    assert years == [2020, 2021]


def test_refuses_a_database_that_has_data_unless_forced(runner, make):
    make.user("admin", email="keep@academy.test")
    db.session.commit()
    result = runner.invoke(args=["academy", "seed-scale", "--years", "1"])
    assert result.exit_code != 0 and "--force" in result.output
    assert _count(Submission) == 0 and db.session.scalar(sa.select(User.email)) == "keep@academy.test"
    result = runner.invoke(args=["academy", "seed-scale", "--years", "1", "--force"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(sa.select(User.id).where(User.email == "keep@academy.test")) is None
    assert _count(Submission) == 10_000


def test_new_rows_get_fresh_ids_after_the_bulk_fill(runner, make):
    """The fill chooses ids itself; on PostgreSQL the id sequences must then be moved past them, or the next
    account, submission or audit entry collides (checked: fails on PostgreSQL without _move_sequences_past_ids)."""
    _fill(runner)
    user = make.user("student")
    db.session.add(AuditEntry(action="test.after_fill"))
    db.session.commit()
    assert user.id > 150


def _sign_in(client, email: str) -> None:
    response = client.post("/login", data={"email": email, "password": SCALE_PASSWORD})
    assert response.status_code == 302, response.data[:300]


def test_every_role_sees_its_pages_on_the_filled_database(runner, app):
    result = _fill(runner)
    logins = dict(re.findall(r"^\s+(admin|coordinator|instructor|student|recruiter)\s+(\S+@scale\.test)$",
                             result.output, re.M))
    assert len(logins) == 5
    course = db.session.scalar(sa.select(Assignment.course_id).order_by(Assignment.id))
    lab = db.session.scalar(sa.select(Assignment.id).where(Assignment.course_id == course))
    pages = {
        "student": ["/home/student", "/my/courses", f"/my/courses/{course}", "/my/submissions", "/my/demands",
                    "/my/competencies", "/my/data", "/my/placement"],
        "instructor": ["/home/instructor", "/courses/mine", f"/courses/{course}", f"/courses/{course}/gradebook",
                       f"/courses/{course}/dashboard", f"/courses/{course}/assignments/{lab}/submissions"],
        "coordinator": ["/home/coordinator", "/admissions/applications", "/admissions/cohorts"],
        "admin": ["/home/admin", "/admin/audit", "/admin/placements", "/admin/users", "/admin/demands",
                  "/admin/reports/outcomes"],
        "recruiter": ["/home/recruiter", "/company/demands", "/company/placements"],
    }
    for role, paths in pages.items():
        client = app.test_client()
        _sign_in(client, logins[role])
        for path in paths:
            assert client.get(path).status_code == 200, (role, path)


# --- no query per row -------------------------------------------------------------------------------------------


@contextmanager
def counting():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    # On PostgreSQL a page's statements go to the reads engine (academy.extensions.reads_engine): count both.
    engines = [db.engine, *([reads_engine(db.engine)] if db.engine.dialect.name == "postgresql" else [])]
    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", count)


def _queries(client, path: str) -> int:
    client.get(path)  # first view: caches warm
    with counting() as statements:
        assert client.get(path).status_code == 200, path
    assert statements, f"no statement of {path} was counted"  # a count that sees nothing compares nothing
    return len(statements)


def test_the_trainee_demand_list_costs_the_same_queries_for_3_or_30_demands(client, auth, make):
    """Checked: with shown_demands_query's eager loads removed, 30 demands cost 27 more queries than 3."""
    trainee = make.enrolled_student()
    for i in range(3):
        make.demand(make.company(), title=f"수요 {i}")
    db.session.commit()
    auth.login(trainee)
    few = _queries(client, "/my/demands")
    for i in range(27):
        make.demand(make.company(), title=f"추가 수요 {i}", skills={"predictive_maintenance": 3, "data_preparation": 2})
    db.session.commit()
    assert _queries(client, "/my/demands") == few


def test_the_trainee_demand_list_is_paged(client, auth, make, app):
    trainee = make.enrolled_student()
    company = make.company()
    for i in range(app.config["PAGE_SIZE"] + 3):
        make.demand(company, title=f"수요-{i:03d}")
    db.session.commit()
    auth.login(trainee)
    first = client.get("/my/demands").get_data(as_text=True)
    second = client.get("/my/demands?page=2").get_data(as_text=True)
    shown = lambda page: set(re.findall(r"수요-\d{3}", page))  # noqa: E731
    assert len(shown(first)) == app.config["PAGE_SIZE"] and len(shown(second)) == 3
    assert not shown(first) & shown(second)


def test_the_office_placements_page_costs_the_same_queries_for_3_or_30_demands(client, auth, make):
    """Checked: without matchable_demands_query's joinedload, each demand's company was one more query."""
    admin = make.user("admin")
    for i in range(3):
        make.demand(make.company(), title=f"수요 {i}")
    db.session.commit()
    auth.login(admin)
    few = _queries(client, "/admin/placements")
    for i in range(27):
        make.demand(make.company(), title=f"추가 {i}", status="closed")
    db.session.commit()
    assert _queries(client, "/admin/placements") == few


def _course_with_labs(make, n: int, cohort, instructor):
    course = make.course(cohorts=[cohort], instructors=[instructor])
    due = datetime.now(UTC) + timedelta(days=7)
    for i in range(n):
        lab = make.assignment(course, name=f"lab{i}", week=i + 1)
        db.session.add(DueDate(assignment_id=lab.id, cohort_id=cohort.id, due_at=due + timedelta(days=i)))
    db.session.commit()
    return course


def test_course_pages_cost_the_same_queries_for_2_or_8_labs(app, make):
    """Checked: with my_assignments asking due_for and get_grade per lab, and _taught_course loading lazily,
    every lab added queries."""
    cohort = make.cohort()
    trainee = make.enrolled_student(cohort)
    instructor = make.user("instructor")
    small = _course_with_labs(make, 2, cohort, instructor)
    big = _course_with_labs(make, 8, cohort, instructor)
    for user, pages in ((trainee, ["/my/courses/{id}"]), (instructor, ["/courses/{id}"])):
        client = app.test_client()
        client.post("/login", data={"email": user.email, "password": PASSWORD})
        for page in pages:
            assert _queries(client, page.format(id=small.id)) == _queries(client, page.format(id=big.id)), page


def test_the_audit_log_counts_only_up_to_its_limit(client, auth, make, monkeypatch):
    """Checked: without count_limit the pager says all 8 and offers page 4 of 4."""
    monkeypatch.setattr(audit_views, "AUDIT_COUNT_LIMIT", 5)
    admin = make.user("admin")
    for i in range(8):
        db.session.add(AuditEntry(action=f"test.entry{i}"))
    db.session.commit()
    auth.login(admin)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "5" in re.search(r'<nav class="pager".*?</nav>', page, re.S).group(0)
    assert not re.search(r"\b8\b", re.search(r'<nav class="pager".*?</nav>', page, re.S).group(0))


def test_my_data_page_names_exactly_the_sections_of_the_export(client, auth, make):
    """The page lists the sections without gathering the data; the download must still hold just those."""
    trainee = make.enrolled_student()
    db.session.commit()
    auth.login(trainee)
    page = client.get("/my/data").get_data(as_text=True)
    listed = re.findall(r"<code>(\w+)\.csv</code>", page)
    export = json.loads(client.get("/my/data.json").data)
    assert listed == list(EXPORT_SECTIONS) == [k for k in export if k != "exported_at"]


def test_the_bare_endpoint_answers_without_a_session(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.data == b"ok\n"
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("years", ["0", "200"])
def test_refuses_years_out_of_range(runner, years):
    result = runner.invoke(args=["academy", "seed-scale", "--years", years])
    assert result.exit_code != 0
