"""Imported trainees set their own password through a one-time, time-limited link; nobody sees one."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from academy.admissions.importer import import_rows
from academy.audit.models import AuditEntry
from academy.auth.invitations import invite, link
from academy.auth.models import Invitation, User
from academy.extensions import db
from tests.conftest import PASSWORD

NEW = "blue-harbour-crane-27"


@pytest.fixture
def cohort(make):
    return make.cohort(university=make.university(code="GNU"), year=2027, name="2027-1", capacity=10)


def _import(cohort, *emails: str) -> list[Invitation]:
    rows = [["name", "email", "university", "cohort_year"]]
    rows += [[f"Trainee {i}", e, cohort.university.code, "2027"] for i, e in enumerate(emails)]
    result = import_rows(rows)
    db.session.commit()
    return result.invitations


def _path(invitation: Invitation) -> str:
    return link(invitation, base_url="http://localhost").removeprefix("http://localhost")


def _set_password(client, path: str, password: str = NEW):
    opened = client.get(path)
    if opened.status_code != 302:
        return opened
    return client.post("/welcome", data={"new": password, "repeat": password})


def _signs_in(app, email: str, password: str) -> bool:
    return app.test_client().post("/login", data={"email": email, "password": password}).status_code == 302


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[^\s<>\"'=,]{6,}", text))


def test_the_import_page_the_outbox_and_the_cli_never_show_a_password(app, client, make, auth, runner, tmp_path,
                                                                       cohort):
    """No string a coordinator or the office sees after an import signs the trainee in.

    Every token of the import response, the Invitations page and the CLI's output is tried as each
    imported trainee's password. Checked: fails with the old importer, which made a password and
    showed it (<code>...</code> on the page, --passwords-out for the CLI).
    """
    coordinator = make.user("coordinator", university_id=cohort.university_id)
    auth.login(coordinator)
    data = "name,email,cohort_year\nKim Minji,minji@example.test,2027\nLee Jun,jun@example.test,2027\n".encode()
    response = client.post("/admissions/import", data={"file": (io.BytesIO(data), "t.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    seen = response.get_data(as_text=True) + client.get("/invitations").get_data(as_text=True)
    source = tmp_path / "more.csv"
    source.write_text("name,email,university,cohort_year\nPark Sora,sora@example.test,GNU,2027\n")
    cli = runner.invoke(args=["academy", "import-trainees", str(source)])
    assert cli.exit_code == 0, cli.output
    seen += cli.output
    imported = list(db.session.scalars(sa.select(User).where(User.role == "student")))
    assert len(imported) == 3
    candidates = _tokens(seen)
    for user in imported:
        assert not any(check_password_hash(user.password_hash, t) for t in candidates), user.email
    assert "password" not in cli.output.lower().replace("set-your-password", "")


def test_the_link_sets_the_password_once(app, client, cohort):
    """The link sets a password, the trainee signs in with it, and the same link then fails.

    Checked: fails when accept() leaves the link alive (no used_at, fingerprint left out of the
    token): the second use set another password.
    """
    invitation, = _import(cohort, "minji@example.test")
    path = _path(invitation)
    opened = client.get(path)
    assert opened.status_code == 302 and opened.headers["Location"] == "/welcome"
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    page = client.get("/welcome").get_data(as_text=True)
    assert "비밀번호 설정" in page and "minji@example.test" in page
    done = client.post("/welcome", data={"new": NEW, "repeat": NEW})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert _signs_in(app, "minji@example.test", NEW)

    again = _set_password(app.test_client(), path, "another-harbour-crane-28")
    assert again.status_code == 410 and "이미 사용된 링크" in again.get_data(as_text=True)
    assert not _signs_in(app, "minji@example.test", "another-harbour-crane-28")

    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.password_set")).actor_id == \
        invitation.user_id


def test_an_expired_link_fails_and_says_so(app, client, cohort):
    """A link past ACADEMY_INVITE_TTL_DAYS sets nothing and says it expired.

    Checked: fails without the expires_at check in find_by_token (the old link still set a password).
    """
    invitation, = _import(cohort, "minji@example.test")
    lifetime = invitation.expires_at - invitation.created_at
    assert abs(lifetime - timedelta(days=app.config["INVITE_TTL_DAYS"])) < timedelta(minutes=1)
    path = _path(invitation)
    invitation.expires_at -= timedelta(days=8)
    db.session.commit()
    client.post("/lang/en")
    response = _set_password(client, path)
    assert response.status_code == 410 and "This link has expired" in response.get_data(as_text=True)
    assert not _signs_in(app, "minji@example.test", NEW)


def test_a_link_dies_when_the_account_password_changes(app, client, make, cohort):
    """A password set any other way (here: the account owner changing it) kills an outstanding link.

    Checked: fails without the password-hash fingerprint in the token (the link reset the password).
    """
    user = make.user("student", email="known@example.test")
    invitation, = invite([(user, cohort.university_id)])
    db.session.commit()
    path = _path(invitation)
    owner = app.test_client()
    owner.post("/login", data={"email": user.email, "password": PASSWORD})
    assert owner.post("/account/password", data={"current": PASSWORD, "new": NEW}).status_code == 302
    response = _set_password(client, path, "attacker-chosen-pass-99")
    assert response.status_code == 410
    assert _signs_in(app, user.email, NEW) and not _signs_in(app, user.email, "attacker-chosen-pass-99")


def test_a_reissued_link_replaces_the_old_one(app, client, make, auth, cohort):
    """A coordinator's new link works and the one it replaces does not.

    Checked: fails when reissue() keeps the nonce (the old link still worked).
    """
    invitation, = _import(cohort, "minji@example.test")
    old = _path(invitation)
    auth.login(make.user("coordinator", university_id=cohort.university_id))
    assert client.post(f"/invitations/{invitation.id}/reissue").status_code == 302
    db.session.refresh(invitation)
    new = _path(invitation)
    assert new != old
    stranger = app.test_client()
    assert stranger.get(old).status_code == 404
    assert _set_password(stranger, new).status_code == 302
    assert _signs_in(app, "minji@example.test", NEW)


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
                                    lambda t: "x" + t, lambda t: "not-a-token"])
def test_a_forged_link_is_refused(client, cohort, mangle):
    """A token not signed by the portal is 'not valid' (404), and nothing changes."""
    invitation, = _import(cohort, "minji@example.test")
    before = invitation.user.password_hash
    token = _path(invitation).removeprefix("/welcome/")
    response = client.get(f"/welcome/{mangle(token)}")
    assert response.status_code == 404 and "유효하지 않은 링크" in response.get_data(as_text=True)
    assert client.post("/welcome", data={"new": NEW, "repeat": NEW}).status_code == 404
    db.session.refresh(invitation.user)
    assert invitation.user.password_hash == before


@pytest.mark.parametrize(("new", "repeat", "message"), [
    ("short", "short", "Use at least 10 characters."),
    ("password123", "password123", "too common"),
    (NEW, NEW + "x", "The two passwords differ."),
])
def test_the_password_rules_hold_and_the_link_survives_a_refusal(app, client, cohort, new, repeat, message):
    invitation, = _import(cohort, "minji@example.test")
    client.post("/lang/en")
    client.get(_path(invitation))
    refused = client.post("/welcome", data={"new": new, "repeat": repeat})
    assert refused.status_code == 200 and message in refused.get_data(as_text=True)
    assert client.post("/welcome", data={"new": NEW, "repeat": NEW}).status_code == 302


def test_a_coordinator_hands_out_only_their_universitys_invitations(app, client, make, auth, cohort):
    """Another university's invitation is neither listed nor re-issuable, and the attempt is audited.

    Checked: fails when _own_invitation skips the university check (the other's link was re-issued).
    """
    mine, = _import(cohort, "minji@example.test")
    other_cohort = make.cohort(year=2027, capacity=5)
    theirs, = _import(other_cohort, "other@example.test")
    auth.login(make.user("coordinator", university_id=cohort.university_id))
    page = client.get("/invitations").get_data(as_text=True)
    assert "minji@example.test" in page and "other@example.test" not in page
    nonce = theirs.nonce
    assert client.post(f"/invitations/{theirs.id}/reissue").status_code == 404
    assert client.post(f"/invitations/{theirs.id}/sent").status_code == 404
    db.session.refresh(theirs)
    assert theirs.nonce == nonce and theirs.sent_at is None

    refusals = list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "access.not_found")))
    assert [(r.object_type, r.object_id, r.subject_user_id) for r in refusals] == [
        ("invitation", theirs.id, theirs.user_id)] * 2
    # The office sees both, and marking one handed out takes it out of the outbox.
    auth.logout()
    auth.login(make.user("admin"))
    page = client.get("/invitations").get_data(as_text=True)
    assert "minji@example.test" in page and "other@example.test" in page
    client.post(f"/invitations/{mine.id}/sent")
    db.session.refresh(mine)
    assert mine.sent_at is not None
