"""A trainee's pipeline pages: demands to opt into, the ranking, consents, competencies, results and offers."""
from __future__ import annotations

import json

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from academy.companies.models import Company, Demand
from academy.companies.services import shown_demand, shown_demands_query
from academy.extensions import db
from academy.listing import paginate
from academy.placements import consent as consents
from academy.placements import offers, rounds
from academy.placements.forms import ActionForm, ConsentForm
from academy.placements.models import Consent, Offer, RoundStatus
from academy.placements.profiles import competency_profile
from academy.placements.services import PlacementError
from academy.placements.views.blueprint import bp
from academy.policy import Role, allow
from academy.transactions import done, refused


def _own_consent(consent_id: int) -> Consent:
    consent = db.get_or_404(Consent, consent_id)
    if consent.student_id != current_user.id:
        abort(404)
    return consent


@bp.get("/my/demands")
@allow(Role.STUDENT)
def trainee_demands():
    """Browse approved demands of approved companies, and rank the ones I opted into."""
    # The latest round stays on show after it closes for opt-ins, so trainees still see their ranking.
    match_round = consents.current_round(current_user, tuple(RoundStatus))
    mine = consents.my_consents(current_user, match_round) if match_round else []
    active = {c.demand_id for c in mine if c.active}
    # A page at a time: ten years of approved demands would otherwise all be on it.
    listing = paginate(shown_demands_query(), sortable={"start": Demand.start_date, "company": Company.name},
                       default_sort="start", searchable=[Demand.title, Company.name])
    return render_template("placements/trainee_demands.html", match_round=match_round, listing=listing,
                           ranked=[c for c in mine if c.active], active=active, form=ActionForm())


@bp.route("/my/demands/<int:demand_id>/consent", methods=["GET", "POST"])
@allow(Role.STUDENT)
def consent_form(demand_id: int):
    """Show the consent notice for one demand and record the trainee's consent."""
    demand = shown_demand(demand_id) or abort(404)
    match_round = consents.current_round(current_user)
    if match_round is None:
        flash(_("There is no open match round for your cohort."), "error")
        return redirect(url_for("placements.trainee_demands"))
    form = ConsentForm()
    if form.validate_on_submit():
        try:
            consents.give_consent(current_user, demand, agreed=form.agree.data)
        except PlacementError as exc:
            flash(str(exc), "error")
        else:
            return done(_("You opted in. The demand is now last in your ranking."), "placements.trainee_demands")
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
        return refused(exc, "placements.trainee_demands")
    return done(_("Ranking saved."), "placements.trainee_demands")


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
        return refused(exc, "placements.my_consents")
    return done(_("Consent withdrawn. The company can no longer see your data."), "placements.my_consents")


@bp.get("/my/competencies")
@allow(Role.STUDENT)
def my_competencies():
    """Show my competency profile: a level per skill with the graded work behind it."""
    return render_template("placements/competencies.html", trainee=current_user,
                           profile=competency_profile(current_user.id))


@bp.get("/my/placement")
@allow(Role.STUDENT)
def my_placement():
    """Show my published match results, my offers and my placements."""
    return render_template("placements/my_placement.html", results=rounds.published_results_of(current_user),
                           offers=offers.offers_to(current_user), placements=offers.placements_of(current_user),
                           form=ActionForm())


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
        return refused(exc, "placements.my_placement")  # an offer found expired stays expired (OfferExpired)
    message = _("You accepted the offer.") if answer == "accept" else _("You declined the offer.")
    return done(message, "placements.my_placement")
