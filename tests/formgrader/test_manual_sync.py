"""Hand-graded answers in a course gradebook reach the portal's gradebook through the sync and the API."""
from __future__ import annotations

import csv
import io
import json
import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from nbgrader.api import Gradebook
from werkzeug.serving import make_server

from academy.audit.models import AuditEntry
from academy.courses.services import get_grade, upsert_grade
from academy.extensions import db
from academy.grading import manual_sync
from academy.grading.manual_sync import SyncState, sync_once
from academy.integrations.service_tokens import RESULTS, derive, manual_scope
from academy.submissions.models import Submission
from tests.hub.stack import free_port

REPO = Path(__file__).resolve().parents[2]
MASTER = "grader-secret-for-formgrader-tests"  # the portal's; each service gets a token derived from it
COURSE = "manufacturing-ai"
LAB = "lab1_predictive_maintenance"


@pytest.fixture
def portal(app):
    """The test app served on a free loopback port, as the sync service sees the portal."""
    app.config["GRADER_TOKEN"] = MASTER
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="session")
def blank_gradebook(tmp_path_factory) -> Path:
    """A gradebook with the lab: a 6-point test cell and two hand-graded answers (2 + 2); made once,
    since nbgrader creates a gradebook through an alembic subprocess (seconds)."""
    path = tmp_path_factory.mktemp("gradebook") / "gradebook.db"
    with Gradebook(f"sqlite:///{path}", COURSE) as gb:
        gb.add_assignment(LAB)
        gb.add_notebook(LAB, LAB)
        gb.add_grade_cell("test_features", LAB, LAB, max_score=6, cell_type="code")
        for name in ("explain_model", "explain_costs"):
            gb.add_grade_cell(name, LAB, LAB, max_score=2, cell_type="markdown")
            gb.add_solution_cell(name, LAB, LAB)
        gb.db.commit()
    return path


@pytest.fixture
def course_dir(tmp_path, monkeypatch, blank_gradebook):
    """The course's own nbgrader config beside a fresh copy of the gradebook, in tmp."""
    monkeypatch.delenv("ACADEMY_GRADEBOOK_URL", raising=False)
    folder = tmp_path / COURSE
    folder.mkdir()
    shutil.copy(REPO / "courses" / COURSE / "nbgrader_config.py", folder)
    shutil.copy(blank_gradebook, folder / "gradebook.db")
    return folder


def gradebook(course_dir: Path) -> Gradebook:
    return Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", COURSE)


def autograded_submission(course_dir: Path, student: str) -> None:
    """The trainee's submission as autograde leaves it: the test scored, the written answers waiting."""
    with gradebook(course_dir) as gb:
        gb.add_student(student)
        gb.add_submission(LAB, student)
        test = gb.find_grade("test_features", LAB, LAB, student)
        test.auto_score, test.needs_manual_grade = 6.0, False
        gb.db.commit()


def grade_by_hand(course_dir: Path, student: str, cell: str, score: float | None) -> None:
    """Enter a score the way formgrader's grade API does (nbgrader GradeHandler.put)."""
    with gradebook(course_dir) as gb:
        grade = gb.find_grade(cell, LAB, LAB, student)
        grade.manual_score = score
        grade.needs_manual_grade = grade.manual_score is None and grade.auto_score is None
        gb.db.commit()


@pytest.fixture
def records(make):
    """A trainee one day late on a 20-point lab of a course with 10 % per day, and its instructor."""
    cohort = make.cohort()
    trainee = make.enrolled_student(cohort)
    instructor = make.user("instructor")
    course = make.course(cohorts=[cohort], instructors=[instructor], nbgrader_course=COURSE,
                         late_percent_per_day=10, late_max_deduction=50)
    assignment = make.assignment(course, name=LAB, max_points=20)
    db.session.add(Submission(assignment_id=assignment.id, student_id=trainee.id, received_at=datetime.now(UTC),
                              sha256="0" * 64, stored_path="x", status="graded", days_late=1, auto_score=12.0,
                              late_penalty=1.2))
    # What the worker's report recorded: 6 of 10 autograded points = 12 of 20, less 10 %.
    upsert_grade(assignment, trainee, 10.8, "", None, late_penalty=1.2, source="autograde")
    db.session.commit()
    return trainee, instructor, course, assignment


@pytest.fixture
def graded(records, course_dir):
    """The portal's records and the trainee's autograded submission in the course gradebook."""
    autograded_submission(course_dir, str(records[0].id))
    return records


def sync_token(course) -> str:
    """The token the hub gives this course's grade sync."""
    return derive(MASTER, manual_scope(course.id))


def csv_row(client, auth, instructor, course, trainee) -> dict:
    auth.login(instructor)
    text = client.get(f"/courses/{course.id}/gradebook.csv").get_data(as_text=True).lstrip("\ufeff")
    auth.logout()
    return next(r for r in csv.DictReader(io.StringIO(text)) if r["student_id"] == str(trainee.id))


def audit_count(action: str = "grade.saved") -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == action))


def test_a_hand_graded_answer_reaches_the_portal_gradebook_once(client, auth, graded, portal, course_dir, tmp_path):
    trainee, instructor, course, _assignment = graded
    student = str(trainee.id)
    state = SyncState(tmp_path / "state.json")
    # Autograde only: the worker's own report carries that score; the sync sends nothing.
    assert sync_once([course_dir], state, portal, sync_token(course)).sent == []
    assert csv_row(client, auth, instructor, course, trainee)[f"{LAB} score"] == "10.8"

    grade_by_hand(course_dir, student, "explain_model", 1.5)
    report = sync_once([course_dir], state, portal, sync_token(course))
    assert report.sent == [f"{COURSE}/{LAB}/{student}"] and report.stopped is None
    row = csv_row(client, auth, instructor, course, trainee)
    # (6 + 1.5) / 10 of 20 points = 15, less 10 % for the day late.
    assert (row[f"{LAB} score"], row[f"{LAB} late_penalty"]) == ("13.5", "1.5")

    saved = audit_count()
    again = sync_once([course_dir], SyncState(tmp_path / "state.json"), portal, sync_token(course))  # a restarted service too
    assert again.sent == [] and again.unchanged == 1 and audit_count() == saved

    # The second answer graded: the new total replaces the old one.
    grade_by_hand(course_dir, student, "explain_costs", 2)
    assert sync_once([course_dir], state, portal, sync_token(course)).sent == [f"{COURSE}/{LAB}/{student}"]
    row = csv_row(client, auth, instructor, course, trainee)
    assert (row[f"{LAB} score"], row[f"{LAB} late_penalty"]) == ("17.1", "1.9")


def test_portal_down_or_wrong_token_loses_nothing(client, auth, graded, portal, course_dir, tmp_path):
    trainee, instructor, course, _assignment = graded
    grade_by_hand(course_dir, str(trainee.id), "explain_model", 2)
    state = SyncState(tmp_path / "state.json")
    down = sync_once([course_dir], state, f"http://127.0.0.1:{free_port()}", sync_token(course))
    assert down.sent == [] and down.stopped.startswith("portal unreachable")
    refused = sync_once([course_dir], state, portal, "wrong-token")
    assert refused.sent == [] and refused.stopped == "portal answered 401"
    assert not (tmp_path / "state.json").exists()
    assert csv_row(client, auth, instructor, course, trainee)[f"{LAB} score"] == "10.8"  # autograde's, still
    # The portal is back: the next round sends it.
    assert len(sync_once([course_dir], state, portal, sync_token(course)).sent) == 1
    assert csv_row(client, auth, instructor, course, trainee)[f"{LAB} score"] == "14.4"


def test_a_total_waits_while_the_newest_submission_is_being_autograded(client, auth, graded, portal, course_dir,
                                                                       tmp_path):
    trainee, instructor, course, assignment = graded
    # A resubmission is queued: its autograde report will land after anything sent now and replace it.
    newer = Submission(assignment_id=assignment.id, student_id=trainee.id, received_at=datetime.now(UTC),
                       sha256="1" * 64, stored_path="y", status="queued", days_late=0, job_id="job-newer")
    db.session.add(newer)
    db.session.commit()
    grade_by_hand(course_dir, str(trainee.id), "explain_model", 2)
    state = SyncState(tmp_path / "state.json")
    waiting = sync_once([course_dir], state, portal, sync_token(course))
    assert waiting.sent == [] and waiting.waiting == [f"{COURSE}/{LAB}/{trainee.id}"] and waiting.stopped is None
    assert csv_row(client, auth, instructor, course, trainee)[f"{LAB} score"] == "10.8"
    # The worker's report arrives (on time now: no penalty); the next pass sends the total after it.
    newer.status = "graded"
    db.session.commit()
    assert len(sync_once([course_dir], state, portal, sync_token(course)).sent) == 1
    assert csv_row(client, auth, instructor, course, trainee)[f"{LAB} late_penalty"] == "0"
    assert csv_row(client, auth, instructor, course, trainee)[f"{LAB} score"] == "16"


def test_the_one_shot_command_sends_and_reports(graded, portal, course_dir, tmp_path, monkeypatch):
    trainee, _instructor, course, _assignment = graded
    grade_by_hand(course_dir, str(trainee.id), "explain_model", 0)
    monkeypatch.setenv("ACADEMY_SYNC_TOKEN", sync_token(course))
    args = ["--course-dir", str(course_dir), "--state", str(tmp_path / "s.json"), "--portal-url", portal]
    assert manual_sync.main(args) == 0
    assert f"{COURSE}/{LAB}/{trainee.id}" in (tmp_path / "s.json").read_text()
    monkeypatch.setenv("ACADEMY_SYNC_TOKEN", derive("another-secret", manual_scope(course.id)))
    grade_by_hand(course_dir, str(trainee.id), "explain_model", 1)
    assert manual_sync.main(args) == 1  # stopped early: the caller (cron, a person) sees it


def test_a_broken_course_does_not_hold_up_the_others(graded, portal, course_dir, tmp_path):
    trainee, _instructor, course, _assignment = graded
    broken = tmp_path / "broken-course"
    broken.mkdir()
    (broken / "nbgrader_config.py").write_text("c = get_config(\n")  # a syntax error
    grade_by_hand(course_dir, str(trainee.id), "explain_model", 1)
    report = sync_once([broken, course_dir], SyncState(tmp_path / "s.json"), portal, sync_token(course))
    assert report.unreadable == [str(broken)] and len(report.sent) == 1


def test_totals_say_which_answers_still_need_a_person(graded, course_dir):
    trainee, *_ = graded
    grade_by_hand(course_dir, str(trainee.id), "explain_model", 1)
    [total] = manual_sync.read_totals(*manual_sync.course_gradebook(course_dir))
    assert (total.score, total.max_score, total.manually_graded) == (7.0, 10.0, 1)
    assert total.needs_manual_grade == [f"{LAB}/explain_costs"]


# --- the endpoint ---------------------------------------------------------------------------------------


def body(trainee, **over) -> dict:
    return {"course": COURSE, "assignment": LAB, "student": str(trainee.id), "score": 8.0, "max_score": 10.0,
            "manually_graded": 1, "needs_manual_grade": [], **over}


def post(client, data, token):
    headers = {"X-Academy-Grader-Token": token} if token is not None else {}
    return client.post("/api/grading/manual", json=data, headers=headers)


def test_the_endpoint_records_once_and_keeps_portal_feedback(app, client, records):
    app.config["GRADER_TOKEN"] = MASTER
    trainee, instructor, course, assignment = records
    upsert_grade(assignment, trainee, 10, "Good plots.", instructor)
    db.session.commit()
    first = post(client, body(trainee), sync_token(course))
    assert first.status_code == 200, first.get_json()
    assert {"score": 14.4, "late_penalty": 1.6, "source": "formgrader", "changed": True}.items() <= first.get_json().items()
    saved = audit_count()
    second = post(client, body(trainee), sync_token(course))
    assert second.get_json()["changed"] is False and audit_count() == saved
    db.session.expire_all()
    grade = get_grade(assignment, trainee)
    assert (grade.score, grade.source, grade.feedback) == (14.4, "formgrader", "Good plots.")


def refusals() -> list[dict]:
    rows = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "grading.token_refused")
                              .order_by(AuditEntry.id))
    return [json.loads(r.detail) for r in rows]


@pytest.mark.parametrize("token", [None, "", "wrong", MASTER, derive("another-secret", "manual-c1"),
                                   "manual-c1." + "0" * 64], ids=["none", "empty", "wrong", "the-master-itself",
                                                                 "another-portals", "forged-mac"])
def test_no_genuine_token_is_401_and_audited(app, client, records, token):
    """A request without a token derived from this portal's secret writes nothing and is logged.

    Checked: fails when service_scope trusts the scope a token names without checking its HMAC.
    """
    app.config["GRADER_TOKEN"] = MASTER
    trainee, _instructor, _course, assignment = records
    before = get_grade(assignment, trainee).score
    assert post(client, body(trainee), token).status_code == 401
    assert refusals()[-1]["status"] == 401 and refusals()[-1]["reason"] == ("missing" if not token else "invalid")
    assert get_grade(assignment, trainee).score == before


def test_the_workers_results_token_cannot_post_hand_graded_totals(app, client, records):
    """The worker's token is genuine but for results only: 403 here, audited with the scope it offered.

    Checked: fails when _sync_course takes the course from the request body for any genuine token.
    """
    app.config["GRADER_TOKEN"] = MASTER
    trainee, *_ = records
    response = post(client, body(trainee), derive(MASTER, RESULTS))
    assert response.status_code == 403
    assert refusals()[-1] == {"endpoint": "/api/grading/manual", "status": 403, "reason": "out_of_scope",
                              "wanted": f"manual for {COURSE!r}", "offered": "results"}


def test_one_courses_sync_token_cannot_post_another_courses_totals(app, client, make, records):
    """Course B's sync holds a genuine token: it posts B's totals, never A's (nor a course it names falsely).

    Checked: fails when _sync_course no longer compares the token's course with the course the total names.
    """
    app.config["GRADER_TOKEN"] = MASTER
    trainee, _instructor, course_a, assignment = records
    course_b = make.course(cohorts=list(course_a.cohorts), nbgrader_course="other-lab-course")
    make.assignment(course_b, name=LAB, max_points=20)
    db.session.commit()
    before = get_grade(assignment, trainee).score
    b_token = sync_token(course_b)
    assert post(client, body(trainee), b_token).status_code == 403  # names A's folder with B's token
    assert refusals()[-1]["reason"] == "other_course" and refusals()[-1]["offered"] == f"manual-c{course_b.id}"
    assert get_grade(assignment, trainee).score == before
    # A's token for a total naming B: refused the same way.
    assert post(client, body(trainee, course="other-lab-course"), sync_token(course_a)).status_code == 403
    # B's own totals go through with B's token.
    assert post(client, body(trainee, course="other-lab-course"), b_token).status_code == 200


def test_the_results_endpoint_refuses_a_sync_token(app, client, records):
    """A course's sync token cannot post autograde results (the worker's endpoint) either."""
    app.config["GRADER_TOKEN"] = MASTER
    _trainee, _instructor, course, _assignment = records
    response = client.post("/api/grading/results", json={"submission_id": "1"},
                           headers={"X-Academy-Grader-Token": sync_token(course)})
    assert response.status_code == 403 and refusals()[-1]["wanted"] == "results"


@pytest.mark.parametrize(("field", "value"), [("assignment", "lab9"), ("student", "999999"), ("student", "u1")])
def test_unknown_assignment_or_trainee_is_404(app, client, records, field, value):
    app.config["GRADER_TOKEN"] = MASTER
    trainee, _instructor, course, _assignment = records
    response = post(client, body(trainee, **{field: value}), sync_token(course))
    assert response.status_code == 404 and response.get_json()["unknown"] == field


def test_someone_outside_the_course_is_404_and_bad_numbers_422(app, client, make, records):
    app.config["GRADER_TOKEN"] = MASTER
    trainee, _instructor, course, _assignment = records
    outsider = make.enrolled_student()
    assert post(client, body(outsider), sync_token(course)).status_code == 404
    for bad in ({"score": "many"}, {"max_score": 0}, {"score": -1}, {"score": None}, {"score": float("nan")}):
        assert post(client, body(trainee, **bad), sync_token(course)).status_code == 422, bad


def test_a_submission_waiting_for_the_queue_holds_hand_grading_until_it_is_graded(client, auth, graded, portal,
                                                                                  course_dir, tmp_path):
    """A newer submission not yet handed to the queue (behind the trainee's other job, or the broker was down)
    will still be graded and its report would replace a total sent now: the total waits (409) until it is.

    How checked: with the old rule (only a submission with a job holds the total back) the total was sent
    at once and the later autograde report replaced it.
    """
    trainee, instructor, course, assignment = graded
    waiting = Submission(assignment_id=assignment.id, student_id=trainee.id, received_at=datetime.now(UTC),
                         sha256="2" * 64, stored_path="z", status="queued", days_late=0)
    db.session.add(waiting)
    db.session.commit()
    grade_by_hand(course_dir, str(trainee.id), "explain_model", 2)
    state = SyncState(tmp_path / "state.json")
    first = sync_once([course_dir], state, portal, sync_token(course))
    assert first.sent == [] and first.waiting == [f"{COURSE}/{LAB}/{trainee.id}"]
    # Stuck for hours (no worker ever reports): hand grading is no longer held back.
    waiting.received_at = datetime.now(UTC) - timedelta(hours=3)
    db.session.commit()
    assert len(sync_once([course_dir], state, portal, sync_token(course)).sent) == 1
