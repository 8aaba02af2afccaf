"""The portal's check of the services that call it: the grade-writing tokens and the hub's client.

Grade-writing tokens (academy.integrations.service_tokens): a request without a token, or with one not
derived from the portal's master secret, is refused 401; a genuine token of another scope (the worker's
token on the hand-graded endpoint, course A's sync token for course B's totals) is refused 403. Each
refusal is audited with the scope asked for and the scope offered (never the token).
"""
from __future__ import annotations

import hmac
import re
from typing import NoReturn

from flask import abort, current_app, request

from academy.audit.services import record
from academy.courses.models import Course
from academy.extensions import db
from academy.integrations.service_tokens import RESULTS, TOKEN_HEADER, verify
from academy.oauth.tokens import digest
from academy.oauth.services import MIN_SECRET_LENGTH, get_client, setting

REFUSED = "grading.token_refused"


def master_secret() -> str:
    """Return the master secret the service tokens derive from (GRADER_TOKEN, from ACADEMY_GRADER_TOKEN)."""
    return current_app.config.get("GRADER_TOKEN") or ""


def refuse(status: int, reason: str, wanted: str, offered: str | None = None) -> NoReturn:
    """Audit a refused service request, then abort with status (the request rolls back; the entry is kept)."""
    record(REFUSED, detail={"endpoint": request.path[:200], "status": status, "reason": reason,
                            "wanted": wanted, "offered": offered}, kept=True)
    abort(status)


def service_scope(wanted: str) -> str:
    """Return the scope of the request's service token; 401 (audited) when there is no genuine one."""
    given = request.headers.get(TOKEN_HEADER, "")
    scope = verify(master_secret(), given)
    if scope is None:
        refuse(401, "missing" if not given else "invalid", wanted)
    return scope


def require_grader_token() -> None:
    """Abort unless the request carries the grading worker's token (scope "results")."""
    scope = service_scope(RESULTS)
    if scope != RESULTS:
        refuse(403, "out_of_scope", RESULTS, scope)


def require_sync_token(named: str) -> Course:
    """Return the course whose sync token the request carries; refuse (audited) any other course's totals."""
    wanted = f"manual for {named!r}"
    scope = service_scope(wanted)
    found = re.fullmatch(r"manual-c([0-9]+)", scope)
    if found is None:
        refuse(403, "out_of_scope", wanted, scope)  # the worker's token, say: it posts results only
    course = db.session.get(Course, int(found.group(1)))
    if course is None or course.nbgrader_course != named:
        refuse(403, "other_course", wanted, scope)  # one course's sync never writes another course's grades
    return course


def require_hub_client() -> None:
    """Abort 401 (audited) unless the request authenticates as the hub's OAuth client (HTTP Basic)."""
    auth = request.authorization
    client_id = auth.username if auth is not None and auth.type == "basic" else None
    if client_id != setting("HUB_CLIENT_ID", "jupyterhub"):
        refuse(401, "missing" if auth is None else "invalid", "hub client")
    # The hub's secret is a setting: checked against it without touching the stored client (a GET writes
    # nothing; the sign-in endpoints keep the stored client in step). Unset, the registered client's counts.
    secret = setting("HUB_CLIENT_SECRET")
    if secret and len(secret) < MIN_SECRET_LENGTH:
        # A secret this short is never accepted, as register_client refuses to store one.
        current_app.logger.error("ACADEMY_HUB_CLIENT_SECRET is shorter than %d characters: the hub is refused",
                                 MIN_SECRET_LENGTH)
        refuse(401, "invalid", "hub client")
    if secret:
        genuine = hmac.compare_digest(digest(auth.password or ""), digest(secret))
    else:
        row = get_client(client_id)
        genuine = row is not None and hmac.compare_digest(digest(auth.password or ""), row.secret_hash)
    if not genuine:
        refuse(401, "invalid", "hub client")
