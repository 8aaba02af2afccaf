"""Trainee pages for submissions (and the instructor's view of an assignment's submissions).

The JupyterLab exchange talks to the JSON API in views.py; these are the same facts for people:
what arrived when, with which sha256, whether grading is queued, the score and the feedback.
"""
from __future__ import annotations

from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, g, redirect, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from academy.auth.models import User
from academy.courses.services import record_course_view, teaches
from academy.courses.models import Assignment
from academy.extensions import db
from academy.listing import paginate
from academy.policy import Role, allow
from academy.submissions import services
from academy.submissions.models import Submission, SubmissionStatus
from academy.submissions.views import feedback_response

bp = Blueprint("submission_pages", __name__)

# A submission's grading state in words ("grading queued" also while the worker is down), for every row of a list.
STATUS_LABELS = {"queued": _l("Grading queued"), "grading": _l("Grading"), "graded": _l("Graded"),
                 "time_limit": _l("Time limit"), "memory_limit": _l("Memory limit"), "error": _l("Grading error"),
                 "superseded": _l("Superseded: not graded")}


@bp.app_template_global()
def submission_status_label(status: str) -> str:
    """Name a submission's grading state in the current language."""
    label = STATUS_LABELS.get(status)
    return str(label) if label is not None else status
PENDING = {SubmissionStatus.QUEUED, SubmissionStatus.GRADING}


def _own(submission_id: int) -> Submission:
    sub = services.own_submission(current_user, submission_id)
    if sub is None:
        abort(404)
    return sub


@bp.get("/my/submissions")
@allow(Role.STUDENT)
def my_submissions():
    """List everything I submitted: receipt time, sha256, grading status, score and feedback."""
    # A page of them, newest first: a year of resubmissions was one long table (85 rows in the ten-year bench data,
    # 14 ms of CPU to render).
    listing = paginate(services.my_submissions_query(current_user), sortable={"received": Submission.received_at},
                       default_sort="received", default_direction="desc", then=(Submission.id.desc(),), size=25)
    # What waits for the grader is among the newest: the page that shows it refreshes itself until it is graded.
    pending = any(s.status in PENDING for s in listing.items)
    return render_template("submissions/mine.html", submissions=listing.items, listing=listing, pending=pending)


@bp.app_template_global()
def released_to_me() -> set[int]:
    """Return the ids of the assignments released to the signed-in trainee (once per request; none for others)."""
    if "released_ids" not in g:
        trainee = current_user.is_authenticated and current_user.role == Role.STUDENT
        g.released_ids = services.released_ids(current_user) if trainee else set()
    return g.released_ids


@bp.get("/my/assignments/<int:assignment_id>/start")
@allow(Role.STUDENT)
def start_in_jupyterlab(assignment_id: int):
    """Open a released assignment in JupyterLab: the hub signs me in and starts my server; my server fetches the
    assignment through the portal exchange unless I have it already, and opens its notebook (academy/exchange/
    start.py). An assignment not released to me is a 404, like one that does not exist."""
    assignment = services.get_released(current_user, assignment_id)
    if assignment is None:
        abort(404)
    hub = current_app.config.get("HUB_URL", "http://127.0.0.1:8000").rstrip("/")
    query = urlencode({"course": assignment.course.nbgrader_course, "assignment": assignment.nbgrader_name})
    return redirect(f"{hub}/hub/user-redirect/academy/start?{query}")


@bp.get("/my/submissions/<int:submission_id>/feedback")
@allow(Role.STUDENT)
def my_feedback(submission_id: int):
    """Show one of my submissions with its score and the grader's feedback."""
    sub = _own(submission_id)
    return render_template("submissions/feedback.html", sub=sub, pending=sub.status in PENDING)


@bp.get("/my/submissions/<int:submission_id>/feedback.html")
@allow(Role.STUDENT)
def my_feedback_document(submission_id: int):
    """Return the feedback document of one of my submissions, for the frame on the feedback page."""
    return feedback_response(current_user, submission_id, framed_by_portal=True)


@bp.get("/courses/<int:course_id>/assignments/<int:assignment_id>/submissions")
@allow(Role.INSTRUCTOR)
def assignment_submissions(course_id: int, assignment_id: int):
    """List every submission of an assignment, newest first, for the course's instructors."""
    assignment = db.get_or_404(Assignment, assignment_id)
    if assignment.course_id != course_id:
        abort(404)
    if not teaches(current_user, assignment.course):
        abort(403)
    # A page at a time, newest first: a class resubmits a lab hundreds of times.
    listing = paginate(sa.select(Submission).where(Submission.assignment_id == assignment.id),
                       sortable={"id": Submission.id}, default_sort="id", default_direction="desc")
    subs = listing.items
    ids = {s.student_id for s in subs}
    names = {u.id: u.name for u in db.session.scalars(sa.select(User).where(User.id.in_(ids)))} if ids else {}
    if ids:  # the list names trainees: one audit entry per view, listing them (they see it in their data)
        record_course_view(assignment.course, f"submissions:{assignment.id}", sorted(ids))
    return render_template("submissions/assignment.html", assignment=assignment, course=assignment.course,
                           submissions=subs, names=names, listing=listing)
