"""Student-proposing deferred acceptance for a match round: trainees propose, demands hold their best.

This is the hospitals/residents problem: trainees are the residents, demands are the hospitals and a
demand's headcount is its capacity. The result is the trainee-optimal stable matching (Gale and
Shapley 1962; Roth and Sotomayor 1990): no trainee and demand that ranked each other would both rather
be together than with what they got, every trainee gets the best demand any stable matching could
give them, and ranking demands in true order of preference is the best strategy for a trainee.

Rules, as published to trainees (PIPA Art. 37-2):
- a trainee can be placed only at a demand the trainee ranked and that ranked the trainee;
- a demand takes at most its capacity, and it takes the trainees it ranked highest among those who
  asked for it and were not placed at a demand they preferred;
- equal scores on a demand's side are ordered by one lottery drawn from a recorded seed
  (`break_ties`), so the same inputs and seed always give the same result.

The core is plain data in, plain data out: no Flask, no database. Ids are any hashable values. It says why
as data (Explanation, WhyNot); academy.placements.explain puts that into words.
"""
from __future__ import annotations

import heapq
import random
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

StudentId = Hashable
DemandId = Hashable
StudentPrefs = Mapping[StudentId, Sequence[DemandId]]
DemandPrefs = Mapping[DemandId, Sequence[StudentId]]
Capacities = Mapping[DemandId, int]


class Reason(StrEnum):
    """Why a trainee was not placed at a demand."""

    FILLED_BY_HIGHER = "filled_by_higher"  # full with trainees it ranked above this one
    NOT_RANKED_BY_DEMAND = "not_ranked_by_demand"
    NOT_RANKED_BY_YOU = "not_ranked_by_you"
    NO_PLACES = "no_places"  # capacity 0
    PLACED_HIGHER = "placed_higher"  # the trainee got a demand they ranked above this one


@dataclass(frozen=True, slots=True)
class WhyNot:
    """Why one trainee is not placed at one demand, with the ranks that decided it."""

    demand: DemandId
    choice: int | None  # 1-based place in the trainee's list; None if the trainee did not rank it
    reason: Reason
    rank_there: int | None  # 1-based place of the trainee on the demand's list
    lowest_admitted: int | None  # 1-based place on the demand's list of the last trainee it took
    capacity: int


@dataclass(frozen=True, slots=True)
class Explanation:
    """Where a trainee was placed and, for every demand they preferred, why not there."""

    trainee: StudentId
    demand: DemandId | None
    choice: int | None  # 1-based place of `demand` in the trainee's list
    ranked: int  # how many demands the trainee ranked
    preferred: tuple[WhyNot, ...]  # demands ranked above `demand` (all of them if unplaced)


@dataclass(frozen=True)
class MatchResult:
    """The outcome of one match round."""

    assignment: Mapping[StudentId, DemandId | None]
    placements: Mapping[DemandId, tuple[StudentId, ...]]  # each demand's trainees, best-ranked first
    seed: int | None  # the tie-breaking seed, when the demand lists came from scores
    explanations: Mapping[StudentId, Explanation] = field(compare=False, repr=False)

    def why_not(self, trainee: StudentId, demand: DemandId) -> WhyNot | None:
        """Say why `trainee` is not placed at `demand`, or None if they are."""
        return self.explanations.why_not(trainee, demand)  # type: ignore[attr-defined]


def break_ties(
    scores: Mapping[DemandId, Mapping[StudentId, float]], seed: int
) -> dict[DemandId, list[StudentId]]:
    """Turn each demand's scores into a strict list, best first, ordering equal scores by a lottery.

    One lottery number per trainee serves every demand (single tie-breaking), which wastes fewer
    placements than a fresh lottery per demand (Abdulkadiroglu, Pathak and Roth 2009). The lottery
    depends only on the seed and the set of trainees, not on the order of the input.
    """
    trainees = sorted({s for row in scores.values() for s in row}, key=repr)
    random.Random(seed).shuffle(trainees)
    lottery = {s: i for i, s in enumerate(trainees)}
    return {
        d: sorted(row, key=lambda s, row=row: (-row[s], lottery[s])) for d, row in scores.items()
    }


def match_scored(
    student_prefs: StudentPrefs,
    demand_scores: Mapping[DemandId, Mapping[StudentId, float]],
    capacities: Capacities,
    seed: int,
) -> MatchResult:
    """Run a match round where demands rank trainees by score, breaking ties with `seed`."""
    return match(student_prefs, break_ties(demand_scores, seed), capacities, seed=seed)


def match(
    student_prefs: StudentPrefs,
    demand_prefs: DemandPrefs,
    capacities: Capacities,
    *,
    seed: int | None = None,
) -> MatchResult:
    """Find the trainee-optimal stable matching of strict rank lists.

    `capacities` names every demand. A demand missing from `demand_prefs` ranks nobody; names in a
    demand's list that are not trainees here are ignored. A demand repeated in a trainee's list counts
    at its first place. The result keeps references to the rank lists to explain itself later, so do
    not change them afterwards.
    """
    demand_ids = list(capacities)
    dix = {d: j for j, d in enumerate(demand_ids)}
    student_ids = list(student_prefs)
    lists = list(student_prefs.values())
    _check(lists, demand_prefs, capacities, dix)
    ranks = [_rank_of(demand_prefs.get(d, ())) for d in demand_ids]
    heaps = _propose(student_ids, lists, dix, ranks, [capacities[d] for d in demand_ids])
    n = len(student_ids)
    placed: list[DemandId | None] = [None] * n
    placements = {}
    for d, heap in zip(demand_ids, heaps):
        # Keys are rank * n + trainee index, stored negated; the largest stored value is the best.
        taken = [(-k) % n for k in sorted(heap, reverse=True)]
        for s in taken:
            placed[s] = d
        placements[d] = tuple(student_ids[s] for s in taken)
    assignment = dict(zip(student_ids, placed))
    explanations = _Explanations(student_prefs, demand_prefs, capacities, assignment, placements)
    return MatchResult(
        MappingProxyType(assignment), MappingProxyType(placements), seed, explanations
    )


def _check(
    lists: list[Sequence[DemandId]],
    demand_prefs: DemandPrefs,
    capacities: Capacities,
    dix: Mapping[DemandId, int],
) -> None:
    """Refuse rank lists that name unknown demands and capacities below zero."""
    unknown = set().union(*lists) - dix.keys()
    unknown |= demand_prefs.keys() - dix.keys()
    if unknown:
        raise ValueError(f"unknown demands in the rank lists: {sorted(map(repr, unknown))[:5]}")
    if any(c < 0 for c in capacities.values()):
        raise ValueError("a capacity is below zero")


def _rank_of(ranking: Sequence[StudentId]) -> dict[StudentId, int]:
    """Map each trainee on a demand's list to their 0-based rank."""
    rank = dict(zip(ranking, range(len(ranking))))
    if len(rank) != len(ranking):
        raise ValueError("a demand ranks the same trainee twice")
    return rank


def _propose(
    student_ids: list[StudentId],
    lists: list[Sequence[DemandId]],
    dix: Mapping[DemandId, int],
    ranks: list[dict[StudentId, int]],
    capacity: list[int],
) -> list[list[int]]:
    """Run the proposals; return each demand's held trainees as a heap of negated rank keys."""
    proposals = _Proposals(student_ids, lists, dix, ranks, capacity)
    proposals.run(proposals.first_choices())
    return proposals.heaps


class _Proposals:
    """What each demand holds and how far down their list each trainee has gone."""

    def __init__(
        self,
        student_ids: list[StudentId],
        lists: list[Sequence[DemandId]],
        dix: Mapping[DemandId, int],
        ranks: list[dict[StudentId, int]],
        capacity: list[int],
    ) -> None:
        self.student_ids, self.lists, self.dix, self.ranks = student_ids, lists, dix, ranks
        n = self.n = len(student_ids)
        # A trainee's key on a demand is rank * n + trainee index: unique, and smaller is better.
        # Each demand holds a max-heap (min-heap of negated keys) so bumping its worst costs O(log c);
        # `worst` caches the key a newcomer must beat, so a refusal costs one comparison.
        unbounded = (max(map(len, ranks), default=0) + 1) * n
        self.worst = [unbounded if c > 0 else -1 for c in capacity]
        self.room = list(capacity)
        self.heaps: list[list[int]] = [[] for _ in capacity]
        self.nxt = [0] * n

    def first_choices(self) -> list[int]:
        """Let every trainee propose to their first choice; return the trainees refused or bumped.

        Going demand by demand reads each demand's rank table once instead of at random, which
        on this machine's memory makes the whole match about 15% faster than trainee by trainee.
        """
        n, ranks, ids = self.n, self.ranks, self.student_ids
        worst, room, heaps = self.worst, self.room, self.heaps
        by_demand: list[list[int]] = [[] for _ in heaps]
        for s, prefs in enumerate(self.lists):
            if prefs:
                by_demand[self.dix[prefs[0]]].append(s)
                self.nxt[s] = 1
        free: list[int] = []
        push = free.append
        for d, proposers in enumerate(by_demand):
            rank, heap, w = ranks[d], heaps[d], worst[d]
            for s in proposers:
                r = rank.get(ids[s])
                key = w if r is None else r * n + s
                if key >= w:
                    push(s)
                elif room[d]:
                    heapq.heappush(heap, -key)
                    room[d] -= 1
                    if not room[d]:
                        w = -heap[0]
                else:
                    push(-heapq.heapreplace(heap, -key) % n)
                    w = -heap[0]
            worst[d] = w
        return free

    def run(self, free: list[int]) -> None:
        """Let each free trainee propose down their list until a demand holds them or it runs out."""
        n, dix, ranks, worst, room, heaps = self.n, self.dix, self.ranks, self.worst, self.room, self.heaps
        ids, lists, nxt = self.student_ids, self.lists, self.nxt
        pop, push = free.pop, free.append
        heappush, heapreplace = heapq.heappush, heapq.heapreplace
        while free:
            s = pop()
            sid, prefs, i = ids[s], lists[s], nxt[s]
            end = len(prefs)
            while i < end:
                d = dix[prefs[i]]
                i += 1
                r = ranks[d].get(sid)
                if r is None:
                    continue
                key = r * n + s
                if key < worst[d]:
                    heap = heaps[d]
                    if room[d]:
                        heappush(heap, -key)
                        room[d] -= 1
                        if not room[d]:
                            worst[d] = -heap[0]
                    else:
                        push(-heapreplace(heap, -key) % n)
                        worst[d] = -heap[0]
                    break
            nxt[s] = i


class _Explanations(Mapping[StudentId, Explanation]):
    """Explanations built on first access, so a round does not pay for the ones nobody reads."""

    def __init__(
        self,
        student_prefs: StudentPrefs,
        demand_prefs: DemandPrefs,
        capacities: Capacities,
        assignment: Mapping[StudentId, DemandId | None],
        placements: Mapping[DemandId, tuple[StudentId, ...]],
    ) -> None:
        self._students = student_prefs
        self._demands = demand_prefs
        self._capacities = capacities
        self._assignment = assignment
        self._placements = placements
        self._ranks: dict[DemandId, dict[StudentId, int]] = {}

    def __getitem__(self, trainee: StudentId) -> Explanation:
        prefs = self._students[trainee]
        demand = self._assignment[trainee]
        cut = prefs.index(demand) if demand is not None else len(prefs)
        seen: set[DemandId] = set()
        preferred = []
        for j, d in enumerate(prefs[:cut]):
            if d not in seen:  # a repeated demand counts at its first place only
                seen.add(d)
                preferred.append(self._why_not(trainee, d, j + 1))
        choice = cut + 1 if demand is not None else None
        return Explanation(trainee, demand, choice, len(prefs), tuple(preferred))

    def __iter__(self) -> Iterator[StudentId]:
        return iter(self._assignment)

    def __len__(self) -> int:
        return len(self._assignment)

    def why_not(self, trainee: StudentId, demand: DemandId) -> WhyNot | None:
        """Say why `trainee` is not placed at `demand`, or None if they are."""
        placed = self._assignment[trainee]
        if placed == demand:
            return None
        prefs = self._students[trainee]
        choice = prefs.index(demand) + 1 if demand in prefs else None
        if choice is not None and placed is not None and prefs.index(placed) + 1 < choice:
            return self._why_not(trainee, demand, choice, Reason.PLACED_HIGHER)
        return self._why_not(trainee, demand, choice)

    def _why_not(
        self, trainee: StudentId, demand: DemandId, choice: int | None, reason: Reason | None = None
    ) -> WhyNot:
        rank = self._rank(demand)
        mine = rank.get(trainee)
        taken = self._placements[demand]
        lowest = max(rank[s] for s in taken) + 1 if taken else None
        capacity = self._capacities[demand]
        if reason is None:
            if choice is None:
                reason = Reason.NOT_RANKED_BY_YOU
            elif mine is None:
                reason = Reason.NOT_RANKED_BY_DEMAND
            elif capacity == 0:
                reason = Reason.NO_PLACES
            else:
                # Stability guarantees it: the demand is full and took only trainees ranked above.
                reason = Reason.FILLED_BY_HIGHER
        return WhyNot(demand, choice, reason, None if mine is None else mine + 1, lowest, capacity)

    def _rank(self, demand: DemandId) -> dict[StudentId, int]:
        if demand not in self._ranks:
            self._ranks[demand] = _rank_of(self._demands.get(demand, ()))
        return self._ranks[demand]


@dataclass(frozen=True)
class Audit:
    """What is wrong with a matching, if anything."""

    blocking_pairs: tuple[tuple[StudentId, DemandId], ...]  # both would rather be together
    over_capacity: tuple[DemandId, ...]
    unranked: tuple[tuple[StudentId, DemandId], ...]  # placed where one side did not rank the other

    @property
    def ok(self) -> bool:
        """Say whether the matching is stable and respects capacities and rank lists."""
        return not (self.blocking_pairs or self.over_capacity or self.unranked)


def audit(
    student_prefs: StudentPrefs,
    demand_prefs: DemandPrefs,
    capacities: Capacities,
    assignment: Mapping[StudentId, DemandId | None],
) -> Audit:
    """Check a matching for blocking pairs, over-full demands and placements nobody ranked."""
    ranks = {d: _rank_of(demand_prefs.get(d, ())) for d in capacities}
    held: dict[DemandId, list[int]] = {d: [] for d in capacities}
    unranked = []
    for s, d in assignment.items():
        if d is None:
            continue
        if d not in ranks or s not in ranks[d] or d not in student_prefs.get(s, ()):
            unranked.append((s, d))
        if d in held:
            held[d].append(ranks[d].get(s, len(ranks[d])))
    over = tuple(d for d, taken in held.items() if len(taken) > capacities[d])
    # A demand wants a trainee it ranked if it has room or holds someone it ranked lower.
    worst = {d: max(taken) if taken and len(taken) >= capacities[d] else None for d, taken in held.items()}
    blocking = []
    for s, prefs in student_prefs.items():
        placed = assignment.get(s)
        for d in prefs:
            if d == placed:
                break
            r = ranks[d].get(s)
            if r is not None and capacities[d] > 0 and (worst[d] is None or r < worst[d]):
                blocking.append((s, d))
    return Audit(tuple(blocking), over, tuple(unranked))
