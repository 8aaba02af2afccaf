"""Consent to the privacy policy, and privacy requests: the rules, with no Flask request in sight."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from academy.audit.services import record
from academy.auth.models import User
from academy.extensions import db
from academy.policy import Role
from academy.privacy.models import PolicyConsent, PrivacyRequest
from academy.util import utcnow

# The version of the published policy (templates/privacy/policy_*.html). Changing the text means a new version:
# everyone who must consent is asked again at their next request.
POLICY_VERSION = "2027-01"
REQUIRED = "required"
# Optional uses, each consented to separately (PIPA Art. 22(1)); refusing one costs nothing in the programme.
OPTIONAL = {
    "news": _l("E-mail about the academy's new programmes, events and job fairs"),
    "alumni": _l("Contact after the 12-month follow-up, for alumni surveys and mentoring"),
}
# People who give their data to the academy by signing up for its programme or its placement service. Staff
# (office, coordinators, instructors, the province) are covered by their employment, not by consent.
CONSENTING_ROLES = frozenset({Role.STUDENT, Role.RECRUITER})
REQUEST_KINDS = {
    "access": _l("See what the academy keeps about me"),
    "export": _l("Receive a copy of my data"),
    "correction": _l("Correct my data"),
    "deletion": _l("Delete my data"),
    "suspension": _l("Stop processing my data"),
}
ANSWER_WITHIN = timedelta(days=10)  # PIPA Decree Arts. 41-43


class PrivacyError(Exception):
    """A privacy request or answer that cannot be accepted."""


def must_consent(user: User) -> bool:
    """Say whether this user has yet to consent to the current policy's required purpose."""
    if user.role not in CONSENTING_ROLES:
        return False
    latest = db.session.scalar(
        sa.select(PolicyConsent.given).where(PolicyConsent.user_id == user.id, PolicyConsent.purpose == REQUIRED,
                                             PolicyConsent.version == POLICY_VERSION)
        .order_by(PolicyConsent.id.desc()).limit(1)
    )
    return not latest


def optional_choices(user: User) -> dict[str, bool]:
    """Return the user's current answer to each optional purpose (any version; never asked = False)."""
    rows = db.session.execute(
        sa.select(PolicyConsent.purpose, PolicyConsent.given).where(
            PolicyConsent.user_id == user.id, PolicyConsent.purpose.in_(OPTIONAL)
        ).order_by(PolicyConsent.id)
    ).all()
    choices = dict.fromkeys(OPTIONAL, False)
    choices.update({purpose: given for purpose, given in rows})
    return choices


def give_consents(user: User, optional: set[str] | frozenset[str] = frozenset(), *, actor_id: int | None = None) -> None:
    """Record consent to the current policy's required purpose and an answer to each optional one."""
    unknown = set(optional) - set(OPTIONAL)
    if unknown:
        raise PrivacyError(f"unknown purposes: {sorted(unknown)}")
    db.session.add(PolicyConsent(user_id=user.id, version=POLICY_VERSION, purpose=REQUIRED, given=True))
    for purpose in OPTIONAL:
        db.session.add(PolicyConsent(user_id=user.id, version=POLICY_VERSION, purpose=purpose,
                                     given=purpose in optional))
    record("privacy.consented", subject_user_id=user.id, actor_id=actor_id if actor_id is not None else user.id,
           detail={"version": POLICY_VERSION, "optional": sorted(optional)})


def set_optional(user: User, purpose: str, given: bool) -> None:
    """Give or withdraw one optional consent, with effect from now."""
    if purpose not in OPTIONAL:
        raise PrivacyError(f"unknown purpose: {purpose}")
    db.session.add(PolicyConsent(user_id=user.id, version=POLICY_VERSION, purpose=purpose, given=given))
    record("privacy.optional_changed", subject_user_id=user.id, detail={"purpose": purpose, "given": given})


def consent_history(user: User) -> list[PolicyConsent]:
    """Return every consent answer the user gave, newest first."""
    return list(db.session.scalars(
        sa.select(PolicyConsent).where(PolicyConsent.user_id == user.id).order_by(PolicyConsent.id.desc())
    ))


def file_request(user: User, kind: str, details: str) -> PrivacyRequest:
    """Record a person's request about their own data, for the office to answer."""
    if kind not in REQUEST_KINDS:
        raise PrivacyError(f"unknown request kind: {kind}")
    request = PrivacyRequest(user_id=user.id, kind=kind, details=details.strip()[:4000])
    db.session.add(request)
    db.session.flush()
    record("privacy.request_filed", subject_user_id=user.id, obj=request, detail={"kind": kind})
    return request


def answer_request(request: PrivacyRequest, officer: User, status: str, answer: str) -> None:
    """Answer an open request: done, or refused with the reason (a refusal must say why: Decree Art. 42)."""
    if request.status != "open":
        raise PrivacyError(_l("This request has already been answered."))
    if status not in ("done", "refused"):
        raise PrivacyError(f"unknown status: {status}")
    if not answer.strip():
        raise PrivacyError(_l("Write the answer the person will read."))
    request.status, request.answer = status, answer.strip()[:4000]
    request.answered_by_id, request.answered_at = officer.id, utcnow()
    record("privacy.request_answered", subject_user_id=request.user_id, obj=request, detail={"status": status})


def due_at(request: PrivacyRequest):
    """Return when the answer is due."""
    return request.created_at + ANSWER_WITHIN


def own_requests(user: User) -> list[PrivacyRequest]:
    """Return the user's requests, newest first."""
    return list(db.session.scalars(
        sa.select(PrivacyRequest).where(PrivacyRequest.user_id == user.id).order_by(PrivacyRequest.id.desc())
    ))


def requests_to_answer() -> list[PrivacyRequest]:
    """Return the open requests, oldest first (the order in which they fall due)."""
    open_ = db.session.scalars(
        sa.select(PrivacyRequest).where(PrivacyRequest.status == "open").order_by(PrivacyRequest.id)
    )
    return list(open_)


def answered_requests(limit: int = 50) -> list[PrivacyRequest]:
    """Return the most recently answered requests."""
    return list(db.session.scalars(
        sa.select(PrivacyRequest).where(PrivacyRequest.status != "open")
        .order_by(PrivacyRequest.answered_at.desc()).limit(limit)
    ))
