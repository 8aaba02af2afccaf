"""The office's outbox: every e-mail the portal wrote, newest first, whether it was sent, and why not."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, render_template

from academy.extensions import db
from academy.mail.models import OutboxMail
from academy.policy import Role, allow

bp = Blueprint("mail", __name__)


@bp.get("/admin/outbox")
@allow(Role.ADMIN)
def outbox():
    """List the latest e-mails (a password-reset link shows here only while no SMTP server is configured)."""
    mails = db.session.scalars(sa.select(OutboxMail).order_by(OutboxMail.id.desc()).limit(200)).all()
    return render_template("mail/outbox.html", mails=mails, smtp=bool(current_app.config.get("MAIL_SERVER")))
