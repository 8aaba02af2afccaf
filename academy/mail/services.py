"""Write an e-mail: into the outbox always, and through the SMTP server when ACADEMY_MAIL_SERVER names one.

Sending uses Flask-Mailman (Django's e-mail classes: headers encoded for Korean, SMTP with STARTTLS or SSL).
A failure to send never loses the message: it stays in the outbox with the error, for the office to see.
"""
from __future__ import annotations

import logging

from flask import current_app
from flask_mailman import EmailMessage

from academy.auth.models import User
from academy import extensions
from academy.extensions import db
from academy.mail.models import OutboxMail
from academy.util import utcnow

log = logging.getLogger(__name__)


def _smtp():
    """An SMTP connection from the settings as they are now (never Flask-Mailman's test-mode memory backend)."""
    config = current_app.config
    return extensions.mail.get_connection(
        backend="smtp", host=config["MAIL_SERVER"], port=int(config.get("MAIL_PORT") or 25),
        username=config.get("MAIL_USERNAME"), password=config.get("MAIL_PASSWORD"),
        use_tls=bool(config.get("MAIL_USE_TLS")), use_ssl=bool(config.get("MAIL_USE_SSL")),
        timeout=int(config.get("MAIL_TIMEOUT") or 10))


def send(user: User, kind: str, subject: str, body: str) -> OutboxMail:
    """Keep the message in the outbox and send it if an SMTP server is configured; return the outbox row."""
    mail = OutboxMail(user_id=user.id, to_address=user.email, kind=kind, subject=subject[:200], body=body)
    db.session.add(mail)
    db.session.flush()
    if current_app.config.get("MAIL_SERVER"):
        try:
            EmailMessage(subject=mail.subject, body=body, to=[user.email],
                         from_email=current_app.config.get("MAIL_DEFAULT_SENDER"), connection=_smtp()).send()
        except Exception as exc:  # noqa: BLE001 - kept in the outbox with why; the request goes on
            mail.error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("mail %s to user %s not sent: %s", mail.id, user.id, mail.error)
        else:
            mail.sent_at = utcnow()
    return mail
