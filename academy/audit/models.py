"""The audit log: who changed or looked at whose personal data, and when."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from academy.extensions import db
from academy.util import UTCDateTime, utcnow


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"
    __table_args__ = (
        # The course pages and rosters that list trainees are found by what they showed (a trainee's export).
        sa.Index("ix_audit_entries_object", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed: the log is read newest first, a page at a time, out of years of entries.
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False, index=True)
    # Who acted; None for the system (CLI, scheduled jobs).
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # What happened, as a dotted verb: "student.viewed", "application.decided", "access.denied".
    action: Mapped[str] = mapped_column(sa.String(60), index=True)
    # Whose personal data this concerns, when it concerns a person.
    subject_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # The record acted on ("application", 12).
    object_type: Mapped[str | None] = mapped_column(sa.String(40))
    object_id: Mapped[int | None] = mapped_column()
    detail: Mapped[str | None] = mapped_column(sa.Text)
    ip: Mapped[str | None] = mapped_column(sa.String(45))

    def __repr__(self) -> str:
        return f"<AuditEntry {self.id} {self.action} actor={self.actor_id} subject={self.subject_user_id}>"
