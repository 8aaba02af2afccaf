"""Forgot password: a single-use, time-limited link sent to the account's own address.

The link is a signed, timestamped token of (user id, fingerprint of the current password hash), so it
- dies after ACADEMY_RESET_TTL_MINUTES (itsdangerous checks the signature's age),
- dies when the password is set through it or changed any other way (the fingerprint changes),
- works for enabled accounts only.
Asking for a link answers the same whether or not the address has an account; only an account's own
address ever receives its link (academy/mail keeps it in the outbox and sends it).
"""
from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import force_locale, gettext as _
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from werkzeug.security import generate_password_hash

from academy.audit.services import record
from academy.auth.models import User
from academy.auth.passwords import password_problem
from academy.auth.services import AccountError
from academy.auth.sessions import end_all_sessions
from academy.mail import services as mail
from academy.util import utcnow

SALT = "academy.password-reset"  # separates these tokens from anything else the secret key signs
ANSWER_SECONDS = 0.15  # every request for a link takes at least this long, known address or not


class ResetError(ValueError):
    """A link that cannot set a password: reason is invalid, used or expired."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)


def token_for(user: User) -> str:
    return _serializer().dumps([user.id, _fingerprint(user)])


def request_reset(email: str) -> None:
    """Send a reset link to the account with this address, if there is an enabled one; say nothing either way.

    Both ways take the same time (at least ANSWER_SECONDS; the mail itself goes out after the request), and one
    account gets at most one message per ACADEMY_RESET_MAIL_EVERY_MINUTES, however many addresses ask.
    """
    started = time.monotonic()
    try:
        _request_reset(email)
    finally:
        time.sleep(max(0.0, ANSWER_SECONDS - (time.monotonic() - started)))


def _request_reset(email: str) -> None:
    from academy.extensions import db
    from academy.mail.models import OutboxMail

    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.strip().lower()))
    if user is None or not user.is_enabled:
        record("user.password_reset_unknown", detail={"known": user is not None})
        return
    every = timedelta(minutes=int(current_app.config.get("RESET_MAIL_EVERY_MINUTES", 5)))
    recent = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMail).where(
        OutboxMail.user_id == user.id, OutboxMail.kind == "password_reset", OutboxMail.created_at > utcnow() - every))
    if recent:
        record("user.password_reset_repeated", subject_user_id=user.id)
        return
    # On the configured public address: a request's Host header is the requester's to choose, and a link built
    # on it would carry the token to their server.
    link = current_app.config["PORTAL_URL"].rstrip("/") + url_for("auth.reset_link", token=token_for(user))
    minutes = int(current_app.config.get("RESET_TTL_MINUTES", 60))
    subjects, parts = [], []
    for locale in ("ko", "en"):  # Korean first, then English
        with force_locale(locale):
            subjects.append(_("Reset your password"))
            parts.append(_("Someone (we hope you) asked to reset the password of your account %(email)s. Open this "
                           "link within %(minutes)d minutes to choose a new password; it works once:",
                           email=user.email, minutes=minutes)
                         + f"\n\n{link}\n\n" + _("If you did not ask for it, ignore this e-mail: your password "
                                                 "stays as it is."))
    body = "\n\n---\n\n".join(parts) + "\n"
    ko_subject, en_subject = subjects
    mail.send(user, "password_reset", f"[경남AI혁신아카데미] {ko_subject} / {en_subject}", body, secret=link)
    record("user.password_reset_requested", subject_user_id=user.id)


def find_by_token(token: str) -> User:
    """Return the account a reset link names while it can still set a password, else raise ResetError."""
    from academy.extensions import db

    max_age = 60 * int(current_app.config.get("RESET_TTL_MINUTES", 60))
    try:
        user_id, fingerprint = _serializer().loads(token, max_age=max_age)
    except SignatureExpired:
        raise ResetError("expired") from None
    except (BadData, ValueError, TypeError):
        raise ResetError("invalid") from None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.is_enabled:
        raise ResetError("invalid")
    if not hmac.compare_digest(str(fingerprint), _fingerprint(user)):
        raise ResetError("used")  # set through this link, or changed since
    return user


def reset(user: User, password: str) -> None:
    """Set the new password; the link dies with the old hash and every session of the account ends."""
    if problem := password_problem(password, email=user.email, name=user.name):
        raise AccountError(problem)
    user.password_hash = generate_password_hash(password)
    end_all_sessions(user, "password_changed")
    record("user.password_set", subject_user_id=user.id, actor_id=user.id, detail={"via": "reset"})
