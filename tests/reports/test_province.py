"""The province's read-only view: the outcome figures and training progress as aggregates, small counts hidden,
no trainee's name or address anywhere, every other page refused."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from academy.audit.models import AuditEntry
from academy.courses.models import DueDate, Grade
from academy.extensions import db
from academy.reports.frames import HIDDEN, PROGRESS_HIDING, TOTAL, suppress_small
from tests.placements.conftest import world  # noqa: F401 - the placement world fixture
from tests.placements.test_retention import _full_round

# What the province may open; every other page answers 403 (or sends it to its home).
PROVINCE_PAGES = {"home.province", "reports.outcomes", "reports.outcomes_csv", "reports.outcomes_xlsx",
                  "reports.progress", "reports.progress_csv"}


@pytest.fixture
def data(app, make, world):  # noqa: F811
    _full_round(world)
    # Two labs due a week ago for the cohort: trainee 0 missed both (at risk), 1 failed one, 2 passed both.
    course = make.course(cohorts=[world.cohort])
    labs = [make.assignment(course, name=f"lab{i}", max_points=10.0) for i in (1, 2)]
    due = datetime.now(UTC) - timedelta(days=7)
    for lab in labs:
        db.session.add(DueDate(assignment_id=lab.id, cohort_id=world.cohort.id, due_at=due))
    s0, s1, s2 = world.students
    for student, scores in ((s1, (3.0, 9.0)), (s2, (8.0, 7.0))):
        for lab, score in zip(labs, scores):
            db.session.add(Grade(assignment_id=lab.id, student_id=student.id, score=score, max_score=10.0))
    world.province = make.user("province", name="경상남도 담당자")
    db.session.commit()
    return world


def _personal(data) -> list[str]:
    return [v for s in data.students for v in (s.name, s.email)]


def test_province_sees_aggregates_with_small_counts_hidden(client, auth, data):
    """Removing suppress_small from the province's view (views._hide_small returning False) fails this test:
    the one placement then shows as 1."""
    auth.login(data.admin)
    office = client.get("/admin/reports/outcomes.csv?by=cohort").get_data(as_text=True)
    auth.logout()
    auth.login(data.province)
    for by in ("cohort", "university", "sector", "city", "year"):
        body = client.get(f"/admin/reports/outcomes.csv?by={by}").get_data(as_text=True)
        rows = [line.split(",") for line in body.strip().splitlines()[1:]]
        # 1 placed, 1 offer answered and accepted: every one of those counts reads <3, and so do their rates.
        assert all(row[2] == "<3" and row[5] == "<3" and row[6] == "<3" for row in rows), (by, rows)
    assert ",1," in office  # the office sees the real count
    page = client.get("/admin/reports/outcomes?by=cohort").get_data(as_text=True)
    assert "&lt;3" in page and 'data-test="suppressed"' in page
    book = load_workbook(io.BytesIO(client.get("/admin/reports/outcomes.xlsx").data))
    cells = [c.value for sheet in book.worksheets for row in sheet.iter_rows(min_row=2) for c in row[1:3]]
    assert 1 not in cells and "<3" in cells


def test_province_progress_shows_counts_not_names(client, auth, data):
    """The at-risk count (1) is hidden from the province, with no link to the names; the office gets the link
    and the names, and that view is recorded."""
    auth.login(data.province)
    page = client.get("/admin/reports/progress").get_data(as_text=True)
    assert 'data-test="at-risk-link"' not in page and "&lt;3" in page
    assert client.get(f"/admin/reports/progress/{data.cohort.id}/at-risk").status_code == 403
    csv = client.get("/admin/reports/progress.csv").get_data(as_text=True)
    assert csv.strip().splitlines()[1].endswith(",<3")
    auth.logout()
    auth.login(data.admin)
    page = client.get("/admin/reports/progress").get_data(as_text=True)
    assert 'data-test="at-risk-link"' in page
    names = client.get(f"/admin/reports/progress/{data.cohort.id}/at-risk").get_data(as_text=True)
    s0, s1, s2 = data.students
    assert s0.name in names and s1.name not in names and s2.name not in names
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "personal_data.viewed")
                               .order_by(AuditEntry.id.desc())).first()
    assert entry is not None and str(s0.id) in entry.detail and entry.actor_id == data.admin.id


def test_province_is_refused_everywhere_else_and_never_sees_a_trainee(app, client, auth, data):
    """Every GET page without ids: the province's own answer 200 with no trainee's name or address; every other
    page 403 (or a redirect to sign-in pages that any account may use)."""
    auth.login(data.province)
    personal = _personal(data)
    opened = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.endpoint == "static":
            continue
        response = client.get(rule.rule)
        body = response.data.decode("utf-8", "replace")  # the workbook is checked as cells in its own test
        assert not any(p in body for p in personal), rule.endpoint
        if response.status_code == 200:
            opened.add(rule.endpoint)
        if rule.endpoint in PROVINCE_PAGES:
            assert response.status_code == 200, rule.endpoint
    # Pages any signed-in account has (its password, sign-in pages, public pages) are not the office's data.
    extra = opened - PROVINCE_PAGES
    assert all(e.startswith(("auth.", "oauth.", "placements.criteria", "companies.register", "privacy", "legal",
                                "notifications.", "home.healthz"))
               for e in extra), sorted(extra)
    for path in ("/admin/universities", "/admin/users", "/placements/office", "/admin/audit"):
        assert client.get(path).status_code in (403, 404), path


def test_the_office_can_make_a_province_account(client, auth, data):
    auth.login(data.admin)
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert 'value="province"' in page


def test_no_hidden_figure_comes_back_by_a_zero_by_subtraction_or_by_a_mean():
    """The attacks a reviewer ran on the province's figures: cohort B has one placed trainee who left by 6 months.

    How checked: without the numerator rule B's retained_6m read 0 beside followed_6m "<3"; without the rounding the
    university table minus cohort A gave B's counts back; without the mean rule a one-trainee cohort's mean showed.
    """
    columns = ["participants", "placed", "followed_6m", "retained_6m", "retention_6m"]
    cohorts = pd.DataFrame([[12, 5, 5, 5, 100.0], [4, 1, 1, 0, 0.0], [8, 6, 6, 6, 100.0], [24, 12, 12, 11, 91.7]],
                           index=["A", "B", "C", TOTAL], columns=columns)
    universities = pd.DataFrame([[16, 6, 6, 5, 83.3], [8, 6, 6, 6, 100.0], [24, 12, 12, 11, 91.7]],
                                index=["U1", "U2", TOTAL], columns=columns)
    by_cohort, by_university = suppress_small(cohorts), suppress_small(universities)
    assert by_cohort.at["B", "retained_6m"] == HIDDEN and by_cohort.at["B", "retention_6m"] == HIDDEN
    for frame in (by_cohort, by_university):
        for col in ("participants", "placed", "followed_6m", "retained_6m"):
            assert all(v == HIDDEN or v % 5 == 0 for v in frame[col]), (col, list(frame[col]))
    # U1 = A + B: what the two tables show no longer gives B's placed trainee back.
    assert by_university.at["U1", "placed"] - by_cohort.at["A", "placed"] != cohorts.at["B", "placed"]
    progress = pd.DataFrame([[1, 6, 5, 83.3, 97.0, 0], [30, 180, 170, 94.4, 71.0, 3]],
                            index=["tiny", "big"], columns=["trainees", "labs_due", "on_time", "on_time_rate",
                                                            "mean_percent", "at_risk"])
    shown = suppress_small(progress, **PROGRESS_HIDING)  # as the progress page hides it for the province
    assert shown.at["tiny", "mean_percent"] == HIDDEN and shown.at["big", "mean_percent"] == 71.0
