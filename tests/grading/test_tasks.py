"""Grading jobs through Celery: routing, reporting, and a worker killed mid-job."""
from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
import redis

from academy.courses.services import set_due_date
from academy.extensions import db
from academy.grading.jobs import GradingJob, GradingResult
from academy.grading.report import TOKEN_HEADER, ReportFailed, post_result
from academy.integrations.service_tokens import RESULTS, derive
from tests.grading.conftest import SOLUTIONS
from tests.submissions.test_api import GRADER, _result, _submit, _token

REPO = Path(__file__).resolve().parents[2]
# The workers' broker; another database where other test runs share this machine's Redis.
REDIS_URL = os.environ.get("ACADEMY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# A database no test worker listens on, so jobs stay in the queue to be looked at.
QUEUE_ONLY_URL = os.environ.get("ACADEMY_TEST_QUEUE_REDIS_URL", "redis://127.0.0.1:6379/13")
TOKEN = "test-grader-token"


class Receiver:
    """A fake portal endpoint on 127.0.0.1 that records what the workers post."""

    def __init__(self, status: int = 200) -> None:
        self.posts: list[tuple[dict, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append((dict(self.headers), json.loads(body)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    fake = Receiver()
    yield fake
    fake.server.shutdown()


def test_assignments_marked_gpu_go_to_the_gpu_queue():
    # Imported here: importing academy.grading.tasks builds the Celery app from the environment.
    from academy.grading.tasks import queue_for

    course = REPO / "courses" / "manufacturing-ai"
    job = GradingJob(submission_id="q", course_dir=str(course), assignment="lab3_defect_inspection",
                     student_id="s", files={})
    assert queue_for(job) == "gpu"
    assert queue_for(GradingJob(**{**job.__dict__, "assignment": "lab1_predictive_maintenance"})) == "cpu"
    assert queue_for(GradingJob(**{**job.__dict__, "assignment": "lab1_predictive_maintenance", "gpu": True})) == "gpu"


def test_post_result_sends_the_workers_results_token(receiver, monkeypatch):
    monkeypatch.setenv("ACADEMY_PORTAL_URL", receiver.url)
    monkeypatch.delenv("ACADEMY_WORKER_TOKEN", raising=False)
    monkeypatch.setenv("ACADEMY_GRADER_TOKEN", TOKEN)  # a worker set up before scoped tokens: it derives its own
    result = GradingResult(submission_id="r1", assignment="ps1", student_id="s", status="graded", auto_score=1.0)
    post_result(result)
    headers, body = receiver.posts[0]
    assert headers[TOKEN_HEADER] == derive(TOKEN, RESULTS) != TOKEN
    assert GradingResult.from_dict(body) == result


def test_post_result_raises_when_the_portal_refuses(monkeypatch):
    refusing = Receiver(status=503)
    monkeypatch.setenv("ACADEMY_PORTAL_URL", refusing.url)
    with pytest.raises(ReportFailed):
        post_result(GradingResult(submission_id="r2", assignment="ps1", student_id="s", status="error"))
    refusing.server.shutdown()


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "academy.grading.celery_app", "worker", "-Q", "cpu",
         "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
         "--without-heartbeat"],
        cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_job_of_a_killed_worker_runs_again_and_is_graded_once(tmp_path, course, make_submission, receiver):
    redis.Redis.from_url(REDIS_URL).flushdb()
    state, scratch = tmp_path / "state", tmp_path / "scratch"
    env = {**os.environ, "ACADEMY_BROKER_URL": REDIS_URL, "ACADEMY_GRADING_DIR": str(state),
           "ACADEMY_GRADING_SCRATCH": str(scratch), "ACADEMY_PORTAL_URL": receiver.url,
           "ACADEMY_GRADER_TOKEN": TOKEN, "PYTHONPATH": str(REPO)}
    slow = {**SOLUTIONS, "squares": SOLUTIONS["squares"] + "import time\ntime.sleep(6)\n"}
    job = GradingJob(submission_id="killed-1", course_dir=str(course), assignment="ps1",
                     student_id="wook", files={"ps1.ipynb": make_submission(slow)})
    os.environ.update({k: env[k] for k in ("ACADEMY_BROKER_URL", "ACADEMY_GRADING_DIR")})
    try:
        # Imported here: importing it builds the Celery app, from the broker settings set just above.
        from academy.grading import tasks

        tasks.app.conf.broker_url = REDIS_URL
        tasks.submit(job)
        first = _worker(env, tmp_path / "worker1.log")
        # Kill it once the job is running inside its sandbox.
        assert _wait(lambda: (state / "pending" / "killed-1.json").exists() and any(scratch.glob("*/box/ipc/kernel.json")), 90)
        time.sleep(1.0)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        killed_at = time.time()
        assert receiver.posts == []
        second = _worker(env, tmp_path / "worker2.log")
        try:
            assert _wait(lambda: len(receiver.posts) >= 1, 150), (tmp_path / "worker2.log").read_text()[-3000:]
            time.sleep(2)  # a second report, if any, would arrive now
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            second.wait(30)
    finally:
        for key in ("ACADEMY_BROKER_URL", "ACADEMY_GRADING_DIR"):
            os.environ.pop(key, None)
        for worker in [w for w in (locals().get("first"), locals().get("second")) if w is not None]:
            if worker.poll() is None:  # a failed wait leaves it running: it would take the next test's jobs
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
    bodies = [body for _, body in receiver.posts]
    assert all(body == bodies[0] for body in bodies)  # reported again at most, never regraded
    result = GradingResult.from_dict(bodies[0])
    assert (result.status, result.auto_score) == ("graded", 5.0)
    assert result.graded_at > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(killed_at))
    stored = json.loads((state / "results" / "killed-1.json").read_text())
    assert stored == bodies[0]
    assert not (state / "pending" / "killed-1.json").exists()


def _queued_submission_ids(redis_client, queue: str = "cpu") -> list[str]:
    """Return the submission ids of the jobs waiting in a Redis queue, first to be taken first."""
    ids = []
    for raw in reversed(redis_client.lrange(queue, 0, -1)):  # kombu pushes on the left, workers pop on the right
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        ids.append(args[0]["submission_id"])
    return ids


def test_in_the_real_queue_a_trainees_burst_is_one_job_and_superseded_work_never_arrives(
        app, client, make, tmp_path, monkeypatch):
    """Through the portal's own enqueuer into Redis (no worker): trainee A sends three submissions of each of
    three assignments, then trainee B one. The broker holds A's first job and then B's: B waits behind one
    job. When A's job reports, A's next goes in: the newest of its assignment; superseded submissions never
    reach the broker.

    Checked: fails when queue._claim no longer checks for the trainee's job in the queue (nine jobs of A
    came before B's).
    """
    # Imported here: importing academy.grading.tasks builds the Celery app from the environment.
    from academy.grading import tasks

    monkeypatch.setenv("ACADEMY_VAR_DIR", str(tmp_path / "var"))  # submission folders are named by row ids
    broker = redis.Redis.from_url(QUEUE_ONLY_URL)
    broker.flushdb()
    app.config["GRADER_TOKEN"] = GRADER
    cohort = make.cohort()
    a, b = make.enrolled_student(cohort), make.enrolled_student(cohort)
    course = make.course(cohorts=[cohort])
    labs = [make.assignment(course, name=f"flood{i}") for i in range(3)]
    for lab in labs:
        set_due_date(lab, cohort, datetime.now(UTC) + timedelta(days=1),
                     released_at=datetime.now(UTC) - timedelta(hours=1))
    db.session.commit()
    previous = tasks.app.conf.broker_url
    _forget_broker_connections(tasks.app)  # an earlier test may have connected to another broker
    tasks.app.conf.broker_url = QUEUE_ONLY_URL
    try:
        token_a = _token(a)
        sent = [[_submit(client, token_a, lab).get_json()["id"] for _ in range(3)] for lab in labs]
        b_first = _submit(client, _token(b), labs[0]).get_json()["id"]
        assert _queued_submission_ids(broker) == [str(sent[0][0]), str(b_first)]
        assert _result(client, sent[0][0]).status_code == 200
        assert _queued_submission_ids(broker) == [str(sent[0][0]), str(b_first), str(sent[0][-1])]
        superseded = {str(i) for ids in sent for i in ids[1:-1]}
        assert not superseded & set(_queued_submission_ids(broker))
    finally:
        tasks.app.conf.broker_url = previous
        _forget_broker_connections(tasks.app)  # nor may this test's serve the next one's
        broker.flushdb()


def _forget_broker_connections(celery_app) -> None:
    """Close the Celery app's pooled broker connections, so the next publish connects to conf.broker_url."""
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.amqp._producer_pool = None
