"""Self-registration answers alike whether the address already has an account or not (no account discovery)."""
from __future__ import annotations

import sqlalchemy as sa
from werkzeug.security import check_password_hash

from academy.audit.models import AuditEntry
from academy.auth.models import User
from academy.extensions import db
from tests.conftest import PASSWORD

NEW_PASSWORD = "blue-harbour-crane-27"


def _register(app, email: str, lang: str = "en") -> tuple[int, str, str, str]:
    """Register from a fresh browser; return status, redirect, the next page (address blanked) and the cookie."""
    client = app.test_client()
    client.post(f"/lang/{lang}")
    response = client.post("/register", data={"consent_required": "y", "email": email, "name": "새 지원자", "password": NEW_PASSWORD})
    following = client.get(response.headers.get("Location", "/login"))
    page = following.get_data(as_text=True).replace(email, "EMAIL")
    signed_in = client.get("/account/password").status_code == 200
    return response.status_code, response.headers.get("Location", ""), page, str(signed_in)


def test_registering_a_taken_address_answers_like_a_free_one(app, make):
    """An address with an account and one without get the same redirect, the same next page, no sign-in.

    The account with the address is left exactly as it was, and the attempt is logged for its owner.
    How checked: register_account's "withhold" branch removed (create_user refuses the taken address
    as before) -> this test fails (the taken address got a 200 page saying the account already exists).
    """
    owner = make.user("student", email="taken@example.test")
    db.session.commit()
    for lang in ("en", "ko"):
        taken = _register(app, "Taken@Example.test" if lang == "en" else "taken@example.test", lang)
        free = _register(app, f"free-{lang}@example.test", lang)
        assert taken[:2] == free[:2] == (302, "/login")
        assert taken[2].replace("Taken@Example.test", "EMAIL") == free[2]
        assert taken[3] == free[3] == "False"
    assert "If this e-mail address had no account yet" in free[2] or "계정이 없었다면" in free[2]
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)
                             .where(User.email == "taken@example.test")) == 1
    assert check_password_hash(db.session.get(User, owner.id).password_hash, PASSWORD)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "auth.signup_existing_email", AuditEntry.subject_user_id == owner.id)) == 2
    # The new accounts work: their owners sign in with the password they chose.
    client = app.test_client()
    assert client.post("/login", data={"email": "free-en@example.test", "password": NEW_PASSWORD}).status_code == 302


def test_a_refused_password_is_refused_alike_for_taken_and_free_addresses(app, make):
    """The password rules are checked before the address, so a weak password says nothing about who exists.

    How checked: the address looked up before the password rules in register_account -> this test fails
    (the taken address got the same-as-success redirect, the free one the rules' message).
    """
    make.user("student", email="taken@example.test")
    db.session.commit()
    answers = []
    for email in ("taken@example.test", "free@example.test"):
        client = app.test_client()
        client.post("/lang/en")
        response = client.post("/register", data={"consent_required": "y", "email": email, "name": "새 지원자", "password": "short"})
        answers.append((response.status_code, response.get_data(as_text=True).replace(email, "EMAIL")))
    assert answers[0] == answers[1]
    assert "at least 10" in answers[0][1]
