"""The trainee home keeps its lists between views (academy.home.views.student, under academy.reports.cache's
"trainee_home" version); whatever they show changes on the next view: a grade (added, changed, or by a bulk UPDATE),
an application's status, a change made by another portal process, a due date or a release time passing. One
trainee's lists are never another's, and each language has its own. The layout's menu is written once per role,
language and page (academy.ui.menu) and still marks the page the trainee is on.

How checked: with cache._renew_tokens returning at once (no token renewed on a commit), the grade (and bulk
UPDATE), application and other-worker tests fail; with "released" left out of the trainee_home version the release
test fails, and with "due" left out the due-date test fails; with the user id left out of the key, the two-trainees
test fails; with _Store.keep not evicting, or evicting across reports, the bound test fails; with the association
tables left out of cache._tables_written, the course-off-the-cohort test fails; with request.endpoint left out of the
menu's key, the menu test fails; with the page size left out of My submissions, its paging test
(tests/courses/test_submission_pages.py) fails.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from academy import create_app
from academy.admissions.models import Application
from academy.courses.models import DueDate, Grade
from academy.extensions import db
from academy.home import services
from academy.reports import cache


@pytest.fixture
def home(make):
    cohort = make.cohort()
    course = make.course(cohorts=[cohort])
    lab = make.assignment(course, name="lab1", title_ko="베어링 실습", title_en="Bearing lab", max_points=10.0)
    trainee = make.enrolled_student(cohort, name="김훈련")
    other = make.enrolled_student(cohort, name="이훈련")
    now = datetime.now(UTC)
    db.session.add(DueDate(assignment_id=lab.id, cohort_id=cohort.id, due_at=now + timedelta(hours=1),
                           released_at=now - timedelta(days=1)))
    db.session.add(Application(student_id=trainee.id, cohort_id=make.cohort().id, status="submitted"))
    db.session.commit()
    return SimpleNamespace(cohort=cohort, course=course, lab=lab, trainee=trainee, other=other)


def _page(client, lang: str = "ko") -> str:
    response = client.get("/home/student", headers={"Accept-Language": lang})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _later(monkeypatch, delta: timedelta) -> None:
    now = datetime.now(UTC) + delta
    for module in ("academy.reports.cache", "academy.home.services", "academy.submissions.services"):
        monkeypatch.setattr(f"{module}.utcnow", lambda: now)


def test_a_grade_shows_on_the_next_view(client, auth, home):
    auth.login(home.trainee)
    assert "점수가 아직 없습니다" in _page(client) or "No scores yet" in _page(client, "en")
    db.session.add(Grade(assignment_id=home.lab.id, student_id=home.trainee.id, score=7.0, max_score=10.0))
    db.session.commit()
    assert "7.0 / 10" in _page(client)
    grade = db.session.scalar(sa.select(Grade).where(Grade.student_id == home.trainee.id))
    grade.score = 8.5  # an UPDATE of the row
    db.session.commit()
    assert "8.5 / 10" in _page(client)
    db.session.execute(sa.update(Grade).where(Grade.student_id == home.trainee.id).values(score=9.5))  # bulk
    db.session.commit()
    assert "9.5 / 10" in _page(client)


def test_an_application_decision_shows_on_the_next_view(client, auth, home):
    auth.login(home.trainee)
    assert "submitted" in _page(client, "en")
    application = db.session.scalar(sa.select(Application).where(Application.student_id == home.trainee.id))
    application.status = "under_review"
    db.session.commit()
    assert "under review" in _page(client, "en")


@pytest.mark.parametrize("courses_listed", [True, False])
def test_a_course_taken_off_the_cohort_shows_on_the_next_view(client, auth, home, monkeypatch, courses_listed):
    """course.cohorts = [...] writes the association table course_cohorts, while only the course is in the session's
    dirty set: the course's labs leave the home at once, and come back when the cohort is put back. Without "courses"
    among the home's tables, the association table alone must renew the token. Checked: that case fails when the
    flush notes only each object's own table."""
    if not courses_listed:
        monkeypatch.setitem(cache.TABLES, "trainee_home", cache.TABLES["trainee_home"] - {"courses"})
    auth.login(home.trainee)
    assert "Bearing lab" in _page(client, "en")
    home.course.cohorts = []
    db.session.commit()
    assert "Bearing lab" not in _page(client, "en")
    home.course.cohorts = [home.cohort]
    db.session.commit()
    assert "Bearing lab" in _page(client, "en")


def test_a_change_made_through_another_worker_shows(client, auth, home, _schema):
    auth.login(home.trainee)
    assert "No scores yet" in _page(client, "en")
    other = create_app(_schema)
    with other.app_context():
        db.session.add(Grade(assignment_id=home.lab.id, student_id=home.trainee.id, score=6.0, max_score=10.0))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    assert "6.0 / 10" in _page(client, "en")


def test_a_due_date_passing_shows_on_the_next_view(client, auth, home, monkeypatch):
    auth.login(home.trainee)
    assert "Bearing lab" in _page(client, "en").split("Latest scores")[0]  # due next
    _later(monkeypatch, timedelta(hours=2))
    assert "Bearing lab" not in _page(client, "en").split("Latest scores")[0]


def test_a_release_time_passing_shows_on_the_next_view(client, auth, home, monkeypatch):
    """A second lab released in an hour: no start link now, one after its release time, with nothing written."""
    db.session.execute(sa.update(DueDate).values(due_at=datetime.now(UTC) + timedelta(days=5)))  # none passes
    lab2 = home.lab.__class__(course_id=home.course.id, nbgrader_name="lab2", title_ko="실습2", title_en="Lab two",
                              week=2, max_points=10.0)
    db.session.add(lab2)
    db.session.flush()
    now = datetime.now(UTC)
    db.session.add(DueDate(assignment_id=lab2.id, cohort_id=home.cohort.id, due_at=now + timedelta(days=3),
                           released_at=now + timedelta(hours=1)))
    db.session.commit()
    auth.login(home.trainee)
    assert "Lab two" in _page(client, "en") and f'data-test="start-lab-{lab2.id}"' not in _page(client, "en")
    _later(monkeypatch, timedelta(hours=2))
    assert f'data-test="start-lab-{lab2.id}"' in _page(client, "en")


def test_trainees_and_languages_are_kept_apart(client, auth, home):
    db.session.add(Grade(assignment_id=home.lab.id, student_id=home.trainee.id, score=7.0, max_score=10.0))
    db.session.commit()
    auth.login(home.trainee)
    assert "Bearing lab · 7.0 / 10" in _page(client, "en")
    assert "베어링 실습 · 7.0 / 10" in _page(client, "ko")
    auth.logout()
    auth.login(home.other)
    page = _page(client, "en")
    assert "7.0 / 10" not in page and "No scores yet" in page and "No applications" in page


def test_a_second_view_reads_only_the_versions(client, auth, home, monkeypatch):
    auth.login(home.trainee)
    first = _page(client)
    monkeypatch.setattr(services, "trainee_todo", lambda *a: pytest.fail("the lists were computed again"))
    assert _page(client) == first


def test_the_store_keeps_at_most_its_limit(client, auth, home, make, monkeypatch):
    """Per-trainee entries must not grow with the number of trainees who ever looked: the least recently used go, and
    only among the trainee homes (a report's figures are not pushed out by them)."""
    monkeypatch.setattr(cache._Store, "LIMIT", 2)
    store = client.application.extensions["report_cache"]
    store.keep(("progress", "raw"), ("token",), "a report's costly figures")  # must outlive any number of trainees
    third = make.enrolled_student(home.cohort)
    db.session.commit()
    for trainee in (home.trainee, home.other, third):
        auth.login(trainee)
        _page(client)
        auth.logout()
    kept = list(store.entries["trainee_home"])
    assert len(kept) == 2 and home.trainee.id not in {key[1] for key in kept}
    assert ("progress", "raw") in store.entries["progress"]


def test_the_menu_marks_the_page_in_either_language(client, auth, home):
    auth.login(home.trainee)
    assert '<a href="/home/student" aria-current="page">Home</a>' in _page(client, "en")
    assert '<a href="/home/student" aria-current="page">홈</a>' in _page(client, "ko")
    page = client.get("/my/courses", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<a href="/my/courses" aria-current="page">My courses</a>' in page
    assert '<a href="/home/student">Home</a>' in page
