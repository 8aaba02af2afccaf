"""Retention (PIPA Art. 21): a round's personal data goes once its retention date has passed.

Consents (with their notices), shortlist places and interview notes, and match outcomes with their
explanations are deleted. Offers and placements stay, without the trainee and without free-text
comments and notes, because the outcome figures (placement rate, acceptance, retention by
university, cohort, sector and city) are computed from them and name nobody.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from academy.audit.services import record
from academy.extensions import db
from academy.placements.models import (
    Consent,
    Evaluation,
    FollowUp,
    MatchOutcome,
    MatchRound,
    Offer,
    Placement,
    RoundStatus,
    ShortlistEntry,
)
from academy.util import utcnow


def purge_round(match_round: MatchRound) -> None:
    """Delete or anonymise the personal data of one round."""
    rid = match_round.id
    for model in (Consent, ShortlistEntry, MatchOutcome):
        db.session.execute(sa.delete(model).where(model.round_id == rid))
    placement_ids = sa.select(Placement.id).where(Placement.round_id == rid).scalar_subquery()
    db.session.execute(sa.update(Evaluation).where(Evaluation.placement_id.in_(placement_ids))
                       .values(comment="", recorded_by_id=None))
    db.session.execute(sa.update(FollowUp).where(FollowUp.placement_id.in_(placement_ids))
                       .values(note="", recorded_by_id=None))
    db.session.execute(sa.update(Placement).where(Placement.round_id == rid).values(student_id=None))
    db.session.execute(sa.update(Offer).where(Offer.round_id == rid).values(student_id=None, made_by_id=None))
    match_round.status, match_round.purged_at = RoundStatus.CLOSED, utcnow()
    record("round.purged", obj=match_round, actor_id=None, detail={"retention_until": match_round.retention_until})


def purge_expired(today: date | None = None) -> list[int]:
    """Purge every round whose retention date is before `today`; return their ids."""
    today = today or date.today()
    rounds = list(db.session.scalars(sa.select(MatchRound).where(
        MatchRound.retention_until < today, MatchRound.purged_at.is_(None))))
    for match_round in rounds:
        purge_round(match_round)
    db.session.flush()
    db.session.expire_all()  # loaded offers and placements must show the bulk updates
    return [r.id for r in rounds]
