"""The academy office's pipeline pages: match rounds per cohort, running, reviewing and publishing the match."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import abort, render_template
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from academy.audit.services import record
from academy.companies.models import Demand
from academy.extensions import db
from academy.i18n import localized
from academy.listing import paginate
from academy.placements import rounds
from academy.placements.forms import ActionForm, RoundForm, RunForm
from academy.placements.models import MatchRound
from academy.placements.services import PlacementError
from academy.placements.views.blueprint import bp
from academy.policy import Role, allow
from academy.transactions import done, refused
from academy.universities.models import Cohort
from academy.universities.services import cohorts_newest_first
from academy.validators import refuse_form


def _cohort_choices(form: RoundForm) -> RoundForm:
    form.cohort_id.choices = [(c.id, f"{localized(c.university, 'name')} · {c.year} {c.name}")
                              for c in cohorts_newest_first()]
    return form


@bp.get("/admin/placements")
@allow(Role.ADMIN)
def office_home():
    """Show match rounds per cohort, demands with their places filled, and links to the outcomes."""
    form = _cohort_choices(RoundForm())
    if form.retention_until.data is None:
        form.retention_until.data = (datetime.now(UTC) + timedelta(days=365)).date()
    # Demands a page at a time, newest first: every demand of every year would otherwise be on it.
    listing = paginate(rounds.matchable_demands_query(), sortable={"id": Demand.id, "title": Demand.title},
                       default_sort="id", default_direction="desc", searchable=[Demand.title], scalars=False)
    return render_template("placements/office_home.html", rounds=rounds.all_rounds(), listing=listing, form=form)


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
        return refused(exc, "placements.office_home")
    return done(_("Round opened."), "placements.round_detail", round_id=match_round.id)


@bp.get("/admin/placements/rounds/<int:round_id>")
@allow(Role.ADMIN)
def round_detail(round_id: int):
    """Review a round: who opted in, the rank lists submitted, and the result before publishing."""
    # The round with its cohort and university, which the page names: one query, not three.
    match_round = db.get_or_404(MatchRound, round_id,
                                options=[joinedload(MatchRound.cohort).joinedload(Cohort.university)])
    results = rounds.outcomes(match_round)
    if results:  # the result names trainees: one audit entry per view, listing them
        record("personal_data.viewed", obj=match_round,
               detail={"what": "match round result", "round_id": round_id,
                       "student_ids": [o.student_id for o in results]})
    return render_template("placements/round.html", match_round=match_round, outcomes=results,
                           n_consents=rounds.count_active_consents(match_round),
                           round_demands=rounds.round_demands(match_round), run_form=RunForm(), form=ActionForm())


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
        return refused(exc, "placements.round_detail", round_id=round_id)
    return done(_("Match run. Review the result, then publish it."), "placements.round_detail", round_id=round_id)


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
        return refused(exc, "placements.round_detail", round_id=round_id)
    return done(_("Result published."), "placements.round_detail", round_id=round_id)
