"""Consents to the privacy policy's purposes, and privacy requests with their answers."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.extensions import db
from academy.util import UTCDateTime, created_at_column

if TYPE_CHECKING:
    from academy.auth.models import User


class PolicyConsent(db.Model):
    """One answer to one purpose of one version of the privacy policy: given or refused, and when.

    Rows are only added, never changed: a later answer to the same purpose is a new row, so the history of
    what someone agreed to, and under which text, stays provable (PIPA Art. 22(3): the controller proves consent).
    """

    __tablename__ = "policy_consents"
    __table_args__ = (sa.Index("ix_policy_consents_user_purpose", "user_id", "purpose", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(sa.String(20))
    purpose: Mapped[str] = mapped_column(sa.String(20))  # "required" or one of the optional purposes
    given: Mapped[bool] = mapped_column()
    created_at: Mapped[datetime] = created_at_column()

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<PolicyConsent user={self.user_id} v{self.version} {self.purpose}={self.given}>"


class PrivacyRequest(db.Model):
    """A person's request about their own data, and the office's answer (due within 10 days: Decree Arts. 41-43)."""

    __tablename__ = "privacy_requests"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('access', 'export', 'correction', 'deletion', 'suspension')",
                           name="kind_known"),
        sa.CheckConstraint("status IN ('open', 'done', 'refused')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    details: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(10), default="open", index=True)
    answer: Mapped[str] = mapped_column(sa.Text, default="")
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])

    def __repr__(self) -> str:
        return f"<PrivacyRequest {self.id} {self.kind} {self.status} user={self.user_id}>"
