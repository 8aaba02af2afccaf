"""The portal's end of the formgrader sync: hand-graded totals into the gradebook (POST /api/grading/manual).

The caller is academy.grading.manual_sync, authenticated like the grading worker by the shared secret
in the X-Academy-Grader-Token header. The body names the submission the nbgrader way:
    {"course": "<Course.nbgrader_course>", "assignment": "<Assignment.nbgrader_name>", "student": "<user id>",
     "score": 7.5, "max_score": 10.0, "manually_graded": 1, "needs_manual_grade": ["lab1/q3"]}
"""
from __future__ import annotations

import math
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from academy.auth.models import User
from academy.courses.models import Assignment, Course, Grade
from academy.courses.services import CourseError, NotInCourse, find_grade, takes, upsert_grade
from academy.extensions import csrf, db
from academy.policy import TOKEN, allow
from academy.submissions.models import Submission
from academy.submissions.services import FINAL, penalty_percent
from academy.submissions.views import require_grader_token
from academy.util import utcnow

bp = Blueprint("grading_api", __name__)
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


def _find_target(data: dict) -> tuple[Assignment, User]:
    try:
        student = db.session.get(User, int(str(data.get("student", ""))))
    except ValueError:
        student = None
    if student is None:
        raise UnknownTarget("student")
    courses = list(db.session.scalars(sa.select(Course).where(Course.nbgrader_course == str(data.get("course", "")))))
    if not courses:
        raise UnknownTarget("course")
    # Several portal courses may share one nbgrader folder (a course run again): the trainee's own counts.
    assignments = list(db.session.scalars(sa.select(Assignment).where(
        Assignment.course_id.in_([c.id for c in courses]), Assignment.nbgrader_name == str(data.get("assignment", "")))))
    if not assignments:
        raise UnknownTarget("assignment")
    for assignment in assignments:
        if takes(student, assignment.course):
            return assignment, student
    return assignments[0], student  # upsert_grade says why (withdrawn, or not in the course)


def _number(data: dict, key: str) -> float:
    value = float(data.get(key))  # TypeError / ValueError: the caller answers 422
    if not math.isfinite(value):
        raise ValueError(key)
    return value


def record_manual_total(data: dict) -> tuple[Grade, bool]:
    """Record a formgrader total as the trainee's grade: scaled to the assignment, less the late penalty.

    The penalty is the course's policy applied to the days late of the trainee's latest graded
    submission (none without one). Return the grade and whether it changed; the same total twice
    changes nothing and logs nothing. While the trainee's newest submission awaits its autograde
    report, raise GradingInProgress (that report would overwrite the total).
    """
    assignment, student = _find_target(data)
    score, top = _number(data, "score"), _number(data, "max_score")
    if top <= 0 or score < 0:
        raise ValueError("score")
    # Extra credit can lift nbgrader's total past its maximum; the portal's scale stops at max_points.
    scaled = round(min(score / top, 1.0) * assignment.max_points, 2)
    latest = db.session.scalar(sa.select(Submission).where(
        Submission.assignment_id == assignment.id, Submission.student_id == student.id,
    ).order_by(Submission.id.desc()).limit(1))
    if latest is not None and latest.status not in FINAL and latest.job_id and \
            latest.received_at > utcnow() - PENDING_AT_MOST:
        # Its autograde report comes later and would replace this total; the sync sends it again after.
        # A submission never queued, or stuck for hours, does not hold hand grading back.
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
    require_grader_token()
    data = request.get_json(silent=True) or {}
    try:
        grade, changed = record_manual_total(data)
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
