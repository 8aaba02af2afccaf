"""Exchange API for the trainee's notebook server, the grader's result endpoint, and trainee pages."""
from __future__ import annotations

import hmac
import os

from flask import Blueprint, Response, abort, current_app, g, jsonify, request
from flask_babel import gettext as _

from academy.auth.models import User
from academy.courses.models import Assignment
from academy.extensions import csrf, db
from academy.oauth.models import OAuthToken
from academy.oauth.provider import digest as token_digest
from academy.policy import TOKEN, allow
from academy.submissions import services
from academy.submissions.models import Submission

bp = Blueprint("submissions", __name__)
GRADER_HEADER = "X-Academy-Grader-Token"
FEEDBACK_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
STATUS_LABELS = {"queued": "grading queued", "grading": "grading"}


def _bearer_user() -> User:
    """Return the user of a valid bearer token, else abort 401."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        abort(401)
    row = db.session.scalar(db.select(OAuthToken).where(OAuthToken.token_hash == token_digest(header[7:].strip())))
    if row is None or not row.is_usable():
        abort(401)
    g.api_user = row.user
    return row.user


def _as_json(sub: Submission) -> dict:
    return {
        "id": sub.id,
        "assignment_id": sub.assignment_id,
        "assignment": sub.assignment.nbgrader_name,
        "course": sub.assignment.course.nbgrader_course,
        "received_at": sub.received_at.isoformat(),
        "sha256": sub.sha256,
        "status": sub.status,
        "status_label": STATUS_LABELS.get(sub.status, sub.status),
        "days_late": sub.days_late,
        "score": sub.auto_score,
        "late_penalty": sub.late_penalty,
        "has_feedback": bool(sub.feedback_path),
    }


@bp.post("/api/exchange/assignments/<int:assignment_id>/submit")
@allow(TOKEN)
@csrf.exempt
def api_submit(assignment_id: int):
    user = _bearer_user()
    assignment = db.get_or_404(Assignment, assignment_id)
    files = {f.filename or "": f.read() for f in request.files.getlist("files")}
    try:
        sub = services.receive_submission(assignment, user, files)
    except services.NotYourCourse as exc:
        db.session.rollback()
        return jsonify(error=str(exc)), 403
    except services.SubmissionError as exc:
        db.session.rollback()
        return jsonify(error=str(exc)), 422
    db.session.commit()
    return jsonify(_as_json(sub)), 201


@bp.get("/api/exchange/submissions")
@allow(TOKEN)
def api_my_submissions():
    user = _bearer_user()
    return jsonify([_as_json(s) for s in services.my_submissions(user)])


@bp.get("/api/exchange/submissions/<int:submission_id>/feedback")
@allow(TOKEN)
def api_feedback(submission_id: int):
    user = _bearer_user()
    sub = db.get_or_404(Submission, submission_id)
    # Another trainee's submission does not exist as far as this token is concerned.
    if sub.student_id != user.id:
        abort(404)
    html = services.feedback_html(sub)
    if html is None:
        abort(404)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = FEEDBACK_CSP
    return response


@bp.post("/api/grading/results")
@allow(TOKEN)
@csrf.exempt
def api_grading_result():
    expected = current_app.config.get("GRADER_TOKEN") or os.environ.get("ACADEMY_GRADER_TOKEN", "")
    given = request.headers.get(GRADER_HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(401)
    try:
        sub = services.record_result(request.get_json(silent=True) or {})
    except services.UnknownSubmission as exc:
        db.session.rollback()
        return jsonify(error=str(exc)), 404
    except (services.SubmissionError, ValueError) as exc:
        db.session.rollback()
        return jsonify(error=str(exc) or _("Invalid result.")), 422
    db.session.commit()
    return jsonify(_as_json(sub))
