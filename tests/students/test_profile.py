"""A trainee's own profile: fields, Korean phone format, skills 1..5, projects with http(s) links only."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEntry
from academy.extensions import db
from academy.skills.models import Skill
from academy.students.models import Profile, ProfileSkill, Project
from academy.students.services import ProfileError, add_project, normalize_phone, update_profile

RRN = "020315-3456789"


def _skill(code: str) -> Skill:
    return db.session.scalar(sa.select(Skill).where(Skill.code == code))


@pytest.fixture
def student(make, client, auth):
    user = make.enrolled_student()
    auth.login(user)
    client.post("/lang/en")
    return user


def test_profile_is_saved_with_normalized_phone_and_skills_and_audited(client, student):
    assert client.get("/my/profile").status_code == 200
    py, ml = _skill("python_programming"), _skill("mlops")
    response = client.post("/my/profile", data={
        "headline": "제조 데이터 분석가 지망", "about": "창원 출신", "major": "기계공학", "phone": "010 1234 5678",
        f"skill_{py.id}": 4, f"skill_{ml.id}": 2,
    })
    assert response.status_code == 302
    profile = db.session.get(Profile, student.id)
    assert (profile.headline, profile.major, profile.phone) == ("제조 데이터 분석가 지망", "기계공학", "010-1234-5678")
    levels = {s.skill_id: s.level for s in db.session.scalars(sa.select(ProfileSkill).where(ProfileSkill.user_id == student.id))}
    assert levels == {py.id: 4, ml.id: 2}
    # Changing levels and dropping a skill replaces the set.
    client.post("/my/profile", data={"headline": "h", "phone": "", f"skill_{py.id}": 5})
    levels = {s.skill_id: s.level for s in db.session.scalars(sa.select(ProfileSkill).where(ProfileSkill.user_id == student.id))}
    assert levels == {py.id: 5}
    assert db.session.get(Profile, student.id).phone == ""
    entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "profile.updated",
                                                             AuditEntry.subject_user_id == student.id)).all()
    assert len(entries) == 2


@pytest.mark.parametrize("phone, expected", [
    ("010-1234-5678", "010-1234-5678"), ("01012345678", "010-1234-5678"), ("+82 10 1234 5678", "010-1234-5678"),
    ("02-123-4567", "02-123-4567"), ("055 212 3456", "055-212-3456"), ("070-1234-5678", "070-1234-5678"), ("", ""),
])
def test_korean_phone_formats(phone, expected):
    assert normalize_phone(phone) == expected


@pytest.mark.parametrize("phone", ["12345", "010-12-34", "+1 415 555 0100", "099-123-4567", "phone me", "010-1234-56789"])
def test_phone_that_is_not_korean_is_refused(client, student, phone):
    with pytest.raises(ProfileError):
        normalize_phone(phone)
    response = client.post("/my/profile", data={"headline": "h", "phone": phone})
    assert response.status_code == 400 and b"Korean phone number" in response.data
    stored = db.session.get(Profile, student.id)  # a refused first save stores no profile at all
    assert stored is None or (stored.phone or "") == ""


@pytest.mark.parametrize("field", ["headline", "about", "major", "phone"])
def test_profile_refuses_rrn_in_every_field(client, student, field):
    response = client.post("/my/profile", data={field: f"번호 {RRN}"})
    assert response.status_code == 400 and b"resident registration number" in response.data
    stored = db.session.get(Profile, student.id)  # a refused first save stores no profile at all
    assert stored is None or all(RRN not in (getattr(stored, f) or "") for f in ("headline", "about", "major", "phone"))


def test_skill_level_outside_1_to_5_is_refused(client, student):
    py = _skill("python_programming")
    response = client.post("/my/profile", data={"headline": "h", f"skill_{py.id}": 6})
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProfileSkill)) == 0


def test_projects_take_http_links_only(client, student):
    ok = client.post("/my/profile/projects", data={"title": "Bearing fault demo", "url": "https://github.com/me/demo",
                                                   "description": "CWRU"})
    assert ok.status_code == 302
    for bad in ("javascript:alert(1)", "ftp://x.org/a", "github.com/me", "https://", "data:text/html,hi"):
        response = client.post("/my/profile/projects", data={"title": "x", "url": bad})
        assert response.status_code == 400 and b"http://" in response.data, bad
    rrn = client.post("/my/profile/projects", data={"title": "x", "description": RRN})
    assert rrn.status_code == 400
    projects = db.session.scalars(sa.select(Project)).all()
    assert [(p.title, p.url) for p in projects] == [("Bearing fault demo", "https://github.com/me/demo")]
    page = client.get("/my/profile")
    assert b"https://github.com/me/demo" in page.data


def test_a_trainee_cannot_remove_another_trainees_project(client, auth, make, student):
    other = make.user("student")
    theirs = Project(user_id=other.id, title="theirs", url="")
    db.session.add(theirs)
    db.session.commit()
    assert client.post(f"/my/profile/projects/{theirs.id}/delete").status_code == 404
    assert db.session.get(Project, theirs.id) is not None
    mine = client.post("/my/profile/projects", data={"title": "mine", "url": ""})
    assert mine.status_code == 302
    project = db.session.scalar(sa.select(Project).where(Project.user_id == student.id))
    assert client.post(f"/my/profile/projects/{project.id}/delete").status_code == 302
    assert db.session.get(Project, project.id) is None


@pytest.mark.parametrize("role", ["instructor", "recruiter", "coordinator", "admin"])
def test_profile_pages_are_for_trainees_only(client, auth, make, role):
    auth.login(make.user(role))
    assert client.get("/my/profile").status_code == 403
    assert client.get("/my/data.json").status_code == 403


def test_services_refuse_rrn_even_without_a_form(make):
    user = make.user("student")
    with pytest.raises(ProfileError):
        update_profile(user, headline="", about=f"my number {RRN}", major="", phone="", skills={})
    with pytest.raises(ProfileError):
        add_project(user, "t", RRN.replace("-", ""), "")
