"""Company self-registration and the recruiter's company profile."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from academy.auth.models import User
from academy.companies.models import Company
from academy.extensions import db
from tests.companies.conftest import audit
from tests.conftest import PASSWORD

REGISTRATION = {
    "name": "Gyeongnam Precision", "sector": "machinery", "city": "gimhae", "size": "small",
    "website": "https://precision.example.com", "description": "CNC machining of hydraulic parts.",
    "recruiter_name": "Park Jiwoo", "email": "HR@precision.example.com", "password": "spindle-bearing-2027",
    "consent_required": "y",
}


def _register(client, **changes):
    client.post("/lang/en")
    return client.post("/companies/register", data={**REGISTRATION, **changes})


def test_a_company_registers_itself_and_waits_for_approval(client):
    response = _register(client)
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    company = db.session.scalar(sa.select(Company))
    assert (company.name, company.sector, company.city, company.size, company.status) == (
        "Gyeongnam Precision", "machinery", "gimhae", "small", "pending")
    recruiter = db.session.scalar(sa.select(User).where(User.company_id == company.id))
    assert recruiter.role == "recruiter" and recruiter.email == "hr@precision.example.com"
    entry = audit("company.registered")[0]
    assert entry.object_id == company.id and entry.actor_id == recruiter.id
    # The new recruiter signs in with the chosen password and sees the pending status.
    assert client.post("/login", data={"email": REGISTRATION["email"], "password": REGISTRATION["password"]}
                       ).status_code == 302
    page = client.get("/company").get_data(as_text=True)
    assert "pending approval" in page and "Gyeongnam Precision" in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"password": "short"}, "at least 10"),
     ({"description": "대표 주민번호 800101-1234567"}, "resident registration number"),
     ({"city": "busan"}, "Not a valid choice"),
     ({"sector": "banking"}, "Not a valid choice"),
     ({"website": "ftp://example.com"}, "Enter a web address"),
     ({"email": "not-an-email"}, "Invalid email"),
     ({"name": ""}, "This field is required")],
)
def test_registration_refuses_bad_input_and_keeps_nothing(client, changes, message):
    response = _register(client, **changes)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Company.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_a_company_name_already_taken_is_refused(client, make):
    make.company(name="Gyeongnam Precision")
    db.session.commit()
    assert "already registered" in _register(client).get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Company.id))) == 1


def test_a_recruiter_address_that_has_an_account_gets_the_answer_a_free_one_gets(app, make):
    """Registering a company with an address that has an account answers exactly as with a free address,
    registers nothing, and leaves the account as it was.

    How checked: register_company's check for a taken address removed (create_user refuses it as before)
    -> this test fails (a 400 page saying the account already exists, instead of the redirect).
    """
    owner = make.user("student", email="hr@precision.example.com")
    db.session.commit()

    def answer(**changes) -> tuple:
        client = app.test_client()
        response = _register(client, **changes)
        page = client.get(response.headers.get("Location", "/login")).get_data(as_text=True)
        return response.status_code, response.headers.get("Location"), page, client.get("/company").status_code

    taken = answer(name="Taken Works")
    free = answer(name="Free Works", email="hr@free.example.com")
    assert taken == free
    assert taken[:2] == (302, "/login") and "If this e-mail address had no account yet" in taken[2]
    db.session.expire_all()
    assert list(db.session.scalars(sa.select(Company.name))) == ["Free Works"]
    assert db.session.get(User, owner.id).role == "student"
    assert check_password_hash(db.session.get(User, owner.id).password_hash, PASSWORD)
    assert len(audit("auth.signup_existing_email")) == 1


def test_signed_in_users_are_sent_home_from_registration(client, make, sign_in):
    sign_in(make.user("student"))
    assert client.get("/companies/register").status_code == 302


def test_recruiter_edits_the_company_profile(client, make, sign_in):
    recruiter = sign_in(make.user("recruiter"))
    company = recruiter.company
    response = client.post("/company/edit", data={"sector": "aerospace", "city": "sacheon", "size": "medium",
                                                  "description": "Wing parts", "website": "https://wing.example.com"})
    assert response.status_code == 302
    db.session.refresh(company)
    assert (company.sector, company.city, company.size, company.website) == (
        "aerospace", "sacheon", "medium", "https://wing.example.com")
    assert '"sector": "machinery"' in audit("company.updated")[0].detail


def test_profile_edit_cannot_touch_name_or_status(client, make, sign_in):
    recruiter = sign_in(make.user("recruiter", company_id=make.company(status="pending", name="Orig").id))
    client.post("/company/edit", data={"sector": "nuclear", "city": "changwon", "size": "large", "name": "New",
                                       "status": "approved", "review_reason": "self-approved"})
    company = db.session.get(Company, recruiter.company_id)
    db.session.refresh(company)
    assert (company.name, company.status, company.review_reason, company.sector) == ("Orig", "pending", None, "nuclear")


@pytest.mark.parametrize(("field", "value"), [("city", "seoul"), ("website", "javascript:alert(1)"),
                                              ("description", "9001011234567")])
def test_profile_edit_refuses_bad_input(client, make, sign_in, field, value):
    recruiter = sign_in(make.user("recruiter"))
    data = {"sector": "nuclear", "city": "changwon", "size": "large", field: value}
    response = client.post("/company/edit", data=data)
    assert response.status_code == 400 and 'class="error"' in response.get_data(as_text=True)
    db.session.refresh(recruiter.company)
    assert recruiter.company.sector == "machinery"


def test_rejected_company_sees_the_reason(client, make, sign_in):
    company = make.company(status="rejected", review_reason="Not located in Gyeongsangnam-do")
    sign_in(make.user("recruiter", company_id=company.id))
    page = client.get("/company").get_data(as_text=True)
    assert "Not located in Gyeongsangnam-do" in page and 's-rejected">not approved<' in page
    assert "New demand" not in client.get("/company/demands").get_data(as_text=True)


def test_registration_is_rate_limited(client):
    codes = [client.post("/companies/register", data={"name": f"Spam {i}"}).status_code for i in range(11)]
    assert codes[:10] == [400] * 10 and codes[10] == 429
