"""Write an e-mail: into the outbox always, and through the SMTP server when ACADEMY_MAIL_SERVER names one.

Sending uses Flask-Mailman (Django's e-mail classes: headers encoded for Korean, SMTP with STARTTLS or SSL).
It happens after the request that wrote the message has committed, in a thread of its own: a slow or silent
mail server never holds a request (nor shows, by the time a request takes, whom a message was written to).
A failure to send never loses the message: it stays in the outbox with the error, for the office to see. A
secret in the message (a sign-in link) is blanked in the outbox once the server has taken it.
"""
from __future__ import annotations

import atexit
import logging
import threading
import time

from flask import Flask, current_app
from flask_mailman import EmailMessage
from sqlalchemy import event

from academy.auth.models import User
from academy.extensions import db
from academy.extensions import mail as mailer
from academy.mail.models import OutboxMail
from academy.util import utcnow

log = logging.getLogger(__name__)
SENT_SECRET = "[메일로 보냄 / sent by e-mail]"


def _smtp(app: Flask):
    """An SMTP connection from the settings as they are now (never Flask-Mailman's test-mode memory backend)."""
    config = app.config
    return mailer.get_connection(
        backend="smtp", host=config["MAIL_SERVER"], port=int(config.get("MAIL_PORT") or 25),
        username=config.get("MAIL_USERNAME"), password=config.get("MAIL_PASSWORD"),
        use_tls=bool(config.get("MAIL_USE_TLS")), use_ssl=bool(config.get("MAIL_USE_SSL")),
        timeout=int(config.get("MAIL_TIMEOUT") or 10))


def send(user: User, kind: str, subject: str, body: str, secret: str = "") -> OutboxMail:
    """Keep the message in the outbox; once the request commits, send it if an SMTP server is configured."""
    mail = OutboxMail(user_id=user.id, to_address=user.email, kind=kind, subject=subject[:200], body=body)
    db.session.add(mail)
    db.session.flush()
    if current_app.config.get("MAIL_SERVER"):
        app, mail_id = current_app._get_current_object(), mail.id  # type: ignore[attr-defined]
        message = (mail.subject, body, user.email, secret)

        @event.listens_for(db.session(), "after_commit", once=True)
        def _after_commit(_session) -> None:
            thread = threading.Thread(target=_deliver, args=(app, mail_id, *message), daemon=True,
                                      name=f"mail-{mail_id}")
            _sending.add(thread)
            thread.start()
    return mail


# Messages being sent. A command (an import that invites, a scheduled job run by hand) ends its process right
# after its commit: it waits for them at exit, each at most the SMTP timeout, so none is lost half-way.
_sending: set[threading.Thread] = set()


@atexit.register
def _finish_sending() -> None:
    for thread in list(_sending):
        thread.join(timeout=30)


def _deliver(app: Flask, mail_id: int, subject: str, body: str, to: str, secret: str) -> None:
    """Send one message and note in the outbox that it went (its secret blanked) or why it did not."""
    try:
        _send_and_note(app, mail_id, subject, body, to, secret)
    finally:
        _sending.discard(threading.current_thread())


def _send_and_note(app: Flask, mail_id: int, subject: str, body: str, to: str, secret: str) -> None:
    with app.app_context():
        error = ""
        try:
            EmailMessage(subject=subject, body=body, to=[to], from_email=app.config.get("MAIL_DEFAULT_SENDER"),
                         connection=_smtp(app)).send()
        except Exception as exc:  # noqa: BLE001 - kept in the outbox with why
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("mail %s not sent: %s", mail_id, error)
        for _attempt in range(50):  # the row is committed before this thread starts; be patient with a busy db
            mail = db.session.get(OutboxMail, mail_id)
            if mail is not None:
                break
            time.sleep(0.1)
        else:
            return
        if error:
            mail.error = error
        else:
            mail.sent_at = utcnow()
            if secret:
                mail.body = mail.body.replace(secret, SENT_SECRET)
        db.session.commit()
        db.session.remove()
