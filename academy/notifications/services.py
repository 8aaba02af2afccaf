"""Make a notification: keep it for the bell, and e-mail it unless the person turned that kind off."""
from __future__ import annotations

from typing import Any, NamedTuple

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from academy.auth.models import User
from academy.extensions import db
from academy.mail.services import send
from academy.notifications.models import EmailOptOut, Notification
from academy.policy import Role
from academy.util import utcnow


class Kind(NamedTuple):
    label: Any  # a lazy string: what the settings page calls it
    roles: frozenset[str]  # who can receive it (the settings page shows only these)
    required: bool = False  # sent by e-mail whatever the person's settings say


TRAINEE, RECRUITER, OFFICE = frozenset({Role.STUDENT}), frozenset({Role.RECRUITER}), frozenset({Role.ADMIN})
KINDS: dict[str, Kind] = {
    # An applicant must learn the outcome of their application: not something to switch off.
    "application_decided": Kind(_l("Decision on my application (admission)"), TRAINEE, required=True),
    "assignment_released": Kind(_l("A lab is released"), TRAINEE),
    "due_soon": Kind(_l("A lab is due in 48 hours and I have not submitted it"), TRAINEE),
    "graded": Kind(_l("My submission is graded"), TRAINEE),
    "shortlisted": Kind(_l("A company shortlisted me"), TRAINEE),
    "offer_made": Kind(_l("I received an offer"), TRAINEE),
    "offer_expiring": Kind(_l("An offer expires in 24 hours"), TRAINEE),
    "company_reviewed": Kind(_l("The academy approved or rejected my company"), RECRUITER),
    "demand_reviewed": Kind(_l("The academy approved or rejected a demand"), RECRUITER),
    "offer_answered": Kind(_l("A trainee accepted or declined our offer"), RECRUITER),
    "follow_up_due": Kind(_l("A placement follow-up is due"), OFFICE | RECRUITER),
}


class NotificationError(Exception):
    """A notification setting that cannot be accepted."""


def notify(user: User | None, kind: str, subject: Any, body: Any, link: str = "",
           dedupe_key: str | None = None) -> Notification | None:
    """Notify one person in their language; None when there is nobody or it was made before (same dedupe_key).

    `subject` and `body` are lazy strings (or callables) made into text in the person's language here.
    """
    if kind not in KINDS:
        raise NotificationError(f"unknown notification kind: {kind}")
    if user is None:
        return None
    if dedupe_key and db.session.scalar(sa.select(Notification.id).where(
            Notification.user_id == user.id, Notification.dedupe_key == dedupe_key)):
        return None
    with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject_text = str(subject() if callable(subject) else subject)[:200]
        body_text = str(body() if callable(body) else body)
    note = Notification(user_id=user.id, kind=kind, subject=subject_text, body=body_text, link=link[:500],
                        dedupe_key=dedupe_key)
    if user.is_enabled and wants_email(user, kind):
        url = current_app.config["PORTAL_URL"].rstrip("/") + link if link else ""
        note.mail_id = send(user, kind, subject_text, f"{body_text}\n\n{url}".rstrip()).id
        note.emailed = True
    db.session.add(note)
    db.session.flush()
    return note


def notify_all(users, kind: str, subject: Any, body: Any, link: str = "", dedupe_key: str | None = None) -> int:
    """Notify each of several people; return how many notices were made."""
    return sum(notify(u, kind, subject, body, link, dedupe_key) is not None for u in users)


def wants_email(user: User, kind: str) -> bool:
    """Say whether this kind of notification goes to the person by e-mail too."""
    if KINDS[kind].required:
        return True
    return not db.session.scalar(sa.select(EmailOptOut.kind).where(EmailOptOut.user_id == user.id,
                                                                   EmailOptOut.kind == kind))


def kinds_for(user: User) -> dict[str, Kind]:
    """Return the kinds of notification this person's role can receive."""
    return {k: kind for k, kind in KINDS.items() if user.role in kind.roles}


def set_email_choices(user: User, wanted: set[str]) -> None:
    """Store which of the person's kinds come by e-mail (the required ones always do)."""
    mine = kinds_for(user)
    if unknown := wanted - set(mine):
        raise NotificationError(f"unknown notification kinds: {sorted(unknown)}")
    db.session.execute(sa.delete(EmailOptOut).where(EmailOptOut.user_id == user.id))
    db.session.add_all(EmailOptOut(user_id=user.id, kind=k) for k, kind in mine.items()
                       if k not in wanted and not kind.required)


def unread_count(user: User) -> int:
    """Return how many of the person's notifications are unread."""
    return db.session.scalar(sa.select(sa.func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0


def notifications_of(user: User, limit: int = 100) -> list[Notification]:
    """Return the person's latest notifications, newest first."""
    return list(db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id)
                                   .order_by(Notification.id.desc()).limit(limit)))


def find_own(user: User, notification_id: int) -> Notification:
    """Return the person's own notification; raise LookupError for any other id."""
    note = db.session.get(Notification, notification_id)
    if note is None or note.user_id != user.id:
        raise LookupError(notification_id)
    return note


def mark_read(user: User, note: Notification | None = None) -> None:
    """Mark one notification (or all of the person's) read."""
    query = sa.update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if note is not None:
        query = query.where(Notification.id == note.id)
    db.session.execute(query.values(read_at=utcnow()))
