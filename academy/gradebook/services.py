"""Hand-graded totals into the gradebook: the rules that turn a formgrader total into the trainee's grade."""
from __future__ import annotations

import math
from datetime import timedelta

import sqlalchemy as sa

from academy.auth.models import User
from academy.courses.models import Assignment, Course, Grade
from academy.courses.services import get_grade, upsert_grade
from academy.extensions import db
from academy.submissions.models import Submission
from academy.submissions.services import CLOSED, apply_late_penalty, scale_score
from academy.util import utcnow

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
        trainee = db.session.get(User, int(str(data.get("student", ""))))
    except ValueError:
        trainee = None
    if trainee is None:
        raise UnknownTarget("student")
    assignment = db.session.scalar(sa.select(Assignment).where(
        Assignment.course_id == course.id, Assignment.nbgrader_name == str(data.get("assignment", ""))))
    if assignment is None:
        raise UnknownTarget("assignment")
    return assignment, trainee  # upsert_grade refuses a trainee who is not (or no longer) in the course


def _number(data: dict, key: str) -> float:
    value = float(data.get(key))  # TypeError / ValueError: the caller answers 422
    if not math.isfinite(value):
        raise ValueError(key)
    return value


def scaled_total(score: float, max_score: float, max_points: float) -> float:
    """Return a formgrader total on the assignment's scale; extra credit stops at the assignment's maximum."""
    if max_score <= 0 or score < 0:
        raise ValueError("score")
    return scale_score(score, max_score, max_points)


def record_manual_total(course: Course, data: dict) -> tuple[Grade, bool]:
    """Record a formgrader total as the trainee's grade: scaled to the assignment, less the late penalty.

    The penalty is the course's policy applied to the days late of the trainee's latest graded
    submission (none without one). Return the grade and whether it changed; the same total twice
    changes nothing and logs nothing. While the trainee's newest submission awaits its autograde
    report, raise GradingInProgress (that report would overwrite the total). Leaves the commit to the caller.
    """
    assignment, trainee = _find_target(course, data)
    scaled = scaled_total(_number(data, "score"), _number(data, "max_score"), assignment.max_points)
    latest = db.session.scalar(sa.select(Submission).where(
        Submission.assignment_id == assignment.id, Submission.student_id == trainee.id,
    ).order_by(Submission.id.desc()).limit(1))
    if latest is not None and latest.status not in CLOSED and latest.received_at > utcnow() - PENDING_AT_MOST:
        # Its autograde report comes later and would replace this total; the sync sends it again after.
        # That holds whether its job is in the queue or still waits in the portal (behind the trainee's
        # other job, or for the broker to come back). A submission stuck for hours holds nothing back.
        raise GradingInProgress()
    final, penalty = apply_late_penalty(scaled, assignment, latest.days_late if latest else 0)
    grade = get_grade(assignment, trainee)
    if (grade is not None and grade.source == SOURCE and math.isclose(grade.score, final)
            and math.isclose(grade.late_penalty, penalty)):
        return grade, False
    # Feedback the instructor wrote in the portal stays; the formgrader's comments live in nbgrader's feedback.
    grade = upsert_grade(assignment, trainee, final, grade.feedback if grade else "", None,
                         late_penalty=penalty, source=SOURCE)
    return grade, True


def formgrader_courses() -> list[Course]:
    """Return every course, by id: the hub names each course's formgrader and its group by the id."""
    return list(db.session.scalars(sa.select(Course).order_by(Course.id)))
