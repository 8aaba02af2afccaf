"""Deferred acceptance: stable, trainee-optimal, equal to the `matching` package, and explained."""
from __future__ import annotations

import itertools
import random
import sys
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matching.games import HospitalResident

from academy.placements.explain import render, render_why_not
from academy.placements.matching import Reason, audit, break_ties, match, match_scored


@st.composite
def instances(draw, max_students=12, max_demands=6, max_capacity=3):
    """Draw rank lists where either side may leave out the other, and capacities from 0."""
    n = draw(st.integers(0, max_students))
    m = draw(st.integers(1, max_demands))
    students = [f"s{i}" for i in range(n)]
    demands = [f"d{j}" for j in range(m)]
    student_prefs = {}
    for s in students:
        ranked = draw(st.permutations(demands))
        student_prefs[s] = ranked[: draw(st.integers(0, m))]
    demand_prefs = {}
    for d in demands:
        ranked = draw(st.permutations(students)) if students else []
        demand_prefs[d] = ranked[: draw(st.integers(0, len(ranked)))]
    capacities = {d: draw(st.integers(0, max_capacity)) for d in demands}
    return student_prefs, demand_prefs, capacities


def package_match(student_prefs, demand_prefs, capacities):
    """Solve with the `matching` package, after dropping what it refuses (empty lists, no places)."""
    open_ = {d for d, c in capacities.items() if c > 0}
    mutual = {
        s: [d for d in prefs if d in open_ and s in demand_prefs.get(d, ())]
        for s, prefs in student_prefs.items()
    }
    residents = {s: p for s, p in mutual.items() if p}
    hospitals = {
        d: [s for s in demand_prefs.get(d, ()) if d in residents.get(s, ())] for d in open_
    }
    hospitals = {d: p for d, p in hospitals.items() if p}
    residents = {s: [d for d in p if d in hospitals] for s, p in residents.items()}
    residents = {s: p for s, p in residents.items() if p}
    result = dict.fromkeys(student_prefs)
    if not residents:
        return result
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))  # it deep-copies its player graph recursively (#139)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            game = HospitalResident.create_from_dictionaries(
                residents, hospitals, {d: capacities[d] for d in hospitals}
            )
            solution = game.solve(optimal="resident")
    finally:
        sys.setrecursionlimit(limit)
    for hospital, taken in solution.items():
        for resident in taken:
            result[resident.name] = hospital.name
    return result


def position(prefs, demand):
    """Place of `demand` in a trainee's list; being unplaced is worst."""
    return prefs.index(demand) if demand is not None else len(prefs)


@settings(max_examples=300, deadline=None)
@given(instances())
def test_match_is_stable_and_respects_capacities_and_rank_lists(instance):
    result = match(*instance)
    report = audit(*instance, result.assignment)
    assert report.ok, report
    assert set(result.assignment) == set(instance[0])
    for d, taken in result.placements.items():
        assert all(result.assignment[s] == d for s in taken)
        ranking = instance[1][d]
        assert list(taken) == sorted(taken, key=ranking.index)  # best-ranked first


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_match_equals_the_matching_package(instance):
    assert dict(match(*instance).assignment) == package_match(*instance)


@settings(max_examples=150, deadline=None)
@given(instances(max_students=5, max_demands=3, max_capacity=2))
def test_match_is_trainee_optimal_among_all_stable_matchings(instance):
    student_prefs, demand_prefs, capacities = instance
    students = list(student_prefs)
    options = [
        [None] + [d for d in student_prefs[s] if s in demand_prefs[d]] for s in students
    ]
    ours = match(*instance).assignment
    assert audit(*instance, ours).ok
    for choice in itertools.product(*options):
        candidate = dict(zip(students, choice))
        if audit(*instance, candidate).ok:
            for s in students:
                assert position(student_prefs[s], ours[s]) <= position(student_prefs[s], candidate[s])


@settings(max_examples=200, deadline=None)
@given(instances())
def test_every_explanation_is_true(instance):
    student_prefs, demand_prefs, capacities = instance
    result = match(*instance)
    for s, prefs in student_prefs.items():
        explanation = result.explanations[s]
        assert explanation.demand == result.assignment[s]
        placed_at = position(prefs, explanation.demand)
        assert explanation.choice == (None if explanation.demand is None else placed_at + 1)
        assert [w.demand for w in explanation.preferred] == list(dict.fromkeys(prefs[:placed_at]))
        for why in explanation.preferred:
            ranking = demand_prefs[why.demand]
            if why.reason is Reason.NOT_RANKED_BY_DEMAND:
                assert s not in ranking
            elif why.reason is Reason.NO_PLACES:
                assert capacities[why.demand] == 0 and s in ranking
            else:
                assert why.reason is Reason.FILLED_BY_HIGHER
                taken = result.placements[why.demand]
                assert len(taken) == capacities[why.demand]
                assert all(ranking.index(t) < ranking.index(s) for t in taken)
                assert why.rank_there == ranking.index(s) + 1
                assert why.lowest_admitted == max(ranking.index(t) for t in taken) + 1


def test_audit_finds_blocking_pairs_overfilling_and_unranked_placements():
    student_prefs = {"a": ["x", "y"], "b": ["x"], "c": ["y"]}
    demand_prefs = {"x": ["a", "b"], "y": ["a"]}
    capacities = {"x": 1, "y": 1}
    report = audit(student_prefs, demand_prefs, capacities, {"a": "y", "b": "x", "c": "y"})
    assert report.blocking_pairs == (("a", "x"),)
    assert report.over_capacity == ("y",)
    assert report.unranked == (("c", "y"),)
    assert not report.ok


def test_a_bigger_random_round_equals_the_matching_package():
    rng = random.Random(7)
    demands = [f"d{j}" for j in range(60)]
    student_prefs = {f"s{i}": rng.sample(demands, 8) for i in range(400)}
    demand_prefs = {d: [] for d in demands}
    for s, prefs in student_prefs.items():
        for d in prefs:
            if rng.random() < 0.9:  # some demands leave out some applicants
                demand_prefs[d].append(s)
    for ranking in demand_prefs.values():
        rng.shuffle(ranking)
    capacities = {d: rng.randint(0, 6) for d in demands}
    result = match(student_prefs, demand_prefs, capacities)
    assert dict(result.assignment) == package_match(student_prefs, demand_prefs, capacities)
    assert audit(student_prefs, demand_prefs, capacities, result.assignment).ok


# A small round worked by hand:
#   ana asks x then y, bo asks x then y, cy asks w, z, y; x takes bo over ana, y takes ana over cy,
#   z ranks nobody and w has no places. ana is bumped from x by bo and lands at y; cy gets nothing.
ROUND = (
    {"ana": ["x", "y"], "bo": ["x", "y"], "cy": ["w", "z", "y"]},
    {"x": ["bo", "ana"], "y": ["ana", "cy"], "z": [], "w": ["cy"]},
    {"x": 1, "y": 1, "z": 2, "w": 0},
)


def test_worked_round_places_by_hand_result():
    result = match(*ROUND)
    assert dict(result.assignment) == {"ana": "y", "bo": "x", "cy": None}
    assert dict(result.placements) == {"x": ("bo",), "y": ("ana",), "z": (), "w": ()}
    assert result.seed is None


def test_explanation_names_the_choice_and_why_not_higher():
    ana = match(*ROUND).explanations["ana"]
    assert (ana.demand, ana.choice, ana.ranked) == ("y", 2, 2)
    (x,) = ana.preferred
    assert (x.demand, x.choice, x.reason) == ("x", 1, Reason.FILLED_BY_HIGHER)
    assert (x.rank_there, x.lowest_admitted, x.capacity) == (2, 1, 1)
    assert render(ana, "ko") == "2지망에 배정되었습니다; 1지망은 귀하보다 높은 순위의 훈련생으로 채워졌습니다"
    assert render(ana, "en") == (
        "you were placed at your 2nd choice; your 1st choice filled with trainees it ranked higher"
    )
    names = {"x": "비전검사", "y": "Line AI"}
    assert render(ana, "ko", names) == (
        "2지망에 배정되었습니다; 1지망(비전검사)은 귀하보다 높은 순위의 훈련생으로 채워졌습니다"
    )
    assert render(ana, "en", names) == (
        "you were placed at your 2nd choice; "
        "your 1st choice (비전검사) filled with trainees it ranked higher"
    )


def test_explanation_of_an_unplaced_trainee_covers_every_choice():
    cy = match(*ROUND).explanations["cy"]
    assert cy.demand is None and cy.choice is None
    assert [(w.demand, w.reason) for w in cy.preferred] == [
        ("w", Reason.NO_PLACES),
        ("z", Reason.NOT_RANKED_BY_DEMAND),
        ("y", Reason.FILLED_BY_HIGHER),
    ]
    assert render(cy, "ko") == (
        "배정되지 않았습니다; 1지망은 모집 인원이 없었습니다; 2지망은 귀하를 순위에 올리지 않았습니다; "
        "3지망은 귀하보다 높은 순위의 훈련생으로 채워졌습니다"
    )
    assert render(cy, "en") == (
        "you were not placed; your 1st choice had no places; your 2nd choice did not rank you; "
        "your 3rd choice filled with trainees it ranked higher"
    )


def test_why_not_for_any_demand():
    result = match(*ROUND)
    assert result.why_not("bo", "x") is None
    assert result.why_not("bo", "y").reason is Reason.PLACED_HIGHER
    assert result.why_not("ana", "z").reason is Reason.NOT_RANKED_BY_YOU
    names = {"z": "비전검사 (ACME)", "y": "Line AI"}
    assert render_why_not(result.why_not("ana", "z"), "ko", names) == (
        "비전검사 (ACME)은(는) 귀하가 지망하지 않았습니다"
    )
    assert render_why_not(result.why_not("ana", "z"), "en") == "you did not rank this demand"
    assert render_why_not(result.why_not("bo", "y"), "en", names) == (
        "you were placed at a choice you ranked above your 2nd choice (Line AI)"
    )


def test_explanations_mapping_covers_every_trainee_and_an_empty_list():
    result = match({"a": [], "b": ["x"]}, {"x": ["b"]}, {"x": 1})
    assert set(result.explanations) == {"a", "b"} and len(result.explanations) == 2
    assert render(result.explanations["a"], "en") == (
        "you were not placed because you ranked no demands"
    )
    assert render(result.explanations["b"], "ko") == "1지망에 배정되었습니다"


@pytest.mark.parametrize(
    ("k", "text"),
    [
        (1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"),
        (12, "12th"), (13, "13th"), (21, "21st"), (22, "22nd"), (111, "111th"),
    ],
)
def test_english_ordinals(k, text):
    prefs = [f"d{j}" for j in range(k)]
    result = match({"a": prefs}, {d: [] for d in prefs}, dict.fromkeys(prefs, 1))
    assert render_why_not(result.explanations["a"].preferred[-1], "en").startswith(f"your {text} choice")


@pytest.mark.parametrize(
    ("student_prefs", "demand_prefs", "capacities"),
    [
        ({"a": ["nope"]}, {}, {"x": 1}),  # a trainee ranks an unknown demand
        ({"a": ["x"]}, {"nope": ["a"]}, {"x": 1}),  # a list for an unknown demand
        ({"a": ["x"]}, {"x": ["a"]}, {"x": -1}),
        ({"a": ["x"]}, {"x": ["a", "a"]}, {"x": 1}),
    ],
)
def test_match_refuses_inconsistent_input(student_prefs, demand_prefs, capacities):
    with pytest.raises(ValueError):
        match(student_prefs, demand_prefs, capacities)


SCORED = {  # a and b tie on x; b and c tie on y
    "x": {"a": 0.8, "b": 0.8, "c": 0.5},
    "y": {"a": 0.9, "b": 0.4, "c": 0.4},
}


def test_break_ties_orders_by_score_then_one_seeded_lottery():
    lists = break_ties(SCORED, seed=3)
    assert lists["x"][2] == "c" and set(lists["x"][:2]) == {"a", "b"}
    assert lists["y"][0] == "a" and set(lists["y"][1:]) == {"b", "c"}
    assert lists == break_ties(SCORED, seed=3)
    # The lottery ignores input order: the same scores listed the other way round give the same lists.
    reversed_scores = {
        d: dict(reversed(list(row.items()))) for d, row in reversed(list(SCORED.items()))
    }
    assert break_ties(reversed_scores, seed=3) == lists
    orders = {tuple(break_ties(SCORED, seed)["x"]) for seed in range(40)}
    assert orders == {("a", "b", "c"), ("b", "a", "c")}  # both tie orders occur over seeds


def test_match_scored_records_the_seed_and_repeats_exactly():
    student_prefs = {"a": ["x", "y"], "b": ["x", "y"], "c": ["x", "y"]}
    capacities = {"x": 1, "y": 1}
    first = match_scored(student_prefs, SCORED, capacities, seed=11)
    assert first.seed == 11
    assert first == match_scored(student_prefs, SCORED, capacities, seed=11)
    winners = {
        match_scored(student_prefs, SCORED, capacities, seed).assignment["a"] for seed in range(40)
    }
    assert winners == {"x", "y"}  # the tie on x really is settled by the lottery
