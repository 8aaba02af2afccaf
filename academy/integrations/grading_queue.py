"""The portal's door to the grading workers: hand one submission's files to the grading queue.

The portal reaches the grading worker's package (academy.grading) only through here. The worker's
modules are imported on the first job, not when the portal starts: importing the tasks builds the
worker's Celery application (its broker and its state folder), which a portal that never queues a
job (the tests' own enqueuer, a read-only replica) does not need.
"""
from __future__ import annotations

from datetime import datetime


def queue_grading_job(*, submission_id: str, course_dir: str, assignment: str, student_id: str,
                      files: dict[str, bytes], submitted_at: datetime, gpu: bool) -> str:
    """Queue one submission for grading (the GPU queue when it or its syllabus asks) and return the job id."""
    from academy.grading.jobs import GradingJob
    from academy.grading.tasks import submit

    return submit(GradingJob(submission_id=submission_id, course_dir=course_dir, assignment=assignment,
                             student_id=student_id, files=files, submitted_at=submitted_at, gpu=gpu))


def grading_broker_url() -> str:
    """Return the grading workers' broker: the portal's scheduled jobs share it, on a queue of their own."""
    from academy.grading.celery_app import broker_url

    return broker_url()
