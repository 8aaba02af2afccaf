"""Reminders the schedule sends: for each, one function that says who should get it and one that sends it.

Recipients leave out whoever already got the reminder for the same occasion (recorded in sent_reminders), so
a second run finds no one. Sending records the reminder and writes the e-mail in the caller's transaction; a
unique key on the record makes a second run at the same moment skip instead of sending again. Each e-mail is
in the recipient's language (their saved one, else Korean), with times in Seoul time.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import calendar
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, gettext as _

from academy.admissions.models import Enrollment, EnrollmentStatus
from academy.auth.models import User
from academy.companies.models import Demand
from academy.courses.models import Assignment, Course, DueDate, Extension, course_cohorts
from academy.extensions import db
from academy.notifications.services import notify
from academy.placements.models import FOLLOW_UP_MONTHS, FollowUp, Offer, OfferStatus, Placement, PlacementStatus
from academy.policy import Role
from academy.scheduled.models import SentReminder
from academy.submissions.models import Submission

OFFER_EXPIRING = "offer_expiring"
ASSIGNMENT_DUE = "assignment_due"
FOLLOW_UP_DUE = "follow_up_due"
OFFER_NOTICE = timedelta(hours=24)  # an open offer is recalled to its trainee this long before its deadline
DUE_NOTICE = timedelta(hours=48)  # a released assignment is recalled to who has not submitted this long before due
SUBJECT_PREFIX = "[경남AI혁신아카데미]"


# --- shared ------------------------------------------------------------------------------------


def _already_sent(kind: str, object_id, user_id, window) -> sa.Exists:
    return sa.exists().where(SentReminder.kind == kind, SentReminder.object_id == object_id,
                             SentReminder.user_id == user_id, SentReminder.window == window)


def _seoul(moment: datetime) -> str:
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") + " (KST)"


def _link(endpoint: str, **values) -> str:
    """Return the portal's public address of a page (jobs run outside any request)."""
    base = urlsplit(current_app.config["PORTAL_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "http")
    return adapter.build(endpoint, values, force_external=True)


def _language(user: User) -> str:
    return user.locale if user.locale in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def add_months(moment: datetime, months: int) -> datetime:
    """Return the same day and time `months` later (the month's last day where it is shorter)."""
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


# The notification kind each reminder is (academy.notifications: kept under the bell, e-mailed unless turned off).
NOTIFICATION_KIND = {OFFER_EXPIRING: "offer_expiring", ASSIGNMENT_DUE: "due_soon", FOLLOW_UP_DUE: "follow_up_due"}


def _remind(kind: str, object_id: int, user: User, window: str, write: Callable[[], tuple[str, str, str]]) -> bool:
    """Record the reminder and notify the user in their language (under the bell, and by e-mail unless they
    turned that kind off); False if it was sent already."""
    try:
        with db.session.begin_nested():
            reminder = SentReminder(kind=kind, object_id=object_id, user_id=user.id, window=window)
            db.session.add(reminder)
            db.session.flush()
    except sa.exc.IntegrityError:
        return False  # another run sent it meanwhile
    with force_locale(_language(user)):
        subject, body, url = write()
    note = notify(user, NOTIFICATION_KIND[kind], f"{SUBJECT_PREFIX} {subject}", body, urlsplit(url).path)
    reminder.mail_id = note.mail_id if note is not None else None
    return True


# --- an offer expiring within 24 hours, to its trainee -------------------------------------------


def offer_expiring_recipients(now: datetime) -> list[tuple[Offer, User]]:
    """Return (offer, trainee) for open offers whose deadline falls within the next 24 hours, not yet reminded."""
    rows = db.session.execute(
        sa.select(Offer, User).join(User, User.id == Offer.student_id)
        .where(Offer.status == OfferStatus.OPEN, Offer.deadline_at > now, Offer.deadline_at <= now + OFFER_NOTICE,
               User.is_enabled.is_(True))
        .order_by(Offer.id)).all()
    return [(offer, trainee) for offer, trainee in rows
            if not db.session.scalar(sa.select(_already_sent(OFFER_EXPIRING, offer.id, trainee.id,
                                                             _offer_window(offer))))]


def _offer_window(offer: Offer) -> str:
    return offer.deadline_at.strftime("%Y-%m-%dT%H:%M")


def send_offer_expiring(offer: Offer, trainee: User) -> bool:
    """Remind the trainee that their offer closes soon; False if already reminded."""
    def write() -> tuple[str, str, str]:
        company = offer.demand.company.name
        return (_("Your offer from %(company)s closes within 24 hours", company=company),
                _("Your offer from %(company)s for \"%(title)s\" is open until %(deadline)s. Accept or decline "
                  "it before then; afterwards it expires and the place goes to someone else.",
                  company=company, title=offer.demand.title, deadline=_seoul(offer.deadline_at)),
                _link("placements.my_placement"))
    return _remind(OFFER_EXPIRING, offer.id, trainee, _offer_window(offer), write)


def remind_offers_expiring(now: datetime) -> int:
    """Send every due offer reminder; return how many went."""
    return sum(send_offer_expiring(offer, trainee) for offer, trainee in offer_expiring_recipients(now))


# --- an assignment due within 48 hours, to trainees who have not submitted -------------------------


@dataclass(frozen=True)
class DueSoon:
    assignment: Assignment
    trainee: User
    due_at: datetime


def _due_window(due_at: datetime) -> str:
    return due_at.strftime("%Y-%m-%dT%H:%M")


def assignment_due_recipients(now: datetime) -> list[DueSoon]:
    """Return each active trainee whose released assignment is due for them within 48 hours and who has not
    submitted it (their own extension, if any, sets their due date), not yet reminded of that due date."""
    soon = now + DUE_NOTICE
    rows = db.session.execute(
        sa.select(Assignment, User, DueDate.due_at, Extension.due_at)
        .join(DueDate, DueDate.assignment_id == Assignment.id)
        # Only cohorts the course still has, of a course not archived (as every page that shows due dates).
        .join(course_cohorts, sa.and_(course_cohorts.c.course_id == Assignment.course_id,
                                      course_cohorts.c.cohort_id == DueDate.cohort_id))
        .join(Course, sa.and_(Course.id == Assignment.course_id, Course.archived_at.is_(None)))
        .join(Enrollment, sa.and_(Enrollment.cohort_id == DueDate.cohort_id,
                                  Enrollment.status == EnrollmentStatus.ACTIVE.value))
        .join(User, User.id == Enrollment.student_id)
        .outerjoin(Extension, sa.and_(Extension.assignment_id == Assignment.id, Extension.student_id == User.id))
        .where(DueDate.released_at.is_not(None), DueDate.released_at <= now, User.is_enabled.is_(True),
               User.role == Role.STUDENT.value,
               ~sa.exists().where(Submission.assignment_id == Assignment.id, Submission.student_id == User.id))
        .order_by(Assignment.id, User.id)).all()
    latest: dict[tuple[int, int], DueSoon] = {}
    for assignment, trainee, cohort_due, extended in rows:
        due_at = extended or cohort_due  # in two cohorts of the course: the later date, as due_for() says
        key = (assignment.id, trainee.id)
        if key not in latest or (extended is None and due_at > latest[key].due_at):
            latest[key] = DueSoon(assignment, trainee, due_at)
    return [d for d in latest.values() if now < d.due_at <= soon and not db.session.scalar(
        sa.select(_already_sent(ASSIGNMENT_DUE, d.assignment.id, d.trainee.id, _due_window(d.due_at))))]


def send_assignment_due(due: DueSoon) -> bool:
    """Remind a trainee that an assignment they have not submitted is due soon; False if already reminded."""
    assignment = due.assignment

    def write() -> tuple[str, str, str]:
        title = assignment.title_ko if _language(due.trainee) == "ko" else assignment.title_en
        return (_("\"%(title)s\" is due within 48 hours", title=title),
                _("\"%(title)s\" is due on %(due)s and we have not received your submission yet. Submit it from "
                  "JupyterLab before then; late work loses points.", title=title, due=_seoul(due.due_at)),
                _link("courses.trainee_course", course_id=assignment.course_id))
    return _remind(ASSIGNMENT_DUE, assignment.id, due.trainee, _due_window(due.due_at), write)


def remind_assignments_due(now: datetime) -> int:
    """Send every due assignment reminder; return how many went."""
    return sum(send_assignment_due(due) for due in assignment_due_recipients(now))


# --- a placement's 3-, 6- or 12-month follow-up, to the company's recruiters and the office ------------------


@dataclass(frozen=True)
class FollowUpDue:
    placement: Placement
    months: int
    recipient: User


def follow_up_recipients(now: datetime) -> list[FollowUpDue]:
    """Return, for each started placement whose latest follow-up due by now is not recorded, its company's
    recruiters and the office, not yet reminded of that follow-up. A later follow-up recorded answers the earlier
    ones; an ended placement (a follow-up said not employed) and an anonymised one need none."""
    placements = db.session.scalars(sa.select(Placement).where(
        Placement.status == PlacementStatus.STARTED.value, Placement.started_at.is_not(None),
        Placement.student_id.is_not(None)).order_by(Placement.id))
    office = list(db.session.scalars(sa.select(User).where(User.role == Role.ADMIN.value, User.is_enabled.is_(True))
                                     .order_by(User.id)))
    due: list[FollowUpDue] = []
    for placement in placements:
        months = max((m for m in FOLLOW_UP_MONTHS if add_months(placement.started_at, m) <= now), default=0)
        if not months or db.session.scalar(sa.select(FollowUp.id).where(
                FollowUp.placement_id == placement.id, FollowUp.months >= months).limit(1)):
            continue
        recruiters = db.session.scalars(sa.select(User).join(Demand, Demand.company_id == User.company_id).where(
            Demand.id == placement.demand_id, User.role == Role.RECRUITER.value, User.is_enabled.is_(True))
            .order_by(User.id))
        for user in [*recruiters, *office]:
            if not db.session.scalar(sa.select(_already_sent(FOLLOW_UP_DUE, placement.id, user.id, f"{months}m"))):
                due.append(FollowUpDue(placement, months, user))
    return due


def send_follow_up_due(due: FollowUpDue) -> bool:
    """Ask for a placement's follow-up (no trainee's name in the e-mail: the link shows it to those who may see it)."""
    placement = due.placement

    def write() -> tuple[str, str, str]:
        demand = placement.demand
        return (_("The %(months)d-month follow-up of a placement is due", months=due.months),
                _("The placement at %(company)s for \"%(title)s\" started on %(start)s. Please record its "
                  "%(months)d-month follow-up (is the trainee still employed?).", company=demand.company.name,
                  title=demand.title, start=_seoul(placement.started_at)[:10], months=due.months),
                _link("placements.placement_detail", placement_id=placement.id))
    return _remind(FOLLOW_UP_DUE, placement.id, due.recipient, f"{due.months}m", write)


def remind_follow_ups(now: datetime) -> int:
    """Send every due follow-up reminder; return how many went."""
    return sum(send_follow_up_due(due) for due in follow_up_recipients(now))
