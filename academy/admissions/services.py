"""Admissions rules: applications move only along TRANSITIONS; cohorts never exceed capacity."""
from __future__ import annotations

import sqlalchemy as sa

from academy.admissions.models import (
    DECISIONS,
    TRANSITIONS,
    Application,
    ApplicationEvent,
    ApplicationStatus,
    Enrollment,
    EnrollmentStatus,
)
from academy.audit.services import record
from academy.auth.models import User
from academy.extensions import db
from academy.universities.models import Cohort
from academy.util import utcnow


class AdmissionsError(ValueError):
    """A request that breaks an admissions rule; the message is shown to the user."""


class CohortFull(AdmissionsError):
    pass


class InvalidTransition(AdmissionsError):
    pass


class AlreadyApplied(AdmissionsError):
    pass


def submit_application(student: User, cohort: Cohort, motivation: str, background: str = "") -> Application:
    """File a trainee's application to an open cohort."""
    if student.role != "student":
        raise AdmissionsError("only trainees apply")
    if not cohort.is_open:
        raise AdmissionsError("this cohort is not taking applications")
    exists = db.session.scalar(
        sa.select(Application.id).where(Application.student_id == student.id, Application.cohort_id == cohort.id)
    )
    if exists:
        raise AlreadyApplied("you already applied to this cohort")
    application = Application(student=student, cohort=cohort, motivation=motivation, background=background)
    application.events.append(ApplicationEvent(from_status=None, to_status="submitted", by_id=student.id))
    db.session.add(application)
    db.session.flush()
    record("application.submitted", subject_user_id=student.id, obj=application)
    return application


def move_application(application: Application, to_status: str, by: User, reason: str | None) -> Application:
    """Move an application to its next status; decisions need a reason and enrol when admitted."""
    current = application.status
    if to_status not in TRANSITIONS.get(current, set()):
        raise InvalidTransition(f"cannot go from {current} to {to_status}")
    reason = (reason or "").strip() or None
    if to_status in DECISIONS and not reason:
        raise AdmissionsError("a decision needs a reason")
    if to_status == ApplicationStatus.ADMITTED:
        enroll(application.student, application.cohort)
    if current == ApplicationStatus.ADMITTED and to_status == ApplicationStatus.WITHDRAWN:
        withdraw(application.student, application.cohort, reason or "application withdrawn")
    application.status = to_status
    if to_status in DECISIONS:
        application.decided_at = utcnow()
        application.decided_by_id = by.id
        application.decision_reason = reason
    application.events.append(ApplicationEvent(from_status=current, to_status=to_status, by_id=by.id, reason=reason))
    record(
        "application.moved",
        subject_user_id=application.student_id,
        obj=application,
        detail={"from": current, "to": to_status, "reason": reason},
    )
    return application


def _take_seat(cohort_id: int) -> None:
    # One conditional UPDATE: two coordinators admitting the last seat at once cannot both win,
    # and the CHECK constraint on cohorts backs this up in the database itself.
    taken = db.session.execute(
        sa.update(Cohort)
        .where(Cohort.id == cohort_id, Cohort.enrolled_count < Cohort.capacity)
        .values(enrolled_count=Cohort.enrolled_count + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise CohortFull("this cohort is full")


def _free_seat(cohort_id: int) -> None:
    db.session.execute(
        sa.update(Cohort)
        .where(Cohort.id == cohort_id, Cohort.enrolled_count > 0)
        .values(enrolled_count=Cohort.enrolled_count - 1)
        .execution_options(synchronize_session=False)
    )


def enroll(student: User, cohort: Cohort) -> Enrollment:
    """Enrol a trainee in a cohort, taking a seat."""
    enrollment = db.session.scalar(
        sa.select(Enrollment).where(Enrollment.student_id == student.id, Enrollment.cohort_id == cohort.id)
    )
    if enrollment is not None and enrollment.status == EnrollmentStatus.ACTIVE:
        return enrollment
    _take_seat(cohort.id)
    if enrollment is None:
        enrollment = Enrollment(student_id=student.id, cohort_id=cohort.id)
        db.session.add(enrollment)
    enrollment.status = EnrollmentStatus.ACTIVE
    enrollment.ended_at = None
    enrollment.end_reason = None
    db.session.flush()
    db.session.refresh(cohort)
    record("enrollment.enrolled", subject_user_id=student.id, obj=enrollment)
    return enrollment


def withdraw(student: User, cohort: Cohort, reason: str) -> Enrollment:
    """Withdraw a trainee from a cohort, freeing the seat; hub sign-in stops at once."""
    enrollment = db.session.scalar(
        sa.select(Enrollment).where(
            Enrollment.student_id == student.id,
            Enrollment.cohort_id == cohort.id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    )
    if enrollment is None:
        raise AdmissionsError("this trainee is not enrolled in this cohort")
    if not reason.strip():
        raise AdmissionsError("a withdrawal needs a reason")
    enrollment.status = EnrollmentStatus.WITHDRAWN
    enrollment.ended_at = utcnow()
    enrollment.end_reason = reason.strip()
    _free_seat(cohort.id)
    db.session.flush()
    db.session.refresh(cohort)
    record("enrollment.withdrawn", subject_user_id=student.id, obj=enrollment, detail={"reason": reason})
    return enrollment


def active_cohorts(student: User) -> list[Cohort]:
    """Return the cohorts the trainee is actively enrolled in."""
    return list(
        db.session.scalars(
            sa.select(Cohort)
            .join(Enrollment, Enrollment.cohort_id == Cohort.id)
            .where(Enrollment.student_id == student.id, Enrollment.status == EnrollmentStatus.ACTIVE)
        )
    )
