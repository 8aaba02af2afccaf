"""Courses, their assignments (each an nbgrader assignment), due dates, extensions and grades."""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.extensions import db
from academy.skills.models import level_check
from academy.util import UTCDateTime, created_at_column

if TYPE_CHECKING:
    from academy.auth.models import User
    from academy.skills.models import Skill
    from academy.universities.models import Cohort

course_instructors = sa.Table(
    "course_instructors",
    db.metadata,
    sa.Column("course_id", sa.ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)
course_cohorts = sa.Table(
    "course_cohorts",
    db.metadata,
    sa.Column("course_id", sa.ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("cohort_id", sa.ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True),
)


class Course(db.Model):
    __tablename__ = "courses"
    __table_args__ = (
        sa.CheckConstraint("late_percent_per_day BETWEEN 0 AND 100", name="late_percent_valid"),
        sa.CheckConstraint("late_max_deduction BETWEEN 0 AND 100", name="late_max_valid"),
        sa.CheckConstraint("late_cutoff_days >= 0", name="late_cutoff_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    title_ko: Mapped[str] = mapped_column(sa.String(120))
    title_en: Mapped[str] = mapped_column(sa.String(120))
    # The nbgrader course folder under courses/ that holds this course's material. One course, one folder:
    # the folder's gradebook, formgrader and grade sync belong to exactly one course (link_nbgrader_folder).
    nbgrader_course: Mapped[str] = mapped_column(sa.String(60), unique=True)
    # Late policy: percent deducted per started day late, capped; refused after the cut-off.
    late_percent_per_day: Mapped[int] = mapped_column(default=10)
    late_max_deduction: Mapped[int] = mapped_column(default=50)
    late_cutoff_days: Mapped[int] = mapped_column(default=7)
    # An archived course is kept with all its history but hidden from trainees' lists and closed to new releases.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A new random number whenever what the course's gradebook and dashboard show changes (its assignments, due
    # dates, extensions, grades, submissions, trainees): the key of their caches, read by every portal process
    # from here. academy/courses/versions.py sets it; nothing else should.
    data_version: Mapped[int] = mapped_column(sa.BigInteger, default=lambda: secrets.randbits(62), server_default="0")

    instructors: Mapped[list[User]] = relationship(secondary=course_instructors)
    cohorts: Mapped[list[Cohort]] = relationship(secondary=course_cohorts)
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="course", order_by="Assignment.week", cascade="all, delete-orphan"
    )

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    def title(self, locale: str) -> str:
        return self.title_ko if locale == "ko" else self.title_en

    def __repr__(self) -> str:
        return f"<Course {self.code}>"


class Assignment(db.Model):
    __tablename__ = "assignments"
    __table_args__ = (
        sa.UniqueConstraint("course_id", "nbgrader_name"),
        sa.CheckConstraint("max_points > 0", name="max_points_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    # The nbgrader assignment (folder under courses/<course>/source/) this assignment is.
    nbgrader_name: Mapped[str] = mapped_column(sa.String(80))
    title_ko: Mapped[str] = mapped_column(sa.String(160))
    title_en: Mapped[str] = mapped_column(sa.String(160))
    week: Mapped[int] = mapped_column(default=1)
    max_points: Mapped[float] = mapped_column(default=100.0)
    # Grading jobs of a GPU assignment go to the GPU queue.
    needs_gpu: Mapped[bool] = mapped_column(default=False)

    course: Mapped[Course] = relationship(back_populates="assignments")
    skills: Mapped[list[AssignmentSkill]] = relationship(cascade="all, delete-orphan")
    due_dates: Mapped[list[DueDate]] = relationship(cascade="all, delete-orphan")

    def title(self, locale: str) -> str:
        return self.title_ko if locale == "ko" else self.title_en

    def __repr__(self) -> str:
        return f"<Assignment {self.nbgrader_name}>"


class AssignmentSkill(db.Model):
    """A skill an assignment evidences, at a level."""

    __tablename__ = "assignment_skills"
    __table_args__ = (level_check(),)

    assignment_id: Mapped[int] = mapped_column(sa.ForeignKey("assignments.id", ondelete="CASCADE"), primary_key=True)
    skill_id: Mapped[int] = mapped_column(sa.ForeignKey("skills.id"), primary_key=True)
    level: Mapped[int] = mapped_column()

    skill: Mapped[Skill] = relationship()

    def __repr__(self) -> str:
        return f"<AssignmentSkill a={self.assignment_id} s={self.skill_id} L{self.level}>"


class DueDate(db.Model):
    """When an assignment is due for one cohort (and whether it was released to it)."""

    __tablename__ = "due_dates"
    __table_args__ = (sa.UniqueConstraint("assignment_id", "cohort_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(sa.ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    cohort_id: Mapped[int] = mapped_column(sa.ForeignKey("cohorts.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    assignment: Mapped[Assignment] = relationship(back_populates="due_dates")
    cohort: Mapped[Cohort] = relationship()

    def __repr__(self) -> str:
        return f"<DueDate a={self.assignment_id} c={self.cohort_id} {self.due_at:%Y-%m-%d}>"


class Extension(db.Model):
    """A later due date for one trainee, granted by an instructor."""

    __tablename__ = "extensions"
    __table_args__ = (sa.UniqueConstraint("assignment_id", "student_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(sa.ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    granted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    granted_at: Mapped[datetime] = created_at_column()

    assignment: Mapped[Assignment] = relationship()
    trainee: Mapped[User] = relationship(foreign_keys=[student_id])

    def __repr__(self) -> str:
        return f"<Extension a={self.assignment_id} s={self.student_id}>"


class Grade(db.Model):
    """A trainee's score on an assignment, from autograding or entered in the portal."""

    __tablename__ = "grades"
    __table_args__ = (
        sa.UniqueConstraint("assignment_id", "student_id"),
        sa.CheckConstraint("score >= 0 AND score <= max_score", name="score_in_range"),
        sa.CheckConstraint("max_score > 0", name="max_score_positive"),
        sa.CheckConstraint("late_penalty >= 0", name="late_penalty_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(sa.ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    score: Mapped[float] = mapped_column()
    max_score: Mapped[float] = mapped_column()
    # Points taken off for lateness (already subtracted from score).
    late_penalty: Mapped[float] = mapped_column(default=0.0)
    feedback: Mapped[str] = mapped_column(sa.Text, default="")
    # "portal" (entered by an instructor) or "autograde".
    source: Mapped[str] = mapped_column(sa.String(20), default="portal")
    graded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = created_at_column()

    assignment: Mapped[Assignment] = relationship()
    trainee: Mapped[User] = relationship(foreign_keys=[student_id])

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score

    def __repr__(self) -> str:
        return f"<Grade a={self.assignment_id} s={self.student_id} {self.score}/{self.max_score}>"
