"""Fetching over the exchange API: the list of released assignments, the release archive, submission filters."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest

from academy.admissions.models import Enrollment, EnrollmentStatus
from academy.config import var_dir
from academy.courses.services import grant_extension, set_due_date
from academy.extensions import db
from academy.integrations import nbgrader
from academy.oauth.models import OAuthToken
from tests.submissions.test_api import NB, _submit, _token

REPO = Path(__file__).resolve().parents[2]
LAB = "lab1_predictive_maintenance"
LAB_SOURCE = REPO / "courses" / "manufacturing-ai" / "source" / LAB / f"{LAB}.ipynb"


@pytest.fixture
def queue(app):
    app.config["SUBMISSIONS_ENQUEUE"] = lambda sub, files: f"job-{sub.id}"
    yield
    app.config.pop("SUBMISSIONS_ENQUEUE", None)


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _released(make, cohort, course, name=LAB, *, released=True, due_in=timedelta(days=3), **kw):
    assignment = make.assignment(course, name=name, **kw)
    due = datetime.now(UTC) + due_in
    set_due_date(assignment, cohort, due, released_at=datetime.now(UTC) - timedelta(hours=1) if released else None)
    db.session.commit()
    return assignment


def test_list_shows_only_assignments_released_to_own_cohorts(client, make):
    mine, other_cohort = make.cohort(), make.cohort()
    student = make.enrolled_student(mine)
    course = make.course(cohorts=[mine, other_cohort], late_percent_per_day=15, late_max_deduction=45,
                         late_cutoff_days=4)
    open_lab = _released(make, mine, course, LAB, title_ko="실습 1", title_en="Lab 1", max_points=10.0)
    _released(make, mine, course, "lab2_process_energy", released=False)  # dated, not released yet
    _released(make, other_cohort, course, "lab3_defect_inspection")  # released to someone else's cohort
    foreign = make.course(cohorts=[make.cohort()], nbgrader_course="other-course")
    _released(make, foreign.cohorts[0], foreign, LAB)
    extended_to = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    grant_extension(open_lab, student, extended_to, "illness", make.user("instructor"))
    db.session.commit()

    response = client.get("/api/exchange/assignments", headers=_bearer(_token(student)))
    assert response.status_code == 200
    listed = response.get_json()
    assert [a["id"] for a in listed] == [open_lab.id]
    row = listed[0]
    assert set(row) == {"id", "course", "assignment", "title_en", "title_ko", "released_at", "due_at", "cutoff_at",
                        "late_policy", "notebooks", "needs_gpu"}
    assert row["course"] == "manufacturing-ai" and row["assignment"] == LAB
    assert row["title_en"] == "Lab 1" and row["title_ko"] == "실습 1"
    assert row["due_at"] == "2030-01-02T03:04:00+00:00" and row["cutoff_at"] == "2030-01-06T03:04:00+00:00"
    assert datetime.fromisoformat(row["released_at"]) <= datetime.now(UTC)
    assert row["late_policy"] == {"percent_per_day": 15, "max_deduction": 45, "cutoff_days": 4}
    assert row["notebooks"] == [LAB] and row["needs_gpu"] is False

    assert client.get("/api/exchange/assignments?course=manufacturing-ai",
                      headers=_bearer(_token(student))).get_json()[0]["id"] == open_lab.id
    other = client.get("/api/exchange/assignments?course=other-course", headers=_bearer(_token(student)))
    assert other.get_json() == []


def test_withdrawn_trainee_sees_nothing_and_cannot_fetch(client, make):
    cohort = make.cohort()
    student = make.enrolled_student(cohort)
    assignment = _released(make, cohort, make.course(cohorts=[cohort]))
    token = _token(student)
    assert len(client.get("/api/exchange/assignments", headers=_bearer(token)).get_json()) == 1
    enrolment = db.session.scalar(db.select(Enrollment).where(Enrollment.student_id == student.id))
    enrolment.status = EnrollmentStatus.WITHDRAWN
    db.session.commit()
    assert client.get("/api/exchange/assignments", headers=_bearer(token)).get_json() == []
    assert client.get(f"/api/exchange/assignments/{assignment.id}/release", headers=_bearer(token)).status_code == 404


def test_expired_or_missing_token_gets_401_as_json(client, make):
    cohort = make.cohort()
    student = make.enrolled_student(cohort)
    assignment = _released(make, cohort, make.course(cohorts=[cohort]))
    token = _token(student)
    for row in db.session.scalars(db.select(OAuthToken).where(OAuthToken.user_id == student.id)):
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    for path in ("/api/exchange/assignments", f"/api/exchange/assignments/{assignment.id}/release",
                 "/api/exchange/submissions"):
        expired = client.get(path, headers=_bearer(token))
        assert expired.status_code == 401 and "error" in expired.get_json()
        assert client.get(path).status_code == 401
    english = client.get("/api/exchange/assignments", headers={"Accept-Language": "en"})
    assert "access token" in english.get_json()["error"]


def test_release_is_the_student_version_of_the_real_lab(client, make, tmp_path):
    cohort = make.cohort()
    student = make.enrolled_student(cohort)
    assignment = _released(make, cohort, make.course(cohorts=[cohort]))
    response = client.get(f"/api/exchange/assignments/{assignment.id}/release", headers=_bearer(_token(student)))
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "application/gzip"
    assert response.headers["X-Release-Sha256"] == hashlib.sha256(response.data).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(response.data), mode="r:gz") as tar:
        assert tar.getnames() == [f"{LAB}.ipynb"]
        tar.extractall(tmp_path / "fetched", filter="data")  # as the plugin unpacks it: no top folder
    released = (tmp_path / "fetched" / f"{LAB}.ipynb").read_text()
    nbformat.validate(nbformat.reads(released, as_version=4))
    source = LAB_SOURCE.read_text()
    assert "### BEGIN SOLUTION" in source and "### BEGIN HIDDEN TESTS" in source  # the check below means something
    assert "BEGIN SOLUTION" not in released and "BEGIN HIDDEN TESTS" not in released
    assert "raise NotImplementedError()" in released
    for hidden in _hidden_lines(source):
        assert hidden not in released, f"hidden test text leaked: {hidden!r}"
    # Solution code must not reach a code cell; the instructions (markdown) may name the call to make.
    released_code = "\n".join(c.source for c in nbformat.reads(released, as_version=4).cells if c.cell_type == "code")
    for solution in _solution_lines(source):
        assert solution not in released_code, f"solution code leaked: {solution!r}"
    # The store serves the same bytes again without running nbgrader (and says so with the same hash).
    again = client.get(f"/api/exchange/assignments/{assignment.id}/release", headers=_bearer(_token(student)))
    assert again.data == response.data


def _blocks(source: str, begin: str, end: str) -> list[str]:
    """Return the distinctive lines (long enough not to occur by chance) inside BEGIN/END blocks."""
    nb = nbformat.reads(source, as_version=4)
    lines = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if begin in line:
                inside = True
            elif end in line:
                inside = False
            elif inside and len(line.strip()) >= 25 and not line.strip().startswith("#"):
                lines.append(line.strip())
    return lines


def _hidden_lines(source: str) -> list[str]:
    lines = _blocks(source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
    assert lines, "the lab has hidden tests to look for"
    return lines


def _solution_lines(source: str) -> list[str]:
    lines = _blocks(source, "### BEGIN SOLUTION", "### END SOLUTION")
    assert lines, "the lab has solutions to look for"
    return lines


def test_another_courses_trainee_and_unknown_assignment_get_the_same_404(client, make):
    cohort = make.cohort()
    assignment = _released(make, cohort, make.course(cohorts=[cohort]))
    outsider = make.enrolled_student(make.cohort())
    token = _token(outsider)
    theirs = client.get(f"/api/exchange/assignments/{assignment.id}/release", headers=_bearer(token))
    unknown = client.get("/api/exchange/assignments/999999/release", headers=_bearer(token))
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.get_json() == unknown.get_json() == {"error": "찾을 수 없습니다."}  # Korean by default


def test_unreleased_assignment_gives_404(client, make):
    cohort = make.cohort()
    student = make.enrolled_student(cohort)
    assignment = _released(make, cohort, make.course(cohorts=[cohort]), released=False)
    response = client.get(f"/api/exchange/assignments/{assignment.id}/release", headers=_bearer(_token(student)))
    assert response.status_code == 404


def test_generate_failure_is_503_with_a_message_and_leaves_nothing(client, make, app, tmp_path):
    courses = tmp_path / "courses"
    _tiny_course(courses, "broken-course", "lab_broken", "{ not a notebook")
    app.config["COURSES_DIR"] = courses
    cohort = make.cohort()
    student = make.enrolled_student(cohort)
    assignment = _released(make, cohort, make.course(cohorts=[cohort], nbgrader_course="broken-course"),
                           "lab_broken")
    response = client.get(f"/api/exchange/assignments/{assignment.id}/release",
                          headers={**_bearer(_token(student)), "Accept-Language": "en"})
    assert response.status_code == 503
    assert "could not be prepared" in response.get_json()["error"]
    assert "NotJSONError" not in response.get_data(as_text=True)  # nbgrader's log is for the portal's log only
    store = var_dir() / "releases" / "broken-course"
    assert sorted(p.name for p in store.iterdir()) == [".lab_broken.lock"]  # no release, no build left over


def _tiny_course(courses: Path, course: str, name: str, notebook: str) -> Path:
    source = courses / course / "source" / name
    source.mkdir(parents=True)
    (courses / course / "nbgrader_config.py").write_text(
        (REPO / "courses" / "manufacturing-ai" / "nbgrader_config.py").read_text())
    (source / f"{name}.ipynb").write_text(notebook)
    return source / f"{name}.ipynb"


def test_concurrent_first_requests_build_once_and_a_failed_rebuild_keeps_the_release(app, make, tmp_path,
                                                                                      monkeypatch):
    notebook = _tiny_course(tmp_path / "courses", "race-course", "lab_race",
                            nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])))
    app.config["COURSES_DIR"] = tmp_path / "courses"
    assignment = make.assignment(make.course(nbgrader_course="race-course"), name="lab_race")
    runs = []
    real = nbgrader._run_generate
    monkeypatch.setattr(nbgrader, "_run_generate", lambda *a: runs.append(1) or real(*a))
    results, errors = [], []

    def fetch():
        with app.app_context():
            try:
                results.append(nbgrader.release_archive(assignment))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and len(results) == 4 and len(set(results)) == 1
    assert len(runs) == 1
    folder = nbgrader.release_dir(assignment)
    assert (folder / "lab_race.ipynb").is_file()

    # "Release now" after the source broke: nbgrader's own words in the error, the old release still served.
    notebook.write_text("{ broken")
    (folder.parent / ".build+lab_race+killed").mkdir()  # what a worker killed mid-build leaves
    with pytest.raises(nbgrader.ReleaseError, match="(?s)generate_assignment lab_race exited.*NotJSONError"):
        nbgrader.ensure_release(assignment, force=True)
    assert nbgrader.release_archive(assignment) == results[0]
    assert (folder / "lab_race.ipynb").is_file()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".build")]


def test_submission_json_fields_and_filters(client, make, queue):
    cohort = make.cohort()
    student = make.enrolled_student(cohort)
    course = make.course(cohorts=[cohort])
    lab1 = _released(make, cohort, course, LAB, max_points=10.0)
    lab2 = _released(make, cohort, course, "lab2_process_energy")
    other = make.course(cohorts=[cohort], nbgrader_course="other-course")
    lab1_other = _released(make, cohort, other, LAB)
    token = _token(student)
    nb = [(io.BytesIO(NB), f"{LAB}.ipynb"), (io.BytesIO(b"notes"), "extra/notes.txt")]
    first = _submit(client, token, lab1, nb).get_json()
    second = _submit(client, token, lab2).get_json()
    third = _submit(client, token, lab1_other).get_json()
    assert set(first) == {"id", "assignment_id", "assignment", "course", "received_at", "sha256", "status",
                          "status_label", "days_late", "score", "max_points", "late_penalty", "has_feedback",
                          "notebooks"}
    assert first["max_points"] == 10.0 and first["notebooks"] == [LAB] and first["score"] is None

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/exchange/submissions{query}", headers=_bearer(token))
        assert response.status_code == 200
        return [s["id"] for s in response.get_json()]

    assert ids("") == [third["id"], second["id"], first["id"]]
    assert ids("?course=manufacturing-ai") == [second["id"], first["id"]]
    assert ids(f"?course=manufacturing-ai&assignment={LAB}") == [first["id"]]
    assert ids(f"?assignment={LAB}") == [third["id"], first["id"]]
    assert ids("?course=nope") == []
    other_trainee = make.enrolled_student(cohort)
    assert client.get("/api/exchange/submissions", headers=_bearer(_token(other_trainee))).get_json() == []


def test_list_is_json_and_stable_for_the_plugin(client, make):
    cohort = make.cohort()
    student = make.enrolled_student(cohort)
    _released(make, cohort, make.course(cohorts=[cohort]), needs_gpu=True)
    response = client.get("/api/exchange/assignments", headers=_bearer(_token(student)))
    assert response.mimetype == "application/json"
    assert json.loads(response.data)[0]["needs_gpu"] is True


def test_a_stuck_nbgrader_is_stopped_and_reported(app, make, tmp_path):
    _tiny_course(tmp_path / "courses", "slow-course", "lab_slow",
                 nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])))
    app.config.update(COURSES_DIR=tmp_path / "courses", RELEASE_TIMEOUT_S=0.05)
    assignment = make.assignment(make.course(nbgrader_course="slow-course"), name="lab_slow")
    with pytest.raises(nbgrader.ReleaseError, match="took over 0.05 s"):
        nbgrader.ensure_release(assignment)
    assert not nbgrader.release_dir(assignment).exists()
