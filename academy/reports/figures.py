"""The reports' charts, each with the table of its numbers: built from the frames (frames.py) for the pages.

A chart is an SVG image (academy/charts.py); the table beside it holds the same numbers for screen readers and
for copying, with hidden small counts (frames.HIDDEN) shown as such and left out of the chart.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from flask_babel import lazy_gettext as _l

from academy.charts import ERR, OK, hbar, lines
from academy.reports.frames import HIDDEN, SMALL, TOTAL, numeric

HEADERS = {
    "university": _l("University"), "cohort": _l("Cohort"), "sector": _l("Sector"), "city": _l("City or county"),
    "year": _l("Year"),
    "participants": _l("Trainees in rounds"), "placed": _l("Placed"), "placement_rate": _l("Placement rate"),
    "median_days_to_placement": _l("Median days to placement"), "offers": _l("Offers answered"),
    "accepted": _l("Offers accepted"), "offer_acceptance_rate": _l("Offer acceptance rate"),
    "demands": _l("Demands in rounds"), "unfilled_demands": _l("Unfilled demands"),
    "followed_6m": _l("Followed up at 6 months"), "retained_6m": _l("Employed at 6 months"),
    "retention_6m": _l("6-month retention"), "followed_12m": _l("Followed up at 12 months"),
    "retained_12m": _l("Employed at 12 months"), "retention_12m": _l("12-month retention"),
    "trainees": _l("Trainees"), "labs_due": _l("Labs due so far"), "on_time": _l("Handed in on time"),
    "on_time_rate": _l("Submissions on time"), "mean_percent": _l("Average score"),
    "at_risk": _l("Trainees at risk"), "lab": _l("Lab"),
}
RATES = {"placement_rate", "offer_acceptance_rate", "retention_6m", "retention_12m", "on_time_rate"}
DECIMALS = {"median_days_to_placement", "mean_percent"}
# The outcome page's bar charts (the placement rate only where trainees belong: by university and cohort).
CHARTED = ("placement_rate", "offer_acceptance_rate", "median_days_to_placement", "retention_6m", "retention_12m",
           "unfilled_demands")
TREND = ("placement_rate", "median_days_to_placement", "offer_acceptance_rate", "retention_6m", "retention_12m",
         "unfilled_demands")


@dataclass
class Chart:
    name: str
    title: str
    url: str  # an SVG data: URL
    head: list[str]
    rows: list[list[str]] = field(default_factory=list)


def cell(column: str, value: object) -> str:
    """Show one figure: a rate in percent, a median or mean with one decimal, a count whole; — for no data."""
    if isinstance(value, str):
        return value  # HIDDEN, or a label
    if value is None or value != value:
        return "—"
    if column in RATES:
        return f"{float(value) * 100:.1f}%"
    if column in DECIMALS:
        return f"{float(value):.1f}"
    return str(int(value))


def _axis(column: str) -> tuple[str, float, float | None]:
    """(axis label, scale, axis maximum) of a column's chart."""
    if column in RATES:
        return f"{HEADERS[column]} (%)", 100.0, 100.0
    if column == "mean_percent":
        return f"{HEADERS[column]} (%)", 1.0, 100.0
    return str(HEADERS[column]), 1.0, None


def bar_charts(shown: pd.DataFrame, by: str, columns: tuple[str, ...], prefix: str = "chart") -> list[Chart]:
    """A horizontal bar chart per column, a bar per group (the total row left out), with its table."""
    values = numeric(shown)
    groups = [k for k in shown.index if k != TOTAL]
    charts = []
    for column in columns:
        label, scale, top = _axis(column)
        present = [(str(k), float(values.at[k, column]) * scale) for k in groups if values.at[k, column] == values.at[k, column]]
        if not present:
            continue
        xmax = top or (max(v for _k, v in present) * 1.1 or 1.0)
        url = hbar([k for k, _v in present], [v for _k, v in present], xmax=xmax, xlabel=label,
                   color=ERR if column in ("unfilled_demands", "at_risk") else (OK if column == "on_time_rate" else "#0b5cad"))
        charts.append(Chart(f"{prefix}-{column}", f"{HEADERS[column]} · {HEADERS[by]}", url,
                            [str(HEADERS[by]), str(HEADERS[column])],
                            [[str(k), cell(column, shown.at[k, column])] for k in groups]))
    return charts


def trend_charts(shown: pd.DataFrame) -> list[Chart]:
    """A line chart per measure over the years (frames.YEAR), with its table."""
    values = numeric(shown)
    years = [k for k in shown.index if k != TOTAL]
    charts = []
    if not years:
        return charts
    labels = [str(int(y)) if isinstance(y, (int, float)) else str(y) for y in years]
    for column in TREND:
        label, scale, top = _axis(column)
        series = [float(values.at[y, column]) * scale if values.at[y, column] == values.at[y, column] else None
                  for y in years]
        if all(v is None for v in series):
            continue
        url = lines(labels, {str(HEADERS[column]): series}, ylabel=label, ymax=top)
        charts.append(Chart(f"trend-{column}", f"{HEADERS[column]} · {HEADERS['year']}", url,
                            [str(HEADERS["year"]), str(HEADERS[column])],
                            [[y, cell(column, shown.at[k, column])] for y, k in zip(labels, years)]))
    return charts


def lab_chart(means: pd.DataFrame, counts: pd.DataFrame, hide_small: bool) -> Chart | None:
    """The average score per lab, a line per cohort, with the cohort-by-lab table; a mean over fewer than
    frames.SMALL graded labs is hidden where hide_small."""
    graded = [lab for lab in means.columns if counts[lab].sum() > 0]  # labs nobody has a grade in are left out
    means, counts = means[graded], counts[graded]
    if means.empty or not len(means.columns):
        return None
    shown = means.astype(object)
    if hide_small:
        shown = shown.mask((counts > 0) & (counts < SMALL), HIDDEN)
    labs = [str(c) for c in means.columns]
    series = {str(k): [float(v) if not isinstance(v, str) and v == v else None for v in shown.loc[k]]
              for k in means.index}
    url = lines(labs, series, ylabel=str(HEADERS["mean_percent"]), ymax=100.0)
    return Chart("chart-lab-scores", f"{HEADERS['mean_percent']} · {HEADERS['lab']}", url,
                 [str(HEADERS["cohort"]), *labs],
                 [[str(k), *(cell("mean_percent", v) for v in shown.loc[k])] for k in means.index])
