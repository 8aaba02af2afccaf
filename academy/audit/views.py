"""The academy office reads the audit log."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template, request
from sqlalchemy.orm import aliased

from academy.audit.models import AuditEntry
from academy.auth.models import User
from academy.listing import paginate
from academy.policy import Role, allow

AUDIT_COUNT_LIMIT = 10_000
bp = Blueprint("audit", __name__)


@bp.get("/admin/audit")
@allow(Role.ADMIN)
def entries():
    """List audit entries, newest first, filterable by action and searchable by person."""
    actor, subject = aliased(User), aliased(User)
    query = (
        sa.select(AuditEntry, actor, subject)
        .outerjoin(actor, AuditEntry.actor_id == actor.id)
        .outerjoin(subject, AuditEntry.subject_user_id == subject.id)
    )
    if action := request.args.get("action", "").strip():
        query = query.where(AuditEntry.action.startswith(action[:60]))
    listing = paginate(
        query,
        sortable={"at": AuditEntry.at, "action": AuditEntry.action},
        default_sort="at",
        default_direction="desc",
        searchable=[actor.name, actor.email, subject.name, subject.email],
        scalars=False,
        # Years of entries: counting them all on every page would cost more than showing the page.
        count_limit=AUDIT_COUNT_LIMIT,
    )
    return render_template("audit/entries.html", listing=listing)
