"""Names and menus shown in templates, in the current language."""
from __future__ import annotations

from flask import Flask, current_app, request, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

ROLE_NAMES = {
    "admin": _l("Academy office"),
    "coordinator": _l("University coordinator"),
    "instructor": _l("Instructor"),
    "student": _l("Trainee"),
    "recruiter": _l("Company recruiter"),
    "province": _l("Gyeongsangnam-do provincial office"),
}

STATUS_NAMES = {
    "submitted": _l("submitted"),
    "under_review": _l("under review"),
    "interview": _l("interview"),
    "admitted": _l("admitted"),
    "waitlisted": _l("waitlisted"),
    "rejected": _l("rejected"),
    "withdrawn": _l("withdrawn"),
    "active": _l("active"),
    "completed": _l("completed"),
    "pending": _l("pending approval"),
    "approved": _l("approved"),
    "draft": _l("draft"),
    "closed": _l("closed"),
}

# Review states of companies and demands: "rejected" there means not approved (반려), not an
# admissions refusal (불합격).
REVIEW_STATUS_NAMES = {**STATUS_NAMES, "rejected": _l("not approved")}

# Menu entries per role; an entry whose endpoint is not registered is left out.
NAV = {
    "admin": [
        ("home.admin", _l("Home")),
        ("universities.list_universities", _l("Universities")),
        ("universities.list_cohorts", _l("Cohorts")),
        ("courses.course_list", _l("Courses")),
        ("skills.catalogue", _l("Skills catalogue")),
        ("auth.users", _l("Accounts")),
        ("auth.invitation_list", _l("Invitations")),
        ("mail.outbox", _l("Outbox")),
        ("companies.review_companies", _l("Companies")),
        ("companies.review_demands", _l("Demands")),
        ("placements.office_home", _l("Placements")),
        ("reports.outcomes", _l("Reports")),
        ("privacy.requests", _l("Privacy requests")),
        ("certificates.office", _l("Certificates")),
        ("reports.progress", _l("Training progress")),
        ("audit.entries", _l("Audit log")),
    ],
    "coordinator": [
        ("home.coordinator", _l("Home")),
        ("admissions.applications", _l("Applications")),
        ("admissions.cohort_list", _l("Cohorts")),
        ("auth.invitation_list", _l("Invitations")),
    ],
    "instructor": [
        ("home.instructor", _l("Home")),
        ("courses.my_courses", _l("My courses")),
        ("oauth.notebooks", _l("My notebooks")),
    ],
    "student": [
        ("home.student", _l("Home")),
        ("courses.trainee_courses", _l("My courses")),
        ("submission_pages.my_submissions", _l("My submissions")),
        ("oauth.notebooks", _l("My notebooks")),
        ("admissions.open_cohorts", _l("Apply")),
        ("students.profile", _l("My profile")),
        ("placements.trainee_demands", _l("Demands")),
        ("placements.my_competencies", _l("Competency profile")),
        ("placements.my_placement", _l("My results and offers")),
        ("placements.my_consents", _l("My consents")),
        ("certificates.mine", _l("My certificates")),
        ("students.my_data", _l("My data")),
        ("privacy.mine", _l("My privacy")),
    ],
    "recruiter": [
        ("home.recruiter", _l("Home")),
        ("companies.company_profile", _l("Company")),
        ("companies.my_demands", _l("Demands")),
        ("placements.recruiter_home", _l("Shortlists")),
        ("privacy.mine", _l("My privacy")),
    ],
    "province": [
        ("home.province", _l("Home")),
        ("reports.outcomes", _l("Outcome figures")),
        ("reports.progress", _l("Training progress")),
    ],
}


def nav_items(role: str) -> list[tuple[str, str]]:
    known = current_app.view_functions
    return [(endpoint, label) for endpoint, label in NAV.get(role, []) if endpoint in known]


def menu(role: str) -> Markup:
    """The role's menu as HTML, the current page marked: the same for every request with the same role, language,
    page and mount point, so it is written once per process for each (the layout's url_for and lazy_gettext calls
    were a third of a short page's rendering)."""
    from academy.i18n import language

    menus = current_app.extensions.setdefault("academy_menus", {})  # per app: each has its own endpoints
    key = (role, language(), request.endpoint, request.script_root)
    kept = menus.get(key)
    if kept is None:
        kept = Markup("\n").join(
            Markup('<a href="{}"{}>{}</a>').format(
                url_for(endpoint), Markup(' aria-current="page"') if endpoint == request.endpoint else "", str(label))
            for endpoint, label in nav_items(role))
        if len(menus) < 10_000:  # bounded: roles x languages x endpoints x mount points
            menus[key] = kept
    return kept


def init_app(app: Flask) -> None:
    from academy.companies.models import CITIES, SECTOR_NAMES, SIZE_NAMES

    app.jinja_env.globals.update(
        sector_names=SECTOR_NAMES,
        city_names=CITIES,
        size_names=SIZE_NAMES,
        menu=menu,
        role_name=lambda r: ROLE_NAMES.get(r, r),
        status_name=lambda s: STATUS_NAMES.get(s, s),
        review_status_name=lambda s: REVIEW_STATUS_NAMES.get(s, s),
    )
