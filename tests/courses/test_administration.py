"""The office's course administration: a course on a real nbgrader folder, its cohorts, instructors, late policy,
archive; and extensions for a group of trainees, all or none."""
from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEntry
from academy.courses.models import Course, DueDate, Extension
from academy.courses.services import set_due_date
from academy.extensions import db

SYLLABUS = """course_id = "{name}"
[[assignment]]
name = "lab1"
[[assignment]]
name = "lab2"
"""


def _folder(root, name, *, labs=("lab1", "lab2"), syllabus=True):
    (root / name / "source").mkdir(parents=True)
    for lab in labs:
        (root / name / "source" / lab).mkdir()
    if syllabus:
        (root / name / "syllabus.toml").write_text(SYLLABUS.format(name=name))
    return root / name


@pytest.fixture
def office(app, make, tmp_path):
    courses = tmp_path / "courses"
    courses.mkdir()
    _folder(courses, "ai-basics")
    app.config["COURSES_DIR"] = courses
    admin = make.user("admin")
    teacher = make.user("instructor", name="Park Teacher")
    other_teacher = make.user("instructor")
    coordinator = make.user("coordinator")
    cohort, cohort2 = make.cohort(), make.cohort()
    db.session.commit()
    return SimpleNamespace(root=courses, admin=admin, teacher=teacher, other_teacher=other_teacher,
                           coordinator=coordinator, cohort=cohort, cohort2=cohort2, tmp=tmp_path)


def _course_form(o, **changes):
    data = {"code": "AI-201", "title_ko": "AI 기초", "title_en": "AI basics", "nbgrader_course": "ai-basics",
            "cohort_ids": [o.cohort.id, o.cohort2.id], "instructor_ids": [o.teacher.id],
            "late_percent_per_day": 5, "late_max_deduction": 40, "late_cutoff_days": 3}
    data.update(changes)
    return data


def _english(client):
    client.post("/lang/en")


def _audits(action):
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def _course(code="AI-201"):
    db.session.expire_all()
    return db.session.scalar(sa.select(Course).where(Course.code == code))


def test_office_creates_a_course_with_cohorts_instructors_and_late_policy(client, auth, office):
    auth.login(office.admin)
    assert client.get("/admin/courses/new").status_code == 200
    response = client.post("/admin/courses/new", data=_course_form(office))
    assert response.status_code == 302, response.data[:2000]
    course = _course()
    assert course.title_en == "AI basics" and course.nbgrader_course == "ai-basics"
    assert {c.id for c in course.cohorts} == {office.cohort.id, office.cohort2.id}
    assert [u.id for u in course.instructors] == [office.teacher.id]
    assert (course.late_percent_per_day, course.late_max_deduction, course.late_cutoff_days) == (5, 40, 3)
    entry = _audits("course.created")[0]
    detail = json.loads(entry.detail)
    assert detail["before"] is None and detail["after"]["instructor_ids"] == [office.teacher.id]
    assert entry.actor_id == office.admin.id
    page = client.get("/admin/courses?q=ai-b").get_data(as_text=True)
    assert "AI-201" in page
    assert "AI-201" not in client.get("/admin/courses?q=nothing-like-it").get_data(as_text=True)
    # The instructor now sees it among their courses.
    auth.logout()
    auth.login(office.teacher)
    assert "AI-201" in client.get("/courses/mine").get_data(as_text=True)
    assert client.get(f"/courses/{course.id}").status_code == 200


def test_an_edit_is_audited_with_before_and_after(client, auth, office):
    auth.login(office.admin)
    client.post("/admin/courses/new", data=_course_form(office))
    course = _course()
    response = client.post(f"/admin/courses/{course.id}/edit",
                           data=_course_form(office, title_en="AI foundations", cohort_ids=[office.cohort.id]))
    assert response.status_code == 302
    course = _course()
    assert course.title_en == "AI foundations" and [c.id for c in course.cohorts] == [office.cohort.id]
    detail = json.loads(_audits("course.updated")[0].detail)
    assert detail["before"]["title_en"] == "AI basics" and detail["after"]["title_en"] == "AI foundations"
    assert detail["before"]["cohort_ids"] == sorted([office.cohort.id, office.cohort2.id])


@pytest.mark.parametrize("folder", ["../outside", "..", "ai-basics/../..", "/etc", "no-such-folder"])
def test_a_folder_outside_courses_or_missing_is_refused(client, auth, office, folder):
    (office.tmp / "outside" / "source" / "lab1").mkdir(parents=True)
    auth.login(office.admin)
    _english(client)
    response = client.post("/admin/courses/new", data=_course_form(office, nbgrader_course=folder))
    assert response.status_code == 400
    assert _course() is None


def test_a_link_out_of_the_courses_folder_is_refused(client, auth, office):
    """A symlink inside COURSES_DIR that leads elsewhere is refused (fails without the link check in
    academy.integrations.course_folder: the linked folder is a complete course folder)."""
    outside = _folder(office.tmp, "elsewhere")
    os.symlink(outside, office.root / "sneaky")
    auth.login(office.admin)
    _english(client)
    response = client.post("/admin/courses/new", data=_course_form(office, nbgrader_course="sneaky"))
    assert response.status_code == 400
    assert "not a folder inside the courses folder" in response.get_data(as_text=True)
    assert _course() is None


def test_a_syllabus_assignment_without_its_source_folder_is_named(client, auth, office):
    """Fails without the syllabus check: the folder exists and has a source/ folder."""
    _folder(office.root, "half-done", labs=("lab1",))
    auth.login(office.admin)
    _english(client)
    response = client.post("/admin/courses/new", data=_course_form(office, nbgrader_course="half-done"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "no source/ folder" in page and "lab2" in page
    assert _course() is None


def test_a_folder_without_syllabus_or_source_is_refused(client, auth, office):
    (office.root / "empty").mkdir()
    auth.login(office.admin)
    _english(client)
    response = client.post("/admin/courses/new", data=_course_form(office, nbgrader_course="empty"))
    assert response.status_code == 400 and "is not an nbgrader course folder" in response.get_data(as_text=True)


def test_a_folder_without_syllabus_declares_its_source_assignments(client, auth, office):
    _folder(office.root, "plain", syllabus=False)
    auth.login(office.admin)
    assert client.post("/admin/courses/new", data=_course_form(office, nbgrader_course="plain")).status_code == 302


def test_only_instructors_can_be_assigned(client, auth, office):
    """Fails without the role check in administration.save_course: the coordinator's id is a real user."""
    auth.login(office.admin)
    _english(client)
    response = client.post("/admin/courses/new",
                           data=_course_form(office, instructor_ids=[office.teacher.id, office.coordinator.id]))
    assert response.status_code == 400
    assert "Only instructors can teach a course" in response.get_data(as_text=True)
    assert _course() is None


@pytest.mark.parametrize("field,value", [("late_percent_per_day", 101), ("late_percent_per_day", -1),
                                         ("late_max_deduction", 150), ("late_cutoff_days", -2)])
def test_a_late_policy_out_of_range_is_refused(client, auth, office, field, value):
    auth.login(office.admin)
    response = client.post("/admin/courses/new", data=_course_form(office, **{field: value}))
    assert response.status_code == 400
    assert _course() is None


def test_the_course_instructor_sets_the_late_policy_another_instructor_cannot(client, auth, office, make):
    """Fails without the teaches() check in courses.views._run_course."""
    course = make.course(nbgrader_course="ai-basics", instructors=[office.teacher], cohorts=[office.cohort])
    db.session.commit()
    auth.login(office.other_teacher)
    assert client.get(f"/courses/{course.id}/late-policy").status_code == 403
    assert client.post(f"/courses/{course.id}/late-policy", data={"late_percent_per_day": 0, "late_max_deduction": 0,
                                                                  "late_cutoff_days": 0}).status_code == 403
    auth.logout()
    auth.login(office.teacher)
    assert client.post(f"/courses/{course.id}/late-policy", data={"late_percent_per_day": 101, "late_max_deduction": 0,
                                                                  "late_cutoff_days": 0}).status_code == 400
    response = client.post(f"/courses/{course.id}/late-policy",
                           data={"late_percent_per_day": 20, "late_max_deduction": 60, "late_cutoff_days": 2})
    assert response.status_code == 302
    course = _course(course.code)
    assert (course.late_percent_per_day, course.late_max_deduction, course.late_cutoff_days) == (20, 60, 2)
    detail = json.loads(_audits("course.late_policy_set")[0].detail)
    assert detail["before"]["late_percent_per_day"] == 10 and detail["after"]["late_percent_per_day"] == 20


def test_an_instructor_cannot_reach_the_office_pages(client, auth, office, make):
    course = make.course(nbgrader_course="ai-basics", instructors=[office.teacher])
    db.session.commit()
    auth.login(office.teacher)
    assert client.get("/admin/courses").status_code == 403
    assert client.post(f"/admin/courses/{course.id}/edit", data=_course_form(office)).status_code == 403
    assert client.post(f"/admin/courses/{course.id}/archive").status_code == 403


def test_an_archived_course_is_hidden_from_trainees_and_refuses_releases(client, auth, office, make):
    """Fails without the archived filter in courses.services.trainee_courses."""
    course = make.course(nbgrader_course="ai-basics", instructors=[office.teacher], cohorts=[office.cohort])
    assignment = make.assignment(course, name="lab1")
    trainee = make.enrolled_student(office.cohort)
    db.session.commit()
    auth.login(office.admin)
    assert client.post(f"/admin/courses/{course.id}/archive").status_code == 302
    assert _course(course.code).archived_at is not None
    assert _audits("course.archived")
    assert course.code not in client.get("/admin/courses").get_data(as_text=True)
    assert course.code in client.get("/admin/courses?archived=1").get_data(as_text=True)
    auth.logout()
    auth.login(trainee)
    assert course.code not in client.get("/my/courses").get_data(as_text=True)
    assert client.get(f"/my/courses/{course.id}").status_code == 200  # the history stays readable
    auth.logout()
    auth.login(office.teacher)
    due = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"/courses/{course.id}/assignments/{assignment.id}/due",
                           data={"cohort_id": office.cohort.id, "due_at": due})
    assert response.status_code == 400
    assert db.session.scalar(sa.select(DueDate.id)) is None
    auth.logout()
    auth.login(office.admin)
    assert client.post(f"/admin/courses/{course.id}/unarchive").status_code == 302
    assert _course(course.code).archived_at is None and _audits("course.unarchived")
    auth.logout()
    auth.login(trainee)
    assert course.code in client.get("/my/courses").get_data(as_text=True)


def test_release_of_an_archived_course_is_refused(client, auth, office, make):
    course = make.course(nbgrader_course="ai-basics", instructors=[office.teacher], cohorts=[office.cohort])
    assignment = make.assignment(course, name="lab1")
    set_due_date(assignment, office.cohort, datetime.now(UTC) + timedelta(days=7))
    db.session.commit()
    auth.login(office.admin)
    client.post(f"/admin/courses/{course.id}/archive")
    auth.logout()
    auth.login(office.teacher)
    _english(client)
    response = client.post(f"/courses/{course.id}/assignments/{assignment.id}/release",
                           data={"cohort_id": office.cohort.id}, follow_redirects=True)
    assert "archived" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(DueDate.released_at)) is None


# --- bulk extensions ------------------------------------------------------------------------


@pytest.fixture
def roster(office, make):
    course = make.course(nbgrader_course="ai-basics", instructors=[office.teacher],
                         cohorts=[office.cohort, office.cohort2])
    assignment = make.assignment(course, name="lab1")
    due = datetime(2030, 3, 10, 14, 0, tzinfo=UTC)
    set_due_date(assignment, office.cohort, due)
    set_due_date(assignment, office.cohort2, due + timedelta(days=1))
    a, b = make.enrolled_student(office.cohort, name="Kim A"), make.enrolled_student(office.cohort, name="Lee B")
    c = make.enrolled_student(office.cohort2, name="Choi C")
    outsider = make.enrolled_student(make.cohort(), name="Outsider")
    db.session.commit()
    return SimpleNamespace(course=course, assignment=assignment, due=due, a=a, b=b, c=c, outsider=outsider,
                           url=f"/courses/{course.id}/assignments/{assignment.id}/extensions/bulk")


def _extensions():
    db.session.expire_all()
    return {e.student_id: e for e in db.session.scalars(sa.select(Extension))}


def test_an_instructor_extends_ticked_trainees_by_days(client, auth, office, roster):
    auth.login(office.teacher)
    assert client.get(roster.url).status_code == 200
    response = client.post(roster.url, data={"student_ids": [roster.a.id, roster.c.id], "days": 3,
                                             "reason": "정전으로 실습실 폐쇄"})
    assert response.status_code == 302, response.data[:2000]
    granted = _extensions()
    assert set(granted) == {roster.a.id, roster.c.id}
    assert granted[roster.a.id].due_at == roster.due + timedelta(days=3)
    assert granted[roster.c.id].due_at == roster.due + timedelta(days=4)  # their cohort's date plus 3 days
    assert len(_audits("extension.granted")) == 2
    assert json.loads(_audits("extension.bulk_granted")[0].detail)["student_ids"] == [roster.a.id, roster.c.id]


def test_the_office_extends_a_whole_cohort_to_a_new_date(client, auth, office, roster):
    auth.login(office.admin)
    response = client.post(roster.url, data={"cohort_id": office.cohort.id, "due_at": "2030-03-20T23:00",
                                             "reason": "공휴일"})
    assert response.status_code == 302
    granted = _extensions()
    assert set(granted) == {roster.a.id, roster.b.id}
    assert granted[roster.a.id].due_at == datetime(2030, 3, 20, 14, 0, tzinfo=UTC)  # 23:00 in Seoul


def test_one_invalid_trainee_refuses_the_whole_group(client, auth, office, roster):
    """All or nothing: fails if the valid trainees' extensions are kept when one is refused."""
    auth.login(office.teacher)
    _english(client)
    response = client.post(roster.url, data={"student_ids": [roster.a.id, roster.outsider.id], "days": 2,
                                             "reason": "사유"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    # The outsider is not named (an id off the roster may be anyone's account: a reviewer read names this way).
    assert "No extension was granted" in page and "1 of the chosen are not active trainees" in page
    assert roster.outsider.name not in page
    assert _extensions() == {}
    # A new date before one trainee's cohort date refuses everyone too.
    response = client.post(roster.url, data={"student_ids": [roster.a.id, roster.c.id],
                                             "due_at": "2030-03-11T12:00", "reason": "사유"})
    assert response.status_code == 400 and "Choi C" in response.get_data(as_text=True)
    assert _extensions() == {}
    assert not _audits("extension.granted") and not _audits("extension.bulk_granted")


def test_bulk_extension_needs_days_or_a_date_and_trainees(client, auth, office, roster):
    auth.login(office.teacher)
    assert client.post(roster.url, data={"student_ids": [roster.a.id], "reason": "x"}).status_code == 400
    assert client.post(roster.url, data={"days": 2, "reason": "x"}).status_code == 400
    assert client.post(roster.url, data={"student_ids": [roster.a.id], "days": 2}).status_code == 400
    assert _extensions() == {}


def test_an_instructor_of_another_course_cannot_grant_bulk_extensions(client, auth, office, roster):
    """Fails without the teaches() check in courses.views._run_course."""
    auth.login(office.other_teacher)
    assert client.get(roster.url).status_code == 403
    response = client.post(roster.url, data={"student_ids": [roster.a.id], "days": 2, "reason": "x"})
    assert response.status_code == 403
    assert _extensions() == {}
