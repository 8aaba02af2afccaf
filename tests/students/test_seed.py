"""The demo seeds of the courses and students packages, run on the full demo data."""
from __future__ import annotations

import sqlalchemy as sa

from academy.courses.models import Extension, Grade
from academy.courses.seed import seed_courses
from academy.extensions import db
from academy.students.models import ProfileSkill, Project
from academy.students.seed import seed_trainees
from academy.universities.models import University


def test_seed_students_and_courses_fill_demo_records(app, runner):
    assert runner.invoke(args=["academy", "seed-demo"]).exit_code == 0
    trainees = seed_trainees()
    assert trainees >= 100
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProfileSkill)) >= 2 * trainees
    assert db.session.scalar(sa.select(sa.func.count(Project.id))) > 0
    made = seed_courses()
    db.session.commit()
    assert made > 0 and db.session.scalar(sa.select(sa.func.count(Extension.id))) == made
    assert db.session.scalar(sa.select(sa.func.count(Grade.id)).where(Grade.feedback != "")) > 0
    for extension in db.session.scalars(sa.select(Extension)):
        assert extension.granted_by_id is not None and extension.reason


def test_the_demo_universities_carry_the_names_each_university_uses_itself(app, runner):
    """경남대학교 is Kyungnam University in English (not "Gyeongnam National University", another school's kind of name)."""
    assert runner.invoke(args=["academy", "seed-demo"]).exit_code == 0
    names = dict(db.session.execute(sa.select(University.name_ko, University.name_en)).all())
    assert names == {
        "인제대학교": "Inje University",
        "경남대학교": "Kyungnam University",
        "국립창원대학교": "Changwon National University",
        "경상국립대학교": "Gyeongsang National University",
    }
