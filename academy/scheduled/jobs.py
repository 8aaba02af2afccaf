"""The portal's periodic jobs: what each does, when beat fires it (Seoul time), and how to run one.

Each job is a function of the current time that returns a one-line summary. run() is the one way to run one (the
Celery task and the CLI command both call it): one transaction per job, committed at the end, rolled back on
error. Every job is idempotent: run twice, the second run sends nothing and changes nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from celery.schedules import crontab

from academy.extensions import db
from academy.placements.offers import expire_offers
from academy.placements.retention import purge_expired
from academy.scheduled import services
from academy.submissions.queue import requeue_unqueued
from academy.util import utcnow

ZONE = "Asia/Seoul"  # beat reads every crontab below in this zone (celery_app sets it)
REQUEUE_LIMIT = 500  # submissions handed to the grading queue per run at most


class UnknownJob(LookupError):
    """No job has that name."""


@dataclass(frozen=True)
class Job:
    name: str
    work: Callable[[datetime], str]
    schedule: crontab
    when: str  # the schedule in words, for `flask academy scheduled list` and the README


def _expire_offers(now: datetime) -> str:
    return f"expired {expire_offers(now)} offer(s)"


def _remind_offers(now: datetime) -> str:
    return f"sent {services.remind_offers_expiring(now)} offer reminder(s)"


def _remind_due(now: datetime) -> str:
    return f"sent {services.remind_assignments_due(now)} due-date reminder(s)"


def _remind_follow_ups(now: datetime) -> str:
    return f"sent {services.remind_follow_ups(now)} follow-up reminder(s)"


def _purge(now: datetime) -> str:
    # Retention dates are days in Seoul: a round kept "until 12 March" is purged from 13 March, Seoul time.
    purged = purge_expired(now.astimezone(ZoneInfo(ZONE)).date())
    return f"purged {len(purged)} round(s)"


def _requeue(now: datetime) -> str:  # noqa: ARG001 - every job takes the time; the queue reads its own clock
    return f"queued {requeue_unqueued(limit=REQUEUE_LIMIT)} waiting submission(s)"


JOBS: dict[str, Job] = {job.name: job for job in (
    # Offers past their deadline (23:59:59 Seoul on their day) are marked expired, every 15 minutes.
    Job("expire-offers", _expire_offers, crontab(minute="*/15"), "every 15 minutes"),
    # An open offer's trainee is reminded once, within the 24 hours before its deadline: hourly, at :05.
    Job("remind-offers", _remind_offers, crontab(minute=5), "hourly at :05"),
    # Trainees who have not submitted are reminded once, within the 48 hours before their due date: hourly, at :10.
    Job("remind-due", _remind_due, crontab(minute=10), "hourly at :10"),
    # Companies and the office are asked for a placement's 3-, 6- and 12-month follow-up: daily at 09:00.
    Job("remind-follow-ups", _remind_follow_ups, crontab(hour=9, minute=0), "daily at 09:00"),
    # Match rounds past their retention date lose their personal data (PIPA): daily at 03:30, when no one works.
    Job("purge-expired", _purge, crontab(hour=3, minute=30), "daily at 03:30"),
    # Submissions that wait (broker down, a job lost) are handed to the grading queue: every 5 minutes.
    Job("requeue-submissions", _requeue, crontab(minute="*/5"), "every 5 minutes"),
)}


def find_job(name: str) -> Job:
    """Return the job of that name, else raise UnknownJob."""
    try:
        return JOBS[name]
    except KeyError:
        raise UnknownJob(name) from None


def run(name: str, now: datetime | None = None) -> str:
    """Run one job in one transaction and commit it; return its summary. Call inside the portal's app context."""
    job = find_job(name)
    try:
        summary = job.work(now or utcnow())
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return summary
