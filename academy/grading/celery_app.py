"""The Celery application of the grading workers.

Start a worker with:  celery -A academy.grading.celery_app worker -Q cpu --concurrency <cores>
(GPU nodes: -Q gpu --concurrency <GPUs>). Settings come from the environment:
ACADEMY_BROKER_URL (default: a SQLite file, no server), ACADEMY_BROKER_VISIBILITY_TIMEOUT.
"""
from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

from academy.grading.settings import put_venv_on_path, settings
from academy.grading.store import grading_dir

put_venv_on_path()  # before any job runs: nbgrader's `alembic` must be this venv's


def broker_url() -> str:
    """Return the broker: ACADEMY_BROKER_URL, else a SQLite file beside the results (no server)."""
    return settings.broker_url or f"sqla+sqlite:///{grading_dir() / 'broker.sqlite'}"


# metrics: the job signals and the metrics port (academy.grading.metrics).
app = Celery("academy.grading", broker=broker_url(), include=["academy.grading.tasks", "academy.grading.metrics"])
app.conf.update(
    # A job is acknowledged only when it is done; a worker that dies mid-job leaves it to run again.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # One job at a time per process: a grading job is long and must not wait behind another.
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    # Results go to the portal through the reporter and to the result store, not to Celery.
    task_ignore_result=True,
    task_default_queue="cpu",
    task_queues=(Queue("cpu"), Queue("gpu")),
    worker_concurrency=os.cpu_count() or 1,
    # Redis redelivers a job not acknowledged within this many seconds (a dead worker's job). It
    # must exceed the longest job, or a running job is handed out twice (which is safe: the
    # result store grades each submission once, but it wastes a slot).
    broker_transport_options=(
        {"visibility_timeout": settings.broker_visibility_timeout}
        if broker_url().startswith(("redis://", "rediss://")) else {}  # sqla passes these to SQLAlchemy
    ),
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
