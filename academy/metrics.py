"""Prometheus metrics of the portal at /metrics, behind a bearer token (ACADEMY_METRICS_TOKEN).

- academy_request_duration_seconds{endpoint, method, status}: each request's time, by Flask endpoint (never the
  raw path, so a scanner cannot grow the series), method and status class (2xx, 3xx, 4xx, 5xx).
- academy_rate_limit_hits_total{endpoint}: requests refused by a rate limit (Flask-Limiter's breach callback).
- academy_grading_submissions{state}: the grading queue, read at scrape time from the submissions table, which is
  the truth (a submission may wait in the portal behind its trainee's job before any broker sees it):
  waiting (in the portal, not yet handed over), queued (handed to the broker), grading (a worker has it).

Under gunicorn each worker is a process: with PROMETHEUS_MULTIPROC_DIR set (scripts/run.sh sets and empties
it at start), each process writes its values there and a scrape adds them up over the workers. Without it (tests,
`flask run`) the process's own registry answers. The grading worker serves its own metrics
(academy.grading.metrics).
"""
from __future__ import annotations

import time

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from academy.bearer import bearer_matches
from academy.extensions import db
from academy.policy import TOKEN, allow
from academy.submissions.models import Submission, SubmissionStatus

bp = Blueprint("metrics", __name__)
# The methods that get a label of their own; anything else counts as "other" (labels must stay few).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Pages answer in milliseconds; exports, releases and imports take seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
REQUEST_SECONDS = Histogram("academy_request_duration_seconds", "Time to answer a request, by endpoint.",
                            ["endpoint", "method", "status"], buckets=LATENCY_BUCKETS)
LIMIT_HITS = Counter("academy_rate_limit_hits", "Requests refused by a rate limit, by endpoint.", ["endpoint"])


class GradingQueue:
    """The grading queue's length by state, counted in the submissions table when scraped."""

    def describe(self) -> list:
        return []  # counted only when scraped: registering it must not query the database

    def collect(self):
        family = GaugeMetricFamily("academy_grading_submissions",
                                   "Submissions in the grading queue: waiting in the portal, queued, grading.",
                                   labels=["state"])
        counts = dict.fromkeys(("waiting", "queued", "grading"), 0)
        state = sa.case((Submission.status == SubmissionStatus.GRADING.value, "grading"),
                        (Submission.job_id.is_(None), "waiting"), else_="queued")
        rows = db.session.execute(
            sa.select(state, sa.func.count()).where(
                Submission.status.in_((SubmissionStatus.QUEUED.value, SubmissionStatus.GRADING.value))
            ).group_by(state))
        for name, count in rows:
            counts[name] = count
        for name, count in counts.items():
            family.add_metric([name], count)
        yield family


class _ThisProcess:
    """The metrics of this process's default registry (one process: no multiprocess folder)."""

    def describe(self) -> list:
        return []

    def collect(self):
        yield from REGISTRY.collect()


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    folder = current_app.config.get("METRICS_MULTIPROC_DIR")
    if folder:
        MultiProcessCollector(registry, path=folder)
    else:
        registry.register(_ThisProcess())
    registry.register(GradingQueue())
    return registry


@bp.get("/metrics")
@allow(TOKEN)
def metrics():
    """Answer a Prometheus scrape: every metric of the portal (404 when no token is configured)."""
    expected = current_app.config.get("METRICS_TOKEN")
    if not expected:
        abort(404)  # metrics are off: the route does not exist as far as anyone can tell
    if not bearer_matches(request.headers.get("Authorization", ""), expected):
        abort(401)
    response = Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


def _status_class(code: int) -> str:
    return f"{code // 100}xx"


def _start_clock() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is not None:
        method = request.method if request.method in METHODS else "other"  # any client may invent a method
        REQUEST_SECONDS.labels(request.endpoint or "none", method,
                               _status_class(response.status_code)).observe(time.perf_counter() - started)
    return response


def count_limit_hit(request_limit: object) -> None:  # noqa: ARG001 - Flask-Limiter's callback signature
    """Count a request refused by a rate limit (Flask-Limiter's on-breach callback; it changes no answer)."""
    LIMIT_HITS.labels(request.endpoint or "none").inc()


def init_app(app: Flask) -> None:
    """Time every request (the clock starts first and stops after the commit) and serve /metrics."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start_clock)
    # after_request functions run last-registered first: at the front, this one runs after the commit.
    app.after_request_funcs.setdefault(None, []).insert(0, _observe)
    app.register_blueprint(bp)
