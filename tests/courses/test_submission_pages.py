"""Trainees follow their submissions in the portal; instructors see an assignment's submissions and release it."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from flask import current_app
from nbgrader.api import Gradebook

from academy.courses.models import DueDate
from academy.courses.services import set_due_date
from academy.extensions import db
from academy.integrations.nbgrader import release_dir
from academy.submissions.services import receive_submission, record_result
from tests.submissions.test_api import _token

NB = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


@pytest.fixture
def world(app, make):
    app.config["SUBMISSIONS_ENQUEUE"] = lambda sub, files: f"job-{sub.id}"
    teacher, other_teacher = make.user("instructor"), make.user("instructor")
    cohort = make.cohort()
    course = make.course(cohorts=[cohort], instructors=[teacher])
    lab = make.assignment(course, max_points=10)
    me, classmate = make.enrolled_student(cohort), make.enrolled_student(cohort)
    now = datetime.now(UTC)
    set_due_date(lab, cohort, now + timedelta(days=2), released_at=now - timedelta(hours=1))
    db.session.commit()
    yield SimpleNamespace(teacher=teacher, other_teacher=other_teacher, cohort=cohort, course=course, lab=lab,
                          me=me, classmate=classmate)
    app.config.pop("SUBMISSIONS_ENQUEUE", None)


def _submit(student, lab):
    sub = receive_submission(lab, student, {"lab.ipynb": NB})
    db.session.commit()
    return sub


def _grade(sub, auto=8.0, html="<p>FEEDBACK-FOR-ME</p><script>alert(1)</script>"):
    record_result({"submission_id": sub.id, "status": "graded", "auto_score": auto, "max_auto_score": 10,
                   "feedback_html": html})
    db.session.commit()


def test_my_submissions_shows_grading_queued_then_score_and_feedback(client, auth, world):
    sub = _submit(world.me, world.lab)
    auth.login(world.me)
    page = client.get("/my/submissions").get_data(as_text=True)
    row = re.search(rf'<tr data-submission-id="{sub.id}">.*?</tr>', page, re.S).group(0)
    assert "Grading queued" in row or "채점 대기" in row
    assert sub.sha256[:12] in row
    assert 'http-equiv="refresh"' in page  # keeps itself current while grading is pending
    assert "feedback-link" not in row

    _grade(sub)
    page = client.get("/my/submissions").get_data(as_text=True)
    row = re.search(rf'<tr data-submission-id="{sub.id}">.*?</tr>', page, re.S).group(0)
    assert "8 / 10" in row
    assert 'http-equiv="refresh"' not in page
    link = re.search(r'class="feedback-link" href="([^"]+)"', row).group(1)
    detail = client.get(link).get_data(as_text=True)
    assert "8 / 10" in detail and sub.sha256 in detail and "<iframe" in detail

    document = client.get(f"/my/submissions/{sub.id}/feedback.html")
    assert document.status_code == 200 and "FEEDBACK-FOR-ME" in document.get_data(as_text=True)
    csp = document.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "script-src" not in csp and "default-src 'none'" in csp
    assert "frame-ancestors 'self'" in csp and document.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_a_trainee_never_sees_a_classmates_submission(client, auth, world):
    theirs = _submit(world.classmate, world.lab)
    _grade(theirs, html="<p>CLASSMATE-SECRET</p>")
    mine = _submit(world.me, world.lab)
    auth.login(world.me)
    page = client.get("/my/submissions").get_data(as_text=True)
    assert f'data-submission-id="{mine.id}"' in page and f'data-submission-id="{theirs.id}"' not in page
    assert client.get(f"/my/submissions/{theirs.id}/feedback").status_code == 404
    assert client.get(f"/my/submissions/{theirs.id}/feedback.html").status_code == 404


def test_instructor_sees_every_submission_of_their_assignment_only(client, auth, world):
    a, b = _submit(world.me, world.lab), _submit(world.classmate, world.lab)
    url = f"/courses/{world.course.id}/assignments/{world.lab.id}/submissions"
    auth.login(world.teacher)
    page = client.get(url).get_data(as_text=True)
    assert f'data-submission-id="{a.id}"' in page and f'data-submission-id="{b.id}"' in page
    assert world.me.name in page and world.classmate.name in page
    auth.logout()
    auth.login(world.other_teacher)
    assert client.get(url).status_code == 403
    auth.logout()
    auth.login(world.me)
    assert client.get(url).status_code == 403


def test_release_now_needs_a_due_date_first(client, auth, make, world):
    other = make.cohort()
    world.course.cohorts.append(other)
    db.session.commit()
    auth.login(world.teacher)
    response = client.post(f"/courses/{world.course.id}/assignments/{world.lab.id}/release",
                           data={"cohort_id": other.id}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "due date first" in page or "마감일을 먼저" in page


def test_release_now_generates_the_student_version_and_opens_it_to_the_cohort(client, auth, make, world):
    later = make.cohort()
    world.course.cohorts.append(later)
    set_due_date(world.lab, later, datetime.now(UTC) + timedelta(days=9))
    db.session.commit()
    auth.login(world.teacher)
    page = client.post(f"/courses/{world.course.id}/assignments/{world.lab.id}/release",
                       data={"cohort_id": later.id}, follow_redirects=True).get_data(as_text=True)
    assert "Released" in page or "배포했습니다" in page
    due = db.session.scalar(db.select(DueDate).where(DueDate.cohort_id == later.id))
    db.session.refresh(due)
    assert due.released_at is not None and due.released_at <= datetime.now(UTC)
    notebook = (release_dir(world.lab) / "lab1_predictive_maintenance.ipynb").read_text()
    assert "BEGIN SOLUTION" not in notebook and "BEGIN HIDDEN TESTS" not in notebook
    # The course gradebook now knows the assignment, so the grading worker can autograde it at once.
    url = current_app.config["GRADEBOOK_URL"].format(course="manufacturing-ai")
    with Gradebook(url, "manufacturing-ai") as gb:
        recorded = gb.find_assignment("lab1_predictive_maintenance")
        assert [nb.name for nb in recorded.notebooks] == ["lab1_predictive_maintenance"]
        assert len(recorded.notebooks[0].grade_cells) >= 8
    # The trainee of that cohort now finds it in the exchange list.
    student = make.enrolled_student(later)

    listed = client.get("/api/exchange/assignments", headers={"Authorization": f"Bearer {_token(student)}"})
    assert [a["assignment"] for a in listed.get_json()] == ["lab1_predictive_maintenance"]


def test_start_in_jupyterlab_is_offered_for_released_work_and_opens_it_through_the_hub(app, client, auth, world, make):
    """Home, course page and my submissions offer "Start in JupyterLab" for a released assignment; the link
    sends the trainee to their own server's /academy/start through the hub, naming the nbgrader course and
    assignment. Not released to me (unreleased, another cohort's, unknown) is a 404; other roles are refused.

    Checked: with get_released replaced by a plain lookup, the unreleased and the other cohort's assignment
    were redirected to the hub as well.
    """
    app.config["HUB_URL"] = "https://hub.example.kr"
    later = make.assignment(world.course, name="lab2_process_energy", max_points=10)  # due, not released yet
    set_due_date(later, world.cohort, datetime.now(UTC) + timedelta(days=9),
                 released_at=datetime.now(UTC) + timedelta(days=2))
    elsewhere = make.assignment(make.course(cohorts=[make.cohort()]), max_points=10)
    set_due_date(elsewhere, elsewhere.course.cohorts[0], datetime.now(UTC) + timedelta(days=2),
                 released_at=datetime.now(UTC) - timedelta(hours=1))
    db.session.commit()
    _submit(world.me, world.lab)
    auth.login(world.me)
    link = f'data-test="start-lab-{world.lab.id}" href="/my/assignments/{world.lab.id}/start"'
    for path in ("/home/student", f"/my/courses/{world.course.id}", "/my/submissions"):
        page = client.get(path).get_data(as_text=True)
        assert link in page, path
        assert f'data-test="start-lab-{later.id}"' not in page, path
    response = client.get(f"/my/assignments/{world.lab.id}/start")
    assert response.status_code == 302
    assert response.headers["Location"] == (
        f"https://hub.example.kr/hub/user-redirect/academy/start?course={world.course.nbgrader_course}"
        f"&assignment={world.lab.nbgrader_name}")
    for assignment_id in (later.id, elsewhere.id, 999999):
        assert client.get(f"/my/assignments/{assignment_id}/start").status_code == 404
    auth.login(world.teacher)
    assert client.get(f"/my/assignments/{world.lab.id}/start").status_code == 403


def test_my_course_page_charts_my_scores_per_assignment(client, auth, world):
    """The trainee's course page draws their score per assignment (an SVG image) above the table of the same."""
    sub = _submit(world.me, world.lab)
    _grade(sub, auto=8.0)
    auth.login(world.me)
    page = client.get(f"/my/courses/{world.course.id}").get_data(as_text=True)
    assert re.search(r'<img src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]+" alt="[^"]+" data-test="chart-progress">', page)
    assert "<script" not in page.split("<main")[-1]


def test_my_submissions_come_a_page_at_a_time_newest_first(client, auth, world):
    """30 submissions: the newest 25 on the first page, the 5 oldest on the second, none on both or neither; only my
    own. Checked: fails with the page size left out of the view (all 30 on one page)."""
    from academy.submissions.models import Submission

    now = datetime.now(UTC)
    mine = [Submission(assignment_id=world.lab.id, student_id=world.me.id, received_at=now - timedelta(minutes=i),
                       sha256=f"{i:064x}", stored_path="x", status="superseded") for i in range(30)]
    theirs = Submission(assignment_id=world.lab.id, student_id=world.classmate.id, received_at=now,
                        sha256="f" * 64, stored_path="y", status="superseded")
    db.session.add_all([*mine, theirs])
    db.session.commit()
    auth.login(world.me)
    pages = [client.get(f"/my/submissions?page={n}", headers={"Accept-Language": "en"}).get_data(as_text=True)
             for n in (1, 2)]
    shown = [[int(i) for i in re.findall(r'<tr data-submission-id="(\d+)">', page)] for page in pages]
    assert shown == [[s.id for s in mine[:25]], [s.id for s in mine[25:]]]
    assert "30 in all, page 1 of 2" in pages[0] and "Next" in pages[0] and "Previous" in pages[1]
    assert 'http-equiv="refresh"' not in pages[0]  # nothing waits for the grader
