"""Competency levels come from graded work: level x score share, best evidence wins."""
from __future__ import annotations

import base64
import re

import pytest

from academy.extensions import db
from academy.placements.profiles import competency_profile, earned_level
from tests.placements.conftest import grade


@pytest.mark.parametrize(("level", "score", "max_score", "expected"), [
    (4, 90, 100, 3.6), (4, 100, 100, 4.0), (3, 0, 100, 0.0), (5, 7, 10, 3.5), (2, 12, 10, 2.0),
])
def test_earned_level(level, score, max_score, expected):
    assert earned_level(level, score, max_score) == expected


def test_best_evidence_wins_and_the_page_shows_it(app, client, auth, make):
    cohort = make.cohort()
    student = make.enrolled_student(cohort)
    course = make.course(cohorts=[cohort])
    weak = make.assignment(course, name="lab_a", skills={"predictive_maintenance": 5})
    strong = make.assignment(course, name="lab_b", skills={"predictive_maintenance": 3, "deep_learning": 2})
    grade(db, weak, student, 40)  # 2.0
    grade(db, strong, student, 100)  # 3.0 and 2.0
    other = make.enrolled_student(cohort)
    grade(db, weak, other, 100)
    db.session.commit()
    levels = {s.code: s for s in competency_profile(student.id)}
    assert levels["predictive_maintenance"].level == 3.0
    assert [e.assignment for e in levels["predictive_maintenance"].evidence] == ["lab_a", "lab_b"]
    assert levels["deep_learning"].level == 2.0
    auth.login(student)
    page = client.get("/my/competencies").get_data(as_text=True)
    text = re.sub(r"<[^>]*>", " ", page)  # the page's text: a random CSRF token may hold "5.0" in its markup
    assert "lab_a (40% → 2.0)" in text and "lab_b (100% → 3.0)" in text and "5.0" not in text
    # The profile as a chart too: an SVG image (no script) above the table that carries the same numbers.
    chart = re.search(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)" alt="[^"]+" data-test="chart-competencies">',
                      page)
    assert chart, "no competency chart"
    svg = base64.b64decode(chart.group(1)).decode()
    assert svg.startswith("<?xml") and "<script" not in svg and svg.count("<path") > 10  # bars and glyph paths
    auth.login(other)
    assert 'data-test="chart-competencies"' in client.get("/my/competencies").get_data(as_text=True)
