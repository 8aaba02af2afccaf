"""The portal's check of the services' grade-writing tokens (academy.integrations.service_tokens).

A request without a token, or with one not derived from the portal's master secret, is refused 401;
a genuine token of another scope (the worker's token on the hand-graded endpoint, course A's sync
token for course B's totals) is refused 403. Each refusal is audited with the scope asked for and the
scope offered (never the token).
"""
from __future__ import annotations

import os
from typing import NoReturn

from flask import abort, current_app, request

from academy.grading.report import TOKEN_HEADER
from academy.integrations.service_tokens import RESULTS, verify

REFUSED = "grading.token_refused"


def master_secret() -> str:
    """Return the master secret the service tokens derive from (GRADER_TOKEN, else ACADEMY_GRADER_TOKEN)."""
    return current_app.config.get("GRADER_TOKEN") or os.environ.get("ACADEMY_GRADER_TOKEN", "")


def refuse(status: int, reason: str, wanted: str, offered: str | None = None) -> NoReturn:
    """Audit a refused service request, then abort with status (the request rolls back; the entry is kept)."""
    from academy.audit.services import record

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
