"""Write audit entries. Callers commit with the change they describe, so both land or neither."""
from __future__ import annotations

import json
from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from academy.audit.models import AuditEntry
from academy.extensions import db


def _actor_id() -> int | None:
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.id
    return None


def record(
    action: str,
    *,
    subject_user_id: int | None = None,
    obj: Any = None,
    detail: dict | None = None,
    actor_id: int | None = None,
) -> AuditEntry:
    """Add an audit entry for an action by the current user (or the given actor)."""
    entry = AuditEntry(
        action=action,
        actor_id=actor_id if actor_id is not None else _actor_id(),
        subject_user_id=subject_user_id,
        object_type=getattr(obj, "__tablename__", None) if obj is not None else None,
        object_id=getattr(obj, "id", None) if obj is not None else None,
        detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(entry)
    return entry


def record_view(student_id: int, what: str) -> None:
    """Log a view of a student's personal data by anyone but that student."""
    if _actor_id() != student_id:
        record("personal_data.viewed", subject_user_id=student_id, detail={"what": what})
        db.session.commit()


def record_denied(endpoint: str) -> None:
    """Log a refused request, in its own transaction so the refusal is kept."""
    record("access.denied", detail={"endpoint": endpoint, "path": request.path[:200]})
    db.session.commit()
