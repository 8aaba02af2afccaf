"""The academy office reviews companies and demands: reasons required, approved companies only."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from academy.companies.services import visible_demands
from academy.extensions import db
from tests.companies.conftest import audit


@pytest.fixture
def office(make, sign_in):
    return sign_in(make.user("admin"))


def test_rejecting_a_company_needs_a_reason_the_company_then_sees(client, make, office, sign_in, auth):
    company = make.company(status="pending")
    recruiter = make.user("recruiter", company_id=company.id)
    db.session.commit()
    response = client.post(f"/admin/companies/{company.id}/review", data={"decision": "reject", "reason": "  "})
    assert response.status_code == 400
    assert "Give the company a reason" in response.get_data(as_text=True)
    db.session.refresh(company)
    assert company.status == "pending" and not audit("company.rejected")

    response = client.post(f"/admin/companies/{company.id}/review",
                           data={"decision": "reject", "reason": "No factory in Gyeongsangnam-do"})
    assert response.status_code == 302
    db.session.refresh(company)
    assert (company.status, company.review_reason, company.reviewed_by_id) == (
        "rejected", "No factory in Gyeongsangnam-do", office.id)
    assert company.reviewed_at is not None
    assert audit("company.rejected")[0].object_id == company.id

    auth.logout()
    sign_in(recruiter)
    assert "No factory in Gyeongsangnam-do" in client.get("/company").get_data(as_text=True)


def test_approving_a_company_is_audited(client, make, office):
    company = make.company(status="pending")
    db.session.commit()
    assert client.post(f"/admin/companies/{company.id}/review", data={"decision": "approve"}).status_code == 302
    db.session.refresh(company)
    assert company.status == "approved" and company.review_reason is None
    assert '"from": "pending"' in audit("company.approved")[0].detail


def test_review_refuses_an_unknown_decision_and_rrn_in_the_reason(client, make, office):
    company = make.company(status="pending")
    db.session.commit()
    assert client.post(f"/admin/companies/{company.id}/review", data={"decision": "maybe"}).status_code == 400
    response = client.post(f"/admin/companies/{company.id}/review",
                           data={"decision": "reject", "reason": "대표자 800101-1234567 확인 불가"})
    assert response.status_code == 400 and "resident registration number" in response.get_data(as_text=True)
    db.session.refresh(company)
    assert company.status == "pending"


def test_rejecting_an_approved_company_sends_its_approved_demands_back_to_review(client, make, office):
    company = make.company(status="approved")
    approved, draft = make.demand(company, status="approved"), make.demand(company, status="draft")
    db.session.commit()
    client.post(f"/admin/companies/{company.id}/review", data={"decision": "reject", "reason": "Licence revoked"})
    db.session.refresh(approved)
    db.session.refresh(draft)
    assert (approved.status, draft.status) == ("submitted", "draft")
    assert str(approved.id) in audit("company.rejected")[0].detail


def test_rejecting_a_demand_needs_a_reason_the_recruiter_then_sees(client, make, office, sign_in, auth):
    demand = make.demand(status="submitted", title="Weld defect vision")
    recruiter = make.user("recruiter", company_id=demand.company_id)
    db.session.commit()
    response = client.post(f"/admin/demands/{demand.id}/review", data={"decision": "reject"})
    assert response.status_code == 400 and "Give the company a reason" in response.get_data(as_text=True)
    db.session.refresh(demand)
    assert demand.status == "submitted"

    client.post(f"/admin/demands/{demand.id}/review", data={"decision": "reject", "reason": "Add the stipend"})
    db.session.refresh(demand)
    assert (demand.status, demand.review_reason, demand.reviewed_by_id) == ("rejected", "Add the stipend", office.id)
    assert audit("demand.rejected")[0].object_id == demand.id

    auth.logout()
    sign_in(recruiter)
    assert "Add the stipend" in client.get("/company/demands").get_data(as_text=True)
    assert "Add the stipend" in client.get(f"/demands/{demand.id}").get_data(as_text=True)


def test_only_demands_of_approved_companies_can_be_approved(client, make, office):
    pending = make.demand(make.company(status="pending"), status="submitted")
    fine = make.demand(make.company(status="approved"), status="submitted")
    db.session.commit()
    response = client.post(f"/admin/demands/{pending.id}/review", data={"decision": "approve"}, follow_redirects=True)
    assert "Approve the company before its demands" in response.get_data(as_text=True)
    db.session.refresh(pending)
    assert pending.status == "submitted" and not audit("demand.approved")

    assert client.post(f"/admin/demands/{fine.id}/review", data={"decision": "approve"}).status_code == 302
    db.session.refresh(fine)
    assert fine.status == "approved" and fine.reviewed_at is not None
    assert audit("demand.approved")[0].object_id == fine.id


@pytest.mark.parametrize("status", ["draft", "approved", "closed"])
def test_only_submitted_demands_are_reviewed(client, make, office, status):
    demand = make.demand(status=status)
    db.session.commit()
    response = client.post(f"/admin/demands/{demand.id}/review", data={"decision": "approve"}, follow_redirects=True)
    assert "Only a submitted demand can be reviewed" in response.get_data(as_text=True)
    db.session.refresh(demand)
    assert demand.status == status


def _titles(html: str) -> list[str]:
    body = html.split('data-test="demands"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<a href="/demands/\d+">(.*?)</a>', body)


def test_demand_review_list_filters_searches_sorts_and_paginates(app, client, make, office):
    acme, boat = make.company(name="Acme Gears"), make.company(name="Boat Hulls")
    make.demand(acme, status="submitted", title="A gear wear", headcount=3)
    make.demand(acme, status="approved", title="B gear noise", headcount=1)
    make.demand(boat, status="submitted", title="C hull weld", headcount=2)
    db.session.commit()
    assert _titles(client.get("/admin/demands?status=submitted&sort=title").get_data(as_text=True)) == [
        "A gear wear", "C hull weld"]
    assert _titles(client.get("/admin/demands?q=boat").get_data(as_text=True)) == ["C hull weld"]
    assert _titles(client.get("/admin/demands?sort=headcount&dir=desc").get_data(as_text=True)) == [
        "A gear wear", "C hull weld", "B gear noise"]
    assert _titles(client.get("/admin/demands?sort=company&dir=desc").get_data(as_text=True))[0] == "C hull weld"
    app.config["PAGE_SIZE"] = 2
    html = client.get("/admin/demands?sort=title&page=2").get_data(as_text=True)
    assert _titles(html) == ["C hull weld"] and "3 in all, page 2 of 2" in html


def test_company_review_list_filters_searches_sorts_and_paginates(app, client, make, office):
    make.company(name="Alpha Aero", status="pending", sector="aerospace")
    make.company(name="Beta Boats", status="approved", sector="shipbuilding")
    make.company(name="Gamma Gears", status="pending", sector="machinery")
    db.session.commit()

    def names(url: str) -> list[str]:
        body = client.get(url).get_data(as_text=True).split('data-test="companies"', 1)[1]
        return re.findall(r'<a href="/admin/companies/\d+">(.*?)</a>', body)

    assert names("/admin/companies?status=pending&sort=name") == ["Alpha Aero", "Gamma Gears"]
    assert names("/admin/companies?sector=shipbuilding") == ["Beta Boats"]
    assert names("/admin/companies?q=gear") == ["Gamma Gears"]
    assert names("/admin/companies?sort=name&dir=desc") == ["Gamma Gears", "Beta Boats", "Alpha Aero"]
    app.config["PAGE_SIZE"] = 2
    assert names("/admin/companies?sort=name&page=2") == ["Gamma Gears"]


def test_office_sees_a_company_with_recruiters_and_demands(client, make, office):
    company = make.company(status="pending", name="Delta Nuclear")
    make.user("recruiter", company_id=company.id, name="Kim Recruiter")
    make.demand(company, status="submitted", title="Reactor vibration")
    db.session.commit()
    page = client.get(f"/admin/companies/{company.id}").get_data(as_text=True)
    assert "Kim Recruiter" in page and "Reactor vibration" in page and 'data-test="review-form"' in page


@pytest.mark.parametrize("role", ["coordinator", "instructor", "student", "recruiter"])
def test_only_the_office_reviews(client, make, sign_in, role):
    demand = make.demand(make.company(status="pending"), status="submitted")
    sign_in(make.user(role, **({"company_id": demand.company_id} if role == "recruiter" else {})))
    for url in ("/admin/companies", "/admin/demands", f"/admin/companies/{demand.company_id}"):
        assert client.get(url).status_code == 403
    assert client.post(f"/admin/companies/{demand.company_id}/review", data={"decision": "approve"}).status_code == 403
    assert client.post(f"/admin/demands/{demand.id}/review", data={"decision": "approve"}).status_code == 403
    db.session.refresh(demand)
    assert (demand.status, demand.company.status) == ("submitted", "pending")


def test_trainees_see_only_approved_demands_of_approved_companies(make, client, office):
    good = make.company(status="approved")
    shown = make.demand(good, status="approved")
    make.demand(good, status="submitted")
    make.demand(good, status="closed")
    make.demand(make.company(status="pending"), status="approved")
    db.session.commit()
    assert list(db.session.scalars(visible_demands())) == [shown]
    # Rejecting the company hides its demand at once.
    client.post(f"/admin/companies/{good.id}/review", data={"decision": "reject", "reason": "Closed down"})
    assert list(db.session.scalars(visible_demands())) == []


def test_demand_review_list_shows_newest_first_unless_a_column_is_picked(app, client, make, office):
    acme = make.company(name="Acme Gears")
    make.demand(acme, status="submitted", title="Old demand", created_at=datetime(2027, 1, 1, tzinfo=timezone.utc))
    make.demand(acme, status="submitted", title="New demand", created_at=datetime(2027, 6, 1, tzinfo=timezone.utc))
    db.session.commit()
    assert _titles(client.get("/admin/demands").get_data(as_text=True)) == ["New demand", "Old demand"]
    assert _titles(client.get("/admin/demands?sort=created").get_data(as_text=True)) == ["Old demand", "New demand"]
