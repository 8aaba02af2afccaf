"""Companies of the province and the placement demands they post."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.extensions import db
from academy.skills.models import level_check
from academy.util import UTCDateTime, created_at_column, enum_check

if TYPE_CHECKING:
    from academy.auth.models import User
    from academy.skills.models import Skill


class Sector(StrEnum):
    MACHINERY = "machinery"
    AUTO_PARTS = "auto_parts"
    SHIPBUILDING = "shipbuilding"
    AEROSPACE = "aerospace"
    DEFENSE = "defense"
    NUCLEAR = "nuclear"
    ELECTRONICS = "electronics"
    OTHER = "other"


SECTOR_NAMES = {
    "machinery": ("기계", "Machinery"),
    "auto_parts": ("자동차 부품", "Auto parts"),
    "shipbuilding": ("조선", "Shipbuilding"),
    "aerospace": ("항공우주", "Aerospace"),
    "defense": ("방산", "Defense"),
    "nuclear": ("원자력", "Nuclear"),
    "electronics": ("전자", "Electronics"),
    "other": ("기타", "Other"),
}

# The 18 cities and counties of Gyeongsangnam-do.
CITIES = {
    "changwon": ("창원시", "Changwon"),
    "jinju": ("진주시", "Jinju"),
    "tongyeong": ("통영시", "Tongyeong"),
    "sacheon": ("사천시", "Sacheon"),
    "gimhae": ("김해시", "Gimhae"),
    "miryang": ("밀양시", "Miryang"),
    "geoje": ("거제시", "Geoje"),
    "yangsan": ("양산시", "Yangsan"),
    "uiryeong": ("의령군", "Uiryeong"),
    "haman": ("함안군", "Haman"),
    "changnyeong": ("창녕군", "Changnyeong"),
    "goseong": ("고성군", "Goseong"),
    "namhae": ("남해군", "Namhae"),
    "hadong": ("하동군", "Hadong"),
    "sancheong": ("산청군", "Sancheong"),
    "hamyang": ("함양군", "Hamyang"),
    "geochang": ("거창군", "Geochang"),
    "hapcheon": ("합천군", "Hapcheon"),
}


class CompanySize(StrEnum):
    SMALL = "small"  # fewer than 50 staff
    MEDIUM = "medium"  # 50 to 299
    LARGE = "large"  # 300 or more


SIZE_NAMES = {"small": ("소기업 (50인 미만)", "Small (<50)"), "medium": ("중기업 (50–299인)", "Medium (50–299)"),
              "large": ("대기업·중견 (300인 이상)", "Large (300+)")}


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Company(db.Model):
    __tablename__ = "companies"
    __table_args__ = (
        enum_check("sector", Sector),
        enum_check("city", list(CITIES)),
        enum_check("size", CompanySize),
        enum_check("status", ReviewStatus),
        sa.CheckConstraint("status != 'rejected' OR review_reason IS NOT NULL", name="rejection_has_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    sector: Mapped[str] = mapped_column(sa.String(20), index=True)
    city: Mapped[str] = mapped_column(sa.String(20), index=True)
    size: Mapped[str] = mapped_column(sa.String(10))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    website: Mapped[str] = mapped_column(sa.String(200), default="")
    status: Mapped[str] = mapped_column(sa.String(10), default=ReviewStatus.PENDING, index=True)
    review_reason: Mapped[str | None] = mapped_column(sa.Text)
    # users.company_id refers back here, so this key is added once both tables exist (use_alter;
    # migrations/env.py has autogenerate write it as its own step).
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", use_alter=True))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = created_at_column()

    recruiters: Mapped[list[User]] = relationship(
        back_populates="company", foreign_keys="User.company_id"
    )
    demands: Mapped[list[Demand]] = relationship(back_populates="company", order_by="Demand.id")

    def __repr__(self) -> str:
        return f"<Company {self.id} {self.name} {self.status}>"


class DemandKind(StrEnum):
    INTERNSHIP = "internship"  # project internship
    HIRE = "hire"


class DemandStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"  # awaiting the academy office
    APPROVED = "approved"  # visible to trainees
    REJECTED = "rejected"
    CLOSED = "closed"


class Demand(db.Model):
    """A company's request for trainees: a project internship or a hire."""

    __tablename__ = "demands"
    __table_args__ = (
        enum_check("kind", DemandKind),
        enum_check("status", DemandStatus),
        enum_check("work_city", list(CITIES)),
        sa.CheckConstraint("headcount BETWEEN 1 AND 100", name="headcount_range"),
        sa.CheckConstraint("duration_months BETWEEN 1 AND 60", name="duration_range"),
        sa.CheckConstraint("stipend_krw >= 0", name="stipend_nonnegative"),
        sa.CheckConstraint("status != 'rejected' OR review_reason IS NOT NULL", name="rejection_has_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(sa.ForeignKey("companies.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(160))
    kind: Mapped[str] = mapped_column(sa.String(12))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    headcount: Mapped[int] = mapped_column()
    start_date: Mapped[date] = mapped_column(sa.Date)
    duration_months: Mapped[int] = mapped_column()
    work_city: Mapped[str] = mapped_column(sa.String(20))
    work_address: Mapped[str] = mapped_column(sa.String(200), default="")
    # Monthly stipend or salary in won.
    stipend_krw: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(sa.String(10), default=DemandStatus.DRAFT, index=True)
    review_reason: Mapped[str | None] = mapped_column(sa.Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = created_at_column()

    company: Mapped[Company] = relationship(back_populates="demands")
    skills: Mapped[list[DemandSkill]] = relationship(cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<Demand {self.id} {self.title!r} {self.status}>"


class DemandSkill(db.Model):
    """A skill a demand requires, at a minimum level."""

    __tablename__ = "demand_skills"
    __table_args__ = (level_check("min_level"),)

    demand_id: Mapped[int] = mapped_column(sa.ForeignKey("demands.id", ondelete="CASCADE"), primary_key=True)
    skill_id: Mapped[int] = mapped_column(sa.ForeignKey("skills.id"), primary_key=True)
    min_level: Mapped[int] = mapped_column()

    skill: Mapped[Skill] = relationship()

    def __repr__(self) -> str:
        return f"<DemandSkill d={self.demand_id} s={self.skill_id} >=L{self.min_level}>"
