"""Hand submissions to the grading queue fairly: one job per trainee in the queue, newest work first.

A trainee's submission waits in the portal (status queued, no job) while a job of theirs is in the
queue; it is handed over when that job reports, or by requeue_unqueued() once the job has gone
GRADING_JOB_TIMEOUT without a result. So another trainee's first submission waits behind at most one
job of any trainee, however many they send. A waiting submission that a newer one of the same work
replaces is superseded: never graded, kept as a record.

Handing over is a claim, one conditional UPDATE, committed before the job exists: two requests (a
result arriving, a periodic requeue, a new submission) never queue the same submission twice or two
submissions of one trainee at once, and a superseded submission is never claimed (nor the other way
round). A claim whose enqueue failed is given back; one whose process died is given back after
CLAIM_TIMEOUT.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from academy.auth.models import User
from academy.config import var_dir
from academy.extensions import db
from academy.integrations.grading_queue import queue_grading_job
from academy.submissions.models import Submission, SubmissionStatus
from academy.util import utcnow

log = logging.getLogger(__name__)
# Longer than any enqueue takes (a Celery publish with its retries): a claim older than this with no job
# was left by a process that died between claiming and enqueueing.
CLAIM_TIMEOUT = timedelta(minutes=5)
IN_QUEUE = (SubmissionStatus.QUEUED.value, SubmissionStatus.GRADING.value)
Enqueuer = Callable[[Submission, dict[str, bytes]], str]


def _default_enqueue(submission: Submission, files: dict[str, bytes]) -> str:
    assignment = submission.assignment
    return queue_grading_job(
        submission_id=str(submission.id),
        course_dir=str(Path(current_app.config["COURSES_DIR"]) / assignment.course.nbgrader_course),
        assignment=assignment.nbgrader_name,
        student_id=str(submission.student_id),
        files=files,
        submitted_at=submission.received_at,
        gpu=assignment.needs_gpu,
    )


def _enqueuer() -> Enqueuer:
    return current_app.config.get("SUBMISSIONS_ENQUEUE") or _default_enqueue


def stored_files(submission: Submission) -> dict[str, bytes]:
    """Return the files of a stored submission, by their submitted names."""
    root = var_dir() / submission.stored_path / "files"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- which submissions wait and which hold a place in the queue ------------------------------


def _job_timeout() -> timedelta:
    return timedelta(seconds=current_app.config["GRADING_JOB_TIMEOUT"])


def _waiting(row, now: datetime):
    """Return the condition of a submission waiting in the portal: queued, no job, not (or no longer) claimed."""
    return sa.and_(row.status == SubmissionStatus.QUEUED.value, row.job_id.is_(None),
                   sa.or_(row.queued_at.is_(None), row.queued_at <= now - CLAIM_TIMEOUT))


def _holds_place(row, now: datetime):
    """Return the condition of a submission whose job is in the queue (or being put there) and still expected."""
    return sa.and_(row.status.in_(IN_QUEUE), row.queued_at.is_not(None),
                   sa.or_(sa.and_(row.job_id.is_not(None), row.queued_at > now - _job_timeout()),
                          sa.and_(row.job_id.is_(None), row.queued_at > now - CLAIM_TIMEOUT)))


def _has_place(student_id, now: datetime):
    """Return an EXISTS that is true when the trainee already has a job in the queue."""
    other = aliased(Submission)
    return sa.exists().where(other.student_id == student_id, _holds_place(other, now))


def supersede_waiting(student_id: int | None = None) -> int:
    """Mark superseded every waiting submission that a newer one of the same work replaces; return how many.

    Only submissions still waiting in the portal are superseded: one whose job is in the queue is graded.
    """
    now = utcnow()
    table = Submission.__table__
    newer = table.alias("newer")
    stale = sa.and_(_waiting(table.c, now), sa.exists().where(
        newer.c.student_id == table.c.student_id, newer.c.assignment_id == table.c.assignment_id,
        newer.c.id > table.c.id))
    if student_id is not None:
        stale = sa.and_(table.c.student_id == student_id, stale)
    result = db.session.execute(sa.update(table).where(stale).values(status=SubmissionStatus.SUPERSEDED.value))
    if result.rowcount:
        db.session.expire_all()  # the identity map may hold the rows just superseded
    return result.rowcount


# --- handing a submission to the queue ---------------------------------------------------------


def _claim(submission: Submission, now: datetime) -> bool:
    """Claim a waiting submission for the queue unless its trainee already has a job there; commit the claim."""
    # PostgreSQL: two claims for one trainee in two transactions take turns on the trainee's row, so the
    # second sees the first's claim (SQLite runs one writer at a time anyway).
    db.session.execute(sa.select(User.id).where(User.id == submission.student_id).with_for_update())
    table = Submission.__table__
    result = db.session.execute(
        sa.update(table).where(table.c.id == submission.id, _waiting(table.c, now),
                               ~_has_place(submission.student_id, now))
        .values(queued_at=now))
    db.session.commit()  # the claim is durable before the job exists; it also ends the row lock
    return result.rowcount == 1


def _release(submission: Submission) -> None:
    """Give a claim back after the queue refused the job, so the submission waits again."""
    table = Submission.__table__
    db.session.execute(sa.update(table).where(table.c.id == submission.id, table.c.job_id.is_(None))
                       .values(queued_at=None))
    db.session.commit()


def _hand_over(submission: Submission) -> bool:
    """Queue a claimed submission's job; return True if queued, False if the queue refused it."""
    try:
        job_id = _enqueuer()(submission, stored_files(submission))
    except Exception:  # noqa: BLE001 - a down broker must not lose the submission
        log.exception("grading queue unavailable; submission %s waits", submission.id)
        _release(submission)
        return False
    table = Submission.__table__
    db.session.execute(sa.update(table).where(table.c.id == submission.id).values(job_id=job_id))
    db.session.commit()
    db.session.refresh(submission)
    return True


def _next_waiting(student_id: int, now: datetime) -> Submission | None:
    """Return the trainee's submission that has waited longest (the newest of its assignment), if any."""
    return db.session.scalar(sa.select(Submission).where(Submission.student_id == student_id,
                                                         _waiting(Submission, now))
                             .order_by(Submission.id).limit(1))


def queue_next(trainee: User | int) -> bool | None:
    """Queue the trainee's next waiting submission unless a job of theirs is in the queue.

    Return True when a job was queued, False when the queue refused it (the broker is down), None when
    there was nothing to queue or the trainee's place in the queue is taken. Commits.
    """
    student_id = trainee if isinstance(trainee, int) else trainee.id
    supersede_waiting(student_id)
    db.session.commit()
    now = utcnow()
    submission = _next_waiting(student_id, now)
    if submission is None or not _claim(submission, now):
        return None
    return _hand_over(submission)


def requeue_unqueued(limit: int = 50, older_than: timedelta = timedelta(0)) -> int:
    """Queue the submissions that wait while their trainee has no job in the queue; return how many.

    Picks up what arrived while the broker was down and what waits behind a job that never reported (a
    dead worker, a lost message). Stops at the first refusal: the broker is still down. Claims make it
    safe to run beside the requests that queue work themselves. Commits.
    """
    supersede_waiting()
    db.session.commit()
    now = utcnow()
    first = (sa.select(sa.func.min(Submission.id).label("id"))
             .where(_waiting(Submission, now), Submission.received_at <= now - older_than,
                    ~_has_place(Submission.student_id, now))
             .group_by(Submission.student_id).subquery())
    ids = list(db.session.scalars(sa.select(first.c.id).order_by(first.c.id).limit(limit)))
    queued = 0
    for submission_id in ids:
        submission = db.session.get(Submission, submission_id)
        if submission is None or not _claim(submission, now):
            continue  # someone else queued it (or its trainee's next one) meanwhile
        if not _hand_over(submission):
            break  # still down: try again later
        queued += 1
    return queued


def drain_backlog() -> None:
    """Queue a few waiting submissions now that the queue is seen to work; a failure waits for the next try."""
    try:
        requeue_unqueued(limit=20)
    except Exception:  # noqa: BLE001 - the caller's own request has succeeded; the next one (or cron) tries again
        db.session.rollback()
        log.exception("requeue of waiting submissions failed")


def queue_after_result(student_id: int) -> None:
    """Queue the trainee's next waiting submission once a result freed their place, then anything else waiting."""
    try:
        queued = queue_next(student_id)
    except Exception:  # noqa: BLE001 - the result is recorded; the periodic requeue queues it later
        db.session.rollback()
        log.exception("queueing the next submission of trainee %s failed", student_id)
        return
    if queued:  # the queue works: anything else that waits for it goes in now
        drain_backlog()
