"""Each role's home page: what it must do next."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from academy.home import services
from academy.i18n import language
from academy.policy import PUBLIC, Role, allow
from academy.reports import cache

bp = Blueprint("home", __name__)


@bp.get("/")
@allow(PUBLIC)
def index():
    """Send visitors to sign in and users to their role's home."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for(f"home.{current_user.role}"))


@bp.get("/healthz")
@allow(PUBLIC)
def healthz():
    """Answer that the portal process is up, touching nothing else (load balancers; the bare endpoint of
    bench/bench_portal.py)."""
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}


@bp.get("/home/admin")
@allow(Role.ADMIN)
def admin():
    """Show the academy office what waits for it."""
    return render_template("home/admin.html", todo=services.admin_todo())


@bp.get("/home/coordinator")
@allow(Role.COORDINATOR)
def coordinator():
    """Show a coordinator their university's pending applications and cohorts."""
    return render_template("home/coordinator.html", todo=services.coordinator_todo(current_user))


@bp.get("/home/instructor")
@allow(Role.INSTRUCTOR)
def instructor():
    """Show an instructor their courses and upcoming due dates."""
    return render_template("home/instructor.html", todo=services.instructor_todo(current_user))


@bp.get("/home/student")
@allow(Role.STUDENT)
def student():  # the endpoint is home.<role>, and the role is "student"
    """Show a trainee their due dates, latest grades and applications.

    The lists are kept per trainee and language under the version of what they show (academy.reports.cache:
    a write to those tables, or a due date, extension or release time passing, makes a new one), so a second
    view reads one row of versions instead of three queries and a render."""
    lists = cache.kept("trainee_home", (current_user.id, language(), request.script_root), lambda: Markup(
        render_template("home/_student_lists.html", todo=services.trainee_todo(current_user))))
    return render_template("home/student.html", lists=lists)


@bp.get("/home/recruiter")
@allow(Role.RECRUITER)
def recruiter():
    """Show a recruiter their company's status and demands."""
    return render_template("home/recruiter.html", todo=services.recruiter_todo(current_user))


@bp.get("/home/province")
@allow(Role.PROVINCE)
def province():
    """Show the provincial department the academy's figures at a glance (aggregates only)."""
    return render_template("home/province.html", todo=services.province_todo())
