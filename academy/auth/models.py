"""People who use the portal."""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.extensions import db
from academy.policy import Role
from academy.util import UTCDateTime, created_at_column, enum_check

if TYPE_CHECKING:
    from academy.companies.models import Company
    from academy.universities.models import University


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        enum_check("role", Role),
        # A coordinator belongs to one university, a recruiter to one company: the database says so.
        sa.CheckConstraint(
            "role != 'coordinator' OR university_id IS NOT NULL", name="coordinator_has_university"
        ),
        sa.CheckConstraint("role != 'recruiter' OR company_id IS NOT NULL", name="recruiter_has_company"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased once, at creation, so two spellings can never be two accounts.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    role: Mapped[str] = mapped_column(sa.String(20), index=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    university_id: Mapped[int | None] = mapped_column(sa.ForeignKey("universities.id"), index=True)
    company_id: Mapped[int | None] = mapped_column(sa.ForeignKey("companies.id"), index=True)
    # False blocks sign-in at the portal and, through it, at the hub.
    is_enabled: Mapped[bool] = mapped_column(default=True)
    # Part of the session id: changing it (password change, disable) ends every session.
    session_token: Mapped[str] = mapped_column(sa.String(32), default=lambda: secrets.token_hex(16))
    locale: Mapped[str | None] = mapped_column(sa.String(5))
    created_at: Mapped[datetime] = created_at_column()
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    university: Mapped[University | None] = relationship()
    company: Mapped[Company | None] = relationship(back_populates="recruiters", foreign_keys=[company_id])

    # The sign-in this object was loaded for (academy.auth.sessions sets it); not a column.
    session_key = ""
    # The bell's unread count, read with the sign-in check of this request (academy.auth.sessions.resume).
    unread_at_request_start = None

    def get_id(self) -> str:
        # Both tokens are checked on every request: the account's (a password change or disable
        # ends every session) and the sign-in's own (logout ends just that one).
        return f"{self.id}:{self.session_token}:{self.session_key}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.is_enabled

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class UserSession(db.Model):
    """One sign-in: the browser's cookie names it, and ending it here signs that browser out.

    Flask's session is a signed cookie the server cannot take back, so a copy of it would work
    for as long as the account's session token stays the same; this row is what logout ends.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # sha256 of the random key in the cookie: a copy of the database names no live session.
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Why it ended: logout, password_changed, disabled.
    end_reason: Mapped[str | None] = mapped_column(sa.String(20))
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(200))

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<UserSession {self.id} user={self.user_id} ended={self.ended_at is not None}>"


class Invitation(db.Model):
    """A one-time link with which a trainee someone else registered (an import) sets their own password.

    The link is derived from this row (see academy.auth.invitations), so the office can show it
    again until it is used or expires; re-issuing changes the nonce, which kills older links.
    """

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    # One invitation per account: re-issuing updates it instead of adding another live link.
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    # Whose coordinators may hand it out (the university of the cohort the trainee was imported into).
    university_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("universities.id", ondelete="SET NULL"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    nonce: Mapped[str] = mapped_column(sa.String(32), default=lambda: secrets.token_hex(16))
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When it left the outbox: handed out by the office or a coordinator (or, later, e-mailed).
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(foreign_keys=[user_id])

    def __repr__(self) -> str:
        return f"<Invitation {self.id} user={self.user_id} used={self.used_at is not None}>"
