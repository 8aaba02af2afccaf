"""Consent per recipient (PIPA Art. 17): trainees opt into one demand at a time, rank, and withdraw.

A company sees a trainee only while that trainee's consent for that company's demand is active.
Every look a recruiter takes is written to the audit log, and the trainee sees that log.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from academy.admissions.models import Enrollment, EnrollmentStatus
from academy.audit.models import AuditEntry
from academy.audit.services import record
from academy.auth.models import User
from academy.companies.models import Demand, DemandStatus, ReviewStatus
from academy.extensions import db
from academy.placements.models import Consent, MatchRound, Offer, OfferStatus, RoundStatus, ShortlistEntry
from academy.placements.offers import expire_offers
from academy.placements.services import ConsentMissing, NoOpenRound, PlacementError
from academy.util import utcnow

# What a company receives about a consenting trainee; the notice names exactly these.
SHARED_ITEMS_KO = "이름, 소속 대학·기수, 역량 프로필(기술별 수준과 그 근거인 채점된 과제·점수), 프로젝트·포트폴리오 링크"
SHARED_ITEMS_EN = ("name, university and cohort, competency profile (level per skill and the graded work and "
                   "scores behind it), projects and portfolio links")


def current_round(trainee: User, statuses: tuple[str, ...] = (RoundStatus.OPEN,)) -> MatchRound | None:
    """Return the latest round of the trainee's active cohort in one of the given states."""
    return db.session.scalar(
        sa.select(MatchRound)
        .join(Enrollment, Enrollment.cohort_id == MatchRound.cohort_id)
        .where(Enrollment.student_id == trainee.id, Enrollment.status == EnrollmentStatus.ACTIVE,
               MatchRound.status.in_(statuses), MatchRound.purged_at.is_(None))
        .order_by(MatchRound.id.desc())
        .limit(1)
    )


def consent_notice(demand: Demand, match_round: MatchRound) -> dict[str, str]:
    """Write the consent notice for one demand, in Korean and English (what the trainee agrees to)."""
    company, until = demand.company.name, match_round.retention_until.isoformat()
    ko = (
        f"받는 자: {company}\n"
        f"이용 목적: 수요 '{demand.title}'의 배치(인턴십·채용) 심사, 면접 및 제안\n"
        f"제공 항목: {SHARED_ITEMS_KO}\n"
        f"보유·이용 기간: 동의 철회 시 즉시 중단, 늦어도 {until}까지 (이후 삭제 또는 익명화)\n"
        "동의를 거부할 권리가 있으며, 거부하면 이 수요에 대해서만 심사·배치 대상이 되지 않습니다. "
        "교육 과정과 다른 수요에는 영향이 없습니다. 언제든지 철회할 수 있습니다."
    )
    en = (
        f"Recipient: {company}\n"
        f"Purpose: considering you for the placement '{demand.title}' (internship or hire), interviews and offers\n"
        f"Items shared: {SHARED_ITEMS_EN}\n"
        f"Kept: until you withdraw, at the latest until {until} (then deleted or anonymised)\n"
        "You may refuse. If you refuse, this company will not consider you for this demand only; your "
        "training and other demands are not affected. You can withdraw at any time."
    )
    return {"ko": ko, "en": en}


def _visible(demand: Demand) -> bool:
    return demand.status == DemandStatus.APPROVED and demand.company.status == ReviewStatus.APPROVED


def my_consents(trainee: User, match_round: MatchRound | None = None) -> list[Consent]:
    """List a trainee's consents (newest round first, ranked ones in their order)."""
    query = sa.select(Consent).where(Consent.student_id == trainee.id)
    if match_round is not None:
        query = query.where(Consent.round_id == match_round.id)
    return list(db.session.scalars(
        query.order_by(Consent.round_id.desc(), Consent.choice_rank.is_(None), Consent.choice_rank, Consent.id)
    ))


def _ranked(student_id: int, round_id: int) -> list[Consent]:
    return list(db.session.scalars(
        sa.select(Consent)
        .where(Consent.student_id == student_id, Consent.round_id == round_id, Consent.choice_rank.is_not(None))
        .order_by(Consent.choice_rank)
    ))


def _renumber(consents: list[Consent]) -> None:
    for i, c in enumerate(consents, start=1):
        c.choice_rank = i


def give_consent(trainee: User, demand: Demand, *, agreed: bool) -> Consent:
    """Opt a trainee into a demand with their consent; it goes to the end of their ranking."""
    if not agreed:
        raise ConsentMissing(_("Tick the box to consent, or leave the page to refuse."))
    match_round = current_round(trainee)
    if match_round is None:
        raise NoOpenRound(_("There is no open match round for your cohort."))
    if not _visible(demand):
        raise PlacementError(_("This demand is not open to trainees."))
    consent = db.session.scalar(sa.select(Consent).where(
        Consent.round_id == match_round.id, Consent.student_id == trainee.id, Consent.demand_id == demand.id))
    if consent is not None and consent.active:
        raise PlacementError(_("You already consented for this demand."))
    ranked = _ranked(trainee.id, match_round.id)
    notice = consent_notice(demand, match_round)
    if consent is None:
        consent = Consent(round_id=match_round.id, student_id=trainee.id, demand_id=demand.id)
        db.session.add(consent)
    consent.notice = f"{notice['ko']}\n\n{notice['en']}"
    consent.given_at, consent.withdrawn_at = utcnow(), None
    consent.choice_rank = len(ranked) + 1
    db.session.flush()
    record("consent.given", subject_user_id=trainee.id, obj=consent,
           detail={"demand": demand.id, "company": demand.company.name})
    return consent


def withdraw_consent(consent: Consent) -> Consent:
    """Withdraw a consent at once: the company loses access, the demand leaves the ranking."""
    if not consent.active:
        raise PlacementError(_("This consent was already withdrawn."))
    consent.withdrawn_at, consent.choice_rank = utcnow(), None
    db.session.flush()
    _renumber(_ranked(consent.student_id, consent.round_id))
    db.session.execute(sa.delete(ShortlistEntry).where(
        ShortlistEntry.round_id == consent.round_id, ShortlistEntry.demand_id == consent.demand_id,
        ShortlistEntry.student_id == consent.student_id))
    # An open offer cannot stand once the company may no longer see the trainee (one past its deadline ran out).
    expire_offers()
    for offer in db.session.scalars(sa.select(Offer).where(
            Offer.student_id == consent.student_id, Offer.demand_id == consent.demand_id,
            Offer.status == OfferStatus.OPEN)):
        offer.status, offer.responded_at = OfferStatus.DECLINED, utcnow()
    record("consent.withdrawn", subject_user_id=consent.student_id, obj=consent,
           detail={"demand": consent.demand_id})
    return consent


def move_choice(consent: Consent, step: int) -> None:
    """Move a demand up (step -1) or down (step +1) in the trainee's ranking."""
    if not consent.active or consent.match_round.status != RoundStatus.OPEN:
        raise PlacementError(_("Rankings can be changed only while the round is open."))
    ranked = _ranked(consent.student_id, consent.round_id)
    i = ranked.index(consent)
    j = min(max(i + step, 0), len(ranked) - 1)
    ranked[i], ranked[j] = ranked[j], ranked[i]
    for c in ranked:  # clear first: ranks are rewritten as a whole
        c.choice_rank = None
    db.session.flush()
    _renumber(ranked)
    record("consent.ranked", subject_user_id=consent.student_id, obj=consent, detail={"rank": j + 1})


def active_consent(student_id: int, demand: Demand) -> Consent | None:
    """Return the trainee's active consent for a demand, in a round whose data is still kept."""
    return db.session.scalar(
        sa.select(Consent).join(MatchRound)
        .where(Consent.student_id == student_id, Consent.demand_id == demand.id,
               Consent.withdrawn_at.is_(None), MatchRound.purged_at.is_(None))
        .order_by(Consent.round_id.desc()).limit(1)
    )


def check_company_access(recruiter: User, student_id: int, demand: Demand, what: str) -> Consent:
    """Let a recruiter of the demand's company see a trainee only with an active consent; log it."""
    # A company the office no longer approves loses access, as at Handshake-style career centres.
    own = recruiter.company_id == demand.company_id and demand.company.status == ReviewStatus.APPROVED
    consent = active_consent(student_id, demand) if own else None
    if consent is None:
        # A probe for an id nobody has is refused the same way, and logged with the id it tried: the
        # log's link to a person may only name an account that exists (a foreign key, on PostgreSQL).
        subject = student_id if db.session.get(User, student_id) is not None else None
        # Kept (academy.transactions): the refusal rolls the request back, its record stays.
        record("consent.missing", subject_user_id=subject, obj=demand,
               detail={"company": recruiter.company_id, "what": what, "student_id": student_id}, kept=True)
        record("access.denied", subject_user_id=subject, obj=demand, detail={"what": what, "student_id": student_id},
               kept=True)
        raise ConsentMissing(_("This trainee has not consented to share their data with your company."))
    record_company_view(recruiter, student_id, demand, what)
    return consent


def record_company_view(recruiter: User, student_id: int, demand: Demand, what: str) -> None:
    """Write the audit entry a trainee sees in their access log (kept, whatever the request answers)."""
    record("company.viewed_trainee", subject_user_id=student_id, obj=demand,
           detail={"company": demand.company.name, "demand": demand.title, "what": what,
                   "recruiter": recruiter.id}, kept=True)


def company_accesses(trainee: User) -> list[AuditEntry]:
    """List every access to the trainee's data by a company, newest first."""
    return list(db.session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.subject_user_id == trainee.id, AuditEntry.action == "company.viewed_trainee")
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    ))
