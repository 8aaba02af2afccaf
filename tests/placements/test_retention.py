"""Retention: once a round's retention date has passed, the command leaves nothing personal behind."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from academy.extensions import db
from academy.placements import consent
from academy.placements import models as m
from academy.placements import offers, rounds
from academy.placements.models import Placement
from academy.placements.retention import purge_expired
from academy.reports.frames import all_frames
from academy.reports.services import load_rows
from academy.students.privacy import export_trainee_data


def _full_round(world):
    """Opt in, run, publish, offer, accept, start, evaluate, follow up: every kind of personal row."""
    s0, s1, _ = world.students
    d0, d1 = world.demands
    for s in (s0, s1):
        consent.give_consent(s, d0, agreed=True)
    consent.give_consent(s1, d1, agreed=True)
    rounds.save_shortlist(world.round, d0, {s0.id: 1, s1.id: 2}, {s0.id: "면접: 우수"}, submit=True)
    rounds.run_round(world.round, world.admin, seed=3)
    rounds.publish_round(world.round, world.admin)
    offer = offers.make_offer(world.round, d0, s0.id, datetime.now(UTC) + timedelta(days=5), world.recruiter)
    offers.make_offer(world.round, d1, s1.id, datetime.now(UTC) + timedelta(days=5), world.recruiter)
    offers.respond_to_offer(offer, s0, accept=True)
    db.session.flush()

    placement = db.session.scalar(sa.select(Placement))
    offers.confirm_start(placement, s0)
    offers.evaluate(placement, "supervisor", 4, "성실함, 연락처 010-1234-5678", world.recruiter)
    offers.record_follow_up(placement, 6, True, "계속 근무 중", world.admin)
    db.session.commit()
    return placement


def _figures():
    return all_frames(load_rows())


def test_purge_expired_leaves_nothing_personal_and_figures_still_compute(app, runner, world):
    _full_round(world)
    before = _figures()
    assert before["cohort"].loc["__total__", "placed"] == 1  # something to compare
    s0 = world.students[0]
    assert export_trainee_data(s0)["consents"]

    # Not yet: the retention date is a year away.
    result = runner.invoke(args=["academy", "placements", "purge-expired"])
    assert result.exit_code == 0 and "purged 0" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(m.Consent)) == 3

    later = (world.round.retention_until + timedelta(days=1)).isoformat()
    result = runner.invoke(args=["academy", "placements", "purge-expired", "--today", later])
    assert result.exit_code == 0, result.output
    assert f"purged 1 round(s): {world.round.id}" in result.output
    db.session.expire_all()

    for model in (m.Consent, m.ShortlistEntry, m.MatchOutcome):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0
    assert db.session.scalars(sa.select(m.Offer.student_id)).all() == [None, None]
    placement = db.session.scalar(sa.select(m.Placement))
    assert placement.student_id is None
    assert all(e.comment == "" and e.recorded_by_id is None for e in placement.evaluations)
    assert all(f.note == "" for f in placement.follow_ups)
    for student in world.students:
        data = export_trainee_data(student)
        assert all(data[k] == [] for k in ("consents", "match_outcomes", "offers", "placements"))
    match_round = db.session.get(m.MatchRound, world.round.id)
    assert match_round.purged_at is not None and match_round.status == "closed"
    after = _figures()
    for by, frame in before.items():
        pd.testing.assert_frame_equal(after[by], frame)


def test_purged_round_no_longer_opens_the_trainee_to_the_company(app, client, auth, world):
    s0, d0 = world.students[0], world.demands[0]
    consent.give_consent(s0, d0, agreed=True)
    db.session.commit()
    assert purge_expired(date.today()) == []
    assert purge_expired(world.round.retention_until + timedelta(days=1)) == [world.round.id]
    db.session.commit()
    auth.login(world.recruiter)
    assert client.get(f"/company/demands/{d0.id}/trainees/{s0.id}").status_code == 403
