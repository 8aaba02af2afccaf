"""The demo data gives every placement page something to show."""
from __future__ import annotations

import sqlalchemy as sa

from academy.extensions import db
from academy.placements.models import Consent, MatchRound, Placement
from academy.placements.seed import seed_placements


def test_seed_placements_fills_rounds_consents_and_a_placement(app, client, auth, make):
    cohorts = [make.cohort() for _ in range(2)]
    students = [make.enrolled_student(c) for c in cohorts for _ in range(4)]
    company = make.company()
    make.user("recruiter", company_id=company.id)
    for i in range(16):
        make.demand(company if i == 0 else None, headcount=2)
    make.user("admin")
    db.session.commit()
    created = seed_placements()
    db.session.commit()
    assert created["rounds"] == 2 and created["consents"] == 24 and created["placements"] == 1
    statuses = sorted(db.session.scalars(sa.select(MatchRound.status)))
    assert statuses == ["open", "published"]
    placement = db.session.scalar(sa.select(Placement))
    assert placement.started_at is not None and [f.months for f in placement.follow_ups] == [3]
    auth.login(students[4])  # second cohort: an open round with rankings
    page = client.get("/my/demands").get_data(as_text=True)
    assert "내 지망 순위" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Consent)) == 24
