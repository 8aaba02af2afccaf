"""What the provider hands out: the scopes, the hash under which a secret, code or token is stored,
and the revocation of issued tokens.

Below both the Authlib wiring (provider.py) and the hub's services, and below the portal's sign-ins
(academy.auth.sessions), which revoke a sign-in's hub tokens when it ends.
"""
from __future__ import annotations

import hashlib

import sqlalchemy as sa

from academy.extensions import db
from academy.oauth.models import OAuthCode, OAuthToken
from academy.util import utcnow

# Scopes a client may be granted; "openid" is accepted so OIDC clients can ask for it.
SCOPES = ("openid", "profile", "email", "groups")


def digest(value: str) -> str:
    """Return the sha256 hex digest under which a secret, code or token is stored."""
    return hashlib.sha256(value.encode()).hexdigest()


def revoke_hub_tokens(*, session_ids: list[int] | None = None, user_id: int | None = None) -> int:
    """Revoke the tokens issued through these sign-ins, or all of a user's; return how many."""
    query = sa.update(OAuthToken).where(OAuthToken.revoked_at.is_(None))
    if session_ids is not None:
        query = query.where(OAuthToken.session_id.in_(session_ids))
    elif user_id is not None:
        query = query.where(OAuthToken.user_id == user_id)
    else:
        raise ValueError("name the sessions or the user whose tokens to revoke")
    return db.session.execute(query.values(revoked_at=utcnow())).rowcount or 0


def revoke_tokens_of_code(code: OAuthCode) -> None:
    """Revoke every token issued from an authorization code."""
    now = utcnow()
    for token in db.session.scalars(db.select(OAuthToken).where(OAuthToken.code_id == code.id)):
        token.revoked_at = token.revoked_at or now
