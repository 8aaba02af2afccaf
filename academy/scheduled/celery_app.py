"""The Celery application of the portal's periodic jobs: beat fires them, a portal worker runs them.

    celery -A academy.scheduled.celery_app beat -s var/celerybeat-schedule
    celery -A academy.scheduled.celery_app worker -Q portal --concurrency 1

Same broker as the grading workers (ACADEMY_BROKER_URL, else the SQLite file beside the results), but the jobs go
to their own queue, "portal", which only the portal worker reads: that worker runs with the portal's settings
(its database, its secrets) and never grades; the sandboxed grading workers read cpu and gpu and never see a job
of the portal's. Each task runs its job inside the portal's application, built once per worker process.
"""
from __future__ import annotations

from celery import Celery
from flask import Flask
from kombu import Queue

from academy import create_app
from academy.integrations.grading_queue import grading_broker_url
from academy.scheduled import jobs

QUEUE = "portal"
# A firing left unread this long (the portal worker was down) is dropped rather than run late: the job's next
# firing does the same work, and a backlog of one job must not run many times in a row when the worker returns.
EXPIRES = 3600

app = Celery("academy.scheduled", broker=grading_broker_url())
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,  # a job's summary goes to the worker's log
    task_default_queue=QUEUE,
    task_queues=(Queue(QUEUE),),
    # The schedule's hours are Seoul's (a purge "at 03:30" is 03:30 in Gyeongnam).
    timezone=jobs.ZONE,
    enable_utc=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    beat_schedule={
        job.name: {"task": f"academy.scheduled.{job.name}", "schedule": job.schedule, "options": {"queue": QUEUE, "expires": EXPIRES}}
        for job in jobs.JOBS.values()
    },
)

_portal: Flask | None = None


def portal() -> Flask:
    """Return this process's portal application (built on first use, with the portal's own settings)."""
    global _portal
    if _portal is None:
        _portal = create_app()
    return _portal


def _task(name: str):
    def run_job() -> str:
        with portal().app_context():
            return jobs.run(name)
    run_job.__doc__ = f"Run the scheduled job {name}."
    # Not shared: the grading workers' application must not even know these tasks.
    return app.task(name=f"academy.scheduled.{name}", ignore_result=True, shared=False)(run_job)


TASKS = {name: _task(name) for name in jobs.JOBS}
