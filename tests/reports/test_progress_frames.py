"""Training progress per cohort, the trend by year, 12-month retention and small-count suppression, worked out
by hand on small instances (pure frames, no database)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from academy.reports.frames import (HIDDEN, TOTAL, DemandRow, LabWorkRow, OfferRow, PlacementRow, RoundDemandRow,
                                    RoundRow, at_risk_frame, lab_score_frame, outcome_frame, progress_frame,
                                    suppress_small)

NOW = datetime(2027, 6, 1, tzinfo=UTC)
PAST, FUTURE = NOW - timedelta(days=7), NOW + timedelta(days=7)


def work() -> list[LabWorkRow]:
    return [
        # Cohort A: trainee 1 missed lab1 and failed lab2 (at risk); trainee 2 late on lab1, passed lab2.
        LabWorkRow("A", 1, "lab1", PAST, None, None),
        LabWorkRow("A", 1, "lab2", PAST, PAST - timedelta(hours=1), 30.0),
        LabWorkRow("A", 2, "lab1", PAST, PAST + timedelta(hours=2), 80.0),
        LabWorkRow("A", 2, "lab2", PAST, None, 90.0),  # graded by hand: on time
        LabWorkRow("A", 2, "lab3", FUTURE, None, None),  # not due yet: not counted
        # Cohort B: trainee 3 missed one lab only (not at risk).
        LabWorkRow("B", 3, "lab1", PAST, None, None),
        LabWorkRow("B", 3, "lab2", PAST, PAST, 70.0),
    ]


def test_progress_per_cohort():
    f = progress_frame(work(), NOW)
    assert f.loc["A", "trainees"] == 2 and f.loc["A", "labs_due"] == 4 and f.loc["A", "on_time"] == 2
    assert f.loc["A", "on_time_rate"] == 0.5 and f.loc["A", "mean_percent"] == round((30 + 80 + 90) / 3, 1)
    assert f.loc["A", "at_risk"] == 1 and f.loc["B", "at_risk"] == 0
    assert f.loc["B", "on_time_rate"] == 0.5  # the missed lab counts against, the one on the due minute for
    assert f.loc[TOTAL, "labs_due"] == 6 and f.loc[TOTAL, "at_risk"] == 1


def test_at_risk_names_the_labs():
    risk = at_risk_frame(work(), NOW)
    assert list(risk["trainee_id"]) == [1]
    assert risk.iloc[0]["missed"] == ["lab1"] and risk.iloc[0]["failing"] == ["lab2"]


def test_lab_scores_per_cohort():
    means, counts = lab_score_frame(work())
    assert list(means.columns) == ["lab1", "lab2", "lab3"]
    assert means.loc["A", "lab2"] == 60.0 and counts.loc["A", "lab2"] == 2 and pd.isna(means.loc["A", "lab3"])


def test_trend_by_year_and_12_month_retention():
    t = datetime(2026, 3, 1, tzinfo=UTC)
    f = outcome_frame(
        "year",
        rounds=[RoundRow(1, "U", "A", 10, t, 2026), RoundRow(2, "U", "B", 5, t, 2027)],
        demands=[DemandRow(1, "기계", "창원시", 5)],
        offers=[OfferRow(1, 1, "accepted"), OfferRow(1, 1, "accepted"), OfferRow(2, 1, "declined")],
        placements=[PlacementRow(1, 1, t + timedelta(days=2), True, True),
                    PlacementRow(1, 1, t + timedelta(days=4), True, False)],
        round_demands=[RoundDemandRow(1, 1), RoundDemandRow(2, 1)],
    )
    assert f.loc[2026, "placement_rate"] == 0.2 and f.loc[2026, "retention_12m"] == 0.5
    assert f.loc[2027, "placed"] == 0 and f.loc[2027, "offer_acceptance_rate"] == 0.0
    assert f.loc[TOTAL, "followed_12m"] == 2 and f.loc[TOTAL, "retained_12m"] == 1


def test_small_counts_are_hidden_with_what_they_would_reveal():
    frame = pd.DataFrame({"participants": [10, 20, 30], "placed": [1, 5, 6], "placement_rate": [0.1, 0.25, 0.2],
                          "median_days_to_placement": [3.0, 4.0, 4.0]}, index=["A", "B", TOTAL])
    shown = suppress_small(frame, counts=("participants", "placed"),
                           rates={"placement_rate": ("placed", "participants")})
    assert shown.at["A", "placed"] == HIDDEN and shown.at["A", "placement_rate"] == HIDDEN
    assert shown.at["A", "median_days_to_placement"] == HIDDEN
    assert shown.at["B", "placed"] == 5 and shown.at["B", "placement_rate"] == 0.25
    # The total would give A's 1 back by subtraction (6 - 5): hidden too.
    assert shown.at[TOTAL, "placed"] == HIDDEN and shown.at[TOTAL, "participants"] == 30
    assert shown.at["A", "participants"] == 10  # nothing small there


def test_no_lab_due_yet_gives_a_total_row_of_zeros():
    """A new academy (no cohort with a lab that has a due date): the progress page shows zeros, not an error
    (progress_frame raised KeyError on no rows before it grouped once per column)."""
    frame = progress_frame([], datetime.now(UTC))
    assert list(frame.index) == [TOTAL]
    assert frame.loc[TOTAL, ["trainees", "labs_due", "on_time", "at_risk"]].tolist() == [0, 0, 0, 0]
    assert pd.isna(frame.loc[TOTAL, "mean_percent"]) and pd.isna(frame.loc[TOTAL, "on_time_rate"])
