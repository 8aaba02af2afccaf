"""The office's skills catalogue: add, rename, retire and restore; delete only what nothing names."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEntry
from academy.courses.services import upsert_grade
from academy.extensions import db
from academy.skills.models import Skill


@pytest.fixture
def shop(app, make, tmp_path):
    source = tmp_path / "courses" / "manufacturing-ai" / "source"
    for name in ("lab1_predictive_maintenance", "lab2_process_energy"):
        (source / name).mkdir(parents=True)
    app.config["COURSES_DIR"] = tmp_path / "courses"
    admin = make.user("admin")
    teacher = make.user("instructor")
    cohort = make.cohort()
    course = make.course(cohorts=[cohort], instructors=[teacher])
    assignment = make.assignment(course, skills={"signal_processing": 3}, max_points=10.0)
    trainee = make.enrolled_student(cohort)
    newcomer = make.enrolled_student(cohort)
    upsert_grade(assignment, trainee, 9.0, "", teacher)
    recruiter = make.user("recruiter")
    db.session.commit()
    skill = db.session.scalar(sa.select(Skill).where(Skill.code == "signal_processing"))
    return SimpleNamespace(admin=admin, teacher=teacher, course=course, assignment=assignment, trainee=trainee,
                           newcomer=newcomer, recruiter=recruiter, skill=skill)


def _skill(code):
    db.session.expire_all()
    return db.session.scalar(sa.select(Skill).where(Skill.code == code))


def _audit(action):
    return [json.loads(e.detail) for e in db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action))]


def _as(client, auth, user):
    auth.logout()
    auth.login(user)
    client.post("/lang/en")


def test_the_office_adds_a_skill_and_a_duplicate_or_bad_code_is_refused(client, auth, shop):
    _as(client, auth, shop.admin)
    assert client.get("/admin/skills").status_code == 200
    response = client.post("/admin/skills/new", data={"code": "edge_ai", "name_ko": "엣지 AI", "name_en": "Edge AI"})
    assert response.status_code == 302
    assert _skill("edge_ai").name_en == "Edge AI"
    assert _audit("skill.added")[0]["code"] == "edge_ai"
    response = client.post("/admin/skills/new", data={"code": "edge_ai", "name_ko": "또", "name_en": "Again"})
    assert response.status_code == 400 and "already has a skill" in response.get_data(as_text=True)
    assert client.post("/admin/skills/new", data={"code": "Bad Code!", "name_ko": "x", "name_en": "x"}).status_code == 400
    assert "edge_ai" in client.get("/admin/skills?q=edge").get_data(as_text=True)


def test_a_renamed_skill_shows_its_new_name_on_evidence_already_recorded(client, auth, shop):
    _as(client, auth, shop.admin)
    response = client.post(f"/admin/skills/{shop.skill.id}/edit",
                           data={"name_ko": "진동 분석", "name_en": "Vibration analysis"})
    assert response.status_code == 302
    assert _skill("signal_processing").name_en == "Vibration analysis"
    detail = _audit("skill.renamed")[0]
    assert detail["before"]["name_en"] == "Signal processing for vibration"
    assert detail["after"]["name_en"] == "Vibration analysis"
    _as(client, auth, shop.trainee)
    assert "Vibration analysis" in client.get("/my/competencies").get_data(as_text=True)


def test_a_retired_skill_keeps_its_evidence_but_is_offered_for_nothing_new(client, auth, shop):
    """Fails without academy.skills.services.offered_skills' filter: every form would still offer the skill."""
    _as(client, auth, shop.admin)
    assert client.post(f"/admin/skills/{shop.skill.id}/retire").status_code == 302
    assert _skill("signal_processing").retired_at is not None and _audit("skill.retired")
    assert "retired" in client.get("/admin/skills?q=signal").get_data(as_text=True)
    field = f'name="skill_{shop.skill.id}"'
    # Evidence already recorded keeps pointing at it and still shows it.
    _as(client, auth, shop.trainee)
    assert "Signal processing for vibration" in client.get("/my/competencies").get_data(as_text=True)
    assert field not in client.get("/my/profile").get_data(as_text=True)  # not claimed before: not offered
    # The instructor: a new assignment is not offered it; the assignment that has it keeps it.
    _as(client, auth, shop.teacher)
    course = shop.course.id
    assert field not in client.get(f"/courses/{course}/assignments/new").get_data(as_text=True)
    edit = client.get(f"/courses/{course}/assignments/{shop.assignment.id}/edit").get_data(as_text=True)
    assert field in edit
    assert "Signal processing for vibration" in client.get(f"/courses/{course}").get_data(as_text=True)
    response = client.post(f"/courses/{course}/assignments/{shop.assignment.id}/edit",
                           data={"nbgrader_name": "lab1_predictive_maintenance", "title_ko": "실습", "title_en": "Lab",
                                 "week": 1, "max_points": 10, f"skill_{shop.skill.id}": 3})
    assert response.status_code == 302  # keeping a retired skill it already has is allowed
    # A company's new demand is not offered it.
    _as(client, auth, shop.recruiter)
    assert 'name="skill_signal_processing"' not in client.get("/company/demands/new").get_data(as_text=True)
    assert 'name="skill_predictive_maintenance"' in client.get("/company/demands/new").get_data(as_text=True)
    # Restored, it is offered again.
    _as(client, auth, shop.admin)
    assert client.post(f"/admin/skills/{shop.skill.id}/restore").status_code == 302
    assert _skill("signal_processing").retired_at is None and _audit("skill.restored")
    _as(client, auth, shop.teacher)
    assert field in client.get(f"/courses/{course}/assignments/new").get_data(as_text=True)


def test_a_trainee_who_claimed_a_retired_skill_keeps_it_on_their_profile(client, auth, shop):
    _as(client, auth, shop.newcomer)
    profile = {"headline": "", "about": "", "major": "", "phone": "", f"skill_{shop.skill.id}": 2}
    assert client.post("/my/profile", data=profile).status_code == 302
    _as(client, auth, shop.admin)
    client.post(f"/admin/skills/{shop.skill.id}/retire")
    _as(client, auth, shop.newcomer)
    assert f'name="skill_{shop.skill.id}"' in client.get("/my/profile").get_data(as_text=True)
    assert client.post("/my/profile", data=profile).status_code == 302


def test_a_skill_with_evidence_cannot_be_deleted_an_unused_one_can(client, auth, shop):
    """Fails without the evidence check: the assignment and grade would lose the skill they evidence."""
    _as(client, auth, shop.admin)
    response = client.post(f"/admin/skills/{shop.skill.id}/delete", follow_redirects=True)
    assert "retire it instead" in response.get_data(as_text=True)
    assert _skill("signal_processing") is not None
    unused = _skill("mlops")
    assert client.post(f"/admin/skills/{unused.id}/delete").status_code == 302
    assert _skill("mlops") is None and _audit("skill.deleted")[0]["code"] == "mlops"


@pytest.mark.parametrize("role", ["instructor", "coordinator", "student", "recruiter"])
def test_only_the_office_edits_the_catalogue(client, auth, shop, make, role):
    user = make.user(role)
    db.session.commit()
    auth.login(user)
    assert client.get("/admin/skills").status_code == 403
    assert client.post(f"/admin/skills/{shop.skill.id}/retire").status_code == 403
    assert client.post("/admin/skills/new", data={"code": "x_y", "name_ko": "x", "name_en": "x"}).status_code == 403
    assert _skill("signal_processing").retired_at is None and _skill("x_y") is None


def test_the_catalogue_counts_what_names_each_skill(client, auth, shop, make):
    """The page's counts come from one grouped query (services.evidence_counts); each equals the per-skill count
    the delete check uses, and a skill nothing names shows 0 with its Delete button."""
    import re

    from academy.skills.services import evidence_count

    make.demand(skills={"signal_processing": 2, "mlops": 1})
    make.assignment(shop.course, "lab2_process_energy", skills={"signal_processing": 1, "data_preparation": 2})
    db.session.commit()
    _as(client, auth, shop.admin)
    page = client.get("/admin/skills").get_data(as_text=True)
    shown = {int(i): int(n) for i, n in re.findall(r'data-test="skill-(\d+)">(?:<td>.*?</td>){3}<td>(\d+)</td>', page)}
    skills = {s.id: s for s in db.session.scalars(sa.select(Skill))}
    assert shown and all(n == evidence_count(skills[i]) for i, n in shown.items())
    assert shown[shop.skill.id] == 3  # two assignments and a demand
    unused = next(i for i, n in shown.items() if n == 0)
    assert f"/admin/skills/{unused}/delete" in page and f"/admin/skills/{shop.skill.id}/delete" not in page
