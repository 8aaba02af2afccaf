"""The outcome figures on a small instance worked out by hand."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from academy.reports.frames import (
    TOTAL,
    DemandRow,
    OfferRow,
    PlacementRow,
    RoundDemandRow,
    RoundRow,
    all_frames,
    outcome_frame,
)

T = datetime(2027, 3, 1, tzinfo=UTC)


def rows() -> dict[str, list]:
    return {
        "rounds": [RoundRow(1, "창원대", "A", 10, T), RoundRow(2, "경상대", "B", 5, T)],
        "demands": [DemandRow(1, "기계", "창원시", 2), DemandRow(2, "항공우주", "사천시", 1)],
        "offers": [OfferRow(1, 1, "accepted"), OfferRow(1, 1, "declined"), OfferRow(2, 2, "expired"),
                   OfferRow(2, 2, "open"), OfferRow(2, 1, "accepted")],
        "placements": [PlacementRow(1, 1, T + timedelta(days=4), True),
                       PlacementRow(2, 1, T + timedelta(days=10), None)],
        "round_demands": [RoundDemandRow(1, 1), RoundDemandRow(2, 2), RoundDemandRow(2, 1)],
    }


def test_by_university():
    f = outcome_frame("university", **rows())
    assert f.loc["창원대", "placement_rate"] == 0.1 and f.loc["경상대", "placement_rate"] == 0.2
    assert f.loc["창원대", "median_days_to_placement"] == 4.0
    assert f.loc["경상대", "offers"] == 2 and f.loc["경상대", "offer_acceptance_rate"] == 0.5  # open left out
    assert f.loc["경상대", "demands"] == 2 and f.loc["경상대", "unfilled_demands"] == 1
    assert f.loc[TOTAL, "placed"] == 2 and f.loc[TOTAL, "placement_rate"] == round(2 / 15, 4)
    assert f.loc[TOTAL, "median_days_to_placement"] == 7.0
    assert f.loc[TOTAL, "retention_6m"] == 1.0 and f.loc[TOTAL, "followed_6m"] == 1


def test_by_sector_has_no_placement_rate_but_counts_demands_once():
    f = outcome_frame("sector", **rows())
    assert f.loc["기계", "placed"] == 2 and f.loc["기계", "unfilled_demands"] == 0
    assert f.loc["항공우주", "unfilled_demands"] == 1 and f.loc["항공우주", "offer_acceptance_rate"] == 0.0
    assert f["placement_rate"].drop(TOTAL).isna().all()
    assert f.loc[TOTAL, "demands"] == 2


def test_every_dimension_works_on_no_data():
    empty = {k: [] for k in rows()}
    for frame in all_frames(empty).values():
        assert list(frame.index) == [TOTAL] and frame.loc[TOTAL, "placed"] == 0


def test_unknown_dimension_is_refused():
    with pytest.raises(ValueError):
        outcome_frame("gender", **rows())
