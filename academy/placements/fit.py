"""Fit of a trainee for a demand: how well their skill levels cover what the demand requires.

Published criterion (PIPA Art. 37-2: the criteria of automated processing must be public).

A demand lists required skills, each with a minimum level from 1 to 5 and an optional weight
(default 1). A trainee's competency profile gives a level from 0 to 5 for each skill, earned from
graded work; a skill missing from the profile counts as level 0. For each required skill k:

    coverage_k = min(level_k / required_k, 1)

so meeting or passing the minimum counts fully, and falling short counts in proportion. The fit is
the weighted mean of the coverages, rounded to 4 decimal places:

    fit = round(sum_k(weight_k * coverage_k) / sum_k(weight_k), 4)

A fit of 1 means every minimum is met (a trainee who misses one by a hair gets 0.9999, never 1);
a demand that requires nothing gives everyone 1. Levels above the minimum earn nothing extra, so a
trainee is never ranked above another for a skill the demand did not ask for or beyond what it
asked. The rounding makes equal fits exactly equal, so their order
is settled by the match round's published lottery (`matching.break_ties`) and not by rounding noise.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

MIN_REQUIRED, MAX_REQUIRED = 1, 5
MAX_LEVEL = 5.0


@dataclass(frozen=True, slots=True)
class SkillFit:
    """How one trainee meets one required skill."""

    skill: str
    required: int
    level: float
    weight: float
    coverage: float  # min(level / required, 1)
    shortfall: float  # levels still missing; 0 when met
    evidence: tuple[object, ...] = ()  # passed through untouched, e.g. graded notebooks

    @property
    def met(self) -> bool:
        """Say whether the trainee reaches the required level."""
        return self.shortfall == 0


@dataclass(frozen=True, slots=True)
class Fit:
    """A trainee's fit for a demand, with the detail per required skill."""

    score: float
    skills: tuple[SkillFit, ...]

    @property
    def met_all(self) -> bool:
        """Say whether every required level is reached."""
        return all(s.met for s in self.skills)

    @property
    def short(self) -> tuple[SkillFit, ...]:
        """List the required skills the trainee falls short of."""
        return tuple(s for s in self.skills if not s.met)


@dataclass(frozen=True, slots=True)
class RankedTrainee:
    """One line of a demand's shortlist."""

    trainee: Hashable
    fit: Fit


def fit(
    required: Mapping[str, int],
    levels: Mapping[str, float],
    weights: Mapping[str, float] | None = None,
    evidence: Mapping[str, Iterable[object]] | None = None,
) -> Fit:
    """Score how a trainee's skill levels cover a demand's required levels (see the module docstring)."""
    weights = weights or {}
    evidence = evidence or {}
    details = []
    for skill in sorted(required):  # a fixed order keeps the float sum the same for equal inputs
        need = required[skill]
        if isinstance(need, bool) or not isinstance(need, int) or not MIN_REQUIRED <= need <= MAX_REQUIRED:
            raise ValueError(f"required level for {skill!r} must be an integer 1..5, got {need!r}")
        level = float(levels.get(skill, 0.0))
        if not 0.0 <= level <= MAX_LEVEL:
            raise ValueError(f"level for {skill!r} must be within 0..5, got {level!r}")
        weight = float(weights.get(skill, 1.0))
        if not weight > 0:
            raise ValueError(f"weight for {skill!r} must be above 0, got {weight!r}")
        details.append(
            SkillFit(
                skill=skill,
                required=need,
                level=level,
                weight=weight,
                coverage=min(level / need, 1.0),
                shortfall=max(need - level, 0.0),
                evidence=tuple(evidence.get(skill, ())),
            )
        )
    total = sum(d.weight for d in details)
    score = round(sum(d.weight * d.coverage for d in details) / total, 4) if details else 1.0
    if score == 1.0 and any(d.shortfall for d in details):
        score = 0.9999  # rounding must not show a trainee who misses a minimum as a full fit
    return Fit(score, tuple(details))


def rank_trainees(
    required: Mapping[str, int],
    profiles: Mapping[Hashable, Mapping[str, float]],
    weights: Mapping[str, float] | None = None,
    evidence: Mapping[Hashable, Mapping[str, Iterable[object]]] | None = None,
    min_score: float = 0.0,
) -> list[RankedTrainee]:
    """Rank trainees by fit, best first, keeping those at or above `min_score`.

    Equal fits keep the order of `profiles`; a match round breaks them with its seeded lottery instead.
    """
    evidence = evidence or {}
    ranked = [
        RankedTrainee(t, fit(required, levels, weights, evidence.get(t)))
        for t, levels in profiles.items()
    ]
    ranked = [r for r in ranked if r.fit.score >= min_score]
    ranked.sort(key=lambda r: -r.fit.score)  # sort is stable, so ties keep the input order
    return ranked


def fit_scores(
    required: Mapping[str, int],
    profiles: Mapping[Hashable, Mapping[str, float]],
    weights: Mapping[str, float] | None = None,
) -> dict[Hashable, float]:
    """Give each trainee's fit score, the input `matching.break_ties` turns into a demand's list."""
    return {t: fit(required, levels, weights).score for t, levels in profiles.items()}
