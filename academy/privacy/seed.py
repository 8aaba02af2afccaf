"""Demo consents: the demo's trainees and recruiters have consented to the current policy, so the demo opens on
their pages (a real account gives its consent at sign-up or at its first sign-in)."""
from __future__ import annotations

import sqlalchemy as sa

from academy.auth.models import User
from academy.extensions import db
from academy.privacy.models import PolicyConsent
from academy.privacy.services import CONSENTING_ROLES, OPTIONAL, POLICY_VERSION, REQUIRED


def seed_consents() -> int:
    """Record the current policy's consent for every trainee and recruiter who has none; return how many."""
    asked = sa.select(PolicyConsent.user_id).where(PolicyConsent.purpose == REQUIRED)
    users = db.session.execute(
        sa.select(User.id, User.created_at).where(User.role.in_(CONSENTING_ROLES), User.id.not_in(asked))
    ).all()
    rows = [{"user_id": uid, "version": POLICY_VERSION, "purpose": purpose, "given": purpose == REQUIRED,
             "created_at": created} for uid, created in users for purpose in (REQUIRED, *OPTIONAL)]
    if rows:
        db.session.execute(sa.insert(PolicyConsent), rows)
    return len(users)
