"""Random rounds through the services: what is stored is a stable match of the round's own inputs."""
from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from academy.extensions import db
from academy.placements import consent, matching, rounds
from academy.placements.models import Consent, MatchOutcome, MatchRound, RoundDemand, ShortlistEntry
from tests.placements.conftest import grade

instances = st.fixed_dictionaries({
    "scores": st.lists(st.integers(0, 100), min_size=2, max_size=6),
    "headcounts": st.lists(st.integers(1, 2), min_size=1, max_size=3),
    "picks": st.lists(st.permutations(range(3)), min_size=6, max_size=6),
    "wants": st.lists(st.integers(0, 3), min_size=6, max_size=6),
    "submit": st.lists(st.booleans(), min_size=3, max_size=3),
    "reverse": st.booleans(),
    "seed": st.integers(0, 2**31 - 1),
})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(instance=instances)
def test_stored_round_is_stable_and_within_capacity(app, make, instance):
    cohort = make.cohort()
    students = [make.enrolled_student(cohort) for _ in instance["scores"]]
    lab = make.assignment(make.course(cohorts=[cohort]), skills={"predictive_maintenance": 4})
    for s, score in zip(students, instance["scores"]):
        grade(db, lab, s, score)
    demands = [make.demand(headcount=h, skills={"predictive_maintenance": 3}) for h in instance["headcounts"]]
    admin = make.user("admin")
    match_round = rounds.open_round(cohort, date.today() + timedelta(days=30), admin)
    for i, s in enumerate(students):
        order = [demands[j] for j in instance["picks"][i] if j < len(demands)][: instance["wants"][i]]
        for d in order:
            consent.give_consent(s, d, agreed=True)
    for d, submit in zip(demands, instance["submit"]):
        lines = rounds.shortlist(match_round, d)
        if submit and lines:
            ordered = lines[::-1] if instance["reverse"] else lines
            rounds.save_shortlist(match_round, d, {ln.trainee.id: k for k, ln in enumerate(ordered, 1)}, {},
                                  submit=True)
    rounds.run_round(match_round, admin, instance["seed"])
    db.session.flush()
    # The round's inputs as the matching core saw them, rebuilt from the database and the recorded seed.
    student_prefs, demand_prefs, capacities, _ = rounds._inputs(match_round)

    for rd in db.session.scalars(sa.select(RoundDemand).where(RoundDemand.round_id == match_round.id,
                                                            RoundDemand.submitted_at.is_not(None))):
        submitted = db.session.scalars(sa.select(ShortlistEntry.student_id).where(
            ShortlistEntry.round_id == match_round.id, ShortlistEntry.demand_id == rd.demand_id)
            .order_by(ShortlistEntry.position)).all()
        assert demand_prefs[rd.demand_id] == submitted  # the recruiter's list, as submitted
    for s in students:  # each trainee's list is their ranking of active consents
        ranked = db.session.scalars(sa.select(Consent.demand_id).where(
            Consent.round_id == match_round.id, Consent.student_id == s.id).order_by(Consent.choice_rank)).all()
        assert student_prefs[s.id] == ranked
    stored = {o.student_id: o.demand_id for o in db.session.scalars(
        sa.select(MatchOutcome).where(MatchOutcome.round_id == match_round.id))}
    assert set(stored) == {s.id for s in students}
    assert matching.audit(student_prefs, demand_prefs, capacities, stored).ok
    filled = Counter(d for d in stored.values() if d is not None)
    assert all(filled[d.id] <= d.headcount for d in demands)
    consented = set(db.session.execute(sa.select(Consent.student_id, Consent.demand_id).where(
        Consent.round_id == match_round.id, Consent.withdrawn_at.is_(None))).tuples())
    assert all((s, d) in consented for s, d in stored.items() if d is not None)
    # The recorded seed replays the same result.
    again = matching.match(student_prefs, demand_prefs, capacities, seed=match_round.seed)
    assert dict(again.assignment) == stored
    assert db.session.get(MatchRound, match_round.id).seed == instance["seed"]
    db.session.rollback()
