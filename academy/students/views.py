"""A trainee's own pages: profile with skills and projects, and the download of all their data."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from academy.courses.forms import skill_levels, with_skill_levels
from academy.extensions import db
from academy.i18n import localized
from academy.policy import Role, allow
from academy.skills.models import Skill
from academy.skills.services import offered_skills
from academy.students import privacy, services
from academy.students.forms import ProfileForm, ProjectForm
from academy.students.models import Project
from academy.transactions import report

bp = Blueprint("students", __name__)


def _skills() -> list[Skill]:
    """The skills the profile form offers: those in use, and the retired ones the trainee already claims."""
    return offered_skills(services.skill_levels_of(current_user))


@bp.route("/my/profile", methods=["GET", "POST"])
@allow(Role.STUDENT)
def profile():
    """Show and change my profile: headline, about, major, phone and the skills I claim."""
    skills = _skills()
    profile = services.profile_of(current_user)
    form = with_skill_levels(ProfileForm, skills, lambda s: localized(s, "name"))(obj=profile)
    if request.method == "GET":
        for skill_id, level in services.skill_levels_of(current_user).items():
            form[f"skill_{skill_id}"].data = level
    if form.validate_on_submit():
        try:
            services.update_profile(
                current_user,
                headline=form.headline.data or "",
                about=form.about.data or "",
                major=form.major.data or "",
                phone=form.phone.data or "",
                skills=skill_levels(form, skills),
            )
        except services.ProfileError as exc:
            report(exc)
        else:
            flash(_("Your profile was saved."), "success")
            return redirect(url_for("students.profile"))
    return render_template(
        "students/profile.html", form=form, skills=skills, project_form=ProjectForm(formdata=None),
        projects=services.projects_of(current_user),
    ), 400 if request.method == "POST" else 200


@bp.post("/my/profile/projects")
@allow(Role.STUDENT)
def add_project():
    """Add a project or portfolio link to my profile."""
    form = ProjectForm()
    if form.validate_on_submit():
        try:
            services.add_project(current_user, form.title.data, form.description.data or "", form.url.data or "")
        except services.ProfileError as exc:
            report(exc)
        else:
            flash(_("Project added."), "success")
            return redirect(url_for("students.profile"))
    skills = _skills()
    profile_form = with_skill_levels(ProfileForm, skills, lambda s: localized(s, "name"))(
        formdata=None, obj=services.profile_of(current_user)
    )
    for skill_id, level in services.skill_levels_of(current_user).items():
        profile_form[f"skill_{skill_id}"].data = level
    return render_template(
        "students/profile.html", form=profile_form, skills=skills, project_form=form,
        projects=services.projects_of(current_user),
    ), 400


@bp.post("/my/profile/projects/<int:project_id>/delete")
@allow(Role.STUDENT)
def remove_project(project_id: int):
    """Remove one of my projects."""
    project = db.get_or_404(Project, project_id)
    if project.user_id != current_user.id:
        abort(404)
    services.remove_project(current_user, project)
    flash(_("Project removed."), "success")
    return redirect(url_for("students.profile"))


@bp.get("/my/data")
@allow(Role.STUDENT)
def my_data():
    """Explain what the portal keeps about me and offer it as JSON or as a zip of CSV files."""
    # The page names the sections only: gathering the data itself waits for a download.
    return render_template("students/my_data.html", sections=privacy.EXPORT_SECTIONS)


@bp.get("/my/data.json")
@allow(Role.STUDENT)
def my_data_json():
    """Download all my data as one JSON document."""
    data = privacy.export_trainee_data(current_user)
    privacy.record_export(current_user, "json")
    return Response(
        privacy.export_json(data),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="my-data-{datetime.now():%Y%m%d}.json"'},
    )


@bp.get("/my/data.zip")
@allow(Role.STUDENT)
def my_data_zip():
    """Download all my data as a zip with one CSV file per section."""
    data = privacy.export_trainee_data(current_user)
    privacy.record_export(current_user, "csv")
    return Response(
        privacy.export_zip(data),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="my-data-{datetime.now():%Y%m%d}.zip"'},
    )
