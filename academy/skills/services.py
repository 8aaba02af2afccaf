"""The skills catalogue: the office adds, renames and retires skills; evidence already recorded keeps them."""
from __future__ import annotations

import re
from collections.abc import Iterable

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from academy.audit.services import record
from academy.companies.models import DemandSkill
from academy.courses.models import AssignmentSkill
from academy.extensions import db
from academy.skills.models import Skill
from academy.students.models import ProfileSkill
from academy.util import utcnow

# Codes are what syllabus.toml files name: lowercase words joined by underscores.
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
# Every record that is evidence of, or a requirement for, a skill.
EVIDENCE = (AssignmentSkill, ProfileSkill, DemandSkill)


class SkillError(ValueError):
    """A change the catalogue refuses; the message is shown to the user."""


class SkillRetired(SkillError):
    pass


class SkillHasEvidence(SkillError):
    pass


def offered_skills(keeping: Iterable[int] = ()) -> list[Skill]:
    """Return the skills a form offers: every skill in use, and the retired ones the record already has."""
    kept = list(keeping)
    query = sa.select(Skill).where(sa.or_(Skill.retired_at.is_(None), Skill.id.in_(kept))).order_by(Skill.code)
    return list(db.session.scalars(query))


def refuse_retired(chosen: Iterable[int], had: Iterable[int] = ()) -> None:
    """Refuse a retired skill newly chosen (one the record had already may stay)."""
    new = set(chosen) - set(had)
    if new and db.session.scalar(sa.select(Skill.id).where(Skill.id.in_(new), Skill.retired_at.is_not(None))):
        raise SkillRetired(_l("A retired skill cannot be chosen any more."))


def evidence_count(skill: Skill) -> int:
    """Return how many assignments, profiles and demands name the skill."""
    return sum(
        db.session.scalar(sa.select(sa.func.count()).select_from(model).where(model.skill_id == skill.id)) or 0
        for model in EVIDENCE
    )


def evidence_counts(skill_ids: Iterable[int]) -> dict[int, int]:
    """Return how many assignments, profiles and demands name each skill (0 for none), in one query."""
    ids = list(skill_ids)
    counts = dict.fromkeys(ids, 0)
    if ids:
        named = sa.union_all(*(sa.select(model.skill_id).where(model.skill_id.in_(ids))
                               for model in EVIDENCE)).subquery()
        counts.update(db.session.execute(
            sa.select(named.c.skill_id, sa.func.count()).group_by(named.c.skill_id)).tuples().all())
    return counts


def _names(name_ko: str, name_en: str) -> tuple[str, str]:
    name_ko, name_en = (name_ko or "").strip(), (name_en or "").strip()
    if not (1 <= len(name_ko) <= 80 and 1 <= len(name_en) <= 80):
        raise SkillError(_l("A skill needs a Korean and an English name of at most 80 characters."))
    return name_ko, name_en


def add_skill(code: str, name_ko: str, name_en: str) -> Skill:
    """Add a skill to the catalogue under a new code."""
    code = (code or "").strip()
    if not _CODE.match(code):
        raise SkillError(_l("A skill code is 2-40 lowercase letters, digits or '_', starting with a letter."))
    name_ko, name_en = _names(name_ko, name_en)
    if db.session.scalar(sa.select(Skill.id).where(Skill.code == code)) is not None:
        raise SkillError(_l("The catalogue already has a skill with the code %(code)s.", code=code))
    skill = Skill(code=code, name_ko=name_ko, name_en=name_en)
    db.session.add(skill)
    db.session.flush()
    record("skill.added", obj=skill, detail={"code": code, "name_ko": name_ko, "name_en": name_en})
    return skill


def rename_skill(skill: Skill, name_ko: str, name_en: str) -> Skill:
    """Rename a skill; its code (what syllabi name) and all its evidence stay."""
    name_ko, name_en = _names(name_ko, name_en)
    before = {"name_ko": skill.name_ko, "name_en": skill.name_en}
    skill.name_ko, skill.name_en = name_ko, name_en
    db.session.flush()
    record("skill.renamed", obj=skill, detail={"code": skill.code, "before": before,
                                               "after": {"name_ko": name_ko, "name_en": name_en}})
    return skill


def retire_skill(skill: Skill) -> Skill:
    """Offer the skill for nothing new; every record that names it keeps it."""
    if skill.retired_at is None:
        skill.retired_at = utcnow()
        db.session.flush()
        record("skill.retired", obj=skill, detail={"code": skill.code, "before": None, "after": skill.retired_at})
    return skill


def restore_skill(skill: Skill) -> Skill:
    """Offer a retired skill again."""
    if skill.retired_at is not None:
        before, skill.retired_at = skill.retired_at, None
        db.session.flush()
        record("skill.restored", obj=skill, detail={"code": skill.code, "before": before, "after": None})
    return skill


def delete_skill(skill: Skill) -> None:
    """Remove a skill nothing names yet (one with evidence can only be retired)."""
    if evidence_count(skill):
        raise SkillHasEvidence(_l("This skill has evidence or demands recorded: retire it instead of deleting it."))
    record("skill.deleted", obj=skill, detail={"code": skill.code, "name_ko": skill.name_ko,
                                               "name_en": skill.name_en})
    db.session.delete(skill)
    db.session.flush()
