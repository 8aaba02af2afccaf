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

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.is_enabled

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"
