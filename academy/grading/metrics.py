"""Prometheus metrics of a grading worker: how long each job took and how it ended.

- academy_grading_job_seconds{queue, outcome}: a job's time in the worker, from start to reported result.
- academy_grading_jobs_total{queue, outcome}: jobs by outcome: graded, time_limit, memory_limit, error (the
  result's status), retry (the portal could not be told yet: Celery retries), failure (the task raised).

Jobs run in the pool's processes, so with PROMETHEUS_MULTIPROC_DIR set (scripts/run.sh sets and empties it before
the worker starts) each process writes its values there and the worker's main process serves their sum on
ACADEMY_WORKER_METRICS_PORT (127.0.0.1 unless ACADEMY_WORKER_METRICS_ADDRESS says otherwise), behind the same
bearer token as the portal's /metrics (ACADEMY_METRICS_TOKEN). Port 0 (the default) serves nothing.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from celery.signals import task_postrun, task_prerun, worker_init
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.multiprocess import MultiProcessCollector

from academy.bearer import bearer_matches
from academy.grading.settings import settings

log = logging.getLogger(__name__)
TASK_NAME = "academy.grading.grade"
# A job takes seconds (a fork-server kernel) to many minutes (a GPU lab that trains a model).
JOB_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
JOB_SECONDS = Histogram("academy_grading_job_seconds", "Time a grading job took in the worker, by outcome.",
                        ["queue", "outcome"], buckets=JOB_BUCKETS)
JOBS = Counter("academy_grading_jobs", "Grading jobs by outcome.", ["queue", "outcome"])

_started: dict[str, float] = {}


def outcome_of(state: str | None, retval: Any) -> str:
    """Return the outcome of a finished run of the grading task, from Celery's state and the task's return."""
    if state == "SUCCESS" and isinstance(retval, dict):
        return str(retval.get("status", "unknown"))
    return {"RETRY": "retry", "FAILURE": "failure"}.get(state or "", "unknown")


def _queue(args: Iterable[Any] | None) -> str:
    job = next(iter(args or ()), None)
    return "gpu" if isinstance(job, dict) and job.get("gpu") else "cpu"


@task_prerun.connect
def _job_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id is not None and getattr(task, "name", None) == TASK_NAME:
        _started[task_id] = time.perf_counter()


@task_postrun.connect
def _job_ended(task_id: str | None = None, task: Any = None, args: Any = None, retval: Any = None,
               state: str | None = None, **_: Any) -> None:
    started = _started.pop(task_id, None) if task_id is not None else None
    if started is None or getattr(task, "name", None) != TASK_NAME:
        return
    queue, outcome = _queue(args), outcome_of(state, retval)
    JOBS.labels(queue, outcome).inc()
    JOB_SECONDS.labels(queue, outcome).observe(time.perf_counter() - started)


def registry() -> CollectorRegistry:
    """Return what the worker serves: the pool's values summed from the multiprocess folder, else this process's."""
    if settings.metrics_dir:
        summed = CollectorRegistry()
        MultiProcessCollector(summed, path=settings.metrics_dir)
        return summed
    return REGISTRY


def metrics_app(served: CollectorRegistry, token: str) -> Callable:
    """Return the WSGI app of the metrics port: the metrics to a scraper with the token, 401 without, 404 when
    no token is configured."""
    exposition = make_wsgi_app(served)

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not token:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        if not bearer_matches(environ.get("HTTP_AUTHORIZATION", ""), token):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")])
            return [b"unauthorized\n"]
        return exposition(environ, start_response)

    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass  # one line per scrape every 15 s is noise in the worker's log


def serve(port: int, address: str = "127.0.0.1") -> WSGIServer:
    """Serve the worker's metrics on address:port in a background thread; return the server."""
    server = make_server(address, port, metrics_app(registry(), settings.metrics_token), _Server, _QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


@worker_init.connect
def _serve_metrics(**_: Any) -> None:
    # The main process, before the pool forks: it serves; the pool's processes write the values.
    if settings.metrics_port:
        serve(settings.metrics_port, settings.metrics_address)
        log.info("grading metrics on %s:%d/metrics", settings.metrics_address, settings.metrics_port)
