"""Notifications: who hears of each event (and who must not), in their language, kept under the bell and
e-mailed unless the person turned that kind off; required ones always e-mailed."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import flask_babel
import pytest
import sqlalchemy as sa

from academy.admissions.models import Enrollment
from academy.admissions.services import decide, move_application, submit_application
from academy.companies.services import review_company, review_demand
from academy.courses.models import DueDate
from academy.extensions import db
from academy.mail.models import OutboxMail
from academy.notifications import events
from academy.notifications.models import EmailOptOut, Notification
from academy.notifications.services import KINDS, notify
from academy.placements.models import Offer, RoundStatus
from academy.placements.offers import make_offer, respond_to_offer
from academy.placements.rounds import save_shortlist
from tests.auth.test_password_reset import _wait, smtp  # noqa: F401 - the real SMTP server fixture
from tests.placements.conftest import opt_in, world  # noqa: F401 - the placement world fixture


def _notes(user) -> list[Notification]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id)
                                   .order_by(Notification.id)))


def _kinds(user) -> list[str]:
    return [n.kind for n in _notes(user)]


def _mails(user) -> list[OutboxMail]:
    return list(db.session.scalars(sa.select(OutboxMail).where(OutboxMail.user_id == user.id)))


def test_an_applicant_hears_the_decision_in_korean_and_not_that_a_review_started(app, make):
    cohort = make.cohort(name="2027-창원")
    coordinator = make.user("coordinator", university_id=cohort.university_id)
    trainee, other = make.user("student"), make.user("student")
    application = submit_application(trainee, cohort, "예지보전을 배우고 싶습니다.")
    decide(application, "under_review", coordinator, None)
    assert _kinds(trainee) == []
    decide(application, "admitted", coordinator, "서류와 면접 우수")
    [note] = _notes(trainee)
    assert note.kind == "application_decided" and "2027-창원" in note.subject and "합격" in note.subject
    assert "서류와 면접 우수" in note.body and note.link == "/admissions/mine"
    assert _kinds(other) == [] and _kinds(coordinator) == []
    [mail] = _mails(trainee)
    assert mail.subject == note.subject and mail.kind == "application_decided"


def test_a_person_who_reads_english_is_told_in_english(app, make):
    cohort = make.cohort(name="2027-Gimhae")
    coordinator = make.user("coordinator", university_id=cohort.university_id)
    trainee = make.user("student", locale="en")
    application = submit_application(trainee, cohort, "I want to learn predictive maintenance.")
    move_application(application, "under_review", coordinator, None)
    decide(application, "rejected", coordinator, "The cohort is full.")
    [note] = _notes(trainee)
    assert note.subject == "Your application to 2027-Gimhae: rejected" and "The cohort is full." in note.body


def test_a_release_reaches_the_cohorts_active_trainees_only_once(app, make):
    cohort, other_cohort = make.cohort(), make.cohort()
    active = [make.enrolled_student(cohort) for _ in range(2)]
    left = make.enrolled_student(cohort)
    db.session.execute(sa.update(Enrollment).where(Enrollment.student_id == left.id).values(status="withdrawn"))
    elsewhere = make.enrolled_student(other_cohort)
    course = make.course(cohorts=[cohort, other_cohort])
    lab = make.assignment(course)
    due = DueDate(assignment_id=lab.id, cohort_id=cohort.id, due_at=datetime.now(UTC) + timedelta(days=7))
    db.session.add(due)
    db.session.flush()
    assert events.assignment_released(due) == 2
    assert events.assignment_released(due) == 0  # released again: nobody is told twice
    assert [_kinds(t) for t in active] == [["assignment_released"]] * 2
    assert _kinds(left) == [] and _kinds(elsewhere) == []


def test_a_company_hears_its_review_and_its_demands_review_with_the_reason_and_no_other_company_does(world):
    review_company(world.company, approve=False, reason="사업자 정보를 확인할 수 없습니다.", by=world.admin)
    [note] = _notes(world.recruiter)
    assert note.kind == "company_reviewed" and "사업자 정보를 확인할 수 없습니다." in note.body
    review_company(world.company, approve=True, reason=None, by=world.admin)
    demand = world.demands[0]  # back to review when the company was rejected
    review_demand(demand, approve=False, reason="급여를 적어 주세요.", by=world.admin)
    assert _kinds(world.recruiter) == ["company_reviewed", "company_reviewed", "demand_reviewed"]
    assert "급여를 적어 주세요." in _notes(world.recruiter)[-1].body
    assert _kinds(world.other_recruiter) == [] and all(_kinds(s) == [] for s in world.students)


def test_shortlist_offer_and_answer_reach_the_right_people_and_never_name_a_trainee_who_did_not_consent(
        client, auth, world):
    consenting, silent = world.students[0], world.students[1]
    demand = world.demands[0]
    opt_in(client, auth, consenting, demand)
    with pytest.raises(Exception):
        save_shortlist(world.round, demand, {silent.id: 1}, {}, submit=True)
    db.session.rollback()
    save_shortlist(world.round, demand, {consenting.id: 1}, {}, submit=True)
    save_shortlist(world.round, demand, {consenting.id: 1}, {}, submit=True)  # re-submitted: told once
    assert _kinds(consenting) == ["shortlisted"] and _kinds(silent) == []
    world.round.status = RoundStatus.PUBLISHED
    offer = make_offer(world.round, demand, consenting.id, datetime.now(UTC) + timedelta(days=3), world.recruiter)
    assert _kinds(consenting) == ["shortlisted", "offer_made"] and "경남정밀" in _notes(consenting)[-1].subject
    respond_to_offer(offer, consenting, accept=True)
    [answered] = _notes(world.recruiter)
    assert answered.kind == "offer_answered" and consenting.name in answered.body
    assert _kinds(world.other_recruiter) == []
    every_company_note = " ".join(n.subject + n.body for r in (world.recruiter, world.other_recruiter)
                                  for n in _notes(r))
    assert silent.name not in every_company_note and world.students[2].name not in every_company_note


def test_a_kind_turned_off_stays_under_the_bell_without_e_mail_but_a_required_one_is_always_sent(
        client, auth, make, world):
    trainee = world.students[0]
    auth.login(trainee)
    client.post("/lang/en")
    flask_babel.refresh()
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert 'value="graded"' in page and 'value="company_reviewed"' not in page  # only a trainee's kinds
    client.post("/notifications/settings", data={"email": ["offer_made"]})  # everything else off
    assert {o.kind for o in db.session.scalars(sa.select(EmailOptOut).where(EmailOptOut.user_id == trainee.id))} \
        == {k for k, kind in KINDS.items() if "student" in kind.roles and not kind.required and k != "offer_made"}
    lab = make.assignment(make.course(cohorts=[world.cohort]), name="lab2")
    events.graded(trainee, lab, 7, 88.0)
    [graded] = _notes(trainee)
    assert graded.emailed is False and _mails(trainee) == []
    cohort = make.cohort()
    coordinator = make.user("coordinator", university_id=cohort.university_id)
    application = submit_application(trainee, cohort, "motivation")
    decide(application, "rejected", coordinator, "full")
    assert [m.kind for m in _mails(trainee)] == ["application_decided"]


def test_the_bell_counts_unread_and_opening_one_marks_it_read_and_goes_to_its_page(client, auth, world):
    trainee = world.students[0]
    notify(trainee, "offer_expiring", "첫째", "본문", "/my/placement")
    notify(trainee, "offer_expiring", "둘째", "본문", "/my/placement")
    db.session.commit()
    auth.login(trainee)
    home = client.get("/home/student").get_data(as_text=True)
    assert 'data-test="unread">2<' in home
    first, second = _notes(trainee)
    response = client.post(f"/notifications/{first.id}/open")
    assert response.status_code == 302 and response.headers["Location"] == "/my/placement"
    assert client.get("/my/placement").status_code == 200
    assert 'data-test="unread">1<' in client.get("/notifications").get_data(as_text=True)
    client.post("/notifications/read")
    assert 'data-test="unread"' not in client.get("/home/student").get_data(as_text=True)
    auth.logout()
    auth.login(world.students[1])
    assert client.post(f"/notifications/{second.id}/open").status_code == 404  # someone else's


def test_every_notification_link_opens_for_its_recipient(client, auth, make, world):
    """Each kind's link is a page its recipient may open (links are written as paths, so a test opens them)."""
    trainee, demand = world.students[0], world.demands[0]
    lab = make.assignment(make.course(cohorts=[world.cohort]), name="lab3")
    due = DueDate(assignment_id=lab.id, cohort_id=world.cohort.id, due_at=datetime.now(UTC) + timedelta(days=1))
    db.session.add(due)
    db.session.flush()
    events.assignment_released(due)
    events.offer_made(trainee, demand, 9, datetime.now(UTC) + timedelta(days=2))
    events.shortlisted(trainee, demand, world.round.id)
    cohort = make.cohort()
    application = submit_application(trainee, cohort, "motivation")
    coordinator = make.user("coordinator", university_id=cohort.university_id)
    decide(application, "under_review", coordinator, None)
    decide(application, "interview", coordinator, None)
    events.company_reviewed(world.company)
    events.demand_reviewed(demand)
    events.offer_answered(demand, 9, trainee.name, accepted=False)
    db.session.commit()
    seen = set()
    for person in (trainee, world.recruiter, world.admin):
        auth.login(person)
        for note in _notes(person):
            assert client.get(note.link).status_code == 200, (person.role, note.kind, note.link)
            seen.add(note.kind)
        auth.logout()
    # graded links to a submission's feedback (tests/submissions open it); the reminders' links are built from
    # endpoints by the scheduled jobs (tests/scheduled).
    assert seen == set(KINDS) - {"graded", "due_soon", "offer_expiring", "follow_up_due"}


def test_a_notification_e_mail_goes_through_the_smtp_server_with_a_link_to_the_portal(app, make, smtp):  # noqa: F811
    cohort = make.cohort(name="2027-진주")
    coordinator = make.user("coordinator", university_id=cohort.university_id)
    trainee = make.user("student", email="bada@example.test")
    application = submit_application(trainee, cohort, "motivation")
    decide(application, "under_review", coordinator, None)
    decide(application, "admitted", coordinator, "우수")
    db.session.commit()
    message = _wait(lambda: smtp.messages)[0]
    assert message["To"] == "bada@example.test" and "2027-진주" in message["Subject"]
    assert "http://127.0.0.1:5000/admissions/mine" in message.get_body(preferencelist=("plain",)).get_content()


def test_a_scheduled_reminder_is_kept_under_the_bell_and_e_mailed_only_where_the_person_allows(runner, world):
    """The reminders go through notify(): the bell always, the e-mail per the person's choice."""
    allows, declines = world.students[0], world.students[1]
    for trainee in (allows, declines):
        db.session.add(Offer(round_id=world.round.id, demand_id=world.demands[0].id, student_id=trainee.id,
                             deadline_at=datetime.now(UTC) + timedelta(hours=20), made_by_id=world.recruiter.id))
    db.session.add(EmailOptOut(user_id=declines.id, kind="offer_expiring"))
    db.session.commit()
    assert runner.invoke(args=["academy", "scheduled", "run", "remind-offers"]).exit_code == 0
    [kept] = _notes(allows)
    [quiet] = _notes(declines)
    assert (kept.kind, kept.emailed, quiet.kind, quiet.emailed) == ("offer_expiring", True, "offer_expiring", False)
    assert kept.link == "/my/placement" and "경남정밀" in kept.subject
    assert [m.kind for m in _mails(allows)] == ["offer_expiring"] and _mails(declines) == []
