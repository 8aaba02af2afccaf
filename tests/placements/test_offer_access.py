"""A recruiter may offer only to a trainee who consented, in that match round, to that round's demand.

Consent is given for one demand in one round (PIPA Art. 17: per recipient and purpose). A consent
from an earlier round, a withdrawn one, or a demand that took no part in the round must not let
the company approach the trainee; each refusal is a 403 or 400 in Korean and English, audited.
"""
from __future__ import annotations

import json
from datetime import date, timedelta

import sqlalchemy as sa

from academy.audit.models import AuditEntry
from academy.extensions import db
from academy.placements.models import Consent, MatchRound, Offer
from tests.placements.conftest import opt_in


def _db():
    db.session.expire_all()
    return db


def _run_and_publish(client, auth, world, round_id: int) -> None:
    auth.login(world.admin)
    assert client.post(f"/admin/placements/rounds/{round_id}/run", data={"seed": 3}).status_code == 302
    assert client.post(f"/admin/placements/rounds/{round_id}/publish").status_code == 302
    auth.logout()


def _open_second_round(client, auth, world) -> int:
    """The office opens the cohort's next round (the first one is published, so none is under way)."""
    auth.login(world.admin)
    response = client.post("/admin/placements/rounds", data={
        "cohort_id": world.cohort.id, "retention_until": (date.today() + timedelta(days=300)).isoformat()})
    assert response.status_code == 302, response.data[:300]
    auth.logout()
    return _db().session.scalar(sa.select(sa.func.max(MatchRound.id)))


def _offer(client, auth, world, demand, round_id: int, student_id: int, lang: str = "en"):
    auth.login(world.recruiter)
    client.post(f"/lang/{lang}")
    response = client.post(f"/company/demands/{demand.id}/rounds/{round_id}/offers", data={
        "student_id": student_id, "deadline": (date.today() + timedelta(days=5)).isoformat()})
    auth.logout()
    return response


def _offers() -> int:
    return _db().session.scalar(sa.select(sa.func.count()).select_from(Offer))


def _denials() -> list[dict]:
    rows = _db().session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "access.denied")
                                 .order_by(AuditEntry.id))
    return [{"subject": r.subject_user_id, "actor": r.actor_id, **json.loads(r.detail or "{}")} for r in rows]


def test_a_consent_from_an_earlier_round_does_not_allow_an_offer_in_the_next(client, auth, world):
    """A trainee who consented in round 1 but not in round 2 cannot be offered a place in round 2.

    How checked: the round filter of the consent check (Consent.round_id == match_round.id) removed
    -> this test fails (the offer was made: 302 and one offer row).
    """
    d0 = world.demands[0]
    s0, s1, _s2 = world.students
    opt_in(client, auth, s0, d0)  # round 1
    _run_and_publish(client, auth, world, world.round.id)
    second = _open_second_round(client, auth, world)
    opt_in(client, auth, s1, d0)  # round 2: only s1 consents
    _run_and_publish(client, auth, world, second)

    response = _offer(client, auth, world, d0, second, s0.id)
    assert response.status_code == 403
    assert "has not consented in this match round" in response.get_data(as_text=True)
    korean = _offer(client, auth, world, d0, second, s0.id, lang="ko")
    assert korean.status_code == 403 and "이 매칭 라운드에서" in korean.get_data(as_text=True)
    assert _offers() == 0
    denial = _denials()[0]
    assert (denial["subject"], denial["actor"], denial["reason"], denial["round"]) == (
        s0.id, world.recruiter.id, "consent_missing", second)
    # The trainee who did consent in round 2 can be offered a place there.
    assert _offer(client, auth, world, d0, second, s1.id).status_code == 302 and _offers() == 1


def test_a_withdrawn_consent_does_not_allow_an_offer(client, auth, world):
    """After the trainee withdraws, the company can no longer make an offer, even in a published round.

    How checked: the withdrawn_at filter of the consent check removed -> this test fails (302, the offer was made).
    """
    d0, s0 = world.demands[0], world.students[0]
    opt_in(client, auth, s0, d0)
    _run_and_publish(client, auth, world, world.round.id)
    consent = _db().session.scalar(sa.select(Consent).where(Consent.student_id == s0.id))
    auth.login(s0)
    assert client.post(f"/my/consents/{consent.id}/withdraw").status_code == 302
    auth.logout()

    assert _offer(client, auth, world, d0, world.round.id, s0.id).status_code == 403
    assert _offers() == 0
    assert _denials()[-1]["reason"] == "consent_missing"
    # An id nobody has is refused the same way (no 500), and logged with the id it tried.
    assert _offer(client, auth, world, d0, world.round.id, 987654).status_code == 403
    assert (_denials()[-1]["subject"], _denials()[-1]["student_id"]) == (None, 987654)


def test_an_offer_for_a_demand_outside_the_round_is_refused(client, auth, world):
    """A demand that took no part in round 2 cannot carry an offer in it, whatever consents it had before.

    How checked: the RoundDemand check removed -> this test fails (403 for the missing consent instead of
    the 400 naming the demand).
    """
    d0, d1 = world.demands
    s0, s1, _s2 = world.students
    opt_in(client, auth, s0, d1)  # round 1 only
    _run_and_publish(client, auth, world, world.round.id)
    second = _open_second_round(client, auth, world)
    opt_in(client, auth, s1, d0)  # d1 takes no part in round 2
    _run_and_publish(client, auth, world, second)

    response = _offer(client, auth, world, d1, second, s0.id)
    assert response.status_code == 400
    assert "takes no part in this match round" in response.get_data(as_text=True)
    korean = _offer(client, auth, world, d1, second, s0.id, lang="ko")
    assert korean.status_code == 400 and "매칭 라운드에 포함되어 있지 않아" in korean.get_data(as_text=True)
    assert _offers() == 0
    assert [d["reason"] for d in _denials()] == ["demand_not_in_round"] * 2
