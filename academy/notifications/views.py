"""The bell's list of notifications, opening one, and which kinds come by e-mail."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from academy.notifications import services
from academy.policy import AUTHENTICATED, allow
from academy.transactions import done
from academy.util import safe_next

bp = Blueprint("notifications", __name__)


@bp.app_context_processor
def bell() -> dict:
    """Give every page the signed-in person's unread count (counted only where a page shows the bell)."""
    def unread() -> int:
        if not current_user.is_authenticated:
            return 0
        counted = getattr(current_user, "unread_at_request_start", None)  # counted with the sign-in check
        return counted if counted is not None else services.unread_count(current_user)
    return {"unread_notifications": unread}


@bp.get("/notifications")
@allow(AUTHENTICATED)
def index():
    """List my notifications, newest first, unread ones marked."""
    return render_template("notifications/index.html", notes=services.notifications_of(current_user),
                           form=FlaskForm())


@bp.post("/notifications/<int:notification_id>/open")
@allow(AUTHENTICATED)
def open_one(notification_id: int):
    """Mark one of my notifications read and go to what it is about."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        note = services.find_own(current_user, notification_id)
    except LookupError:
        abort(404)
    services.mark_read(current_user, note)
    return redirect(safe_next(note.link) or url_for("notifications.index"))


@bp.post("/notifications/read")
@allow(AUTHENTICATED)
def read_all():
    """Mark all my notifications read."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    services.mark_read(current_user)
    return done(_("All notifications are marked read."), "notifications.index")


@bp.route("/notifications/settings", methods=["GET", "POST"])
@allow(AUTHENTICATED)
def settings():
    """Choose which kinds of notification also come by e-mail."""
    kinds = services.kinds_for(current_user)
    form = FlaskForm()
    if form.validate_on_submit():
        wanted = set(request.form.getlist("email")) & set(kinds)
        services.set_email_choices(current_user, wanted | {k for k, kind in kinds.items() if kind.required})
        return done(_("Your e-mail choices are saved."), "notifications.settings")
    return render_template("notifications/settings.html", kinds=kinds, form=form,
                           emailed={k for k in kinds if services.wants_email(current_user, k)})
