"""A trainee's own profile (skills, projects, links) and the export of everything kept about them."""
from __future__ import annotations

import csv
import importlib
import io
import json
import re
import zipfile
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from academy.admissions.models import Application, Enrollment
from academy.audit.models import AuditEntry
from academy.audit.services import record
from academy.auth.models import User
from academy.courses.models import Assignment, Course, Extension, Grade, course_cohorts
from academy.courses.services import csv_safe
from academy.extensions import db
from academy.skills.models import LEVELS, Skill
from academy.students.models import Profile, ProfileSkill, Project
from academy.util import utcnow
from academy.validators import RRN_MESSAGE, looks_like_rrn


class ProfileError(ValueError):
    """A profile change that breaks a rule; the message is shown to the user."""


def _refuse_rrn(*texts: str) -> None:
    # Forms refuse it already; the service says so too, for imports, the API and the CLI.
    if any(looks_like_rrn(t) for t in texts):
        raise ProfileError(RRN_MESSAGE)


# Korean numbers: mobile 01X, Seoul 02, the regions' 0XX, and 070 internet phones.
_PHONE = re.compile(r"^(01[016789]|02|0(?:3[1-3]|4[1-4]|5[1-5]|6[1-4]|70))(\d{3,4})(\d{4})$")


def normalize_phone(value: str) -> str:
    """Return a Korean phone number as 010-1234-5678, or raise ProfileError; '' stays ''."""
    digits = re.sub(r"[\s().-]", "", value or "")
    if not digits:
        return ""
    if digits.startswith("+82"):
        digits = "0" + digits[3:].lstrip("0")
    match = _PHONE.match(digits)
    if not match:
        raise ProfileError(_l("Enter a Korean phone number such as 010-1234-5678."))
    return "-".join(match.groups())


def is_web_url(value: str) -> bool:
    """Return True for an absolute http(s) address with a host (no javascript:, data:, files)."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname) and not any(c.isspace() for c in value.strip())


def profile_of(user: User) -> Profile:
    """Return the trainee's profile; before their first save, an empty one that is not stored (showing writes nothing)."""
    return db.session.get(Profile, user.id) or Profile(user_id=user.id, headline="", about="", phone="", major="")


def _stored_profile(user: User) -> Profile:
    """Return the trainee's stored profile, storing an empty one on first use."""
    profile = profile_of(user)
    if profile not in db.session:
        db.session.add(profile)
        db.session.flush()
    return profile


def update_profile(user: User, *, headline: str, about: str, major: str, phone: str, skills: dict[int, int]) -> Profile:
    """Change the trainee's own profile and self-declared skill levels."""
    _refuse_rrn(headline, about, major, phone)
    profile = _stored_profile(user)
    phone = normalize_phone(phone)
    known = set(db.session.scalars(sa.select(Skill.id).where(Skill.id.in_(list(skills)))))
    if set(skills) - known or any(level not in LEVELS for level in skills.values()):
        raise ProfileError(_l("Choose skills from the catalogue with levels 1 to 5."))
    before = {"headline": profile.headline, "major": profile.major, "phone": bool(profile.phone)}
    profile.headline, profile.about, profile.major, profile.phone = headline.strip(), about.strip(), major.strip(), phone
    current = {s.skill_id: s for s in db.session.scalars(sa.select(ProfileSkill).where(ProfileSkill.user_id == user.id))}
    for skill_id, row in current.items():
        if skill_id not in skills:
            db.session.delete(row)
        else:
            row.level = skills[skill_id]
    for skill_id, level in skills.items():
        if skill_id not in current:
            db.session.add(ProfileSkill(user_id=user.id, skill_id=skill_id, level=level))
    db.session.flush()
    record("profile.updated", subject_user_id=user.id, obj=profile, detail={"before": before, "skills": skills})
    return profile


def skill_levels_of(user: User) -> dict[int, int]:
    return {s.skill_id: s.level for s in db.session.scalars(sa.select(ProfileSkill).where(ProfileSkill.user_id == user.id))}


def projects_of(user: User) -> list[Project]:
    return list(db.session.scalars(sa.select(Project).where(Project.user_id == user.id).order_by(Project.id)))


def add_project(user: User, title: str, description: str, url: str) -> Project:
    """Add a project or portfolio link to the trainee's profile."""
    _refuse_rrn(title, description, url)
    url = url.strip()
    if url and not is_web_url(url):
        raise ProfileError(_l("A link must start with http:// or https://."))
    if not title.strip():
        raise ProfileError(_l("A project needs a title."))
    project = Project(user_id=user.id, title=title.strip(), description=description.strip(), url=url)
    db.session.add(project)
    db.session.flush()
    record("profile.project_added", subject_user_id=user.id, obj=project, detail={"title": project.title})
    return project


def remove_project(user: User, project: Project) -> None:
    """Remove one of the trainee's own projects."""
    if project.user_id != user.id:
        raise ProfileError(_l("That project is not yours."))
    record("profile.project_removed", subject_user_id=user.id, obj=project, detail={"title": project.title})
    db.session.delete(project)
    db.session.flush()


# --- export of a trainee's data --------------------------------------------------------------

# The placements package (consents, offers, placements) adds its sections through this hook
# when it is installed: export_student_data(user) -> {section: [row dict, ...]}.
PLACEMENTS_EXPORT = "academy.placements.services:export_student_data"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _rows(objs, columns: list[str]) -> list[dict[str, Any]]:
    return [{c: _plain(getattr(o, c)) for c in columns} for o in objs]


def _user_name(user_id: int | None) -> str | None:
    user = db.session.get(User, user_id) if user_id is not None else None
    return user.name if user else None


def _user_role(user_id: int | None) -> str | None:
    user = db.session.get(User, user_id) if user_id is not None else None
    return user.role if user else None


def _audit_about(user: User) -> list[AuditEntry]:
    """Return audit entries about the user, gradebook-style views that listed them included."""
    own = list(
        db.session.scalars(sa.select(AuditEntry).where(AuditEntry.subject_user_id == user.id).order_by(AuditEntry.id))
    )
    # Course pages and cohort rosters that show many trainees log one entry per view, listing them in
    # the detail; only the trainee's own cohorts and their courses can have listed them.
    cohort_ids = sa.select(Enrollment.cohort_id).where(Enrollment.student_id == user.id)
    course_ids = sa.select(course_cohorts.c.course_id).where(course_cohorts.c.cohort_id.in_(cohort_ids))
    listed = db.session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.action == "personal_data.viewed", AuditEntry.subject_user_id.is_(None),
               sa.or_(sa.and_(AuditEntry.object_type == "courses", AuditEntry.object_id.in_(course_ids)),
                      sa.and_(AuditEntry.object_type == "cohorts", AuditEntry.object_id.in_(cohort_ids))))
        .order_by(AuditEntry.id)
    )
    for entry in listed:
        try:
            ids = json.loads(entry.detail or "{}").get("student_ids", [])
        except ValueError:
            continue
        if user.id in ids:
            own.append(entry)
    return sorted(own, key=lambda e: e.id)


def _audit_detail(entry: AuditEntry) -> Any:
    try:
        detail = json.loads(entry.detail) if entry.detail else None
    except ValueError:
        return entry.detail
    if isinstance(detail, dict) and "student_ids" in detail:
        detail = {k: v for k, v in detail.items() if k != "student_ids"}  # other trainees are not mine to see
    return detail


def _placements_export(user: User) -> dict[str, list[dict[str, Any]]]:
    module_name, _, attr = PLACEMENTS_EXPORT.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return {}  # the placements package is not part of this installation
        raise
    export = getattr(module, attr, None)
    return export(user) if export else {}


def export_student_data(user: User) -> dict[str, list[dict[str, Any]]]:
    """Gather everything the portal keeps about the trainee, one list of rows per section."""
    applications = list(
        db.session.scalars(sa.select(Application).where(Application.student_id == user.id).order_by(Application.id))
    )
    enrolments = list(
        db.session.scalars(sa.select(Enrollment).where(Enrollment.student_id == user.id).order_by(Enrollment.id))
    )
    profile = db.session.get(Profile, user.id)
    skills = db.session.execute(
        sa.select(ProfileSkill, Skill).join(Skill, Skill.id == ProfileSkill.skill_id)
        .where(ProfileSkill.user_id == user.id).order_by(Skill.code)
    ).all()
    grades = db.session.execute(
        sa.select(Grade, Assignment, Course).join(Assignment, Assignment.id == Grade.assignment_id)
        .join(Course, Course.id == Assignment.course_id).where(Grade.student_id == user.id).order_by(Grade.id)
    ).all()
    extensions = db.session.execute(
        sa.select(Extension, Assignment, Course).join(Assignment, Assignment.id == Extension.assignment_id)
        .join(Course, Course.id == Assignment.course_id).where(Extension.student_id == user.id).order_by(Extension.id)
    ).all()
    data: dict[str, list[dict[str, Any]]] = {
        "account": [{
            **_rows([user], ["id", "email", "name", "role", "locale", "is_enabled", "created_at", "last_login_at"])[0],
            "university": user.university.name_ko if user.university else None,
        }],
        "applications": [
            {**_rows([a], ["id", "cohort_id", "status", "motivation", "background", "submitted_at", "decided_at",
                           "decision_reason"])[0],
             "cohort": a.cohort.name, "university": a.cohort.university.name_ko}
            for a in applications
        ],
        "application_history": [
            {"application_id": a.id, "from_status": e.from_status, "to_status": e.to_status, "reason": e.reason,
             "at": _plain(e.at), "by": _user_name(e.by_id)}
            for a in applications for e in a.events
        ],
        "enrolments": [
            {**_rows([e], ["id", "cohort_id", "status", "enrolled_at", "ended_at", "end_reason"])[0],
             "cohort": e.cohort.name, "university": e.cohort.university.name_ko}
            for e in enrolments
        ],
        "profile": _rows([profile], ["headline", "about", "major", "phone"]) if profile else [],
        "skills": [{"code": s.code, "name_ko": s.name_ko, "name_en": s.name_en, "level": ps.level} for ps, s in skills],
        "projects": _rows(projects_of(user), ["id", "title", "description", "url"]),
        "grades": [
            {"course": c.code, "assignment": a.nbgrader_name, "title_ko": a.title_ko, "title_en": a.title_en,
             **_rows([g], ["score", "max_score", "late_penalty", "feedback", "source", "updated_at"])[0],
             "graded_by": _user_name(g.graded_by_id)}
            for g, a, c in grades
        ],
        "extensions": [
            {"course": c.code, "assignment": a.nbgrader_name, "due_at": _plain(e.due_at), "reason": e.reason,
             "granted_at": _plain(e.granted_at), "granted_by": _user_name(e.granted_by_id)}
            for e, a, c in extensions
        ],
        "audit": [
            {"at": _plain(e.at), "action": e.action, "by": _user_name(e.actor_id),
             "by_role": _user_role(e.actor_id),
             "object_type": e.object_type, "object_id": e.object_id, "detail": _audit_detail(e)}
            for e in _audit_about(user)
        ],
    }
    for section, rows in _placements_export(user).items():
        data[f"placements_{section}" if section in data else section] = rows
    return data


def record_export(user: User, fmt: str) -> None:
    """Log that the trainee downloaded their data."""
    record("personal_data.exported", subject_user_id=user.id, detail={"format": fmt})


def export_json(data: dict[str, list[dict[str, Any]]]) -> str:
    return json.dumps(
        {"exported_at": utcnow().isoformat(), **data}, ensure_ascii=False, indent=2, default=str
    )


def export_zip(data: dict[str, list[dict[str, Any]]]) -> bytes:
    """Write one CSV per section into a zip (UTF-8 with BOM so spreadsheets read Korean)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for section, rows in data.items():
            columns: list[str] = []
            for row in rows:
                columns += [k for k in row if k not in columns]
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([csv_safe(_cell(row.get(c))) for c in columns])
            archive.writestr(f"{section}.csv", "\ufeff" + out.getvalue())
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value
