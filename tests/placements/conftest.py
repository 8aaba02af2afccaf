"""A small placement world: one cohort with graded trainees, one company with two demands, a round."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEntry
from academy.courses.models import Grade
from academy.extensions import db
from academy.placements.models import MatchRound


@dataclass
class World:
    admin: object
    cohort: object
    students: list
    company: object
    recruiter: object
    demands: list
    round: object
    other_recruiter: object


def grade(db, assignment, student, score: float, max_score: float = 100.0) -> None:
    db.session.add(Grade(assignment_id=assignment.id, student_id=student.id, score=score, max_score=max_score))
    db.session.flush()


@pytest.fixture
def world(app, make):
    """Three trainees graded 90/60/30 on a predictive-maintenance lab (level 4), two demands, an open round."""
    cohort = make.cohort(capacity=30)
    students = [make.enrolled_student(cohort, name=f"훈련생{i}") for i in range(3)]
    course = make.course(cohorts=[cohort])
    lab = make.assignment(course, skills={"predictive_maintenance": 4, "python_programming": 3})
    for s, score in zip(students, (90, 60, 30)):
        grade(db, lab, s, score)
    company = make.company(name="경남정밀")
    recruiter = make.user("recruiter", company_id=company.id)
    demands = [make.demand(company, title=f"예지보전 {i}", headcount=1,
                           skills={"predictive_maintenance": 3}) for i in range(2)]
    other_recruiter = make.user("recruiter")
    match_round = MatchRound(cohort_id=cohort.id, retention_until=date.today() + timedelta(days=365))
    db.session.add(match_round)
    admin = make.user("admin")
    db.session.commit()
    return World(admin, cohort, students, company, recruiter, demands, match_round, other_recruiter)


def audit_actions(subject_id: int | None = None) -> list[str]:
    query = sa.select(AuditEntry.action).order_by(AuditEntry.id)
    if subject_id is not None:
        query = query.where(AuditEntry.subject_user_id == subject_id)
    return list(db.session.scalars(query))


def opt_in(client, auth, student, demand) -> None:
    """Sign in as the trainee and consent for the demand over HTTP."""
    auth.login(student)
    response = client.post(f"/my/demands/{demand.id}/consent", data={"agree": "y"})
    assert response.status_code == 302, response.data[:300]
    auth.logout()
