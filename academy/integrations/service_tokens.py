"""Narrow tokens for the services that write grades: each one good for one thing only.

No service holds the one secret the portal trusts. The portal and the hub hold the master secret
(ACADEMY_GRADER_TOKEN) and derive from it, for each scope, a token that names its scope and carries
an HMAC of it:

    results.<hmac>          the grading worker: POST /api/grading/results, nothing else
    manual-c<id>.<hmac>     the grade sync of portal course <id>: POST /api/grading/manual for that course only

So the hub can hand each course's sync its own token without a database, the worker gets only its
own (ACADEMY_WORKER_TOKEN), and the portal tells a token of another scope (403) from a forged one (401).
Pure functions: the hub and the worker import this without the portal's Flask stack.
"""
from __future__ import annotations

import hashlib
import hmac
import re

RESULTS = "results"
TOKEN_HEADER = "X-Academy-Grader-Token"  # the request header that carries a service token, on both sides
_SCOPE = re.compile(r"^(results|manual-c[0-9]{1,12})$")
_CONTEXT = b"academy-service-token/v1\0"  # tokens of this scheme never equal any other HMAC of the secret


def manual_scope(course_id: int) -> str:
    """Return the scope of the grade sync of one portal course."""
    return f"manual-c{int(course_id)}"


def derive(master: str, scope: str) -> str:
    """Return the token of a scope, derived from the master secret."""
    if not master:
        raise ValueError("the master secret (ACADEMY_GRADER_TOKEN) is empty")
    if not _SCOPE.match(scope):
        raise ValueError(f"not a service token scope: {scope!r}")
    mac = hmac.new(master.encode(), _CONTEXT + scope.encode(), hashlib.sha256).hexdigest()
    return f"{scope}.{mac}"


def verify(master: str, token: str) -> str | None:
    """Return the scope a token was derived for from this master secret, or None if it was not."""
    scope, _, _mac = (token or "").partition(".")
    if not master or len(token or "") > 200 or not _SCOPE.match(scope):
        return None
    return scope if hmac.compare_digest(derive(master, scope).encode(), token.encode()) else None
