"""Fit score: weighted coverage of required skill levels, with detail and evidence per skill."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from academy.placements.fit import fit, fit_scores, rank_trainees
from academy.placements.matching import break_ties

REQUIRED = {"vision": 3, "python": 2}


@pytest.mark.parametrize(
    ("levels", "weights", "score"),
    [
        ({"vision": 3, "python": 2}, None, 1.0),  # exactly the minimum
        ({"vision": 5, "python": 5}, None, 1.0),  # above the minimum earns nothing extra
        ({}, None, 0.0),  # missing skills count as level 0
        ({"vision": 1.5, "python": 2}, None, 0.75),  # (0.5 + 1) / 2
        ({"vision": 1.5, "python": 2}, {"vision": 3}, 0.625),  # (3*0.5 + 1*1) / 4
        ({"vision": 0, "python": 1}, {"python": 0.5}, 0.1667),  # (0 + 0.5*0.5) / 1.5, rounded
        ({"vision": 3, "python": 2, "sql": 5}, None, 1.0),  # skills not asked for do not count
        ({"vision": 2.9999, "python": 2}, None, 0.9999),  # short by a hair is never a full fit
    ],
)
def test_fit_score_is_weighted_coverage(levels, weights, score):
    assert fit(REQUIRED, levels, weights).score == score


def test_fit_detail_says_met_or_short_by_how_much():
    result = fit(REQUIRED, {"vision": 1.5, "python": 4.0}, evidence={"vision": ["lab3.ipynb"]})
    by_skill = {s.skill: s for s in result.skills}
    assert by_skill["vision"].met is False and by_skill["vision"].shortfall == 1.5
    assert by_skill["vision"].coverage == 0.5 and by_skill["vision"].evidence == ("lab3.ipynb",)
    assert by_skill["python"].met is True and by_skill["python"].shortfall == 0
    assert by_skill["python"].evidence == ()
    assert result.met_all is False and [s.skill for s in result.short] == ["vision"]


def test_a_demand_that_requires_nothing_fits_everyone():
    result = fit({}, {"vision": 2})
    assert result.score == 1.0 and result.skills == () and result.met_all


@pytest.mark.parametrize(
    ("required", "levels", "weights"),
    [
        ({"vision": 0}, {}, None),
        ({"vision": 6}, {}, None),
        ({"vision": 2.5}, {}, None),
        ({"vision": True}, {}, None),
        ({"vision": 2}, {"vision": 5.5}, None),
        ({"vision": 2}, {"vision": -1}, None),
        ({"vision": 2}, {}, {"vision": 0}),
    ],
)
def test_fit_refuses_out_of_range_input(required, levels, weights):
    with pytest.raises(ValueError):
        fit(required, levels, weights)


levels = st.floats(0, 5, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from("abcdef"), st.integers(1, 5), max_size=6),
    st.dictionaries(st.sampled_from("abcdef"), levels, max_size=6),
    st.sampled_from("abcdef"),
    st.floats(0, 5, allow_nan=False),
)
def test_fit_is_in_range_and_never_drops_when_a_level_rises(required, profile, skill, extra):
    before = fit(required, profile).score
    raised = dict(profile, **{skill: min(5.0, profile.get(skill, 0.0) + extra)})
    assert 0.0 <= before <= 1.0
    assert fit(required, raised).score >= before
    assert (before == 1.0) == fit(required, profile).met_all


def test_rank_trainees_best_first_with_evidence_and_threshold():
    profiles = {
        "ana": {"vision": 3, "python": 2},
        "bo": {"vision": 1.5, "python": 2},
        "cy": {"vision": 3, "python": 2},
        "dan": {},
    }
    evidence = {"bo": {"vision": ["lab1.ipynb", "lab2.ipynb"]}}
    ranked = rank_trainees(REQUIRED, profiles, evidence=evidence, min_score=0.5)
    assert [(r.trainee, r.fit.score) for r in ranked] == [("ana", 1.0), ("cy", 1.0), ("bo", 0.75)]
    bo_vision = next(s for s in ranked[2].fit.skills if s.skill == "vision")
    assert bo_vision.evidence == ("lab1.ipynb", "lab2.ipynb")


def test_fit_scores_feed_the_seeded_tie_break():
    profiles = {
        "ana": {"vision": 3, "python": 2},
        "bo": {"vision": 1.5, "python": 2},
        "cy": {"vision": 3, "python": 2},
    }
    scores = fit_scores(REQUIRED, profiles)
    assert scores == {"ana": 1.0, "bo": 0.75, "cy": 1.0}
    ranking = break_ties({"demand": scores}, seed=5)["demand"]
    assert set(ranking[:2]) == {"ana", "cy"} and ranking[2] == "bo"
