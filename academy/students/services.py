"""A trainee's own profile (skills, projects, links). The export of everything kept about them: academy.students.privacy."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from academy.audit.services import record
from academy.auth.models import User
from academy.extensions import db
from academy.skills.models import LEVELS, Skill
from academy.skills.services import SkillRetired, refuse_retired
from academy.students.models import Profile, ProfileSkill, Project
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
    try:  # a retired skill is offered to no one new; a trainee who claimed it already may keep it
        refuse_retired(skills, current)
    except SkillRetired as exc:
        raise ProfileError(str(exc)) from None
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
