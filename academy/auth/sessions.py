"""Server-side sign-ins: begun at login, checked on every request, ended at logout (ASVS 7.4.1).

The session cookie names a UserSession row by a random key (only its sha256 is stored). A copied
cookie therefore stops working the moment its row ends: at logout for that browser, and for every
browser of the account when its password or enabled state changes. Ending a sign-in also
revokes the hub tokens issued through it (academy.oauth.tokens.revoke_hub_tokens).
"""
from __future__ import annotations

import functools
import hashlib
import secrets

import sqlalchemy as sa
from flask import current_app, has_request_context, request, session
from flask_login import current_user, login_user

from academy.auth.models import User, UserSession
from academy.extensions import db
from academy.oauth.tokens import revoke_hub_tokens
from academy.util import utcnow


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def begin_session(user: User) -> UserSession:
    """Record a new sign-in of the user and give the user object its key (for the cookie)."""
    key = secrets.token_urlsafe(32)
    row = UserSession(user_id=user.id, key_hash=_digest(key))
    if has_request_context():
        row.ip = (request.remote_addr or "")[:45] or None
        row.user_agent = request.user_agent.string[:200] or None
    db.session.add(row)
    db.session.flush()
    user.session_key = key
    return row


def sign_in(user: User) -> UserSession:
    """Start a fresh browser session for the user (a new cookie, a new server-side sign-in)."""
    lang = session.get("lang")
    session.clear()  # a new session on sign-in (no session fixation)
    if lang:
        session["lang"] = lang
    row = begin_session(user)
    login_user(user)
    return row


@functools.cache
def _resume_statement() -> sa.Select:
    """The sign-in check's one statement, built once per process (building it cost more than running it): the
    account, this sign-in's start and end, and the bell's unread count."""
    from academy.notifications.models import Notification

    unread = (sa.select(sa.func.count(Notification.id))
              .where(Notification.user_id == User.id, Notification.read_at.is_(None)).scalar_subquery())
    return (sa.select(User, UserSession.created_at, UserSession.ended_at, unread)
            .join(UserSession, UserSession.user_id == User.id)
            .where(User.id == sa.bindparam("user_id"), UserSession.key_hash == sa.bindparam("key_hash")))


def resume(session_id: str) -> User | None:
    """Return the user of a cookie's session id while its sign-in is live, else None."""
    user_id, _, rest = session_id.partition(":")
    token, _, key = rest.partition(":")
    if not user_id.isdigit() or not key:
        return None
    # One round trip on every request: the account, this sign-in's row, and the bell's unread count.
    found = db.session.execute(_resume_statement(), {"user_id": int(user_id), "key_hash": _digest(key)}).first()
    if found is None:
        return None
    user, created_at, ended_at, unread_count = found
    if not user.is_enabled or not secrets.compare_digest(user.session_token, token) or ended_at is not None:
        return None
    # An absolute lifetime: a cookie copied from a browser left signed in still dies.
    if utcnow() - created_at > current_app.config["PERMANENT_SESSION_LIFETIME"]:
        return None
    user.session_key = key
    user.unread_at_request_start = unread_count  # read by the bell (notifications.views.bell)
    return user


def current_session() -> UserSession | None:
    """Return the signed-in user's current sign-in row, if any."""
    if not has_request_context() or not current_user.is_authenticated or not current_user.session_key:
        return None
    return db.session.scalar(
        sa.select(UserSession).where(UserSession.key_hash == _digest(current_user.session_key))
    )


def end_session(row: UserSession, reason: str) -> int:
    """End one sign-in and revoke the hub tokens issued through it; return how many were revoked."""
    if row.ended_at is None:
        row.ended_at, row.end_reason = utcnow(), reason
    return revoke_hub_tokens(session_ids=[row.id])


def end_all_sessions(user: User, reason: str) -> int:
    """End every sign-in of the account and revoke all its hub tokens; return how many were revoked."""
    user.session_token = secrets.token_hex(16)
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )
    return revoke_hub_tokens(user_id=user.id)
