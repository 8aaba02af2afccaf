"""The office's outcome pages and exports: access, figures from the database, formula-safe files."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from academy.extensions import db
from tests.placements.conftest import world  # noqa: F401 - the placement world fixture
from tests.placements.test_retention import _full_round


@pytest.fixture
def data(app, world):  # noqa: F811
    _full_round(world)
    return world


def test_only_the_office_sees_outcomes(client, auth, data):
    for user in (data.recruiter, data.students[0]):
        auth.login(user)
        for path in ("/admin/reports/outcomes", "/admin/reports/outcomes.csv", "/admin/reports/outcomes.xlsx"):
            assert client.get(path).status_code == 403
        auth.logout()


def test_outcomes_page_shows_the_figures(client, auth, data):
    auth.login(data.admin)
    page = client.get("/admin/reports/outcomes?by=cohort").get_data(as_text=True)
    # 3 trainees in the round, 1 placed: 33.3%; 1 of 1 answered offers accepted (the other is open).
    assert "33.3%" in page and "100.0%" in page
    # Charts as SVG images (no script) of the rate, the days to placement and the retention, per cohort.
    address = re.search(r'<img src="(/charts/[0-9a-f]{64}\.svg)" alt="[^"]+" data-test="chart-placement_rate">', page)
    assert address and client.get(address.group(1)).mimetype == "image/svg+xml"
    assert 'data-test="chart-offer_acceptance_rate"' in client.get("/admin/reports/outcomes?by=sector").get_data(
        as_text=True)
    assert client.get("/admin/reports/outcomes?by=gender").status_code == 404
    for by in ("university", "sector", "city"):
        assert client.get(f"/admin/reports/outcomes?by={by}").status_code == 200


def test_csv_and_xlsx_neutralise_formulas(client, auth, data):
    data.cohort.university.name_ko = "=HYPERLINK(\"http://evil\")"
    db.session.commit()
    auth.login(data.admin)
    body = client.get("/admin/reports/outcomes.csv?by=university").get_data(as_text=True)
    assert "'=HYPERLINK" in body and "\n=HYPERLINK" not in body
    assert body.startswith("\ufeff")
    book = load_workbook(io.BytesIO(client.get("/admin/reports/outcomes.xlsx").data))
    assert len(book.sheetnames) == 5  # the four dimensions and the trend by year
    cells = [c.value for row in book.worksheets[0].iter_rows() for c in row]
    assert "'=HYPERLINK(\"http://evil\")" in cells
    assert not any(isinstance(v, str) and v.startswith("=") for v in cells)
