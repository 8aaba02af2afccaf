"""Download all my data (JSON and a zip of CSVs): everything about me, nothing about anyone else."""
from __future__ import annotations

import csv
import io
import json
import types
import zipfile
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from academy.admissions.services import move_application, submit_application
from academy.audit.models import AuditEntry
from academy.courses.services import grant_extension, upsert_grade
from academy.extensions import db
from academy.students.models import Profile, Project

SECTIONS = {"account", "applications", "application_history", "enrolments", "profile", "skills", "projects",
            "grades", "extensions", "audit"}


@pytest.fixture
def world(make, client, auth):
    coordinator = make.user("coordinator")
    cohort = make.cohort(university=coordinator.university)
    teacher = make.user("instructor", name="Teacher Choi")
    course = make.course(cohorts=[cohort], instructors=[teacher])
    lab = make.assignment(course, max_points=100.0)
    me = make.user("student", name="Me Trainee", email="me@example.test")
    application = submit_application(me, cohort, "=cmd|' /C calc'!A0 제조 AI를 배우고 싶어요")
    move_application(application, "under_review", coordinator, None)
    move_application(application, "admitted", coordinator, "서류 통과")
    classmate = make.enrolled_student(cohort, name="Classmate Secret", email="classmate@example.test")
    db.session.add(Profile(user_id=me.id, headline="My headline", phone="010-1111-2222"))
    db.session.add(Project(user_id=me.id, title="My project", url="https://example.org/p"))
    db.session.add(Project(user_id=classmate.id, title="THEIR-PROJECT", url=""))
    grant_extension(lab, me, datetime(2027, 4, 9, tzinfo=UTC), "가족 행사", teacher)
    upsert_grade(lab, me, 80, "MY-FEEDBACK", teacher)
    upsert_grade(lab, classmate, 95, "THEIR-FEEDBACK", teacher)
    db.session.commit()
    # The teacher opens the gradebook (one logged view naming both trainees) and my grade page.
    auth.login(teacher)
    client.get(f"/courses/{course.id}/gradebook")
    client.get(f"/courses/{course.id}/assignments/{lab.id}/grades/{me.id}")
    auth.logout()
    auth.login(me)
    return types.SimpleNamespace(me=me, classmate=classmate, teacher=teacher, course=course, lab=lab)


def test_json_export_has_every_section_about_me(client, world):
    response = client.get("/my/data.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.data)
    assert SECTIONS <= set(data)
    assert data["account"][0]["email"] == "me@example.test"
    assert [h["to_status"] for h in data["application_history"]] == ["submitted", "under_review", "admitted"]
    assert data["enrolments"][0]["status"] == "active"
    assert data["profile"][0]["phone"] == "010-1111-2222"
    assert [p["title"] for p in data["projects"]] == ["My project"]
    assert data["grades"][0]["score"] == 80 and data["grades"][0]["feedback"] == "MY-FEEDBACK"
    assert data["grades"][0]["graded_by"] == "Teacher Choi"
    assert data["extensions"][0]["reason"] == "가족 행사"
    actions = [(a["action"], a["by"]) for a in data["audit"]]
    assert ("extension.granted", "Teacher Choi") in actions and ("grade.saved", "Teacher Choi") in actions
    views = [a for a in data["audit"] if a["action"] == "personal_data.viewed"]
    whats = sorted(v["detail"]["what"] for v in views)
    assert whats == sorted(["gradebook", f"grade:{world.lab.id}"])
    assert all(v["by"] == "Teacher Choi" for v in views)


def test_export_contains_nothing_about_another_trainee(client, world):
    text = client.get("/my/data.json").data.decode()
    for secret in ("Classmate Secret", "classmate@example.test", "THEIR-FEEDBACK", "THEIR-PROJECT"):
        assert secret not in text
    # The gradebook view names both trainees; my copy of that entry does not list the other one.
    assert str(world.classmate.id) not in json.dumps([a["detail"] for a in json.loads(text)["audit"]
                                                      if a["action"] == "personal_data.viewed"])


def test_zip_export_has_one_escaped_csv_per_section(client, world):
    response = client.get("/my/data.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert {name.removesuffix(".csv") for name in archive.namelist()} >= SECTIONS
    applications = list(csv.DictReader(io.StringIO(archive.read("applications.csv").decode("utf-8-sig"))))
    assert applications[0]["motivation"].startswith("'=cmd")  # CSV injection neutralised
    grades = list(csv.DictReader(io.StringIO(archive.read("grades.csv").decode("utf-8-sig"))))
    assert grades[0]["feedback"] == "MY-FEEDBACK"
    assert "THEIR-FEEDBACK" not in b"".join(archive.read(n) for n in archive.namelist()).decode("utf-8", "replace")


def test_each_download_is_logged(client, world):
    client.get("/my/data.json")
    client.get("/my/data.zip")
    entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "personal_data.exported",
                                                             AuditEntry.subject_user_id == world.me.id)).all()
    assert sorted(json.loads(e.detail)["format"] for e in entries) == ["csv", "json"]


def test_my_data_page_lists_sections(client, world):
    page = client.get("/my/data")
    assert page.status_code == 200
    assert b"grades.csv" in page.data and b'data-test="download-json"' in page.data


def test_the_talent_pipelines_sections_are_in_the_export(client, world):
    """One privacy module gathers the whole export: the pipeline's sections come with the portal's (their rows are
    checked in tests/placements/test_retention.py); CSVs too."""
    data = json.loads(client.get("/my/data.json").data)
    assert {"consents", "match_outcomes", "offers", "placements", "competencies", "grades", "audit"} <= set(data)
    names = zipfile.ZipFile(io.BytesIO(client.get("/my/data.zip").data)).namelist()
    assert {"consents.csv", "offers.csv", "grades.csv"} <= set(names)
