"""Match rounds and what hangs off them: consents, rank lists, results, offers, placements, follow-ups.

Everything personal belongs to one match round, so the round's retention date says when it goes
(`retention.purge_expired`). Rows kept after a purge (placements, follow-ups, round demands) lose
their link to the trainee and keep only what the outcome figures need.
"""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.extensions import db
from academy.util import UTCDateTime, created_at_column, enum_check, utcnow

if TYPE_CHECKING:
    from academy.auth.models import User
    from academy.companies.models import Demand
    from academy.universities.models import Cohort


class RoundStatus(StrEnum):
    OPEN = "open"  # trainees opt in and rank, recruiters rank
    MATCHED = "matched"  # the office reviews the result
    PUBLISHED = "published"  # trainees and recruiters see it; offers may be made
    CLOSED = "closed"


class MatchRound(db.Model):
    """One cohort's round: opt-ins and rank lists, one match, then offers."""

    __tablename__ = "match_rounds"
    __table_args__ = (enum_check("status", RoundStatus),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(sa.ForeignKey("cohorts.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(12), default=RoundStatus.OPEN, index=True)
    # Drawn when the round is run and kept, so anyone can replay the tie-breaking lottery.
    seed: Mapped[int | None] = mapped_column(sa.BigInteger)
    # The day after which the round's personal data is deleted or anonymised.
    retention_until: Mapped[date] = mapped_column(sa.Date)
    participants: Mapped[int] = mapped_column(default=0)  # trainees in the cohort when run (kept for rates)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    cohort: Mapped[Cohort] = relationship()

    def __repr__(self) -> str:
        return f"<MatchRound {self.id} cohort={self.cohort_id} {self.status}>"


class Consent(db.Model):
    """A trainee's consent to share named items with one company for one demand, and their rank of it."""

    __tablename__ = "placement_consents"
    __table_args__ = (
        sa.UniqueConstraint("round_id", "student_id", "demand_id"),
        sa.CheckConstraint("withdrawn_at IS NULL OR choice_rank IS NULL", name="withdrawn_unranked"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("match_rounds.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    demand_id: Mapped[int] = mapped_column(sa.ForeignKey("demands.id"), index=True)
    # The notice exactly as shown (recipient, purpose, items, retention, right to refuse).
    notice: Mapped[str] = mapped_column(sa.Text)
    given_at: Mapped[datetime] = created_at_column()
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The trainee's own order of the demands they opted into; 1 = first choice.
    choice_rank: Mapped[int | None] = mapped_column()

    match_round: Mapped[MatchRound] = relationship()
    trainee: Mapped[User] = relationship()
    demand: Mapped[Demand] = relationship()

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None

    def __repr__(self) -> str:
        return f"<Consent {self.id} s={self.student_id} d={self.demand_id} active={self.active}>"


class ShortlistEntry(db.Model):
    """A recruiter's place for a trainee on a demand's list, with interview notes."""

    __tablename__ = "shortlist_entries"
    __table_args__ = (sa.UniqueConstraint("round_id", "demand_id", "student_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("match_rounds.id", ondelete="CASCADE"), index=True)
    demand_id: Mapped[int] = mapped_column(sa.ForeignKey("demands.id"), index=True)
    student_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    note: Mapped[str] = mapped_column(sa.Text, default="")

    def __repr__(self) -> str:
        return f"<ShortlistEntry d={self.demand_id} s={self.student_id} #{self.position}>"


class RoundDemand(db.Model):
    """A demand taking part in a round: its capacity then, and whether its recruiter submitted a list."""

    __tablename__ = "round_demands"

    round_id: Mapped[int] = mapped_column(sa.ForeignKey("match_rounds.id", ondelete="CASCADE"), primary_key=True)
    demand_id: Mapped[int] = mapped_column(sa.ForeignKey("demands.id"), primary_key=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    capacity: Mapped[int | None] = mapped_column()  # places left when the round was run

    demand: Mapped[Demand] = relationship()

    def __repr__(self) -> str:
        return f"<RoundDemand r={self.round_id} d={self.demand_id}>"


class MatchOutcome(db.Model):
    """Where the match put one trainee, and why (the explanation is shown to them)."""

    __tablename__ = "match_outcomes"
    __table_args__ = (sa.UniqueConstraint("round_id", "student_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("match_rounds.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    demand_id: Mapped[int | None] = mapped_column(sa.ForeignKey("demands.id"))
    choice: Mapped[int | None] = mapped_column()
    explanation_ko: Mapped[str] = mapped_column(sa.Text, default="")
    explanation_en: Mapped[str] = mapped_column(sa.Text, default="")

    trainee: Mapped[User] = relationship()
    demand: Mapped[Demand | None] = relationship()

    def __repr__(self) -> str:
        return f"<MatchOutcome r={self.round_id} s={self.student_id} d={self.demand_id}>"


class DemandFill(db.Model):
    """How many of a demand's places are taken; the database refuses to over-fill it."""

    __tablename__ = "demand_fills"
    __table_args__ = (sa.CheckConstraint("filled >= 0 AND filled <= capacity", name="within_capacity"),)

    demand_id: Mapped[int] = mapped_column(sa.ForeignKey("demands.id", ondelete="CASCADE"), primary_key=True)
    capacity: Mapped[int] = mapped_column()
    filled: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<DemandFill d={self.demand_id} {self.filled}/{self.capacity}>"


class OfferStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"


class Offer(db.Model):
    __tablename__ = "offers"
    __table_args__ = (enum_check("status", OfferStatus),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("match_rounds.id", ondelete="CASCADE"), index=True)
    demand_id: Mapped[int] = mapped_column(sa.ForeignKey("demands.id"), index=True)
    # None once the round's retention has ended (anonymised).
    student_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(sa.String(10), default=OfferStatus.OPEN, index=True)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime())
    made_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    made_at: Mapped[datetime] = created_at_column()
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    demand: Mapped[Demand] = relationship()
    trainee: Mapped[User | None] = relationship(foreign_keys=[student_id])
    match_round: Mapped[MatchRound] = relationship()

    @property
    def shown_status(self) -> str:
        """Return the status to show now: an open offer past its deadline is expired, even before the
        scheduled expiry (or an answer to it) has written so."""
        if self.status == OfferStatus.OPEN and self.deadline_at < utcnow():
            return OfferStatus.EXPIRED
        return self.status

    def __repr__(self) -> str:
        return f"<Offer {self.id} d={self.demand_id} s={self.student_id} {self.status}>"


def offer_status_now() -> sa.Case:
    """Offer.status as shown now, in SQL: an open offer past its deadline counts as expired (as Offer.shown_status)."""
    return sa.case((sa.and_(Offer.status == OfferStatus.OPEN, Offer.deadline_at < utcnow()), OfferStatus.EXPIRED.value),
                   else_=Offer.status)


class PlacementStatus(StrEnum):
    ACCEPTED = "accepted"
    STARTED = "started"
    ENDED = "ended"


class Placement(db.Model):
    """An accepted offer: the trainee's place at the company, from start confirmation to follow-ups."""

    __tablename__ = "placements"
    __table_args__ = (
        enum_check("status", PlacementStatus),
        # One live placement per trainee, whatever runs at the same time.
        sa.Index(
            "uq_placements_one_live_per_student", "student_id", unique=True,
            postgresql_where=sa.text("status IN ('accepted', 'started') AND student_id IS NOT NULL"),
            sqlite_where=sa.text("status IN ('accepted', 'started') AND student_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(sa.ForeignKey("offers.id", ondelete="CASCADE"), unique=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("match_rounds.id", ondelete="CASCADE"), index=True)
    demand_id: Mapped[int] = mapped_column(sa.ForeignKey("demands.id"), index=True)
    student_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(sa.String(10), default=PlacementStatus.ACCEPTED)
    accepted_at: Mapped[datetime] = created_at_column()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    demand: Mapped[Demand] = relationship()
    trainee: Mapped[User | None] = relationship()
    match_round: Mapped[MatchRound] = relationship()
    evaluations: Mapped[list[Evaluation]] = relationship(cascade="all, delete-orphan")
    follow_ups: Mapped[list[FollowUp]] = relationship(cascade="all, delete-orphan", order_by="FollowUp.months")

    def __repr__(self) -> str:
        return f"<Placement {self.id} d={self.demand_id} s={self.student_id} {self.status}>"


class EvaluationBy(StrEnum):
    SUPERVISOR = "supervisor"
    TRAINEE = "trainee"


class Evaluation(db.Model):
    __tablename__ = "placement_evaluations"
    __table_args__ = (
        sa.UniqueConstraint("placement_id", "by"),
        enum_check("by", EvaluationBy),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="rating_1_to_5"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(sa.ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    by: Mapped[str] = mapped_column(sa.String(12))
    rating: Mapped[int] = mapped_column()
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = created_at_column()

    def __repr__(self) -> str:
        return f"<Evaluation p={self.placement_id} {self.by} {self.rating}>"


FOLLOW_UP_MONTHS = (3, 6, 12)


class FollowUp(db.Model):
    """Whether the trainee is still employed 3, 6 or 12 months after the start."""

    __tablename__ = "placement_follow_ups"
    __table_args__ = (
        sa.UniqueConstraint("placement_id", "months"),
        sa.CheckConstraint("months IN (3, 6, 12)", name="months_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(sa.ForeignKey("placements.id", ondelete="CASCADE"), index=True)
    months: Mapped[int] = mapped_column()
    employed: Mapped[bool] = mapped_column()
    note: Mapped[str] = mapped_column(sa.Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = created_at_column()

    def __repr__(self) -> str:
        return f"<FollowUp p={self.placement_id} {self.months}m employed={self.employed}>"
