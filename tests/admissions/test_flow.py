"""The admissions workflow over HTTP: apply, review, interview, decide, enrol, withdraw."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from academy.admissions.models import Application, ApplicationEvent, Enrollment
from academy.admissions.services import move_application
from academy.audit.models import AuditEntry
from academy.extensions import db

RRN = "900101-1234567"


def _audits(action: str, **where) -> list[AuditEntry]:
    query = sa.select(AuditEntry).where(AuditEntry.action == action)
    for key, value in where.items():
        query = query.where(getattr(AuditEntry, key) == value)
    return list(db.session.scalars(query))


def test_trainee_applies_and_follows_the_status(english, make, auth):
    cohort = make.cohort(capacity=5)
    closed = make.cohort(is_open=False)
    student = make.user("student")
    auth.login(student)

    page = english.get("/admissions/open").get_data(as_text=True)
    assert f"{cohort.year} {cohort.name}" in page
    assert closed.name not in page

    response = english.post(f"/admissions/open/{cohort.id}/apply", data={"motivation": "  I like data.  "})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admissions/mine")
    application = db.session.scalar(sa.select(Application).where(Application.student_id == student.id))
    assert (application.status, application.motivation, application.cohort_id) == ("submitted", "I like data.", cohort.id)
    assert [(e.from_status, e.to_status, e.by_id) for e in application.events] == [(None, "submitted", student.id)]
    assert _audits("application.submitted", subject_user_id=student.id)

    mine = english.get("/admissions/mine").get_data(as_text=True)
    assert "submitted" in mine and cohort.name in mine
    assert "Applied" in english.get("/admissions/open").get_data(as_text=True)


def test_applying_twice_and_to_a_closed_cohort_is_refused(english, make, auth):
    cohort = make.cohort()
    closed = make.cohort(is_open=False)
    student = make.user("student")
    auth.login(student)
    english.post(f"/admissions/open/{cohort.id}/apply", data={"motivation": "first"})
    again = english.post(f"/admissions/open/{cohort.id}/apply", data={"motivation": "second"})
    assert again.status_code == 400
    assert "You already applied to this cohort." in again.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Application.id))) == 1
    assert english.post(f"/admissions/open/{closed.id}/apply", data={"motivation": "x"}).status_code == 404


@pytest.mark.parametrize("field", ["motivation", "background"])
def test_application_form_refuses_rrn_and_empty_motivation(english, make, auth, field):
    cohort = make.cohort()
    auth.login(make.user("student"))
    data = {"motivation": "I like data.", "background": ""}
    data[field] = f"my number is {RRN}"
    response = english.post(f"/admissions/open/{cohort.id}/apply", data=data)
    assert response.status_code == 400
    assert "resident registration number" in response.get_data(as_text=True)
    empty = english.post(f"/admissions/open/{cohort.id}/apply", data={"motivation": "   "})
    assert empty.status_code == 400 and "This field is required." in empty.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Application.id))) == 0


def test_whole_flow_to_admission_enrols_and_takes_a_seat(english, make, auth, application_at):
    cohort = make.cohort(capacity=3)
    coordinator = make.user("coordinator", university_id=cohort.university_id)
    application = application_at(cohort)
    auth.login(coordinator)
    url = f"/admissions/applications/{application.id}"

    for step in ("under_review", "interview"):
        assert english.post(f"{url}/move", data={"to_status": step}).status_code == 302
    response = english.post(f"{url}/move", data={"to_status": "admitted", "reason": "Strong interview"})
    assert response.status_code == 302

    db.session.expire_all()
    assert application.status == "admitted"
    assert (application.decided_by_id, application.decision_reason) == (coordinator.id, "Strong interview")
    assert cohort.enrolled_count == 1
    enrollment = db.session.scalar(sa.select(Enrollment).where(Enrollment.student_id == application.student_id))
    assert (enrollment.cohort_id, enrollment.status) == (cohort.id, "active")
    steps = [(e.from_status, e.to_status, e.by_id, e.reason) for e in application.events]
    assert steps[1:] == [
        ("submitted", "under_review", coordinator.id, None),
        ("under_review", "interview", coordinator.id, None),
        ("interview", "admitted", coordinator.id, "Strong interview"),
    ]
    assert len(_audits("application.moved", subject_user_id=application.student_id)) == 3
    assert _audits("enrollment.enrolled", subject_user_id=application.student_id)

    page = english.get(url).get_data(as_text=True)
    assert "Strong interview" in page and coordinator.name in page and "1 of 3 seats taken" in page
    assert "No further step" in page  # a coordinator ends an enrolment from the roster


@pytest.mark.parametrize("decision", ["admitted", "waitlisted", "rejected"])
def test_a_decision_needs_a_reason(english, make, auth, application_at, decision):
    cohort = make.cohort()
    application = application_at(cohort, "interview")
    auth.login(make.user("coordinator", university_id=cohort.university_id))
    response = english.post(f"/admissions/applications/{application.id}/move", data={"to_status": decision, "reason": "  "})
    assert response.status_code == 400
    assert "A decision needs a reason." in response.get_data(as_text=True)
    db.session.expire_all()
    assert application.status == "interview" and application.decided_by_id is None
    assert cohort.enrolled_count == 0


def test_rejection_with_reason_is_recorded_and_shown_to_the_trainee(english, make, auth, application_at):
    cohort = make.cohort()
    application = application_at(cohort, "under_review")
    coordinator = make.user("coordinator", university_id=cohort.university_id)
    auth.login(coordinator)
    english.post(f"/admissions/applications/{application.id}/move", data={"to_status": "rejected", "reason": "Seats went to others"})
    db.session.expire_all()
    assert (application.status, application.decision_reason, application.decided_by_id) == (
        "rejected", "Seats went to others", coordinator.id)
    auth.logout()
    auth.login(application.trainee)
    english.post("/lang/en")
    page = english.get("/admissions/mine").get_data(as_text=True)
    assert "rejected" in page and "Seats went to others" in page
    assert "Withdraw my application" not in page


def test_a_step_outside_the_workflow_is_refused(english, make, auth, application_at):
    cohort = make.cohort()
    application = application_at(cohort)
    auth.login(make.user("coordinator", university_id=cohort.university_id))
    for step in ("interview", "withdrawn", "admitted"):
        response = english.post(
            f"/admissions/applications/{application.id}/move", data={"to_status": step, "reason": "because"}
        )
        assert response.status_code == 409, step
        assert "cannot go from" in response.get_data(as_text=True)
    db.session.expire_all()
    assert application.status == "submitted" and len(application.events) == 1


def test_admitting_into_a_full_cohort_is_refused_and_changes_nothing(english, make, auth, application_at):
    cohort = make.cohort(capacity=1)
    make.enrolled_student(cohort)
    application = application_at(cohort, "interview")
    auth.login(make.user("coordinator", university_id=cohort.university_id))
    response = english.post(f"/admissions/applications/{application.id}/move", data={"to_status": "admitted", "reason": "good"})
    assert response.status_code == 409
    assert "This cohort is full" in response.get_data(as_text=True)
    db.session.expire_all()
    assert application.status == "interview" and application.decided_at is None
    assert cohort.enrolled_count == 1
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id))) == 1
    assert db.session.scalar(
        sa.select(sa.func.count(ApplicationEvent.id)).where(ApplicationEvent.application_id == application.id)
    ) == 3
    # Waitlisting still works when the cohort is full.
    ok = english.post(f"/admissions/applications/{application.id}/move", data={"to_status": "waitlisted", "reason": "full"})
    assert ok.status_code == 302
    db.session.expire_all()
    assert application.status == "waitlisted"


def test_viewing_an_application_is_audited(english, make, auth, application_at):
    cohort = make.cohort()
    application = application_at(cohort)
    coordinator = make.user("coordinator", university_id=cohort.university_id)
    auth.login(coordinator)
    page = english.get(f"/admissions/applications/{application.id}")
    assert page.status_code == 200 and "I want to build AI for factories." in page.get_data(as_text=True)
    viewed = _audits("personal_data.viewed", subject_user_id=application.student_id, actor_id=coordinator.id)
    assert len(viewed) == 1 and "application" in viewed[0].detail


def test_move_reason_refuses_rrn(english, make, auth, application_at):
    cohort = make.cohort()
    application = application_at(cohort, "interview")
    auth.login(make.user("coordinator", university_id=cohort.university_id))
    response = english.post(
        f"/admissions/applications/{application.id}/move", data={"to_status": "rejected", "reason": f"id {RRN}"}
    )
    assert response.status_code == 400 and "resident registration number" in response.get_data(as_text=True)
    db.session.expire_all()
    assert application.status == "interview"


def test_roster_withdrawal_needs_a_reason_and_frees_the_seat(english, make, auth, application_at):
    cohort = make.cohort(capacity=2)
    coordinator = make.user("coordinator", university_id=cohort.university_id)
    application = application_at(cohort, "interview", coordinator=coordinator)

    move_application(application, "admitted", coordinator, "good")
    enrollment = db.session.scalar(sa.select(Enrollment).where(Enrollment.student_id == application.student_id))
    auth.login(coordinator)

    roster = english.get(f"/admissions/cohorts/{cohort.id}").get_data(as_text=True)
    assert application.trainee.email in roster and "1 of 2 seats taken" in roster

    for reason in ("", f"rrn {RRN}"):
        refused = english.post(f"/admissions/enrollments/{enrollment.id}/withdraw", data={"reason": reason})
        assert refused.status_code == 400
        db.session.expire_all()
        assert enrollment.status == "active" and cohort.enrolled_count == 1
    assert "resident registration number" in refused.get_data(as_text=True)

    response = english.post(f"/admissions/enrollments/{enrollment.id}/withdraw", data={"reason": "Took a job"})
    assert response.status_code == 302
    db.session.expire_all()
    assert (enrollment.status, enrollment.end_reason) == ("withdrawn", "Took a job")
    assert cohort.enrolled_count == 0
    assert application.status == "withdrawn" and application.events[-1].reason == "Took a job"
    assert _audits("enrollment.withdrawn", subject_user_id=application.student_id)
    active = english.get(f"/admissions/cohorts/{cohort.id}").get_data(as_text=True)
    assert application.trainee.email not in active
    assert "Took a job" in english.get(f"/admissions/cohorts/{cohort.id}?show=withdrawn").get_data(as_text=True)


def test_trainee_withdraws_own_application_only(english, make, auth, application_at):
    cohort = make.cohort()
    mine = application_at(cohort, "under_review")
    theirs = application_at(cohort)
    auth.login(mine.trainee)
    assert english.post(f"/admissions/mine/{theirs.id}/withdraw", data={}).status_code == 403
    assert english.post(f"/admissions/mine/{mine.id}/withdraw", data={"reason": "Changed my mind"}).status_code == 302
    db.session.expire_all()
    assert (mine.status, theirs.status) == ("withdrawn", "submitted")
    assert (mine.events[-1].by_id, mine.events[-1].reason) == (mine.student_id, "Changed my mind")
    again = english.post(f"/admissions/mine/{mine.id}/withdraw", data={}, follow_redirects=True)
    assert "can no longer be withdrawn" in again.get_data(as_text=True)


def test_admitted_trainee_withdrawing_frees_the_seat(english, make, auth, application_at):
    cohort = make.cohort(capacity=1)
    application = application_at(cohort, "interview")

    move_application(application, "admitted", make.user("coordinator", university_id=cohort.university_id), "ok")
    auth.login(application.trainee)
    english.post(f"/admissions/mine/{application.id}/withdraw", data={})
    db.session.expire_all()
    assert application.status == "withdrawn" and cohort.enrolled_count == 0
    enrollment = db.session.scalar(sa.select(Enrollment).where(Enrollment.student_id == application.student_id))
    assert enrollment.status == "withdrawn"


def test_pages_speak_korean_by_default(client, make, auth, application_at):
    cohort = make.cohort(capacity=1)
    make.enrolled_student(cohort)
    application = application_at(cohort, "interview")
    auth.login(make.user("coordinator", university_id=cohort.university_id))
    assert "지원 동기" in client.get(f"/admissions/applications/{application.id}").get_data(as_text=True)
    full = client.post(f"/admissions/applications/{application.id}/move", data={"to_status": "admitted", "reason": "좋음"})
    assert full.status_code == 409 and "정원이 찼습니다" in full.get_data(as_text=True)
