"""A placement's own page, seen by its trainee, its company's recruiters and the office: start, evaluations,
follow-ups."""
from __future__ import annotations

from flask import abort, render_template
from flask_babel import gettext as _
from flask_login import current_user

from academy.audit.services import record_view
from academy.extensions import db
from academy.placements import consent as consents
from academy.placements import offers
from academy.placements.forms import ActionForm, EvaluationForm, FollowUpForm
from academy.placements.models import Placement
from academy.placements.services import PlacementError
from academy.placements.views.blueprint import bp
from academy.policy import Role, allow
from academy.transactions import done, refused
from academy.validators import refuse_form


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
        return refused(exc, "placements.placement_detail", placement_id=placement_id)
    return done(_("Start confirmed."), "placements.placement_detail", placement_id=placement_id)


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
        return refused(exc, "placements.placement_detail", placement_id=placement_id)
    return done(_("Evaluation saved."), "placements.placement_detail", placement_id=placement_id)


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
        return refused(exc, "placements.placement_detail", placement_id=placement_id)
    return done(_("Follow-up saved."), "placements.placement_detail", placement_id=placement_id)
