"""A trainee's own profile: skills they claim, projects and portfolio links."""
from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.extensions import db
from academy.skills.models import level_check

if TYPE_CHECKING:
    from academy.skills.models import Skill


class Profile(db.Model):
    __tablename__ = "profiles"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    headline: Mapped[str] = mapped_column(sa.String(160), default="")
    about: Mapped[str] = mapped_column(sa.Text, default="")
    phone: Mapped[str] = mapped_column(sa.String(20), default="")
    major: Mapped[str] = mapped_column(sa.String(100), default="")

    def __repr__(self) -> str:
        return f"<Profile {self.user_id}>"


class ProfileSkill(db.Model):
    """A skill the trainee says they have (evidence-backed levels come from grades)."""

    __tablename__ = "profile_skills"
    __table_args__ = (level_check(),)

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    skill_id: Mapped[int] = mapped_column(sa.ForeignKey("skills.id"), primary_key=True)
    level: Mapped[int] = mapped_column()

    skill: Mapped[Skill] = relationship()

    def __repr__(self) -> str:
        return f"<ProfileSkill u={self.user_id} s={self.skill_id} L{self.level}>"


class Project(db.Model):
    """A project or portfolio link on a trainee's profile."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(sa.String(160))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    url: Mapped[str] = mapped_column(sa.String(300), default="")

    def __repr__(self) -> str:
        return f"<Project {self.id} {self.title!r}>"
