"""Capacity under concurrency: ten coordinators' requests racing for three seats."""
from __future__ import annotations

import os
import threading

import pytest
import sqlalchemy as sa

from academy.admissions.models import Application, Enrollment
from academy.admissions.services import InvalidTransition, move_application
from academy.extensions import db

on_postgresql = pytest.mark.skipif(
    os.environ.get("ACADEMY_TEST_DATABASE") != "postgresql",
    reason="SQLite serialises every writer, so only PostgreSQL can show a race on the last seats",
)


def _signed_in_clients(app, user, n: int) -> list:
    clients = []
    for _ in range(n):
        client = app.test_client()
        response = client.post("/login", data={"email": user.email, "password": "correct-horse-battery-staple"})
        assert response.status_code == 302
        clients.append(client)
    db.session.commit()  # release the test's own connection before the race
    return clients


def _race(calls: list) -> list[int]:
    """Run the calls in threads released together; return their status codes."""
    start = threading.Barrier(len(calls))
    codes: list[int] = []

    def run(call) -> None:
        start.wait()
        codes.append(call().status_code)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return codes


@on_postgresql
def test_ten_admissions_racing_for_three_seats_enrol_exactly_three(app, make, application_at):
    cohort = make.cohort(capacity=5)
    make.enrolled_student(cohort)
    make.enrolled_student(cohort)
    coordinator = make.user("coordinator", university_id=cohort.university_id)
    applications = [application_at(cohort, "interview", coordinator=coordinator) for _ in range(10)]
    db.session.commit()
    clients = _signed_in_clients(app, coordinator, len(applications))

    codes = _race([
        lambda c=c, a=a.id: c.post(f"/admissions/applications/{a}/move", data={"to_status": "admitted", "reason": "race"})
        for c, a in zip(clients, applications, strict=True)
    ])

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


def test_a_stale_application_is_not_moved_twice(make, application_at):
    # What two coordinators deciding the same application at once come down to, deterministically.
    cohort = make.cohort()
    coordinator = make.user("coordinator", university_id=cohort.university_id)
    application = application_at(cohort, "interview", coordinator=coordinator)
    # Someone else rejects it; this session still holds the old status.
    db.session.execute(
        sa.update(Application).where(Application.id == application.id)
        .values(status="rejected", decided_by_id=coordinator.id, decision_reason="other")
        .execution_options(synchronize_session=False)
    )
    assert application.status == "interview"
    with pytest.raises(InvalidTransition, match="changed meanwhile"):
        move_application(application, "admitted", coordinator, "late")
    db.session.expire_all()
    assert application.status == "rejected" and cohort.enrolled_count == 0
