"""Pages of the admissions domain: coordinators decide on applications, trainees apply."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from academy.admissions import services
from academy.admissions.forms import ApplyForm, ImportForm, MoveForm, WithdrawApplicationForm, WithdrawTraineeForm
from academy.admissions.importer import ImportRejected, import_rows, read_rows
from academy.admissions.models import DECISIONS, Application, ApplicationStatus, Enrollment, EnrollmentStatus
from academy.audit.services import record, record_view
from academy.auth.models import User
from academy.extensions import db
from academy.listing import paginate
from academy.policy import Role, allow
from academy.transactions import discard, report
from academy.ui import STATUS_NAMES
from academy.universities.models import Cohort
from academy.validators import id_arg, refuse_form

bp = Blueprint("admissions", __name__, url_prefix="/admissions")


def _own_cohort(cohort_id: int) -> Cohort:
    """Load a cohort of the signed-in coordinator's university, else 403."""
    cohort = db.get_or_404(Cohort, cohort_id)
    if cohort.university_id != current_user.university_id:
        abort(403)
    return cohort


def _own_application(application_id: int) -> Application:
    application = db.get_or_404(Application, application_id)
    _own_cohort(application.cohort_id)
    return application


def _status_name(status: str) -> str:
    return str(STATUS_NAMES.get(status, status))


# --- coordinator --------------------------------------------------------------------------


@bp.get("/applications")
@allow(Role.COORDINATOR)
def applications():
    """List the applications to the coordinator's cohorts, filtered, searched, sorted and paged."""
    cohort_id = id_arg("cohort")
    if cohort_id:
        _own_cohort(cohort_id)
    # The list opens on the work queue; "all statuses" sends an empty status explicitly.
    status = request.args.get("status", services.WAITING)
    if status not in set(ApplicationStatus) and status != services.WAITING:
        status = ""
    listing = paginate(
        services.applications_query(current_user.university_id, cohort_id or None, status or None),
        sortable={
            "submitted": Application.submitted_at,
            "name": User.name,
            "email": User.email,
            "cohort": Cohort.name,
            "status": Application.status,
        },
        default_sort="submitted",
        searchable=[User.name, User.email],
    )
    return render_template(
        "admissions/applications.html",
        listing=listing,
        cohorts=services.university_cohorts(current_user.university_id),
        statuses=[services.WAITING, *ApplicationStatus],
        cohort_id=cohort_id,
        status=status,
    )


def _render_detail(application: Application, failed: MoveForm | None = None, code: int = 200):
    record_view(application.student_id, "application")
    steps = services.next_steps(application, for_coordinator=True)
    forms = {}
    for step in steps:
        forms[step] = failed if failed is not None and failed.to_status.data == step else MoveForm(to_status=step)
    return render_template(
        "admissions/application.html", application=application, forms=forms, decisions=DECISIONS
    ), code


@bp.get("/applications/<int:application_id>")
@allow(Role.COORDINATOR)
def application_detail(application_id: int):
    """Show one application: motivation, history and the allowed next steps."""
    return _render_detail(_own_application(application_id))


@bp.post("/applications/<int:application_id>/move")
@allow(Role.COORDINATOR)
def move(application_id: int):
    """Move an application to its next status (decisions with a reason)."""
    application = _own_application(application_id)
    form = MoveForm()
    if not form.validate_on_submit():
        return _render_detail(application, failed=form, code=400)
    try:
        services.decide(application, form.to_status.data, current_user, form.reason.data)
    except services.NotYourRecord:
        abort(403)
    except services.AdmissionsError as exc:
        report(exc)
        return _render_detail(db.get_or_404(Application, application_id), code=409)
    flash(_("The application is now %(status)s.", status=_status_name(application.status)), "success")
    return redirect(url_for("admissions.application_detail", application_id=application.id))


@bp.get("/cohorts")
@allow(Role.COORDINATOR)
def cohort_list():
    """List the cohorts of the coordinator's university with seats and waiting applications."""
    return render_template(
        "admissions/cohorts.html",
        cohorts=services.university_cohorts(current_user.university_id),
        waiting=services.open_application_counts(current_user.university_id),
    )


@bp.get("/cohorts/<int:cohort_id>")
@allow(Role.COORDINATOR)
def cohort_roster(cohort_id: int):
    """List a cohort's trainees (active by default), searchable and sortable, with withdrawal."""
    cohort = _own_cohort(cohort_id)
    show = request.args.get("show", "active")
    status = None if show == "all" else (EnrollmentStatus.WITHDRAWN if show == "withdrawn" else EnrollmentStatus.ACTIVE)
    listing = paginate(
        services.roster_query(cohort, status),
        sortable={"name": User.name, "email": User.email, "enrolled": Enrollment.enrolled_at},
        default_sort="name",
        searchable=[User.name, User.email],
    )
    if listing.items:  # the roster names trainees: one audit entry per view, listing them
        services.record_roster_view(cohort, [e.student_id for e in listing.items])
    return render_template(
        "admissions/roster.html", cohort=cohort, listing=listing, show=show, form=WithdrawTraineeForm()
    )


@bp.post("/enrollments/<int:enrollment_id>/withdraw")
@allow(Role.COORDINATOR)
def withdraw_trainee(enrollment_id: int):
    """End a trainee's enrolment, with a reason, freeing the seat."""
    enrollment = db.get_or_404(Enrollment, enrollment_id)
    cohort = _own_cohort(enrollment.cohort_id)
    form = WithdrawTraineeForm()
    if not form.validate_on_submit():
        refuse_form(form)  # no reason, or one too long or naming a resident registration number
    try:
        services.withdraw_trainee(enrollment, current_user, form.reason.data)
    except services.AdmissionsError as exc:
        report(exc)
    else:
        flash(_("%(name)s was withdrawn from the cohort.", name=enrollment.trainee.name), "success")
    return redirect(url_for("admissions.cohort_roster", cohort_id=cohort.id))


@bp.route("/import", methods=["GET", "POST"])
@allow(Role.COORDINATOR)
def import_trainees():
    """Import trainees into the coordinator's cohorts from CSV or XLSX: all rows or none."""
    form = ImportForm()
    if not form.validate_on_submit():
        return render_template("admissions/import.html", form=form), (400 if request.method == "POST" else 200)
    upload = form.file.data
    try:
        result = import_rows(read_rows(upload.read(), upload.filename or ""), current_user.university,
                             current_user._get_current_object())
    except ImportRejected as exc:
        discard()
        return render_template("admissions/import.html", form=form, problems=exc.problems), 422
    except services.AdmissionsError as exc:  # a seat taken by someone else meanwhile
        report(exc)
        return render_template("admissions/import.html", form=form), 409
    record("students.imported", detail={"file": (upload.filename or "")[:200], "created": result.created})
    flash(_("%(n)d trainees imported and enrolled.", n=result.created), "success")
    return render_template("admissions/import.html", form=ImportForm(formdata=None), result=result)


# --- trainee ------------------------------------------------------------------------------


@bp.get("/open")
@allow(Role.STUDENT)
def open_cohorts():
    """List the cohorts taking applications, marking those already applied to."""
    applied = {a.cohort_id: a for a in services.applications_of(current_user)}
    return render_template("admissions/open_cohorts.html", cohorts=services.open_cohorts(), applied=applied)


@bp.route("/open/<int:cohort_id>/apply", methods=["GET", "POST"])
@allow(Role.STUDENT)
def apply(cohort_id: int):
    """Apply to an open cohort with a motivation."""
    cohort = db.get_or_404(Cohort, cohort_id)
    if not cohort.is_open:
        abort(404)
    form = ApplyForm()
    if form.validate_on_submit():
        try:
            services.submit_application(current_user, cohort, form.motivation.data, form.background.data)
        except services.AdmissionsError as exc:
            report(exc)
        else:
            flash(_("Your application was submitted."), "success")
            return redirect(url_for("admissions.my_applications"))
    code = 400 if request.method == "POST" else 200
    return render_template("admissions/apply.html", cohort=cohort, form=form), code


@bp.get("/mine")
@allow(Role.STUDENT)
def my_applications():
    """Show the trainee's applications with their status and history."""
    return render_template(
        "admissions/my_applications.html",
        applications=services.applications_of(current_user),
        form=WithdrawApplicationForm(),
        can_withdraw=services.can_withdraw,
    )


@bp.post("/mine/<int:application_id>/withdraw")
@allow(Role.STUDENT)
def withdraw_my_application(application_id: int):
    """Withdraw one's own application (and seat, when admitted)."""
    application = db.get_or_404(Application, application_id)
    if application.student_id != current_user.id:
        abort(403)
    form = WithdrawApplicationForm()
    if not form.validate_on_submit():
        refuse_form(form)
    try:
        services.withdraw_application(application, current_user, form.reason.data)
    except services.AdmissionsError as exc:
        report(exc)
    else:
        flash(_("Your application was withdrawn."), "success")
    return redirect(url_for("admissions.my_applications"))
