"""The office's skills catalogue: add, rename, retire (or restore) a skill; delete one nothing names yet."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from academy.extensions import db
from academy.listing import paginate
from academy.policy import Role, allow
from academy.skills import services
from academy.skills.forms import SkillForm, SkillNamesForm
from academy.skills.models import Skill
from academy.transactions import done, refused, report

bp = Blueprint("skills", __name__)


def _form_page(template: str, **context):
    """Show a form page: 200 to fill it in, 400 when what was posted is refused (the page says why)."""
    return render_template(template, **context), 400 if request.method == "POST" else 200


@bp.get("/admin/skills")
@allow(Role.ADMIN)
def catalogue():
    """List the catalogue's skills, in use and retired, searchable."""
    query = sa.select(Skill)
    if request.args.get("retired") == "1":
        query = query.where(Skill.retired_at.is_not(None))
    listing = paginate(query, sortable={"code": Skill.code, "name": Skill.name_ko, "name_en": Skill.name_en},
                       default_sort="code", searchable=[Skill.code, Skill.name_ko, Skill.name_en])
    counts = services.evidence_counts(s.id for s in listing.items)
    return render_template("skills/catalogue.html", listing=listing, counts=counts)


@bp.route("/admin/skills/new", methods=["GET", "POST"])
@allow(Role.ADMIN)
def new_skill():
    """Add a skill to the catalogue."""
    form = SkillForm()
    if form.validate_on_submit():
        try:
            services.add_skill(form.code.data, form.name_ko.data, form.name_en.data)
        except services.SkillError as exc:
            report(exc)
        else:
            return done(_("Skill added."), "skills.catalogue")
    return _form_page("skills/skill_form.html", form=form, skill=None)


@bp.route("/admin/skills/<int:skill_id>/edit", methods=["GET", "POST"])
@allow(Role.ADMIN)
def rename_skill(skill_id: int):
    """Rename a skill (its code and evidence stay)."""
    skill = db.get_or_404(Skill, skill_id)
    form = SkillNamesForm(obj=skill)
    if form.validate_on_submit():
        try:
            services.rename_skill(skill, form.name_ko.data, form.name_en.data)
        except services.SkillError as exc:
            report(exc)
            skill = db.get_or_404(Skill, skill_id)
        else:
            return done(_("Skill renamed."), "skills.catalogue")
    return _form_page("skills/skill_form.html", form=form, skill=skill)


@bp.post("/admin/skills/<int:skill_id>/retire")
@allow(Role.ADMIN)
def retire_skill(skill_id: int):
    """Retire a skill: offered for nothing new, kept wherever it is recorded."""
    services.retire_skill(db.get_or_404(Skill, skill_id))
    return done(_("Skill retired. Evidence already recorded keeps it."), "skills.catalogue")


@bp.post("/admin/skills/<int:skill_id>/restore")
@allow(Role.ADMIN)
def restore_skill(skill_id: int):
    """Offer a retired skill again."""
    services.restore_skill(db.get_or_404(Skill, skill_id))
    return done(_("Skill offered again."), "skills.catalogue")


@bp.post("/admin/skills/<int:skill_id>/delete")
@allow(Role.ADMIN)
def delete_skill(skill_id: int):
    """Delete a skill that nothing names yet."""
    try:
        services.delete_skill(db.get_or_404(Skill, skill_id))
    except services.SkillError as exc:
        return refused(exc, "skills.catalogue")
    return done(_("Skill deleted."), "skills.catalogue")
