"""Helpers for the companies tests: signing in as a role in English, and a valid demand form."""
from __future__ import annotations

from datetime import date, timedelta

import flask_babel
import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEntry
from academy.extensions import db


@pytest.fixture
def sign_in(client, auth):
    """Sign a user in with the interface in English, so messages can be read."""

    def sign_in(user):
        auth.login(user)
        assert client.post("/lang/en").status_code == 302
        # The test's app context (and Flask-Babel's cached locale with it) spans its requests.
        flask_babel.refresh()
        return user

    return sign_in


def demand_data(**changes) -> dict:
    """Return a valid demand form submission, with some fields changed."""
    data = {
        "title": "Vibration anomaly detection for CNC spindles",
        "kind": "internship",
        "description": "Build a model that flags failing spindle bearings from vibration data.",
        "headcount": 2,
        "start_date": (date.today() + timedelta(days=90)).isoformat(),
        "duration_months": 6,
        "work_city": "changwon",
        "work_address": "Changwon National Industrial Complex",
        "stipend_krw": 2_000_000,
        "skill_predictive_maintenance": 3,
        "skill_python_programming": 2,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def audit(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))
