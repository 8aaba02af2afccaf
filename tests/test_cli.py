"""The portal's commands: create-admin and a deterministic seed-demo."""
from __future__ import annotations

import sqlalchemy as sa

from academy.admissions.models import Enrollment
from academy.auth.models import User
from academy.companies.models import Company, Demand
from academy.extensions import db
from academy.universities.models import Cohort
from tests.conftest import empty_database


def test_create_admin(runner):
    result = runner.invoke(args=["academy", "create-admin", "--email", "Office@Academy.test", "--name", "사무국",
                                 "--password", "blue-harbour-crane-27"])
    assert result.exit_code == 0, result.output

    user = db.session.scalar(sa.select(User).where(User.email == "office@academy.test"))
    assert user.role == "admin"


def test_create_admin_refuses_a_common_password(runner):
    result = runner.invoke(args=["academy", "create-admin", "--email", "a@academy.test", "--name", "x",
                                 "--password", "password123"])
    assert result.exit_code != 0
    assert "common" in result.output or "흔한" in result.output


def _snapshot() -> dict:
    return {
        "users": [(u.email, u.name, u.role) for u in db.session.scalars(sa.select(User).order_by(User.email))],
        "companies": [(c.name, c.sector, c.city, c.status) for c in db.session.scalars(sa.select(Company).order_by(Company.name))],
        "demands": db.session.scalar(sa.select(sa.func.count(Demand.id))),
        "enrolled": db.session.scalar(sa.select(sa.func.count(Enrollment.id)).where(Enrollment.status == "active")),
        "cohorts": [(c.university.code, c.year, c.capacity, c.enrolled_count) for c in db.session.scalars(sa.select(Cohort).order_by(Cohort.id))],
    }


def _empty() -> None:
    empty_database(db)


def test_seed_demo_is_deterministic_and_complete(runner):
    _empty()
    result = runner.invoke(args=["academy", "seed-demo"])
    assert result.exit_code == 0, result.output
    for role in ("admin", "coordinator", "instructor", "student", "recruiter"):
        assert role in result.output
    first = _snapshot()
    assert first["enrolled"] == 150
    assert len({u for u, *_ in first["cohorts"]}) == 4
    assert sum(1 for _e, _n, r in first["users"] if r == "instructor") == 12
    assert len(first["companies"]) == 40 and first["demands"] == 60
    assert len({c[1] for c in first["companies"]}) == 8  # every sector
    _empty()
    assert runner.invoke(args=["academy", "seed-demo"]).exit_code == 0
    assert _snapshot() == first
    # A second run on a filled database refuses instead of duplicating.
    again = runner.invoke(args=["academy", "seed-demo"])
    assert again.exit_code != 0 and "already" in again.output


def test_import_students_can_save_invitation_links_that_set_a_password(runner, make, tmp_path, client):
    university = make.university(code="INJE")
    make.cohort(university=university, year=2027, capacity=5)
    db.session.commit()
    source = tmp_path / "trainees.csv"
    source.write_text("name,email,university,cohort_year\n김하늘,sky@academy.test,INJE,2027\n", encoding="utf-8")
    out = tmp_path / "links.csv"
    result = runner.invoke(args=["academy", "import-trainees", str(source), "--links-out", str(out)])
    assert result.exit_code == 0, result.output
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    email, _name, link, _expires = out.read_text().splitlines()[1].split(",")
    assert email == "sky@academy.test"
    assert client.get(link.split("127.0.0.1:5000", 1)[1]).status_code == 302
    assert client.post("/welcome", data={"new": "blue-harbour-crane-27", "repeat": "blue-harbour-crane-27"}).status_code == 302
    assert client.post("/login", data={"email": email, "password": "blue-harbour-crane-27"}).status_code == 302
