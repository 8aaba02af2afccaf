"""Talent pipeline pages: trainees opt in and rank, recruiters shortlist and offer, the office matches."""
from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from academy.audit.services import record, record_view
from academy.companies.models import Demand, DemandStatus, ReviewStatus
from academy.companies.services import visible_demands
from academy.extensions import db
from academy.i18n import localized
from academy.placements import consent as consents
from academy.placements import offers, rounds
from academy.placements.forms import (
    ActionForm,
    ConsentForm,
    EvaluationForm,
    FollowUpForm,
    OfferForm,
    RoundForm,
    RunForm,
    shortlist_form,
)
from academy.placements.models import (
    Consent,
    DemandFill,
    MatchOutcome,
    MatchRound,
    Offer,
    Placement,
    RoundDemand,
    RoundStatus,
)
from academy.placements.profiles import competency_profile
from academy.placements.services import ConsentMissing, NotInRound, PlacementError
from academy.policy import PUBLIC, Role, allow
from academy.universities.models import Cohort
from academy.validators import refuse_form

bp = Blueprint("placements", __name__)
SEOUL = ZoneInfo("Asia/Seoul")

ROUND_STATUS_NAMES = {"open": _l("open for opt-ins"), "matched": _l("matched, under review"),
                      "published": _l("published"), "closed": _l("closed")}
OFFER_STATUS_NAMES = {"open": _l("awaiting answer"), "accepted": _l("accepted"), "declined": _l("declined"),
                      "expired": _l("expired")}
PLACEMENT_STATUS_NAMES = {"accepted": _l("accepted, not started"), "started": _l("started"), "ended": _l("ended")}
ACCESS_NAMES = {"profile": _l("competency profile"), "shortlist": _l("shortlist"), "placement": _l("placement")}


@bp.app_context_processor
def _names() -> dict:
    return {"round_status_names": ROUND_STATUS_NAMES, "offer_status_names": OFFER_STATUS_NAMES,
            "placement_status_names": PLACEMENT_STATUS_NAMES, "access_names": ACCESS_NAMES,
            "has_endpoint": lambda name: name in current_app.view_functions}


def _done(message: str, endpoint: str, **values) -> object:
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(endpoint, **values))


def _failed(exc: Exception, endpoint: str, **values) -> object:
    db.session.rollback()
    flash(str(exc), "error")
    return redirect(url_for(endpoint, **values))


def _expire_lazily() -> None:
    if offers.expire_offers():
        db.session.commit()


@bp.get("/placements/criteria")
@allow(PUBLIC)
def criteria():
    """Publish how fit scores, competency levels and the match are computed (PIPA Art. 37-2)."""
    return render_template("placements/criteria.html")


# --- trainees ------------------------------------------------------------------------------


def _own_consent(consent_id: int) -> Consent:
    consent = db.get_or_404(Consent, consent_id)
    if consent.student_id != current_user.id:
        abort(404)
    return consent


@bp.get("/my/demands")
@allow(Role.STUDENT)
def student_demands():
    """Browse approved demands of approved companies, and rank the ones I opted into."""
    # The latest round stays on show after it closes for opt-ins, so trainees still see their ranking.
    match_round = consents.current_round(current_user, tuple(RoundStatus))
    mine = consents.my_consents(current_user, match_round) if match_round else []
    active = {c.demand_id for c in mine if c.active}
    demands = db.session.scalars(visible_demands().order_by(Demand.start_date, Demand.id)).all()
    return render_template("placements/student_demands.html", match_round=match_round, demands=demands,
                           ranked=[c for c in mine if c.active], active=active, form=ActionForm())


@bp.route("/my/demands/<int:demand_id>/consent", methods=["GET", "POST"])
@allow(Role.STUDENT)
def consent_form(demand_id: int):
    """Show the consent notice for one demand and record the trainee's consent."""
    demand = db.session.scalar(visible_demands().where(Demand.id == demand_id)) or abort(404)
    match_round = consents.current_round(current_user)
    if match_round is None:
        flash(_("There is no open match round for your cohort."), "error")
        return redirect(url_for("placements.student_demands"))
    form = ConsentForm()
    if form.validate_on_submit():
        try:
            consents.give_consent(current_user, demand, agreed=form.agree.data)
        except PlacementError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            return _done(_("You opted in. The demand is now last in your ranking."), "placements.student_demands")
    notice = consents.consent_notice(demand, match_round)
    return render_template("placements/consent.html", demand=demand, notice=notice, form=form), \
        400 if request.method == "POST" else 200


@bp.post("/my/consents/<int:consent_id>/move")
@allow(Role.STUDENT)
def move_choice(consent_id: int):
    """Move a demand up or down my ranking."""
    consent = _own_consent(consent_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        consents.move_choice(consent, -1 if request.form.get("dir") == "up" else 1)
    except PlacementError as exc:
        return _failed(exc, "placements.student_demands")
    return _done(_("Ranking saved."), "placements.student_demands")


@bp.get("/my/consents")
@allow(Role.STUDENT)
def my_consents():
    """List my consents with their notices, and every access to my data by a company."""
    accesses = [(a, json.loads(a.detail or "{}")) for a in consents.company_accesses(current_user)]
    return render_template("placements/my_consents.html", consents=consents.my_consents(current_user),
                           accesses=accesses, form=ActionForm())


@bp.post("/my/consents/<int:consent_id>/withdraw")
@allow(Role.STUDENT)
def withdraw(consent_id: int):
    """Withdraw a consent, with immediate effect."""
    consent = _own_consent(consent_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        consents.withdraw_consent(consent)
    except PlacementError as exc:
        return _failed(exc, "placements.my_consents")
    return _done(_("Consent withdrawn. The company can no longer see your data."), "placements.my_consents")


@bp.app_template_global("competency_chart")
def _competency_chart(profile: list) -> str:
    from academy.charts import competency_chart

    return competency_chart(profile, str(get_locale()))


@bp.get("/my/competencies")
@allow(Role.STUDENT)
def my_competencies():
    """Show my competency profile: a level per skill with the graded work behind it."""
    return render_template("placements/competencies.html", student=current_user,
                           profile=competency_profile(current_user.id))


@bp.get("/my/placement")
@allow(Role.STUDENT)
def my_placement():
    """Show my published match results, my offers and my placements."""
    _expire_lazily()
    results = db.session.scalars(
        sa.select(MatchOutcome).join(MatchRound, MatchRound.id == MatchOutcome.round_id)
        .where(MatchOutcome.student_id == current_user.id,
               MatchRound.status.in_((RoundStatus.PUBLISHED, RoundStatus.CLOSED)))
        .order_by(MatchOutcome.round_id.desc())).all()
    my_offers = db.session.scalars(sa.select(Offer).where(Offer.student_id == current_user.id)
                                   .order_by(Offer.id.desc())).all()
    placements = db.session.scalars(sa.select(Placement).where(Placement.student_id == current_user.id)).all()
    return render_template("placements/my_placement.html", results=results, offers=my_offers,
                           placements=placements, form=ActionForm())


@bp.post("/my/offers/<int:offer_id>/<any(accept, decline):answer>")
@allow(Role.STUDENT)
def respond_offer(offer_id: int, answer: str):
    """Accept or decline an offer before its deadline."""
    offer = db.get_or_404(Offer, offer_id)
    if offer.student_id != current_user.id:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        offers.respond_to_offer(offer, current_user, accept=answer == "accept")
    except PlacementError as exc:
        db.session.commit()  # an offer found expired stays expired
        flash(str(exc), "error")
        return redirect(url_for("placements.my_placement"))
    message = _("You accepted the offer.") if answer == "accept" else _("You declined the offer.")
    return _done(message, "placements.my_placement")


# --- placements: start, evaluations, follow-ups ---------------------------------------------


def _placement_for_user(placement_id: int) -> Placement:
    """Load a placement the current user may see: the trainee, the company's recruiters, the office."""
    placement = db.get_or_404(Placement, placement_id)
    role = current_user.role
    if role == Role.STUDENT and placement.student_id != current_user.id:
        abort(404)
    if role == Role.RECRUITER and placement.demand.company_id != current_user.company_id:
        abort(404)
    return placement


@bp.get("/placements/<int:placement_id>")
@allow(Role.ADMIN, Role.RECRUITER, Role.STUDENT)
def placement_detail(placement_id: int):
    """Show a placement with its evaluations and follow-ups."""
    placement = _placement_for_user(placement_id)
    if placement.student_id and current_user.role == Role.RECRUITER:
        consents.record_company_view(current_user, placement.student_id, placement.demand, "placement")
        db.session.commit()
    elif placement.student_id:
        record_view(placement.student_id, "placement")
    return render_template("placements/placement.html", placement=placement, form=ActionForm(),
                           evaluation_form=EvaluationForm(), follow_up_form=FollowUpForm())


@bp.post("/placements/<int:placement_id>/start")
@allow(Role.ADMIN, Role.RECRUITER, Role.STUDENT)
def confirm_start(placement_id: int):
    """Confirm that the trainee has started."""
    placement = _placement_for_user(placement_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        offers.confirm_start(placement, current_user)
    except PlacementError as exc:
        return _failed(exc, "placements.placement_detail", placement_id=placement_id)
    return _done(_("Start confirmed."), "placements.placement_detail", placement_id=placement_id)


@bp.post("/placements/<int:placement_id>/evaluation")
@allow(Role.ADMIN, Role.RECRUITER, Role.STUDENT)
def evaluate(placement_id: int):
    """Record the trainee's own evaluation, or the supervisor's (recruiter or office)."""
    placement = _placement_for_user(placement_id)
    form = EvaluationForm()
    if not form.validate_on_submit():
        refuse_form(form)
    by_kind = "trainee" if current_user.role == Role.STUDENT else "supervisor"
    try:
        offers.evaluate(placement, by_kind, form.rating.data, form.comment.data or "", current_user)
    except PlacementError as exc:
        return _failed(exc, "placements.placement_detail", placement_id=placement_id)
    return _done(_("Evaluation saved."), "placements.placement_detail", placement_id=placement_id)


@bp.post("/placements/<int:placement_id>/follow-up")
@allow(Role.ADMIN, Role.RECRUITER)
def follow_up(placement_id: int):
    """Record a 3-, 6- or 12-month follow-up."""
    placement = _placement_for_user(placement_id)
    form = FollowUpForm()
    if not form.validate_on_submit():
        refuse_form(form)
    try:
        offers.record_follow_up(placement, form.months.data, form.employed.data == "yes", form.note.data or "",
                                current_user)
    except PlacementError as exc:
        return _failed(exc, "placements.placement_detail", placement_id=placement_id)
    return _done(_("Follow-up saved."), "placements.placement_detail", placement_id=placement_id)


# --- recruiters ----------------------------------------------------------------------------


def _own_demand(demand_id: int) -> Demand:
    demand = db.get_or_404(Demand, demand_id)
    if demand.company_id != current_user.company_id:
        abort(404)
    if demand.company.status != ReviewStatus.APPROVED:
        abort(403)  # trainees' data goes only to companies the office approves
    return demand


@bp.get("/company/placements")
@allow(Role.RECRUITER)
def recruiter_home():
    """List my company's demands with the rounds they take part in, their offers and placements."""
    demands = db.session.scalars(sa.select(Demand).where(Demand.company_id == current_user.company_id)
                                 .order_by(Demand.id.desc())).all()
    ids = [d.id for d in demands]
    in_rounds = db.session.execute(
        sa.select(Consent.demand_id, MatchRound).join(MatchRound, MatchRound.id == Consent.round_id)
        .where(Consent.demand_id.in_(ids), MatchRound.purged_at.is_(None)).distinct()).all()
    by_demand: dict[int, list[MatchRound]] = {}
    for demand_id, match_round in in_rounds:
        by_demand.setdefault(demand_id, []).append(match_round)
    fills = {f.demand_id: f for f in db.session.scalars(sa.select(DemandFill).where(DemandFill.demand_id.in_(ids)))}
    placements = db.session.scalars(sa.select(Placement).where(Placement.demand_id.in_(ids))).all()
    return render_template("placements/recruiter_home.html", demands=demands, by_demand=by_demand,
                           fills=fills, placements=placements)


@bp.route("/company/demands/<int:demand_id>/rounds/<int:round_id>/shortlist", methods=["GET", "POST"])
@allow(Role.RECRUITER)
def shortlist(demand_id: int, round_id: int):
    """Rank the demand's consenting trainees by fit, reorder, note interviews, submit, and offer."""
    demand = _own_demand(demand_id)
    match_round = db.get_or_404(MatchRound, round_id)
    _expire_lazily()
    lines = rounds.shortlist(match_round, demand)
    form = shortlist_form(lines)
    if form.validate_on_submit():
        try:
            rounds.save_shortlist(match_round, demand, form.positions(), form.notes(),
                                  submit=request.form.get("submit_list") == "1")
        except PlacementError as exc:
            return _failed(exc, "placements.shortlist", demand_id=demand_id, round_id=round_id)
        return _done(_("Rank list saved."), "placements.shortlist", demand_id=demand_id, round_id=round_id)
    for line in lines:
        consents.record_company_view(current_user, line.student.id, demand, "shortlist")
    db.session.commit()
    rd = db.session.get(RoundDemand, (round_id, demand_id))
    # Only trainees whose consent for this demand in this round stands are named: one who withdrew
    # leaves the match result, and their offers stay listed without their name.
    consenting = {line.student.id for line in lines}
    matched = [o for o in rounds.outcomes(match_round, demand_id) if o.student_id in consenting] \
        if match_round.status == RoundStatus.PUBLISHED else []
    demand_offers = db.session.scalars(sa.select(Offer).where(Offer.demand_id == demand_id,
                                                             Offer.round_id == round_id)).all()
    page = render_template("placements/shortlist.html", demand=demand, match_round=match_round, lines=lines,
                           form=form, round_demand=rd, matched=matched, offers=demand_offers, consenting=consenting,
                           offer_form=OfferForm(formdata=None), fill=rounds.demand_fill(demand))
    return page, 400 if request.method == "POST" else 200


@bp.get("/company/demands/<int:demand_id>/trainees/<int:student_id>")
@allow(Role.RECRUITER)
def trainee_profile(demand_id: int, student_id: int):
    """Show a consenting trainee's competency profile to the demand's company; others are refused."""
    demand = db.get_or_404(Demand, demand_id)
    try:
        consent = consents.check_company_access(current_user, student_id, demand, "profile")
    except ConsentMissing:
        db.session.commit()  # the refusal is audited
        abort(403)
    db.session.commit()
    from academy.students.models import Project

    projects = db.session.scalars(sa.select(Project).where(Project.user_id == student_id)).all()
    return render_template("placements/competencies.html", student=consent.student, demand=demand,
                           profile=competency_profile(student_id), projects=projects)


@bp.post("/company/demands/<int:demand_id>/rounds/<int:round_id>/offers")
@allow(Role.RECRUITER)
def make_offer(demand_id: int, round_id: int):
    """Offer a place to a trainee who consented in this round, answered by the deadline (end of day, Seoul)."""
    demand = _own_demand(demand_id)
    match_round = db.get_or_404(MatchRound, round_id)
    form = OfferForm()
    if not form.validate_on_submit():
        abort(400, description=_("Choose a trainee and a deadline."))
    deadline = datetime.combine(form.deadline.data, time(23, 59, 59), SEOUL).astimezone(UTC)
    try:
        offers.make_offer(match_round, demand, form.student_id.data, deadline, current_user)
    except (ConsentMissing, NotInRound) as exc:
        db.session.commit()  # the refusal's audit entries
        abort(403 if isinstance(exc, ConsentMissing) else 400, description=str(exc))
    except PlacementError as exc:
        return _failed(exc, "placements.shortlist", demand_id=demand_id, round_id=round_id)
    return _done(_("Offer sent."), "placements.shortlist", demand_id=demand_id, round_id=round_id)


# --- academy office ------------------------------------------------------------------------


def _cohort_choices(form: RoundForm) -> RoundForm:
    cohorts = db.session.scalars(sa.select(Cohort).order_by(Cohort.year.desc(), Cohort.name)).all()
    form.cohort_id.choices = [(c.id, f"{localized(c.university, 'name')} · {c.year} {c.name}") for c in cohorts]
    return form


@bp.get("/admin/placements")
@allow(Role.ADMIN)
def office_home():
    """Show match rounds per cohort, demands with their places filled, and links to the outcomes."""
    form = _cohort_choices(RoundForm())
    if form.retention_until.data is None:
        form.retention_until.data = (datetime.now(UTC) + timedelta(days=365)).date()
    round_list = db.session.scalars(sa.select(MatchRound).order_by(MatchRound.id.desc())).all()
    demands = db.session.execute(
        sa.select(Demand, DemandFill).outerjoin(DemandFill, DemandFill.demand_id == Demand.id)
        .where(Demand.status.in_((DemandStatus.APPROVED, DemandStatus.CLOSED))).order_by(Demand.id)).all()
    return render_template("placements/office_home.html", rounds=round_list, demands=demands, form=form)


@bp.post("/admin/placements/rounds")
@allow(Role.ADMIN)
def open_round():
    """Open a match round for a cohort."""
    form = _cohort_choices(RoundForm())
    if not form.validate_on_submit():
        refuse_form(form)
    cohort = db.get_or_404(Cohort, form.cohort_id.data)
    try:
        match_round = rounds.open_round(cohort, form.retention_until.data, current_user)
    except PlacementError as exc:
        return _failed(exc, "placements.office_home")
    return _done(_("Round opened."), "placements.round_detail", round_id=match_round.id)


@bp.get("/admin/placements/rounds/<int:round_id>")
@allow(Role.ADMIN)
def round_detail(round_id: int):
    """Review a round: who opted in, the rank lists submitted, and the result before publishing."""
    match_round = db.get_or_404(MatchRound, round_id)
    n_consents = db.session.scalar(sa.select(sa.func.count()).where(
        Consent.round_id == round_id, Consent.withdrawn_at.is_(None)))
    demands = db.session.scalars(sa.select(RoundDemand).where(RoundDemand.round_id == round_id)).all()
    results = rounds.outcomes(match_round)
    if results:  # the result names trainees: one audit entry per view, listing them
        record("personal_data.viewed", obj=match_round,
               detail={"what": "match round result", "round_id": round_id,
                       "student_ids": [o.student_id for o in results]})
        db.session.commit()
    return render_template("placements/round.html", match_round=match_round, outcomes=results,
                           n_consents=n_consents, round_demands=demands, run_form=RunForm(), form=ActionForm())


@bp.post("/admin/placements/rounds/<int:round_id>/run")
@allow(Role.ADMIN)
def run_round(round_id: int):
    """Run (or rerun) the match for review; nothing is shown to others until it is published."""
    match_round = db.get_or_404(MatchRound, round_id)
    form = RunForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        rounds.run_round(match_round, current_user, form.seed.data)
    except PlacementError as exc:
        return _failed(exc, "placements.round_detail", round_id=round_id)
    return _done(_("Match run. Review the result, then publish it."), "placements.round_detail", round_id=round_id)


@bp.post("/admin/placements/rounds/<int:round_id>/publish")
@allow(Role.ADMIN)
def publish_round(round_id: int):
    """Publish a reviewed result to trainees and recruiters."""
    match_round = db.get_or_404(MatchRound, round_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        rounds.publish_round(match_round, current_user)
    except PlacementError as exc:
        return _failed(exc, "placements.round_detail", round_id=round_id)
    return _done(_("Result published."), "placements.round_detail", round_id=round_id)
