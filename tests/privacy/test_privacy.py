"""Privacy under PIPA: the public policy, separate consents at sign-up (asked again for a new policy version),
optional uses given and withdrawn, and privacy requests answered in the portal."""
from __future__ import annotations

import flask_babel
import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEntry
from academy.auth.models import User
from academy.extensions import db
from academy.privacy import services
from academy.oauth.services import REFUSAL_CONSENT, HubAccess, hub_access
from academy.privacy.models import PolicyConsent, PrivacyRequest
from tests.submissions.test_api import _token

SIGN_UP = {"email": "new.trainee@example.test", "name": "새 교육생", "password": "blue-harbour-crane-27"}


def _english(client) -> None:
    assert client.post("/lang/en").status_code == 302
    flask_babel.refresh()


def _consents(user_id: int) -> list[tuple[str, str, bool]]:
    return [(c.version, c.purpose, c.given) for c in db.session.scalars(
        sa.select(PolicyConsent).where(PolicyConsent.user_id == user_id).order_by(PolicyConsent.id))]


def _audit(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


@pytest.mark.parametrize("lang, heading, officer", [("ko", "개인정보 처리방침", "보호책임자"),
                                                    ("en", "Privacy policy", "Privacy officer")])
def test_the_privacy_policy_is_public_and_linked_from_every_page(client, lang, heading, officer):
    client.post(f"/lang/{lang}")
    page = client.get("/privacy").get_data(as_text=True)
    assert heading in page and officer in page and "privacy@academy.localhost" in page
    assert services.POLICY_VERSION in page
    for path in ("/login", "/register", "/companies/register", "/privacy"):
        assert 'data-test="privacy-link"' in client.get(path).get_data(as_text=True), path


def test_sign_up_takes_the_required_and_each_optional_consent_separately_with_time_and_version(client):
    _english(client)
    page = client.get("/register").get_data(as_text=True)
    for box in ("consent_required", "consent_news", "consent_alumni"):
        assert f'name="{box}"' in page
    assert "Retention" in page and "Your right to refuse" in page
    response = client.post("/register", data={**SIGN_UP, "consent_required": "y", "consent_news": "y"})
    assert response.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email == SIGN_UP["email"]))
    assert _consents(user.id) == [(services.POLICY_VERSION, "required", True),
                                  (services.POLICY_VERSION, "news", True),
                                  (services.POLICY_VERSION, "alumni", False)]
    assert all(c.created_at is not None for c in db.session.scalars(sa.select(PolicyConsent)))
    [entry] = _audit("privacy.consented")
    assert entry.actor_id == user.id and entry.subject_user_id == user.id


def test_sign_up_without_the_required_consent_is_refused_and_creates_nothing(client):
    """How checked: the required box's DataRequired validator removed -> an account is created and this fails."""
    _english(client)
    response = client.post("/register", data={**SIGN_UP, "consent_news": "y"})
    assert response.status_code == 200
    assert "Without this consent the academy cannot run your training" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(PolicyConsent.id))) == 0


def test_a_company_recruiter_consents_at_registration(client):
    _english(client)
    data = {"name": "Gyeongnam Precision", "sector": "machinery", "city": "gimhae", "size": "small",
            "recruiter_name": "Park Jiwoo", "email": "hr@precision.example.com", "password": "spindle-bearing-2027",
            "consent_required": "y"}
    refused = client.post("/companies/register", data={**data, "consent_required": ""})
    assert refused.status_code == 400 and "Without this consent" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0
    assert client.post("/companies/register", data=data).status_code == 302
    recruiter = db.session.scalar(sa.select(User).where(User.email == "hr@precision.example.com"))
    assert _consents(recruiter.id)[0] == (services.POLICY_VERSION, "required", True)


def test_an_account_without_consent_is_asked_before_any_page_and_returns_where_it_was_going(client, make, auth):
    """How checked: the before-request check (ask_for_consent) returning at once -> the course page opens and
    this fails."""
    trainee = make.user("student", consented=False)
    auth.login(trainee)
    _english(client)
    response = client.get("/my/courses?page=2")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/privacy/consent?next=")
    assert client.post("/my/profile", data={"headline": "x"}).status_code == 403  # no change before consent either
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Before you use the portal" in page
    response = client.post("/privacy/consent", data={"next": "/my/courses?page=2", "consent_required": "y"})
    assert response.status_code == 302 and response.headers["Location"] == "/my/courses?page=2"
    assert client.get("/my/courses").status_code == 200
    assert _consents(trainee.id)[0] == (services.POLICY_VERSION, "required", True)


def test_refusing_the_required_consent_leaves_the_account_asked_again(client, make, auth):
    trainee = make.user("student", consented=False)
    auth.login(trainee)
    _english(client)
    assert client.post("/privacy/consent", data={"next": "/"}).status_code == 200
    assert _consents(trainee.id) == []
    assert client.get("/my/courses").status_code == 302


def test_a_new_policy_version_asks_again_and_staff_are_not_asked(client, make, auth, monkeypatch):
    trainee, instructor = make.user("student"), make.user("instructor")
    auth.login(trainee)
    assert client.get("/my/courses").status_code == 200
    monkeypatch.setattr(services, "POLICY_VERSION", "2099-01")
    response = client.get("/my/courses")
    assert response.status_code == 302 and response.headers["Location"].startswith("/privacy/consent")
    _english(client)
    assert "The privacy policy has changed (version 2099-01)" in client.get("/privacy/consent").get_data(as_text=True)
    client.post("/privacy/consent", data={"consent_required": "y", "consent_alumni": "y"})
    assert ("2099-01", "required", True) in _consents(trainee.id)
    assert client.get("/my/courses").status_code == 200
    auth.logout()
    auth.login(instructor)
    assert client.get("/my-courses").status_code in (200, 404)  # whatever the page, never the consent form
    assert not client.get("/").headers.get("Location", "").startswith("/privacy/consent")


def test_the_consent_page_never_sends_anyone_off_site(client, make, auth):
    trainee = make.user("student", consented=False)
    auth.login(trainee)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = client.post("/privacy/consent", data={"next": target, "consent_required": "y"})
        assert response.status_code == 302 and response.headers["Location"] == "/", target
        db.session.execute(sa.delete(PolicyConsent).where(PolicyConsent.user_id == trainee.id))
        db.session.commit()
        with client.session_transaction() as session:
            session.pop("privacy_consented", None)


def test_an_optional_consent_is_withdrawn_and_given_again_from_now_on(client, make, auth):
    trainee = make.user("student")
    auth.login(trainee)
    _english(client)
    assert 'data-test="choice-news">Not agreed' in client.get("/my/privacy").get_data(as_text=True)
    client.post("/my/privacy/optional", data={"purpose": "news", "given": "1"})
    assert 'data-test="choice-news">Agreed' in client.get("/my/privacy").get_data(as_text=True)
    client.post("/my/privacy/optional", data={"purpose": "news", "given": "0"})
    assert services.optional_choices(trainee) == {"news": False, "alumni": False}
    assert [c[1:] for c in _consents(trainee.id)][-2:] == [("news", True), ("news", False)]
    assert client.post("/my/privacy/optional", data={"purpose": "marketing", "given": "1"}).status_code == 400
    assert len(_audit("privacy.optional_changed")) == 2


def test_a_privacy_request_is_answered_by_the_office_and_read_by_its_author_only(client, make, auth):
    trainee, other, office = make.user("student"), make.user("student"), make.user("admin")
    db.session.commit()
    auth.login(trainee)
    _english(client)
    client.post("/my/privacy/requests", data={"kind": "correction", "details": "My major is 기계공학, not 전자."})
    [request] = db.session.scalars(sa.select(PrivacyRequest))
    assert (request.user_id, request.kind, request.status) == (trainee.id, "correction", "open")
    assert "Open: answer due by" in client.get("/my/privacy").get_data(as_text=True)
    assert client.get("/office/privacy-requests").status_code == 403
    auth.logout()

    auth.login(office)
    listing = client.get("/office/privacy-requests").get_data(as_text=True)
    assert "Correct my data" in listing and f"/office/privacy-requests/{request.id}" in listing
    assert client.post(f"/office/privacy-requests/{request.id}", data={"status": "done", "answer": " "}).status_code == 400
    response = client.post(f"/office/privacy-requests/{request.id}",
                           data={"status": "done", "answer": "Corrected: your major is now 기계공학."})
    assert response.status_code == 302
    again = client.post(f"/office/privacy-requests/{request.id}", data={"status": "refused", "answer": "No."})
    assert again.status_code == 302
    db.session.refresh(request)
    assert (request.status, request.answered_by_id) == ("done", office.id)
    auth.logout()

    auth.login(trainee)
    assert "Corrected: your major is now 기계공학." in client.get("/my/privacy").get_data(as_text=True)
    auth.logout()
    auth.login(other)
    assert "기계공학" not in client.get("/my/privacy").get_data(as_text=True)
    assert client.get(f"/office/privacy-requests/{request.id}").status_code == 403
    assert [e.subject_user_id for e in _audit("privacy.request_filed")] == [trainee.id]
    assert [e.subject_user_id for e in _audit("privacy.request_answered")] == [trainee.id]


@pytest.mark.parametrize("role", ["instructor", "coordinator", "admin"])
def test_staff_have_no_own_privacy_page(client, make, auth, role):
    auth.login(make.user(role))
    assert client.get("/my/privacy").status_code == 403


def test_the_demo_trainees_and_recruiters_have_consented_and_staff_are_not_recorded(app, runner):
    assert runner.invoke(args=["academy", "seed-demo"]).exit_code == 0
    asked = sa.select(PolicyConsent.user_id).where(PolicyConsent.purpose == "required")
    missing = db.session.scalar(sa.select(sa.func.count(User.id)).where(
        User.role.in_(["student", "recruiter"]), User.id.not_in(asked)))
    staff = db.session.scalar(sa.select(sa.func.count(User.id)).where(
        User.role.in_(["admin", "instructor", "coordinator"]), User.id.in_(asked)))
    assert (missing, staff) == (0, 0)


def test_a_new_policy_version_stops_the_notebook_service_and_the_exchange_until_consent(client, make, monkeypatch):
    """A bearer token issued before a new policy version reaches nothing more, and the hub's next refresh of the
    user's claims refuses them, until they consent at the portal.

    How checked: without the must_consent checks in _bearer_user and hub_access, the exchange answered 200 and the
    hub access stayed allowed (a reviewer's finding).
    """
    trainee = make.enrolled_student(make.cohort())
    token = _token(trainee)
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/exchange/assignments", headers=headers).status_code == 200
    assert hub_access(trainee).allowed
    monkeypatch.setattr(services, "POLICY_VERSION", "2099-01")
    assert client.get("/api/exchange/assignments", headers=headers).status_code == 403
    assert hub_access(trainee) == HubAccess(False, REFUSAL_CONSENT)
    services.give_consents(trainee, set())
    db.session.commit()
    assert client.get("/api/exchange/assignments", headers=headers).status_code == 200
