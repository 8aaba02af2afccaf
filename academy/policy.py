"""One access policy: every view declares who may use it, and anything undeclared is refused.

    @bp.get("/cohorts")
    @allow(Role.ADMIN, Role.COORDINATOR)
    def cohorts(): ...

`allow()` names roles; `allow(PUBLIC)` opens a route to everyone, `allow(AUTHENTICATED)` to any
signed-in user, and `allow(TOKEN)` marks machine-to-machine endpoints that authenticate by a
bearer token inside the view. The check runs before every request, so a view without a
declaration fails closed (403) instead of silently open.
"""
from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from flask import Flask, abort, current_app, g, redirect, request, url_for
from flask_login import current_user

from academy.audit.services import refuse

F = TypeVar("F", bound=Callable)

PUBLIC = "public"
AUTHENTICATED = "authenticated"
TOKEN = "token"


class Role(StrEnum):
    ADMIN = "admin"  # academy office
    COORDINATOR = "coordinator"  # a university's coordinator
    INSTRUCTOR = "instructor"
    STUDENT = "student"  # trainee or applicant
    RECRUITER = "recruiter"  # a company's recruiter
    PROVINCE = "province"  # the provincial department: read-only, aggregate figures only, no personal data


ALL_ROLES = frozenset(Role)


def allow(*who: str) -> Callable[[F], F]:
    """Declare which roles (or PUBLIC, AUTHENTICATED, TOKEN) may use the decorated view."""
    allowed = frozenset(who)
    unknown = allowed - set(Role) - {PUBLIC, AUTHENTICATED, TOKEN}
    if unknown or not allowed:
        raise ValueError(f"unknown access policy entries: {sorted(unknown) or 'none given'}")

    def mark(view: F) -> F:
        view.access_policy = allowed  # type: ignore[attr-defined]
        return view

    return mark


def policy_of(view: Callable) -> frozenset[str] | None:
    """Return the declared policy of a view function, or None when it declares none."""
    return getattr(view, "access_policy", None)


def roles_allowed(policy: frozenset[str]) -> frozenset[str]:
    """Return the set of roles the policy lets in (for the policy walk test)."""
    if PUBLIC in policy or AUTHENTICATED in policy:
        return ALL_ROLES
    return frozenset(r for r in policy if r in set(Role))


def _enforce() -> None:
    if request.endpoint is None:
        return  # 404 and 405 are answered by Flask itself
    if request.endpoint == "static":
        return
    view = current_app.view_functions.get(request.endpoint)
    policy = policy_of(view) if view else None
    if policy is None:
        current_app.logger.error("route %s has no access policy: refused", request.endpoint)
        refuse(403, reason="no_policy")
    if PUBLIC in policy or TOKEN in policy:
        return
    if not current_user.is_authenticated:
        if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
            abort(401)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if AUTHENTICATED in policy or current_user.role in policy:
        return
    refuse(403, reason="role")


def _fresh_request_state() -> None:
    # g outlives a request where a caller holds the app context open (tests, scripts): what a
    # previous request noted about its refusal, its bearer-token user or the labs released to its trainee must not
    # carry over.
    for key in ("refusal", "audited", "api_user", "released_ids"):
        g.pop(key, None)


def init_app(app: Flask) -> None:
    from academy.audit.services import record_refusal

    app.before_request(_fresh_request_state)
    app.before_request(_enforce)
    # Every refusal (this policy's, a view's 403/404, a bad token's 401) is audited in this one hook.
    app.after_request(record_refusal)
