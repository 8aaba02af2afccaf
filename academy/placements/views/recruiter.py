"""A recruiter's pipeline pages: the company's demands in rounds, shortlists, consenting trainees' profiles, offers."""
from __future__ import annotations

from flask import abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from academy.companies.models import Demand, ReviewStatus
from academy.companies.services import demands_of
from academy.extensions import db
from academy.placements import consent as consents
from academy.placements import offers, rounds
from academy.placements.forms import OfferForm, shortlist_form
from academy.placements.models import MatchRound, RoundDemand, RoundStatus
from academy.placements.profiles import competency_profile
from academy.placements.services import ConsentMissing, NotInRound, PlacementError
from academy.placements.views.blueprint import bp
from academy.policy import Role, allow
from academy.students.services import projects_of
from academy.transactions import done, refused


def _own_demand(demand_id: int) -> Demand:
    demand = db.get_or_404(Demand, demand_id, options=[joinedload(Demand.company)])  # one query, not two
    if demand.company_id != current_user.company_id:
        abort(404)
    if demand.company.status != ReviewStatus.APPROVED:
        abort(403)  # trainees' data goes only to companies the office approves
    return demand


@bp.get("/company/placements")
@allow(Role.RECRUITER)
def recruiter_home():
    """List my company's demands with the rounds they take part in, their offers and placements."""
    demands = demands_of(current_user.company_id)
    ids = [d.id for d in demands]
    return render_template("placements/recruiter_home.html", demands=demands, by_demand=rounds.rounds_by_demand(ids),
                           fills=rounds.fills_of(ids), placements=offers.placements_at(ids))


@bp.route("/company/demands/<int:demand_id>/rounds/<int:round_id>/shortlist", methods=["GET", "POST"])
@allow(Role.RECRUITER)
def shortlist(demand_id: int, round_id: int):
    """Rank the demand's consenting trainees by fit, reorder, note interviews, submit, and offer."""
    demand = _own_demand(demand_id)
    match_round = db.get_or_404(MatchRound, round_id, options=[joinedload(MatchRound.cohort)])  # the page names it
    lines = rounds.shortlist(match_round, demand)
    form = shortlist_form(lines)
    if form.validate_on_submit():
        try:
            rounds.save_shortlist(match_round, demand, form.positions(), form.notes(),
                                  submit=request.form.get("submit_list") == "1")
        except PlacementError as exc:
            return refused(exc, "placements.shortlist", demand_id=demand_id, round_id=round_id)
        return done(_("Rank list saved."), "placements.shortlist", demand_id=demand_id, round_id=round_id)
    for line in lines:
        consents.record_company_view(current_user, line.trainee.id, demand, "shortlist")
    # Only trainees whose consent for this demand in this round stands are named: one who withdrew
    # leaves the match result, and their offers stay listed without their name.
    consenting = {line.trainee.id for line in lines}
    matched = [o for o in rounds.outcomes(match_round, demand_id) if o.student_id in consenting] \
        if match_round.status == RoundStatus.PUBLISHED else []
    page = render_template("placements/shortlist.html", demand=demand, match_round=match_round, lines=lines,
                           form=form, round_demand=db.session.get(RoundDemand, (round_id, demand_id)),
                           matched=matched, offers=offers.offers_for(match_round, demand), consenting=consenting,
                           offer_form=OfferForm(formdata=None), fill=rounds.places(demand))
    return page, 400 if request.method == "POST" else 200


@bp.get("/company/demands/<int:demand_id>/trainees/<int:student_id>")
@allow(Role.RECRUITER)
def trainee_profile(demand_id: int, student_id: int):
    """Show a consenting trainee's competency profile to the demand's company; others are refused."""
    demand = db.get_or_404(Demand, demand_id)
    try:
        consent = consents.check_company_access(current_user, student_id, demand, "profile")
    except ConsentMissing:
        abort(403)  # the refusal is on record (check_company_access keeps its audit entries)
    return render_template("placements/competencies.html", trainee=consent.trainee, demand=demand,
                           profile=competency_profile(student_id), projects=projects_of(consent.trainee))


@bp.post("/company/demands/<int:demand_id>/rounds/<int:round_id>/offers")
@allow(Role.RECRUITER)
def make_offer(demand_id: int, round_id: int):
    """Offer a place to a trainee who consented in this round, answered by the deadline (end of day, Seoul)."""
    demand = _own_demand(demand_id)
    match_round = db.get_or_404(MatchRound, round_id)
    form = OfferForm()
    if not form.validate_on_submit():
        abort(400, description=_("Choose a trainee and a deadline."))
    try:
        offers.make_offer(match_round, demand, form.student_id.data, offers.deadline_at_end_of(form.deadline.data),
                          current_user)
    except (ConsentMissing, NotInRound) as exc:
        # The refusal is on record (check_offer_allowed keeps its audit entries).
        abort(403 if isinstance(exc, ConsentMissing) else 400, description=str(exc))
    except PlacementError as exc:
        return refused(exc, "placements.shortlist", demand_id=demand_id, round_id=round_id)
    return done(_("Offer sent."), "placements.shortlist", demand_id=demand_id, round_id=round_id)
