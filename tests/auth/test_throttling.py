"""Failed sign-ins are throttled per account and per address, and the address cannot be forged."""
from __future__ import annotations

import threading
import time

import pytest
from werkzeug.security import check_password_hash

from academy import create_app
from academy.audit.models import AuditEntry
from academy.auth import services
from academy.extensions import db, limiter
from tests.conftest import PASSWORD


def _attempt(client, email: str, password: str = "wrong-password-1", address: str = "198.51.100.7", **headers):
    return client.post("/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address}, headers=headers)


def test_rotating_addresses_does_not_escape_the_per_account_limit(client, make):
    """An attacker with a new address per guess is stopped after the account's 10 failures.

    Checked: fails without the per-account limit on /login (all 12 guesses got 401).
    """
    user = make.user("student")
    db.session.commit()
    codes = [_attempt(client, user.email, f"guess-{i}", address=f"203.0.113.{i}").status_code for i in range(12)]
    assert codes[:10] == [401] * 10
    assert codes[10:] == [429, 429]


def test_the_right_password_is_refused_until_the_account_window_passes(app, client, make):
    """After the per-account limit, even the owner's right password is refused, and the page says so.

    Checked: fails without the per-account limit (the right password signed in at once).
    """
    app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"] = "3 per 2 seconds"
    user = make.user("student")
    db.session.commit()
    for i in range(3):
        assert _attempt(client, user.email, address=f"203.0.113.{i}").status_code == 401
    client.post("/lang/en")
    refused = _attempt(client, user.email.upper(), PASSWORD, address="192.0.2.1")  # another spelling, another address
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "even the right password is refused" in refused.get_data(as_text=True)
    client.post("/lang/ko")
    page = _attempt(client, user.email, PASSWORD, address="192.0.2.1").get_data(as_text=True)
    assert "올바른 비밀번호도 거부" in page
    time.sleep(2.1)
    assert _attempt(client, user.email, PASSWORD, address="192.0.2.1").status_code == 302


def test_an_unknown_account_gets_the_same_answers_as_a_real_one(client, make):
    """The limits answer alike for addresses with and without an account (no account discovery).

    Checked: fails when the per-account key is taken only for existing accounts (the unknown one never got 429).
    """
    user = make.user("student")
    db.session.commit()

    def answers(email: str) -> list[tuple[int, str]]:
        out = []
        for i in range(11):
            response = _attempt(client, email, address=f"203.0.113.{i}")
            text = response.get_data(as_text=True)
            out.append((response.status_code, text.replace(email, "EMAIL")))
        return out

    assert answers(user.email) == answers("nobody-here@example.test")


def test_one_address_trying_many_accounts_is_stopped_by_the_address_limit(client, make):
    """Spraying one guess at many accounts from one address meets the per-address limit."""
    users = [make.user("student") for _ in range(11)]
    db.session.commit()
    codes = [_attempt(client, u.email).status_code for u in users]
    assert codes[:10] == [401] * 10 and codes[10] == 429


def test_x_forwarded_for_is_ignored_by_default(client, make):
    """A client naming a new address per request in X-Forwarded-For still meets its own address's limit.

    Checked: fails when ProxyFix is applied whatever TRUSTED_PROXIES says (all 11 got 401).
    """
    users = [make.user("student") for _ in range(11)]
    db.session.commit()
    codes = [_attempt(client, u.email, **{"X-Forwarded-For": f"203.0.113.{i}"}).status_code
             for i, u in enumerate(users)]
    assert codes[10] == 429

    assert set(db.session.scalars(db.select(AuditEntry.ip).where(AuditEntry.action == "auth.login_failed"))) == {
        "198.51.100.7"}


@pytest.fixture
def behind_proxy(_schema):
    class Cfg(_schema):
        TRUSTED_PROXIES = 1

    app = create_app(Cfg)
    with app.app_context():
        limiter.reset()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_x_forwarded_for_is_honoured_behind_a_trusted_proxy(behind_proxy, make):
    """With ACADEMY_TRUSTED_PROXIES=1 the proxy's X-Forwarded-For is the client's address.

    Checked: fails when create_app ignores TRUSTED_PROXIES (every client shared the proxy's address:
    the other client was refused and the audit named the proxy).
    """
    users = [make.user("student") for _ in range(12)]
    db.session.commit()
    client = behind_proxy.test_client()
    proxy = "10.0.0.2"
    codes = [_attempt(client, u.email, address=proxy, **{"X-Forwarded-For": "203.0.113.9"}).status_code
             for u in users[:11]]
    assert codes[10] == 429
    # Another client behind the same proxy has its own count.
    assert _attempt(client, users[11].email, address=proxy, **{"X-Forwarded-For": "203.0.113.10"}).status_code == 401

    ips = set(db.session.scalars(db.select(AuditEntry.ip).where(AuditEntry.action == "auth.login_failed")))
    assert ips == {"203.0.113.9", "203.0.113.10"}


def test_simultaneous_guesses_cannot_all_pass_the_limit(app, make, monkeypatch):
    """Fifteen wrong passwords sent at the same moment: at most the limit's ten reach the password check.

    The password check is held open until every request has either reached it or been refused, so
    all fifteen are in flight together, as an attacker's parallel connections are.
    How checked: the login limits counted only after the view (Flask-Limiter's deduct_when, as before)
    -> this test fails (all 15 guesses reached the password check, none was refused with 429).
    """
    user = make.user("student")
    db.session.commit()
    email = user.email
    lock, release = threading.Lock(), threading.Event()
    reached: list[int] = []
    codes: list[int] = []

    def slow_wrong_password(email: str, password: str):
        with lock:
            reached.append(1)
        release.wait(15)
        return None

    monkeypatch.setattr(services, "authenticate", slow_wrong_password)

    def guess(i: int) -> None:
        with app.app_context():  # its own scoped session and connection
            response = _attempt(app.test_client(), email, f"guess-{i}", address=f"203.0.113.{i}")
            db.session.remove()
        with lock:
            codes.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(15)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with lock:
            if len(reached) + len(codes) >= 15:
                break
        time.sleep(0.05)
    release.set()
    for t in threads:
        t.join(30)
    assert len(reached) == 10
    assert sorted(codes) == [401] * 10 + [429] * 5


def test_a_right_password_gives_its_attempt_back(client, make):
    """Nine failures and a success leave the account one more try before the limit, not zero.

    How checked: the refund on success (throttle.refund_attempt) removed -> this test fails (the eleventh
    attempt, a wrong password, got 429 instead of 401).
    """
    user = make.user("student")
    db.session.commit()
    codes = [_attempt(client, user.email, address=f"203.0.113.{i}").status_code for i in range(9)]
    assert _attempt(client, user.email, PASSWORD, address="203.0.113.50").status_code == 302
    client.post("/logout")
    codes.append(_attempt(client, user.email, address="203.0.113.51").status_code)
    assert codes == [401] * 10
    assert _attempt(client, user.email, address="203.0.113.52").status_code == 429


def _change(client, current: str, new: str = "blue-harbour-crane-27"):
    return client.post("/account/password", data={"current": current, "new": new})


def _password_failures(user_id: int) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "auth.password_change_failed", AuditEntry.subject_user_id == user_id))


def test_guessing_the_current_password_is_throttled_and_audited(client, make, auth):
    """With a borrowed session, guessing the current password on the change page stops after five wrong ones.

    Each wrong guess is a 400 with an audit entry; the sixth try is a 429, even with the right password,
    and the password stays as it was.
    How checked: the limit on /account/password removed -> this test fails (the sixth try, the right
    password, changed it: 302); the audit entry removed -> this test fails (0 auth.password_change_failed).
    """
    user = make.user("student")
    auth.login(user)
    client.post("/lang/en")
    codes = [_change(client, f"guess-{i}-password").status_code for i in range(5)]
    assert codes == [400] * 5
    assert _password_failures(user.id) == 5
    refused = _change(client, PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "Changing the password is paused" in refused.get_data(as_text=True)
    client.post("/lang/ko")
    assert "비밀번호를 바꿀 수 없습니다" in _change(client, PASSWORD).get_data(as_text=True)
    db.session.refresh(user)
    assert check_password_hash(user.password_hash, PASSWORD)


def test_a_right_current_password_does_not_use_up_the_limit(client, make, auth):
    """Trying new passwords the rules refuse, with the right current one, never leads to the pause.

    How checked: the refund for a right current password removed -> this test fails (the second refused new
    password already got 429).
    """
    user = make.user("student")
    auth.login(user)
    assert [_change(client, "wrong-current-pw").status_code for _ in range(4)] == [400] * 4
    assert [_change(client, PASSWORD, "short").status_code for _ in range(3)] == [200] * 3
    assert _change(client, PASSWORD).status_code == 302
