"""Submitting over the exchange API: receipt on the portal's clock, lateness, results exactly once."""
from __future__ import annotations

import io
import json
import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from academy.courses.services import get_grade, grant_extension, set_due_date, upsert_grade
from academy.extensions import db
from academy.integrations.service_tokens import RESULTS, derive
from academy.oauth.models import OAuthClient, OAuthToken
from academy.oauth.tokens import digest
from academy.submissions import views
from academy.submissions.models import Submission
from academy.submissions.services import days_late
from academy.submissions.services import digest as submission_digest
from academy.submissions.services import penalty_percent, requeue_unqueued

NB = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()
GRADER = "grader-secret-for-tests"


def _token(user) -> str:
    client = db.session.scalar(sa.select(OAuthClient).where(OAuthClient.client_id == "hub-test"))
    if client is None:
        client = OAuthClient(client_id="hub-test", secret_hash="x" * 64, name="hub", redirect_uris="http://h/cb")
        db.session.add(client)
        db.session.flush()
    raw = secrets.token_urlsafe(24)
    db.session.add(OAuthToken(token_hash=digest(raw), client_id=client.id, user_id=user.id,
                              expires_at=datetime.now(UTC) + timedelta(hours=1)))
    db.session.commit()
    return raw


def _setup(make, due_in: timedelta, **course_kw):
    cohort = make.cohort()
    student = make.enrolled_student(cohort)
    course = make.course(cohorts=[cohort], **course_kw)
    assignment = make.assignment(course)
    due = datetime.now(UTC) + due_in
    set_due_date(assignment, cohort, due, released_at=min(datetime.now(UTC), due - timedelta(days=1)))
    db.session.commit()
    return student, assignment, cohort


def _submit(client, token, assignment, files=None):
    files = files or [(io.BytesIO(NB), "lab.ipynb")]
    return client.post(f"/api/exchange/assignments/{assignment.id}/submit", data={"files": files},
                       headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data")


def worker_token(secret: str = GRADER) -> str:
    """Return the token the grading worker sends: its scoped token where the portal checks scopes, else the secret."""
    if views.require_grader_token.__module__ == "academy.submissions.views":
        return secret  # the portal still compares the shared secret itself

    return derive(secret, RESULTS)


def _result(client, sub_id, auto=8.0, top=10.0, token=None):
    body = {"submission_id": str(sub_id), "status": "graded",
            "auto_score": auto, "max_auto_score": top, "feedback_html": "<p>well done</p><script>x()</script>"}
    return client.post("/api/grading/results", json=body, headers={"X-Academy-Grader-Token": token or worker_token()})


def test_submit_records_receipt_time_and_sha256_ignoring_forged_timestamp(client, make, queue):
    student, assignment, _ = _setup(make, timedelta(days=1))
    token = _token(student)
    before = datetime.now(UTC)
    forged = [(io.BytesIO(NB), "lab.ipynb"), (io.BytesIO(b"2000-01-01 00:00:00"), "timestamp.txt")]
    response = _submit(client, token, assignment, forged)
    assert response.status_code == 201, response.get_json()
    sub = db.session.get(Submission, response.get_json()["id"])
    assert before <= sub.received_at <= datetime.now(UTC)
    assert sub.sha256 == submission_digest({"lab.ipynb": NB})
    assert sub.status == "queued" and sub.job_id == f"job-{sub.id}" and queue == [sub.id]
    assert response.get_json()["status_label"] == "grading queued"


def test_every_submission_is_kept(client, make, queue):
    student, assignment, _ = _setup(make, timedelta(days=1))
    token = _token(student)
    ids = [_submit(client, token, assignment).get_json()["id"] for _ in range(2)]
    listed = client.get("/api/exchange/submissions", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert sorted(s["id"] for s in listed) == sorted(ids)


def test_without_a_valid_token_nothing_is_accepted(client, make, queue):
    _, assignment, _ = _setup(make, timedelta(days=1))
    assert _submit(client, "not-a-token", assignment).status_code == 401
    assert client.get("/api/exchange/submissions").status_code == 401
    assert queue == []


def test_not_a_trainee_of_the_course_is_refused(client, make, queue):
    _, assignment, _ = _setup(make, timedelta(days=1))
    outsider = make.enrolled_student()
    assert _submit(client, _token(outsider), assignment).status_code == 403


def test_after_cutoff_submission_is_refused(client, make, queue):
    student, assignment, _ = _setup(make, -timedelta(days=3), late_cutoff_days=2)
    response = _submit(client, _token(student), assignment)
    assert response.status_code == 422
    assert "cut-off" in response.get_json()["error"] or "마감" in response.get_json()["error"]
    assert queue == []


def test_extension_wins_over_the_cohort_date(client, make, queue):
    student, assignment, _ = _setup(make, -timedelta(days=3), late_cutoff_days=2)
    grant_extension(assignment, student, datetime.now(UTC) + timedelta(days=1), "illness", make.user("instructor"))
    db.session.commit()
    response = _submit(client, _token(student), assignment)
    assert response.status_code == 201 and response.get_json()["days_late"] == 0


def test_late_penalty_applied_once_and_result_idempotent(client, make, queue):
    # 1.5 days late with 10 %/day: 2 started days -> 20 % off.
    student, assignment, _ = _setup(make, -timedelta(hours=36), late_percent_per_day=10, late_max_deduction=50)
    token = _token(student)
    sub_id = _submit(client, token, assignment).get_json()["id"]
    assert _result(client, sub_id).status_code == 200
    assert _result(client, sub_id, auto=10.0).status_code == 200  # a redelivered job's second report
    db.session.expire_all()
    sub = db.session.get(Submission, sub_id)
    assert sub.days_late == 2 and sub.auto_score == 80.0 and sub.late_penalty == 16.0
    grade = get_grade(assignment, student)
    assert grade.score == 64.0 and grade.late_penalty == 16.0 and grade.source == "autograde"


def test_late_penalty_is_capped(app, make):
    _, assignment, _ = _setup(make, timedelta(days=1), late_percent_per_day=30, late_max_deduction=50)
    due = datetime(2027, 3, 1, tzinfo=UTC)
    assert days_late(due + timedelta(seconds=1), due) == 1
    assert days_late(due, due) == 0
    assert penalty_percent(assignment, 1) == 30 and penalty_percent(assignment, 3) == 50


def test_result_needs_the_grader_token(client, make, queue):
    student, assignment, _ = _setup(make, timedelta(days=1))
    sub_id = _submit(client, _token(student), assignment).get_json()["id"]
    assert _result(client, sub_id, token="wrong").status_code == 401
    assert _result(client, 999999).status_code == 404


def test_feedback_only_for_its_trainee_with_strict_csp(client, make, queue):
    student, assignment, cohort = _setup(make, timedelta(days=1))
    other = make.enrolled_student(cohort)
    token = _token(student)
    sub_id = _submit(client, token, assignment).get_json()["id"]
    _result(client, sub_id)
    mine = client.get(f"/api/exchange/submissions/{sub_id}/feedback", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200 and b"well done" in mine.data
    assert "sandbox" in mine.headers["Content-Security-Policy"]
    assert "default-src 'none'" in mine.headers["Content-Security-Policy"]
    other_token = _token(other)
    theirs = client.get(f"/api/exchange/submissions/{sub_id}/feedback",
                        headers={"Authorization": f"Bearer {other_token}"})
    assert theirs.status_code == 404
    listed = client.get("/api/exchange/submissions", headers={"Authorization": f"Bearer {other_token}"}).get_json()
    assert listed == []


def test_queue_down_still_accepts_and_shows_grading_queued(client, make, app):
    def broken(sub, files):
        raise ConnectionError("broker down")

    app.config["SUBMISSIONS_ENQUEUE"] = broken
    try:
        student, assignment, _ = _setup(make, timedelta(days=1))
        response = _submit(client, _token(student), assignment)
    finally:
        app.config.pop("SUBMISSIONS_ENQUEUE", None)
    assert response.status_code == 201
    assert response.get_json()["status_label"] == "grading queued"
    assert db.session.get(Submission, response.get_json()["id"]).job_id is None


def test_unsafe_file_names_are_refused(client, make, queue):
    student, assignment, _ = _setup(make, timedelta(days=1))
    response = _submit(client, _token(student), assignment, [(io.BytesIO(NB), "../../etc/x.ipynb")])
    assert response.status_code == 422 and queue == []


def test_unreleased_assignment_is_refused(client, make, queue):
    cohort = make.cohort()
    student = make.enrolled_student(cohort)
    assignment = make.assignment(make.course(cohorts=[cohort]))
    set_due_date(assignment, cohort, datetime.now(UTC) + timedelta(days=2))  # dated, not released
    db.session.commit()
    assert _submit(client, _token(student), assignment).status_code == 422
    assert queue == []


def test_submissions_that_arrived_while_the_queue_was_down_are_queued_when_it_is_back(client, make, app, queue):
    working = app.config["SUBMISSIONS_ENQUEUE"]
    app.config["SUBMISSIONS_ENQUEUE"] = lambda sub, files: (_ for _ in ()).throw(ConnectionError("down"))
    student, assignment, _ = _setup(make, timedelta(days=1))
    token = _token(student)
    waiting = _submit(client, token, assignment).get_json()["id"]
    assert requeue_unqueued(older_than=timedelta(0)) == 0  # still down: nothing lost, nothing queued
    app.config["SUBMISSIONS_ENQUEUE"] = working
    assert requeue_unqueued(older_than=timedelta(0)) == 1
    db.session.commit()
    assert queue == [waiting] and db.session.get(Submission, waiting).job_id == f"job-{waiting}"
    assert requeue_unqueued(older_than=timedelta(0)) == 0


def test_a_result_about_other_work_is_refused(client, make, queue):
    student, assignment, cohort = _setup(make, timedelta(days=1))
    other = make.enrolled_student(cohort)
    sub_id = _submit(client, _token(student), assignment).get_json()["id"]
    body = {"submission_id": str(sub_id), "status": "graded", "auto_score": 1, "max_auto_score": 1,
            "student_id": str(other.id), "assignment": assignment.nbgrader_name}
    response = client.post("/api/grading/results", json=body, headers={"X-Academy-Grader-Token": worker_token()})
    assert response.status_code == 422
    body["student_id"] = str(student.id)
    assert client.post("/api/grading/results", json=body,
                       headers={"X-Academy-Grader-Token": worker_token()}).status_code == 200


def test_score_counts_hand_graded_points_and_keeps_instructor_feedback(client, make, queue):
    student, assignment, _ = _setup(make, timedelta(days=1))
    teacher = make.user("instructor")
    upsert_grade(assignment, student, 50, "Explain your threshold.", teacher)
    db.session.commit()
    sub_id = _submit(client, _token(student), assignment).get_json()["id"]
    body = {"submission_id": str(sub_id), "status": "graded", "auto_score": 16, "max_auto_score": 16,
            "max_total_score": 20}
    assert client.post("/api/grading/results", json=body, headers={"X-Academy-Grader-Token": worker_token()}).status_code == 200
    grade = get_grade(assignment, student)
    db.session.refresh(grade)
    assert grade.score == 80.0  # 16 of 20 points: the 4 written-answer points wait for the instructor
    assert grade.feedback == "Explain your threshold."


def test_an_extension_granted_after_a_late_submission_lifts_the_penalty(client, make, queue):
    student, assignment, _ = _setup(make, -timedelta(hours=5), late_percent_per_day=10)
    sub_id = _submit(client, _token(student), assignment).get_json()["id"]
    grant_extension(assignment, student, datetime.now(UTC) + timedelta(days=2), "sick leave", make.user("instructor"))
    db.session.commit()
    assert _result(client, sub_id, auto=10.0).status_code == 200
    grade = get_grade(assignment, student)
    db.session.refresh(grade)
    assert grade.late_penalty == 0 and grade.score == 100.0


def test_disabled_accounts_tokens_and_file_folder_clashes_are_refused(client, make, queue):
    student, assignment, _ = _setup(make, timedelta(days=1))
    token = _token(student)
    clash = _submit(client, token, assignment, [(io.BytesIO(NB), "a.ipynb"), (io.BytesIO(b"x"), "data"),
                                                 (io.BytesIO(b"y"), "data/x.csv")])
    assert clash.status_code == 422 and queue == []
    student.is_enabled = False
    db.session.commit()
    assert _submit(client, token, assignment).status_code == 401
