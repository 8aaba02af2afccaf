"""Applications to a cohort and the enrolments they lead to."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.extensions import db
from academy.util import UTCDateTime, created_at_column, enum_check

if TYPE_CHECKING:
    from academy.auth.models import User
    from academy.universities.models import Cohort


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    INTERVIEW = "interview"
    ADMITTED = "admitted"
    WAITLISTED = "waitlisted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


# Which status may follow which: the one place the admissions workflow is written down.
TRANSITIONS: dict[str, set[str]] = {
    "submitted": {"under_review", "rejected", "withdrawn"},
    "under_review": {"interview", "admitted", "waitlisted", "rejected", "withdrawn"},
    "interview": {"admitted", "waitlisted", "rejected", "withdrawn"},
    "waitlisted": {"admitted", "rejected", "withdrawn"},
    "admitted": {"withdrawn"},
    "rejected": set(),
    "withdrawn": set(),
}
DECISIONS = {"admitted", "waitlisted", "rejected"}


class Application(db.Model):
    __tablename__ = "applications"
    __table_args__ = (
        sa.UniqueConstraint("student_id", "cohort_id"),
        enum_check("status", ApplicationStatus),
        sa.CheckConstraint(
            "status NOT IN ('admitted', 'waitlisted', 'rejected') OR "
            "(decided_by_id IS NOT NULL AND decision_reason IS NOT NULL)",
            name="decision_has_reason",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    cohort_id: Mapped[int] = mapped_column(sa.ForeignKey("cohorts.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default=ApplicationStatus.SUBMITTED)
    motivation: Mapped[str] = mapped_column(sa.Text, default="")
    background: Mapped[str] = mapped_column(sa.Text, default="")
    submitted_at: Mapped[datetime] = created_at_column()
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)

    trainee: Mapped[User] = relationship(foreign_keys=[student_id])
    cohort: Mapped[Cohort] = relationship()
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    events: Mapped[list[ApplicationEvent]] = relationship(
        back_populates="application", order_by="ApplicationEvent.at", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Application {self.id} student={self.student_id} cohort={self.cohort_id} {self.status}>"


class ApplicationEvent(db.Model):
    """One step of an application's history: who moved it, from what, to what, and why."""

    __tablename__ = "application_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(sa.String(20))
    to_status: Mapped[str] = mapped_column(sa.String(20))
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    at: Mapped[datetime] = created_at_column()

    application: Mapped[Application] = relationship(back_populates="events")
    by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<ApplicationEvent {self.from_status}->{self.to_status}>"


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    COMPLETED = "completed"


class Enrollment(db.Model):
    """A trainee's membership of a cohort; only active trainees may use the hub."""

    __tablename__ = "enrollments"
    __table_args__ = (sa.UniqueConstraint("student_id", "cohort_id"), enum_check("status", EnrollmentStatus))

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    cohort_id: Mapped[int] = mapped_column(sa.ForeignKey("cohorts.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default=EnrollmentStatus.ACTIVE)
    enrolled_at: Mapped[datetime] = created_at_column()
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(sa.Text)

    trainee: Mapped[User] = relationship()
    cohort: Mapped[Cohort] = relationship()

    def __repr__(self) -> str:
        return f"<Enrollment student={self.student_id} cohort={self.cohort_id} {self.status}>"
