"""Load the plain rows the outcome frames are computed from, and export frames safely."""
from __future__ import annotations

import csv
import io

import pandas as pd
import sqlalchemy as sa
from openpyxl import Workbook

from academy.admissions.models import Enrollment
from academy.audit.services import record
from academy.auth.models import User
from academy.companies.models import CITIES, SECTOR_NAMES, Company, Demand
from academy.courses.models import Assignment, Course, DueDate, Extension, Grade, course_cohorts
from academy.extensions import db
from academy.placements.models import FollowUp, MatchRound, Offer, Placement, RoundDemand, offer_status_now
from academy.reports.frames import (TOTAL, DemandRow, LabWorkRow, OfferRow, PlacementRow, RoundDemandRow,
                                    RoundRow, at_risk_frame)
from academy.submissions.models import Submission
from academy.universities.models import Cohort, University

# A cell starting with one of these is a formula to a spreadsheet (CSV injection, OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def load_rows(lang: str = "ko") -> dict[str, list]:
    """Read rounds, demands, offers, placements and round demands as plain rows (no personal data)."""
    ko = lang == "ko"
    rounds = [
        RoundRow(r.id, uni.name_ko if ko else uni.name_en, _cohort_label(uni, c), r.participants,
                 r.published_at, c.year)
        for r, c, uni in db.session.execute(
            sa.select(MatchRound, Cohort, University).join(Cohort, Cohort.id == MatchRound.cohort_id)
            .join(University, University.id == Cohort.university_id)
            .where(MatchRound.matched_at.is_not(None)))
    ]
    ids = [r.round_id for r in rounds]
    # Only the columns the figures need, and only demands that took part in a round, offer or placement of
    # these rounds (a demand in none of them drops out of every merge): plain rows, not ORM objects.
    in_rounds = sa.union(sa.select(RoundDemand.demand_id).where(RoundDemand.round_id.in_(ids)),
                         sa.select(Offer.demand_id).where(Offer.round_id.in_(ids)),
                         sa.select(Placement.demand_id).where(Placement.round_id.in_(ids)))
    demands = [
        DemandRow(demand_id, SECTOR_NAMES[sector][0 if ko else 1], CITIES[city][0 if ko else 1], headcount)
        for demand_id, sector, city, headcount in db.session.execute(
            sa.select(Demand.id, Company.sector, Demand.work_city, Demand.headcount)
            .join(Company, Company.id == Demand.company_id).where(Demand.id.in_(in_rounds)))
    ]
    offers = [OfferRow(*row) for row in db.session.execute(
        sa.select(Offer.round_id, Offer.demand_id, offer_status_now()).where(Offer.round_id.in_(ids)))]
    def employed(months: int):
        return (sa.select(FollowUp.employed).where(FollowUp.placement_id == Placement.id, FollowUp.months == months)
                .limit(1).scalar_subquery())

    placements = [PlacementRow(*row) for row in db.session.execute(
        sa.select(Placement.round_id, Placement.demand_id, Placement.accepted_at, employed(6), employed(12))
        .where(Placement.round_id.in_(ids)))]
    round_demands = [RoundDemandRow(*row) for row in db.session.execute(
        sa.select(RoundDemand.round_id, RoundDemand.demand_id).where(RoundDemand.round_id.in_(ids)))]
    return {"rounds": rounds, "demands": demands, "offers": offers, "placements": placements,
            "round_demands": round_demands}


def _cohort_label(uni: University, cohort: Cohort) -> str:
    return f"{uni.code} {cohort.year} {cohort.name}"


def load_progress_rows() -> tuple[list[LabWorkRow], dict[str, int]]:
    """Read one row per trainee in training (active or completed) and lab of their cohort's courses that has a
    due date for the cohort; return them with each cohort label's id."""
    cohorts = {c.id: (_cohort_label(u, c)) for c, u in db.session.execute(
        sa.select(Cohort, University).join(University, University.id == Cohort.university_id))}
    trainees = db.session.execute(sa.select(Enrollment.student_id, Enrollment.cohort_id)
                                  .where(Enrollment.status.in_(("active", "completed")))).all()
    labs = db.session.execute(
        sa.select(DueDate.cohort_id, DueDate.due_at, Assignment.id, Assignment.nbgrader_name, Assignment.max_points,
                  Course.code)
        .join(Assignment, Assignment.id == DueDate.assignment_id).join(Course, Course.id == Assignment.course_id)
        .join(course_cohorts, sa.and_(course_cohorts.c.course_id == Course.id,
                                      course_cohorts.c.cohort_id == DueDate.cohort_id))).all()
    extensions = {(a, s): due for a, s, due in db.session.execute(
        sa.select(Extension.assignment_id, Extension.student_id, Extension.due_at))}
    grades = {(a, s): (score, top) for a, s, score, top in db.session.execute(
        sa.select(Grade.assignment_id, Grade.student_id, Grade.score, Grade.max_score))}
    first = {(a, s): at for a, s, at in db.session.execute(
        sa.select(Submission.assignment_id, Submission.student_id, sa.func.min(Submission.received_at))
        .group_by(Submission.assignment_id, Submission.student_id))}
    labs_of: dict[int, list] = {}
    for lab in labs:
        labs_of.setdefault(lab.cohort_id, []).append(lab)
    rows = []
    for student_id, cohort_id in trainees:
        for lab in labs_of.get(cohort_id, []):
            key = (lab.id, student_id)
            score, top = grades.get(key, (None, None))
            percent = 100 * score / top if score is not None and top else (0.0 if score is not None else None)
            rows.append(LabWorkRow(cohorts[cohort_id], student_id, f"{lab.code} {lab.nbgrader_name}",
                                   extensions.get(key, lab.due_at), first.get(key), percent))
    return rows, {label: cid for cid, label in cohorts.items()}


def at_risk_trainees(rows: list[LabWorkRow], now, cohort: str) -> list[tuple[User, list[str], list[str]]]:
    """The office's list of one cohort's trainees at risk, with their names: (trainee, missed labs, failing labs)."""
    risk = at_risk_frame(rows, now)
    risk = risk[risk["cohort"] == cohort]
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(
        [int(i) for i in risk["trainee_id"]])))}
    return sorted(((users[int(r.trainee_id)], r.missed, r.failing) for r in risk.itertuples()),
                  key=lambda t: t[0].name)


def safe_cell(value: object) -> object:
    """Neutralise text a spreadsheet would run as a formula; leave numbers alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _records(frame: pd.DataFrame, headers: dict[str, str], total_label: str) -> tuple[list[str], list[list]]:
    head = [headers.get(frame.index.name, frame.index.name)] + [headers.get(c, c) for c in frame.columns]
    rows = []
    for key, *values in frame.astype(object).itertuples():  # object: a count stays whole beside a rate
        label = total_label if key == TOTAL else key
        cells = [None if _missing(v) else (v.item() if hasattr(v, "item") else v) for v in values]
        rows.append([safe_cell(label.item() if hasattr(label, "item") else label), *map(safe_cell, cells)])
    return head, rows


def _missing(value: object) -> bool:
    return not isinstance(value, str) and bool(pd.isna(value))


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


def record_at_risk_view(cohort: Cohort, student_ids: list[int]) -> None:
    """Log one view of a cohort's trainees at risk (names and labs: personal data)."""
    record("personal_data.viewed", obj=cohort, detail={"what": "at_risk", "cohort_id": cohort.id,
                                                      "student_ids": student_ids}, kept=True)
