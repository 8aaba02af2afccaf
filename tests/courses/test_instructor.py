"""Instructor pages: assignments tied to nbgrader folders, due dates, extensions, grades, gradebook."""
from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import openpyxl
import pytest
import sqlalchemy as sa

from academy.admissions.services import withdraw
from academy.audit.models import AuditEntry
from academy.courses.models import Assignment, DueDate, Extension, Grade
from academy.courses.services import CourseError, NotInCourse, csv_safe, grant_extension, set_due_date, upsert_grade
from academy.extensions import db
from academy.skills.models import Skill
from academy.submissions.services import SubmissionError, receive_submission, record_result

RRN = "900101-1234567"


@pytest.fixture
def world(app, make, tmp_path):
    """A course taught by one instructor to one cohort, with two trainees and one assignment."""
    source = tmp_path / "courses" / "manufacturing-ai" / "source"
    for name in ("lab1_predictive_maintenance", "lab2_process_energy"):
        (source / name).mkdir(parents=True)
    (source / "notes.txt").write_text("not an assignment")
    app.config["COURSES_DIR"] = tmp_path / "courses"
    teacher = make.user("instructor")
    other_teacher = make.user("instructor")
    cohort = make.cohort()
    other_cohort = make.cohort()
    course = make.course(cohorts=[cohort], instructors=[teacher])
    other_course = make.course(cohorts=[other_cohort], instructors=[other_teacher])
    assignment = make.assignment(course, max_points=50.0)
    s1 = make.enrolled_student(cohort, name="Kim Trainee")
    s2 = make.enrolled_student(cohort, name="Lee Trainee")
    outsider = make.enrolled_student(other_cohort)
    db.session.commit()
    return SimpleNamespace(teacher=teacher, other_teacher=other_teacher, cohort=cohort, other_cohort=other_cohort,
                           course=course, other_course=other_course, assignment=assignment, s1=s1, s2=s2,
                           outsider=outsider)


def _english(client):
    client.post("/lang/en")


def _audits(action: str, **filters) -> list[AuditEntry]:
    query = sa.select(AuditEntry).where(AuditEntry.action == action)
    for key, value in filters.items():
        query = query.where(getattr(AuditEntry, key) == value)
    return list(db.session.scalars(query))


def test_my_courses_lists_only_taught_courses(client, auth, world):
    auth.login(world.teacher)
    page = client.get("/courses/mine")
    assert page.status_code == 200
    assert f'data-test="course-{world.course.id}"'.encode() in page.data
    assert f'data-test="course-{world.other_course.id}"'.encode() not in page.data


@pytest.mark.parametrize(
    "path",
    [
        "/courses/{other}",
        "/courses/{other}/assignments/new",
        "/courses/{other}/gradebook",
        "/courses/{other}/gradebook.csv",
        "/courses/{other}/gradebook.xlsx",
    ],
)
def test_instructor_cannot_open_a_course_they_do_not_teach(client, auth, world, path):
    auth.login(world.teacher)
    assert client.get(path.format(other=world.other_course.id)).status_code == 403


@pytest.mark.parametrize("role", ["student", "recruiter", "coordinator"])
def test_other_roles_cannot_open_instructor_pages(client, auth, make, world, role):
    auth.login(make.user(role))
    assert client.get(f"/courses/{world.course.id}/gradebook").status_code == 403
    assert client.get("/courses/mine").status_code == 403


def test_assignment_of_another_course_is_not_found_through_mine(client, auth, make, world):
    foreign = make.assignment(world.other_course)
    db.session.commit()
    auth.login(world.teacher)
    assert client.get(f"/courses/{world.course.id}/assignments/{foreign.id}/edit").status_code == 404


def test_new_assignment_offers_only_nbgrader_folders_and_saves_skills(client, auth, world):
    auth.login(world.teacher)
    form = client.get(f"/courses/{world.course.id}/assignments/new")
    assert b'value="lab2_process_energy"' in form.data
    assert b"notes.txt" not in form.data
    energy = db.session.scalar(sa.select(Skill).where(Skill.code == "energy_analytics"))
    response = client.post(
        f"/courses/{world.course.id}/assignments/new",
        data={"nbgrader_name": "lab2_process_energy", "title_ko": "공정 에너지", "title_en": "Process energy",
              "week": 3, "max_points": 80, "needs_gpu": "y", f"skill_{energy.id}": 4},
    )
    assert response.status_code == 302
    saved = db.session.scalar(sa.select(Assignment).where(Assignment.nbgrader_name == "lab2_process_energy"))
    assert saved.course_id == world.course.id and saved.max_points == 80 and saved.needs_gpu
    assert [(s.skill.code, s.level) for s in saved.skills] == [("energy_analytics", 4)]
    assert _audits("assignment.created", object_id=saved.id)


@pytest.mark.parametrize("name", ["lab9_missing", "../../etc", "notes.txt"])
def test_assignment_must_name_an_existing_nbgrader_folder(client, auth, world, name):
    auth.login(world.teacher)
    response = client.post(
        f"/courses/{world.course.id}/assignments/new",
        data={"nbgrader_name": name, "title_ko": "x", "title_en": "x", "week": 1, "max_points": 10},
    )
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(Assignment.id))) == 1


def test_edit_assignment_keeps_its_name_and_refuses_max_below_existing_scores(client, auth, world):
    upsert_grade(world.assignment, world.s1, 40, "", world.teacher)
    db.session.commit()
    auth.login(world.teacher)
    _english(client)
    url = f"/courses/{world.course.id}/assignments/{world.assignment.id}/edit"
    base = {"nbgrader_name": world.assignment.nbgrader_name, "title_ko": "새 제목", "title_en": "New title", "week": 2}
    refused = client.post(url, data={**base, "max_points": 30})
    assert refused.status_code == 400 and b"above the new maximum" in refused.data
    assert client.post(url, data={**base, "max_points": 60}).status_code == 302
    db.session.expire_all()
    assert world.assignment.title_en == "New title" and world.assignment.max_points == 60


def test_assignment_form_refuses_rrn(client, auth, world):
    auth.login(world.teacher)
    _english(client)
    response = client.post(
        f"/courses/{world.course.id}/assignments/new",
        data={"nbgrader_name": "lab2_process_energy", "title_ko": RRN, "title_en": "x", "week": 1, "max_points": 10},
    )
    assert response.status_code == 400 and b"resident registration number" in response.data


def test_due_date_is_set_in_seoul_time_changed_and_audited(client, auth, world):
    auth.login(world.teacher)
    url = f"/courses/{world.course.id}/assignments/{world.assignment.id}/due"
    assert client.post(url, data={"cohort_id": world.cohort.id, "due_at": "2027-04-01T23:00"}).status_code == 302
    assert client.post(url, data={"cohort_id": world.cohort.id, "due_at": "2027-04-08T23:00"}).status_code == 302
    due = db.session.scalar(sa.select(DueDate).where(DueDate.assignment_id == world.assignment.id))
    assert due.due_at == datetime(2027, 4, 8, 14, 0, tzinfo=UTC)  # 23:00 KST
    entries = _audits("due_date.set", object_id=due.id)
    assert len(entries) == 2
    assert json.loads(entries[-1].detail)["from"].startswith("2027-04-01")


def test_due_date_refuses_a_cohort_outside_the_course(client, auth, world):
    auth.login(world.teacher)
    url = f"/courses/{world.course.id}/assignments/{world.assignment.id}/due"
    response = client.post(url, data={"cohort_id": world.other_cohort.id, "due_at": "2027-04-01T23:00"})
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(DueDate.id))) == 0


def test_extension_is_granted_to_a_trainee_of_the_course_with_reason_and_audited(client, auth, world):
    auth.login(world.teacher)
    _english(client)
    client.post(f"/courses/{world.course.id}/assignments/{world.assignment.id}/due",
                data={"cohort_id": world.cohort.id, "due_at": "2027-04-01T23:00"})
    url = f"/courses/{world.course.id}/assignments/{world.assignment.id}/extensions"
    no_reason = client.post(url, data={"student_id": world.s1.id, "due_at": "2027-04-05T23:00", "reason": ""})
    assert no_reason.status_code == 400
    earlier = client.post(url, data={"student_id": world.s1.id, "due_at": "2027-03-30T23:00", "reason": "sick"})
    assert earlier.status_code == 400 and b"later than" in earlier.data
    outsider = client.post(url, data={"student_id": world.outsider.id, "due_at": "2027-04-05T23:00", "reason": "x"})
    assert outsider.status_code == 400
    ok = client.post(url, data={"student_id": world.s1.id, "due_at": "2027-04-05T23:00", "reason": "병가"})
    assert ok.status_code == 302
    extension = db.session.scalar(sa.select(Extension))
    assert extension.student_id == world.s1.id and extension.reason == "병가"
    assert extension.granted_by_id == world.teacher.id
    assert extension.due_at == datetime(2027, 4, 5, 14, 0, tzinfo=UTC)
    assert _audits("extension.granted", subject_user_id=world.s1.id)
    # The list shows trainees' reasons: one logged view per page view.
    client.get(url)
    views = [json.loads(e.detail) for e in _audits("personal_data.viewed")]
    assert any(v["what"] == "extensions" and v["student_ids"] == [world.s1.id] for v in views)


def test_extension_can_be_revoked(client, auth, world):
    extension = grant_extension(world.assignment, world.s1, datetime(2027, 5, 1, tzinfo=UTC), "family", world.teacher)
    db.session.commit()
    auth.login(world.teacher)
    url = f"/courses/{world.course.id}/assignments/{world.assignment.id}/extensions/{extension.id}/revoke"
    assert client.post(url).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(Extension.id))) == 0
    assert _audits("extension.revoked", subject_user_id=world.s1.id)


def test_grade_is_entered_by_hand_within_range_and_audited(client, auth, world):
    auth.login(world.teacher)
    _english(client)
    url = f"/courses/{world.course.id}/assignments/{world.assignment.id}/grades/{world.s1.id}"
    assert client.get(url).status_code == 200
    too_high = client.post(url, data={"score": 51, "feedback": ""})
    assert too_high.status_code == 400 and b"between 0 and 50" in too_high.data
    negative = client.post(url, data={"score": -1, "feedback": ""})
    assert negative.status_code == 400
    assert client.post(url, data={"score": 42.5, "late_penalty": 5, "feedback": "좋아요"}).status_code == 302
    assert client.post(url, data={"score": 45, "late_penalty": 0, "feedback": "고쳤어요"}).status_code == 302
    grades = list(db.session.scalars(sa.select(Grade)))
    assert len(grades) == 1
    assert (grades[0].score, grades[0].late_penalty, grades[0].feedback, grades[0].source) == (45, 0, "고쳤어요", "portal")
    assert grades[0].graded_by_id == world.teacher.id
    assert len(_audits("grade.saved", subject_user_id=world.s1.id)) == 2
    # Opening the grade page is a view of the trainee's personal data.
    assert _audits("personal_data.viewed", subject_user_id=world.s1.id)


def test_grade_refuses_a_trainee_outside_the_course_and_rrn_feedback(client, auth, world):
    auth.login(world.teacher)
    _english(client)
    outsider = f"/courses/{world.course.id}/assignments/{world.assignment.id}/grades/{world.outsider.id}"
    assert client.post(outsider, data={"score": 10}).status_code == 404
    url = f"/courses/{world.course.id}/assignments/{world.assignment.id}/grades/{world.s1.id}"
    response = client.post(url, data={"score": 10, "feedback": f"주민번호 {RRN}"})
    assert response.status_code == 400 and b"resident registration number" in response.data
    assert db.session.scalar(sa.select(sa.func.count(Grade.id))) == 0


def test_gradebook_shows_trainees_scores_and_late_marks_and_logs_one_view(client, auth, make, world):
    second_cohort = make.cohort()
    world.course.cohorts.append(second_cohort)
    s3 = make.enrolled_student(second_cohort, name="Park Trainee")
    upsert_grade(world.assignment, world.s1, 38, "ok", world.teacher, late_penalty=4)
    db.session.commit()
    auth.login(world.teacher)
    before = len(_audits("personal_data.viewed"))
    page = client.get(f"/courses/{world.course.id}/gradebook")
    assert page.status_code == 200
    for student in (world.s1, world.s2, s3):
        assert f'data-test="row-{student.id}"'.encode() in page.data
    assert f'data-test="row-{world.outsider.id}"'.encode() not in page.data
    assert b"38" in page.data and "−4".encode() in page.data
    entries = _audits("personal_data.viewed")[before:]
    assert len(entries) == 1
    detail = json.loads(entries[0].detail)
    assert entries[0].object_type == "courses" and entries[0].object_id == world.course.id
    assert sorted(detail["student_ids"]) == sorted([world.s1.id, world.s2.id, s3.id])
    filtered = client.get(f"/courses/{world.course.id}/gradebook?cohort={second_cohort.id}")
    assert f'data-test="row-{s3.id}"'.encode() in filtered.data
    assert f'data-test="row-{world.s1.id}"'.encode() not in filtered.data


def test_gradebook_csv_escapes_formula_cells(client, auth, make, world):
    evil = make.enrolled_student(world.cohort, name="=HYPERLINK(\"http://x\")")
    tabbed = make.enrolled_student(world.cohort, name="\tcmd")
    upsert_grade(world.assignment, world.s1, 50, "", world.teacher)
    db.session.commit()
    auth.login(world.teacher)
    response = client.get(f"/courses/{world.course.id}/gradebook.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["student_id", "name", "email", "cohort"]
    by_id = {int(r[0]): r for r in rows[1:]}
    assert by_id[evil.id][1] == "'=HYPERLINK(\"http://x\")"
    assert by_id[tabbed.id][1] == "'\tcmd"
    assert by_id[world.s1.id][4:6] == ["50", "0"]
    assert by_id[world.s2.id][4:6] == ["", ""]
    assert _audits("personal_data.viewed")[-1].detail.count("gradebook.csv") == 1


@pytest.mark.parametrize("value, expected", [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"),
                                             ("\t1", "'\t1"), ("plain", "plain"), ("", ""), (None, "")])
def test_csv_safe(value, expected):
    assert csv_safe(value) == expected


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_course_pages_render_in_both_languages(client, auth, world, lang):
    set_due_date(world.assignment, world.cohort, datetime(2027, 4, 1, 14, 0, tzinfo=UTC))
    db.session.commit()
    auth.login(world.teacher)
    client.post(f"/lang/{lang}")
    base = f"/courses/{world.course.id}"
    page = client.get(base)
    assert page.status_code == 200
    assert f'data-test="assignment-{world.assignment.id}"'.encode() in page.data
    assert b"2027-04-01 23:00" in page.data
    assert ("지각 규정" if lang == "ko" else "Late policy").encode() in page.data
    for path in ("/assignments/new", f"/assignments/{world.assignment.id}/edit", f"/assignments/{world.assignment.id}/due",
                 f"/assignments/{world.assignment.id}/extensions", "/gradebook"):
        assert client.get(base + path).status_code == 200, path


def test_services_refuse_rrn_even_without_a_form(world):
    with pytest.raises(CourseError):
        upsert_grade(world.assignment, world.s1, 10, f"see {RRN}", world.teacher)
    with pytest.raises(CourseError):
        grant_extension(world.assignment, world.s1, datetime(2027, 6, 1, tzinfo=UTC), RRN, world.teacher)


def test_withdrawn_trainee_leaves_the_gradebook_and_cannot_be_graded(client, auth, world):
    withdraw(world.s2, world.cohort, "left the programme")
    db.session.commit()
    with pytest.raises(NotInCourse):
        upsert_grade(world.assignment, world.s2, 10, "", world.teacher)
    auth.login(world.teacher)
    page = client.get(f"/courses/{world.course.id}/gradebook")
    assert f'data-test="row-{world.s2.id}"'.encode() not in page.data
    assert f'data-test="row-{world.s1.id}"'.encode() in page.data


def test_gradebook_totals_averages_and_excel_export_with_no_formula(client, auth, make, world):
    """Totals and late penalties per trainee, averages per assignment; the Excel file has the same numbers as
    numbers and never a formula, even for a name that is one.

    Checked: without data_type "s", openpyxl stored the name "=HYPERLINK(...)" as a formula (an <f> element).
    """
    second = make.assignment(world.course, name="lab2_process_energy", max_points=50.0)
    evil = make.enrolled_student(world.cohort, name='=HYPERLINK("http://x","click")')
    make.enrolled_student(world.cohort, name="Kim\x0bLee")  # a control character no workbook can hold (helper-18)
    upsert_grade(world.assignment, world.s1, 38, "", world.teacher, late_penalty=4)
    upsert_grade(second, world.s1, 45, "", world.teacher)
    upsert_grade(world.assignment, world.s2, 20, "", world.teacher)
    db.session.commit()
    auth.login(world.teacher)
    page = client.get(f"/courses/{world.course.id}/gradebook").get_data(as_text=True)
    assert re.search(rf'data-test="total-{world.s1.id}"><strong>83</strong>', page)
    averages = re.search(r'<tr data-test="averages">.*?</tr>', page, re.S).group(0)
    assert "29" in averages and "45" in averages  # (38 + 20) / 2 graded; 45 / 1 graded
    rows = list(csv.reader(io.StringIO(client.get(f"/courses/{world.course.id}/gradebook.csv").data.decode("utf-8-sig"))))
    assert rows[0][-4:] == ["total", "late_penalty_total", "max_total", "percent"]
    assert {int(r[0]): r[-4:] for r in rows[1:]}[world.s1.id] == ["83", "4", "100", "83"]
    response = client.get(f"/courses/{world.course.id}/gradebook.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert _audits("personal_data.viewed")[-1].detail.count("gradebook.xlsx") == 1
    with zipfile.ZipFile(io.BytesIO(response.data)) as xlsx:
        assert "<f>" not in xlsx.read("xl/worksheets/sheet1.xml").decode()
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    by_id = {r[0].value: r for r in sheet.iter_rows(min_row=2) if isinstance(r[0].value, int)}
    assert by_id[evil.id][1].value == "\'=HYPERLINK(\"http://x\",\"click\")" and by_id[evil.id][1].data_type == "s"
    assert by_id[world.s1.id][4].value == 38 and by_id[world.s1.id][-4].value == 83
    last = list(sheet.iter_rows())[-1]
    assert last[1].value == "average" and last[4].value == 29


def test_per_test_scores_of_one_assignment_come_from_the_graders_results(app, client, auth, make, world):
    """The grader's per-cell scores are kept with the result; the per-test export has a column per test cell
    and a row per trainee (their newest graded submission), blank for one not graded. A result whose cells are
    malformed is refused and changes nothing.
    """
    app.config["SUBMISSIONS_ENQUEUE"] = lambda sub, files: f"job-{sub.id}"
    now = datetime.now(UTC)
    set_due_date(world.assignment, world.cohort, now + timedelta(days=2), released_at=now - timedelta(hours=1))
    nb = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()
    first, newest = (receive_submission(world.assignment, world.s1, {"lab.ipynb": nb}) for _ in range(2))
    db.session.commit()
    cells = [{"notebook": "lab1", "grade_id": "test_explore", "score": 1, "max_score": 1},
             {"notebook": "lab1", "grade_id": "test_model", "score": 0, "max_score": 2}]
    bad = {"submission_id": newest.id, "status": "graded", "auto_score": 1, "max_auto_score": 3,
           "cells": [{"notebook": "lab1", "grade_id": "test\x00explore", "score": 1, "max_score": 1}]}
    with pytest.raises(SubmissionError):
        record_result(bad)
    db.session.rollback()
    record_result({"submission_id": first.id, "status": "graded", "auto_score": 0, "max_auto_score": 3,
                   "cells": [{**c, "score": 0} for c in cells]})
    record_result({"submission_id": newest.id, "status": "graded", "auto_score": 1, "max_auto_score": 3,
                   "cells": cells})
    db.session.commit()
    auth.login(world.teacher)
    page = client.get(f"/courses/{world.course.id}/gradebook").get_data(as_text=True)
    link = f"/courses/{world.course.id}/assignments/{world.assignment.id}/cells.csv"
    assert link in page
    response = client.get(link)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == ["student_id", "name", "cohort", "submission_id", "graded_at", "test_explore (/1)",
                       "test_model (/2)", "total", "max_total"]
    by_id = {int(r[0]): r for r in rows[1:]}
    assert by_id[world.s1.id][3] == str(newest.id) and by_id[world.s1.id][5:] == ["1", "0", "1", "3"]
    assert by_id[world.s2.id][3:] == ["", "", "", "", "", ""]
    assert world.outsider.id not in by_id
    assert client.get(f"/courses/{world.other_course.id}/assignments/{world.assignment.id}/cells.csv").status_code == 403
    auth.login(world.other_teacher)
    assert client.get(link).status_code == 403


def test_course_dashboard_shows_scores_tests_failed_most_timeline_and_trainees_at_risk(app, client, auth, make, world):
    """The dashboard's figures: graded, missing (past due, no grade), late, the score distribution, the tests
    failed most (from the grader's per-cell scores), submissions around the due date, and trainees with two or
    more missed or failing labs; each chart an SVG image from a data: URL with its numbers in a table.
    """
    app.config["SUBMISSIONS_ENQUEUE"] = lambda sub, files: f"job-{sub.id}"
    now = datetime.now(UTC)
    second = make.assignment(world.course, name="lab2_process_energy", max_points=50.0)
    set_due_date(world.assignment, world.cohort, now + timedelta(hours=5), released_at=now - timedelta(days=3))
    set_due_date(second, world.cohort, now - timedelta(days=1), released_at=now - timedelta(days=8))
    nb = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()
    sub = receive_submission(world.assignment, world.s1, {"lab.ipynb": nb})
    db.session.commit()
    record_result({"submission_id": sub.id, "status": "graded", "auto_score": 1, "max_auto_score": 3, "cells": [
        {"notebook": "lab1", "grade_id": "test_explore", "score": 1, "max_score": 1},
        {"notebook": "lab1", "grade_id": "test_model", "score": 0, "max_score": 2},
        {"notebook": "lab1", "grade_id": "test_$x^{$", "score": 1, "max_score": 1}]})  # not mathtext (helper-18)
    upsert_grade(second, world.s1, 45, "", world.teacher, late_penalty=5)
    upsert_grade(world.assignment, world.s2, 10, "", world.teacher)  # 20%: failing lab 1; lab 2 missed
    db.session.commit()
    auth.login(world.teacher)
    before = len(_audits("personal_data.viewed"))
    response = client.get(f"/courses/{world.course.id}/dashboard")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    lab1 = re.search(rf'<section class="lab-stats" data-test="lab-{world.assignment.id}">.*?</section>', page, re.S).group(0)
    lab2 = re.search(rf'<section class="lab-stats" data-test="lab-{second.id}">.*?</section>', page, re.S).group(0)
    assert '<dd data-test="graded">2 / 2</dd>' in lab1 and '<dd data-test="missing">0</dd>' in lab1
    assert '<dd data-test="graded">1 / 2</dd>' in lab2 and '<dd data-test="missing">1</dd>' in lab2
    assert '<dd data-test="late">1</dd>' in lab2
    tests = re.search(r'<table class="numbers" data-test="tests">.*?</table>', lab1, re.S).group(0)
    assert tests.index("test_model") < tests.index("test_explore") and "100%" in tests  # failed most first
    for chart in ("scores", "tests", "timeline"):  # each an image of its own (academy/charts.py), an SVG
        address = re.search(rf'<img src="(/charts/[0-9a-f]{{64}}\.svg)" alt="[^"]+" data-test="chart-{chart}">', lab1)
        assert address, chart
        assert client.get(address.group(1)).mimetype == "image/svg+xml"
    assert f'data-test="at-risk-{world.s2.id}"' in page and f'data-test="at-risk-{world.s1.id}"' not in page
    assert len(_audits("personal_data.viewed")) == before + 1
    assert "<script" not in page.split("</header>")[-1]  # charts are images, not scripts
    auth.login(world.other_teacher)
    assert client.get(f"/courses/{world.course.id}/dashboard").status_code == 403


def test_a_refused_extension_form_still_logs_the_reasons_it_shows(client, auth, world):
    """Found in review: the extensions page answers a refused form with 400 and still lists every trainee's reason;
    its personal_data.viewed entry is kept (record_course_view, kept=True), not rolled back with the request."""
    grant_extension(world.assignment, world.s1, datetime(2027, 5, 1, tzinfo=UTC), "병원 진료", world.teacher)
    db.session.commit()
    auth.login(world.teacher)
    url = f"/courses/{world.course.id}/assignments/{world.assignment.id}/extensions"
    response = client.post(url, data={"student_id": world.s1.id})
    assert response.status_code == 400 and "병원 진료" in response.get_data(as_text=True)
    views = [json.loads(e.detail) for e in _audits("personal_data.viewed")]
    assert any(v["what"] == "extensions" and v["student_ids"] == [world.s1.id] for v in views)
