"""Competency profiles from evidence: a trainee's level in a skill, computed from graded work.

Published rule: each assignment evidences skills at a level (1-5). A grade on it earns
`level x score / max score` in each of those skills (the score after any late penalty). A trainee's
level in a skill is the best such value over their graded work, rounded to one decimal; a skill with
no graded evidence is level 0. The best evidence wins so one early weak attempt never lowers a skill
a later assignment proved. Claims a trainee makes on their own profile earn nothing here.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from academy.courses.models import Assignment, AssignmentSkill, Grade
from academy.extensions import db
from academy.skills.models import Skill


@dataclass(frozen=True, slots=True)
class Evidence:
    """One graded assignment behind a skill level."""

    assignment: str
    assignment_id: int
    percent: float
    earned: float


@dataclass(slots=True)
class SkillLevel:
    code: str
    name_ko: str
    name_en: str
    level: float = 0.0
    evidence: list[Evidence] = field(default_factory=list)


def earned_level(skill_level: int, score: float, max_score: float) -> float:
    """Return the level a grade earns in a skill its assignment evidences at `skill_level`."""
    return round(skill_level * max(0.0, min(score / max_score, 1.0)), 1)


def _rows(student_ids: Iterable[int]) -> list[sa.Row]:
    ids = list(student_ids)
    if not ids:
        return []
    query = (
        sa.select(Grade.student_id, Grade.score, Grade.max_score, Assignment.id, Assignment.title_ko,
                  AssignmentSkill.level, Skill.code, Skill.name_ko, Skill.name_en)
        .join(Assignment, Grade.assignment_id == Assignment.id)
        .join(AssignmentSkill, AssignmentSkill.assignment_id == Assignment.id)
        .join(Skill, Skill.id == AssignmentSkill.skill_id)
        .where(Grade.student_id.in_(ids))
        .order_by(Assignment.week, Assignment.id)
    )
    return list(db.session.execute(query))


def competency_profiles(student_ids: Iterable[int]) -> dict[int, dict[str, SkillLevel]]:
    """Compute every listed trainee's skill levels with the graded work behind each."""
    profiles: dict[int, dict[str, SkillLevel]] = defaultdict(dict)
    for sid, score, max_score, aid, title, level, code, name_ko, name_en in _rows(student_ids):
        skill = profiles[sid].setdefault(code, SkillLevel(code, name_ko, name_en))
        earned = earned_level(level, score, max_score)
        skill.evidence.append(Evidence(title, aid, 100.0 * score / max_score, earned))
        skill.level = max(skill.level, earned)
    return dict(profiles)


def competency_profile(student_id: int) -> list[SkillLevel]:
    """Return one trainee's skill levels, strongest first."""
    levels = competency_profiles([student_id]).get(student_id, {})
    return sorted(levels.values(), key=lambda s: (-s.level, s.code))
