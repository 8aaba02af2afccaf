"""Demo profiles for the seeded trainees: headlines, self-declared skills and a few projects."""
from __future__ import annotations

import random

import sqlalchemy as sa

from academy.admissions.models import Enrollment
from academy.extensions import db
from academy.skills.models import Skill
from academy.students.models import Profile, ProfileSkill, Project

HEADLINES = [
    "제조 데이터로 설비 고장을 예측하고 싶습니다",
    "비전 검사 자동화에 관심 있는 예비 엔지니어",
    "공정 에너지 절감을 데이터로 풀어 보고 싶습니다",
    "현장과 모델을 잇는 MLOps 엔지니어 지망",
]
PROJECTS = [
    ("베어링 진동 이상 탐지 대시보드", "CWRU 데이터로 만든 진동 스펙트럼 분석"),
    ("강판 표면 결함 분류기", "NEU-DET 이미지로 학습한 CNN"),
    ("공장 전력 수요 예측", "철강 공장 15분 단위 전력 회귀"),
]


def seed_trainees(seed: int = 2027) -> int:
    """Fill the profiles of enrolled trainees with demo skills and projects; return how many."""
    rng = random.Random(seed)
    skills = list(db.session.scalars(sa.select(Skill).order_by(Skill.code)))
    student_ids = list(db.session.scalars(sa.select(Enrollment.student_id).distinct().order_by(Enrollment.student_id)))
    for n, user_id in enumerate(student_ids):
        profile = db.session.get(Profile, user_id) or Profile(user_id=user_id, major="")
        db.session.add(profile)
        profile.headline = HEADLINES[n % len(HEADLINES)]
        profile.about = "경남 제조기업에서 AI 엔지니어로 일하고 싶습니다."
        for skill in rng.sample(skills, k=min(len(skills), rng.randint(2, 4))):
            db.session.merge(ProfileSkill(user_id=user_id, skill_id=skill.id, level=rng.randint(1, 4)))
        if n % 3 == 0:
            title, description = PROJECTS[n % len(PROJECTS)]
            db.session.add(Project(user_id=user_id, title=title, description=description,
                                   url=f"https://github.com/academy-demo/trainee-{user_id}"))
    db.session.flush()
    return len(student_ids)
