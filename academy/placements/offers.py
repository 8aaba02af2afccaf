"""Offers and placements: recruiters offer after a published round, trainees accept or decline.

A place is taken only when an offer is accepted, by one conditional UPDATE of the demand's counter
(`filled < capacity`), so a declined or expired offer never holds a place, and the CHECK on the
counter and the partial unique index on live placements keep the database right even when many
trainees accept at the same moment.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import gettext as _

from academy.audit.services import record
from academy.auth.models import User
from academy.companies.models import Demand
from academy.extensions import db
from academy.notifications import events
from academy.placements.models import (
    FOLLOW_UP_MONTHS,
    DemandFill,
    Evaluation,
    EvaluationBy,
    FollowUp,
    Consent,
    MatchRound,
    Offer,
    OfferStatus,
    Placement,
    PlacementStatus,
    RoundDemand,
    RoundStatus,
)
from academy.placements.rounds import demand_fill
from academy.placements.services import (
    AlreadyPlaced,
    ConsentMissing,
    DemandFull,
    NotInRound,
    OfferClosed,
    OfferExpired,
    PlacementError,
)
from academy.policy import Role
from academy.util import utcnow

# Offer deadlines are days in the academy's zone: an offer answered "by 12 March" may be answered until the end of
# that day in Seoul.
ACADEMY_ZONE = ZoneInfo("Asia/Seoul")


def deadline_at_end_of(day: date) -> datetime:
    """Return the instant (UTC) an offer due on this day closes: 23:59:59 that day, Seoul time."""
    return datetime.combine(day, time(23, 59, 59), ACADEMY_ZONE).astimezone(UTC)


def _refuse_offer(match_round: MatchRound, demand: Demand, student_id: int, by: User, reason: str) -> None:
    """Write the audit entries of a refused offer, as a refused look at a trainee is written."""
    # Only an existing account may be the entry's subject (a foreign key); the tried id stays in the detail.
    subject = student_id if db.session.get(User, student_id) is not None else None
    detail = {"what": "offer", "round": match_round.id, "student_id": student_id, "reason": reason}
    if reason == "consent_missing":
        record("consent.missing", subject_user_id=subject, obj=demand, detail={"company": by.company_id, **detail},
               kept=True)
    record("access.denied", subject_user_id=subject, obj=demand, detail=detail, kept=True)


def check_offer_allowed(match_round: MatchRound, demand: Demand, student_id: int, by: User) -> None:
    """Refuse an offer unless the trainee consented, in this round, for this demand of the offerer's company.

    A consent is given for one demand in one round; one given in another round, or withdrawn, does
    not let the company approach the trainee in this one. The office may offer for any company.
    """
    in_round = db.session.get(RoundDemand, (match_round.id, demand.id)) is not None
    foreign = by.role != Role.ADMIN and by.company_id != demand.company_id  # the office offers for any company
    if foreign or not in_round:
        _refuse_offer(match_round, demand, student_id, by, "demand_not_in_round")
        raise NotInRound(_("This demand takes no part in this match round: offers for it cannot be made here."))
    consent = None if match_round.purged_at is not None else db.session.scalar(sa.select(Consent.id).where(
        Consent.round_id == match_round.id, Consent.demand_id == demand.id, Consent.student_id == student_id,
        Consent.withdrawn_at.is_(None)))
    if consent is None:
        _refuse_offer(match_round, demand, student_id, by, "consent_missing")
        raise ConsentMissing(_("This trainee has not consented in this match round to share their data with "
                               "your company for this demand."))


def make_offer(match_round: MatchRound, demand: Demand, student_id: int, deadline_at: datetime, by: User) -> Offer:
    """Offer a place to a trainee who consented for the demand in this round, to be answered before the deadline."""
    check_offer_allowed(match_round, demand, student_id, by)
    expire_offers()  # an offer past its deadline no longer stands in the way of a new one
    if match_round.status != RoundStatus.PUBLISHED:
        raise PlacementError(_("Offers can be made once the office has published the round."))
    if deadline_at <= utcnow():
        raise PlacementError(_("The response deadline must be in the future."))
    pending = db.session.scalar(sa.select(Offer.id).where(
        Offer.demand_id == demand.id, Offer.student_id == student_id,
        Offer.status.in_((OfferStatus.OPEN, OfferStatus.ACCEPTED))))
    if pending:
        raise PlacementError(_("This trainee already has an offer for this demand."))
    fill = demand_fill(demand)
    if fill.filled >= fill.capacity:
        raise DemandFull(_("Every place of this demand is filled."))
    offer = Offer(round_id=match_round.id, demand_id=demand.id, student_id=student_id,
                  deadline_at=deadline_at, made_by_id=by.id)
    db.session.add(offer)
    db.session.flush()
    record("offer.made", subject_user_id=student_id, obj=offer, detail={"deadline": deadline_at})
    events.offer_made(db.session.get(User, student_id), demand, offer.id, deadline_at)
    return offer


def expire_offers(now: datetime | None = None) -> int:
    """Mark open offers past their deadline as expired (their places stay free); return how many."""
    now = now or utcnow()
    expired = list(db.session.scalars(sa.select(Offer).where(
        Offer.status == OfferStatus.OPEN, Offer.deadline_at < now)))
    for offer in expired:
        offer.status, offer.responded_at = OfferStatus.EXPIRED, now
        record("offer.expired", subject_user_id=offer.student_id, obj=offer, actor_id=None)
    return len(expired)


def _take_place(demand_id: int) -> bool:
    taken = db.session.execute(
        sa.update(DemandFill)
        .where(DemandFill.demand_id == demand_id, DemandFill.filled < DemandFill.capacity)
        .values(filled=DemandFill.filled + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    return taken == 1


def respond_to_offer(offer: Offer, trainee: User, *, accept: bool, now: datetime | None = None) -> Offer:
    """Accept or decline an open offer before its deadline; accepting takes one of the demand's places."""
    now = now or utcnow()
    if offer.student_id != trainee.id:
        raise PlacementError(_("This offer is not yours."))
    if offer.status == OfferStatus.OPEN and offer.deadline_at < now:
        offer.status, offer.responded_at = OfferStatus.EXPIRED, now
        record("offer.expired", subject_user_id=trainee.id, obj=offer)
        raise OfferExpired(_("The deadline of this offer has passed."))
    if offer.status != OfferStatus.OPEN:
        raise OfferClosed(_("This offer was already answered or has expired."))
    expire_offers(now)  # the trainee's other offers past their deadline ran out; accepting does not decline them
    if not accept:
        offer.status, offer.responded_at = OfferStatus.DECLINED, now
        record("offer.declined", subject_user_id=trainee.id, obj=offer)
        events.offer_answered(offer.demand, offer.id, trainee.name, accepted=False)
        return offer
    demand_fill(offer.demand)
    try:
        with db.session.begin_nested():
            if not _take_place(offer.demand_id):
                raise DemandFull(_("Sorry: every place of this demand was taken before you accepted."))
            db.session.add(Placement(offer_id=offer.id, round_id=offer.round_id, demand_id=offer.demand_id,
                                     student_id=trainee.id, accepted_at=now))
            db.session.flush()
    except sa.exc.IntegrityError as exc:
        raise AlreadyPlaced(_("You already accepted another placement.")) from exc
    offer.status, offer.responded_at = OfferStatus.ACCEPTED, now
    # One placement per trainee: their other open offers are answered for them.
    for other in db.session.scalars(sa.select(Offer).where(
            Offer.student_id == trainee.id, Offer.status == OfferStatus.OPEN, Offer.id != offer.id)):
        other.status, other.responded_at = OfferStatus.DECLINED, now
        events.offer_answered(other.demand, other.id, trainee.name, accepted=False)
    record("offer.accepted", subject_user_id=trainee.id, obj=offer)
    events.offer_answered(offer.demand, offer.id, trainee.name, accepted=True)
    return offer


def confirm_start(placement: Placement, by: User) -> Placement:
    """Confirm that the trainee has started at the company."""
    if placement.status != PlacementStatus.ACCEPTED:
        raise PlacementError(_("This placement has already started."))
    placement.status, placement.started_at = PlacementStatus.STARTED, utcnow()
    record("placement.started", subject_user_id=placement.student_id, obj=placement)
    return placement


def evaluate(placement: Placement, by_kind: str, rating: int, comment: str, by: User) -> Evaluation:
    """Record (or replace) the supervisor's or the trainee's evaluation of a started placement."""
    if by_kind not in set(EvaluationBy) or not 1 <= rating <= 5:
        raise PlacementError(_("Give a rating from 1 to 5."))
    if placement.status == PlacementStatus.ACCEPTED:
        raise PlacementError(_("A placement can be evaluated once it has started."))
    evaluation = next((e for e in placement.evaluations if e.by == by_kind), None)
    if evaluation is None:
        evaluation = Evaluation(by=by_kind, rating=rating)
        placement.evaluations.append(evaluation)
    evaluation.rating, evaluation.comment, evaluation.recorded_by_id = rating, comment.strip(), by.id
    db.session.flush()
    record("placement.evaluated", subject_user_id=placement.student_id, obj=placement,
           detail={"by": by_kind, "rating": rating})
    return evaluation


def record_follow_up(placement: Placement, months: int, employed: bool, note: str, by: User) -> FollowUp:
    """Record whether the trainee is still employed 3, 6 or 12 months after the start."""
    if months not in FOLLOW_UP_MONTHS:
        raise PlacementError(_("Follow-ups are at 3, 6 and 12 months."))
    if placement.started_at is None:
        raise PlacementError(_("Follow-ups start once the placement has started."))
    follow_up = next((f for f in placement.follow_ups if f.months == months), None)
    if follow_up is None:
        follow_up = FollowUp(months=months, employed=employed)
        placement.follow_ups.append(follow_up)
    follow_up.employed, follow_up.note, follow_up.recorded_by_id = employed, note.strip(), by.id
    if not employed:
        placement.status = PlacementStatus.ENDED
    db.session.flush()
    record("placement.follow_up", subject_user_id=placement.student_id, obj=placement,
           detail={"months": months, "employed": employed})
    return follow_up


def offers_to(trainee: User) -> list[Offer]:
    """List the offers made to the trainee, newest first."""
    return list(db.session.scalars(sa.select(Offer).where(Offer.student_id == trainee.id).order_by(Offer.id.desc())))


def offers_for(match_round: MatchRound, demand: Demand) -> list[Offer]:
    """List the offers made for the demand in the round."""
    return list(db.session.scalars(sa.select(Offer).where(Offer.demand_id == demand.id,
                                                          Offer.round_id == match_round.id)))


def placements_of(trainee: User) -> list[Placement]:
    """List the trainee's placements."""
    return list(db.session.scalars(sa.select(Placement).where(Placement.student_id == trainee.id)))


def placements_at(demand_ids: list[int]) -> list[Placement]:
    """List the placements on these demands."""
    return list(db.session.scalars(sa.select(Placement).where(Placement.demand_id.in_(demand_ids))))
