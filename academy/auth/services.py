"""Accounts: create, authenticate, change passwords, enable and disable."""
from __future__ import annotations

import secrets

from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

from academy.audit.services import record
from academy.auth.models import User
from academy.auth.passwords import password_problem
from academy.auth.sessions import end_all_sessions
from academy.extensions import db
from academy.policy import Role
from academy.util import utcnow
from academy.validators import looks_like_rrn


class AccountError(ValueError):
    """An account change that breaks a rule; the message is shown to the user."""


class WrongPassword(AccountError):
    """The current password given to confirm an account change is not the account's."""


# A hash to compare against when the e-mail is unknown, so a wrong e-mail costs as long as a
# wrong password and the response time does not reveal which accounts exist.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(8))


def normalize_email(email: str) -> str:
    return email.strip().lower()


def get_user_by_email(email: str) -> User | None:
    return db.session.scalar(db.select(User).where(User.email == normalize_email(email)))


def create_user(
    email: str,
    name: str,
    role: Role | str,
    password: str,
    *,
    university_id: int | None = None,
    company_id: int | None = None,
    check_password: bool = True,
) -> User:
    """Create an account after checking the password rules and that the e-mail is free."""
    email = normalize_email(email)
    if looks_like_rrn(name) or looks_like_rrn(email):
        raise AccountError("resident registration numbers are never stored")
    if get_user_by_email(email):
        raise AccountError(f"an account with {email} already exists")
    if check_password and (problem := password_problem(password, email=email, name=name)):
        raise AccountError(problem)
    user = User(
        email=email,
        name=name.strip(),
        role=str(Role(role)),
        password_hash=generate_password_hash(password),
        university_id=university_id,
        company_id=company_id,
    )
    db.session.add(user)
    db.session.flush()
    record("user.created", subject_user_id=user.id, obj=user, detail={"role": user.role})
    return user


def signup_problem(email: str, name: str, password: str) -> str | None:
    """Return why a sign-up is refused whoever holds the address (RRN, password rules), or None."""
    if looks_like_rrn(name) or looks_like_rrn(email):
        return _("Resident registration numbers are never stored.")
    return password_problem(password, email=normalize_email(email), name=name)


def withhold_signup(existing: User, password: str, role: Role | str) -> None:
    """Do nothing for a sign-up with an address that has an account, at the cost of making one, and log it."""
    generate_password_hash(password)  # the hash a new account costs, so the answer's timing does not tell
    record("auth.signup_existing_email", subject_user_id=existing.id, detail={"role": str(Role(role))})


def register_account(email: str, name: str, role: Role | str, password: str, **links: int | None) -> User | None:
    """Create a self-registered account, or nothing when the address already has one (then None).

    The caller answers both alike, so a sign-up form cannot be used to find out who has an account.
    """
    if problem := signup_problem(email, name, password):
        raise AccountError(problem)
    existing = get_user_by_email(email)
    if existing is not None:
        withhold_signup(existing, password, role)
        return None
    return create_user(email, name, role, password, check_password=False, **links)


def authenticate(email: str, password: str) -> User | None:
    """Return the enabled user with these credentials, or None."""
    user = get_user_by_email(email[:254])
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.is_enabled:
        return None
    user.last_login_at = utcnow()
    return user


def change_password(user: User, current: str, new: str) -> None:
    """Change a password and end every session of the account (the caller signs the current browser in again)."""
    if not check_password_hash(user.password_hash, current):
        raise WrongPassword(_("Your current password is wrong."))
    if problem := password_problem(new, email=user.email, name=user.name):
        raise AccountError(problem)
    user.password_hash = generate_password_hash(new)
    revoked = end_all_sessions(user, "password_changed")
    record("user.password_changed", subject_user_id=user.id, obj=user, detail={"hub_tokens_revoked": revoked})


def set_enabled(user: User, enabled: bool) -> None:
    """Enable or disable an account; disabling ends its sessions at once."""
    user.is_enabled = enabled
    if not enabled:
        end_all_sessions(user, "disabled")
    record("user.enabled" if enabled else "user.disabled", subject_user_id=user.id, obj=user)
