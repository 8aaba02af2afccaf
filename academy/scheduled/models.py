"""What the reminders have sent: one row per reminder, so no reminder goes out twice."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from academy.extensions import db
from academy.util import created_at_column


class SentReminder(db.Model):
    """A reminder of one kind, about one object (offer, assignment, placement), to one user, for one window.

    The window names the occasion (a deadline, a due date, a follow-up's month): a moved due date is a new
    occasion and gets its own reminder. Written in the transaction that writes the e-mail, so a reminder is
    either both recorded and in the outbox or neither; the unique key stops two runs at once sending twice.
    """

    __tablename__ = "sent_reminders"
    __table_args__ = (sa.UniqueConstraint("kind", "object_id", "user_id", "window"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[int] = mapped_column()
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    window: Mapped[str] = mapped_column(sa.String(40))
    mail_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outbox_mails.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime] = created_at_column()

    def __repr__(self) -> str:
        return f"<SentReminder {self.kind} o={self.object_id} u={self.user_id} {self.window}>"
