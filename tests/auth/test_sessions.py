"""Sign-ins end on the server: a copied cookie and the hub tokens of a sign-in die with it."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask.sessions import SecureCookieSessionInterface

from academy.audit.models import AuditEntry
from academy.auth.models import UserSession
from academy.extensions import db
from academy.oauth.models import OAuthToken
from tests.conftest import PASSWORD
from tests.hub.test_oauth import SECRET, authorize, code_from, exchange, pkce, userinfo


@pytest.fixture
def hub(app):
    app.config.update(HUB_CLIENT_ID="jupyterhub", HUB_CLIENT_SECRET=SECRET, HUB_URL="http://127.0.0.1:8000")
    return app


def _session_cookie(client) -> str:
    return client.get_cookie("session").value


def _sign_in(app, user):
    client = app.test_client()
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    return client


def _hub_token(client) -> str:
    """Sign in at the hub through this browser's portal session; return the hub's access token."""
    verifier, challenge = pkce()
    response = exchange(client, code_from(authorize(client, challenge)), verifier)
    assert response.status_code == 200, response.json
    return response.json["access_token"]


def _exchange_api(app, token: str) -> int:
    """Call the exchange API the way a notebook server does, with the hub's token."""
    return app.test_client().get("/api/exchange/assignments", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_copied_session_cookie_stops_working_after_logout(app, make):
    """The cookie of a signed-out browser, replayed from elsewhere, is signed out.

    Checked: fails when the server-side sign-in check is removed (resume() ignoring ended_at):
    Flask's cookie is signed, not stored, so the copy kept working.
    """
    student = make.user("student")
    db.session.commit()
    browser = _sign_in(app, student)
    stolen = _session_cookie(browser)
    assert browser.get("/home/student").status_code == 200
    assert browser.post("/logout").status_code == 302

    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get("/home/student")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_logout_ends_only_that_browsers_sign_in(app, make):
    """Signing out on one device leaves the same account's other sign-ins alone."""
    student = make.user("student")
    db.session.commit()
    laptop, phone = _sign_in(app, student), _sign_in(app, student)
    laptop.post("/logout")
    assert laptop.get("/home/student").status_code == 302
    assert phone.get("/home/student").status_code == 200


def test_logout_revokes_the_hub_token_of_that_sign_in_and_no_other(hub, make):
    """The hub's token (and the notebook server's copy) stops working at the portal API at logout.

    Checked: fails when logout does not revoke (end_session without revoke_hub_tokens): the token
    issued through the ended sign-in kept reading /api/exchange and /oauth/userinfo.
    """
    student = make.enrolled_student()
    db.session.commit()
    laptop, phone = _sign_in(hub, student), _sign_in(hub, student)
    laptop_token, phone_token = _hub_token(laptop), _hub_token(phone)
    assert _exchange_api(hub, laptop_token) == 200 and _exchange_api(hub, phone_token) == 200

    laptop.post("/logout")
    assert _exchange_api(hub, laptop_token) == 401
    assert userinfo(hub.test_client(), laptop_token).status_code == 401
    # The other device's sign-in, and so its hub token, is untouched.
    assert _exchange_api(hub, phone_token) == 200

    logout = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "auth.logout"))
    assert '"hub_tokens_revoked": 1' in logout.detail


def test_a_code_issued_before_logout_gives_no_token_after_it(hub, make):
    """A code the hub has not yet exchanged when the user signs out is worthless.

    Checked: fails when CodeGrant.authenticate_user does not check the code's sign-in (a token was issued).
    """
    student = make.enrolled_student()
    db.session.commit()
    browser = _sign_in(hub, student)
    verifier, challenge = pkce()
    code = code_from(authorize(browser, challenge))
    browser.post("/logout")
    response = exchange(browser, code, verifier)
    assert response.status_code == 400 and "access_token" not in response.json


def test_changing_the_password_revokes_every_hub_token_of_the_account(hub, make):
    """A password change ends every sign-in, the hub tokens of each included.

    Checked: fails when change_password only rotates the session token (the old tokens kept working).
    """
    student = make.enrolled_student()
    db.session.commit()
    laptop, phone = _sign_in(hub, student), _sign_in(hub, student)
    tokens = [_hub_token(laptop), _hub_token(phone)]
    response = laptop.post("/account/password", data={"current": PASSWORD, "new": "blue-harbour-crane-27"})
    assert response.status_code == 302
    assert laptop.get("/home/student").status_code == 200  # the browser that changed it stays signed in
    assert phone.get("/home/student").status_code == 302
    assert [_exchange_api(hub, t) for t in tokens] == [401, 401]


def test_disabling_an_account_revokes_its_hub_tokens(hub, make, auth):
    """The office disabling an account cuts the hub's tokens at once, not at their expiry."""
    admin, student = make.user("admin"), make.enrolled_student()
    db.session.commit()
    token = _hub_token(_sign_in(hub, student))
    auth.login(admin)
    auth.client.post(f"/admin/users/{student.id}/enabled", data={"enabled": "0"})

    assert db.session.scalar(sa.select(OAuthToken.revoked_at)) is not None
    assert _exchange_api(hub, token) == 401


def test_a_sign_in_expires_on_the_server_after_its_lifetime(app, make):
    """A cookie kept past PERMANENT_SESSION_LIFETIME is refused whatever the browser does with it.

    Checked: fails without the lifetime check in resume() (the eight-hour-old sign-in still worked).
    """
    student = make.user("student")
    db.session.commit()
    browser = _sign_in(app, student)
    assert browser.get("/home/student").status_code == 200
    row = db.session.scalar(sa.select(UserSession))
    row.created_at -= app.config["PERMANENT_SESSION_LIFETIME"] + timedelta(minutes=1)
    db.session.commit()
    assert browser.get("/home/student").status_code == 302


def test_the_database_holds_no_usable_session_key(app, make):
    """Only a hash of the cookie's key is stored, so a database copy cannot sign anyone in."""
    student = make.user("student")
    db.session.commit()
    browser = _sign_in(app, student)
    stored = db.session.scalar(sa.select(UserSession.key_hash))

    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    key = serializer.loads(_session_cookie(browser))["_user_id"].rsplit(":", 1)[1]
    assert key and stored != key and len(stored) == 64
