"""Pages of the courses domain: instructors run their courses, trainees follow theirs."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from academy.auth.models import User
from academy.courses import administration, services
from academy.courses.forms import (
    AssignmentForm,
    BulkExtensionForm,
    CourseForm,
    DueDateForm,
    ExtensionForm,
    GradeForm,
    LatePolicyForm,
    skill_levels,
    with_skill_levels,
)
from academy.courses.models import Assignment, Course, DueDate, Extension
from academy.audit.services import record_view
from academy.extensions import db
from academy.i18n import localized
from academy.listing import paginate
from academy.policy import Role, allow
from academy.skills.models import Skill
from academy.skills.services import offered_skills
from academy.universities.models import Cohort
from academy.validators import id_field
from academy.transactions import done, report

bp = Blueprint("courses", __name__)


def _taught_course(course_id: int, *, details: bool = True) -> Course:
    course = services.get_course_outline(course_id, details=details) or abort(404)
    if not services.teaches(current_user, course):
        abort(403)
    return course


def _course_assignment(course: Course, assignment_id: int) -> Assignment:
    assignment = db.get_or_404(Assignment, assignment_id)
    if assignment.course_id != course.id:
        abort(404)
    return assignment


def _skills(assignment: Assignment | None = None) -> list[Skill]:
    """The skills an assignment form offers: those in use, and the retired ones it already evidences."""
    return offered_skills([s.skill_id for s in assignment.skills] if assignment is not None else [])


def _run_course(course_id: int) -> Course:
    """Load a course the office runs, or one the signed-in instructor teaches."""
    course = db.get_or_404(Course, course_id)
    if current_user.role != Role.ADMIN and not services.teaches(current_user, course):
        abort(403)
    return course


def _cohort_arg(course: Course) -> int | None:
    cohort_id = request.args.get("cohort", type=int)
    return cohort_id if any(c.id == cohort_id for c in course.cohorts) else None


# --- instructor -----------------------------------------------------------------------------


@bp.get("/courses/mine")
@allow(Role.INSTRUCTOR)
def my_courses():
    """List the courses the instructor teaches."""
    return render_template("courses/my_courses.html", courses=services.courses_taught(current_user))


@bp.get("/courses/<int:course_id>")
@allow(Role.INSTRUCTOR)
def course_page(course_id: int):
    """Show a taught course with its assignments and each cohort's due dates."""
    course = _taught_course(course_id)
    dues = {(d.assignment_id, d.cohort_id): d for a in course.assignments for d in a.due_dates}
    hub = current_app.config.get("HUB_URL", "http://127.0.0.1:8000").rstrip("/")
    # Each course's formgrader is a hub service only its instructors' group may reach; it opens in its own tab.
    # Keyed by the course's immutable id (academy.integrations.formgrader), never by its nbgrader folder.
    formgrader_url = f"{hub}/services/formgrade-c{course.id}/formgrader"
    return render_template("courses/course.html", course=course, dues=dues, formgrader_url=formgrader_url)


def _assignment_form(course: Course, assignment: Assignment | None):
    skills = _skills(assignment)
    form_class = with_skill_levels(AssignmentForm, skills, lambda s: localized(s, "name"))
    form = form_class(obj=assignment)
    names = services.nbgrader_assignments(course)
    if assignment is not None and assignment.nbgrader_name not in names:
        names = [assignment.nbgrader_name, *names]
    form.nbgrader_name.choices = [(n, n) for n in names]
    if assignment is not None and request.method == "GET":
        for s in assignment.skills:
            form[f"skill_{s.skill_id}"].data = s.level
    return form, skills


@bp.route("/courses/<int:course_id>/assignments/new", methods=["GET", "POST"])
@allow(Role.INSTRUCTOR)
def new_assignment(course_id: int):
    """Add an assignment that names one of the course's nbgrader assignments."""
    return _edit_assignment(_taught_course(course_id), None)


@bp.route("/courses/<int:course_id>/assignments/<int:assignment_id>/edit", methods=["GET", "POST"])
@allow(Role.INSTRUCTOR)
def edit_assignment(course_id: int, assignment_id: int):
    """Change an assignment's nbgrader folder, titles, week, points, skills or GPU flag."""
    course = _taught_course(course_id)
    return _edit_assignment(course, _course_assignment(course, assignment_id))


def _edit_assignment(course: Course, assignment: Assignment | None):
    form, skills = _assignment_form(course, assignment)
    if form.validate_on_submit():
        try:
            services.save_assignment(
                course,
                assignment,
                nbgrader_name=form.nbgrader_name.data,
                title_ko=form.title_ko.data,
                title_en=form.title_en.data,
                week=form.week.data,
                max_points=form.max_points.data,
                needs_gpu=form.needs_gpu.data,
                skills=skill_levels(form, skills),
            )
        except services.CourseError as exc:
            report(exc)
        else:
            flash(_("Assignment saved."), "success")
            return redirect(url_for("courses.course_page", course_id=course.id))
    return render_template(
        "courses/assignment_form.html", course=course, assignment=assignment, form=form, skills=skills
    ), 400 if request.method == "POST" else 200


@bp.route("/courses/<int:course_id>/assignments/<int:assignment_id>/due", methods=["GET", "POST"])
@allow(Role.INSTRUCTOR)
def due_dates(course_id: int, assignment_id: int):
    """Set or change when an assignment is due for each cohort of the course."""
    course = _taught_course(course_id)
    assignment = _course_assignment(course, assignment_id)
    form = DueDateForm()
    form.cohort_id.choices = [(c.id, f"{localized(c.university, 'name')} {c.name}") for c in course.cohorts]
    if form.validate_on_submit():
        cohort = db.session.get(Cohort, form.cohort_id.data)
        try:
            services.set_due_date(
                assignment,
                cohort,
                services.local_to_utc(form.due_at.data),
                services.local_to_utc(form.released_at.data) if form.released_at.data else None,
            )
        except services.CourseError as exc:
            report(exc)
        else:
            flash(_("Due date saved."), "success")
            return redirect(url_for("courses.due_dates", course_id=course.id, assignment_id=assignment.id))
    dues = {d.cohort_id: d for d in db.session.scalars(db.select(DueDate).where(DueDate.assignment_id == assignment.id))}
    status = 400 if request.method == "POST" else 200
    return render_template("courses/due_dates.html", course=course, assignment=assignment, form=form, dues=dues), status


@bp.post("/courses/<int:course_id>/assignments/<int:assignment_id>/release")
@allow(Role.INSTRUCTOR)
def release_now(course_id: int, assignment_id: int):
    """Release an assignment to one cohort now: nbgrader generate_assignment, then open it to fetching."""
    course = _taught_course(course_id)
    assignment = _course_assignment(course, assignment_id)
    back = redirect(url_for("courses.due_dates", course_id=course.id, assignment_id=assignment.id))
    try:
        services.release_now(assignment, id_field("cohort_id"))
    except services.CourseError as exc:
        report(exc)
        return back
    flash(_("Released: the cohort's trainees can fetch it in JupyterLab's Assignments list now."), "success")
    return back


@bp.route("/courses/<int:course_id>/assignments/<int:assignment_id>/extensions", methods=["GET", "POST"])
@allow(Role.INSTRUCTOR)
def extensions(course_id: int, assignment_id: int):
    """List and grant per-trainee extensions of an assignment."""
    course = _taught_course(course_id, details=False)
    assignment = _course_assignment(course, assignment_id)
    form = ExtensionForm()
    form.student_id.choices = services.roster_choices(course, statuses=("active",))
    if form.validate_on_submit():
        trainee = db.session.get(User, form.student_id.data)
        try:
            services.grant_extension(assignment, trainee, services.local_to_utc(form.due_at.data), form.reason.data, current_user)
        except services.CourseError as exc:
            report(exc)
        else:
            flash(_("Extension granted."), "success")
            return redirect(url_for("courses.extensions", course_id=course.id, assignment_id=assignment.id))
    granted = list(
        db.session.scalars(db.select(Extension).where(Extension.assignment_id == assignment.id)
                           .options(selectinload(Extension.trainee)).order_by(Extension.due_at))
    )
    if granted:  # reasons are personal data of the trainees listed
        services.record_course_view(course, "extensions", [e.student_id for e in granted])
    status = 400 if request.method == "POST" else 200
    return render_template(
        "courses/extensions.html", course=course, assignment=assignment, form=form, granted=granted
    ), status


@bp.post("/courses/<int:course_id>/assignments/<int:assignment_id>/extensions/<int:extension_id>/revoke")
@allow(Role.INSTRUCTOR)
def revoke_extension(course_id: int, assignment_id: int, extension_id: int):
    """Take back an extension."""
    course = _taught_course(course_id)
    assignment = _course_assignment(course, assignment_id)
    extension = db.get_or_404(Extension, extension_id)
    if extension.assignment_id != assignment.id:
        abort(404)
    services.revoke_extension(extension)
    flash(_("Extension revoked."), "success")
    return redirect(url_for("courses.extensions", course_id=course.id, assignment_id=assignment.id))


@bp.get("/courses/<int:course_id>/gradebook")
@allow(Role.INSTRUCTOR)
def gradebook(course_id: int):
    """Show the course's gradebook, optionally for one cohort (a logged view of personal data)."""
    course = _taught_course(course_id, details=False)
    cohort_id = _cohort_arg(course)
    book = services.gradebook(course, cohort_id)
    page = render_template("courses/gradebook.html", course=course, book=book, cohort_id=cohort_id)
    services.record_course_view(course, "gradebook", book.student_ids, cohort_id)
    return page


@bp.get("/courses/<int:course_id>/dashboard")
@allow(Role.INSTRUCTOR)
def dashboard(course_id: int):
    """Show the course's dashboard: scores per lab, tests failed most, timeline, late and missing work, trainees
    at risk (a logged view of personal data)."""
    from academy.courses.dashboard import course_dashboard, dashboard_body

    course = _taught_course(course_id, details=False)
    cohort_id = _cohort_arg(course)
    board = course_dashboard(course, cohort_id)
    page = render_template("courses/dashboard.html", course=course, cohort_id=cohort_id,
                           body=dashboard_body(course, cohort_id, board))
    services.record_course_view(course, "dashboard", board.student_ids, cohort_id)
    return page


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(body: str | bytes, mimetype: str, name: str) -> Response:
    """An attachment named name-YYYYMMDD.<ext>; CSV text gets a BOM, which lets Excel read Korean names."""
    ext = "csv" if mimetype == "text/csv" else "xlsx"
    return Response("\ufeff" + body if isinstance(body, str) else body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}-{datetime.now():%Y%m%d}.{ext}"'})


@bp.get("/courses/<int:course_id>/gradebook.csv")
@allow(Role.INSTRUCTOR)
def gradebook_csv(course_id: int):
    """Download the course's gradebook as CSV (a logged view of personal data)."""
    course = _taught_course(course_id, details=False)
    cohort_id = _cohort_arg(course)
    book = services.gradebook(course, cohort_id)
    text = services.gradebook_csv(book)
    services.record_course_view(course, "gradebook.csv", book.student_ids, cohort_id)
    return _download(text, "text/csv", f"gradebook-{course.code}")


@bp.get("/courses/<int:course_id>/gradebook.xlsx")
@allow(Role.INSTRUCTOR)
def gradebook_xlsx(course_id: int):
    """Download the course's gradebook as an Excel workbook (a logged view of personal data)."""
    course = _taught_course(course_id, details=False)
    cohort_id = _cohort_arg(course)
    book = services.gradebook(course, cohort_id)
    blob = services.gradebook_xlsx(book)
    services.record_course_view(course, "gradebook.xlsx", book.student_ids, cohort_id)
    return _download(blob, XLSX, f"gradebook-{course.code}")


@bp.get("/courses/<int:course_id>/assignments/<int:assignment_id>/cells.csv")
@allow(Role.INSTRUCTOR)
def assignment_cells_csv(course_id: int, assignment_id: int):
    """Download one assignment's per-test scores, a row per trainee (a logged view of personal data)."""
    course = _taught_course(course_id, details=False)
    assignment = _course_assignment(course, assignment_id)
    cohort_id = _cohort_arg(course)
    text, student_ids = services.assignment_cells_csv(course, assignment, cohort_id)
    services.record_course_view(course, f"cells.csv:{assignment.nbgrader_name}", student_ids, cohort_id)
    return _download(text, "text/csv", f"tests-{course.code}-{assignment.nbgrader_name}")


@bp.route("/courses/<int:course_id>/assignments/<int:assignment_id>/grades/<int:student_id>", methods=["GET", "POST"])
@allow(Role.INSTRUCTOR)
def grade(course_id: int, assignment_id: int, student_id: int):
    """Enter or change one trainee's score and feedback by hand."""
    course = _taught_course(course_id)
    assignment = _course_assignment(course, assignment_id)
    trainee = db.get_or_404(User, student_id)
    if not any(u.id == trainee.id for u, _c in services.course_trainees(course)):
        abort(404)
    existing = services.get_grade(assignment, trainee)
    form = GradeForm(obj=existing)
    if form.validate_on_submit():
        try:
            services.upsert_grade(
                assignment, trainee, form.score.data, form.feedback.data or "", current_user, form.late_penalty.data or 0.0
            )
        except services.CourseError as exc:
            report(exc)
        else:
            flash(_("Grade saved."), "success")
            return redirect(url_for("courses.gradebook", course_id=course.id))
    record_view(trainee.id, f"grade:{assignment.id}")
    status = 400 if request.method == "POST" else 200
    return render_template(
        "courses/grade_form.html", course=course, assignment=assignment, trainee=trainee, form=form,
        due_at=services.due_for(trainee, assignment),
    ), status


# --- the office: course administration ------------------------------------------------------


def _form_page(template: str, **context):
    """Show a form page: 200 to fill it in, 400 when what was posted is refused (the page says why)."""
    return render_template(template, **context), 400 if request.method == "POST" else 200


def _rows(model, ids: list[int]) -> list:
    """Load the rows of these ids; an id that names nothing is not found."""
    rows = list(db.session.scalars(db.select(model).where(model.id.in_(ids)))) if ids else []
    if len(rows) != len(set(ids)):
        abort(404)
    return rows


def _course_form(course: Course | None) -> CourseForm:
    form = CourseForm(obj=course)
    form.cohort_ids.choices = [(c.id, f"{localized(c.university, 'name')} {c.name}")
                               for c in db.session.scalars(db.select(Cohort).order_by(Cohort.year.desc(), Cohort.name))]
    form.instructor_ids.choices = [(u.id, f"{u.name} · {u.email}") for u in db.session.scalars(
        db.select(User).where(User.role == Role.INSTRUCTOR).order_by(User.name))]
    if course is not None and request.method == "GET":
        form.cohort_ids.data = [c.id for c in course.cohorts]
        form.instructor_ids.data = [u.id for u in course.instructors]
    return form


@bp.get("/admin/courses")
@allow(Role.ADMIN)
def course_list():
    """List every course with its folder, cohorts, instructors and whether it is archived, searchable."""
    listing = paginate(
        administration.courses_query(request.args.get("archived")),
        sortable={"code": Course.code, "title": Course.title_ko, "folder": Course.nbgrader_course},
        default_sort="code",
        searchable=[Course.code, Course.title_ko, Course.title_en, Course.nbgrader_course],
    )
    return render_template("courses/admin_courses.html", listing=listing)


@bp.route("/admin/courses/new", methods=["GET", "POST"])
@allow(Role.ADMIN)
def new_course():
    """Create a course on an nbgrader course folder, with its cohorts, instructors and late policy."""
    return _save_course(None)


@bp.route("/admin/courses/<int:course_id>/edit", methods=["GET", "POST"])
@allow(Role.ADMIN)
def edit_course(course_id: int):
    """Change a course's code, titles, folder, cohorts, instructors or late policy."""
    return _save_course(db.get_or_404(Course, course_id))


def _save_course(course: Course | None):
    form = _course_form(course)
    if form.validate_on_submit():
        try:
            administration.save_course(
                course, code=form.code.data, title_ko=form.title_ko.data, title_en=form.title_en.data,
                folder=form.nbgrader_course.data.strip(), cohorts=_rows(Cohort, form.cohort_ids.data or []),
                instructors=_rows(User, form.instructor_ids.data or []),
                late_percent_per_day=form.late_percent_per_day.data, late_max_deduction=form.late_max_deduction.data,
                late_cutoff_days=form.late_cutoff_days.data,
            )
        except services.CourseError as exc:
            report(exc)
            course = db.session.get(Course, course.id) if course is not None else None
        else:
            return done(_("Course saved."), "courses.course_list")
    return _form_page("courses/course_form.html", form=form, course=course, folders=administration.course_folders())


@bp.post("/admin/courses/<int:course_id>/archive")
@allow(Role.ADMIN)
def archive_course(course_id: int):
    """Archive a course: hidden from trainees' lists, closed to releases, its history kept."""
    administration.archive_course(db.get_or_404(Course, course_id))
    return done(_("Course archived."), "courses.course_list")


@bp.post("/admin/courses/<int:course_id>/unarchive")
@allow(Role.ADMIN)
def unarchive_course(course_id: int):
    """Bring an archived course back."""
    administration.unarchive_course(db.get_or_404(Course, course_id))
    return done(_("Course restored."), "courses.course_list")


@bp.route("/courses/<int:course_id>/late-policy", methods=["GET", "POST"])
@allow(Role.ADMIN, Role.INSTRUCTOR)
def late_policy(course_id: int):
    """Set the course's late policy: percent per day, maximum deduction, cut-off (office or its instructors)."""
    course = _run_course(course_id)
    form = LatePolicyForm(obj=course)
    if form.validate_on_submit():
        try:
            administration.set_late_policy(course, form.late_percent_per_day.data, form.late_max_deduction.data,
                                           form.late_cutoff_days.data)
        except services.CourseError as exc:
            report(exc)
            course = db.get_or_404(Course, course_id)
        else:
            return done(_("Late policy saved."), "courses.late_policy", course_id=course.id)
    return _form_page("courses/late_policy.html", form=form, course=course)


@bp.route("/courses/<int:course_id>/assignments/<int:assignment_id>/extensions/bulk", methods=["GET", "POST"])
@allow(Role.ADMIN, Role.INSTRUCTOR)
def bulk_extensions(course_id: int, assignment_id: int):
    """Grant one assignment's extension to several trainees at once (ticked, or a whole cohort): all or none."""
    course = _run_course(course_id)
    assignment = _course_assignment(course, assignment_id)
    roster = services.course_trainees(course, statuses=("active",))
    form = BulkExtensionForm()
    form.student_ids.choices = [(u.id, f"{u.name} · {c.name}") for u, c in roster]
    form.cohort_id.choices = [(0, "—")] + [(c.id, f"{localized(c.university, 'name')} {c.name}") for c in course.cohorts]
    if form.validate_on_submit():
        ids = list(form.student_ids.data or [])
        ids += [u.id for u, c in roster if form.cohort_id.data and c.id == form.cohort_id.data]
        try:
            count = administration.grant_extensions(
                assignment, ids, [u for u, _c in roster], reason=form.reason.data, by=current_user,
                days=form.days.data, due_at=services.local_to_utc(form.due_at.data) if form.due_at.data else None,
            )
        except services.CourseError as exc:
            report(exc)
        else:
            return done(_("Extensions granted: %(count)s.", count=count), "courses.bulk_extensions",
                        course_id=course.id, assignment_id=assignment.id)
    return _form_page("courses/bulk_extensions.html", form=form, course=course, assignment=assignment)


# --- trainee --------------------------------------------------------------------------------


def _my_course(course_id: int) -> Course:
    course = db.get_or_404(Course, course_id)
    if not services.takes(current_user, course):
        abort(403)
    return course


@bp.get("/my/courses")
@allow(Role.STUDENT)
def trainee_courses():
    """List my courses with every assignment's due date for me, my score and feedback."""
    mine = services.trainee_courses(current_user)
    rows = services.my_assignments_in(current_user, mine)
    courses = [(c, rows.get(c.id, [])) for c in mine]
    return render_template("courses/trainee_courses.html", courses=courses)


@bp.app_template_global("progress_chart")
def _progress_chart(rows: list) -> str:
    from academy.charts import progress_chart

    return progress_chart(rows)


@bp.app_template_global("gradebook_body")
def _gradebook_body(book: services.Gradebook) -> str:
    from academy.courses.tables import gradebook_body

    return gradebook_body(book)


@bp.get("/my/courses/<int:course_id>")
@allow(Role.STUDENT)
def trainee_course(course_id: int):
    """Show one of my courses: assignments, due dates for me, scores, late penalties, feedback."""
    course = _my_course(course_id)
    return render_template("courses/trainee_course.html", course=course, rows=services.my_assignments(current_user, course))
