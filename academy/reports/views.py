"""Outcome figures and training progress, for the office and the province: tables and charts by university,
cohort, sector and city, the trend by year, CSV and XLSX export.

The province (Role.PROVINCE) sees the same aggregates with every small count hidden (frames.suppress_small) and
never a trainee's name; only the office may open the list of one cohort's trainees at risk.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from academy.extensions import db
from academy.policy import Role, allow
from academy.reports import services
from academy.reports.figures import HEADERS, RATES, bar_charts, cell, lab_chart, trend_charts
from academy.reports.frames import (COLUMNS, DIMENSIONS, PROGRESS_COLUMNS, PROGRESS_HIDING, TOTAL, YEAR, all_frames,
                                    frame_of, lab_score_frame, progress_frame, suppress_small)
from academy.universities.models import Cohort
from academy.util import utcnow

bp = Blueprint("reports", __name__)

CHARTED = ("placement_rate", "offer_acceptance_rate", "median_days_to_placement", "retention_6m", "retention_12m",
           "unfilled_demands")


def _by() -> str:
    by = request.args.get("by", "university")
    if by not in DIMENSIONS:
        abort(404)
    return by


def _headers() -> dict[str, str]:
    return {k: str(v) for k, v in HEADERS.items()}


def _hide_small() -> bool:
    """The province sees aggregates only: counts that could point at one person are hidden."""
    return current_user.role == Role.PROVINCE


def _shown(frame, **kw):
    return suppress_small(frame, **kw) if _hide_small() else frame


def _lang() -> str:
    return str(get_locale() or "ko")


@bp.get("/admin/reports/outcomes")
@allow(Role.ADMIN, Role.PROVINCE)
def outcomes():
    """Show the outcome figures grouped by one dimension, and their trend by year."""
    by = _by()
    rows = services.load_rows(_lang())
    frame, trend = _shown(frame_of(by, rows)), _shown(frame_of(YEAR, rows))
    columns = [c for c in CHARTED if c != "placement_rate" or by in ("university", "cohort")]
    return render_template("reports/outcomes.html", frame=frame, by=by, dimensions=DIMENSIONS, columns=COLUMNS,
                           headers=HEADERS, cell=cell, total=TOTAL, charts=bar_charts(frame, by, tuple(columns)),
                           trend=trend_charts(trend), hide_small=_hide_small())


@bp.get("/admin/reports/outcomes.csv")
@allow(Role.ADMIN, Role.PROVINCE)
def outcomes_csv():
    """Download the figures of one dimension (or, with by=year, the trend) as CSV."""
    by = request.args.get("by", "university")
    if by not in (*DIMENSIONS, YEAR):
        abort(404)
    frame = _shown(frame_of(by, services.load_rows(_lang())))
    body = services.to_csv(frame, _headers(), str(_l("Total")))
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=outcomes-{by}.csv"})


@bp.get("/admin/reports/outcomes.xlsx")
@allow(Role.ADMIN, Role.PROVINCE)
def outcomes_xlsx():
    """Download every dimension's figures and the trend by year as one XLSX workbook."""
    frames = {by: _shown(f) for by, f in all_frames(services.load_rows(_lang())).items()}
    body = services.to_xlsx(frames, _headers(), str(_l("Total")))
    return Response(body, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": "attachment; filename=outcomes.xlsx"})


def _progress():
    rows, cohort_ids = services.load_progress_rows()
    frame = progress_frame(rows, utcnow())
    shown = _shown(frame, **PROGRESS_HIDING)
    return rows, cohort_ids, shown


@bp.get("/admin/reports/progress")
@allow(Role.ADMIN, Role.PROVINCE)
def progress():
    """Show the training progress per cohort: submissions on time, average score per lab, trainees at risk."""
    rows, cohort_ids, shown = _progress()
    means, counts = lab_score_frame(rows)
    charts = bar_charts(shown, "cohort", ("on_time_rate", "mean_percent", "at_risk"))
    scores = lab_chart(means, counts, _hide_small())
    return render_template("reports/progress.html", frame=shown, columns=PROGRESS_COLUMNS, headers=HEADERS,
                           cell=cell, total=TOTAL, charts=charts, scores=scores, cohort_ids=cohort_ids,
                           hide_small=_hide_small(), rates=RATES)


@bp.get("/admin/reports/progress.csv")
@allow(Role.ADMIN, Role.PROVINCE)
def progress_csv():
    """Download the training progress per cohort as CSV."""
    _rows, _ids, shown = _progress()
    body = services.to_csv(shown, _headers(), str(_l("Total")))
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": "attachment; filename=progress.csv"})


@bp.get("/admin/reports/progress/<int:cohort_id>/at-risk")
@allow(Role.ADMIN)
def at_risk(cohort_id: int):
    """Show the office one cohort's trainees at risk, with the labs each missed or failed (a recorded view)."""
    cohort = db.get_or_404(Cohort, cohort_id)
    rows, cohort_ids = services.load_progress_rows()
    label = next((k for k, v in cohort_ids.items() if v == cohort.id), "")
    trainees = services.at_risk_trainees(rows, utcnow(), label)
    services.record_at_risk_view(cohort, [t.id for t, _m, _f in trainees])
    return render_template("reports/at_risk.html", cohort=cohort, label=label, trainees=trainees)
