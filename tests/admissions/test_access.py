"""Object-level access: a coordinator reaches only their own university's cohorts and applications."""
from __future__ import annotations

import sqlalchemy as sa

from academy.admissions.models import Enrollment
from academy.admissions.services import move_application
from academy.extensions import db


def test_coordinator_of_another_university_gets_403_everywhere(english, make, auth, application_at):
    theirs = make.cohort(capacity=5)
    application = application_at(theirs, "interview")
    trainee = make.enrolled_student(theirs)
    enrollment = db.session.scalar(sa.select(Enrollment).where(Enrollment.student_id == trainee.id))
    outsider = make.user("coordinator")  # of a new university
    make.cohort(university=outsider.university)
    auth.login(outsider)

    assert english.get(f"/admissions/applications/{application.id}").status_code == 403
    assert english.get(f"/admissions/applications?cohort={theirs.id}").status_code == 403
    assert english.get(f"/admissions/cohorts/{theirs.id}").status_code == 403
    moved = english.post(f"/admissions/applications/{application.id}/move", data={"to_status": "admitted", "reason": "x"})
    assert moved.status_code == 403
    withdrawn = english.post(f"/admissions/enrollments/{enrollment.id}/withdraw", data={"reason": "x"})
    assert withdrawn.status_code == 403

    db.session.expire_all()
    assert application.status == "interview" and enrollment.status == "active" and theirs.enrolled_count == 1
    lists = english.get("/admissions/applications").get_data(as_text=True) + english.get("/admissions/cohorts").get_data(as_text=True)
    assert application.trainee.email not in lists and theirs.name not in lists


def test_application_list_filters_searches_sorts_and_pages(app, english, make, auth, application_at):
    coordinator = make.user("coordinator")
    first = make.cohort(university=coordinator.university, name="first")
    second = make.cohort(university=coordinator.university, name="second")
    other = make.cohort()
    for cohort, status, name in [(first, "submitted", "Kim Minji"), (first, "under_review", "Lee Jun"),
                                 (second, "submitted", "Park Sora"), (other, "submitted", "Choi Hidden")]:
        application_at(cohort, status, student=make.user("student", name=name))
    decided = application_at(second, student=make.user("student", name="Jung Done", email="done@example.test"))

    move_application(decided, "rejected", coordinator, "not now")
    auth.login(coordinator)

    def names(query: str) -> list[str]:
        page = english.get(f"/admissions/applications?{query}").get_data(as_text=True)
        return [n for n in ("Kim Minji", "Lee Jun", "Park Sora", "Choi Hidden", "Jung Done") if n in page]

    # The list opens on the applications waiting for a decision; an empty status means all.
    assert names("") == ["Kim Minji", "Lee Jun", "Park Sora"]
    assert names("status=") == ["Kim Minji", "Lee Jun", "Park Sora", "Jung Done"]
    assert names("status=rejected") == ["Jung Done"]
    assert names(f"cohort={first.id}") == ["Kim Minji", "Lee Jun"]
    assert names("status=under_review") == ["Lee Jun"]
    assert names("q=SORA") == ["Park Sora"]
    assert names("q=hidden") == []
    page = english.get("/admissions/applications?sort=name&dir=desc").get_data(as_text=True)
    assert page.index("Park Sora") < page.index("Lee Jun") < page.index("Kim Minji")

    app.config["PAGE_SIZE"] = 2
    first_page = english.get("/admissions/applications?status=waiting&sort=name").get_data(as_text=True)
    second_page = english.get("/admissions/applications?status=waiting&sort=name&page=2").get_data(as_text=True)
    assert "3 in all, page 1 of 2" in first_page and "Park Sora" not in first_page
    assert "Park Sora" in second_page and "Kim Minji" not in second_page


def test_cohort_list_shows_seats_and_waiting_applications(english, make, auth, application_at):
    coordinator = make.user("coordinator")
    cohort = make.cohort(university=coordinator.university, capacity=4, name="2027-A")
    make.enrolled_student(cohort)
    application_at(cohort)
    application_at(cohort, "interview")
    auth.login(coordinator)
    page = english.get("/admissions/cohorts").get_data(as_text=True)
    assert "2027-A" in page and "1 / 4" in page
    assert f'href="/admissions/applications?cohort={cohort.id}">2</a>' in page


def test_forms_need_the_csrf_token(csrf_app, make, application_at):
    cohort = make.cohort()
    application = application_at(cohort, "interview")
    coordinator = make.user("coordinator", university_id=cohort.university_id)
    db.session.commit()
    # Each request pushes csrf_app's own context (the test's context belongs to another app object),
    # so every page generates its token afresh, as in production.
    client = csrf_app.test_client()

    def token(path: str) -> str:
        page = client.get(path).get_data(as_text=True)
        return page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]

    client.post("/login", data={"email": coordinator.email, "password": "correct-horse-battery-staple",
                                "csrf_token": token("/login")})
    url = f"/admissions/applications/{application.id}"
    refused = client.post(f"{url}/move", data={"to_status": "rejected", "reason": "no"})
    assert refused.status_code == 400
    db.session.expire_all()
    assert application.status == "interview"
    accepted = client.post(f"{url}/move", data={"to_status": "rejected", "reason": "no", "csrf_token": token(url)})
    assert accepted.status_code == 302
    db.session.expire_all()
    assert application.status == "rejected"
