"""Certificates of completion: the office's completion rule, trainees' attendance, and the certificates issued."""
from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.extensions import db
from academy.util import UTCDateTime, created_at_column, utcnow

if TYPE_CHECKING:
    from academy.auth.models import User
    from academy.universities.models import Cohort

# The rule the office starts from until it saves its own (services.get_rule).
DEFAULT_RULE = {"pass_percent": 60, "min_courses_passed": 1, "min_share_percent": 100, "min_attendance_percent": 80}


def _percent(column: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} BETWEEN 0 AND 100", name=f"{column}_0_to_100")


class CompletionRule(db.Model):
    """The office's rule for completing the programme: one row (id 1), edited in the portal.

    A course is passed when the trainee's total is at least pass_percent of the course's maximum points
    (every assignment counts; an ungraded one counts 0). A trainee completes when they passed at least
    min_courses_passed of their cohort's courses, and at least min_share_percent of them, and attended at
    least min_attendance_percent of the cohort (the rate the office records per trainee, Attendance).
    """

    __tablename__ = "completion_rules"
    __table_args__ = (
        sa.CheckConstraint("id = 1", name="single_row"),
        _percent("pass_percent"), _percent("min_share_percent"), _percent("min_attendance_percent"),
        sa.CheckConstraint("min_courses_passed BETWEEN 0 AND 100", name="min_courses_passed_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    pass_percent: Mapped[int] = mapped_column(default=DEFAULT_RULE["pass_percent"])
    min_courses_passed: Mapped[int] = mapped_column(default=DEFAULT_RULE["min_courses_passed"])
    min_share_percent: Mapped[int] = mapped_column(default=DEFAULT_RULE["min_share_percent"])
    min_attendance_percent: Mapped[int] = mapped_column(default=DEFAULT_RULE["min_attendance_percent"])
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    def values(self) -> dict[str, int]:
        return {key: getattr(self, key) for key in DEFAULT_RULE}

    def __repr__(self) -> str:
        return f"<CompletionRule {self.values()}>"


class Attendance(db.Model):
    """A trainee's attendance of their cohort in percent, as the office records it (the portal keeps no roll)."""

    __tablename__ = "attendance_rates"
    __table_args__ = (sa.UniqueConstraint("student_id", "cohort_id"), _percent("percent"))

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    cohort_id: Mapped[int] = mapped_column(sa.ForeignKey("cohorts.id", ondelete="CASCADE"), index=True)
    percent: Mapped[int] = mapped_column()
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    def __repr__(self) -> str:
        return f"<Attendance student={self.student_id} cohort={self.cohort_id} {self.percent}%>"


class Certificate(db.Model):
    """A certificate of completion as issued: what it says is kept as issued, so it reads the same for ever.

    The public id is the unguessable part of the verification address (the QR code); the serial is what
    people read and quote. A revoked certificate stays on record with who revoked it and why; a trainee has
    at most one certificate in force per cohort.
    """

    __tablename__ = "certificates"
    __table_args__ = (
        sa.CheckConstraint("revoked_at IS NULL OR (revoked_by_id IS NOT NULL AND revoke_reason IS NOT NULL)",
                           name="revocation_has_reason"),
        sa.Index("uq_certificates_in_force", "student_id", "cohort_id", unique=True,
                 sqlite_where=sa.text("revoked_at IS NULL"), postgresql_where=sa.text("revoked_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    serial: Mapped[str] = mapped_column(sa.String(32), unique=True)
    student_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    cohort_id: Mapped[int] = mapped_column(sa.ForeignKey("cohorts.id"), index=True)
    # As printed on the certificate at issue.
    holder_name: Mapped[str] = mapped_column(sa.String(100))
    cohort_label_ko: Mapped[str] = mapped_column(sa.String(200))
    cohort_label_en: Mapped[str] = mapped_column(sa.String(200))
    # JSON: {"courses": [...], "competencies": [...]} (services.issue_certificate).
    contents: Mapped[str] = mapped_column(sa.Text)
    issued_at: Mapped[datetime] = created_at_column()
    issued_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    revoke_reason: Mapped[str | None] = mapped_column(sa.Text)

    trainee: Mapped[User] = relationship(foreign_keys=[student_id])
    cohort: Mapped[Cohort] = relationship()

    @property
    def is_valid(self) -> bool:
        return self.revoked_at is None

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.contents)

    def __repr__(self) -> str:
        return f"<Certificate {self.serial} student={self.student_id} {'valid' if self.is_valid else 'revoked'}>"
