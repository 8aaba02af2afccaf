"""Exchange API for the trainee's notebook server, the grader's result endpoint, and trainee pages."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, g, jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from academy.auth.models import User
from academy.courses.models import Assignment
from academy.errors import answer
from academy.extensions import csrf, db, limiter
from academy.gradebook.service_auth import require_grader_token  # the worker's scoped token
from academy.integrations import nbgrader
from academy.oauth.models import OAuthToken
from academy.oauth.tokens import digest as token_digest
from academy.policy import TOKEN, allow
from academy.privacy.services import must_consent
from academy.transactions import afterwards
from academy.submissions import services
from academy.submissions.cli import commands
from academy.submissions.limits import too_many_submissions
from academy.submissions.models import Submission

log = logging.getLogger(__name__)
bp = Blueprint("submissions", __name__)
bp.record_once(lambda state: state.app.cli.add_command(commands))  # flask submissions ...
# The feedback document is worker-made from untrusted notebook output: no scripts, its own origin.
FEEDBACK_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
STATUS_LABELS = {"queued": "grading queued", "grading": "grading", "time_limit": "time limit",
                 "memory_limit": "memory limit", "superseded": "superseded by a newer submission, not graded"}


@bp.errorhandler(HTTPException)
def _api_error(exc: HTTPException):
    """Answer the API's refusals as JSON {"error": ...} in the request's language (academy.errors)."""
    if request.path.startswith("/api/") and exc.code == 429:
        return too_many_submissions()
    return answer(exc)


def _bearer_user() -> User:
    """Return the user of a valid bearer token, else abort 401."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        abort(401)
    row = db.session.scalar(db.select(OAuthToken).where(OAuthToken.token_hash == token_digest(header[7:].strip())))
    if row is None or not row.is_usable() or not row.user.is_enabled:
        abort(401)
    if must_consent(row.user):  # a new privacy policy version: nothing more until the portal has the consent
        abort(403)
    g.api_user = row.user
    return row.user


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _assignment_json(row: services.ReleasedAssignment) -> dict:
    a, course = row.assignment, row.assignment.course
    return {
        "id": a.id,
        "course": course.nbgrader_course,
        "assignment": a.nbgrader_name,
        "title_en": a.title_en,
        "title_ko": a.title_ko,
        "released_at": _iso(row.released_at),
        "due_at": _iso(row.due_at),
        "cutoff_at": _iso(row.cutoff_at),
        "late_policy": {"percent_per_day": course.late_percent_per_day, "max_deduction": course.late_max_deduction,
                        "cutoff_days": course.late_cutoff_days},
        "notebooks": nbgrader.notebook_names(a),
        "needs_gpu": a.needs_gpu,
    }


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
        "max_points": sub.assignment.max_points,
        "late_penalty": sub.late_penalty,
        "has_feedback": bool(sub.feedback_path),
        "notebooks": services.submitted_notebooks(sub),
    }


@bp.get("/api/exchange/assignments")
@allow(TOKEN)
def api_assignments():
    user = _bearer_user()
    rows = services.released_assignments(user, request.args.get("course") or None)
    return jsonify([_assignment_json(r) for r in rows])


@bp.get("/api/exchange/assignments/<int:assignment_id>/release")
@allow(TOKEN)
def api_release(assignment_id: int):
    user = _bearer_user()
    # An unknown assignment and one not released to this trainee get the same answer.
    assignment = services.get_released(user, assignment_id)
    if assignment is None:
        abort(404)
    try:
        blob, sha256 = nbgrader.release_archive(assignment)
    except nbgrader.ReleaseError as exc:
        log.error("release of assignment %s failed: %s", assignment.id, exc)
        return jsonify(error=_("This assignment cannot be downloaded right now: its release could not be "
                               "prepared. Try again later or tell your instructor.")), 503
    response = Response(blob, mimetype="application/gzip")
    response.headers["X-Release-Sha256"] = sha256
    response.headers["Content-Disposition"] = f'attachment; filename="{assignment.nbgrader_name}.tar.gz"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _submitter_and_assignment() -> str:
    # One count per trainee and assignment; a request without a valid token is refused (401) before it counts.
    user = _bearer_user()
    return f"trainee-{user.id}:assignment-{request.view_args['assignment_id']}"


@bp.post("/api/exchange/assignments/<int:assignment_id>/submit")
@allow(TOKEN)
@csrf.exempt
# Every attempt counts, refused ones included: counting only accepted ones would test and count apart,
# and a burst of parallel requests would all pass the test.
@limiter.limit(lambda: current_app.config["SUBMIT_RATE_LIMIT"], key_func=_submitter_and_assignment)
def api_submit(assignment_id: int):
    user = _bearer_user()
    assignment = db.get_or_404(Assignment, assignment_id)
    files = {f.filename or "": f.read() for f in request.files.getlist("files")}
    try:
        sub = services.receive_submission(assignment, user, files)
    except services.NotYourCourse as exc:
        return jsonify(error=str(exc)), 403
    except services.SubmissionError as exc:
        return jsonify(error=str(exc)), 422
    if sub.job_id:  # the queue works: anything that waits for it goes in now
        afterwards(services.drain_backlog)
    return jsonify(_as_json(sub)), 201


@bp.get("/api/exchange/submissions")
@allow(TOKEN)
def api_my_submissions():
    user = _bearer_user()
    subs = services.my_submissions(user, request.args.get("course") or None, request.args.get("assignment") or None)
    return jsonify([_as_json(s) for s in subs])


@bp.get("/api/exchange/submissions/<int:submission_id>/feedback")
@allow(TOKEN)
def api_feedback(submission_id: int):
    return feedback_response(_bearer_user(), submission_id)


def feedback_response(trainee: User, submission_id: int, *, framed_by_portal: bool = False) -> Response:
    """Return the feedback document of the trainee's own submission (404 for anyone else's, or none yet)."""
    sub = services.own_submission(trainee, submission_id)
    html = services.feedback_html(sub) if sub is not None else None
    if html is None:
        abort(404)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = FEEDBACK_CSP
    if framed_by_portal:  # shown in a frame on the portal's own feedback page, nowhere else
        response.headers["Content-Security-Policy"] += "; frame-ancestors 'self'"
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.post("/api/grading/results")
@allow(TOKEN)
@csrf.exempt
def api_grading_result():
    require_grader_token()
    try:
        sub = services.record_result(request.get_json(silent=True) or {})
    except services.UnknownSubmission as exc:
        return jsonify(error=str(exc)), 404
    except (services.SubmissionError, ValueError) as exc:
        return jsonify(error=str(exc) or _("Invalid result.")), 422
    if sub.status != "grading":  # the trainee's place in the queue is free: their next work goes in
        student_id = sub.student_id
        afterwards(lambda: services.queue_after_result(student_id))
    return jsonify(_as_json(sub))
