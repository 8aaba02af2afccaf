"""Grading jobs on the queue: submit a job, grade it once, report it to the portal.

Every job that starts is journalled in <grading dir>/pending until its result is stored and
reported. Brokers that redeliver a dead worker's job (Redis) do so themselves; for the
no-server default, whose transport forgets a fetched job, a starting worker re-queues the
journalled jobs that no live process is grading.
"""
from __future__ import annotations

import fcntl
import json
import logging
import shutil
import time
import threading
import tomllib
from pathlib import Path
from typing import Any

from celery.signals import worker_init, worker_process_init, worker_ready

from academy.grading import untrusted
from academy.grading.celery_app import app
from academy.grading.forkserver import ForkServerUnavailable, fork_server_enabled, fork_server_for
from academy.grading.grader import grade_submission, scratch_root
from academy.grading.jobs import GradingJob
from academy.grading.report import ReportFailed, load_reporter
from academy.grading.sandbox import unmount_stale_boxes
from academy.grading.settings import settings
from academy.grading.store import ResultStore, grading_dir, safe_key

log = logging.getLogger(__name__)
STALE_SCRATCH_SECONDS = 6 * 3600
MAX_SYLLABUS_BYTES = 1024 * 1024  # a real syllabus is a few KB


def assignment_needs_gpu(course_dir: str | Path, assignment: str) -> bool:
    """Return the `gpu` flag of an assignment in the course's syllabus.toml (False if absent or unreadable)."""
    path = Path(course_dir).resolve() / "syllabus.toml"
    try:  # course authors write this folder: a link, FIFO or huge file there is refused, never followed
        syllabus = tomllib.loads(untrusted.read_file(path, MAX_SYLLABUS_BYTES).decode("utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        log.error("syllabus %s not read (the job's own gpu flag decides its queue): %s", path, exc)
        return False
    entries = syllabus.get("assignment", [])
    return isinstance(entries, list) and any(
        isinstance(a, dict) and a.get("name") == assignment and bool(a.get("gpu")) for a in entries)


def queue_for(job: GradingJob) -> str:
    """Return the queue of a job: 'gpu' when the job or its syllabus entry asks for a GPU."""
    return "gpu" if job.gpu or assignment_needs_gpu(job.course_dir, job.assignment) else "cpu"


def submit(job: GradingJob) -> str:
    """Queue a job for grading and return the Celery task id."""
    if queue_for(job) == "gpu" and not job.gpu:
        job = GradingJob.from_dict({**job.to_dict(), "gpu": True})
    return grade.apply_async(args=[job.to_dict()], queue=queue_for(job)).id


def _pending(submission_id: str) -> Path:
    path = grading_dir() / "pending"
    path.mkdir(parents=True, exist_ok=True)
    return path / f"{safe_key(submission_id)}.json"


@app.task(name="academy.grading.grade", bind=True, acks_late=True, reject_on_worker_lost=True,
          autoretry_for=(ReportFailed,), retry_backoff=5, retry_backoff_max=600, max_retries=12)
def grade(self: Any, job_data: dict[str, Any]) -> dict[str, Any]:
    """Grade one submission (once, whatever the deliveries) and report the result."""
    job = GradingJob.from_dict(job_data)
    pending = _pending(job.submission_id)
    pending.write_text(json.dumps(job_data))
    result = grade_submission(job, ResultStore())
    load_reporter()(result)
    pending.unlink(missing_ok=True)
    return {"submission_id": result.submission_id, "status": result.status}


def _being_graded(submission_id: str) -> bool:
    lock = grading_dir() / "locks" / f"{safe_key(submission_id)}.lock"
    if not lock.exists():
        return False
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def requeue_orphans() -> int:
    """Queue again the journalled jobs that no process is grading; return how many."""
    count = 0
    for path in sorted((grading_dir() / "pending").glob("*.json")):
        try:
            job = GradingJob.from_dict(json.loads(path.read_text()))
        except (ValueError, KeyError, OSError):
            log.error("unreadable journal entry %s left in place", path)
            continue
        if _being_graded(job.submission_id):
            continue
        path.unlink(missing_ok=True)
        submit(job)
        count += 1
    return count


def sweep_scratch(older_than: float = STALE_SCRATCH_SECONDS) -> None:
    """Remove job folders left behind by killed workers."""
    cutoff = time.time() - older_than
    unmount_stale_boxes(scratch_root())  # a killed worker's job box (a tmpfs) would keep its memory
    for entry in scratch_root().iterdir():
        if entry.stat().st_mtime >= cutoff:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:  # fork server logs of stopped workers
            entry.unlink(missing_ok=True)


@worker_process_init.connect
def _start_fork_server(**_: Any) -> None:
    # Each pool process starts its fork server now, in the background (Celery allows a pool
    # process only a few seconds to initialise), so that no job waits for the imports.
    if fork_server_enabled(gpu=False):
        threading.Thread(target=_prestart, name="fork-server-start", daemon=True).start()


def _prestart() -> None:
    data_dir = settings.data_dir
    try:
        fork_server_for(scratch_root(), Path(data_dir) if data_dir else None)
    except ForkServerUnavailable:
        log.warning("the fork server did not start; jobs start their own sandboxes", exc_info=True)


@worker_init.connect
def _warm(**_: Any) -> None:
    # Build the feedback page's Markdown parser and highlighter before the pool forks, so no job pays for them.
    from academy.grading.feedback import _code_css, _lexer, _markdown

    _markdown()
    _lexer()
    _code_css()


@worker_ready.connect
def _recover(**_: Any) -> None:
    if settings.requeue_on_start:
        requeued = requeue_orphans()
        if requeued:
            log.warning("re-queued %d grading jobs left by a stopped worker", requeued)
    sweep_scratch()
