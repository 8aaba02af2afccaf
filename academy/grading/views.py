"""The portal's end of the formgrader sync and what the hub asks about formgraders.

POST /api/grading/manual: hand-graded totals into the gradebook. The caller is a course's
academy.grading.manual_sync, with that course's own token in the X-Academy-Grader-Token header
(academy.integrations.service_tokens): it may post that course's totals and nothing else. The body names
the submission the nbgrader way:
    {"course": "<Course.nbgrader_course>", "assignment": "<Assignment.nbgrader_name>", "student": "<user id>",
     "score": 7.5, "max_score": 10.0, "manually_graded": 1, "needs_manual_grade": ["lab1/q3"]}

GET /api/hub/formgraders: each course's immutable id and nbgrader folder, for the hub, which names each
formgrader and its instructors' group by the course id (HTTP Basic with the hub's OAuth client id and secret).

Commands: flask --app wsgi grading service-token ... | link-folder ...
"""
from __future__ import annotations

import hmac
import math
import re
from datetime import timedelta

import click
import sqlalchemy as sa
from flask import Blueprint, jsonify, request
from flask_babel import force_locale, gettext as _

from academy.auth.models import User
from academy.courses.models import Assignment, Course, Grade
from academy.courses.services import CourseError, NotInCourse, find_grade, upsert_grade
from academy.extensions import csrf, db
from academy.grading.service_auth import master_secret, refuse, service_scope
from academy.integrations.service_tokens import RESULTS, derive, manual_scope
from academy.policy import TOKEN, allow
from academy.submissions.models import Submission
from academy.submissions.services import CLOSED, penalty_percent
from academy.util import utcnow

bp = Blueprint("grading_api", __name__, cli_group="grading")
SOURCE = "formgrader"
# How long a queued autograde job may still report (and overwrite a hand-graded total).
PENDING_AT_MOST = timedelta(hours=2)


class GradingInProgress(RuntimeError):
    """The trainee's latest submission is still being autograded: its report would overwrite this total."""


class UnknownTarget(LookupError):
    """The course, assignment or trainee named by a manual total is not in the portal."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


def _find_target(course: Course, data: dict) -> tuple[Assignment, User]:
    try:
        student = db.session.get(User, int(str(data.get("student", ""))))
    except ValueError:
        student = None
    if student is None:
        raise UnknownTarget("student")
    assignment = db.session.scalar(sa.select(Assignment).where(
        Assignment.course_id == course.id, Assignment.nbgrader_name == str(data.get("assignment", ""))))
    if assignment is None:
        raise UnknownTarget("assignment")
    return assignment, student  # upsert_grade refuses a trainee who is not (or no longer) in the course


def _number(data: dict, key: str) -> float:
    value = float(data.get(key))  # TypeError / ValueError: the caller answers 422
    if not math.isfinite(value):
        raise ValueError(key)
    return value


def record_manual_total(course: Course, data: dict) -> tuple[Grade, bool]:
    """Record a formgrader total as the trainee's grade: scaled to the assignment, less the late penalty.

    The penalty is the course's policy applied to the days late of the trainee's latest graded
    submission (none without one). Return the grade and whether it changed; the same total twice
    changes nothing and logs nothing. While the trainee's newest submission awaits its autograde
    report, raise GradingInProgress (that report would overwrite the total).
    """
    assignment, student = _find_target(course, data)
    score, top = _number(data, "score"), _number(data, "max_score")
    if top <= 0 or score < 0:
        raise ValueError("score")
    # Extra credit can lift nbgrader's total past its maximum; the portal's scale stops at max_points.
    scaled = round(min(score / top, 1.0) * assignment.max_points, 2)
    latest = db.session.scalar(sa.select(Submission).where(
        Submission.assignment_id == assignment.id, Submission.student_id == student.id,
    ).order_by(Submission.id.desc()).limit(1))
    if latest is not None and latest.status not in CLOSED and latest.received_at > utcnow() - PENDING_AT_MOST:
        # Its autograde report comes later and would replace this total; the sync sends it again after.
        # That holds whether its job is in the queue or still waits in the portal (behind the trainee's
        # other job, or for the broker to come back). A submission stuck for hours holds nothing back.
        raise GradingInProgress()
    penalty = round(scaled * penalty_percent(assignment, latest.days_late if latest else 0) / 100, 2)
    final = round(scaled - penalty, 2)
    penalty = min(penalty, assignment.max_points - final)  # rounding must not push the sum past the maximum
    grade = find_grade(assignment, student)
    if (grade is not None and grade.source == SOURCE and math.isclose(grade.score, final)
            and math.isclose(grade.late_penalty, penalty)):
        return grade, False
    # Feedback the instructor wrote in the portal stays; the formgrader's comments live in nbgrader's feedback.
    grade = upsert_grade(assignment, student, final, grade.feedback if grade else "", None,
                         late_penalty=penalty, source=SOURCE)
    return grade, True


@bp.post("/api/grading/manual")
@allow(TOKEN)
@csrf.exempt
def api_manual_total():
    data = request.get_json(silent=True) or {}
    course = _sync_course(str(data.get("course", ""))[:80])
    try:
        grade, changed = record_manual_total(course, data)
    except (UnknownTarget, NotInCourse) as exc:
        db.session.rollback()
        return jsonify(error=_("Not found."), unknown=getattr(exc, "what", "student")), 404
    except GradingInProgress:
        db.session.rollback()
        return jsonify(error=_("Grading queued"), pending=True), 409
    except CourseError as exc:
        db.session.rollback()
        return jsonify(error=str(exc)), 422
    except (TypeError, ValueError):
        db.session.rollback()
        return jsonify(error=_("Invalid result.")), 422
    db.session.commit()
    return jsonify(course=data.get("course"), assignment=data.get("assignment"), student=data.get("student"),
                   score=grade.score, max_points=grade.max_score, late_penalty=grade.late_penalty,
                   source=grade.source, changed=changed,
                   needs_manual_grade=list(data.get("needs_manual_grade") or []))


def _sync_course(named: str) -> Course:
    """Return the course whose sync token the request carries; refuse (audited) any other course's totals."""
    wanted = f"manual for {named!r}"
    scope = service_scope(wanted)
    found = re.fullmatch(r"manual-c([0-9]+)", scope)
    if found is None:
        refuse(403, "out_of_scope", wanted, scope)  # the worker's token, say: it posts results only
    course = db.session.get(Course, int(found.group(1)))
    if course is None or course.nbgrader_course != named:
        refuse(403, "other_course", wanted, scope)  # one course's sync never writes another course's grades
    return course


def _require_hub_client() -> None:
    """Abort 401 (audited) unless the request authenticates as the hub's OAuth client (HTTP Basic)."""
    from academy.oauth.provider import digest
    from academy.oauth.services import find_client, setting

    auth = request.authorization
    client_id = auth.username if auth is not None and auth.type == "basic" else None
    row = find_client(client_id or "") if client_id == setting("HUB_CLIENT_ID", "jupyterhub") else None
    if row is None or not hmac.compare_digest(digest(auth.password or ""), row.secret_hash):
        refuse(401, "missing" if auth is None else "invalid", "hub client")


@bp.get("/api/hub/formgraders")
@allow(TOKEN)
def api_hub_formgraders():
    """List each course's id and nbgrader folder, so the hub keys formgraders by the immutable id."""
    _require_hub_client()
    courses = db.session.scalars(sa.select(Course).order_by(Course.id))
    return jsonify(courses=[{"id": c.id, "code": c.code, "folder": c.nbgrader_course} for c in courses])


@bp.cli.command("service-token")
@click.argument("scope", type=click.Choice(["results", "manual"]))
@click.option("--course", "code", help="the course code (for a manual, i.e. grade sync, token)")
def service_token(scope: str, code: str | None) -> None:
    """Print the worker's (results) or one course's sync (manual) token, derived from ACADEMY_GRADER_TOKEN."""
    master = master_secret()
    if not master:
        raise click.ClickException("ACADEMY_GRADER_TOKEN 설정이 없습니다 / ACADEMY_GRADER_TOKEN is not set")
    if scope == "results":
        click.echo(derive(master, RESULTS))
        return
    course = db.session.scalar(sa.select(Course).where(Course.code == (code or "")))
    if course is None:
        raise click.ClickException(f"과정 코드 {code!r}이(가) 없습니다 / no course with the code {code!r}")
    click.echo(derive(master, manual_scope(course.id)))


@bp.cli.command("link-folder")
@click.argument("code")
@click.argument("folder")
def link_folder(code: str, folder: str) -> None:
    """Link a course (by code) to its nbgrader folder under courses/; no two courses share a folder."""
    from academy.courses.services import link_nbgrader_folder

    course = db.session.scalar(sa.select(Course).where(Course.code == code))
    if course is None:
        raise click.ClickException(f"과정 코드 {code!r}이(가) 없습니다 / no course with the code {code!r}")
    try:
        link_nbgrader_folder(course, folder)
    except CourseError as exc:
        db.session.rollback()
        with force_locale("en"):
            english = str(exc)
        with force_locale("ko"):
            korean = str(exc)
        raise click.ClickException(f"{korean}\n{english}") from None
    db.session.commit()
    click.echo(f"{code} -> courses/{folder} (restart JupyterHub so its formgrader serves the new folder)")
