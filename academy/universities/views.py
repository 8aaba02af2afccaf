"""The academy office's universities and cohorts."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import contains_eager

from academy.extensions import db
from academy.listing import paginate
from academy.policy import Role, allow
from academy.universities import services
from academy.universities.forms import CohortForm, UniversityForm
from academy.universities.models import Cohort, University
from academy.validators import id_arg, int_arg
from academy.transactions import report

bp = Blueprint("universities", __name__)


def _form_page(template: str, **context):
    """Show a form page: 200 to fill it in, 400 when what was posted is refused (the page says why)."""
    return render_template(template, **context), 400 if request.method == "POST" else 200


def _all_universities() -> list[University]:
    return list(db.session.scalars(sa.select(University).order_by(University.code)))


@bp.get("/admin/universities")
@allow(Role.ADMIN)
def list_universities():
    """List partner universities with their cohorts and seats, searchable and sortable."""
    cohorts = sa.func.count(Cohort.id).label("cohorts")
    capacity = sa.func.coalesce(sa.func.sum(Cohort.capacity), 0).label("capacity")
    enrolled = sa.func.coalesce(sa.func.sum(Cohort.enrolled_count), 0).label("enrolled")
    query = (
        sa.select(University, cohorts, capacity, enrolled)
        .outerjoin(Cohort, Cohort.university_id == University.id)
        .group_by(University.id)
    )
    listing = paginate(
        query,
        sortable={"code": University.code, "name": University.name_ko, "name_en": University.name_en,
                  "city": University.city, "cohorts": cohorts, "capacity": capacity, "enrolled": enrolled},
        default_sort="code",
        searchable=[University.code, University.name_ko, University.name_en],
        scalars=False,
    )
    return render_template("universities/universities.html", listing=listing)


@bp.route("/admin/universities/new", methods=["GET", "POST"])
@allow(Role.ADMIN)
def new_university():
    """Add a partner university."""
    form = UniversityForm()
    if form.validate_on_submit():
        try:
            services.add_university(form.code.data, form.name_ko.data, form.name_en.data, form.city.data)
        except services.UniversityError as exc:
            report(exc)
        else:
            flash(_("University added."), "success")
            return redirect(url_for("universities.list_universities"))
    return _form_page("universities/university_form.html", form=form, university=None)


@bp.route("/admin/universities/<int:university_id>/edit", methods=["GET", "POST"])
@allow(Role.ADMIN)
def edit_university(university_id: int):
    """Edit a partner university's code, names and city."""
    university = db.get_or_404(University, university_id)
    form = UniversityForm(obj=university)
    if form.validate_on_submit():
        try:
            services.update_university(university, code=form.code.data, name_ko=form.name_ko.data,
                                       name_en=form.name_en.data, city=form.city.data)
        except services.UniversityError as exc:
            report(exc)
        else:
            flash(_("University saved."), "success")
            return redirect(url_for("universities.list_universities"))
    return _form_page("universities/university_form.html", form=form, university=university)


@bp.get("/admin/cohorts")
@allow(Role.ADMIN)
def list_cohorts():
    """List every university's cohorts with capacity and enrolment, filterable by university and year."""
    query = sa.select(Cohort).join(Cohort.university).options(contains_eager(Cohort.university))
    university = id_arg("university")  # anything that cannot be an id filters nothing
    if university:
        query = query.where(Cohort.university_id == university)
    year = int_arg("year", 1900, 9999)
    if year:
        query = query.where(Cohort.year == year)
    listing = paginate(
        query,
        sortable={"university": University.code, "year": Cohort.year, "name": Cohort.name,
                  "capacity": Cohort.capacity, "enrolled": Cohort.enrolled_count,
                  "seats": Cohort.capacity - Cohort.enrolled_count},
        default_sort="year",
        searchable=[Cohort.name, University.code, University.name_ko, University.name_en],
    )
    years = list(db.session.scalars(sa.select(Cohort.year).distinct().order_by(Cohort.year.desc())))
    return render_template("universities/cohorts.html", listing=listing, universities=_all_universities(),
                           years=years)


def _cohort_form(**kwargs) -> CohortForm:
    form = CohortForm(**kwargs)
    form.university_id.choices = [(u.id, f"{u.code} · {u.name_ko}") for u in _all_universities()]
    return form


@bp.route("/admin/cohorts/new", methods=["GET", "POST"])
@allow(Role.ADMIN)
def new_cohort():
    """Add a yearly cohort to a university with a capacity."""
    form = _cohort_form(university_id=id_arg("university"))
    if form.validate_on_submit():
        university = db.get_or_404(University, form.university_id.data)
        try:
            services.add_cohort(university, year=form.year.data, name=form.name.data,
                                capacity=form.capacity.data, is_open=form.is_open.data)
        except services.UniversityError as exc:
            report(exc)
        else:
            flash(_("Cohort added."), "success")
            return redirect(url_for("universities.list_cohorts"))
    return _form_page("universities/cohort_form.html", form=form, cohort=None)


@bp.route("/admin/cohorts/<int:cohort_id>/edit", methods=["GET", "POST"])
@allow(Role.ADMIN)
def edit_cohort(cohort_id: int):
    """Edit a cohort; the capacity cannot drop below the trainees already enrolled."""
    cohort = db.get_or_404(Cohort, cohort_id)
    form = _cohort_form(obj=cohort)
    if form.validate_on_submit():
        university = db.get_or_404(University, form.university_id.data)
        try:
            services.update_cohort(cohort, university=university, year=form.year.data, name=form.name.data,
                                   capacity=form.capacity.data, is_open=form.is_open.data)
        except services.UniversityError as exc:
            report(exc)
            cohort = db.get_or_404(Cohort, cohort_id)
        else:
            flash(_("Cohort saved."), "success")
            return redirect(url_for("universities.list_cohorts"))
    return _form_page("universities/cohort_form.html", form=form, cohort=cohort)
