"""What the audit log must also hold, and what it must never hold: throttled requests, the pages that list
trainees (an assignment's submissions, a cohort's roster), and no invitation token in a logged path."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa

from academy.audit.models import AuditEntry
from academy.auth import invitations
from academy.extensions import db
from academy.submissions.models import Submission
from tests.conftest import PASSWORD


def _entries(action: str) -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _sign_in(app, user):
    client = app.test_client()
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    return client


def test_a_throttled_sign_in_is_audited(app, make):
    """The eleventh failed sign-in from one address is refused with 429 and that refusal is in the log.

    How checked: 429 removed from REFUSAL_ACTIONS -> this test fails (no access.throttled entry).
    """
    user = make.user("student")
    db.session.commit()
    client = app.test_client()
    codes = [client.post("/login", data={"email": user.email, "password": f"wrong-{i}"},
                         environ_base={"REMOTE_ADDR": "198.51.100.40"}).status_code for i in range(11)]
    assert codes[-1] == 429
    (entry,) = _entries("access.throttled")
    detail = json.loads(entry.detail)
    assert (detail["status"], detail["endpoint"], entry.ip) == (429, "auth.login", "198.51.100.40")


def test_an_invitation_token_never_reaches_the_audit_log(app, make):
    """A refused invitation link is logged with its path, but the token in it is blanked out.

    How checked: the path logged as request.path (no redaction) -> this test fails (the token was in the entry).
    """
    trainee = make.user("student")
    (invitation,) = invitations.invite([(trainee, None)])
    db.session.commit()
    old_token = invitations.token_for(invitation)
    invitations.reissue(invitation)  # the old link no longer works
    db.session.commit()
    forged = old_token[:-4] + "AAAA"
    client = app.test_client()
    assert client.get(f"/welcome/{old_token}").status_code == 404
    assert client.get(f"/welcome/{forged}").status_code == 404
    rows = _entries("access.not_found")
    assert [json.loads(r.detail)["path"] for r in rows] == ["/welcome/<redacted>"] * 2
    everything = " ".join(f"{r.detail} {r.action}" for r in _entries_all())
    assert old_token not in everything and forged not in everything and old_token[:30] not in everything


def _entries_all() -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditEntry)))


def test_an_instructor_listing_an_assignments_submissions_is_audited(app, make):
    """Opening an assignment's submissions (trainees' names and work) writes one personal_data.viewed entry
    naming the trainees listed, and each trainee finds it in their own data export.

    How checked: the record_course_view call in assignment_submissions removed -> this test fails (no entry).
    """
    cohort = make.cohort()
    me, classmate = make.enrolled_student(cohort), make.enrolled_student(cohort)
    teacher = make.user("instructor")
    course = make.course(cohorts=[cohort], instructors=[teacher])
    lab = make.assignment(course)
    for student in (me, classmate):
        db.session.add(Submission(assignment=lab, student_id=student.id, received_at=datetime.now(UTC),
                                  sha256="0" * 64, stored_path="nowhere"))
    db.session.commit()
    page = _sign_in(app, teacher).get(f"/courses/{course.id}/assignments/{lab.id}/submissions")
    assert page.status_code == 200 and me.name in page.get_data(as_text=True)
    (entry,) = [e for e in _entries("personal_data.viewed") if e.object_type == "courses"]
    detail = json.loads(entry.detail)
    assert (entry.actor_id, detail["what"], detail["student_ids"]) == (
        teacher.id, f"submissions:{lab.id}", sorted([me.id, classmate.id]))
    export = json.loads(_sign_in(app, me).get("/my/data.json").data)
    mine = [a for a in export["audit"] if a["action"] == "personal_data.viewed"]
    assert [a["detail"]["what"] for a in mine] == [f"submissions:{lab.id}"]
    assert str(classmate.id) not in json.dumps(mine[0]["detail"])


def test_a_coordinator_opening_a_roster_is_audited_and_the_trainee_sees_it(app, make):
    """Opening a cohort's roster (names, e-mail addresses, enrolment) writes one entry naming the trainees
    shown, and a trainee on it finds that view in their own data export.

    How checked: the record_roster_view call in cohort_roster removed -> this test fails (no entry); the
    cohorts clause of the export's audit query (students.services._audit_about) removed -> this test fails
    (the trainee's export showed no roster view).
    """
    university = make.university()
    cohort = make.cohort(university=university)
    me, classmate = make.enrolled_student(cohort), make.enrolled_student(cohort)
    coordinator = make.user("coordinator", university_id=university.id)
    db.session.commit()
    page = _sign_in(app, coordinator).get(f"/admissions/cohorts/{cohort.id}")
    assert page.status_code == 200 and me.email in page.get_data(as_text=True)
    (entry,) = _entries("personal_data.viewed")
    detail = json.loads(entry.detail)
    assert (entry.object_type, entry.object_id, entry.actor_id) == ("cohorts", cohort.id, coordinator.id)
    assert (detail["what"], detail["student_ids"]) == ("roster", sorted([me.id, classmate.id]))
    export = json.loads(_sign_in(app, me).get("/my/data.json").data)
    assert [a["detail"]["what"] for a in export["audit"] if a["action"] == "personal_data.viewed"] == ["roster"]
