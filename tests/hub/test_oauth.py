"""The portal as OAuth provider: the code flow with PKCE, and every way a request must be refused."""
from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from academy.admissions.services import withdraw
from academy.audit.models import AuditEntry
from academy.extensions import db
from academy.oauth.models import OAuthClient, OAuthCode, OAuthToken
from academy.util import utcnow

SECRET = "s" * 40
CALLBACK = "http://127.0.0.1:8000/hub/oauth_callback"


@pytest.fixture
def hub_client(app):
    app.config.update(HUB_CLIENT_ID="jupyterhub", HUB_CLIENT_SECRET=SECRET, HUB_URL="http://127.0.0.1:8000")
    return app


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(client, challenge: str | None, redirect_uri: str = CALLBACK, **extra):
    params = {"response_type": "code", "client_id": "jupyterhub", "redirect_uri": redirect_uri,
              "scope": "openid profile email groups", "state": "st4te"}
    if challenge is not None:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return client.get("/oauth/authorize", query_string=params)


def code_from(response) -> str:
    assert response.status_code == 302, response.data[:300]
    location = response.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st4te"]
    return query["code"][0]


def exchange(client, code: str, verifier: str | None, secret: str = SECRET, redirect_uri: str = CALLBACK):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    basic = base64.b64encode(f"jupyterhub:{secret}".encode()).decode()
    return client.post("/oauth/token", data=data, headers={"Authorization": f"Basic {basic}"})


def userinfo(client, token: str):
    return client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})


def sign_in_at_hub(client, auth, user) -> str:
    auth.login(user)
    verifier, challenge = pkce()
    response = exchange(client, code_from(authorize(client, challenge)), verifier)
    assert response.status_code == 200, response.json
    return response.json["access_token"]


def test_code_flow_gives_stable_claims_and_groups(hub_client, client, auth, make):
    cohort = make.cohort()
    student = make.enrolled_student(cohort)
    course = make.course(cohorts=[cohort], nbgrader_course="manufacturing-ai")
    token = sign_in_at_hub(client, auth, student)
    claims = userinfo(client, token).json
    assert claims["sub"] == str(student.id)
    assert claims["preferred_username"] == f"u{student.id}"
    assert claims["email"] == student.email and claims["name"] == student.name
    assert claims["role"] == "student" and claims["hub_access"] is True
    assert claims["groups"] == [f"cohort-{cohort.id}", f"nbgrader-c{course.id}"]  # keyed by the course id
    # Only hashes are stored: the database never holds a usable code or token.
    assert db.session.scalar(sa.select(OAuthToken.token_hash)) != token
    assert len(db.session.scalar(sa.select(OAuthCode.code_hash))) == 64
    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "oauth.authorize")).subject_user_id == student.id


def test_instructor_and_admin_groups(hub_client, client, auth, make):
    instructor = make.user("instructor")
    course = make.course(instructors=[instructor], nbgrader_course="manufacturing-ai")
    claims = userinfo(client, sign_in_at_hub(client, auth, instructor)).json
    assert claims["hub_access"] is True and claims["groups"] == [f"formgrade-c{course.id}"]
    auth.logout()
    admin = make.user("admin")
    claims = userinfo(client, sign_in_at_hub(client, auth, admin)).json
    assert claims["hub_access"] is True and claims["groups"] == ["academy-admins"]


@pytest.mark.parametrize("role", ["recruiter", "coordinator"])
def test_recruiters_and_coordinators_are_refused_the_hub(hub_client, client, auth, make, role):
    claims = userinfo(client, sign_in_at_hub(client, auth, make.user(role))).json
    assert claims["hub_access"] is False and claims["hub_refusal"] == "role"


def test_withdrawal_takes_effect_at_next_login(hub_client, client, auth, make):
    cohort = make.cohort()
    student = make.enrolled_student(cohort)
    assert userinfo(client, sign_in_at_hub(client, auth, student)).json["hub_access"] is True
    withdraw(student, cohort, "moved away")
    auth.logout()
    claims = userinfo(client, sign_in_at_hub(client, auth, student)).json
    assert claims["hub_access"] is False and claims["hub_refusal"] == "not_enrolled" and claims["groups"] == []


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:8000/hub/oauth_callback/../evil",
        "http://127.0.0.1:8000/hub/oauth_callback?x=1",
        "http://127.0.0.1:8000/hub/oauth_callbackx",
        "http://evil.test/hub/oauth_callback",
        "HTTP://127.0.0.1:8000/hub/oauth_callback",
    ],
)
def test_wrong_redirect_uri_is_refused_without_redirecting(hub_client, client, auth, make, redirect_uri):
    auth.login(make.enrolled_student())
    response = authorize(client, pkce()[1], redirect_uri=redirect_uri)
    assert response.status_code == 400 and "Location" not in response.headers
    assert b"oauth-error" in response.data


def test_missing_redirect_uri_is_refused(hub_client, client, auth, make):
    auth.login(make.enrolled_student())
    response = client.get("/oauth/authorize", query_string={
        "response_type": "code", "client_id": "jupyterhub", "code_challenge": pkce()[1],
        "code_challenge_method": "S256"})
    assert response.status_code == 400 and "Location" not in response.headers


@pytest.mark.parametrize("method", [None, "plain"])
def test_authorization_without_s256_challenge_is_refused(hub_client, client, auth, make, method):
    auth.login(make.enrolled_student())
    extra = {} if method is None else {"code_challenge": "a" * 50, "code_challenge_method": method}
    response = authorize(client, None, **extra)
    assert response.status_code == 302
    assert "error=invalid_request" in response.headers["Location"] and "code=" not in response.headers["Location"]


def test_unknown_client_is_refused(hub_client, client, auth, make):
    auth.login(make.enrolled_student())
    response = authorize(client, pkce()[1], client_id="someone-else")
    assert response.status_code == 400 and "Location" not in response.headers


def test_reused_code_is_refused_and_revokes_the_first_token(hub_client, client, auth, make):
    auth.login(make.enrolled_student())
    verifier, challenge = pkce()
    code = code_from(authorize(client, challenge))
    first = exchange(client, code, verifier)
    assert first.status_code == 200
    again = exchange(client, code, verifier)
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"
    assert userinfo(client, first.json["access_token"]).status_code == 401

    assert db.session.scalar(sa.select(sa.func.count()).where(AuditEntry.action == "oauth.code_reused")) == 1


def test_expired_code_is_refused(hub_client, client, auth, make):
    auth.login(make.enrolled_student())
    verifier, challenge = pkce()
    code = code_from(authorize(client, challenge))
    row = db.session.scalar(sa.select(OAuthCode))
    assert row.expires_at - row.created_at <= timedelta(minutes=10)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = exchange(client, code, verifier)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


@pytest.mark.parametrize("verifier", [None, "wrong-" + "x" * 50])
def test_missing_or_wrong_pkce_verifier_is_refused(hub_client, client, auth, make, verifier):
    auth.login(make.enrolled_student())
    _, challenge = pkce()
    code = code_from(authorize(client, challenge))
    response = exchange(client, code, verifier)
    assert response.status_code == 400
    assert response.json["error"] in {"invalid_request", "invalid_grant"}
    assert "access_token" not in response.json


def test_wrong_client_secret_or_redirect_at_token_endpoint_is_refused(hub_client, client, auth, make):
    auth.login(make.enrolled_student())
    verifier, challenge = pkce()
    code = code_from(authorize(client, challenge))
    assert exchange(client, code, verifier, secret="t" * 40).status_code == 401
    assert exchange(client, code, verifier, redirect_uri=CALLBACK + "2").status_code == 400
    assert exchange(client, code, verifier).status_code == 200  # the code survived the refused tries


def test_expired_or_unknown_access_token_is_refused_by_userinfo(hub_client, client, auth, make):
    token = sign_in_at_hub(client, auth, make.enrolled_student())
    assert userinfo(client, token).status_code == 200
    row = db.session.scalar(sa.select(OAuthToken))
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = userinfo(client, token)
    assert response.status_code == 401 and "invalid_token" in response.headers["WWW-Authenticate"]
    assert userinfo(client, "not-a-token").status_code == 401
    assert client.get("/oauth/userinfo").status_code == 401


def test_authorize_asks_for_portal_sign_in_first(hub_client, client, make):
    response = authorize(client, pkce()[1])
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]


def test_discovery_document(hub_client, client):
    doc = client.get("/.well-known/openid-configuration").json
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["grant_types_supported"] == ["authorization_code"]
    assert doc["userinfo_endpoint"].endswith("/oauth/userinfo")


def test_token_endpoint_needs_no_csrf_token_but_a_secret(csrf_app):
    with csrf_app.app_context():
        response = csrf_app.test_client().post("/oauth/token", data={"grant_type": "authorization_code", "code": "x"})
    assert response.status_code in {400, 401}
    assert response.json["error"] in {"invalid_client", "invalid_request"}


def test_hub_client_follows_the_environment_and_keeps_only_a_hash(hub_client, client, auth, make):
    auth.login(make.enrolled_student())
    verifier, challenge = pkce()
    code = code_from(authorize(client, challenge))
    row = db.session.scalar(sa.select(OAuthClient))
    assert row.secret_hash != SECRET and len(row.secret_hash) == 64
    assert row.redirect_uri_list() == [CALLBACK]
    hub_client.config["HUB_CLIENT_SECRET"] = "n" * 40  # rotated: the old secret stops working at once
    assert exchange(client, code, verifier).status_code == 401
    assert exchange(client, code, verifier, secret="n" * 40).status_code == 200
