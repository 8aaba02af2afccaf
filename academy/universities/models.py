"""Partner universities and their yearly cohorts."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.extensions import db


class University(db.Model):
    __tablename__ = "universities"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name_ko: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    city: Mapped[str] = mapped_column(sa.String(20))

    cohorts: Mapped[list[Cohort]] = relationship(back_populates="university", order_by="Cohort.year")

    def __repr__(self) -> str:
        return f"<University {self.code}>"


class Cohort(db.Model):
    """One university's intake of trainees for one year."""

    __tablename__ = "cohorts"
    __table_args__ = (
        sa.UniqueConstraint("university_id", "year", "name"),
        sa.CheckConstraint("capacity > 0", name="capacity_positive"),
        # The database itself keeps enrolment within capacity, whatever the code does.
        sa.CheckConstraint("enrolled_count >= 0 AND enrolled_count <= capacity", name="within_capacity"),
        sa.CheckConstraint("year BETWEEN 2020 AND 2100", name="year_sane"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    university_id: Mapped[int] = mapped_column(sa.ForeignKey("universities.id"), index=True)
    year: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(sa.String(60))
    capacity: Mapped[int] = mapped_column()
    # Active enrolments, kept by the enrolment service with a conditional UPDATE.
    enrolled_count: Mapped[int] = mapped_column(default=0)
    # Applications are accepted while open.
    is_open: Mapped[bool] = mapped_column(default=True)

    university: Mapped[University] = relationship(back_populates="cohorts")

    @property
    def seats_left(self) -> int:
        return self.capacity - self.enrolled_count

    def __repr__(self) -> str:
        return f"<Cohort {self.id} {self.year} {self.name}>"
