"""The skills catalogue shared by assignments, trainee profiles and company demands."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from academy.extensions import db
from academy.util import UTCDateTime

LEVELS = range(1, 6)  # 1 = aware ... 5 = can teach it


def level_check(column: str = "level") -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} BETWEEN 1 AND 5", name=f"{column}_1_to_5")


class Skill(db.Model):
    __tablename__ = "skills"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name_ko: Mapped[str] = mapped_column(sa.String(80))
    name_en: Mapped[str] = mapped_column(sa.String(80))
    description_ko: Mapped[str] = mapped_column(sa.Text, default="")
    description_en: Mapped[str] = mapped_column(sa.Text, default="")
    # A retired skill is offered for no new demand, assignment or profile; evidence already recorded keeps it.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def retired(self) -> bool:
        return self.retired_at is not None

    def name(self, locale: str) -> str:
        return self.name_ko if locale == "ko" else self.name_en

    def __repr__(self) -> str:
        return f"<Skill {self.code}>"
