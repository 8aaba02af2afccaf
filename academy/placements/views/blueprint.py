"""The placements blueprint, the names its pages show, and the page every visitor may read."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from academy.policy import PUBLIC, allow

bp = Blueprint("placements", __name__)

ROUND_STATUS_NAMES = {"open": _l("open for opt-ins"), "matched": _l("matched, under review"),
                      "published": _l("published"), "closed": _l("closed")}
OFFER_STATUS_NAMES = {"open": _l("awaiting answer"), "accepted": _l("accepted"), "declined": _l("declined"),
                      "expired": _l("expired")}
PLACEMENT_STATUS_NAMES = {"accepted": _l("accepted, not started"), "started": _l("started"), "ended": _l("ended")}
ACCESS_NAMES = {"profile": _l("competency profile"), "shortlist": _l("shortlist"), "placement": _l("placement")}


@bp.app_context_processor
def _names() -> dict:
    return {"round_status_names": ROUND_STATUS_NAMES, "offer_status_names": OFFER_STATUS_NAMES,
            "placement_status_names": PLACEMENT_STATUS_NAMES, "access_names": ACCESS_NAMES,
            "has_endpoint": lambda name: name in current_app.view_functions}


@bp.app_template_global("competency_chart")
def _competency_chart(profile: list) -> str:
    from academy.charts import competency_chart

    return competency_chart(profile, str(get_locale()))


@bp.get("/placements/criteria")
@allow(PUBLIC)
def criteria():
    """Publish how fit scores, competency levels and the match are computed (PIPA Art. 37-2)."""
    return render_template("placements/criteria.html")
