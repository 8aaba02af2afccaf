"""What each role has to do next, gathered for the home pages."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from academy.admissions.models import Application, Enrollment
from academy.auth.models import User
from academy.companies.models import Company, Demand
from academy.courses.models import Assignment, Course, DueDate, Extension, Grade, course_cohorts, course_instructors
from academy.extensions import db
from academy.universities.models import Cohort, University
from academy.util import utcnow

OPEN_APPLICATION = ("submitted", "under_review", "interview", "waitlisted")


@dataclass
class Todo:
    counts: dict[str, int] = field(default_factory=dict)
    rows: dict[str, list[Any]] = field(default_factory=dict)


def admin_todo() -> Todo:
    todo = Todo()
    count = sa.func.count
    # The four tiles' figures in one query.
    figures = db.session.execute(sa.select(
        sa.select(count(Company.id)).where(Company.status == "pending").scalar_subquery(),
        sa.select(count(Demand.id)).where(Demand.status == "submitted").scalar_subquery(),
        sa.select(count(Enrollment.id)).where(Enrollment.status == "active").scalar_subquery(),
        sa.select(sa.func.coalesce(sa.func.sum(Cohort.capacity), 0)).scalar_subquery(),
    )).one()
    for key, value in zip(("companies_pending", "demands_pending", "trainees", "capacity"), figures):
        todo.counts[key] = value
    todo.rows["demands"] = list(
        db.session.scalars(sa.select(Demand).where(Demand.status == "submitted").options(joinedload(Demand.company))
                           .order_by(Demand.created_at).limit(10))  # the company is named on each row
    )
    todo.rows["companies"] = list(
        db.session.scalars(sa.select(Company).where(Company.status == "pending").order_by(Company.created_at).limit(10))
    )
    return todo


def coordinator_todo(user: User) -> Todo:
    todo = Todo()
    cohorts = list(db.session.scalars(sa.select(Cohort).where(Cohort.university_id == user.university_id).order_by(Cohort.year.desc())))
    todo.rows["cohorts"] = cohorts
    pending = sa.select(Application).join(Cohort).where(
        Cohort.university_id == user.university_id, Application.status.in_(OPEN_APPLICATION)
    )
    todo.counts["pending"] = db.session.scalar(sa.select(sa.func.count()).select_from(pending.subquery()))
    todo.rows["applications"] = list(db.session.scalars(  # each row names its trainee
        pending.options(joinedload(Application.trainee)).order_by(Application.submitted_at).limit(10)))
    return todo


def instructor_todo(user: User) -> Todo:
    todo = Todo()
    courses = list(
        db.session.scalars(
            sa.select(Course).join(course_instructors).where(course_instructors.c.user_id == user.id).order_by(Course.code)
        )
    )
    todo.rows["courses"] = courses
    now = utcnow()
    todo.rows["due"] = list(
        db.session.scalars(
            sa.select(DueDate)
            .join(Assignment)
            .where(Assignment.course_id.in_([c.id for c in courses]), DueDate.due_at >= now,
                   DueDate.due_at <= now + timedelta(days=21))
            .order_by(DueDate.due_at)
            .limit(10)
        )
    )
    return todo


def trainee_due_dates(user: User) -> list[tuple[Assignment, Any, Grade | None]]:
    """Return (assignment, due date for this trainee, grade) once per assignment of the trainee's
    cohorts (active or completed); an extension wins, else the latest of the cohorts' dates."""
    # One query: every due date of the trainee's cohorts' courses, with their extension and grade beside it.
    rows = db.session.execute(
        sa.select(Assignment, DueDate.due_at, Extension.due_at, Grade)
        .join(DueDate, DueDate.assignment_id == Assignment.id)
        .join(course_cohorts, sa.and_(course_cohorts.c.course_id == Assignment.course_id,
                                      course_cohorts.c.cohort_id == DueDate.cohort_id))
        .join(Enrollment, sa.and_(Enrollment.cohort_id == DueDate.cohort_id, Enrollment.student_id == user.id,
                                  Enrollment.status.in_(("active", "completed"))))
        .outerjoin(Extension, sa.and_(Extension.assignment_id == Assignment.id, Extension.student_id == user.id))
        .outerjoin(Grade, sa.and_(Grade.assignment_id == Assignment.id, Grade.student_id == user.id))
    ).all()
    due: dict[int, tuple[Assignment, Any, Any, Grade | None]] = {}
    for assignment, due_at, extended, grade in rows:
        if assignment.id not in due or due_at > due[assignment.id][1]:
            due[assignment.id] = (assignment, due_at, extended, grade)
    result = [(a, extended or d, g) for a, d, extended, g in due.values()]
    return sorted(result, key=lambda row: row[1])


def trainee_todo(user: User) -> Todo:
    todo = Todo()
    now = utcnow()
    due = trainee_due_dates(user)
    todo.rows["upcoming"] = [(a, d, g) for a, d, g in due if d >= now and g is None][:8]
    todo.rows["grades"] = [(a, d, g) for a, d, g in due if g is not None][-5:]
    todo.rows["applications"] = list(
        db.session.scalars(sa.select(Application).where(Application.student_id == user.id)
                           .options(joinedload(Application.cohort).joinedload(Cohort.university))  # shown per row
                           .order_by(Application.submitted_at.desc()))
    )
    return todo


def recruiter_todo(user: User) -> Todo:
    todo = Todo()
    company = user.company
    todo.rows["company"] = [company] if company else []
    todo.rows["demands"] = list(
        db.session.scalars(sa.select(Demand).where(Demand.company_id == user.company_id).order_by(Demand.created_at.desc()))
    )
    return todo


def province_todo() -> Todo:
    """Counts only: the province never sees a person's record."""
    todo = Todo()
    count = sa.func.count
    todo.counts["universities"] = db.session.scalar(sa.select(count(University.id)))
    todo.counts["cohorts"] = db.session.scalar(sa.select(count(Cohort.id)))
    todo.counts["trainees"] = db.session.scalar(sa.select(count(Enrollment.id)).where(Enrollment.status == "active"))
    todo.counts["companies"] = db.session.scalar(sa.select(count(Company.id)).where(Company.status == "approved"))
    return todo
