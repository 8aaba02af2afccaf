"""The portal exchange against a live portal, driven as JupyterLab and a trainee's terminal drive it.

The real Flask app serves on a free loopback port from a thread (its database is the test run's), seeded
with a course on the real lab material (courses/manufacturing-ai): lab 1 released, lab 2 dated but not
released, lab 3 released but past its cut-off. Trainee A works through nbgrader's assignment-list manager
(the object behind JupyterLab's Assignments tab); trainee B through the `nbgrader` command line. Grading
jobs are captured (SUBMISSIONS_ENQUEUE) and results reported as the grading worker does.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa
from flask_babel import force_locale, gettext
from nbgrader.server_extensions.assignment_list.handlers import AssignmentList
from werkzeug.serving import make_server

from academy import create_app
from academy.courses.services import set_due_date
from academy.extensions import db
from academy.oauth.models import OAuthClient, OAuthToken
from academy.oauth.tokens import digest
from academy.skills.catalogue import seed_skills
from academy.submissions.models import Submission
from academy.submissions.services import digest as submission_digest
from tests.conftest import Factory, empty_database
from tests.submissions.test_api import worker_token

REPO = Path(__file__).resolve().parents[2]
COURSE, LAB1, LAB2, LAB3 = ("manufacturing-ai", "lab1_predictive_maintenance", "lab2_process_energy",
                            "lab3_defect_inspection")
NB1 = f"{LAB1}.ipynb"
GRADER = "grader-token-for-exchange-tests"
SINGLEUSER = REPO / "deploy" / "singleuser"
NBGRADER = [sys.executable, "-m", "nbgrader"]
pytestmark = pytest.mark.slow


def _mint(db, user, expires_in: timedelta) -> str:
    """Issue a portal access token for the user, as the OAuth provider issues one to the hub."""
    client = db.session.scalar(sa.select(OAuthClient).where(OAuthClient.client_id == "hub-exchange-test"))
    if client is None:
        client = OAuthClient(client_id="hub-exchange-test", secret_hash="x" * 64, name="hub",
                             redirect_uris="http://h/cb")
        db.session.add(client)
        db.session.flush()
    raw = secrets.token_urlsafe(24)
    db.session.add(OAuthToken(token_hash=digest(raw), client_id=client.id, user_id=user.id,
                              expires_at=datetime.now(UTC) + expires_in))
    return raw


@pytest.fixture(scope="module")
def live(_schema, tmp_path_factory):
    """Serve the portal, seeded, on 127.0.0.1:<free port>; empty the database afterwards."""
    root = tmp_path_factory.mktemp("exchange")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ACADEMY_VAR_DIR", str(root / "var"))
        app = create_app(_schema)
        jobs: list[int] = []
        app.config.update(SUBMISSIONS_ENQUEUE=lambda sub, files: jobs.append(sub.id) or f"job-{sub.id}",
                          GRADER_TOKEN=GRADER)
        now = datetime.now(UTC)
        with app.app_context():
            seed_skills()
            make = Factory(db)
            cohort = make.cohort()
            a, b = make.enrolled_student(cohort), make.enrolled_student(cohort)
            course = make.course(cohorts=[cohort], late_cutoff_days=2)
            lab1, lab2, lab3 = (make.assignment(course, name=n, max_points=10.0) for n in (LAB1, LAB2, LAB3))
            set_due_date(lab1, cohort, now + timedelta(days=7), released_at=now - timedelta(hours=1))
            set_due_date(lab2, cohort, now + timedelta(days=14))  # dated, not released
            set_due_date(lab3, cohort, now - timedelta(days=10), released_at=now - timedelta(days=20))
            tokens = {"a": _mint(db, a, timedelta(hours=1)), "b": _mint(db, b, timedelta(hours=1)),
                      "expired": _mint(db, a, -timedelta(minutes=1))}
            ids = {"a": a.id, "b": b.id, "lab1": lab1.id}
            db.session.commit()
            db.session.remove()

        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield {"url": f"http://127.0.0.1:{server.server_port}", "app": app, "tokens": tokens, "ids": ids,
                   "jobs": jobs, "root": root}
        finally:
            server.shutdown()
            server.server_close()
            with app.app_context():
                empty_database(db)
                db.engine.dispose()


def _env(live, token: str, home: Path) -> dict[str, str]:
    """The environment a notebook server gets from the hub (local backend), minus the hub API."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
    env.update(ACADEMY_PORTAL_URL=live["url"], ACADEMY_PORTAL_TOKEN=token, JUPYTER_CONFIG_PATH=str(SINGLEUSER),
               JUPYTER_CONFIG_DIR=str(home / ".jupyter"), JUPYTER_DATA_DIR=str(home / ".local"), HOME=str(home),
               PYTHONPATH=str(REPO))
    return env


@pytest.fixture
def lab(live, monkeypatch):
    """Return a function giving trainee <who>'s JupyterLab manager, in their home as the server's folder."""
    def open_lab(who: str, token: str | None = None):
        home = live["root"] / f"home-{who}"
        home.mkdir(exist_ok=True)
        for key in [k for k in os.environ if k.startswith("JUPYTERHUB_")]:
            monkeypatch.delenv(key)
        for key, value in _env(live, token or live["tokens"][who], home).items():
            if os.environ.get(key) != value:
                monkeypatch.setenv(key, value)
        monkeypatch.chdir(home)
        manager = AssignmentList()
        manager.root_dir = str(home)
        return manager, home

    return open_lab


def _cli(live, who: str, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    home = live["root"] / f"home-{who}"
    home.mkdir(exist_ok=True)
    return subprocess.run([*NBGRADER, *args], cwd=home, env=_env(live, token or live["tokens"][who], home),
                          capture_output=True, text=True, timeout=120)


def _by_status(listing: dict) -> dict[str, list[dict]]:
    assert listing["success"], listing.get("value")
    out: dict[str, list[dict]] = {}
    for item in listing["value"]:
        out.setdefault(item["status"], []).append(item)
    return out


def _report_result(live, submission_id: int, html: str) -> None:
    body = {"submission_id": str(submission_id), "status": "graded", "auto_score": 7.0, "max_auto_score": 10.0,
            "feedback_html": html}

    reply = requests.post(f"{live['url']}/api/grading/results", json=body,
                          headers={"X-Academy-Grader-Token": worker_token(GRADER)}, timeout=30)
    assert reply.status_code == 200, reply.text


def _portal_submissions(live, student_key: str):
    with live["app"].app_context():
        rows = db.session.scalars(sa.select(Submission).where(Submission.student_id == live["ids"][student_key])
                                  .order_by(Submission.id)).all()
        db.session.expunge_all()
        return rows


def _kst(when: datetime) -> str:
    return when.astimezone(ZoneInfo("Asia/Seoul")).strftime("%Y-%m-%d %H:%M:%S.%f %Z")


def test_jupyterlab_lists_fetches_submits_and_shows_feedback(live, lab):
    manager, home = lab("a")
    listed = _by_status(manager.list_assignments(course_id=COURSE))
    assert sorted(a["assignment_id"] for a in listed["released"]) == [LAB1, LAB3]  # lab 2 is not released
    assert "submitted" not in listed and "fetched" not in listed

    assert manager.fetch_assignment(COURSE, LAB1)["success"]
    notebook = home / LAB1 / NB1
    released = json.loads(notebook.read_text())
    assert "BEGIN SOLUTION" not in notebook.read_text()  # the student version
    fetched = _by_status(manager.list_assignments(course_id=COURSE))["fetched"]
    assert [(a["assignment_id"], a["path"], a["notebooks"][0]["path"]) for a in fetched] == [
        (LAB1, LAB1, f"{LAB1}/{NB1}")]

    # The trainee works; fetching again changes nothing of theirs.
    released["metadata"]["answered_by"] = "trainee a"
    notebook.write_text(json.dumps(released))
    again = manager.fetch_assignment(COURSE, LAB1)
    assert not again["success"] and "already have a copy" in again["value"]
    assert json.loads(notebook.read_text())["metadata"]["answered_by"] == "trainee a"
    # nbgrader's own receipt file, forged: the portal's clock decides.
    (home / LAB1 / "timestamp.txt").write_text("2000-01-01 00:00:00.000000 UTC")
    (home / LAB1 / ".ipynb_checkpoints").mkdir()
    (home / LAB1 / ".ipynb_checkpoints" / f"{LAB1}-checkpoint.ipynb").write_text("{}")

    before = datetime.now(UTC)
    assert manager.submit_assignment(COURSE, LAB1)["success"]
    (sub,) = _portal_submissions(live, "a")
    assert before <= sub.received_at <= datetime.now(UTC)
    assert sub.sha256 == submission_digest({NB1: notebook.read_bytes()})
    assert live["jobs"] == [sub.id]

    submitted = _by_status(manager.list_assignments(course_id=COURSE))["submitted"]
    (entry,) = submitted[0]["submissions"]
    assert entry["timestamp"] == _kst(sub.received_at)
    assert not entry["has_exchange_feedback"] and not entry["has_local_feedback"]

    _report_result(live, sub.id, "<html><body><p>Feedback for trainee A: 7 / 10</p></body></html>")
    (entry,) = _by_status(manager.list_assignments(course_id=COURSE))["submitted"][0]["submissions"]
    assert entry["has_exchange_feedback"] and not entry["has_local_feedback"]  # "feedback available to fetch"

    assert manager.fetch_feedback(COURSE, LAB1)["success"]
    feedback = home / LAB1 / "feedback" / _kst(sub.received_at) / f"{LAB1}.html"
    assert "Feedback for trainee A" in feedback.read_text()
    (entry,) = _by_status(manager.list_assignments(course_id=COURSE))["submitted"][0]["submissions"]
    assert entry["has_local_feedback"] and not entry["feedback_updated"]  # "view feedback"
    assert entry["local_feedback_path"] == str(feedback.parent.relative_to(home))


def test_past_the_cutoff_the_portals_own_message_reaches_the_trainee(live, lab):
    manager, home = lab("a")
    (home / LAB3).mkdir(exist_ok=True)
    (home / LAB3 / f"{LAB3}.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                                           "nbformat_minor": 5}))
    count = len(_portal_submissions(live, "a"))
    result = manager.submit_assignment(COURSE, LAB3)
    assert not result["success"]
    with live["app"].test_request_context(), force_locale("ko"):
        refusal = gettext("The cut-off for this assignment has passed; submissions are closed.")
    assert refusal in result["value"]
    assert len(_portal_submissions(live, "a")) == count


def test_command_line_trainee_b_sees_only_their_own_work(live, lab):
    listed = _cli(live, "b", "list")
    assert listed.returncode == 0, listed.stderr
    assert f"{COURSE} {LAB1}" in listed.stderr and LAB3 in listed.stderr and LAB2 not in listed.stderr

    fetched = _cli(live, "b", "fetch_assignment", LAB1, "--course", COURSE)
    assert fetched.returncode == 0, fetched.stderr
    assert (live["root"] / "home-b" / LAB1 / NB1).is_file()
    submitted = _cli(live, "b", "submit", LAB1)  # the course is found from the portal
    assert submitted.returncode == 0, submitted.stderr
    (mine,) = _portal_submissions(live, "b")
    assert f"Submitted as: {COURSE} {LAB1} {_kst(mine.received_at)}" in submitted.stderr
    assert mine.sha256 in submitted.stderr

    # A's submission is graded with feedback too; B's list and feedback hold B's own only.
    _report_result(live, mine.id, "<html><body><p>Feedback for trainee B</p></body></html>")
    feedback = _cli(live, "b", "fetch_feedback", LAB1, "--course", COURSE)
    assert feedback.returncode == 0, feedback.stderr
    html = list((live["root"] / "home-b" / LAB1 / "feedback").glob("*/*.html"))
    assert [p.read_text() for p in html] == ["<html><body><p>Feedback for trainee B</p></body></html>"]
    manager, _ = lab("b")
    (assignment,) = _by_status(manager.list_assignments(course_id=COURSE))["submitted"]
    assert [s["timestamp"] for s in assignment["submissions"]] == [_kst(mine.received_at)]
    assert assignment["submissions"][0]["has_local_feedback"]


def test_expired_sign_in_says_how_to_renew(live, lab):
    listed = _cli(live, "a", "list", token=live["tokens"]["expired"])
    assert listed.returncode == 1
    assert "sign-in has expired. Open the hub home page (/hub/home) to renew it" in listed.stderr
    manager, _ = lab("a", token=live["tokens"]["expired"])
    result = manager.list_assignments(course_id=COURSE)
    assert not result["success"] and "sign-in has expired" in result["value"]
    assert "exchange directory does not exist" not in result["value"]


def test_submitting_too_often_shows_the_portals_429_and_when_to_retry_in_jupyterlab(live, lab):
    """A trainee who submits one assignment more often than the portal allows reads, in JupyterLab's
    Assignments list, the portal's own Korean and English refusal with when to submit again; nothing of
    the refused submission is stored.

    Checked: fails when the portal's limiter on the submit endpoint is removed (every submission succeeds).
    """
    app = live["app"]
    before, limit = len(_portal_submissions(live, "b")), app.config["SUBMIT_RATE_LIMIT"]
    app.config["SUBMIT_RATE_LIMIT"] = "1 per hour"  # a limit of its own: counted afresh from here
    try:
        manager, home = lab("b")
        if not (home / LAB1 / NB1).exists():
            assert manager.fetch_assignment(COURSE, LAB1)["success"]
        results = [manager.submit_assignment(COURSE, LAB1) for _ in range(2)]
    finally:
        app.config["SUBMIT_RATE_LIMIT"] = limit
    assert [r["success"] for r in results] == [True, False], results
    text = results[1]["value"]
    assert "제출이 너무 잦습니다" in text and "Too many submissions" in text
    assert re.search(r"Submit again in \d+ (h|min|s)[\d hmins]* \(after \d\d:\d\d:\d\d Korea time\)", text), text
    assert len(_portal_submissions(live, "b")) == before + 1
