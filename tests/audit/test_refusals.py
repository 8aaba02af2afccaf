"""Every refusal lands in the audit log once: who, what, which object, from which address.

The log is written in one after-request hook (academy.audit.services.record_refusal), not by
each view, so these tests walk refusals of different kinds through different views and check
the rows. A 404 for a record that does not exist is audited like one for someone else's: from
outside the two look alike on purpose, and probing ids is exactly what the office should see.
"""
from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEntry
from academy.extensions import db
from academy.oauth.models import OAuthClient, OAuthToken
from academy.oauth.tokens import digest
from academy.submissions.models import Submission
from tests.conftest import PASSWORD

ADDRESS = "198.51.100.23"


def _client(app, user=None):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    if user is not None:
        assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    return client


def _refusals() -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action.startswith("access."))
                                   .order_by(AuditEntry.id)))


def _entries() -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))


def _bearer(user) -> str:
    client = OAuthClient(client_id="hub-audit", secret_hash="x" * 64, name="hub", redirect_uris="http://h/cb")
    db.session.add(client)
    db.session.flush()
    raw = secrets.token_urlsafe(24)
    db.session.add(OAuthToken(token_hash=digest(raw), client_id=client.id, user_id=user.id,
                              expires_at=datetime.now(UTC) + timedelta(hours=1)))
    db.session.commit()
    return raw


def _submission(make, student):
    sub = Submission(assignment=make.assignment(), student_id=student.id, received_at=datetime.now(UTC),
                     sha256="0" * 64, stored_path="nowhere", feedback_path="nowhere.html")
    db.session.add(sub)
    db.session.flush()
    return sub


def _one_new_row(before: int) -> AuditEntry:
    rows = _refusals()[before:]
    assert len(rows) == 1, [(r.action, r.detail) for r in rows]
    return rows[0]


def test_refusals_of_every_kind_are_audited_once_with_who_what_and_where(app, make):
    """Walk ten refusals through ten views; each writes exactly one entry naming actor, object and address.

    Checked: fails when the after-request hook is not installed (policy.init_app without
    record_refusal): the first case, a trainee opening another's feedback, left no entry.
    """
    app.config["GRADER_TOKEN"] = "grader-secret-for-tests"
    owner, snooper = make.enrolled_student(), make.enrolled_student()
    submission = _submission(make, owner)
    instructor, other_course = make.user("instructor"), make.course()
    recruiter, other_demand = make.user("recruiter"), make.demand()
    coordinator, other_cohort = make.user("coordinator"), make.cohort()
    token = _bearer(snooper)
    db.session.commit()
    as_snooper, as_instructor = _client(app, snooper), _client(app, instructor)
    as_recruiter, as_coordinator, anonymous = _client(app, recruiter), _client(app, coordinator), _client(app)
    basic = base64.b64encode(b"jupyterhub:wrong-secret").decode()

    cases = [
        # (what is tried, expected status, action, actor, object type, object id, credential)
        (lambda: as_snooper.get(f"/my/submissions/{submission.id}/feedback"),
         404, "access.not_found", snooper.id, "submission", submission.id, "session"),
        (lambda: as_snooper.get(f"/my/submissions/{submission.id}/feedback.html"),
         404, "access.not_found", snooper.id, "submission", submission.id, "session"),
        (lambda: anonymous.get(f"/api/exchange/submissions/{submission.id}/feedback",
                               headers={"Authorization": f"Bearer {token}"}),
         404, "access.not_found", snooper.id, "submission", submission.id, "bearer"),
        (lambda: as_instructor.get(f"/courses/{other_course.id}"),
         403, "access.denied", instructor.id, "course", other_course.id, "session"),
        (lambda: as_recruiter.get(f"/company/demands/{other_demand.id}/edit"),
         404, "access.not_found", recruiter.id, "demand", other_demand.id, "session"),
        (lambda: as_coordinator.get(f"/admissions/cohorts/{other_cohort.id}"),
         403, "access.denied", coordinator.id, "cohort", other_cohort.id, "session"),
        (lambda: as_snooper.get("/admin/users"), 403, "access.denied", snooper.id, None, None, "session"),
        (lambda: anonymous.get("/api/exchange/assignments", headers={"Authorization": "Bearer forged-token"}),
         401, "access.unauthenticated", None, None, None, "bearer"),
        # The grading endpoints write their own, more precise entry (scope wanted and offered); no second one.
        (lambda: anonymous.post("/api/grading/results", json={"submission_id": str(submission.id)},
                                headers={"X-Academy-Grader-Token": "guessed"}),
         401, "grading.token_refused", None, None, None, None),
        (lambda: anonymous.post("/oauth/token", data={"grant_type": "authorization_code", "code": "c"},
                                headers={"Authorization": f"Basic {basic}"}),
         401, "access.unauthenticated", None, None, None, "client_secret"),
    ]
    for attempt, status, action, actor, obj_type, obj_id, credential in cases:
        before = len(_entries())
        response = attempt()
        where = response.request.path
        assert response.status_code == status, (where, response.status_code)
        rows = _entries()[before:]
        assert len(rows) == 1, (where, [(r.action, r.detail) for r in rows])
        row, detail = rows[0], json.loads(rows[0].detail)
        assert (row.action, row.actor_id, row.object_type, row.object_id) == (action, actor, obj_type, obj_id), where
        assert row.ip == ADDRESS and detail["status"] == status, where
        if action.startswith("access."):
            assert detail["path"] == where and detail["credential"] == credential, where
        assert "forged-token" not in row.detail and "guessed" not in row.detail  # never the secret itself


def test_a_probe_for_a_record_that_does_not_exist_is_audited_too(app, make):
    """Probing ids is visible: a 404 for a missing record is logged like one for another's."""
    student = make.enrolled_student()
    db.session.commit()
    client = _client(app, student)
    assert client.get("/my/submissions/987654/feedback").status_code == 404
    row = _one_new_row(0)
    assert (row.action, row.actor_id, row.object_type, row.object_id) == ("access.not_found", student.id,
                                                                          "submission", 987654)


def test_what_is_not_a_refusal_is_not_logged(app, make):
    """Pages served, sign-in redirects and URLs no route answers add nothing (scanners' noise stays out)."""
    student = make.enrolled_student()
    db.session.commit()
    client = _client(app, student)
    assert client.get("/home/student").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    assert _client(app).get("/home/student").status_code == 302
    assert _refusals() == []


def test_a_failed_login_has_its_own_entry_and_no_second_one(app, make):
    student = make.user("student")
    db.session.commit()
    assert _client(app).post("/login", data={"email": student.email, "password": "nope-nope-nope"}).status_code == 401
    assert _refusals() == []
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditEntry.action == "auth.login_failed")) == 1


@pytest.mark.parametrize("path", ["/api/exchange/assignments", "/api/exchange/submissions"])
def test_a_revoked_or_expired_token_is_audited(app, make, path):
    student = make.enrolled_student()
    token = _bearer(student)
    row = db.session.scalar(sa.select(OAuthToken))
    row.revoked_at = datetime.now(UTC)
    db.session.commit()
    response = _client(app).get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    entry = _one_new_row(0)
    assert entry.action == "access.unauthenticated" and json.loads(entry.detail)["credential"] == "bearer"
