"""Load the plain rows the outcome frames are computed from, and export frames safely."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from flask import render_template, request
from markupsafe import Markup
from openpyxl import Workbook

from academy.admissions.models import Enrollment
from academy.audit.services import record
from academy.auth.models import User
from academy.companies.models import CITIES, SECTOR_NAMES, Company, Demand
from academy.courses.models import Assignment, Course, DueDate, Extension, Grade, course_cohorts
from academy.extensions import db
from academy.placements.models import FollowUp, MatchRound, Offer, Placement, RoundDemand, offer_status_now
from academy.reports import cache
from academy.reports.figures import CHARTED, HEADERS, Chart, bar_charts, cell, lab_chart, trend_charts
from academy.reports.frames import (COLUMNS, PROGRESS_COLUMNS, PROGRESS_HIDING, TOTAL, YEAR, DemandRow,
                                    LabWorkRow, OfferRow, PlacementRow, RoundDemandRow, RoundRow, at_risk_frame,
                                    frame_of, progress_frames, suppress_small)
from academy.submissions.models import Submission
from academy.universities.models import Cohort, University
from academy.util import utcnow

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


def load_progress_rows(cohort_id: int | None = None) -> tuple[list[LabWorkRow], dict[str, int]]:
    """Read one row per trainee in training (active or completed) and lab of their cohort's courses that has a
    due date for the cohort (of every cohort, or of one); return them with each cohort label's id."""
    cohorts = {c.id: (_cohort_label(u, c)) for c, u in db.session.execute(
        sa.select(Cohort, University).join(University, University.id == Cohort.university_id)
        .where(sa.true() if cohort_id is None else Cohort.id == cohort_id))}
    enrolled = sa.select(Enrollment.student_id, Enrollment.cohort_id).where(
        Enrollment.status.in_(("active", "completed")))
    if cohort_id is not None:
        enrolled = enrolled.where(Enrollment.cohort_id == cohort_id)
    trainees = db.session.execute(enrolled).all()
    labs = db.session.execute(
        sa.select(DueDate.cohort_id, DueDate.due_at, Assignment.id, Assignment.nbgrader_name, Assignment.max_points,
                  Course.code)
        .join(Assignment, Assignment.id == DueDate.assignment_id).join(Course, Course.id == Assignment.course_id)
        .join(course_cohorts, sa.and_(course_cohorts.c.course_id == Course.id,
                                      course_cohorts.c.cohort_id == DueDate.cohort_id))
        .where(sa.true() if cohort_id is None else DueDate.cohort_id == cohort_id)).all()

    def of_trainees(query, student_id):  # one cohort's trainees only, where one cohort is asked for
        return query if cohort_id is None else query.where(student_id.in_(enrolled.with_only_columns(
            Enrollment.student_id).scalar_subquery()))

    extensions = {(a, s): due for a, s, due in db.session.execute(of_trainees(
        sa.select(Extension.assignment_id, Extension.student_id, Extension.due_at), Extension.student_id))}
    grades = {(a, s): (score, top) for a, s, score, top in db.session.execute(of_trainees(
        sa.select(Grade.assignment_id, Grade.student_id, Grade.score, Grade.max_score), Grade.student_id))}
    first = {(a, s): at for a, s, at in db.session.execute(of_trainees(
        sa.select(Submission.assignment_id, Submission.student_id, sa.func.min(Submission.received_at)),
        Submission.student_id).group_by(Submission.assignment_id, Submission.student_id))}
    labs_of: dict[int, list] = {}
    for lab in labs:
        labs_of.setdefault(lab.cohort_id, []).append(lab)
    rows = []
    for student_id, cohort_id_ in trainees:
        for lab in labs_of.get(cohort_id_, []):
            key = (lab.id, student_id)
            score, top = grades.get(key, (None, None))
            percent = 100 * score / top if score is not None and top else (0.0 if score is not None else None)
            rows.append(LabWorkRow(cohorts[cohort_id_], student_id, f"{lab.code} {lab.nbgrader_name}",
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


# --- the figures and charts the pages show, kept until their data changes (cache.py) ----------------------------

def outcome_figures(by: str, lang: str, hide_small: bool) -> pd.DataFrame:
    """The outcome figures of one grouping (or, by YEAR, the trend) as the audience sees them: with small counts
    hidden where hide_small (the province). Kept frames are shared: never change one."""
    raw = cache.kept("outcomes", ("raw", by, lang), lambda: frame_of(by, _outcome_rows(lang)))
    if not hide_small:
        return raw
    return cache.kept("outcomes", ("shown", by, lang), lambda: suppress_small(raw))


def _outcome_rows(lang: str) -> dict[str, list]:
    return cache.kept("outcomes", ("rows", lang), lambda: load_rows(lang))


def outcome_charts(by: str, lang: str, hide_small: bool) -> tuple[Markup | None, Markup | None]:
    """The bar charts of one grouping's figures and the line charts of their trend by year, as the audience sees
    them, each set as HTML with its tables (titles and axes in lang); None: nothing to chart."""
    columns = tuple(c for c in CHARTED if c != "placement_rate" or by in ("university", "cohort"))
    return cache.kept("outcomes", ("charts", by, lang, hide_small, request.script_root), lambda: (
        _charts_html(bar_charts(outcome_figures(by, lang, hide_small), by, columns)),
        _charts_html(trend_charts(outcome_figures(YEAR, lang, hide_small)))))


def outcome_table(by: str, lang: str, hide_small: bool) -> Markup:
    """The table of one grouping's outcome figures as HTML, as the audience sees them."""
    return cache.kept("outcomes", ("table", by, lang, hide_small), lambda: Markup(render_template(
        "reports/_outcomes_table.html", frame=outcome_figures(by, lang, hide_small), by=by, columns=COLUMNS,
        headers=HEADERS, cell=cell, total=TOTAL)))


def _charts_html(charts: list[Chart]) -> Markup | None:
    """The charts with their tables as HTML (of the request, only the mount point in the images' addresses):
    escaping the images and the tables' cells again on every view cost more than the rest of the page."""
    return Markup(render_template("reports/_charts.html", charts=charts)) if charts else None


@dataclass(frozen=True)
class Progress:
    frame: pd.DataFrame  # per cohort, with a total row (frames.progress_frame)
    means: pd.DataFrame  # mean score per cohort and lab (frames.lab_score_frame)
    counts: pd.DataFrame  # how many graded labs each mean is over
    cohort_ids: dict[str, int]  # cohort label -> id


def _progress() -> Progress:
    def compute() -> Progress:
        rows, cohort_ids = load_progress_rows()
        return Progress(*progress_frames(rows, utcnow()), cohort_ids)
    return cache.kept("progress", ("raw",), compute)


def progress_figures(hide_small: bool) -> tuple[pd.DataFrame, dict[str, int]]:
    """The training progress per cohort as the audience sees it, and each cohort label's id."""
    progress = _progress()
    if not hide_small:
        return progress.frame, progress.cohort_ids
    shown = cache.kept("progress", ("shown",), lambda: suppress_small(progress.frame, **PROGRESS_HIDING))
    return shown, progress.cohort_ids


def progress_charts(lang: str, hide_small: bool) -> Markup | None:
    """The bar charts of the progress per cohort and the chart of the average score per lab, as HTML with their
    tables (titles and axes in lang); None: nothing to chart."""
    def compute() -> Markup | None:
        progress = _progress()
        shown, _ids = progress_figures(hide_small)
        scores = lab_chart(progress.means, progress.counts, hide_small)
        return _charts_html(bar_charts(shown, "cohort", ("on_time_rate", "mean_percent", "at_risk"))
                            + ([scores] if scores else []))
    return cache.kept("progress", ("charts", lang, hide_small, request.script_root), compute)


def progress_table(lang: str, hide_small: bool) -> Markup:
    """The table of the progress per cohort as HTML, as the audience sees it (with links to the cohorts' trainees
    at risk for the office)."""
    def compute() -> Markup:
        shown, cohort_ids = progress_figures(hide_small)
        return Markup(render_template("reports/_progress_table.html", frame=shown, columns=PROGRESS_COLUMNS,
                                      headers=HEADERS, cell=cell, total=TOTAL, cohort_ids=cohort_ids,
                                      hide_small=hide_small))
    return cache.kept("progress", ("table", lang, hide_small), compute)


def cohort_at_risk(cohort: Cohort) -> tuple[str, list[tuple[User, list[str], list[str]]]]:
    """One cohort's label and its trainees at risk now, read from that cohort's rows only."""
    rows, cohort_ids = load_progress_rows(cohort.id)
    label = next((k for k, v in cohort_ids.items() if v == cohort.id), "")
    return label, at_risk_trainees(rows, utcnow(), label)


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
