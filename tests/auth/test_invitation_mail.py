"""Invitations by e-mail, through a real SMTP server (aiosmtpd on loopback): imported trainees and new staff
receive a one-time link, set their own password with it and sign in; a new link kills the old one and is mailed
again; the office never reads a link the mail server took; a disabled account gets nothing; without a mail
server the invitation waits to be handed out by hand."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash

from academy.auth.models import Invitation, User
from academy.extensions import db
from academy.mail.models import OutboxMail
from tests.auth.test_password_reset import _body, _wait, smtp  # noqa: F401 - the real SMTP server fixture

REPO = Path(__file__).resolve().parents[2]

NEW = "blue-harbour-crane-27"
LINK = re.compile(r"https?://[^/\s]+(/welcome/[A-Za-z0-9_.\-]+)")


@pytest.fixture
def cohort(make):
    return make.cohort(university=make.university(code="GNU"), year=2027, name="2027-1", capacity=10)


def _messages_to(inbox, address: str, count: int = 1) -> list:
    return _wait(lambda: (found := [m for m in inbox.messages if m["To"] == address]) and len(found) >= count
                 and found)


def _path(message) -> str:
    return LINK.search(_body(message)).group(1)


def _mails(user_id: int) -> list[OutboxMail]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboxMail).where(OutboxMail.user_id == user_id)
                                   .order_by(OutboxMail.id)))


def _set_password(client, path: str, password: str = NEW):
    opened = client.get(path)
    if opened.status_code != 302:
        return opened
    return client.post("/welcome", data={"new": password, "repeat": password})


def _signs_in(app, email: str, password: str) -> bool:
    return app.test_client().post("/login", data={"email": email, "password": password}).status_code == 302


def _import(client, auth, make, cohort, *emails: str) -> None:
    auth.login(make.user("coordinator", university_id=cohort.university_id, email="coord@academy.test"))
    data = "name,email,cohort_year\n" + "".join(f"Trainee {i},{e},2027\n" for i, e in enumerate(emails))
    response = client.post("/admissions/import", data={"file": (io.BytesIO(data.encode()), "t.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)


def test_an_imported_trainee_receives_the_invitation_sets_a_password_and_signs_in(app, client, auth, make, cohort,
                                                                                 smtp):
    """The import mails each trainee their link (Korean, then English); once the server took it, neither the
    outbox nor the Invitations page shows the live link any more.

    How checked: with the Invitations page showing every pending link (no check of the mail's sent_at), the
    coordinator's page still held the /welcome/ link the trainee had received.
    """
    _import(client, auth, make, cohort, "minji@example.test")
    message, = _messages_to(smtp, "minji@example.test")
    assert "비밀번호" in message["Subject"] and "Set your password" in message["Subject"]
    body = _body(message)
    assert body.index("경남AI혁신아카데미 포털") < body.index("An account was made")  # Korean first, then English
    path = _path(message)
    trainee = db.session.scalar(sa.select(User).where(User.email == "minji@example.test"))
    sent = _wait(lambda: (m := _mails(trainee.id)) and m[-1].sent_at is not None and m[-1])
    assert sent.kind == "invitation" and "/welcome/" not in sent.body and "메일로 보냄" in sent.body

    page = client.get("/invitations").get_data(as_text=True)
    assert "minji@example.test" in page and "/welcome/" not in page and "메일 발송됨" in page
    assert "전달 완료로 표시" not in page  # nothing left to hand out by hand

    done = _set_password(app.test_client(), path)
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert _signs_in(app, "minji@example.test", NEW)
    assert _set_password(app.test_client(), path, "another-harbour-crane-28").status_code == 410  # once


def test_a_new_link_kills_the_old_one_and_is_mailed(app, client, auth, make, cohort, smtp):
    """Re-issuing mails the new link; the one mailed before no longer works.

    How checked: with reissue() not calling send(), no second message arrived (timed out waiting).
    """
    _import(client, auth, make, cohort, "minji@example.test")
    first, = _messages_to(smtp, "minji@example.test")
    invitation = db.session.scalar(sa.select(Invitation))
    response = client.post(f"/invitations/{invitation.id}/reissue", follow_redirects=True)
    assert "메일 발송 중" in response.get_data(as_text=True)
    _first, second = _messages_to(smtp, "minji@example.test", 2)
    old, new = _path(first), _path(second)
    assert old != new
    assert app.test_client().get(old).status_code == 404
    assert _set_password(app.test_client(), new).status_code == 302
    assert _signs_in(app, "minji@example.test", NEW)


def test_new_staff_are_invited_by_email_and_set_their_own_password(app, client, auth, make, smtp):
    """The office's new-account form sets no password: the instructor gets the link (on the portal's configured
    address, not the request's Host), sets a password and signs in; a password posted with the form is not the
    account's.

    How checked: with the form's old password field and create_user(..., password), the posted password signed in.
    """
    app.config["PORTAL_URL"] = "https://portal.academy.example"
    auth.login(make.user("admin"))
    form = client.get("/admin/users/new").get_data(as_text=True)
    assert 'type="password"' not in form and 'data-test="invite-hint"' in form
    response = client.post("/admin/users/new", data={
        "name": "Jung Instructor", "email": "Jung@Academy.test", "role": "instructor", "university_id": "0",
        "company_id": "0", "password": "office-chosen-pass-11"})
    assert response.status_code == 302
    message, = _messages_to(smtp, "jung@academy.test")
    body = _body(message)
    assert "localhost" not in body and "https://portal.academy.example/welcome/" in body
    staff = db.session.scalar(sa.select(User).where(User.email == "jung@academy.test"))
    assert staff.role == "instructor" and not check_password_hash(staff.password_hash, "office-chosen-pass-11")
    assert not _signs_in(app, "jung@academy.test", "office-chosen-pass-11")
    assert _set_password(app.test_client(), _path(message)).status_code == 302
    assert _signs_in(app, "jung@academy.test", NEW)


def test_a_staff_invitation_stays_with_the_office(app, client, auth, make, cohort):
    """A coordinator never sees nor re-issues the link of a staff account made for their university, so they cannot
    set its password.

    How checked: with invite_account() giving the invitation the form's university, the coordinator's page listed
    the new coordinator's link and the re-issue answered 302.
    """
    office = make.user("admin")
    coordinator = make.user("coordinator", university_id=cohort.university_id)
    db.session.commit()
    auth.login(office)
    assert client.post("/admin/users/new", data={
        "name": "New Coordinator", "email": "second@academy.test", "role": "coordinator",
        "university_id": str(cohort.university_id), "company_id": "0"}).status_code == 302
    invitation = db.session.scalar(sa.select(Invitation))
    assert invitation.university_id is None
    auth.logout()
    auth.login(coordinator)
    assert "second@academy.test" not in client.get("/invitations").get_data(as_text=True)
    assert client.post(f"/invitations/{invitation.id}/reissue").status_code == 404


def test_a_disabled_account_gets_no_invitation_mail(app, client, auth, make, smtp):
    """Re-issuing the invitation of an account the office disabled mails nothing.

    How checked: with send() not checking is_enabled, the disabled account received the new link.
    """
    auth.login(make.user("admin"))
    client.post("/admin/users/new", data={"name": "Leaving Staff", "email": "leaving@academy.test",
                                          "role": "coordinator", "university_id": str(make.university().id),
                                          "company_id": "0"})
    _messages_to(smtp, "leaving@academy.test")
    staff = db.session.scalar(sa.select(User).where(User.email == "leaving@academy.test"))
    assert client.post(f"/admin/users/{staff.id}/enabled", data={"enabled": "0"}).status_code == 302
    invitation = db.session.scalar(sa.select(Invitation).where(Invitation.user_id == staff.id))
    assert client.post(f"/invitations/{invitation.id}/reissue").status_code == 302
    time.sleep(0.5)
    assert [m["To"] for m in smtp.messages] == ["leaving@academy.test"]
    assert len(_mails(staff.id)) == 1


def test_without_a_mail_server_the_invitation_waits_to_be_handed_out(app, client, auth, make):
    """No SMTP server (the default on one machine): the mail waits in the outbox and the Invitations page keeps the
    link and the manual hand-out."""
    assert not app.config.get("MAIL_SERVER")
    auth.login(make.user("admin"))
    response = client.post("/admin/users/new", follow_redirects=True, data={
        "name": "Han Office", "email": "han@academy.test", "role": "admin", "university_id": "0",
        "company_id": "0"})
    assert "초대 페이지에서" in response.get_data(as_text=True)
    staff = db.session.scalar(sa.select(User).where(User.email == "han@academy.test"))
    mail, = _mails(staff.id)
    assert mail.kind == "invitation" and mail.sent_at is None and "/welcome/" in mail.body
    page = client.get("/invitations").get_data(as_text=True)
    assert 'data-test="no-smtp"' in page and "발송함에 있음" in page and "/welcome/" in page
    invitation = db.session.scalar(sa.select(Invitation).where(Invitation.user_id == staff.id))
    path = LINK.search(page).group(1)
    assert client.post(f"/invitations/{invitation.id}/sent").status_code == 302
    db.session.refresh(invitation)
    assert invitation.sent_at is not None
    assert _set_password(app.test_client(), path).status_code == 302
    assert _signs_in(app, "han@academy.test", NEW)


def test_a_refused_account_sends_nothing(app, client, auth, make, smtp):
    """An account the database refuses (a coordinator without a university) leaves no mail behind."""
    auth.login(make.user("admin"))
    response = client.post("/admin/users/new", data={"name": "No Uni", "email": "nouni@academy.test",
                                                     "role": "coordinator", "university_id": "0",
                                                     "company_id": "0"})
    assert response.status_code == 200
    time.sleep(0.5)
    assert smtp.messages == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMail)) == 0


def test_a_command_line_import_sends_its_invitations_before_the_process_ends(tmp_path, smtp):  # noqa: F811
    """`flask academy import-trainees` commits, then the process exits at once: the mail threads it started are
    waited for at exit, so the invitations reach the SMTP server.

    How checked: without the exit hook (academy.mail.services._finish_sending) the inbox stayed empty.
    """
    env = {**os.environ, "ACADEMY_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite'}",
           "ACADEMY_MAIL_SERVER": "127.0.0.1", "ACADEMY_MAIL_PORT": str(current_app.config["MAIL_PORT"]),
           "ACADEMY_PORTAL_URL": "https://academy.example"}
    env.pop("ACADEMY_TEST_DATABASE", None)
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=REPO, env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", (
        "from academy import create_app\nfrom academy.extensions import db\n"
        "from academy.universities.models import Cohort, University\n"
        "app = create_app()\nwith app.app_context():\n"
        "    uni = University(code='INJE', name_ko='인제대학교', name_en='Inje University', city='gimhae')\n"
        "    db.session.add_all([uni, Cohort(university=uni, year=2027, name='2027-1', capacity=30)])\n"
        "    db.session.commit()\n")], cwd=REPO, env=env, check=True, capture_output=True)
    source = tmp_path / "trainees.csv"
    source.write_text("이름,이메일,대학,기수연도\n한바다,bada@example.test,INJE,2027\n", encoding="utf-8")
    done = subprocess.run([*flask, "academy", "import-trainees", str(source)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    [message] = [m for m in smtp.messages if m["To"] == "bada@example.test"]
    assert "https://academy.example/welcome/" in message.get_body(preferencelist=("plain",)).get_content()
