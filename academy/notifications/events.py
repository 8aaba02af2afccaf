"""What each event of the academy tells whom. Domain services call these; nothing here decides a rule.

Links are portal paths (the e-mail puts PORTAL_URL before them); tests open each one. The reminders (a lab due
soon, an offer expiring, a follow-up due) are made by the scheduled jobs (academy/scheduled/services.py).
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import format_datetime
from flask_babel import gettext as _

from academy.admissions.models import Application, Enrollment, EnrollmentStatus
from academy.auth.models import User
from academy.companies.models import Company, Demand
from academy.courses.models import Assignment, DueDate
from academy.extensions import db
from academy.i18n import localized
from academy.notifications.services import notify, notify_all
from academy.ui import REVIEW_STATUS_NAMES, STATUS_NAMES


def _when(moment: datetime) -> str:
    return format_datetime(moment, "yyyy-MM-dd HH:mm")


def _recruiters(company: Company) -> list[User]:
    return [u for u in company.recruiters if u.is_enabled]


def application_decided(application: Application) -> None:
    """Tell the applicant where their application now stands (admitted, waitlisted, rejected, interview...)."""
    cohort = application.cohort
    reason = application.decision_reason or ""
    notify(application.trainee, "application_decided",
           lambda: _("Your application to %(cohort)s: %(status)s", cohort=cohort.name,
                     status=STATUS_NAMES.get(application.status, application.status)),
           lambda: _("Your application to cohort %(cohort)s is now: %(status)s.", cohort=cohort.name,
                     status=STATUS_NAMES.get(application.status, application.status))
           + (("\n" + _("Reason: %(reason)s", reason=reason)) if reason else ""),
           "/admissions/mine", dedupe_key=f"application:{application.id}:{application.status}")


def assignment_released(due: DueDate) -> int:
    """Tell the cohort's active trainees that a lab is released, with its due date."""
    assignment = due.assignment
    trainees = db.session.scalars(sa.select(User).join(Enrollment, Enrollment.student_id == User.id).where(
        Enrollment.cohort_id == due.cohort_id, Enrollment.status == EnrollmentStatus.ACTIVE, User.is_enabled))
    return notify_all(trainees, "assignment_released",
                      lambda: _("Released: %(title)s", title=localized(assignment, "title")),
                      lambda: _("%(title)s is released. It is due %(due)s.", title=localized(assignment, "title"),
                                due=_when(due.due_at)),
                      f"/my/courses/{assignment.course_id}", dedupe_key=f"released:{due.id}")


def graded(trainee: User, assignment: Assignment, submission_id: int, score: float) -> None:
    """Tell a trainee their submission is graded, with the score."""
    notify(trainee, "graded",
           lambda: _("Graded: %(title)s", title=localized(assignment, "title")),
           lambda: _("%(title)s is graded: %(score)s of %(max)s points. The feedback shows each test.",
                     title=localized(assignment, "title"), score=f"{score:g}", max=f"{assignment.max_points:g}"),
           f"/my/submissions/{submission_id}/feedback", dedupe_key=f"graded:{submission_id}")


def company_reviewed(company: Company) -> None:
    """Tell a company's recruiters the office's decision on the company, with the reason of a rejection."""
    notify_all(_recruiters(company), "company_reviewed",
               lambda: _("Your company's registration: %(status)s",
                         status=REVIEW_STATUS_NAMES.get(company.status, company.status)),
               lambda: _("The academy office reviewed %(company)s: %(status)s.", company=company.name,
                         status=REVIEW_STATUS_NAMES.get(company.status, company.status))
               + (("\n" + _("Reason: %(reason)s", reason=company.review_reason)) if company.review_reason else ""),
               "/company")


def demand_reviewed(demand: Demand) -> None:
    """Tell the demand's company the office's decision on it."""
    notify_all(_recruiters(demand.company), "demand_reviewed",
               lambda: _("Demand %(title)s: %(status)s", title=demand.title,
                         status=REVIEW_STATUS_NAMES.get(demand.status, demand.status)),
               lambda: _("The academy office reviewed your demand %(title)s: %(status)s.", title=demand.title,
                         status=REVIEW_STATUS_NAMES.get(demand.status, demand.status))
               + (("\n" + _("Reason: %(reason)s", reason=demand.review_reason)) if demand.review_reason else ""),
               "/company/demands")


def shortlisted(trainee: User | None, demand: Demand, round_id: int) -> None:
    """Tell a trainee (who consented for this demand: only they can be listed) that the company shortlisted them."""
    notify(trainee, "shortlisted",
           lambda: _("Shortlisted by %(company)s", company=demand.company.name),
           lambda: _("%(company)s put you on its rank list for %(title)s. The match results come when the office "
                     "publishes the round.", company=demand.company.name, title=demand.title),
           "/my/placement", dedupe_key=f"shortlisted:{round_id}:{demand.id}")


def offer_made(trainee: User | None, demand: Demand, offer_id: int, deadline_at: datetime) -> None:
    """Tell a trainee about an offer and its deadline."""
    notify(trainee, "offer_made",
           lambda: _("Offer from %(company)s", company=demand.company.name),
           lambda: _("%(company)s offers you a place: %(title)s. Answer by %(deadline)s.",
                     company=demand.company.name, title=demand.title, deadline=_when(deadline_at)),
           "/my/placement", dedupe_key=f"offer:{offer_id}")


def offer_answered(demand: Demand, offer_id: int, trainee_name: str, accepted: bool) -> None:
    """Tell the company's recruiters that a trainee accepted or declined their offer."""
    notify_all(_recruiters(demand.company), "offer_answered",
               lambda: (_("Offer accepted: %(title)s", title=demand.title) if accepted
                        else _("Offer declined: %(title)s", title=demand.title)),
               lambda: (_("%(name)s accepted your offer for %(title)s.", name=trainee_name, title=demand.title)
                        if accepted else
                        _("%(name)s declined your offer for %(title)s.", name=trainee_name, title=demand.title)),
               "/company/placements", dedupe_key=f"offer-answered:{offer_id}")
