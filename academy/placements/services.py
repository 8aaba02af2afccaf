"""Talent pipeline services: the domain errors shared by its modules, and a trainee's data export.

The work itself lives in one module per concern: `profiles` (competency levels from grades),
`consent` (opt-in, ranking, withdrawal, company access), `rounds` (shortlists and the match round),
`offers` (offers, placements, evaluations, follow-ups) and `retention` (purging expired rounds).
Each function changes the session and leaves the commit to the caller.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from academy.auth.models import User
from academy.extensions import db


class PlacementError(ValueError):
    """A step of the talent pipeline that breaks a rule; the message is shown to the user."""


class NoOpenRound(PlacementError):
    pass


class ConsentMissing(PlacementError):
    pass


class RoundStateError(PlacementError):
    pass


class NotInRound(PlacementError):
    """A demand that takes no part in the match round it is named with."""


class OfferClosed(PlacementError):
    pass


class OfferExpired(OfferClosed):
    """The offer's deadline has passed: it is marked expired, and that change stays although the answer is refused."""

    keeps_changes = True


class DemandFull(PlacementError):
    pass


class AlreadyPlaced(PlacementError):
    pass


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def export_student_data(user: User) -> dict[str, list[dict[str, Any]]]:
    """Return everything the talent pipeline holds about a trainee, section by section."""
    from academy.placements.models import Consent, MatchOutcome, Offer, Placement
    from academy.placements.profiles import competency_profile

    consents = db.session.scalars(sa.select(Consent).where(Consent.student_id == user.id).order_by(Consent.id))
    outcomes = db.session.scalars(sa.select(MatchOutcome).where(MatchOutcome.student_id == user.id))
    offers = db.session.scalars(sa.select(Offer).where(Offer.student_id == user.id).order_by(Offer.id))
    placements = list(db.session.scalars(sa.select(Placement).where(Placement.student_id == user.id)))
    profile = competency_profile(user.id)
    return {
        "competencies": [
            {"skill": s.code, "level": s.level,
             "evidence": [f"{e.assignment} ({e.percent:.0f}%)" for e in s.evidence]}
            for s in profile
        ],
        "consents": [
            {"demand": c.demand.title, "company": c.demand.company.name, "given_at": _iso(c.given_at),
             "withdrawn_at": _iso(c.withdrawn_at), "choice_rank": c.choice_rank, "notice": c.notice}
            for c in consents
        ],
        "match_outcomes": [
            {"round": o.round_id, "demand": o.demand.title if o.demand else None, "choice": o.choice,
             "explanation": o.explanation_ko}
            for o in outcomes
        ],
        "offers": [
            {"demand": o.demand.title, "status": o.status, "made_at": _iso(o.made_at),
             "deadline_at": _iso(o.deadline_at), "responded_at": _iso(o.responded_at)}
            for o in offers
        ],
        "placements": [
            {"demand": p.demand.title, "status": p.status, "accepted_at": _iso(p.accepted_at),
             "started_at": _iso(p.started_at),
             "evaluations": [{"by": e.by, "rating": e.rating, "comment": e.comment} for e in p.evaluations],
             "follow_ups": [{"months": f.months, "employed": f.employed} for f in p.follow_ups]}
            for p in placements
        ],
    }
