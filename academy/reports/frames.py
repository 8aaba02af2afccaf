"""Outcome figures as pandas frames, from plain rows (no Flask, no database).

Definitions (shown on the report page):
- placement rate: trainees placed (offer accepted) / trainees in the cohort's match rounds;
  only meaningful by university and cohort, where the trainees belong;
- days to placement: median days from the round's publication to the accepted offer;
- offer acceptance rate: accepted / offers answered or expired (open offers are left out);
- unfilled demands: demands that took part in a round and have fewer placements than places;
- 6-month retention: placements still employed at the 6-month follow-up / those followed up at 6 months.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

import pandas as pd

DIMENSIONS = ("university", "cohort", "sector", "city")
COLUMNS = ("participants", "placed", "placement_rate", "median_days_to_placement", "offers", "accepted",
           "offer_acceptance_rate", "demands", "unfilled_demands", "followed_6m", "retained_6m", "retention_6m")
TOTAL = "__total__"


@dataclass(frozen=True, slots=True)
class RoundRow:
    round_id: int
    university: str
    cohort: str
    participants: int
    published_at: datetime | None


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


@dataclass(frozen=True, slots=True)
class RoundDemandRow:
    round_id: int
    demand_id: int


def _frame(rows: Iterable[object], columns: list[str]) -> pd.DataFrame:
    data = [asdict(r) for r in rows]  # type: ignore[call-overload]
    return pd.DataFrame(data, columns=columns)


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
    if by not in DIMENSIONS:
        raise ValueError(f"unknown dimension {by!r}")
    r = _frame(rounds, ["round_id", "university", "cohort", "participants", "published_at"])
    d = _frame(demands, ["demand_id", "sector", "city", "headcount"])
    o = _frame(offers, ["round_id", "demand_id", "status"]).merge(r, on="round_id").merge(d, on="demand_id")
    p = _frame(placements, ["round_id", "demand_id", "accepted_at", "employed_6m"]).merge(r, on="round_id")
    p = p.merge(d, on="demand_id")
    rd = _frame(round_demands, ["round_id", "demand_id"]).merge(r, on="round_id").merge(d, on="demand_id")
    fills = p.groupby("demand_id").size()
    rd = rd.assign(unfilled=rd["demand_id"].map(fills).fillna(0) < rd["headcount"])
    p = p.assign(days=(pd.to_datetime(p["accepted_at"], utc=True)
                       - pd.to_datetime(p["published_at"], utc=True)).dt.total_seconds() / 86400)
    answered = o[o["status"] != "open"]
    followed = p[p["employed_6m"].notna()]

    per_group = rd.drop_duplicates([by, "demand_id"])  # a demand counts once in each group it took part in

    def figures(key: str) -> pd.DataFrame:
        def grouped(frame: pd.DataFrame):
            return frame.groupby(key)

        out = pd.DataFrame({
            "participants": r.groupby(by)["participants"].sum() if by in ("university", "cohort") else None,
            "placed": grouped(p).size(),
            "median_days_to_placement": grouped(p)["days"].median().round(1),
            "offers": grouped(answered).size(),
            "accepted": grouped(answered)["status"].apply(lambda s: int((s == "accepted").sum())),
            "demands": grouped(per_group).size(),
            "unfilled_demands": grouped(per_group)["unfilled"].sum(),
            "followed_6m": grouped(followed).size(),
            "retained_6m": grouped(followed)["employed_6m"].apply(lambda s: int(s.astype(bool).sum())),
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
    }
    table = pd.concat([table, pd.DataFrame([totals], index=[TOTAL])])
    for col in ("placed", "offers", "accepted", "demands", "unfilled_demands", "followed_6m", "retained_6m"):
        table[col] = table[col].fillna(0).astype(int)
    if by not in ("university", "cohort"):
        table.loc[table.index != TOTAL, "participants"] = float("nan")
    table["placement_rate"] = _ratio(table["placed"], table["participants"].astype(float))
    table["offer_acceptance_rate"] = _ratio(table["accepted"], table["offers"])
    table["retention_6m"] = _ratio(table["retained_6m"], table["followed_6m"])
    table.index.name = by
    return table[list(COLUMNS)]


def all_frames(rows: Mapping[str, list]) -> dict[str, pd.DataFrame]:
    """Compute the outcome frame for every dimension from one set of rows."""
    return {by: outcome_frame(by, rows["rounds"], rows["demands"], rows["offers"], rows["placements"],
                              rows["round_demands"]) for by in DIMENSIONS}
