"""Load the plain rows the outcome frames are computed from, and export frames safely."""
from __future__ import annotations

import csv
import io

import pandas as pd
import sqlalchemy as sa
from openpyxl import Workbook

from academy.companies.models import CITIES, SECTOR_NAMES, Company, Demand
from academy.extensions import db
from academy.placements.models import FollowUp, MatchRound, Offer, Placement, RoundDemand, offer_status_now
from academy.reports.frames import DemandRow, OfferRow, PlacementRow, RoundDemandRow, RoundRow
from academy.universities.models import Cohort, University

# A cell starting with one of these is a formula to a spreadsheet (CSV injection, OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def load_rows(lang: str = "ko") -> dict[str, list]:
    """Read rounds, demands, offers, placements and round demands as plain rows (no personal data)."""
    ko = lang == "ko"
    rounds = [
        RoundRow(r.id, uni.name_ko if ko else uni.name_en, f"{uni.code} {c.year} {c.name}", r.participants,
                 r.published_at)
        for r, c, uni in db.session.execute(
            sa.select(MatchRound, Cohort, University).join(Cohort, Cohort.id == MatchRound.cohort_id)
            .join(University, University.id == Cohort.university_id)
            .where(MatchRound.matched_at.is_not(None)))
    ]
    ids = [r.round_id for r in rounds]
    demands = [
        DemandRow(d.id, SECTOR_NAMES[c.sector][0 if ko else 1], CITIES[d.work_city][0 if ko else 1], d.headcount)
        for d, c in db.session.execute(sa.select(Demand, Company).join(Company, Company.id == Demand.company_id))
    ]
    offers = [OfferRow(*row) for row in db.session.execute(
        sa.select(Offer.round_id, Offer.demand_id, offer_status_now()).where(Offer.round_id.in_(ids)))]
    six = (sa.select(FollowUp.employed).where(FollowUp.placement_id == Placement.id, FollowUp.months == 6)
           .scalar_subquery())
    placements = [PlacementRow(*row) for row in db.session.execute(
        sa.select(Placement.round_id, Placement.demand_id, Placement.accepted_at, six)
        .where(Placement.round_id.in_(ids)))]
    round_demands = [RoundDemandRow(*row) for row in db.session.execute(
        sa.select(RoundDemand.round_id, RoundDemand.demand_id).where(RoundDemand.round_id.in_(ids)))]
    return {"rounds": rounds, "demands": demands, "offers": offers, "placements": placements,
            "round_demands": round_demands}


def safe_cell(value: object) -> object:
    """Neutralise text a spreadsheet would run as a formula; leave numbers alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _records(frame: pd.DataFrame, headers: dict[str, str], total_label: str) -> tuple[list[str], list[list]]:
    from academy.reports.frames import TOTAL

    head = [headers.get(frame.index.name, frame.index.name)] + [headers.get(c, c) for c in frame.columns]
    rows = []
    for key, values in frame.iterrows():
        label = total_label if key == TOTAL else key
        cells = [None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in values]
        rows.append([safe_cell(label), *cells])
    return head, rows


def to_csv(frame: pd.DataFrame, headers: dict[str, str], total_label: str) -> str:
    """Write a frame as CSV (UTF-8 with BOM so spreadsheets read Korean), formula-safe."""
    head, rows = _records(frame, headers, total_label)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([safe_cell(h) for h in head])
    writer.writerows(rows)
    return out.getvalue()


def to_xlsx(frames: dict[str, pd.DataFrame], headers: dict[str, str], total_label: str) -> bytes:
    """Write one sheet per dimension, formula-safe."""
    book = Workbook()
    book.remove(book.active)
    for name, frame in frames.items():
        sheet = book.create_sheet(title=str(headers.get(name, name))[:31])
        head, rows = _records(frame, headers, total_label)
        sheet.append([safe_cell(h) for h in head])
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
