"""A trainee's right to their data (PIPA Art. 35): everything the portal keeps about them, in one place.

export_trainee_data gathers it section by section (account, applications, grades, profile, the talent
pipeline's consents, outcomes, offers and placements, and every audit entry about them); export_json and
export_zip write it; record_export logs each download.
"""
from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from academy.admissions.models import Application, Enrollment
from academy.audit.models import AuditEntry
from academy.audit.services import record
from academy.auth.models import User
from academy.courses.models import Assignment, Course, Extension, Grade, course_cohorts
from academy.courses.services import csv_safe
from academy.extensions import db
from academy.placements.models import Consent, MatchOutcome, Offer, Placement
from academy.placements.profiles import competency_profile
from academy.skills.models import Skill
from academy.students.models import Profile, ProfileSkill
from academy.students.services import projects_of
from academy.util import utcnow


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


# The sections of a trainee's export, in order (export_trainee_data builds them; the My data page names them).
EXPORT_SECTIONS = ("account", "applications", "application_history", "enrolments", "profile", "skills", "projects",
                   "grades", "extensions", "audit", "competencies", "consents", "match_outcomes", "offers",
                   "placements")


def export_trainee_data(user: User) -> dict[str, list[dict[str, Any]]]:
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
    for section, rows in pipeline_sections(user).items():
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


def pipeline_sections(user: User) -> dict[str, list[dict[str, Any]]]:
    """Return everything the talent pipeline holds about a trainee, section by section."""
    consents = db.session.scalars(sa.select(Consent).where(Consent.student_id == user.id).order_by(Consent.id))
    outcomes = db.session.scalars(sa.select(MatchOutcome).where(MatchOutcome.student_id == user.id))
    offers = db.session.scalars(sa.select(Offer).where(Offer.student_id == user.id).order_by(Offer.id))
    placements = list(db.session.scalars(sa.select(Placement).where(Placement.student_id == user.id)))
    profile = competency_profile(user.id)
    return {
        "competencies": [
            {"skill": s.code, "level": s.level,
             "evidence": [f"{e.assignment} ({e.percent:.0f}%)" for e in s.evidence]}
            for s in profile
        ],
        "consents": [
            {"demand": c.demand.title, "company": c.demand.company.name, "given_at": _plain(c.given_at),
             "withdrawn_at": _plain(c.withdrawn_at), "choice_rank": c.choice_rank, "notice": c.notice}
            for c in consents
        ],
        "match_outcomes": [
            {"round": o.round_id, "demand": o.demand.title if o.demand else None, "choice": o.choice,
             "explanation": o.explanation_ko}
            for o in outcomes
        ],
        "offers": [
            {"demand": o.demand.title, "status": o.shown_status, "made_at": _plain(o.made_at),
             "deadline_at": _plain(o.deadline_at), "responded_at": _plain(o.responded_at)}
            for o in offers
        ],
        "placements": [
            {"demand": p.demand.title, "status": p.status, "accepted_at": _plain(p.accepted_at),
             "started_at": _plain(p.started_at),
             "evaluations": [{"by": e.by, "rating": e.rating, "comment": e.comment} for e in p.evaluations],
             "follow_ups": [{"months": f.months, "employed": f.employed} for f in p.follow_ups]}
            for p in placements
        ],
    }
