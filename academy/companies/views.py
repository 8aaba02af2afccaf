"""Company pages: self-registration, the recruiter's profile and demands, the office's reviews."""
from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import InstrumentedAttribute, contains_eager

from academy.auth.models import User
from academy.companies import services
from academy.companies.forms import (
    KIND_NAMES,
    LEVEL_NAMES,
    REVIEW_STATUS_NAMES,
    DemandForm,
    ProfileForm,
    RegisterCompanyForm,
    ReviewForm,
    demand_form,
)
from academy.companies.models import CITIES, SECTOR_NAMES, Company, Demand, DemandStatus, ReviewStatus
from academy.extensions import db, limiter
from academy.listing import paginate
from academy.policy import PUBLIC, Role, allow
from academy.privacy import services as consents
from academy.skills.models import Skill
from academy.skills.services import offered_skills
from academy.ui import STATUS_NAMES
from academy.transactions import report

bp = Blueprint("companies", __name__)


@bp.app_context_processor
def _names() -> dict:
    return {"kind_names": KIND_NAMES, "level_names": LEVEL_NAMES}


@bp.app_template_global()
def review_status_name(value: str) -> str:
    """Name a company's or demand's status; a rejection there is "not approved", not an admissions one."""
    return str(REVIEW_STATUS_NAMES.get(value) or STATUS_NAMES.get(value, value))


def _form_page(template: str, **context):
    """Show a form page: 200 to fill it in, 400 when what was posted is refused (the page says why)."""
    return render_template(template, **context), 400 if request.method == "POST" else 200


def _catalogue(keeping=()) -> list[Skill]:
    """The skills a demand form offers: those in use, and the retired ones the demand already requires."""
    return sorted(offered_skills(keeping), key=lambda s: s.id)


def _own_company() -> Company:
    if current_user.company is None:
        abort(403)
    return current_user.company


def _own_demand(demand_id: int) -> Demand:
    """Load a demand of the recruiter's own company; another company's demand is not found."""
    demand = db.get_or_404(Demand, demand_id)
    if demand.company_id != current_user.company_id:
        abort(404)
    return demand


def _filtered(query: sa.Select, column: InstrumentedAttribute, allowed: set[str]) -> sa.Select:
    """Narrow a list to the value of ?<column>= when it is one of the allowed values."""
    value = request.args.get(column.key)
    return query.where(column == value) if value in allowed else query


# --- registration and profile --------------------------------------------------------------


@bp.route("/companies/register", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit("10 per hour", methods=["POST"])
def register():
    """Let a company register itself and its first recruiter; the office approves it later."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = RegisterCompanyForm()
    if form.validate_on_submit():
        try:
            registered = services.register_company(
                name=form.name.data, sector=form.sector.data, city=form.city.data, size=form.size.data,
                description=form.description.data or "", website=form.website.data or "",
                recruiter_name=form.recruiter_name.data, recruiter_email=form.email.data,
                password=form.password.data,
            )
            if registered is not None:
                consents.give_consents(registered[1], form.optional_given(), actor_id=registered[1].id)
        except services.CompanyError as exc:
            report(exc)
        else:
            # The same answer whether the recruiter's address was free or already had an account (no
            # sign-in either way), so registering cannot tell anyone who has an account here.
            flash(_("Thank you. If this e-mail address had no account yet, your company is registered and the "
                    "academy office will review it: sign in to follow the review. If it already had an "
                    "account, nothing was registered."), "success")
            return redirect(url_for("auth.login"))
    return _form_page("companies/register.html", form=form)


@bp.get("/company")
@allow(Role.RECRUITER)
def company_profile():
    """Show the recruiter's company, its review status and the reason given."""
    company = _own_company()
    return render_template("companies/profile.html", company=company)


@bp.route("/company/edit", methods=["GET", "POST"])
@allow(Role.RECRUITER)
def edit_company():
    """Edit the company's sector, city, size, description and website."""
    company = _own_company()
    form = ProfileForm(obj=company)
    if form.validate_on_submit():
        try:
            services.update_company_profile(company, sector=form.sector.data, city=form.city.data,
                                            size=form.size.data, description=form.description.data or "",
                                            website=form.website.data or "")
        except services.CompanyError as exc:
            report(exc)
        else:
            flash(_("Company profile saved."), "success")
            return redirect(url_for("companies.company_profile"))
    return _form_page("companies/profile_form.html", form=form, company=company)


# --- the recruiter's demands ---------------------------------------------------------------


@bp.get("/company/demands")
@allow(Role.RECRUITER)
def my_demands():
    """List the company's demands with their status, searchable and sortable."""
    company = _own_company()
    query = _filtered(sa.select(Demand).where(Demand.company_id == company.id), Demand.status, set(DemandStatus))
    listing = paginate(
        query,
        sortable={"title": Demand.title, "kind": Demand.kind, "headcount": Demand.headcount,
                  "start": Demand.start_date, "status": Demand.status, "created": Demand.created_at},
        default_sort="created",
        searchable=[Demand.title],
    )
    return render_template("companies/my_demands.html", listing=listing, company=company,
                           statuses=list(DemandStatus))


@bp.route("/company/demands/new", methods=["GET", "POST"])
@allow(Role.RECRUITER)
def new_demand():
    """Write a new demand (saved as a draft until submitted)."""
    company = _own_company()
    form = demand_form(_catalogue(), data={"work_city": company.city})
    if form.validate_on_submit():
        try:
            demand = services.create_demand(company, _demand_input(form), by=current_user)
        except services.CompanyError as exc:
            report(exc)
        else:
            flash(_("Demand saved as a draft. Submit it when it is ready."), "success")
            return redirect(url_for("companies.demand_detail", demand_id=demand.id))
    return _form_page("companies/demand_form.html", form=form, demand=None, company=company)


@bp.route("/company/demands/<int:demand_id>/edit", methods=["GET", "POST"])
@allow(Role.RECRUITER)
def edit_demand(demand_id: int):
    """Edit a demand; an approved demand goes back to the office after the change."""
    demand = _own_demand(demand_id)
    if demand.status == DemandStatus.CLOSED:
        flash(_("A closed demand cannot be changed."), "error")
        return redirect(url_for("companies.demand_detail", demand_id=demand.id))
    form = demand_form(_catalogue([s.skill_id for s in demand.skills]), obj=demand)
    if request.method == "GET":
        form.set_skill_levels({s.skill_id: s.min_level for s in demand.skills})
    if form.validate_on_submit():
        try:
            services.update_demand(demand, _demand_input(form), by=current_user)
        except services.CompanyError as exc:
            report(exc)
        else:
            flash(_("Demand saved."), "success")
            return redirect(url_for("companies.demand_detail", demand_id=demand.id))
    return _form_page("companies/demand_form.html", form=form, demand=demand, company=demand.company)


def _demand_input(form: DemandForm) -> services.DemandInput:
    return services.DemandInput(
        title=form.title.data, kind=form.kind.data, description=form.description.data or "",
        headcount=form.headcount.data, start_date=form.start_date.data,
        duration_months=form.duration_months.data, work_city=form.work_city.data,
        work_address=form.work_address.data or "", stipend_krw=form.stipend_krw.data,
        skills=form.skill_levels(),
    )


@bp.post("/company/demands/<int:demand_id>/submit")
@allow(Role.RECRUITER)
def submit_demand(demand_id: int):
    """Send a demand to the academy office for approval."""
    return _recruiter_action(demand_id, services.submit_demand, _("Demand submitted for approval."))


@bp.post("/company/demands/<int:demand_id>/close")
@allow(Role.RECRUITER)
def close_demand(demand_id: int):
    """Close a demand: trainees no longer see it."""
    return _recruiter_action(demand_id, services.close_demand, _("Demand closed."))


def _recruiter_action(demand_id: int, action: Callable[..., Demand], done: str) -> Response:
    demand = _own_demand(demand_id)
    try:
        action(demand, by=current_user)
    except services.CompanyError as exc:
        report(exc)
    else:
        flash(done, "success")
    return redirect(url_for("companies.demand_detail", demand_id=demand_id))


@bp.get("/demands/<int:demand_id>")
@allow(Role.ADMIN, Role.RECRUITER)
def demand_detail(demand_id: int):
    """Show one demand: to its company's recruiters, and to the office with the review form."""
    if current_user.role == Role.RECRUITER:
        demand = _own_demand(demand_id)
    else:
        demand = db.get_or_404(Demand, demand_id)
    return render_template("companies/demand.html", demand=demand, form=ReviewForm())


# --- the academy office's reviews ----------------------------------------------------------


@bp.get("/admin/companies")
@allow(Role.ADMIN)
def review_companies():
    """List companies for review, filterable by status, sector and city, searchable and sortable."""
    query = sa.select(Company)
    query = _filtered(query, Company.status, set(ReviewStatus))
    query = _filtered(query, Company.sector, set(SECTOR_NAMES))
    query = _filtered(query, Company.city, set(CITIES))
    listing = paginate(
        query,
        sortable={"name": Company.name, "sector": Company.sector, "city": Company.city, "size": Company.size,
                  "status": Company.status, "created": Company.created_at},
        default_sort="created", default_direction="desc",
        searchable=[Company.name, Company.description],
    )
    counts = dict(db.session.execute(sa.select(Company.status, sa.func.count()).group_by(Company.status)).all())
    return render_template("companies/review_companies.html", listing=listing, counts=counts,
                           statuses=list(ReviewStatus))


@bp.get("/admin/companies/<int:company_id>")
@allow(Role.ADMIN)
def company_detail(company_id: int):
    """Show a company with its recruiters and demands, and the review form."""
    company = db.get_or_404(Company, company_id)
    return render_template("companies/company.html", company=company, form=ReviewForm(),
                           recruiters=_recruiters(company))


def _recruiters(company: Company) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.company_id == company.id).order_by(User.name)))


@bp.post("/admin/companies/<int:company_id>/review")
@allow(Role.ADMIN)
def review_company(company_id: int):
    """Approve or reject a company (a rejection needs a reason, which the company sees)."""
    company = db.get_or_404(Company, company_id)
    form = ReviewForm()
    if form.validate_on_submit():
        try:
            services.review_company(company, approve=form.decision.data == "approve", reason=form.reason.data,
                                    by=current_user)
        except services.CompanyError as exc:
            report(exc)
        else:
            flash(_("Company approved.") if company.status == ReviewStatus.APPROVED else _("Company rejected."),
                  "success")
            return redirect(url_for("companies.review_companies"))
    return render_template("companies/company.html", company=company, form=form,
                           recruiters=_recruiters(company)), 400


@bp.get("/admin/demands")
@allow(Role.ADMIN)
def review_demands():
    """List demands for review, filterable by status, kind and city, searchable and sortable."""
    query = sa.select(Demand).join(Demand.company).options(contains_eager(Demand.company))
    query = _filtered(query, Demand.status, set(DemandStatus))
    query = _filtered(query, Demand.kind, set(KIND_NAMES))
    query = _filtered(query, Demand.work_city, set(CITIES))
    listing = paginate(
        query,
        sortable={"title": Demand.title, "company": Company.name, "kind": Demand.kind,
                  "headcount": Demand.headcount, "start": Demand.start_date, "city": Demand.work_city,
                  "status": Demand.status, "company_status": Company.status, "created": Demand.created_at},
        default_sort="created", default_direction="desc",
        searchable=[Demand.title, Company.name],
    )
    counts = dict(db.session.execute(sa.select(Demand.status, sa.func.count()).group_by(Demand.status)).all())
    return render_template("companies/review_demands.html", listing=listing, counts=counts,
                           statuses=list(DemandStatus))


@bp.post("/admin/demands/<int:demand_id>/review")
@allow(Role.ADMIN)
def review_demand(demand_id: int):
    """Approve or reject a submitted demand (only an approved company's demand can be approved)."""
    demand = db.get_or_404(Demand, demand_id)
    form = ReviewForm()
    if form.validate_on_submit():
        try:
            services.review_demand(demand, approve=form.decision.data == "approve", reason=form.reason.data,
                                   by=current_user)
        except services.CompanyError as exc:
            report(exc)
            return redirect(url_for("companies.demand_detail", demand_id=demand_id))
        flash(_("Demand approved.") if demand.status == DemandStatus.APPROVED else _("Demand rejected."), "success")
        return redirect(url_for("companies.review_demands", status=DemandStatus.SUBMITTED.value))
    return render_template("companies/demand.html", demand=demand, form=form), 400

