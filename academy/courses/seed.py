"""Demo course activity: a few extensions and hand-written feedback on seeded grades."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from academy.courses.models import Course, Grade
from academy.courses.services import course_trainees, due_for, grant_extension
from academy.extensions import db

FEEDBACK = [
    "재현율과 정밀도의 균형을 잘 설명했습니다. 임계값 선택 근거를 한 줄 더 적어 주세요.",
    "전처리 과정이 깔끔합니다. 검증 데이터 누수에 주의하세요.",
    "혼동 행렬 해석이 정확합니다.",
]


def seed_courses() -> int:
    """Grant demo extensions and add feedback to some grades of every course; return extensions made."""
    made = 0
    for course in db.session.scalars(sa.select(Course).order_by(Course.id)):
        if not course.assignments or not course.instructors:
            continue
        first = course.assignments[0]
        for trainee, _cohort in course_trainees(course)[:3]:
            due = due_for(trainee, first)
            if due is not None:
                grant_extension(first, trainee, due + timedelta(days=3), "병가(진단서 제출)", course.instructors[0])
                made += 1
        grades = db.session.scalars(sa.select(Grade).where(Grade.assignment_id == first.id).order_by(Grade.id).limit(30))
        for n, grade in enumerate(grades):
            grade.feedback = FEEDBACK[n % len(FEEDBACK)]
    db.session.flush()
    return made
