"""The office's outcome figures: tables by university, cohort, sector and city, with CSV and XLSX export."""
from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from academy.policy import Role, allow
from academy.reports import services
from academy.reports.frames import COLUMNS, DIMENSIONS, TOTAL, all_frames, outcome_frame

bp = Blueprint("reports", __name__)

HEADERS = {
    "university": _l("University"), "cohort": _l("Cohort"), "sector": _l("Sector"), "city": _l("City or county"),
    "participants": _l("Trainees in rounds"), "placed": _l("Placed"), "placement_rate": _l("Placement rate"),
    "median_days_to_placement": _l("Median days to placement"), "offers": _l("Offers answered"),
    "accepted": _l("Offers accepted"), "offer_acceptance_rate": _l("Offer acceptance rate"),
    "demands": _l("Demands in rounds"), "unfilled_demands": _l("Unfilled demands"),
    "followed_6m": _l("Followed up at 6 months"), "retained_6m": _l("Employed at 6 months"),
    "retention_6m": _l("6-month retention"),
}
RATES = {"placement_rate", "offer_acceptance_rate", "retention_6m"}


def _by() -> str:
    by = request.args.get("by", "university")
    if by not in DIMENSIONS:
        abort(404)
    return by


def _headers() -> dict[str, str]:
    return {k: str(v) for k, v in HEADERS.items()}


@bp.get("/admin/reports/outcomes")
@allow(Role.ADMIN)
def outcomes():
    """Show the outcome figures grouped by one dimension."""
    by = _by()
    rows = services.load_rows(str(get_locale() or "ko"))
    frame = outcome_frame(by, rows["rounds"], rows["demands"], rows["offers"], rows["placements"],
                          rows["round_demands"])
    from academy.charts import outcome_charts

    rate = "placement_rate" if by in ("university", "cohort") else "offer_acceptance_rate"
    charts = outcome_charts(frame, TOTAL, {
        rate: (f"{HEADERS[rate]} (%)", 100), "median_days_to_placement": (str(HEADERS["median_days_to_placement"]), 1),
        "retention_6m": (f"{HEADERS['retention_6m']} (%)", 100)})
    return render_template("reports/outcomes.html", frame=frame, by=by, dimensions=DIMENSIONS, columns=COLUMNS,
                           headers=HEADERS, rates=RATES, total=TOTAL, charts=charts)


@bp.get("/admin/reports/outcomes.csv")
@allow(Role.ADMIN)
def outcomes_csv():
    """Download the figures of one dimension as CSV."""
    by = _by()
    rows = services.load_rows(str(get_locale() or "ko"))
    frame = outcome_frame(by, rows["rounds"], rows["demands"], rows["offers"], rows["placements"],
                          rows["round_demands"])
    body = services.to_csv(frame, _headers(), str(_l("Total")))
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=outcomes-{by}.csv"})


@bp.get("/admin/reports/outcomes.xlsx")
@allow(Role.ADMIN)
def outcomes_xlsx():
    """Download every dimension's figures as one XLSX workbook."""
    frames = all_frames(services.load_rows(str(get_locale() or "ko")))
    body = services.to_xlsx(frames, _headers(), str(_l("Total")))
    return Response(body, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": "attachment; filename=outcomes.xlsx"})
