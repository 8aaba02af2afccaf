"""A demand is never over-filled and a trainee never holds two live placements, even under races."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from academy.auth.models import User
from academy.extensions import db
from academy.placements.models import DemandFill, Offer, Placement
from academy.placements.offers import respond_to_offer
from academy.placements.rounds import demand_fill
from academy.placements.services import DemandFull, PlacementError


def _offers_for_one_place(make, world, n: int) -> tuple[object, list[tuple[int, int]]]:
    """Make a demand with three places, two already filled, and n open offers to n trainees."""
    demand = make.demand(world.company, headcount=3)
    db.session.add(DemandFill(demand_id=demand.id, capacity=3, filled=2))
    pairs = []
    for _ in range(n):
        student = make.enrolled_student(world.cohort)
        offer = Offer(round_id=world.round.id, demand_id=demand.id, student_id=student.id,
                      deadline_at=datetime.now(UTC) + timedelta(days=3))
        db.session.add(offer)
        db.session.flush()
        pairs.append((offer.id, student.id))
    db.session.commit()
    return demand, pairs


def _counts(demand_id: int) -> tuple[int, int]:
    db.session.expire_all()
    placed = db.session.scalar(sa.select(sa.func.count()).where(Placement.demand_id == demand_id))
    return placed, db.session.get(DemandFill, demand_id).filled


def test_second_accept_for_the_last_place_is_refused(app, make, world):
    demand, pairs = _offers_for_one_place(make, world, 2)
    (o1, s1), (o2, s2) = pairs
    respond_to_offer(db.session.get(Offer, o1), db.session.get(User, s1), accept=True)
    db.session.commit()
    with pytest.raises(DemandFull):
        respond_to_offer(db.session.get(Offer, o2), db.session.get(User, s2), accept=True)
    db.session.rollback()
    assert _counts(demand.id) == (1, 3)


def test_one_live_placement_per_trainee_is_kept_by_the_database(app, make, world):
    student = world.students[0]
    ids = []
    for demand in world.demands:
        offer = Offer(round_id=world.round.id, demand_id=demand.id, student_id=student.id,
                      deadline_at=datetime.now(UTC) + timedelta(days=1), status="accepted")
        db.session.add(offer)
        db.session.flush()
        ids.append((offer.id, demand.id))
    db.session.add(Placement(offer_id=ids[0][0], round_id=world.round.id, demand_id=ids[0][1], student_id=student.id))
    db.session.commit()
    db.session.add(Placement(offer_id=ids[1][0], round_id=world.round.id, demand_id=ids[1][1], student_id=student.id))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_twenty_concurrent_accepts_for_one_remaining_place(app, make, world):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL (ACADEMY_TEST_DATABASE=postgresql)")

    demand, pairs = _offers_for_one_place(make, world, 20)
    start = threading.Barrier(len(pairs))
    results: list[str] = []

    def accept(offer_id: int, student_id: int) -> None:
        with app.app_context():  # its own scoped session and connection
            start.wait()
            try:
                respond_to_offer(db.session.get(Offer, offer_id), db.session.get(User, student_id), accept=True)
                db.session.commit()
                results.append("accepted")
            except PlacementError:
                db.session.rollback()
                results.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=accept, args=pair) for pair in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == ["accepted"] + ["refused"] * 19
    assert _counts(demand.id) == (1, 3)


def test_the_place_counter_follows_a_changed_headcount_but_never_drops_below_filled(app, make, world):
    demand, _pairs = _offers_for_one_place(make, world, 1)  # 2 of 3 places filled
    demand.headcount = 5
    assert demand_fill(demand).capacity == 5
    demand.headcount = 1
    assert demand_fill(demand).capacity == 2
    db.session.commit()
    assert db.session.get(DemandFill, demand.id).filled == 2
