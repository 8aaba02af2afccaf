"""The report pages keep their figures and charts between views (academy/reports/cache.py); a change to the data
they summarise, or the time passing a due date or an offer's deadline, shows on the next view, on the page and in
its export alike, for the office and the province, in either language.

How checked: with cache._renew_tokens returning at once (no token renewed on a commit), the grade, submission,
offer, bulk-update and other-worker tests fail; with cache._note_statement noting nothing, the bulk-update test
fails; with the next moments left out of cache.versions (the token alone), the due-date and deadline tests fail.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from markupsafe import escape

from academy import create_app
from academy.courses.models import DueDate, Grade
from academy.extensions import db
from academy.placements.models import Offer, OfferStatus
from academy.reports import cache, services
from academy.submissions.models import Submission
from tests.placements.conftest import world  # noqa: F401 - the placement world fixture
from tests.placements.test_retention import _full_round

COLUMNS = ("trainees", "labs_due", "on_time", "on_time_rate", "mean_percent", "at_risk")


@pytest.fixture
def data(app, make, world):  # noqa: F811
    """The province test's world: two labs due a week ago; trainee 0 missed both, 1 failed one, 2 passed both;
    one offer accepted, one open (deadline in five days) and one open with an earlier deadline (in a day: the next
    moment an open offer expires stays the same when the other is answered, so only the token can tell)."""
    _full_round(world)
    db.session.add(Offer(round_id=world.round.id, demand_id=world.demands[1].id, student_id=world.students[2].id,
                         deadline_at=datetime.now(UTC) + timedelta(days=1)))
    course = make.course(cohorts=[world.cohort])
    world.labs = [make.assignment(course, name=f"lab{i}", max_points=10.0) for i in (1, 2)]
    world.due = datetime.now(UTC) - timedelta(days=7)
    for lab in world.labs:
        db.session.add(DueDate(assignment_id=lab.id, cohort_id=world.cohort.id, due_at=world.due))
    s0, s1, s2 = world.students
    for student, scores in ((s1, (3.0, 9.0)), (s2, (8.0, 7.0))):
        for lab, score in zip(world.labs, scores):
            db.session.add(Grade(assignment_id=lab.id, student_id=student.id, score=score, max_score=10.0))
    world.province = make.user("province", name="경상남도 담당자")
    db.session.commit()
    return world


def _progress(client) -> dict[str, str]:
    """The cohort's row of the progress CSV, and check the page shows the same mean score."""
    lines = client.get("/admin/reports/progress.csv").get_data(as_text=True).strip().splitlines()
    row = dict(zip(COLUMNS, lines[1].split(",")[1:]))
    page = client.get("/admin/reports/progress").get_data(as_text=True)
    assert f"<td>{escape(row['labs_due'])}</td>" in page
    assert f"<td>{escape(row['mean_percent'])}</td>" in page
    return row


def _outcomes(client) -> dict[str, str]:
    """The cohort's row of the outcome CSV by cohort (the page is checked to show the same offers answered)."""
    lines = client.get("/admin/reports/outcomes.csv?by=cohort").get_data(as_text=True).strip().splitlines()
    head = lines[0].lstrip("\ufeff").split(",")
    row = dict(zip(head, lines[1].split(",")))
    page = client.get("/admin/reports/outcomes?by=cohort").get_data(as_text=True)
    assert f"<td>{escape(row[head[5]])}</td>" in page
    return {"placed": row[head[2]], "offers": row[head[5]], "accepted": row[head[6]]}


def test_a_new_or_changed_grade_shows_on_the_next_view(client, auth, data):
    auth.login(data.admin)
    # 30, 90, 80 and 70 percent graded; trainee 0 missed both labs (at risk).
    assert _progress(client) == {"trainees": "3", "labs_due": "6", "on_time": "4", "on_time_rate": "0.6667",
                                 "mean_percent": "67.5", "at_risk": "1"}
    s0, s1, _s2 = data.students
    db.session.add(Grade(assignment_id=data.labs[0].id, student_id=s0.id, score=10.0, max_score=10.0))
    db.session.commit()
    row = _progress(client)
    assert (row["mean_percent"], row["on_time"], row["at_risk"]) == ("74.0", "5", "0")
    grade = db.session.scalar(sa.select(Grade).where(Grade.assignment_id == data.labs[0].id,
                                                     Grade.student_id == s1.id))
    grade.score = 10.0  # an UPDATE of a row that was there: count and max(id) would not see it
    db.session.commit()
    assert _progress(client)["mean_percent"] == "88.0"


def test_a_submission_shows_on_the_next_view(client, auth, data):
    auth.login(data.admin)
    assert _progress(client)["on_time"] == "4"
    s0 = data.students[0]
    db.session.add(Submission(assignment_id=data.labs[1].id, student_id=s0.id,
                              received_at=data.due - timedelta(hours=1), sha256="0" * 64, stored_path="x"))
    db.session.commit()
    assert _progress(client)["on_time"] == "5"


def test_an_offer_accepted_shows_on_the_next_view(client, auth, data):
    auth.login(data.admin)
    assert _outcomes(client) == {"placed": "1", "offers": "1", "accepted": "1"}
    auth.logout()
    s1 = data.students[1]
    offer = db.session.scalar(sa.select(Offer).where(Offer.student_id == s1.id))
    auth.login(s1)
    assert client.post(f"/my/offers/{offer.id}/accept").status_code == 302  # through the trainee's page
    auth.logout()
    auth.login(data.admin)
    assert _outcomes(client) == {"placed": "2", "offers": "2", "accepted": "2"}


def test_a_bulk_update_statement_shows_on_the_next_view(client, auth, data):
    """An UPDATE statement (no object loaded) renews the token too: the open offer declined by one."""
    auth.login(data.admin)
    assert _outcomes(client)["offers"] == "1"
    db.session.execute(sa.update(Offer).where(Offer.student_id == data.students[1].id)
                       .values(status=OfferStatus.DECLINED))
    db.session.commit()
    assert _outcomes(client) == {"placed": "1", "offers": "2", "accepted": "1"}


def test_a_change_made_through_another_worker_shows(client, auth, data, _schema):
    """Another portal process (its own app, its own kept figures) grades a lab: this one sees it, through the
    token in the database, not through anything in its own memory."""
    auth.login(data.admin)
    assert _progress(client)["mean_percent"] == "67.5"
    other = create_app(_schema)
    with other.app_context():
        db.session.add(Grade(assignment_id=data.labs[0].id, student_id=data.students[0].id, score=10.0,
                             max_score=10.0))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    assert _progress(client)["mean_percent"] == "74.0"


def _later(monkeypatch, delta: timedelta) -> None:
    """Move the reports' clock (and the offers' expiry rule's) on by delta."""
    now = datetime.now(UTC) + delta
    for module in ("academy.reports.cache", "academy.reports.services", "academy.placements.models"):
        monkeypatch.setattr(f"{module}.utcnow", lambda: now)


def test_a_due_date_passing_shows_on_the_next_view(client, auth, data, make, monkeypatch):
    """A third lab due in an hour: nothing changes in the database when it passes, and yet it is due then."""
    course = make.course(cohorts=[data.cohort])
    lab = make.assignment(course, name="lab3", max_points=10.0)
    soon = datetime.now(UTC) + timedelta(hours=1)
    db.session.add(DueDate(assignment_id=lab.id, cohort_id=data.cohort.id, due_at=soon))
    db.session.commit()
    auth.login(data.admin)
    assert _progress(client)["labs_due"] == "6"
    _later(monkeypatch, timedelta(hours=2))
    row = _progress(client)
    assert (row["labs_due"], row["at_risk"]) == ("9", "2")  # trainee 1 now missed lab3 and failed lab1


def test_an_offer_deadline_passing_shows_on_the_next_view(client, auth, data, monkeypatch):
    """The open offers count as expired (answered, not accepted) once their deadlines have passed."""
    auth.login(data.admin)
    assert _outcomes(client)["offers"] == "1"
    _later(monkeypatch, timedelta(days=6))
    assert _outcomes(client) == {"placed": "1", "offers": "3", "accepted": "1"}


def test_office_province_and_languages_are_kept_apart(client, auth, data):
    """The office's figures, viewed first, never reach the province (nor Korean charts an English page)."""
    auth.login(data.admin)
    assert _progress(client)["at_risk"] == "1"
    assert "Average score" in client.get("/admin/reports/progress", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    assert "Average score" not in client.get("/admin/reports/progress").get_data(as_text=True)
    assert "Placed" in client.get("/admin/reports/outcomes", headers={"Accept-Language": "en"}).get_data(as_text=True)
    auth.logout()
    auth.login(data.province)
    assert _progress(client)["at_risk"] == "<3"
    assert _outcomes(client)["placed"] == "<3"
    page = client.get("/admin/reports/progress").get_data(as_text=True)
    assert 'data-test="at-risk-link"' not in page


def test_views_without_changes_are_served_from_what_is_kept(client, auth, data, monkeypatch):
    """The point of it all: a second view computes nothing (no rows loaded), only reads the versions."""
    auth.login(data.admin)
    _progress(client), _outcomes(client)
    monkeypatch.setattr(services, "load_progress_rows", lambda *a: pytest.fail("progress recomputed"))
    monkeypatch.setattr(services, "load_rows", lambda *a: pytest.fail("outcomes recomputed"))
    _progress(client), _outcomes(client)
    assert set(cache.versions()) == {"progress", "outcomes", "trainee_home", "certificates"}
