"""Sign-in security: CSRF, rate limit, redirects, cookies, passwords, sessions, RRN refusal."""
from __future__ import annotations

import re

import pytest

from academy.audit.models import AuditEntry
from academy.auth.models import User
from academy.extensions import db
from tests.conftest import Factory


def test_login_and_logout(client, make, auth):
    user = make.user("admin")
    auth.login(user)
    assert client.get("/").headers["Location"].endswith("/home/admin")
    assert client.get("/home/admin").status_code == 200
    auth.logout()
    assert client.get("/home/admin").status_code == 302


def test_wrong_password_is_refused_with_a_message(client, make):
    user = make.user("student")
    db.session.commit()
    response = client.post("/login", data={"email": user.email, "password": "not-the-password"})
    assert response.status_code == 401
    assert "E-mail or password is wrong" in response.get_data(as_text=True) or "이메일 또는 비밀번호" in response.get_data(as_text=True)


def test_eleventh_failed_login_gets_429(client, make):
    user = make.user("student")
    db.session.commit()
    codes = [client.post("/login", data={"email": user.email, "password": f"wrong-{i}"}).status_code for i in range(11)]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429


def test_successful_logins_do_not_count_towards_the_limit(client, make, auth):
    user = make.user("student")
    for _ in range(12):
        auth.login(user)
        auth.logout()


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "///evil.example/", "/\\evil.example", "\\\\evil.example",
     "http:/evil.example", "javascript:alert(1)", "\x08//evil.example", "/home\r\nX: y"],
)
def test_next_never_leaves_the_site(client, make, target):
    user = make.user("admin")
    db.session.commit()
    response = client.post("/login", data={"email": user.email, "password": "correct-horse-battery-staple", "next": target})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location == "/", location


def test_next_inside_the_site_is_followed(client, make):
    user = make.user("admin")
    db.session.commit()
    response = client.post("/login", data={"email": user.email, "password": "correct-horse-battery-staple",
                                           "next": "/admin/users?q=kim"})
    assert response.headers["Location"] == "/admin/users?q=kim"


def test_post_without_csrf_token_is_refused(csrf_app, make):
    with csrf_app.app_context():
        user = Factory(db).user("admin")
        db.session.commit()
        client = csrf_app.test_client()
        # No token: refused, and no session is created.
        response = client.post("/login", data={"email": user.email, "password": "correct-horse-battery-staple"})
        assert response.status_code == 400
        # With the token from the form: accepted.
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = client.post("/login", data={"email": user.email, "password": "correct-horse-battery-staple",
                                               "csrf_token": token})
        assert response.status_code == 302
        # A signed-in user's state-changing POST without a token is refused too.
        assert client.post("/logout").status_code == 400
        assert client.get("/home/admin").status_code == 200


def test_session_cookie_flags(client, make):
    user = make.user("admin")
    db.session.commit()
    response = client.post("/login", data={"email": user.email, "password": "correct-horse-battery-staple"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookies_behind_https(app, make):
    app.config["SESSION_COOKIE_SECURE"] = True
    user = make.user("admin")
    db.session.commit()
    response = app.test_client().post("/login", base_url="https://localhost",
                                      data={"email": user.email, "password": "correct-horse-battery-staple"})
    assert "Secure" in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" in app.test_client().get("/login", base_url="https://localhost").headers


def test_security_headers(client):
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_request_size_is_limited(app, client):
    too_big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    assert client.post("/login", data={"email": too_big, "password": "p"}).status_code == 413


@pytest.mark.parametrize(
    ("password", "accepted"),
    [("short", False), ("password123", False), ("qwertyuiop", False), ("aaaaaaaaaaaa", False),
     ("조선소-데이터-분석가", True), ("blue-harbour-crane-27", True)],
)
def test_password_rules(client, password, accepted):
    response = client.post("/register", data={"consent_required": "y", "email": "new@example.test", "name": "신입", "password": password})

    created = db.session.scalar(db.select(User).where(User.email == "new@example.test")) is not None
    assert created is accepted
    if not accepted:
        assert response.status_code == 200


def test_passwords_are_hashed_with_scrypt(client):
    client.post("/register", data={"consent_required": "y", "email": "h@example.test", "name": "해시", "password": "blue-harbour-crane-27"})

    user = db.session.scalar(db.select(User).where(User.email == "h@example.test"))
    assert user.password_hash.startswith("scrypt:")


@pytest.mark.parametrize("value", ["990101-1234567", "9901011234567", "홍길동 990101 - 2234567"])
def test_rrn_shaped_input_is_refused(client, value):
    response = client.post("/register", data={"consent_required": "y", "email": "r@example.test", "name": value, "password": "blue-harbour-crane-27"})

    assert db.session.scalar(db.select(User).where(User.email == "r@example.test")) is None
    text = response.get_data(as_text=True)
    assert "resident registration number" in text or "주민등록번호" in text


def test_changing_the_password_ends_other_sessions(app, make):
    user = make.user("student")
    db.session.commit()
    first, second = app.test_client(), app.test_client()
    for c in (first, second):
        c.post("/login", data={"email": user.email, "password": "correct-horse-battery-staple"})
    response = first.post("/account/password", data={"current": "correct-horse-battery-staple", "new": "blue-harbour-crane-27"})
    assert response.status_code == 302
    assert first.get("/home/student").status_code == 200
    assert second.get("/home/student").status_code == 302


def test_disabled_account_is_signed_out_at_once(app, make, auth):
    admin, student = make.user("admin"), make.user("student")
    db.session.commit()
    student_client = app.test_client()
    student_client.post("/login", data={"email": student.email, "password": "correct-horse-battery-staple"})
    auth.login(admin)
    auth.client.post(f"/admin/users/{student.id}/enabled", data={"enabled": "0"})
    assert student_client.get("/home/student").status_code == 302

    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "user.disabled",
                                                          AuditEntry.subject_user_id == student.id))


def test_refusals_are_audited(client, make, auth):
    student = make.user("student")
    auth.login(student)
    assert client.get("/admin/users").status_code == 403

    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "access.denied"))
    assert entry is not None and entry.actor_id == student.id
