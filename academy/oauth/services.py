"""Who may use the hub, what the portal tells the hub about a user, and the hub's client registration."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app

from academy.admissions.services import active_cohorts
from academy.auth.models import User
from academy.courses.models import Course, course_cohorts, course_instructors
from academy.extensions import db
from academy.integrations.formgrader import service_name as formgrader_group
from academy.oauth.models import OAuthClient
from academy.oauth.tokens import SCOPES, digest
from academy.policy import Role
from academy.privacy.services import must_consent

# Why a user may not use the hub; the hub's authenticator shows a message for each.
REFUSAL_ROLE = "role"  # coordinators and company recruiters never use notebooks
REFUSAL_NOT_ENROLLED = "not_enrolled"  # a trainee with no active enrolment (withdrawn, completed, applicant)
REFUSAL_DISABLED = "disabled"
REFUSAL_CONSENT = "consent"  # a trainee who has yet to consent to the current privacy policy (a new version)

# Hub admins: the academy office.
ADMIN_GROUP = "academy-admins"


class OAuthError(ValueError):
    """A client registration the portal refuses."""


def setting(key: str, default: str | None = None) -> str | None:
    """Return a portal setting (academy.config) as text, or the default where it is unset or empty."""
    value = current_app.config.get(key)
    return str(value) if value else default


def hub_redirect_uri() -> str:
    """Return the hub's OAuth callback URL, the one redirect URI its client may use."""
    explicit = setting("HUB_REDIRECT_URI")
    if explicit:
        return explicit
    return setting("HUB_URL", "http://127.0.0.1:8000").rstrip("/") + "/hub/oauth_callback"


# --- clients ----------------------------------------------------------------------------------


# The shortest client secret the portal accepts, registered or set for the hub (guessing must stay hopeless).
MIN_SECRET_LENGTH = 32


def register_client(client_id: str, secret: str, redirect_uris: list[str], name: str) -> OAuthClient:
    """Create or update a client; the secret is stored only as a hash."""
    if len(secret) < MIN_SECRET_LENGTH:
        raise OAuthError(f"a client secret needs at least {MIN_SECRET_LENGTH} characters")
    if not redirect_uris or any(not u.startswith(("http://", "https://")) or "#" in u for u in redirect_uris):
        raise OAuthError("redirect URIs must be absolute http(s) URLs without a fragment")
    row = db.session.scalar(sa.select(OAuthClient).where(OAuthClient.client_id == client_id))
    if row is None:
        row = OAuthClient(client_id=client_id)
        db.session.add(row)
    row.name = name
    row.secret_hash = digest(secret)
    row.redirect_uris = "\n".join(redirect_uris)
    row.scope = " ".join(SCOPES)
    db.session.flush()
    return row


def get_client(client_id: str) -> OAuthClient | None:
    """Return a registered client; the hub's client follows the environment (id, secret, callback)."""
    if not client_id or len(client_id) > 80:
        return None
    row = db.session.scalar(sa.select(OAuthClient).where(OAuthClient.client_id == client_id))
    hub_id, hub_secret = setting("HUB_CLIENT_ID", "jupyterhub"), setting("HUB_CLIENT_SECRET")
    if client_id == hub_id and hub_secret:
        # Kept in step with the environment so a rotated secret or a moved hub needs no command.
        wanted = (digest(hub_secret), hub_redirect_uri())
        if row is None or (row.secret_hash, row.redirect_uris) != wanted:
            try:
                row = register_client(hub_id, hub_secret, [wanted[1]], "JupyterHub")
                db.session.commit()
            except sa.exc.IntegrityError:
                # Another request registered it at the same moment (a whole cohort signing in at once).
                db.session.rollback()
                row = db.session.scalar(sa.select(OAuthClient).where(OAuthClient.client_id == client_id))
    return row


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


# --- what the hub learns ------------------------------------------------------------------------


@dataclass
class HubAccess:
    allowed: bool
    refusal: str | None = None
    groups: list[str] = field(default_factory=list)


def hub_username(user: User) -> str:
    """Return the user's immutable hub name ("u" + portal id): never the e-mail, which can change."""
    return f"u{user.id}"


def hub_access(user: User) -> HubAccess:
    """Decide whether the user may use the hub now, and which hub groups they belong to."""
    if not user.is_enabled:
        return HubAccess(False, REFUSAL_DISABLED)
    if must_consent(user):  # the hub asks again at each token refresh: a new policy version stops it there too
        return HubAccess(False, REFUSAL_CONSENT)
    if user.role == Role.ADMIN:
        return HubAccess(True, groups=[ADMIN_GROUP])
    if user.role == Role.INSTRUCTOR:
        courses = db.session.scalars(
            sa.select(Course.id)
            .join(course_instructors, course_instructors.c.course_id == Course.id)
            .where(course_instructors.c.user_id == user.id)
        )
        # Keyed by the immutable course id, never the nbgrader folder (a folder can be re-linked to another course).
        return HubAccess(True, groups=sorted({formgrader_group(c) for c in courses}))
    if user.role == Role.STUDENT:
        cohorts = active_cohorts(user)
        if not cohorts:
            return HubAccess(False, REFUSAL_NOT_ENROLLED)
        courses = db.session.scalars(
            sa.select(Course.id)
            .join(course_cohorts, course_cohorts.c.course_id == Course.id)
            .where(course_cohorts.c.cohort_id.in_([c.id for c in cohorts]))
        )
        groups = {f"cohort-{c.id}" for c in cohorts} | {f"nbgrader-c{c}" for c in courses}
        return HubAccess(True, groups=sorted(groups))
    return HubAccess(False, REFUSAL_ROLE)


def userinfo_claims(user: User, scope: str) -> dict:
    """Return the userinfo claims for a token's scope: a stable subject, name, e-mail, role, groups."""
    access = hub_access(user)
    scopes = set(scope.split())
    claims: dict = {
        "sub": str(user.id),
        "preferred_username": hub_username(user),
        "role": user.role,
        "hub_access": access.allowed,
        "hub_refusal": access.refusal,
    }
    if "profile" in scopes:
        claims["name"] = user.name
    if "email" in scopes:
        # Addresses are not verified by a mail round-trip, so a relying party must not key on them.
        claims.update(email=user.email, email_verified=False)
    if "groups" in scopes:
        claims["groups"] = access.groups
    return claims
