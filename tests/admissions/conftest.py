"""Helpers for the admissions tests: English pages, and applications at any step."""
from __future__ import annotations

import pytest

from academy.admissions.services import move_application, submit_application
from academy.extensions import db


@pytest.fixture
def english(client):
    """Show pages in English so the tests read the English messages."""
    client.post("/lang/en")
    return client


@pytest.fixture
def application_at(make):
    """Make an application that has reached the given status through the real workflow."""
    path = {"submitted": [], "under_review": ["under_review"], "interview": ["under_review", "interview"]}

    def build(cohort, status: str = "submitted", student=None, coordinator=None):
        student = student or make.user("student")
        coordinator = coordinator or make.user("coordinator", university_id=cohort.university_id)
        application = submit_application(student, cohort, "I want to build AI for factories.")
        for step in path[status]:
            move_application(application, step, coordinator, None)
        db.session.flush()
        return application

    return build
