"""Outcome figures as pandas frames, from plain rows (no Flask, no database).

Definitions (shown on the report page):
- placement rate: trainees placed (offer accepted) / trainees in the cohort's match rounds;
  only meaningful by university and cohort, where the trainees belong;
- days to placement: median days from the round's publication to the accepted offer;
- offer acceptance rate: accepted / offers answered or expired (open offers are left out);
- unfilled demands: demands that took part in a round and have fewer placements than places;
- 6-month retention: placements still employed at the 6-month follow-up / those followed up at 6 months;
  12-month retention the same at 12 months;
- by year: the year of the round's cohort (its intake), for the trend of each figure over the years.

Training progress per cohort (progress_frame, lab_score_frame, at_risk_frame) comes from one row per trainee
and lab; suppress_small hides numbers small enough to point at one person (the province's view).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter

import pandas as pd

DIMENSIONS = ("university", "cohort", "sector", "city")
YEAR = "year"  # the trend's grouping: the cohort's year
ROUND_LEVEL = ("university", "cohort", YEAR)  # groupings that have participants (trainees belong to a round)
COLUMNS = ("participants", "placed", "placement_rate", "median_days_to_placement", "offers", "accepted",
           "offer_acceptance_rate", "demands", "unfilled_demands", "followed_6m", "retained_6m", "retention_6m",
           "followed_12m", "retained_12m", "retention_12m")
COUNTS = ("participants", "placed", "offers", "accepted", "demands", "unfilled_demands", "followed_6m",
          "retained_6m", "followed_12m", "retained_12m")
# rate -> (numerator, denominator): a rate is hidden wherever one of its parts is.
RATE_PARTS = {"placement_rate": ("placed", "participants"), "offer_acceptance_rate": ("accepted", "offers"),
              "retention_6m": ("retained_6m", "followed_6m"), "retention_12m": ("retained_12m", "followed_12m")}
TOTAL = "__total__"
SMALL = 3  # a count below this (and above 0) could point at one person: hidden from the province
HIDDEN = "<3"
ROUND_TO = 5  # the province's counts are shown rounded to this (statistical disclosure control, as statistics offices do)


@dataclass(frozen=True, slots=True)
class RoundRow:
    round_id: int
    university: str
    cohort: str
    participants: int
    published_at: datetime | None
    year: int | None = None


@dataclass(frozen=True, slots=True)
class DemandRow:
    demand_id: int
    sector: str
    city: str
    headcount: int


@dataclass(frozen=True, slots=True)
class OfferRow:
    round_id: int
    demand_id: int
    status: str  # open, accepted, declined, expired


@dataclass(frozen=True, slots=True)
class PlacementRow:
    round_id: int
    demand_id: int
    accepted_at: datetime
    employed_6m: bool | None  # None: no 6-month follow-up yet
    employed_12m: bool | None = None  # None: no 12-month follow-up yet


@dataclass(frozen=True, slots=True)
class RoundDemandRow:
    round_id: int
    demand_id: int


def _frame(rows: Iterable[object], columns: list[str]) -> pd.DataFrame:
    # The fields read one by one: dataclasses.asdict deep-copies every value, which cost seconds on ten
    # years of rows (tens of thousands of trainee-lab rows), most of the progress page's time.
    data = list(map(attrgetter(*columns), rows)) if len(columns) > 1 else [(getattr(r, columns[0]),) for r in rows]
    return pd.DataFrame.from_records(data, columns=columns)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).round(4)


def outcome_frame(
    by: str,
    rounds: Iterable[RoundRow],
    demands: Iterable[DemandRow],
    offers: Iterable[OfferRow],
    placements: Iterable[PlacementRow],
    round_demands: Iterable[RoundDemandRow],
) -> pd.DataFrame:
    """Compute the outcome figures grouped by one dimension, with a total row last."""
    if by not in (*DIMENSIONS, YEAR):
        raise ValueError(f"unknown dimension {by!r}")
    r = _frame(rounds, ["round_id", "university", "cohort", "participants", "published_at", "year"])
    d = _frame(demands, ["demand_id", "sector", "city", "headcount"])
    o = _frame(offers, ["round_id", "demand_id", "status"]).merge(r, on="round_id").merge(d, on="demand_id")
    p = _frame(placements, ["round_id", "demand_id", "accepted_at", "employed_6m", "employed_12m"])
    p = p.merge(r, on="round_id")
    p = p.merge(d, on="demand_id")
    rd = _frame(round_demands, ["round_id", "demand_id"]).merge(r, on="round_id").merge(d, on="demand_id")
    fills = p.groupby("demand_id").size()
    rd = rd.assign(unfilled=rd["demand_id"].map(fills).fillna(0) < rd["headcount"])
    p = p.assign(days=(pd.to_datetime(p["accepted_at"], utc=True)
                       - pd.to_datetime(p["published_at"], utc=True)).dt.total_seconds() / 86400)
    answered = o[o["status"] != "open"]
    followed = p[p["employed_6m"].notna()]
    followed12 = p[p["employed_12m"].notna()]

    per_group = rd.drop_duplicates([by, "demand_id"])  # a demand counts once in each group it took part in

    def figures(key: str) -> pd.DataFrame:
        def grouped(frame: pd.DataFrame):
            return frame.groupby(key)

        out = pd.DataFrame({
            "participants": r.groupby(by)["participants"].sum() if by in ROUND_LEVEL else None,
            "placed": grouped(p).size(),
            "median_days_to_placement": grouped(p)["days"].median().round(1),
            "offers": grouped(answered).size(),
            "accepted": grouped(answered)["status"].apply(lambda s: int((s == "accepted").sum())),
            "demands": grouped(per_group).size(),
            "unfilled_demands": grouped(per_group)["unfilled"].sum(),
            "followed_6m": grouped(followed).size(),
            "retained_6m": grouped(followed)["employed_6m"].apply(lambda s: int(s.astype(bool).sum())),
            "followed_12m": grouped(followed12).size(),
            "retained_12m": grouped(followed12)["employed_12m"].apply(lambda s: int(s.astype(bool).sum())),
        })
        return out

    table = figures(by)
    totals = {
        "participants": r["participants"].sum(), "placed": len(p),
        "median_days_to_placement": round(p["days"].median(), 1) if len(p) else None,
        "offers": len(answered), "accepted": int((answered["status"] == "accepted").sum()),
        "demands": rd["demand_id"].nunique(),
        "unfilled_demands": int(rd.drop_duplicates("demand_id")["unfilled"].sum()),
        "followed_6m": len(followed), "retained_6m": int(followed["employed_6m"].astype(bool).sum()),
        "followed_12m": len(followed12), "retained_12m": int(followed12["employed_12m"].astype(bool).sum()),
    }
    table = pd.concat([table, pd.DataFrame([totals], index=[TOTAL])])
    for col in COUNTS[1:]:
        table[col] = table[col].fillna(0).astype(int)
    if by not in ROUND_LEVEL:
        table.loc[table.index != TOTAL, "participants"] = float("nan")
    table["placement_rate"] = _ratio(table["placed"], table["participants"].astype(float))
    table["offer_acceptance_rate"] = _ratio(table["accepted"], table["offers"])
    table["retention_6m"] = _ratio(table["retained_6m"], table["followed_6m"])
    table["retention_12m"] = _ratio(table["retained_12m"], table["followed_12m"])
    table.index.name = by
    return table[list(COLUMNS)]


def frame_of(by: str, rows: Mapping[str, list]) -> pd.DataFrame:
    """Compute the outcome frame of one grouping from the rows services.load_rows returns."""
    return outcome_frame(by, rows["rounds"], rows["demands"], rows["offers"], rows["placements"],
                         rows["round_demands"])


def all_frames(rows: Mapping[str, list]) -> dict[str, pd.DataFrame]:
    """Compute the outcome frame for every dimension, and the trend by year, from one set of rows."""
    return {by: frame_of(by, rows) for by in (*DIMENSIONS, YEAR)}


def _small(value: object) -> bool:
    return pd.api.types.is_number(value) and value == value and 0 < value < SMALL


def suppress_small(frame: pd.DataFrame, counts: tuple[str, ...] = COUNTS,
                   rates: Mapping[str, tuple[str, str]] = RATE_PARTS,
                   medians: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Return a copy where every count from 1 to SMALL-1 reads HIDDEN, and so does each rate or median built on
    a hidden or small count and each numerator over a hidden denominator; a total row's cell is hidden too where a
    group's cell of its column is (else the hidden number would come back by subtraction); the counts shown are
    rounded to ROUND_TO (else it would come back by subtracting another grouping's figures). medians maps a median
    (or mean) column to the count it is taken over."""
    medians = {"median_days_to_placement": "placed"} if medians is None else medians
    out = frame.astype(object).copy()
    groups = [k for k in frame.index if k != TOTAL]
    for col in counts:
        if col not in frame:
            continue
        hidden = [k for k in groups if _small(frame.at[k, col])]
        for key in hidden:
            out.at[key, col] = HIDDEN
        if TOTAL in frame.index and (hidden or _small(frame.at[TOTAL, col])):
            out.at[TOTAL, col] = HIDDEN
    # A numerator whose denominator is hidden is hidden too, even a 0 ("0 of <3 still employed" names an outcome).
    for numerator, denominator in rates.values():
        if numerator not in frame or denominator not in frame:
            continue
        for key in frame.index:
            if out.at[key, denominator] == HIDDEN:
                out.at[key, numerator] = HIDDEN
        if TOTAL in frame.index and any(out.at[k, numerator] == HIDDEN for k in groups):
            out.at[TOTAL, numerator] = HIDDEN
    for rate, parts in rates.items():
        for key in frame.index:
            if rate in frame and any(out.at[key, part] == HIDDEN for part in parts if part in frame):
                out.at[key, rate] = HIDDEN
    for median, count in medians.items():
        for key in frame.index:
            if median in frame and (out.at[key, count] == HIDDEN or _small(frame.at[key, count])):
                out.at[key, median] = HIDDEN
    # Counts shown are rounded to a multiple of ROUND_TO, so that subtracting one table's figures from another
    # grouping's (a university's from its cohorts', a year's from the universities') cannot give back a hidden one.
    for col in counts:
        if col in frame:
            out[col] = [v if v == HIDDEN or not pd.api.types.is_number(v) or v != v else int(ROUND_TO * round(v / ROUND_TO))
                        for v in out[col]]
    return out


def numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with hidden cells as NaN (no data), for charts."""
    return frame.apply(lambda col: pd.to_numeric(col.where(col != HIDDEN), errors="coerce"))


# --- training progress per cohort ------------------------------------------------------------------------------

AT_RISK_LABS = 2  # as on the instructor's dashboard: two or more missed or failing labs
FAILING_PERCENT = 50.0
PROGRESS_COLUMNS = ("trainees", "labs_due", "on_time", "on_time_rate", "mean_percent", "at_risk")
# How suppress_small hides the progress frame for the province: a mean over fewer than SMALL trainees is one of them.
PROGRESS_HIDING = {"counts": ("trainees", "labs_due", "on_time", "at_risk"),
                   "rates": {"on_time_rate": ("on_time", "labs_due")}, "medians": {"mean_percent": "trainees"}}


@dataclass(frozen=True, slots=True)
class LabWorkRow:
    """One trainee's one lab, in a cohort: when it is due, when it came in, its score."""

    cohort: str
    trainee_id: int
    lab: str
    due_at: datetime
    handed_in_at: datetime | None  # the first submission; None: none through the portal
    percent: float | None  # the grade in percent of the lab's points; None: not graded


def _work(rows: Iterable[LabWorkRow], now: datetime) -> pd.DataFrame:
    w = _frame(rows, ["cohort", "trainee_id", "lab", "due_at", "handed_in_at", "percent"])
    due = pd.to_datetime(w["due_at"], utc=True)
    came = pd.to_datetime(w["handed_in_at"], utc=True)
    graded = w["percent"].notna()
    w["handed_in"] = graded | came.notna()
    w["counted"] = (due <= pd.Timestamp(now)) | w["handed_in"]  # due by now, or in already
    # A lab graded without a portal submission (marked by hand) counts as handed in on time.
    w["on_time"] = w["handed_in"] & (came.isna() | (came <= due))
    w["missed"] = (due <= pd.Timestamp(now)) & ~graded
    w["failing"] = graded & (w["percent"] < FAILING_PERCENT)
    return w


def at_risk_frame(rows: Iterable[LabWorkRow], now: datetime) -> pd.DataFrame:
    """The trainees with AT_RISK_LABS or more missed or failing labs: cohort, missed and failing labs."""
    return _at_risk(_work(rows, now))


def _at_risk(w: pd.DataFrame) -> pd.DataFrame:
    key = ["cohort", "trainee_id"]
    trouble = w[w["missed"] | w["failing"]]
    # Counted over every trainee at once, the lab lists made for those at risk only (a Python function per
    # trainee and lab cost a second on ten years of cohorts).
    trouble = trouble[trouble.groupby(key)["lab"].transform("nunique") >= AT_RISK_LABS]
    if trouble.empty:
        return pd.DataFrame(columns=[*key, "missed", "failing"])
    per = pd.DataFrame(index=trouble.groupby(key).size().index)
    for column in ("missed", "failing"):
        labs = trouble[trouble[column]].groupby(key)["lab"].agg(sorted).reindex(per.index)
        per[column] = [v if isinstance(v, list) else [] for v in labs]
    return per.reset_index()[[*key, "missed", "failing"]]


def progress_frame(rows: Iterable[LabWorkRow], now: datetime) -> pd.DataFrame:
    """Per cohort: trainees, labs due (or in) so far, handed in on time, the on-time rate, the mean score in
    percent over graded labs, and the trainees at risk; a total row last."""
    return _progress_of(_work(rows, now))


def progress_frames(rows: Iterable[LabWorkRow], now: datetime) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """progress_frame and lab_score_frame of the same rows, read into a frame once (a tenth of a second on ten
    years of trainee-lab rows)."""
    w = _work(rows, now)
    return (_progress_of(w), *_lab_scores(w))


def _progress_of(w: pd.DataFrame) -> pd.DataFrame:
    risk = _at_risk(w).groupby("cohort").size()
    counted = w[w["counted"]]

    def mean(percent: pd.Series) -> float | None:
        return round(percent.mean(), 1) if percent.notna().any() else None

    # Grouped once (a filter of every row per cohort cost a tenth of a second on ten years of cohorts).
    table = pd.DataFrame({
        "trainees": w.groupby("cohort")["trainee_id"].nunique(),
        "labs_due": counted.groupby("cohort").size(),
        "on_time": counted.groupby("cohort")["on_time"].sum(),
        "mean_percent": w.groupby("cohort")["percent"].agg(mean),
    }).reindex(sorted(w["cohort"].unique())).astype(object)
    table[["labs_due", "on_time"]] = table[["labs_due", "on_time"]].fillna(0)
    table.loc[TOTAL] = {"trainees": w["trainee_id"].nunique(), "labs_due": len(counted),
                        "on_time": int(counted["on_time"].sum()), "mean_percent": mean(w["percent"])}
    table["at_risk"] = [int(risk.get(k, 0)) if k != TOTAL else int(risk.sum()) for k in table.index]
    for col in ("trainees", "labs_due", "on_time", "at_risk"):
        table[col] = table[col].astype(int)
    table["mean_percent"] = table["mean_percent"].astype(float)
    table["on_time_rate"] = _ratio(table["on_time"], table["labs_due"])
    table.index.name = "cohort"
    return table[list(PROGRESS_COLUMNS)]


def lab_score_frame(rows: Iterable[LabWorkRow]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The mean score in percent per cohort (rows) and lab (columns, in first-seen order), and how many graded
    labs each mean is taken over."""
    return _lab_scores(_frame(rows, ["cohort", "trainee_id", "lab", "due_at", "handed_in_at", "percent"]))


def _lab_scores(w: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    labs = list(dict.fromkeys(w.sort_values("due_at", kind="stable")["lab"]))
    graded = w[w["percent"].notna()]
    means = graded.pivot_table(index="cohort", columns="lab", values="percent", aggfunc="mean").round(1)
    counts = graded.pivot_table(index="cohort", columns="lab", values="percent", aggfunc="count")
    cohorts = sorted(w["cohort"].unique())
    means = means.reindex(index=cohorts, columns=labs)
    counts = counts.reindex(index=cohorts, columns=labs).fillna(0).astype(int)
    return means, counts
