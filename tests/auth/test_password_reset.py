"""Forgot password: a single-use, time-limited link to the account's own address, through a real SMTP server
(aiosmtpd on loopback); no answer tells whether an address has an account; without a server, the office's outbox."""
from __future__ import annotations

import email
import re
import socket
import time
from email.policy import default

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from werkzeug.security import generate_password_hash

from academy.auth.resets import ANSWER_SECONDS, token_for
from academy.extensions import db
from academy.mail.models import OutboxMail
from tests.conftest import PASSWORD

NEW = "blue-harbour-crane-27"
LINK = re.compile(r"https?://[^/\s]+(/reset/[A-Za-z0-9_.\-]+)")


class Inbox:
    """An SMTP handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"


@pytest.fixture
def smtp(app):
    """A real SMTP server on a free loopback port; the portal sends through it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False, MAIL_USE_SSL=False)
    yield inbox
    controller.stop()
    app.config["MAIL_SERVER"] = None


def _body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def _ask(client, address: str):
    return client.post("/forgot", data={"email": address})


def _wait(check, seconds: float = 10.0):
    """Wait for the mail thread (it sends after the request's commit): return check()'s first true value."""
    deadline = time.monotonic() + seconds
    while not (value := check()):
        assert time.monotonic() < deadline, "timed out waiting for the mail"
        time.sleep(0.05)
    return value


def _outbox(user_id: int) -> OutboxMail | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(OutboxMail).where(OutboxMail.user_id == user_id))


def test_a_reset_link_reaches_the_accounts_address_and_sets_a_new_password_once(client, make, smtp):
    """The link arrives, sets the password once, and the sent message's link is blanked in the outbox.

    How checked: without the blanking, the outbox kept the live /reset/ link of a sent message.
    """
    user = make.user("student", email="kim.trainee@academy.test")
    db.session.commit()
    page = _ask(client, "Kim.Trainee@academy.test")
    assert page.status_code == 200 and 'data-test="reset-sent"' in page.get_data(as_text=True)
    message = _wait(lambda: smtp.messages)[0]
    assert message["To"] == "kim.trainee@academy.test" and "비밀번호 재설정" in message["Subject"]
    body = _body(message)
    assert body.index("비밀번호") < body.index("Someone")  # Korean first, then English
    path = LINK.search(body).group(1)
    sent = _wait(lambda: (m := _outbox(user.id)) is not None and m.sent_at is not None and m)
    # Sent: the outbox no longer holds the live link (helper-18: the office could read and use it).
    assert sent.kind == "password_reset" and "/reset/" not in sent.body and "메일로 보냄" in sent.body
    # The link moves to /reset, out of the address bar; the new password is set; the old one stops working.
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].endswith("/reset")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert client.post("/reset", data={"new": NEW, "repeat": NEW}).status_code == 302
    assert client.post("/login", data={"email": user.email, "password": NEW}).status_code == 302
    client.post("/logout")
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 401
    # Once: the same link is dead now (its password hash changed).
    assert client.get(path).status_code == 410


def test_no_answer_tells_whether_an_address_has_an_account(client, make, smtp):
    """An unknown address, a disabled account and a known one get the same page; only the known one gets mail.

    How checked: with request_reset answering "no such account" for an unknown address, the pages differed;
    with the minimum answer time removed, the unknown address was answered in under ANSWER_SECONDS.
    """
    known = make.user("student", email="known@academy.test")
    disabled = make.user("student", email="gone@academy.test")
    disabled.is_enabled = False
    db.session.commit()
    pages = [_ask(client, a).get_data(as_text=True) for a in ("known@academy.test", "nobody@academy.test",
                                                           "gone@academy.test")]
    strip = [re.sub(r'name="csrf_token"[^>]*', "", p) for p in pages]
    assert strip[0] == strip[1] == strip[2]
    assert [m["To"] for m in _wait(lambda: smtp.messages)] == [known.email]
    # The same time too: the mail goes out after the answer, and both answers take at least ANSWER_SECONDS.
    for address in ("nobody@academy.test", "known@academy.test"):
        started = time.monotonic()
        _ask(client, address)
        assert time.monotonic() - started >= ANSWER_SECONDS


def test_one_account_gets_one_reset_mail_per_interval_however_many_ask(client, make, smtp):
    """Asking again and again (from any number of addresses) does not flood the trainee's inbox.

    How checked: with the per-account interval check removed, four requests sent four mails.
    """
    user = make.user("student", email="flood@academy.test")
    db.session.commit()
    for _ in range(4):
        assert _ask(client, user.email).status_code == 200
    _wait(lambda: smtp.messages)
    time.sleep(0.5)
    assert len(smtp.messages) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMail).where(
        OutboxMail.user_id == user.id)) == 1


def test_a_link_dies_when_the_password_changes_or_time_runs_out(app, client, make, smtp):
    user = make.user("student", email="lee@academy.test")
    db.session.commit()
    token = token_for(user)

    user.password_hash = generate_password_hash("another-password-98")  # changed some other way
    db.session.commit()
    assert client.get(f"/reset/{token}").status_code == 410
    app.config["RESET_TTL_MINUTES"] = 0
    fresh = token_for(user)
    time.sleep(1.1)
    response = client.get(f"/reset/{fresh}")
    assert response.status_code == 410 and "만료" in response.get_data(as_text=True)
    assert client.get("/reset/not-a-token").status_code == 404
    assert client.post("/reset", data={"new": NEW, "repeat": NEW}).status_code == 404  # no link in the session
    app.config["RESET_TTL_MINUTES"] = 60


def test_without_an_smtp_server_the_mail_waits_in_the_office_outbox(client, auth, make):
    user = make.user("student", email="park@academy.test")
    office = make.user("admin")
    db.session.commit()
    _ask(client, user.email)
    mail = db.session.scalar(sa.select(OutboxMail).where(OutboxMail.user_id == user.id))
    assert mail.sent_at is None and mail.error == ""
    auth.login(user)
    assert client.get("/admin/outbox").status_code == 403
    auth.login(office)
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert f'data-test="mail-{mail.id}"' in page and "/reset/" in page


def test_an_smtp_failure_keeps_the_mail_with_why(app, client, make):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens here once the socket is closed
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=closed)
    user = make.user("student", email="choi@academy.test")
    db.session.commit()
    assert _ask(client, user.email).status_code == 200  # the trainee's answer does not change
    mail = _wait(lambda: (m := _outbox(user.id)) is not None and m.error and m)
    assert mail.sent_at is None and "ConnectionRefused" in mail.error and "/reset/" in mail.body  # to pass on
    app.config["MAIL_SERVER"] = None


def test_the_mailed_link_is_on_the_portals_own_address_whatever_host_the_request_names(app, client, make, smtp):
    """A request that names another Host (anyone can) still gets a link on the configured portal address, so the
    token never travels to a server the requester chose.

    How checked: with url_for(..., _external=True), the link pointed at http://evil.example/reset/<token>.
    """
    app.config["PORTAL_URL"] = "https://portal.academy.example"
    user = make.user("student", email="host@academy.test")
    db.session.commit()
    client.post("/forgot", data={"email": user.email}, headers={"Host": "evil.example"})
    body = _body(_wait(lambda: smtp.messages)[-1])
    assert "evil.example" not in body and "https://portal.academy.example/reset/" in body
