"""The grading worker's metrics: job time and outcome, summed over the pool, on a loopback port behind the token."""
from __future__ import annotations

import os
import signal
import socket
import time
from typing import Iterator

import pytest
import redis
import requests
from celery.signals import task_postrun, task_prerun
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from academy.grading.jobs import GradingJob
from tests.grading.conftest import SOLUTIONS
from tests.grading.test_tasks import TOKEN as GRADER_TOKEN, Receiver, _forget_broker_connections, _wait, _worker

# A Redis database no other test's worker listens on.
BROKER_URL = os.environ.get("ACADEMY_TEST_METRICS_REDIS_URL", "redis://127.0.0.1:6379/11")
TOKEN = "worker-metrics-token"


@pytest.fixture()
def portal() -> Iterator[Receiver]:
    fake = Receiver()
    yield fake
    fake.server.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _run(task, task_id: str, job: dict, state: str, retval: object) -> None:
    """Send the signals Celery sends around one run of the task."""
    task_prerun.send(sender=task, task_id=task_id, task=task, args=[job], kwargs={})
    task_postrun.send(sender=task, task_id=task_id, task=task, args=[job], kwargs={}, retval=retval, state=state)


def test_each_run_is_counted_by_queue_and_outcome():
    """A graded CPU job, a GPU job out of time, a report that must be retried and a task that raised are four
    outcomes; another task's runs are not grading jobs.

    Checked: fails when the postrun handler counts the Celery state instead of the result's status (graded and
    time_limit both counted as SUCCESS).
    """
    from academy.grading import metrics  # its import connects the signals (the worker imports it at start)
    from academy.grading.tasks import app, grade  # builds the Celery app from the environment

    assert metrics.TASK_NAME == grade.name and "academy.grading.metrics" in app.conf.include

    def count(queue: str, outcome: str) -> float:
        return REGISTRY.get_sample_value("academy_grading_jobs_total", {"queue": queue, "outcome": outcome}) or 0.0

    cases = [("cpu", "graded", "SUCCESS", {"status": "graded"}), ("gpu", "time_limit", "SUCCESS", {"status": "time_limit"}),
             ("cpu", "retry", "RETRY", None), ("cpu", "failure", "FAILURE", RuntimeError("broken"))]
    before = {(q, o): count(q, o) for q, o, _, _ in cases}
    seconds = REGISTRY.get_sample_value("academy_grading_job_seconds_count", {"queue": "cpu", "outcome": "graded"}) or 0
    for i, (queue, _, state, retval) in enumerate(cases):
        _run(grade, f"unit-{i}", {"submission_id": str(i), "gpu": queue == "gpu"}, state, retval)

    @app.task(name="academy.tests.other")
    def other() -> None:
        pass

    _run(other, "unit-other", {"submission_id": "x"}, "SUCCESS", {"status": "graded"})
    assert {k: count(*k) - v for k, v in before.items()} == {(q, o): 1.0 for q, o, _, _ in cases}
    assert REGISTRY.get_sample_value("academy_grading_job_seconds_count",
                                     {"queue": "cpu", "outcome": "graded"}) == seconds + 1


@pytest.mark.slow
def test_a_real_worker_serves_its_jobs_time_and_outcome_behind_the_token(tmp_path, course, make_submission, portal):
    """A prefork worker grades one job in its pool; its main process serves the sum on 127.0.0.1: one graded job
    with its time. No token or a wrong one gets 401.

    Checked: fails without PROMETHEUS_MULTIPROC_DIR for the worker (the main process served no job: the pool's
    process counted it in its own memory).
    """
    broker = redis.Redis.from_url(BROKER_URL)
    broker.flushdb()
    state, scratch, multiproc, port = tmp_path / "state", tmp_path / "scratch", tmp_path / "metrics", _free_port()
    multiproc.mkdir()
    env = {**os.environ, "ACADEMY_BROKER_URL": BROKER_URL, "ACADEMY_GRADING_DIR": str(state),
           "ACADEMY_GRADING_SCRATCH": str(scratch), "ACADEMY_PORTAL_URL": portal.url,
           "ACADEMY_GRADER_TOKEN": GRADER_TOKEN, "ACADEMY_WORKER_METRICS_PORT": str(port),
           "ACADEMY_METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
    job = GradingJob(submission_id="metrics-1", course_dir=str(course), assignment="ps1", student_id="mia",
                     files={"ps1.ipynb": make_submission(SOLUTIONS)})
    from academy.grading import tasks  # builds the Celery app from the environment

    previous = tasks.app.conf.broker_url
    _forget_broker_connections(tasks.app)  # an earlier test may have connected to another broker
    tasks.app.conf.broker_url = BROKER_URL
    worker = None
    try:
        tasks.submit(job)
        worker = _worker(env, tmp_path / "worker.log")
        assert _wait(lambda: len(portal.posts) >= 1, 180), (tmp_path / "worker.log").read_text()[-3000:]
        url = f"http://127.0.0.1:{port}/metrics"
        assert requests.get(url, timeout=10).status_code == 401
        assert requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
        deadline, samples = time.monotonic() + 20, {}
        while time.monotonic() < deadline:  # the pool writes its values right after the report
            answer = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
            assert answer.status_code == 200
            samples = _samples(answer.text)
            if samples.get(("academy_grading_jobs_total", (("outcome", "graded"), ("queue", "cpu"))), 0) >= 1:
                break
            time.sleep(0.3)
        labels = (("outcome", "graded"), ("queue", "cpu"))
        assert samples.get(("academy_grading_jobs_total", labels)) == 1.0, answer.text[-2000:]
        assert samples[("academy_grading_job_seconds_count", labels)] == 1.0
        assert samples[("academy_grading_job_seconds_sum", labels)] > 0
    finally:
        tasks.app.conf.broker_url = previous
        _forget_broker_connections(tasks.app)
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(30)
            except Exception:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        broker.flushdb()
