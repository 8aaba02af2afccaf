"""Admissions rules: applications move only along TRANSITIONS; cohorts never exceed capacity."""
from __future__ import annotations

import sqlalchemy as sa
from flask import has_request_context
from flask_babel import gettext
from sqlalchemy.orm import contains_eager, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

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
from academy.notifications import events
from academy.universities.models import Cohort
from academy.util import utcnow

# Statuses an application is still waiting in for a decision.
OPEN_STATUSES = ("submitted", "under_review", "interview", "waitlisted")
# The list filter that stands for all of OPEN_STATUSES.
WAITING = "waiting"


def _(message: str, **values: object) -> str:
    """Translate a message while answering a request; plain English on the command line."""
    # The locale selector reads the session, which only exists inside a request.
    if has_request_context():
        return gettext(message, **values)
    return message % values if values else message


class AdmissionsError(ValueError):
    """A request that breaks an admissions rule; the message is shown to the user."""


class CohortFull(AdmissionsError):
    pass


class InvalidTransition(AdmissionsError):
    pass


class AlreadyApplied(AdmissionsError):
    pass


class NotYourRecord(AdmissionsError):
    """The record belongs to another university or another trainee."""


def submit_application(trainee: User, cohort: Cohort, motivation: str, background: str = "") -> Application:
    """File a trainee's application to an open cohort."""
    if trainee.role != "student":
        raise AdmissionsError(_("Only trainees apply to a cohort."))
    if not cohort.is_open:
        raise AdmissionsError(_("This cohort is not taking applications."))
    motivation = (motivation or "").strip()
    if not motivation:
        raise AdmissionsError(_("Tell us why you want to join."))
    exists = db.session.scalar(
        sa.select(Application.id).where(Application.student_id == trainee.id, Application.cohort_id == cohort.id)
    )
    if exists:
        raise AlreadyApplied(_("You already applied to this cohort."))
    application = Application(
        trainee=trainee, cohort=cohort, motivation=motivation, background=(background or "").strip()
    )
    application.events.append(ApplicationEvent(from_status=None, to_status="submitted", by_id=trainee.id))
    db.session.add(application)
    db.session.flush()
    record("application.submitted", subject_user_id=trainee.id, obj=application)
    return application


def next_steps(application: Application, *, for_coordinator: bool) -> list[str]:
    """Return the statuses the application may move to next, in workflow order."""
    allowed = TRANSITIONS.get(application.status, set())
    if for_coordinator:
        # Withdrawing is the trainee's act; a coordinator ends an enrolment from the roster.
        allowed = allowed - {ApplicationStatus.WITHDRAWN}
    return [s for s in ApplicationStatus if s in allowed]


def move_application(application: Application, to_status: str, by: User, reason: str | None) -> Application:
    """Move an application to its next status; decisions need a reason and enrol when admitted."""
    current = application.status
    if to_status not in TRANSITIONS.get(current, set()):
        raise InvalidTransition(_("An application cannot go from %(a)s to %(b)s.", a=current, b=to_status))
    reason = (reason or "").strip() or None
    if to_status in DECISIONS and not reason:
        raise AdmissionsError(_("A decision needs a reason."))
    values: dict[str, object] = {"status": to_status}
    if to_status in DECISIONS:
        values.update(decided_at=utcnow(), decided_by_id=by.id, decision_reason=reason)
    # Claim the step with a conditional UPDATE: of two people moving the same application at
    # once, the second finds it no longer in `current` and is told so, instead of acting twice.
    claimed = db.session.execute(
        sa.update(Application)
        .where(Application.id == application.id, Application.status == current)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise InvalidTransition(_("This application was changed meanwhile: reload the page."))
    for key, value in values.items():
        set_committed_value(application, key, value)
    if to_status == ApplicationStatus.ADMITTED:
        enroll(application.trainee, application.cohort)
    if current == ApplicationStatus.ADMITTED and to_status == ApplicationStatus.WITHDRAWN:
        withdraw(application.trainee, application.cohort, reason or "application withdrawn")
    application.events.append(ApplicationEvent(from_status=current, to_status=to_status, by_id=by.id, reason=reason))
    db.session.flush()
    record(
        "application.moved",
        subject_user_id=application.student_id,
        obj=application,
        detail={"from": current, "to": to_status, "reason": reason},
    )
    return application


# The steps an applicant hears about (a review starting is not news to them).
TOLD_TO_APPLICANT = frozenset({ApplicationStatus.INTERVIEW, ApplicationStatus.ADMITTED, ApplicationStatus.WAITLISTED,
                               ApplicationStatus.REJECTED})


def decide(application: Application, to_status: str, coordinator: User, reason: str | None) -> Application:
    """Move an application of the coordinator's own university (never withdraw it for the trainee)."""
    check_coordinator(coordinator, application.cohort)
    if to_status not in next_steps(application, for_coordinator=True):
        raise InvalidTransition(
            _("An application cannot go from %(a)s to %(b)s.", a=application.status, b=to_status)
        )
    moved = move_application(application, to_status, coordinator, reason)
    if to_status in TOLD_TO_APPLICANT:
        events.application_decided(moved)
    return moved


def withdraw_application(application: Application, trainee: User, reason: str | None = None) -> Application:
    """Let a trainee withdraw their own application (and their seat, when admitted)."""
    if application.student_id != trainee.id:
        raise NotYourRecord(_("This is not your application."))
    if not can_withdraw(application):
        raise InvalidTransition(_("This application can no longer be withdrawn."))
    return move_application(application, ApplicationStatus.WITHDRAWN, trainee, reason)


def can_withdraw(application: Application) -> bool:
    """Return True while the trainee may still withdraw the application."""
    return ApplicationStatus.WITHDRAWN in TRANSITIONS.get(application.status, set())


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
        raise CohortFull(_("This cohort is full: no seat is left."))


def _free_seat(cohort_id: int) -> None:
    db.session.execute(
        sa.update(Cohort)
        .where(Cohort.id == cohort_id, Cohort.enrolled_count > 0)
        .values(enrolled_count=Cohort.enrolled_count - 1)
        .execution_options(synchronize_session=False)
    )


def enroll(trainee: User, cohort: Cohort) -> Enrollment:
    """Enrol a trainee in a cohort, taking a seat."""
    enrollment = db.session.scalar(
        sa.select(Enrollment).where(Enrollment.student_id == trainee.id, Enrollment.cohort_id == cohort.id)
    )
    if enrollment is not None and enrollment.status == EnrollmentStatus.ACTIVE:
        return enrollment
    _take_seat(cohort.id)
    if enrollment is None:
        enrollment = Enrollment(student_id=trainee.id, cohort_id=cohort.id)
        db.session.add(enrollment)
    enrollment.status = EnrollmentStatus.ACTIVE
    enrollment.ended_at = None
    enrollment.end_reason = None
    db.session.flush()
    db.session.refresh(cohort)
    record("enrollment.enrolled", subject_user_id=trainee.id, obj=enrollment)
    return enrollment


def enroll_new_trainees(trainees: list[User], cohort: Cohort) -> list[Enrollment]:
    """Enrol trainees who have no enrolment in the cohort yet, taking all their seats or none."""
    if not trainees:
        return []
    # The same conditional UPDATE as for one seat, for n seats at once: a file of trainees
    # either fits in the seats left or takes none of them.
    n = len(trainees)
    taken = db.session.execute(
        sa.update(Cohort)
        .where(Cohort.id == cohort.id, Cohort.enrolled_count + n <= Cohort.capacity)
        .values(enrolled_count=Cohort.enrolled_count + n)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise CohortFull(_("This cohort is full: no seat is left."))
    enrollments = [Enrollment(student_id=s.id, cohort_id=cohort.id, status=EnrollmentStatus.ACTIVE) for s in trainees]
    db.session.add_all(enrollments)
    db.session.flush()
    db.session.refresh(cohort)
    for enrollment in enrollments:
        record("enrollment.enrolled", subject_user_id=enrollment.student_id, obj=enrollment)
    return enrollments


def withdraw(trainee: User, cohort: Cohort, reason: str) -> Enrollment:
    """Withdraw a trainee from a cohort, freeing the seat; hub sign-in stops at once."""
    enrollment = db.session.scalar(
        sa.select(Enrollment).where(
            Enrollment.student_id == trainee.id,
            Enrollment.cohort_id == cohort.id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    )
    if enrollment is None:
        raise AdmissionsError(_("This trainee is not enrolled in this cohort."))
    if not (reason or "").strip():
        raise AdmissionsError(_("A withdrawal needs a reason."))
    enrollment.status = EnrollmentStatus.WITHDRAWN
    enrollment.ended_at = utcnow()
    enrollment.end_reason = reason.strip()
    _free_seat(cohort.id)
    db.session.flush()
    db.session.refresh(cohort)
    record("enrollment.withdrawn", subject_user_id=trainee.id, obj=enrollment, detail={"reason": reason})
    return enrollment


def withdraw_trainee(enrollment: Enrollment, coordinator: User, reason: str) -> Enrollment:
    """End an enrolment from the roster; the admitted application is marked withdrawn with it."""
    check_coordinator(coordinator, enrollment.cohort)
    if not (reason or "").strip():
        raise AdmissionsError(_("A withdrawal needs a reason."))
    application = db.session.scalar(
        sa.select(Application).where(
            Application.student_id == enrollment.student_id,
            Application.cohort_id == enrollment.cohort_id,
            Application.status == ApplicationStatus.ADMITTED,
        )
    )
    if application is not None and enrollment.status == EnrollmentStatus.ACTIVE:
        move_application(application, ApplicationStatus.WITHDRAWN, coordinator, reason)
        return enrollment
    return withdraw(enrollment.trainee, enrollment.cohort, reason)


def check_coordinator(coordinator: User, cohort: Cohort) -> None:
    """Refuse a coordinator any cohort outside their own university."""
    if coordinator.university_id is None or cohort.university_id != coordinator.university_id:
        raise NotYourRecord(_("This cohort belongs to another university."))


def active_cohorts(trainee: User) -> list[Cohort]:
    """Return the cohorts the trainee is actively enrolled in."""
    return list(
        db.session.scalars(
            sa.select(Cohort)
            .join(Enrollment, Enrollment.cohort_id == Cohort.id)
            .where(Enrollment.student_id == trainee.id, Enrollment.status == EnrollmentStatus.ACTIVE)
        )
    )


# --- queries for the list pages -----------------------------------------------------------


def university_cohorts(university_id: int) -> list[Cohort]:
    """Return a university's cohorts, newest first."""
    return list(
        db.session.scalars(
            sa.select(Cohort).where(Cohort.university_id == university_id).order_by(Cohort.year.desc(), Cohort.name)
        )
    )


def open_application_counts(university_id: int) -> dict[int, int]:
    """Return, per cohort of the university, how many applications still wait for a decision."""
    rows = db.session.execute(
        sa.select(Application.cohort_id, sa.func.count(Application.id))
        .join(Cohort, Cohort.id == Application.cohort_id)
        .where(Cohort.university_id == university_id, Application.status.in_(OPEN_STATUSES))
        .group_by(Application.cohort_id)
    )
    return {cohort_id: n for cohort_id, n in rows}


def applications_query(university_id: int, cohort_id: int | None = None, status: str | None = None) -> sa.Select:
    """Select the applications to a university's cohorts, optionally of one cohort or status (or WAITING)."""
    query = (
        sa.select(Application)
        .join(Cohort, Cohort.id == Application.cohort_id)
        .join(User, User.id == Application.student_id)
        .where(Cohort.university_id == university_id)
        .options(contains_eager(Application.trainee))  # each row names its trainee
    )
    if cohort_id is not None:
        query = query.where(Application.cohort_id == cohort_id)
    if status == WAITING:
        query = query.where(Application.status.in_(OPEN_STATUSES))
    elif status is not None:
        query = query.where(Application.status == status)
    return query


def roster_query(cohort: Cohort, status: str | None = EnrollmentStatus.ACTIVE) -> sa.Select:
    """Select a cohort's enrolments (active ones by default) joined with the trainees."""
    query = (sa.select(Enrollment).join(User, User.id == Enrollment.student_id)
             .options(contains_eager(Enrollment.trainee))  # the trainee of every row, in the same query
             .where(Enrollment.cohort_id == cohort.id))
    if status is not None:
        query = query.where(Enrollment.status == status)
    return query


def record_roster_view(cohort: Cohort, student_ids: list[int]) -> None:
    """Log one view of a cohort's roster (names, e-mail addresses, enrolment) listing the trainees shown."""
    record("personal_data.viewed", obj=cohort,
           detail={"what": "roster", "cohort_id": cohort.id, "student_ids": sorted(student_ids)}, kept=True)


def open_cohorts() -> list[Cohort]:
    """Return the cohorts taking applications, newest first."""
    return list(
        db.session.scalars(
            sa.select(Cohort).where(Cohort.is_open.is_(True)).order_by(Cohort.year.desc(), Cohort.university_id, Cohort.name)
        )
    )


def applications_of(trainee: User) -> list[Application]:
    """Return a trainee's applications, newest first."""
    return list(
        db.session.scalars(
            sa.select(Application).where(Application.student_id == trainee.id)
            .options(joinedload(Application.cohort).joinedload(Cohort.university),  # shown on each
                     selectinload(Application.events))
            .order_by(Application.submitted_at.desc())
        )
    )
