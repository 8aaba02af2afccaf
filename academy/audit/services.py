"""Write audit entries.

An entry about a change is written in the request's transaction with that change, so both land or neither.
An entry about a read (a page showing someone's personal data) or a refusal is kept (academy.transactions.keep):
written whatever the request answers, and on a GET, which commits nothing else.
"""
from __future__ import annotations

import json
from typing import Any, NoReturn

from flask import Response, abort, g, has_request_context, request
from flask_login import current_user

from academy.audit.models import AuditEntry
from academy.extensions import db
from academy.transactions import SAFE_METHODS, keep


def _actor_id() -> int | None:
    if not has_request_context():
        return None
    if current_user and current_user.is_authenticated:
        return current_user.id
    api_user = g.get("api_user")  # a notebook server's request, signed in by its bearer token
    return api_user.id if api_user is not None else None


def record(
    action: str,
    *,
    subject_user_id: int | None = None,
    obj: Any = None,
    detail: dict | None = None,
    actor_id: int | None = None,
    kept: bool = False,
) -> AuditEntry:
    """Add an audit entry for an action by the current user (or the given actor).

    Kept entries (kept=True, and every entry written while answering a GET) stay whatever the request answers.
    """
    entry = AuditEntry(
        action=action,
        actor_id=actor_id if actor_id is not None else _actor_id(),
        subject_user_id=subject_user_id,
        object_type=getattr(obj, "__tablename__", None) if obj is not None else None,
        object_id=getattr(obj, "id", None) if obj is not None else None,
        detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
        ip=request.remote_addr if has_request_context() else None,
    )
    if has_request_context() and (kept or request.method in SAFE_METHODS):
        keep(entry)
        g.audited = True  # a refusal this request answers with is then described already (record_refusal)
    else:
        db.session.add(entry)
    return entry


def record_view(student_id: int, what: str) -> None:
    """Log a view of a student's personal data by anyone but that trainee."""
    if _actor_id() != student_id:
        record("personal_data.viewed", subject_user_id=student_id, detail={"what": what}, kept=True)


# --- refusals -------------------------------------------------------------------------------
#
# Every refusal is written in one place, after the response is made (record_refusal, an
# after_request hook installed by academy.policy): a 401 (a bad bearer, grader or client token),
# a 403 and a 404 (someone else's record, or one that does not exist: from outside the two look
# the same on purpose, and probing ids is what the log should show), a 410 (a used or expired
# link) and a 429 (a throttled sign-in, password change or submission). Views need do nothing to be covered; those that know more than the URL says (which
# object, whose data, why) call note_refusal() or refuse() first. A request that already wrote
# its own entry (a failed login, a refused service token) gets no second one.

REFUSAL_ACTIONS = {401: "access.unauthenticated", 403: "access.denied", 404: "access.not_found", 410: "access.gone",
                   429: "access.throttled"}
# Parts of a URL that are credentials (an invitation link's token): never written to the log.
SECRET_VIEW_ARGS = {"token"}


def note_refusal(
    *, obj_type: str | None = None, obj_id: int | None = None, subject_user_id: int | None = None,
    reason: str | None = None,
) -> None:
    """Describe the refusal this request is about to answer; the after-request hook writes it."""
    g.refusal = {"obj_type": obj_type, "obj_id": obj_id, "subject_user_id": subject_user_id, "reason": reason}


def refuse(status: int, **what) -> NoReturn:
    """Refuse the request with this status, naming the object it was about (see note_refusal)."""
    note_refusal(**what)
    abort(status)


def _credential() -> str:
    """Name the kind of credential the request carried (never its value)."""
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return "bearer"
    if auth[:6].lower() == "basic " or request.form.get("client_secret"):
        return "client_secret"
    if "X-Academy-Grader-Token" in request.headers:  # academy.integrations.service_tokens.TOKEN_HEADER
        return "grader_token"
    return "session" if current_user and current_user.is_authenticated else "none"


def _logged_path() -> str:
    """Return the request's path with every credential in it (an invitation token) blanked out."""
    path = request.path
    for key, value in (request.view_args or {}).items():
        if key in SECRET_VIEW_ARGS and isinstance(value, str) and value:
            path = path.replace(value, "<redacted>")
    return path


def record_refusal(response: Response) -> Response:
    """Write one audit entry for a refused request to a route (who, what, which object, from where)."""
    action = REFUSAL_ACTIONS.get(response.status_code)
    if action is None or request.url_rule is None or request.endpoint == "static":
        return response  # not a refusal, or a URL no route answers (scanners' noise)
    noted = g.get("refusal")
    if noted is None:
        if g.get("audited"):
            return response  # the request's own entry describes this refusal
        noted = {}
    ids = {k: v for k, v in (request.view_args or {}).items() if k.endswith("_id") and isinstance(v, int)}
    obj_type, obj_id = noted.get("obj_type"), noted.get("obj_id")
    if obj_type is None and ids:
        # The most specific id in the URL: /courses/<course_id>/assignments/<assignment_id> -> assignment.
        key = list(ids)[-1]
        obj_type, obj_id = key.removesuffix("_id"), ids[key]
    detail = {
        "status": response.status_code, "method": request.method, "endpoint": request.endpoint,
        "path": _logged_path()[:200], "credential": _credential(),
    }
    if ids:
        detail["ids"] = ids
    if noted.get("reason"):
        detail["reason"] = noted["reason"]
    entry = AuditEntry(
        action=action, actor_id=_actor_id(), subject_user_id=noted.get("subject_user_id"),
        object_type=obj_type, object_id=obj_id,
        detail=json.dumps(detail, ensure_ascii=False), ip=(request.remote_addr or "")[:45] or None,
    )
    keep(entry)  # the request's own changes roll back (its answer is an error); this entry stays
    return response
