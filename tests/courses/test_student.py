"""Trainee course pages: my due dates (my extension wins), scores, late penalties, feedback; no one else's."""
from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from academy.courses.models import DueDate
from academy.courses.services import due_for, grant_extension, my_assignments, upsert_grade
from academy.extensions import db
from academy.home.services import trainee_due_dates

COHORT_DUE = datetime(2027, 4, 1, 14, 0, tzinfo=UTC)
EXTENDED = datetime(2027, 4, 6, 14, 0, tzinfo=UTC)


@pytest.fixture
def world(make):
    teacher = make.user("instructor")
    cohort, other_cohort = make.cohort(), make.cohort()
    course = make.course(cohorts=[cohort], instructors=[teacher])
    other_course = make.course(cohorts=[other_cohort])
    lab1 = make.assignment(course, name="lab1_predictive_maintenance")
    lab2 = make.assignment(course, name="lab2_process_energy", week=3)
    me, classmate = make.enrolled_student(cohort), make.enrolled_student(cohort)
    db.session.add_all([DueDate(assignment_id=a.id, cohort_id=cohort.id, due_at=COHORT_DUE) for a in (lab1, lab2)])
    db.session.flush()
    grant_extension(lab1, me, EXTENDED, "병가", teacher)
    upsert_grade(lab1, me, 72.5, "Explain your threshold choice.", teacher, late_penalty=7.5)
    upsert_grade(lab2, classmate, 91, "CLASSMATE-SECRET-FEEDBACK", teacher)
    db.session.commit()
    return SimpleNamespace(teacher=teacher, course=course, other_course=other_course, lab1=lab1, lab2=lab2,
                           me=me, classmate=classmate)


def test_due_for_prefers_my_extension_over_the_cohort_date(world):
    assert due_for(world.me, world.lab1) == EXTENDED
    assert due_for(world.me, world.lab2) == COHORT_DUE
    assert due_for(world.classmate, world.lab1) == COHORT_DUE
    rows = {r.assignment.id: r for r in my_assignments(world.me, world.course)}
    assert rows[world.lab1.id].extended and rows[world.lab1.id].due_at == EXTENDED
    assert rows[world.lab1.id].grade.score == 72.5
    assert rows[world.lab2.id].grade is None


def test_home_student_due_dates_agree_with_the_course_pages(world):
    mine = {a.id: (due, g) for a, due, g in trainee_due_dates(world.me)}
    assert mine[world.lab1.id][0] == EXTENDED
    assert mine[world.lab2.id][0] == COHORT_DUE
    assert mine[world.lab1.id][1].score == 72.5 and mine[world.lab2.id][1] is None
    theirs = {a.id: (due, g) for a, due, g in trainee_due_dates(world.classmate)}
    assert theirs[world.lab1.id][0] == COHORT_DUE and theirs[world.lab2.id][1].score == 91


def test_my_courses_page_shows_my_dates_scores_penalty_and_feedback_only(client, auth, world):
    auth.login(world.me)
    page = client.get("/my/courses")
    assert page.status_code == 200
    assert f'data-test="course-{world.course.id}"'.encode() in page.data
    assert f'data-test="course-{world.other_course.id}"'.encode() not in page.data
    assert b"2027-04-06 23:00" in page.data  # my extension, in Seoul time
    assert b"72.5" in page.data and "−7.5".encode() in page.data
    assert b"Explain your threshold choice." in page.data
    assert b"CLASSMATE-SECRET-FEEDBACK" not in page.data and b"91 / 100" not in page.data


def test_course_page_is_only_for_its_trainees(client, auth, make, world):
    auth.login(world.me)
    page = client.get(f"/my/courses/{world.course.id}")
    assert page.status_code == 200 and b"Explain your threshold choice." in page.data
    assert client.get(f"/my/courses/{world.other_course.id}").status_code == 403
    auth.logout()
    auth.login(make.user("student"))
    assert client.get(f"/my/courses/{world.course.id}").status_code == 403


def test_instructor_cannot_use_trainee_pages(client, auth, world):
    auth.login(world.teacher)
    assert client.get("/my/courses").status_code == 403
