"""The recruiter's demands: write, submit, edit, close; only their own company's."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from academy.companies.models import Demand
from academy.extensions import db
from academy.skills.models import Skill
from tests.companies.conftest import audit, demand_data
from tests.conftest import PASSWORD


def _skill(code: str) -> Skill:
    return db.session.scalar(sa.select(Skill).where(Skill.code == code))


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Demand.id)))


def test_recruiter_writes_a_draft_demand_with_skills(client, make, sign_in):
    recruiter = sign_in(make.user("recruiter"))
    response = client.post("/company/demands/new", data=demand_data())
    assert response.status_code == 302
    demand = db.session.scalar(sa.select(Demand))
    assert (demand.company_id, demand.status, demand.headcount, demand.duration_months, demand.stipend_krw,
            demand.work_city, demand.created_by_id) == (recruiter.company_id, "draft", 2, 6, 2_000_000, "changwon",
                                                        recruiter.id)
    assert {(s.skill.code, s.min_level) for s in demand.skills} == {("predictive_maintenance", 3),
                                                                    ("python_programming", 2)}
    assert audit("demand.created")[0].object_id == demand.id
    page = client.get(f"/demands/{demand.id}").get_data(as_text=True)
    assert "Predictive maintenance" in page and "3 · independent" in page


def test_the_demand_form_asks_nothing_the_fair_hiring_act_forbids(client, make, sign_in):
    sign_in(make.user("recruiter"))
    page = client.get("/company/demands/new").get_data(as_text=True).split("<main>", 1)[1]
    names = set(re.findall(r'<(?:input|select|textarea)[^>]*\bname="([a-z_]+)"', page)) - {"csrf_token"}
    skills = {f"skill_{code}" for code in db.session.scalars(sa.select(Skill.code))}
    assert names - skills == {"title", "kind", "description", "headcount", "start_date", "duration_months",
                              "work_city", "work_address", "stipend_krw"}
    assert skills <= names


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"skill_predictive_maintenance": 0, "skill_python_programming": 0}, "at least one required skill"),
     ({"skill_python_programming": 6}, "Not a valid choice"),
     ({"headcount": 0}, "between 1 and 100"),
     ({"headcount": None}, "This field is required"),
     ({"duration_months": 61}, "between 1 and 60"),
     ({"stipend_krw": -1}, "from 0 to 100,000,000"),
     ({"work_city": "busan"}, "Not a valid choice"),
     ({"kind": "volunteer"}, "Not a valid choice"),
     ({"start_date": (date.today() - timedelta(days=1)).isoformat()}, "cannot be in the past"),
     ({"start_date": "next spring"}, "Not a valid date"),
     ({"description": "키 170cm 이상, 미혼 우대"}, "Fair Hiring Procedure Act"),
     ({"description": "Please state your marital status and height and weight."}, "Fair Hiring Procedure Act"),
     ({"title": "용모 단정한 인턴"}, "Fair Hiring Procedure Act"),
     ({"work_address": "출신지역 경남 우대"}, "Fair Hiring Procedure Act"),
     ({"description": "담당자 주민등록번호 750505-2345678"}, "resident registration number")],
)
def test_demand_form_refuses_bad_input_with_a_clear_message(client, make, sign_in, changes, message):
    sign_in(make.user("recruiter"))
    response = client.post("/company/demands/new", data=demand_data(**changes))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _count() == 0


def test_technical_wording_is_not_mistaken_for_unfair_questions(client, make, sign_in):
    sign_in(make.user("recruiter"))
    text = "Tune model weights for appearance inspection of weld bead height; 매출 신장에 기여."
    assert client.post("/company/demands/new", data=demand_data(description=text)).status_code == 302
    assert _count() == 1


def test_submit_edit_and_close_follow_the_status_rules(client, make, sign_in):
    recruiter = sign_in(make.user("recruiter"))
    demand = make.demand(recruiter.company, status="draft")
    db.session.commit()
    assert client.post(f"/company/demands/{demand.id}/submit").status_code == 302
    db.session.refresh(demand)
    assert demand.status == "submitted"
    assert '"from": "draft"' in audit("demand.submitted")[0].detail
    # Submitting twice is refused with a message.
    client.post(f"/company/demands/{demand.id}/submit")
    page = client.get(f"/demands/{demand.id}").get_data(as_text=True)
    assert "Only a draft or a rejected demand can be submitted" in page
    # Editing an approved demand sends it back to the office.
    demand.status = "approved"
    db.session.commit()
    response = client.post(f"/company/demands/{demand.id}/edit", data=demand_data(headcount=5))
    assert response.status_code == 302
    db.session.refresh(demand)
    assert (demand.status, demand.headcount) == ("submitted", 5)
    assert {s.skill.code for s in demand.skills} == {"predictive_maintenance", "python_programming"}
    entry = audit("demand.updated")[-1]
    assert '"from": "approved"' in entry.detail and '"to": "submitted"' in entry.detail
    # Closing ends it; a closed demand cannot be edited or closed again.
    assert client.post(f"/company/demands/{demand.id}/close").status_code == 302
    db.session.refresh(demand)
    assert demand.status == "closed" and audit("demand.closed")
    client.post(f"/company/demands/{demand.id}/edit", data=demand_data(headcount=9))
    db.session.refresh(demand)
    assert demand.headcount == 5
    assert "already closed" in client.post(f"/company/demands/{demand.id}/close", follow_redirects=True).get_data(
        as_text=True)


def test_editing_replaces_the_skill_list_and_keeps_an_old_start_date(client, make, sign_in):
    recruiter = sign_in(make.user("recruiter"))
    demand = make.demand(recruiter.company, status="draft", skills={"deep_learning": 4},
                         start_date=date.today() - timedelta(days=10))
    db.session.commit()
    form = client.get(f"/company/demands/{demand.id}/edit").get_data(as_text=True)
    assert '<option selected value="4">' in form
    response = client.post(f"/company/demands/{demand.id}/edit", data=demand_data(
        start_date=demand.start_date.isoformat(), skill_python_programming=None, skill_mlops=5))
    assert response.status_code == 302
    db.session.refresh(demand)
    assert {(s.skill.code, s.min_level) for s in demand.skills} == {("predictive_maintenance", 3), ("mlops", 5)}
    assert demand.status == "draft"


def test_a_rejected_demand_can_be_changed_and_submitted_again(client, make, sign_in):
    recruiter = sign_in(make.user("recruiter"))
    demand = make.demand(recruiter.company, status="rejected", review_reason="Stipend missing")
    db.session.commit()
    assert "Stipend missing" in client.get("/company/demands").get_data(as_text=True)
    client.post(f"/company/demands/{demand.id}/edit", data=demand_data(stipend_krw=2_500_000))
    client.post(f"/company/demands/{demand.id}/submit")
    db.session.refresh(demand)
    assert (demand.status, demand.stipend_krw) == ("submitted", 2_500_000)


def test_a_recruiter_cannot_reach_another_companys_demand(client, make, sign_in):
    theirs = make.demand(make.company(), status="draft", title="Their secret demand")
    sign_in(make.user("recruiter"))
    db.session.commit()
    assert client.get(f"/demands/{theirs.id}").status_code == 404
    assert client.get(f"/company/demands/{theirs.id}/edit").status_code == 404
    assert client.post(f"/company/demands/{theirs.id}/edit", data=demand_data(title="Hijacked")).status_code == 404
    assert client.post(f"/company/demands/{theirs.id}/submit").status_code == 404
    assert client.post(f"/company/demands/{theirs.id}/close").status_code == 404
    assert "Their secret demand" not in client.get("/company/demands").get_data(as_text=True)
    db.session.refresh(theirs)
    assert (theirs.title, theirs.status) == ("Their secret demand", "draft")


def test_a_rejected_company_cannot_post_demands(client, make, sign_in):
    company = make.company(status="rejected", review_reason="Unknown business")
    sign_in(make.user("recruiter", company_id=company.id))
    page = client.post("/company/demands/new", data=demand_data()).get_data(as_text=True)
    assert "cannot post demands" in page
    assert _count() == 0


def test_a_pending_company_can_prepare_and_submit_demands(client, make, sign_in):
    company = make.company(status="pending")
    sign_in(make.user("recruiter", company_id=company.id))
    client.post("/company/demands/new", data=demand_data())
    demand = db.session.scalar(sa.select(Demand))
    client.post(f"/company/demands/{demand.id}/submit")
    db.session.refresh(demand)
    assert demand.status == "submitted"


def test_my_demands_lists_searches_filters_and_paginates(app, client, make, sign_in):
    recruiter = sign_in(make.user("recruiter"))
    for title, status in [("Alpha vision", "draft"), ("Beta vision", "approved"), ("Gamma RUL", "approved")]:
        make.demand(recruiter.company, status=status, title=title)
    make.demand(make.company(), title="Other company vision")
    db.session.commit()
    page = client.get("/company/demands?q=vision").get_data(as_text=True)
    assert "Alpha vision" in page and "Beta vision" in page and "Gamma RUL" not in page and "Other company" not in page
    page = client.get("/company/demands?status=approved&sort=title&dir=desc").get_data(as_text=True)
    assert "Alpha" not in page and page.index("Gamma RUL") < page.index("Beta vision")
    app.config["PAGE_SIZE"] = 2
    page = client.get("/company/demands?sort=title&page=2").get_data(as_text=True)
    assert "Gamma RUL" in page and "Alpha vision" not in page and "3 in all, page 2 of 2" in page


@pytest.mark.parametrize("role", ["admin", "coordinator", "instructor", "student"])
def test_only_recruiters_have_company_pages(client, make, sign_in, role):
    sign_in(make.user(role))
    for url in ("/company", "/company/demands", "/company/demands/new", "/company/edit"):
        assert client.get(url).status_code == 403


def test_submit_and_review_buttons_carry_csrf_tokens(make, csrf_app):
    recruiter, admin = make.user("recruiter"), make.user("admin")
    demand = make.demand(recruiter.company, status="draft")
    db.session.commit()

    def client_for(user):
        # Requests run in csrf_app's own contexts, so each gets a fresh `g` (where the CSRF token is cached).
        client = csrf_app.test_client()
        client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token(client, "/login")})
        return client

    def token(client, url: str) -> str:
        page = client.get(url).get_data(as_text=True)
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    submit = f"/company/demands/{demand.id}/submit"
    client = client_for(recruiter)
    assert client.post(submit).status_code == 400
    assert client.post(submit, data={"csrf_token": token(client, f"/demands/{demand.id}")}).status_code == 302
    review = f"/admin/demands/{demand.id}/review"
    client = client_for(admin)
    refused = client.post(review, data={"decision": "approve"})
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    response = client.post(review, data={"decision": "approve", "csrf_token": token(client, f"/demands/{demand.id}")})
    assert response.status_code == 302
    db.session.refresh(demand)
    assert demand.status == "approved"
