"""Capacity under concurrency: ten coordinators' requests racing for three seats."""
from __future__ import annotations

import os
import threading

import pytest
import sqlalchemy as sa

from academy.admissions.models import Application, Enrollment
from academy.extensions import db

pytestmark = pytest.mark.skipif(
    os.environ.get("ACADEMY_TEST_DATABASE") != "postgresql",
    reason="SQLite serialises every writer, so only PostgreSQL can show a race on the last seats",
)


def test_ten_admissions_racing_for_three_seats_enrol_exactly_three(app, make, application_at):
    cohort = make.cohort(capacity=5)
    make.enrolled_student(cohort)
    make.enrolled_student(cohort)
    coordinator = make.user("coordinator", university_id=cohort.university_id)
    applications = [application_at(cohort, "interview", coordinator=coordinator) for _ in range(10)]
    db.session.commit()

    clients = []
    for _ in applications:
        client = app.test_client()
        response = client.post("/login", data={"email": coordinator.email, "password": "correct-horse-battery-staple"})
        assert response.status_code == 302
        clients.append(client)
    db.session.commit()  # release the test's own connection before the race

    start = threading.Barrier(len(clients))
    codes: list[int] = []

    def admit(client, application_id: int) -> None:
        start.wait()
        response = client.post(
            f"/admissions/applications/{application_id}/move", data={"to_status": "admitted", "reason": "race"}
        )
        codes.append(response.status_code)

    threads = [threading.Thread(target=admit, args=(c, a.id)) for c, a in zip(clients, applications, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(codes) == [302] * 3 + [409] * 7
    db.session.expire_all()
    assert cohort.enrolled_count == cohort.capacity == 5
    ids = [a.id for a in applications]
    admitted = db.session.scalar(
        sa.select(sa.func.count(Application.id)).where(Application.id.in_(ids), Application.status == "admitted")
    )
    enrolled = db.session.scalar(
        sa.select(sa.func.count(Enrollment.id)).where(Enrollment.cohort_id == cohort.id, Enrollment.status == "active")
    )
    assert (admitted, enrolled) == (3, 5)
