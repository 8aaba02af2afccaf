"""Notifications kept for a person, and the kinds of e-mail each person has turned off."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from academy.extensions import db
from academy.util import UTCDateTime, created_at_column


class Notification(db.Model):
    """One notice to one person, in the language they read the portal in when it was made."""

    __tablename__ = "notifications"
    __table_args__ = (
        # A notice about one thing is made once per person, however often its cause runs (reminders, re-saves).
        sa.UniqueConstraint("user_id", "dedupe_key", name="uq_notifications_user_dedupe"),
        sa.Index("ix_notifications_user_unread", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    link: Mapped[str] = mapped_column(sa.String(500), default="")  # a path on the portal
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(120))
    emailed: Mapped[bool] = mapped_column(default=False)
    # The outbox e-mail that carried it (none when the person turned this kind of e-mail off).
    mail_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outbox_mails.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.kind} user={self.user_id} read={self.read_at is not None}>"


class EmailOptOut(db.Model):
    """A kind of notification this person does not want by e-mail (they still see it in the portal)."""

    __tablename__ = "email_opt_outs"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)

    def __repr__(self) -> str:
        return f"<EmailOptOut user={self.user_id} {self.kind}>"
