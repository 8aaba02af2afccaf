"""Demo data for the talent pipeline: a round per 2027 cohort, consents and rankings, one published round."""
from __future__ import annotations

import random
from datetime import date, timedelta

import sqlalchemy as sa

from academy.admissions.models import Enrollment, EnrollmentStatus
from academy.auth.models import User
from academy.companies.models import Demand
from academy.companies.services import visible_demands
from academy.extensions import db
from academy.placements import consent, offers, rounds
from academy.placements.models import MatchOutcome, Placement
from academy.universities.models import Cohort
from academy.util import utcnow

OPTED_IN_PER_COHORT = 12
CHOICES = 3


def seed_placements(seed: int = 2027) -> dict[str, int]:
    """Open a round for every cohort, opt trainees in, and run, publish and place in the first one.

    Call after trainees, grades, companies and demands exist. The first trainee of the first cohort
    opts into the first demand, is offered it, accepts, starts and has a 3-month follow-up, so the
    trainee, recruiter and office pages all have content.
    """
    rng = random.Random(seed)
    admin = db.session.scalar(sa.select(User).where(User.role == "admin").order_by(User.id))
    demands = list(db.session.scalars(visible_demands().order_by(Demand.id)))
    cohorts = list(db.session.scalars(sa.select(Cohort).order_by(Cohort.id)))
    if admin is None or not demands or not cohorts:
        return {"rounds": 0, "consents": 0, "placements": 0}
    keep_until = max(date(2028, 12, 31), date.today() + timedelta(days=365))
    created = {"rounds": 0, "consents": 0, "placements": 0}
    first_round = None
    for cohort in cohorts:
        match_round = rounds.open_round(cohort, keep_until, admin)
        first_round = first_round or match_round
        created["rounds"] += 1
        trainees = list(db.session.scalars(
            sa.select(User).join(Enrollment, Enrollment.student_id == User.id)
            .where(Enrollment.cohort_id == cohort.id, Enrollment.status == EnrollmentStatus.ACTIVE)
            .order_by(User.id).limit(OPTED_IN_PER_COHORT)))
        for i, trainee in enumerate(trainees):
            picks = rng.sample(demands[1:15], CHOICES - 1)
            choices = [demands[0], *picks] if (i % 3 == 0) else rng.sample(demands[:15], CHOICES)
            for demand in choices:
                consent.give_consent(trainee, demand, agreed=True)
                created["consents"] += 1
    db.session.flush()
    _run_first_round(first_round, demands[0], admin, seed)
    created["placements"] = db.session.scalar(sa.select(sa.func.count()).select_from(Placement)) or 0
    return created


def _run_first_round(match_round, demand: Demand, admin: User, seed: int) -> None:
    """Submit the first demand's list, run and publish the round, then offer, accept and follow up."""
    lines = rounds.shortlist(match_round, demand)
    rounds.save_shortlist(match_round, demand, {ln.trainee.id: i for i, ln in enumerate(lines, start=1)},
                          {lines[0].trainee.id: "1차 면접 완료: 예지보전 프로젝트 경험 우수"} if lines else {},
                          submit=True)
    rounds.run_round(match_round, admin, seed)
    rounds.publish_round(match_round, admin)
    deadline = utcnow() + timedelta(days=14)
    matched = db.session.scalars(sa.select(MatchOutcome).where(
        MatchOutcome.round_id == match_round.id, MatchOutcome.demand_id.is_not(None))
        .order_by(MatchOutcome.id)).all()
    if not matched:
        return
    # A trainee matched to the first demand (so its recruiter sees a placement) accepts and starts.
    first = next((o for o in matched if o.demand_id == demand.id), matched[0])
    offered = {}
    for outcome in dict.fromkeys([first, *matched[:6]]):
        recruiter = _recruiter_of(outcome.demand) or admin
        offered[outcome.id] = offers.make_offer(match_round, outcome.demand, outcome.student_id, deadline, recruiter)
    offer = offered[first.id]
    offers.respond_to_offer(offer, first.trainee, accept=True)
    db.session.flush()
    placement = db.session.scalar(sa.select(Placement).where(Placement.offer_id == offer.id))
    offers.confirm_start(placement, first.trainee)
    offers.evaluate(placement, "supervisor", 4, "데이터 전처리와 보고가 성실함",
                    _recruiter_of(first.demand) or admin)
    offers.record_follow_up(placement, 3, True, "", admin)


def _recruiter_of(demand: Demand) -> User | None:
    return db.session.scalar(sa.select(User).where(User.company_id == demand.company_id).order_by(User.id))
