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
from academy.reports.figures import HEADERS
from academy.reports.frames import DIMENSIONS, YEAR
from academy.universities.models import Cohort

bp = Blueprint("reports", __name__)


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


def _lang() -> str:
    return str(get_locale() or "ko")


@bp.get("/admin/reports/outcomes")
@allow(Role.ADMIN, Role.PROVINCE)
def outcomes():
    """Show the outcome figures grouped by one dimension, and their trend by year."""
    by = _by()
    table = services.outcome_table(by, _lang(), _hide_small())
    charts, trend = services.outcome_charts(by, _lang(), _hide_small())  # HTML, or None: nothing to chart
    return render_template("reports/outcomes.html", table=table, by=by, dimensions=DIMENSIONS, headers=HEADERS,
                           charts=charts, trend=trend, hide_small=_hide_small())


@bp.get("/admin/reports/outcomes.csv")
@allow(Role.ADMIN, Role.PROVINCE)
def outcomes_csv():
    """Download the figures of one dimension (or, with by=year, the trend) as CSV."""
    by = request.args.get("by", "university")
    if by not in (*DIMENSIONS, YEAR):
        abort(404)
    frame = services.outcome_figures(by, _lang(), _hide_small())
    body = services.to_csv(frame, _headers(), str(_l("Total")))
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=outcomes-{by}.csv"})


@bp.get("/admin/reports/outcomes.xlsx")
@allow(Role.ADMIN, Role.PROVINCE)
def outcomes_xlsx():
    """Download every dimension's figures and the trend by year as one XLSX workbook."""
    frames = {by: services.outcome_figures(by, _lang(), _hide_small()) for by in (*DIMENSIONS, YEAR)}
    body = services.to_xlsx(frames, _headers(), str(_l("Total")))
    return Response(body, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": "attachment; filename=outcomes.xlsx"})


@bp.get("/admin/reports/progress")
@allow(Role.ADMIN, Role.PROVINCE)
def progress():
    """Show the training progress per cohort: submissions on time, average score per lab, trainees at risk."""
    table = services.progress_table(_lang(), _hide_small())
    charts = services.progress_charts(_lang(), _hide_small())  # HTML, or None: nothing to chart
    return render_template("reports/progress.html", table=table, headers=HEADERS, charts=charts,
                           hide_small=_hide_small())


@bp.get("/admin/reports/progress.csv")
@allow(Role.ADMIN, Role.PROVINCE)
def progress_csv():
    """Download the training progress per cohort as CSV."""
    shown, _ids = services.progress_figures(_hide_small())
    body = services.to_csv(shown, _headers(), str(_l("Total")))
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": "attachment; filename=progress.csv"})


@bp.get("/admin/reports/progress/<int:cohort_id>/at-risk")
@allow(Role.ADMIN)
def at_risk(cohort_id: int):
    """Show the office one cohort's trainees at risk, with the labs each missed or failed (a recorded view)."""
    cohort = db.get_or_404(Cohort, cohort_id)
    label, trainees = services.cohort_at_risk(cohort)
    services.record_at_risk_view(cohort, [t.id for t, _m, _f in trainees])
    return render_template("reports/at_risk.html", cohort=cohort, label=label, trainees=trainees)
