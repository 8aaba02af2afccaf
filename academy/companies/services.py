"""Companies and their demands: registration, profile, review by the academy office, demand status.

A demand moves draft -> submitted -> approved | rejected, and to closed from any open state.
Editing an approved demand sends it back to submitted, so the office sees every change a trainee
will see. Only demands of approved companies can be approved.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, selectinload
from flask_babel import gettext as _

from academy.audit.services import record
from academy.auth import services as accounts
from academy.auth.models import User
from academy.companies.models import (
    CITIES,
    Company,
    CompanySize,
    Demand,
    DemandKind,
    DemandSkill,
    DemandStatus,
    ReviewStatus,
    Sector,
)
from academy.extensions import db
from academy.notifications import events
from academy.policy import Role
from academy.skills.models import LEVELS, Skill
from academy.skills.services import SkillRetired, refuse_retired
from academy.util import utcnow
from academy.validators import looks_like_rrn


class CompanyError(ValueError):
    """A change to a company or demand that breaks a rule; the message is shown to the user."""


class ReasonRequired(CompanyError):
    pass


class CompanyNotApproved(CompanyError):
    pass


class InvalidDemandTransition(CompanyError):
    pass


class DemandNeedsSkill(CompanyError):
    pass


class UnfairQuestion(CompanyError):
    pass


# The Fair Hiring Procedure Act (채용절차의 공정화에 관한 법률, Art. 4-3) forbids asking applicants
# for their appearance, height, weight, place of origin, marital status, property or family details.
# Demand texts that ask for them are refused; the phrases are specific enough not to catch
# ordinary technical wording ("model weights", "appearance inspection", "wave height").
_UNFAIR = re.compile(
    r"용모|외모|체중|몸무게|키\s*\d{2,3}\s*cm|신장\s*\d{2,3}|출신\s*지역|출신지|본적지|혼인\s*여부|결혼\s*여부|"
    r"기혼|미혼|가족\s*관계|부모(님)?\s*(의\s*)?(직업|학력|재산)|형제\s*자매|재산\s*(상황|정도)|"
    r"\b((applicant|candidate|personal|physical)('?s)? (appearance|height|weight)|your (appearance|height|weight)|"
    r"good[- ]looking|height and weight|body weight|place of origin|home ?town|marital status|married|"
    r"family (background|details)|parents'? (jobs?|occupations?|education|assets)|siblings)\b",
    re.IGNORECASE,
)


def asks_for_personal_details(text: str | None) -> bool:
    """Return True when a demand text asks for details the Fair Hiring Procedure Act forbids."""
    return bool(text) and bool(_UNFAIR.search(text))


# --- companies -----------------------------------------------------------------------------


def _check_profile(sector: str, city: str, size: str, description: str, website: str) -> None:
    if sector not in set(Sector) or city not in CITIES or size not in set(CompanySize):
        raise CompanyError(_("Choose a sector, a city or county of Gyeongsangnam-do and a size."))
    if website and not re.match(r"^https?://[^\s/$.?#][^\s]*$", website):
        raise CompanyError(_("The website must start with http:// or https://."))
    if looks_like_rrn(description):
        raise CompanyError(_("Resident registration numbers are never stored."))


def register_company(
    *, name: str, sector: str, city: str, size: str, description: str = "", website: str = "",
    recruiter_name: str, recruiter_email: str, password: str,
) -> tuple[Company, User] | None:
    """Register a company with its first recruiter; the company waits for the office's approval.

    When the recruiter's address already has an account nothing is registered and None comes back:
    the caller answers as for a registration, so the form cannot tell who has an account.
    """
    name = name.strip()
    _check_profile(sector, city, size, description, website.strip())
    if db.session.scalar(sa.select(Company.id).where(sa.func.lower(Company.name) == name.lower())):
        raise CompanyError(_("A company named %(name)s is already registered.", name=name))
    if problem := accounts.signup_problem(recruiter_email, recruiter_name, password):
        raise CompanyError(problem)
    if existing := accounts.get_user_by_email(recruiter_email):
        accounts.withhold_signup(existing, password, Role.RECRUITER)
        return None
    company = Company(name=name, sector=sector, city=city, size=size, description=description.strip(),
                      website=website.strip(), status=ReviewStatus.PENDING)
    db.session.add(company)
    try:
        db.session.flush()
    except sa.exc.IntegrityError as exc:  # registered by a concurrent request
        raise CompanyError(_("A company named %(name)s is already registered.", name=name)) from exc
    try:
        recruiter = accounts.create_user(recruiter_email, recruiter_name, Role.RECRUITER, password,
                                         company_id=company.id)
    except accounts.AccountError as exc:
        raise CompanyError(str(exc)) from exc
    record("company.registered", obj=company, actor_id=recruiter.id, detail={"name": name})
    return company, recruiter


def update_company_profile(
    company: Company, *, sector: str, city: str, size: str, description: str, website: str
) -> Company:
    """Change what a company says about itself (its name and status stay the office's)."""
    website = website.strip()
    _check_profile(sector, city, size, description, website)
    before = {"sector": company.sector, "city": company.city, "size": company.size, "website": company.website}
    company.sector, company.city, company.size = sector, city, size
    company.description, company.website = description.strip(), website
    record("company.updated", obj=company, detail={"before": before})
    return company


def review_company(company: Company, *, approve: bool, reason: str | None, by: User) -> Company:
    """Approve or reject a company; a rejection needs a reason, which the company sees."""
    reason = (reason or "").strip() or None
    if not approve and not reason:
        raise ReasonRequired(_("Give the company a reason for the rejection."))
    before = company.status
    company.status = ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED
    company.review_reason = reason
    company.reviewed_by_id = by.id
    company.reviewed_at = utcnow()
    withdrawn: list[int] = []
    if not approve:
        # Trainees must not see demands of a company the office no longer vouches for:
        # its approved demands wait for the office again.
        for demand in company.demands:
            if demand.status == DemandStatus.APPROVED:
                demand.status = DemandStatus.SUBMITTED
                withdrawn.append(demand.id)
    record(f"company.{company.status}", obj=company,
           detail={"from": before, "reason": reason, "demands_back_to_review": withdrawn})
    events.company_reviewed(company)
    return company


# --- demands -------------------------------------------------------------------------------

OPEN_STATUSES = (DemandStatus.DRAFT, DemandStatus.SUBMITTED, DemandStatus.APPROVED, DemandStatus.REJECTED)


@dataclass
class DemandInput:
    """What a recruiter fills in for a demand."""

    title: str
    kind: str
    headcount: int
    start_date: date
    duration_months: int
    work_city: str
    skills: dict[int, int]  # skill id -> minimum level
    description: str = ""
    work_address: str = ""
    stipend_krw: int = 0


def _check_demand(data: DemandInput, *, start_changed: bool) -> None:
    if not data.title.strip():
        raise CompanyError(_("A demand needs a title."))
    if data.kind not in set(DemandKind):
        raise CompanyError(_("Choose a project internship or a hire."))
    if not 1 <= data.headcount <= 100:
        raise CompanyError(_("The headcount must be between 1 and 100."))
    if not 1 <= data.duration_months <= 60:
        raise CompanyError(_("The duration must be between 1 and 60 months."))
    if data.stipend_krw < 0:
        raise CompanyError(_("The stipend cannot be negative."))
    if data.work_city not in CITIES:
        raise CompanyError(_("Choose a city or county of Gyeongsangnam-do."))
    if start_changed and data.start_date < datetime.now(ZoneInfo("Asia/Seoul")).date():
        raise CompanyError(_("The start date cannot be in the past."))
    if not data.skills:
        raise DemandNeedsSkill(_("Choose at least one required skill with a minimum level."))
    if any(level not in LEVELS for level in data.skills.values()):
        raise CompanyError(_("Skill levels go from 1 to 5."))
    known = set(db.session.scalars(sa.select(Skill.id).where(Skill.id.in_(list(data.skills)))))
    if known != set(data.skills):
        raise CompanyError(_("Choose skills from the catalogue."))
    texts = (data.title, data.description, data.work_address)
    if any(asks_for_personal_details(t) for t in texts):
        raise UnfairQuestion(_("Do not ask for appearance, height, weight, place of origin, marital status "
                               "or family details: the Fair Hiring Procedure Act forbids it."))
    if any(looks_like_rrn(t) for t in texts):
        raise CompanyError(_("Resident registration numbers are never stored."))


def _apply(demand: Demand, data: DemandInput) -> None:
    demand.title = data.title.strip()
    demand.kind = data.kind
    demand.description = data.description.strip()
    demand.headcount = data.headcount
    demand.start_date = data.start_date
    demand.duration_months = data.duration_months
    demand.work_city = data.work_city
    demand.work_address = data.work_address.strip()
    demand.stipend_krw = data.stipend_krw
    current = {s.skill_id: s for s in demand.skills}
    for skill_id, level in data.skills.items():
        if skill_id in current:
            current[skill_id].min_level = level
        else:
            demand.skills.append(DemandSkill(skill_id=skill_id, min_level=level))
    for skill_id, row in current.items():
        if skill_id not in data.skills:
            demand.skills.remove(row)


def _check_company_may_post(company: Company) -> None:
    if company.status == ReviewStatus.REJECTED:
        raise CompanyNotApproved(_("Your company was not approved, so it cannot post demands."))


def _refuse_retired_skills(chosen, had) -> None:
    """A retired skill is not offered for a new requirement; one the demand already has may stay."""
    try:
        refuse_retired(chosen, had)
    except SkillRetired as exc:
        raise CompanyError(str(exc)) from None


def create_demand(company: Company, data: DemandInput, *, by: User) -> Demand:
    """Write a new demand as a draft."""
    _check_company_may_post(company)
    _check_demand(data, start_changed=True)
    _refuse_retired_skills(data.skills, ())
    demand = Demand(company=company, status=DemandStatus.DRAFT, created_by_id=by.id)
    _apply(demand, data)
    db.session.add(demand)
    db.session.flush()
    record("demand.created", obj=demand, detail={"company_id": company.id})
    return demand


def update_demand(demand: Demand, data: DemandInput, *, by: User) -> Demand:
    """Change a demand; a change to an approved one sends it back to the office."""
    if demand.status == DemandStatus.CLOSED:
        raise InvalidDemandTransition(_("A closed demand cannot be changed."))
    _check_company_may_post(demand.company)
    _check_demand(data, start_changed=data.start_date != demand.start_date)
    _refuse_retired_skills(data.skills, [s.skill_id for s in demand.skills])
    before = demand.status
    _apply(demand, data)
    if before == DemandStatus.APPROVED:
        demand.status = DemandStatus.SUBMITTED
    db.session.flush()
    record("demand.updated", obj=demand, detail={"from": before, "to": demand.status, "by": by.id})
    return demand


def submit_demand(demand: Demand, *, by: User) -> Demand:
    """Send a draft (or a rejected demand after changes) to the academy office for approval."""
    if demand.status not in (DemandStatus.DRAFT, DemandStatus.REJECTED):
        raise InvalidDemandTransition(_("Only a draft or a rejected demand can be submitted."))
    _check_company_may_post(demand.company)
    if not demand.skills:
        raise DemandNeedsSkill(_("Choose at least one required skill with a minimum level."))
    before = demand.status
    demand.status = DemandStatus.SUBMITTED
    record("demand.submitted", obj=demand, detail={"from": before, "by": by.id})
    return demand


def close_demand(demand: Demand, *, by: User) -> Demand:
    """Close a demand: trainees no longer see it and it takes no part in new match rounds."""
    if demand.status == DemandStatus.CLOSED:
        raise InvalidDemandTransition(_("This demand is already closed."))
    before = demand.status
    demand.status = DemandStatus.CLOSED
    record("demand.closed", obj=demand, detail={"from": before, "by": by.id})
    return demand


def review_demand(demand: Demand, *, approve: bool, reason: str | None, by: User) -> Demand:
    """Approve or reject a submitted demand; a rejection needs a reason, which the company sees."""
    reason = (reason or "").strip() or None
    if demand.status != DemandStatus.SUBMITTED:
        raise InvalidDemandTransition(_("Only a submitted demand can be reviewed."))
    if not approve and not reason:
        raise ReasonRequired(_("Give the company a reason for the rejection."))
    if approve and demand.company.status != ReviewStatus.APPROVED:
        raise CompanyNotApproved(_("Approve the company before its demands."))
    demand.status = DemandStatus.APPROVED if approve else DemandStatus.REJECTED
    demand.review_reason = reason
    demand.reviewed_by_id = by.id
    demand.reviewed_at = utcnow()
    record(f"demand.{demand.status}", obj=demand, detail={"reason": reason, "company_id": demand.company_id})
    events.demand_reviewed(demand)
    return demand


def visible_demands() -> sa.Select:
    """Return a select of the demands trainees may see: approved, of a company that is approved."""
    return (
        sa.select(Demand)
        .join(Demand.company)
        .where(Demand.status == DemandStatus.APPROVED, Company.status == ReviewStatus.APPROVED)
    )


def shown_demands() -> list[Demand]:
    """List the demands trainees may see, soonest start first."""
    return list(db.session.scalars(shown_demands_query().order_by(Demand.start_date, Demand.id)))


def shown_demands_query() -> sa.Select:
    """Return a select of the demands trainees may see, with their company and skills loaded in two queries
    (not two per row)."""
    return visible_demands().options(
        contains_eager(Demand.company), selectinload(Demand.skills).joinedload(DemandSkill.skill))


def shown_demand(demand_id: int) -> Demand | None:
    """Return one demand trainees may see, or None."""
    return db.session.scalar(visible_demands().where(Demand.id == demand_id))


def demands_of(company_id: int) -> list[Demand]:
    """List a company's demands, newest first."""
    return list(db.session.scalars(sa.select(Demand).where(Demand.company_id == company_id).order_by(Demand.id.desc())))
