"""Two 'done when' points of the portal issue, checked exactly as written."""
from __future__ import annotations

import os
import threading

import pytest
import sqlalchemy as sa

from academy.admissions.models import Enrollment
from academy.admissions.services import CohortFull, enroll
from academy.auth.models import User
from academy.extensions import db
from academy.universities.models import Cohort


def test_a_csv_with_two_bad_rows_imports_nothing_and_names_both(runner, make, tmp_path):
    university = make.university(code="CWNU")
    make.cohort(university=university, year=2027, capacity=10)
    db.session.commit()
    source = tmp_path / "trainees.csv"
    source.write_text(
        "name,email,university,cohort_year\n"
        "김민준,minjun@academy.test,CWNU,2027\n"
        "이서연,not-an-email,CWNU,2027\n"
        "박도윤,doyun@academy.test,CWNU,2027\n"
        "최하은,haeun@academy.test,NOPE,2027\n",
        encoding="utf-8",
    )
    users_before = db.session.scalar(sa.select(sa.func.count(User.id)))
    result = runner.invoke(args=["academy", "import-students", str(source)])
    assert result.exit_code != 0
    assert "line 3" in result.output and "line 5" in result.output
    assert "line 2" not in result.output and "line 4" not in result.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == users_before


@pytest.mark.skipif(os.environ.get("ACADEMY_TEST_DATABASE") != "postgresql",
                    reason="SQLite runs one writer at a time, so only PostgreSQL can race for the seat")
def test_twenty_concurrent_enrolments_into_one_free_seat_leave_one_enrolled(app, make):
    cohort = make.cohort(capacity=3)
    make.enrolled_student(cohort)
    make.enrolled_student(cohort)
    students = [make.user("student") for _ in range(20)]
    db.session.commit()
    cohort_id, student_ids = cohort.id, [s.id for s in students]
    start = threading.Barrier(20)
    outcomes: list[str] = []

    def attempt(student_id: int) -> None:
        start.wait()  # released together; each then takes a pooled connection of its own
        with app.app_context():  # its own session
            student, target = db.session.get(User, student_id), db.session.get(Cohort, cohort_id)
            try:
                enroll(student, target)
                db.session.commit()
                outcomes.append("enrolled")
            except CohortFull:
                db.session.rollback()
                outcomes.append("full")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in student_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(outcomes) == ["enrolled"] + ["full"] * 19
    db.session.expire_all()
    active = db.session.scalar(
        sa.select(sa.func.count(Enrollment.id)).where(Enrollment.cohort_id == cohort_id, Enrollment.status == "active")
    )
    assert active == 3 and db.session.get(Cohort, cohort_id).enrolled_count == 3
