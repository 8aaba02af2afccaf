"""Shortlists and match rounds: recruiters rank consenting trainees, the office runs and publishes.

A demand's list for the match is its recruiter's submitted order; trainees the recruiter did not
place (for example, who consented after the list was submitted) follow by fit. A demand whose
recruiter submitted nothing ranks by fit alone. Equal fits are ordered by the round's lottery, drawn
from a seed stored on the round, so the office can replay the round and get the same result.
No result reaches anyone until the office has reviewed and published it.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from academy.admissions.models import Enrollment, EnrollmentStatus
from academy.audit.services import record
from academy.auth.models import User
from academy.companies.models import Demand, DemandSkill, DemandStatus
from academy.extensions import db
from academy.notifications import events
from academy.placements import explain, matching
from academy.placements.fit import Fit, fit
from academy.placements.models import (
    Consent,
    DemandFill,
    MatchOutcome,
    MatchRound,
    RoundDemand,
    RoundStatus,
    ShortlistEntry,
)
from academy.placements.profiles import SkillLevel, competency_profiles
from academy.placements.services import PlacementError, RoundStateError
from academy.skills.models import Skill
from academy.universities.models import Cohort
from academy.util import utcnow


@dataclass(slots=True)
class ShortlistLine:
    """One consenting trainee on a demand's shortlist, with fit, evidence and the recruiter's note."""

    trainee: User
    fit: Fit
    profile: dict[str, SkillLevel]
    position: int | None
    note: str


def open_round(cohort: Cohort, retention_until: date, by: User) -> MatchRound:
    """Open a match round for a cohort; only one round per cohort may be under way."""
    busy = db.session.scalar(sa.select(MatchRound.id).where(
        MatchRound.cohort_id == cohort.id,
        MatchRound.status.in_((RoundStatus.OPEN, RoundStatus.MATCHED))))
    if busy:
        raise RoundStateError(_("This cohort already has a round under way."))
    if retention_until <= date.today():
        raise PlacementError(_("The retention date must be in the future."))
    match_round = MatchRound(cohort_id=cohort.id, retention_until=retention_until, created_by_id=by.id)
    db.session.add(match_round)
    db.session.flush()
    record("round.opened", obj=match_round, detail={"cohort": cohort.id, "retention_until": retention_until})
    return match_round


def demand_fill(demand: Demand) -> DemandFill:
    """Return the demand's place counter, creating it at its headcount or following a changed headcount."""
    fill = db.session.get(DemandFill, demand.id)
    if fill is None:
        fill = DemandFill(demand_id=demand.id, capacity=demand.headcount, filled=0)
        db.session.add(fill)
        db.session.flush()
    elif fill.capacity != demand.headcount:
        # A company may change its headcount; places already taken are never taken back.
        db.session.execute(sa.update(DemandFill).where(DemandFill.demand_id == demand.id)
                           .values(capacity=sa.func.max(DemandFill.filled, demand.headcount)
                                   if db.engine.dialect.name == "sqlite"
                                   else sa.func.greatest(DemandFill.filled, demand.headcount))
                           .execution_options(synchronize_session=False))
        db.session.refresh(fill)
    return fill


@dataclass(frozen=True)
class Places:
    filled: int
    capacity: int


def places(demand: Demand) -> Places:
    """Say how many of the demand's places are taken, out of how many, without writing (for pages)."""
    fill = db.session.get(DemandFill, demand.id)
    filled = fill.filled if fill is not None else 0
    return Places(filled, max(filled, demand.headcount))


def _required(demand: Demand) -> dict[str, int]:
    """Return the demand's required skills by code with their minimum levels (one query)."""
    return dict(db.session.execute(sa.select(Skill.code, DemandSkill.min_level)
                                   .join(Skill, Skill.id == DemandSkill.skill_id)
                                   .where(DemandSkill.demand_id == demand.id)).tuples().all())


def _consenting(match_round: MatchRound, demand_id: int | None = None) -> list[Consent]:
    query = sa.select(Consent).where(Consent.round_id == match_round.id, Consent.withdrawn_at.is_(None)).options(
        joinedload(Consent.trainee))
    if demand_id is not None:
        query = query.where(Consent.demand_id == demand_id)
    return list(db.session.scalars(query.order_by(Consent.id)))


def shortlist(match_round: MatchRound, demand: Demand) -> list[ShortlistLine]:
    """List the demand's consenting trainees: the recruiter's order first, the rest by fit."""
    consents = _consenting(match_round, demand.id)
    ids = [c.student_id for c in consents]
    profiles = competency_profiles(ids)
    entries = {e.student_id: e for e in db.session.scalars(sa.select(ShortlistEntry).where(
        ShortlistEntry.round_id == match_round.id, ShortlistEntry.demand_id == demand.id))}
    required = _required(demand)
    lines = []
    for c in consents:
        prof = profiles.get(c.student_id, {})
        levels = {k: s.level for k, s in prof.items()}
        evidence = {k: tuple(s.evidence) for k, s in prof.items()}
        entry = entries.get(c.student_id)
        lines.append(ShortlistLine(c.trainee, fit(required, levels, evidence=evidence), prof,
                                   entry.position if entry else None, entry.note if entry else ""))
    big = len(lines) + 1
    lines.sort(key=lambda ln: (ln.position or big, -ln.fit.score, ln.trainee.id))
    return lines


def _round_demand(match_round: MatchRound, demand: Demand) -> RoundDemand:
    rd = db.session.get(RoundDemand, (match_round.id, demand.id))
    if rd is None:
        rd = RoundDemand(round_id=match_round.id, demand_id=demand.id)
        db.session.add(rd)
    return rd


def save_shortlist(match_round: MatchRound, demand: Demand, positions: dict[int, int],
                   notes: dict[int, str], *, submit: bool = False) -> None:
    """Store the recruiter's order and interview notes; with `submit`, it becomes the demand's rank list."""
    if match_round.status != RoundStatus.OPEN:
        raise RoundStateError(_("The round is no longer open: its rank lists are fixed."))
    consenting = {c.student_id for c in _consenting(match_round, demand.id)}
    unknown = (positions.keys() | notes.keys()) - consenting
    if unknown:
        raise PlacementError(_("Only trainees who consented for this demand can be ranked."))
    existing = {e.student_id: e for e in db.session.scalars(sa.select(ShortlistEntry).where(
        ShortlistEntry.round_id == match_round.id, ShortlistEntry.demand_id == demand.id))}
    # Equal numbers keep the previous order: sort by (number given, previous place).
    order = sorted(positions, key=lambda s: (positions[s], s))
    for place, sid in enumerate(order, start=1):
        entry = existing.get(sid)
        if entry is None:
            entry = ShortlistEntry(round_id=match_round.id, demand_id=demand.id, student_id=sid, position=place)
            db.session.add(entry)
        entry.position = place
        if sid in notes:
            entry.note = notes[sid].strip()
    rd = _round_demand(match_round, demand)
    if submit:
        rd.submitted_at = utcnow()
        for sid in order:  # every one of them consented for this demand (checked above)
            events.shortlisted(db.session.get(User, sid), demand, match_round.id)
    record("shortlist.submitted" if submit else "shortlist.saved", obj=demand,
           detail={"round": match_round.id, "order": order})


def _inputs(match_round: MatchRound) -> tuple[dict, dict, dict, dict[int, Demand]]:
    """Gather the round's rank lists and capacities as plain data for the matching core."""
    consents = _consenting(match_round)
    demands = {c.demand_id: c.demand for c in consents}
    profiles = competency_profiles({c.student_id for c in consents})
    scores: dict[int, dict[int, float]] = {d: {} for d in demands}
    required = {d: _required(demand) for d, demand in demands.items()}
    for c in consents:
        levels = {k: s.level for k, s in profiles.get(c.student_id, {}).items()}
        scores[c.demand_id][c.student_id] = fit(required[c.demand_id], levels).score
    demand_prefs = matching.break_ties(scores, match_round.seed or 0)
    for rd in db.session.scalars(sa.select(RoundDemand).where(
            RoundDemand.round_id == match_round.id, RoundDemand.submitted_at.is_not(None))):
        if rd.demand_id in demand_prefs:
            places = dict(db.session.execute(sa.select(ShortlistEntry.student_id, ShortlistEntry.position).where(
                ShortlistEntry.round_id == match_round.id, ShortlistEntry.demand_id == rd.demand_id)).all())
            lottery = {s: i for i, s in enumerate(demand_prefs[rd.demand_id])}
            demand_prefs[rd.demand_id].sort(key=lambda s: (places.get(s, len(lottery) + 1), lottery[s]))
    participants = db.session.scalars(sa.select(Enrollment.student_id).where(
        Enrollment.cohort_id == match_round.cohort_id, Enrollment.status == EnrollmentStatus.ACTIVE)).all()
    student_prefs: dict[int, list[int]] = {s: [] for s in participants}
    for c in sorted((c for c in consents if c.choice_rank is not None), key=lambda c: c.choice_rank):
        student_prefs.setdefault(c.student_id, []).append(c.demand_id)
    capacities = {}
    for d, demand in demands.items():
        fill = demand_fill(demand)
        capacities[d] = max(fill.capacity - fill.filled, 0)
    return student_prefs, demand_prefs, capacities, demands


def run_round(match_round: MatchRound, by: User, seed: int | None = None) -> matching.MatchResult:
    """Run the match for an open round (or rerun a matched one) and store the result for review."""
    if match_round.status not in (RoundStatus.OPEN, RoundStatus.MATCHED):
        raise RoundStateError(_("Only an open or matched round can be run."))
    match_round.seed = seed if seed is not None else secrets.randbelow(2**31)
    student_prefs, demand_prefs, capacities, demands = _inputs(match_round)
    result = matching.match(student_prefs, demand_prefs, capacities, seed=match_round.seed)
    db.session.execute(sa.delete(MatchOutcome).where(MatchOutcome.round_id == match_round.id))
    names = {d: demand.title for d, demand in demands.items()}
    for sid, demand_id in result.assignment.items():
        explanation = result.explanations[sid]
        db.session.add(MatchOutcome(
            round_id=match_round.id, student_id=sid, demand_id=demand_id, choice=explanation.choice,
            explanation_ko=explain.render(explanation, "ko", names),
            explanation_en=explain.render(explanation, "en", names)))
    for d, cap in capacities.items():
        _round_demand(match_round, demands[d]).capacity = cap
    match_round.status, match_round.matched_at = RoundStatus.MATCHED, utcnow()
    match_round.participants = len(student_prefs)
    record("round.matched", obj=match_round, actor_id=by.id,
           detail={"seed": match_round.seed, "placed": sum(v is not None for v in result.assignment.values())})
    return result


def publish_round(match_round: MatchRound, by: User) -> MatchRound:
    """Publish a reviewed result to trainees and recruiters, so offers can be made."""
    if match_round.status != RoundStatus.MATCHED:
        raise RoundStateError(_("Only a matched round can be published."))
    match_round.status, match_round.published_at = RoundStatus.PUBLISHED, utcnow()
    record("round.published", obj=match_round, actor_id=by.id)
    return match_round


def outcomes(match_round: MatchRound, demand_id: int | None = None) -> list[MatchOutcome]:
    query = sa.select(MatchOutcome).where(MatchOutcome.round_id == match_round.id).options(
        joinedload(MatchOutcome.trainee), joinedload(MatchOutcome.demand))
    if demand_id is not None:
        query = query.where(MatchOutcome.demand_id == demand_id)
    return list(db.session.scalars(query.order_by(MatchOutcome.demand_id, MatchOutcome.choice, MatchOutcome.id)))


def published_results_of(trainee: User) -> list[MatchOutcome]:
    """List the trainee's match results in rounds the office has published, newest round first."""
    return list(db.session.scalars(
        sa.select(MatchOutcome).join(MatchRound, MatchRound.id == MatchOutcome.round_id)
        .where(MatchOutcome.student_id == trainee.id,
               MatchRound.status.in_((RoundStatus.PUBLISHED, RoundStatus.CLOSED)))
        .order_by(MatchOutcome.round_id.desc())))


def rounds_by_demand(demand_ids: list[int]) -> dict[int, list[MatchRound]]:
    """Map each demand to the unpurged rounds in which trainees opted into it."""
    rows = db.session.execute(
        sa.select(Consent.demand_id, MatchRound).join(MatchRound, MatchRound.id == Consent.round_id)
        .where(Consent.demand_id.in_(demand_ids), MatchRound.purged_at.is_(None)).distinct()).all()
    by_demand: dict[int, list[MatchRound]] = {}
    for demand_id, match_round in rows:
        by_demand.setdefault(demand_id, []).append(match_round)
    return by_demand


def fills_of(demand_ids: list[int]) -> dict[int, DemandFill]:
    """Map each demand that has a place counter to it."""
    return {f.demand_id: f for f in db.session.scalars(sa.select(DemandFill).where(DemandFill.demand_id.in_(demand_ids)))}


def all_rounds() -> list[MatchRound]:
    """List every match round, newest first, with its cohort and university (one query, not two per round)."""
    return list(db.session.scalars(sa.select(MatchRound).options(
        joinedload(MatchRound.cohort).joinedload(Cohort.university)).order_by(MatchRound.id.desc())))


def matchable_demands_query() -> sa.Select:
    """Return a select of (demand, its place counter) for approved and closed demands, companies loaded with them."""
    return (sa.select(Demand, DemandFill).outerjoin(DemandFill, DemandFill.demand_id == Demand.id)
            .options(joinedload(Demand.company))
            .where(Demand.status.in_((DemandStatus.APPROVED, DemandStatus.CLOSED))))


def count_active_consents(match_round: MatchRound) -> int:
    """Count the consents that stand in the round (not withdrawn)."""
    return db.session.scalar(sa.select(sa.func.count()).where(
        Consent.round_id == match_round.id, Consent.withdrawn_at.is_(None))) or 0


def round_demands(match_round: MatchRound) -> list[RoundDemand]:
    """List the demands taking part in the round, with their rank lists' state."""
    return list(db.session.scalars(sa.select(RoundDemand).where(RoundDemand.round_id == match_round.id)
                                   .options(joinedload(RoundDemand.demand).joinedload(Demand.company))))
