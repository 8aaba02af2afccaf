"""The academy office's universities and cohorts: create, edit, list, and capacity kept above enrolment."""
from __future__ import annotations

import re

import flask_babel
import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEntry
from academy.extensions import db
from academy.universities import services
from academy.universities.models import Cohort, University
from academy.universities.services import CapacityBelowEnrolment, update_cohort
from tests.conftest import PASSWORD


@pytest.fixture
def office(client, make, auth):
    """Sign in as the academy office, in English so messages can be read."""
    admin = make.user("admin")
    auth.login(admin)
    assert client.post("/lang/en").status_code == 302
    # The fixture's app context (and so Flask-Babel's cached locale) spans every request of a test.
    flask_babel.refresh()
    return admin


def _audit(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def _rows(html: str, table: str) -> list[str]:
    body = html.split(f'data-test="{table}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr><td>(.*?)</td>", body)


def test_office_adds_a_university(client, office):
    response = client.post("/admin/universities/new",
                           data={"code": "kmu", "name_ko": "경남대", "name_en": "KMU", "city": "changwon"})
    assert response.status_code == 302
    uni = db.session.scalar(sa.select(University).where(University.code == "KMU"))
    assert uni is not None and uni.name_ko == "경남대" and uni.city == "changwon"
    entry = _audit("university.created")[0]
    assert entry.actor_id == office.id and entry.object_id == uni.id


def test_duplicate_university_code_is_refused(client, make, office):
    make.university(code="INJE")
    db.session.commit()
    response = client.post("/admin/universities/new",
                           data={"code": "inje", "name_ko": "다른", "name_en": "Other", "city": "gimhae"})
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(University.id))) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("code", "a b", "letters, digits"), ("city", "busan", "Not a valid choice"), ("name_ko", "", "required"),
     ("name_en", "Kim 900101-1234567", "resident registration number")],
)
def test_university_form_refuses_bad_input(client, office, field, value, message):
    data = {"code": "NEW", "name_ko": "새 대학", "name_en": "New", "city": "jinju", field: value}
    response = client.post("/admin/universities/new", data=data)
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(University.id))) == 0


def test_office_edits_a_university(client, make, office):
    uni = make.university(code="GNU", city="jinju")
    db.session.commit()
    response = client.post(f"/admin/universities/{uni.id}/edit",
                           data={"code": "GNU", "name_ko": "경상국립대학교", "name_en": "GNU", "city": "tongyeong"})
    assert response.status_code == 302
    db.session.refresh(uni)
    assert uni.city == "tongyeong" and uni.name_ko == "경상국립대학교"
    assert '"city": "jinju"' in _audit("university.updated")[0].detail


def test_university_list_searches_sorts_and_paginates(app, client, make, office):
    for code, name in [("AAA", "Alpha"), ("BBB", "Beta"), ("CCC", "Gamma"), ("DDD", "Delta")]:
        make.university(code=code, name_en=name)
    db.session.commit()
    html = client.get("/admin/universities?q=ta").get_data(as_text=True)
    assert _rows(html, "universities") == ["BBB", "DDD"]
    html = client.get("/admin/universities?sort=code&dir=desc").get_data(as_text=True)
    assert _rows(html, "universities") == ["DDD", "CCC", "BBB", "AAA"]
    app.config["PAGE_SIZE"] = 3
    html = client.get("/admin/universities?sort=code&page=2").get_data(as_text=True)
    assert _rows(html, "universities") == ["DDD"]
    assert "4 in all, page 2 of 2" in html


def test_office_adds_a_cohort_with_capacity(client, make, office):
    uni = make.university()
    db.session.commit()
    response = client.post("/admin/cohorts/new",
                           data={"university_id": uni.id, "year": 2028, "name": "2028-1", "capacity": 40,
                                 "is_open": "y"})
    assert response.status_code == 302
    cohort = db.session.scalar(sa.select(Cohort))
    assert (cohort.university_id, cohort.year, cohort.capacity, cohort.enrolled_count, cohort.is_open) == (
        uni.id, 2028, 40, 0, True)
    assert _audit("cohort.created")


@pytest.mark.parametrize(("field", "value"), [("capacity", 0), ("capacity", -5), ("year", 1999), ("name", "")])
def test_cohort_form_refuses_bad_values(client, make, office, field, value):
    uni = make.university()
    db.session.commit()
    data = {"university_id": uni.id, "year": 2028, "name": "2028-1", "capacity": 40, field: value}
    response = client.post("/admin/cohorts/new", data=data)
    assert response.status_code == 400
    assert 'class="error"' in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Cohort.id))) == 0


def test_duplicate_cohort_is_refused(client, make, office):
    cohort = make.cohort(year=2028, name="2028-1")
    db.session.commit()
    response = client.post("/admin/cohorts/new", data={"university_id": cohort.university_id, "year": 2028,
                                                        "name": "2028-1", "capacity": 10})
    assert "already has a cohort" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Cohort.id))) == 1


def test_capacity_can_never_go_below_enrolment(client, make, office):
    cohort = make.cohort(capacity=5)
    make.enrolled_student(cohort)
    make.enrolled_student(cohort)
    db.session.commit()
    form = {"university_id": cohort.university_id, "year": cohort.year, "name": cohort.name, "is_open": "y"}
    response = client.post(f"/admin/cohorts/{cohort.id}/edit", data={**form, "capacity": 1})
    assert response.status_code == 400
    assert "2 trainees are already enrolled" in response.get_data(as_text=True)
    db.session.refresh(cohort)
    assert cohort.capacity == 5
    assert not _audit("cohort.updated")
    # Down to exactly the enrolment is allowed.
    response = client.post(f"/admin/cohorts/{cohort.id}/edit", data={**form, "capacity": 2})
    assert response.status_code == 302
    db.session.refresh(cohort)
    assert (cohort.capacity, cohort.seats_left) == (2, 0)
    assert '"capacity": 2' in _audit("cohort.updated")[0].detail


def test_capacity_service_raises_a_named_error(make, app):
    cohort = make.cohort(capacity=3)
    make.enrolled_student(cohort)
    make.enrolled_student(cohort)
    with app.test_request_context():
        with pytest.raises(CapacityBelowEnrolment):
            update_cohort(cohort, university=cohort.university, year=cohort.year, name=cohort.name,
                          capacity=1, is_open=True)
    assert cohort.capacity == 3


def test_cohort_with_trainees_cannot_move_university(client, make, office):
    cohort = make.cohort()
    make.enrolled_student(cohort)
    other = make.university()
    db.session.commit()
    response = client.post(f"/admin/cohorts/{cohort.id}/edit", data={
        "university_id": other.id, "year": cohort.year, "name": cohort.name, "capacity": cohort.capacity})
    assert "cannot move" in response.get_data(as_text=True)
    db.session.refresh(cohort)
    assert cohort.university_id != other.id


def test_cohort_list_filters_sorts_and_searches(client, make, office):
    a, b = make.university(code="AAA"), make.university(code="BBB")
    make.cohort(a, capacity=10, year=2027, name="a-27")
    make.cohort(a, capacity=30, year=2028, name="a-28")
    make.cohort(b, capacity=20, year=2028, name="b-28")
    db.session.commit()

    def names(url: str) -> list[str]:
        html = client.get(url).get_data(as_text=True)
        body = html.split('data-test="cohorts"', 1)[1]
        return re.findall(r"<td>(\w-2\d)</td>", body)

    assert names("/admin/cohorts?sort=capacity&dir=desc") == ["a-28", "b-28", "a-27"]
    assert names(f"/admin/cohorts?university={b.id}") == ["b-28"]
    assert names("/admin/cohorts?year=2027") == ["a-27"]
    assert sorted(names("/admin/cohorts?q=aaa")) == ["a-27", "a-28"]


@pytest.mark.parametrize("role", ["coordinator", "instructor", "student", "recruiter"])
def test_only_the_office_manages_universities_and_cohorts(client, make, auth, role):
    cohort = make.cohort()
    auth.login(make.user(role))
    for url in ("/admin/universities", "/admin/cohorts", f"/admin/cohorts/{cohort.id}/edit"):
        assert client.get(url).status_code == 403
    response = client.post(f"/admin/cohorts/{cohort.id}/edit", data={
        "university_id": cohort.university_id, "year": 2027, "name": "x", "capacity": 999})
    assert response.status_code == 403
    db.session.refresh(cohort)
    assert cohort.capacity == 30


def test_capacity_check_uses_the_enrolment_in_the_database_not_a_stale_copy(make, app):
    cohort = make.cohort(capacity=5)
    # Another request admits three trainees after this one loaded the cohort.
    db.session.execute(sa.update(Cohort).where(Cohort.id == cohort.id).values(enrolled_count=3)
                       .execution_options(synchronize_session=False))
    assert cohort.enrolled_count == 0
    with app.test_request_context(), pytest.raises(CapacityBelowEnrolment):
        update_cohort(cohort, university=cohort.university, year=cohort.year, name=cohort.name, capacity=2,
                      is_open=True)
    assert (cohort.capacity, cohort.enrolled_count) == (5, 3)


def test_cohort_form_posts_with_csrf_protection_on(make, csrf_app):
    admin, cohort = make.user("admin"), make.cohort(capacity=10)
    db.session.commit()
    # Requests run in csrf_app's own contexts, so each gets a fresh `g` (where the CSRF token is cached).
    client = csrf_app.test_client()

    def token(url: str) -> str:
        page = client.get(url).get_data(as_text=True)
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    client.post("/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token("/login")})
    form = {"university_id": cohort.university_id, "year": cohort.year, "name": cohort.name, "capacity": 12}
    url = f"/admin/cohorts/{cohort.id}/edit"
    assert client.post(url, data=form).status_code == 400
    response = client.post(url, data={**form, "csrf_token": token(url)})
    assert response.status_code == 302
    db.session.refresh(cohort)
    assert cohort.capacity == 12


def test_a_concurrent_duplicate_hits_the_unique_constraint_with_the_same_message(client, make, office, monkeypatch):
    make.university(code="INJE")
    db.session.commit()
    # As if another request added the same code between our check and our write.
    monkeypatch.setattr(services, "_code_taken", lambda code, but: False)
    response = client.post("/admin/universities/new",
                           data={"code": "INJE", "name_ko": "다른", "name_en": "Other", "city": "gimhae"})
    assert response.status_code == 400 and "already exists" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(University.id))) == 1
