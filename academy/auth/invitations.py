"""Invitations: a one-time, time-limited link with which a trainee or staff member sets their own first password.

Accounts created by someone else (a coordinator's or the office's import, the office's new-account form) never get a password
anyone sees. Each gets an Invitation; its link is a signed token of (invitation id, nonce,
fingerprint of the account's current password hash), so it
- dies when the password is set through it or changed any other way (the fingerprint changes),
- dies when the invitation is re-issued (the nonce changes),
- dies after ACADEMY_INVITE_TTL_DAYS (the row's expires_at, checked on the server).
The link is derived, not stored, so the Invitations page can show it again until then. Each new or
re-issued invitation of an enabled account is also e-mailed to its person (academy/mail: kept in the
outbox, sent when an SMTP server is configured, the link blanked in the outbox once sent); a link that
was e-mailed is no longer shown to the office, who can make a new one instead.
"""
from __future__ import annotations

import csv
import hashlib
import hmac
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for
from flask_babel import force_locale, format_datetime
from flask_babel import gettext as _
from itsdangerous import BadData, URLSafeSerializer
from werkzeug.security import generate_password_hash

from academy.audit.services import record
from academy.auth.models import Invitation, User
from academy.auth.passwords import password_problem
from academy.auth.services import AccountError, create_user
from academy.auth.sessions import end_all_sessions
from academy.extensions import db
from academy.mail import services as mail
from academy.mail.models import OutboxMail
from academy.policy import Role
from academy.util import utcnow

# Separates these tokens from anything else the secret key signs (sessions, CSRF).
SALT = "academy.invitation.set-password"

# The password hash of an account still waiting for its owner: 256 random bits nobody knows. pbkdf2
# with few rounds because nobody can guess it anyway and an import of hundreds of trainees must stay
# fast; the password the trainee chooses gets werkzeug's default (scrypt).
UNUSABLE_PASSWORD_METHOD = "pbkdf2:sha256:1000"


class InvitationError(ValueError):
    """A link that cannot set a password; `reason` says why (invalid, used, expired)."""

    def __init__(self, reason: str, invitation: Invitation | None = None):
        super().__init__(reason)
        self.reason = reason
        self.invitation = invitation


def unusable_password_hash() -> str:
    """Return a password hash no one knows the password of."""
    return generate_password_hash(secrets.token_urlsafe(32), method=UNUSABLE_PASSWORD_METHOD)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=SALT)


def _lifetime() -> timedelta:
    return timedelta(days=int(current_app.config.get("INVITE_TTL_DAYS", 7)))


def token_for(invitation: Invitation) -> str:
    """Return the token of the invitation's current link."""
    return _serializer().dumps([invitation.id, invitation.nonce, _fingerprint(invitation.user)])


def link(invitation: Invitation, base_url: str | None = None) -> str:
    """Return the invitation's link: absolute for this request's host, or under base_url (CLI)."""
    token = token_for(invitation)
    if base_url is None and has_request_context():
        return url_for("auth.welcome_link", token=token, _external=True)
    return f"{(base_url or 'http://127.0.0.1:5000').rstrip('/')}/welcome/{token}"


def invite(accounts: list[tuple[User, int | None]], created_by: User | None = None) -> list[Invitation]:
    """Create an invitation for each (account, university) pair; nobody knows these accounts' passwords."""
    expires_at = utcnow() + _lifetime()
    made = [
        Invitation(user=user, university_id=university_id, created_by_id=created_by.id if created_by else None,
                   nonce=secrets.token_hex(16), expires_at=expires_at)
        for user, university_id in accounts
    ]
    db.session.add_all(made)
    db.session.flush()
    for invitation in made:
        record("invitation.created", subject_user_id=invitation.user_id, obj=invitation)
        send(invitation)
    return made


def invite_account(email: str, name: str, role: Role | str, *, university_id: int | None = None,
                   company_id: int | None = None, created_by: User | None = None) -> Invitation:
    """Create an account nobody knows the password of and invite its person to set one by e-mail.

    Only a trainee's invitation is handed to their university's coordinators; a staff member's stays
    with the office, so no coordinator can ever set the password of a staff account.
    """
    user = create_user(email, name, role, secrets.token_urlsafe(32), check_password=False,
                       university_id=university_id, company_id=company_id)
    user.password_hash = unusable_password_hash()
    invitation, = invite([(user, university_id if user.role == Role.STUDENT else None)], created_by)
    return invitation


def reissue(invitation: Invitation) -> Invitation:
    """Give an unused invitation a new link and a new lifetime; older links stop working."""
    if invitation.used_at is not None:
        raise InvitationError("used", invitation)
    invitation.nonce = secrets.token_hex(16)
    invitation.expires_at = utcnow() + _lifetime()
    invitation.sent_at = None  # back in the outbox: the new link has not been handed out
    record("invitation.reissued", subject_user_id=invitation.user_id, obj=invitation)
    send(invitation)
    return invitation


def send(invitation: Invitation) -> OutboxMail | None:
    """E-mail the invitation's current link to its person, Korean then English; a disabled account gets nothing."""
    user = invitation.user
    if not user.is_enabled:
        return None
    # On the configured public address, never the request's Host header (the requester's to choose).
    url = link(invitation, base_url=current_app.config["PORTAL_URL"])
    subjects, parts = [], []
    for locale in ("ko", "en"):  # Korean first, then English
        with force_locale(locale):
            subjects.append(_("Set your password"))
            parts.append(_("Hello %(name)s. An account was made for you on the Gyeongnam AI Innovation Academy "
                           "portal: %(email)s. Open this link to choose your password; it works once, until "
                           "%(until)s:", name=user.name, email=user.email,
                           until=format_datetime(invitation.expires_at, "yyyy-MM-dd HH:mm"))
                         + f"\n\n{url}\n\n" + _("If you did not expect this e-mail, ignore it: without the "
                                                  "link nobody can sign in to the account."))
    body = "\n\n---\n\n".join(parts) + "\n"
    ko_subject, en_subject = subjects
    # The outbox row is the record that it was written (and, once the server took it, sent).
    return mail.send(user, "invitation", f"[경남AI혁신아카데미] {ko_subject} / {en_subject}", body, secret=url)


def latest_mails(invitations: list[Invitation]) -> dict[int, OutboxMail]:
    """Return each invitation's latest e-mail (the one with its current link), by invitation id."""
    by_user = {i.user_id: i.id for i in invitations}
    if not by_user:
        return {}
    mails = db.session.scalars(sa.select(OutboxMail).where(
        OutboxMail.kind == "invitation", OutboxMail.user_id.in_(by_user)).order_by(OutboxMail.id))
    return {by_user[m.user_id]: m for m in mails}


def mails_out() -> bool:
    """Say whether e-mails leave the portal (an SMTP server is configured) or wait in the outbox."""
    return bool(current_app.config.get("MAIL_SERVER"))


def mark_sent(invitation: Invitation) -> None:
    """Note that the invitation's link was handed out (it leaves the outbox)."""
    invitation.sent_at = utcnow()
    record("invitation.sent", subject_user_id=invitation.user_id, obj=invitation)


def status(invitation: Invitation, now: datetime | None = None) -> str:
    """Return pending, used or expired."""
    if invitation.used_at is not None:
        return "used"
    return "expired" if (now or utcnow()) >= invitation.expires_at else "pending"


def find_by_token(token: str) -> Invitation:
    """Return the invitation a link names while it can still set a password, else raise InvitationError."""
    try:
        invitation_id, nonce, fingerprint = _serializer().loads(token)
    except (BadData, ValueError, TypeError):
        raise InvitationError("invalid") from None
    invitation = db.session.get(Invitation, invitation_id) if isinstance(invitation_id, int) else None
    if invitation is None or not hmac.compare_digest(str(nonce), invitation.nonce):
        raise InvitationError("invalid", invitation)  # unknown, or replaced by a re-issued link
    if not invitation.user.is_enabled:
        raise InvitationError("invalid", invitation)
    if invitation.used_at is not None or not hmac.compare_digest(str(fingerprint), _fingerprint(invitation.user)):
        raise InvitationError("used", invitation)  # set through this link, or changed since
    if utcnow() >= invitation.expires_at:
        raise InvitationError("expired", invitation)
    return invitation


def accept(invitation: Invitation, password: str) -> User:
    """Set the invited account's password once; the link dies with the old password hash."""
    user = invitation.user
    if problem := password_problem(password, email=user.email, name=user.name):
        raise AccountError(problem)
    user.password_hash = generate_password_hash(password)
    invitation.used_at = utcnow()
    end_all_sessions(user, "password_changed")
    record("user.password_set", subject_user_id=user.id, obj=invitation, actor_id=user.id,
           detail={"via": "invitation"})
    return user


def outbox(university_id: int | None):
    """Return the query of invitations a coordinator (one university) or the office (None) sees."""
    query = sa.select(Invitation).join(Invitation.user)
    if university_id is not None:
        query = query.where(Invitation.university_id == university_id)
    return query


def write_links(invitations: list[Invitation], path: Path) -> None:
    """Write email,name,link,expires_at rows to a new file only its owner can read (the CLI's outbox)."""
    from academy.courses.services import csv_safe  # names came from a file: never let a cell be a formula

    base = current_app.config.get("PORTAL_URL")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT: set it again
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "name", "link", "expires_at"])
        for invitation in invitations:
            writer.writerow([csv_safe(invitation.user.email), csv_safe(invitation.user.name),
                             link(invitation, base_url=base), invitation.expires_at.isoformat()])
