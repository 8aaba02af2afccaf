"""The scheduled jobs: each run twice without harm, and each reminder to whom it is due and to no one else.

Jobs run through the CLI (`flask academy scheduled run JOB`, what beat's tasks call) and through the Celery tasks
in eager mode. "Without harm" is checked on every table: the second run leaves each row as the first left it.

Checked once by removing the protection: without the "already sent" filter and the unique key (SentReminder not
written), test_offer_reminder_goes_once_to_the_trainee_of_an_offer_closing_within_24_hours failed (a second
mail); without the submitted-work filter the due reminder reached the trainee who had submitted.
"""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from academy.admissions.models import Enrollment, EnrollmentStatus
from academy.courses.models import Extension
from academy.courses.services import set_due_date
from academy.extensions import db
from academy.grading import celery_app as grading_celery
from academy.mail.models import OutboxMail
from academy.placements.models import (
    Consent, FollowUp, MatchRound, Offer, OfferStatus, Placement, PlacementStatus, RoundStatus,
)
from academy.scheduled import celery_app as scheduled_celery
from academy.scheduled import services
from academy.scheduled.jobs import JOBS
from academy.scheduled.models import SentReminder
from academy.submissions.models import Submission

REPO = Path(__file__).resolve().parents[2]

NOW = datetime.now(UTC)


def _run(runner, job: str) -> str:
    result = runner.invoke(args=["academy", "scheduled", "run", job])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def _snapshot() -> dict[str, list]:
    """Every row of every table, to compare before and after a run."""
    db.session.expire_all()
    with db.engine.connect() as conn:
        return {t.name: sorted(map(tuple, conn.execute(sa.select(t)).all()), key=repr)
                for t in db.metadata.sorted_tables}


def _twice(runner, job: str) -> tuple[str, str]:
    """Run a job, then again; assert the second run changed nothing anywhere."""
    first = _run(runner, job)
    before = _snapshot()
    second = _run(runner, job)
    assert _snapshot() == before, f"the second run of {job} changed rows"
    return first, second


def _mails(kind: str) -> list[OutboxMail]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboxMail).where(OutboxMail.kind == kind).order_by(OutboxMail.id)))


@pytest.fixture
def placement_world(make):
    cohort = make.cohort()
    trainees = [make.enrolled_student(cohort, name=f"훈련생{i}") for i in range(6)]
    company = make.company(name="경남정밀")
    recruiter = make.user("recruiter", company_id=company.id)
    other_recruiter = make.user("recruiter")  # another company's
    disabled_recruiter = make.user("recruiter", company_id=company.id, is_enabled=False)
    demand = make.demand(company, title="예지보전 엔지니어", headcount=5)
    rnd = MatchRound(cohort_id=cohort.id, retention_until=date.today() + timedelta(days=365),
                     status=RoundStatus.PUBLISHED)
    db.session.add(rnd)
    admin = make.user("admin")
    db.session.flush()
    return dict(cohort=cohort, trainees=trainees, company=company, recruiter=recruiter, admin=admin,
                other_recruiter=other_recruiter, disabled_recruiter=disabled_recruiter, demand=demand, round=rnd)


def _offer(w, trainee, deadline: datetime, status: str = OfferStatus.OPEN) -> Offer:
    offer = Offer(round_id=w["round"].id, demand_id=w["demand"].id, student_id=trainee.id if trainee else None,
                  deadline_at=deadline, status=status)
    db.session.add(offer)
    db.session.flush()
    return offer


# --- offer expiring within 24 hours -------------------------------------------------------------


def test_offer_reminder_goes_once_to_the_trainee_of_an_offer_closing_within_24_hours(runner, placement_world):
    """Only the open offer closing within 24 h is recalled, once; later, answered, expired offers are not."""
    w = placement_world
    t = w["trainees"]
    t[1].locale = "en"
    closing = _offer(w, t[0], NOW + timedelta(hours=10))
    closing_en = _offer(w, t[1], NOW + timedelta(hours=23))
    _offer(w, t[2], NOW + timedelta(hours=30))  # not yet
    _offer(w, t[3], NOW + timedelta(hours=10), OfferStatus.DECLINED)
    _offer(w, t[4], NOW - timedelta(hours=1))  # past its deadline: expiry's business, not a reminder's
    _offer(w, None, NOW + timedelta(hours=10))  # anonymised
    db.session.commit()

    first, second = _twice(runner, "remind-offers")
    assert "sent 2" in first and "sent 0" in second
    mails = _mails("offer_expiring")
    assert [(m.user_id, m.to_address) for m in mails] == [(t[0].id, t[0].email), (t[1].id, t[1].email)]
    korean, english = mails
    assert "24시간" in korean.subject and "경남정밀" in korean.subject and "예지보전 엔지니어" in korean.body
    assert "(KST)" in korean.body and "/my/placement" in korean.body
    assert "closes within 24 hours" in english.subject
    reminders = db.session.scalars(sa.select(SentReminder)).all()
    assert {(r.kind, r.object_id, r.user_id) for r in reminders} == {
        ("offer_expiring", closing.id, t[0].id), ("offer_expiring", closing_en.id, t[1].id)}
    assert {r.mail_id for r in reminders} == {m.id for m in mails}


def test_expire_offers_marks_past_offers_once(runner, placement_world):
    w = placement_world
    past = _offer(w, w["trainees"][0], NOW - timedelta(minutes=5))
    open_ = _offer(w, w["trainees"][1], NOW + timedelta(days=2))
    db.session.commit()
    first, second = _twice(runner, "expire-offers")
    assert "expired 1" in first and "expired 0" in second
    db.session.expire_all()
    assert db.session.get(Offer, past.id).status == OfferStatus.EXPIRED
    assert db.session.get(Offer, open_.id).status == OfferStatus.OPEN


# --- assignment due within 48 hours --------------------------------------------------------------


def test_due_reminder_reaches_only_active_trainees_who_have_not_submitted(runner, make):
    """Due within 48 h and not submitted: reminded once. Submitted, withdrawn, extended beyond 48 h, another
    cohort, an unreleased assignment, one due in 3 days: not reminded."""
    cohort, other_cohort = make.cohort(), make.cohort()
    waiting, submitted, withdrawn, extended, disabled = (make.enrolled_student(cohort) for _ in range(5))
    extended_into = make.enrolled_student(other_cohort)  # their cohort's date is far, their extension is near
    elsewhere = make.enrolled_student(make.cohort())
    disabled.is_enabled = False
    course = make.course(cohorts=[cohort, other_cohort])
    lab, unreleased, later = (make.assignment(course, name=n) for n in ("lab1", "lab2", "lab3"))
    set_due_date(lab, cohort, NOW + timedelta(hours=30), released_at=NOW - timedelta(days=3))
    set_due_date(lab, other_cohort, NOW + timedelta(days=10), released_at=NOW - timedelta(days=3))
    set_due_date(unreleased, cohort, NOW + timedelta(hours=30), released_at=NOW + timedelta(hours=1))
    set_due_date(later, cohort, NOW + timedelta(days=3), released_at=NOW - timedelta(days=3))
    db.session.execute(sa.update(Enrollment).where(Enrollment.student_id == withdrawn.id)
                       .values(status=EnrollmentStatus.WITHDRAWN))
    db.session.add_all([
        Submission(assignment_id=lab.id, student_id=submitted.id, received_at=NOW, sha256="0" * 64,
                   stored_path="x", status="graded"),
        Extension(assignment_id=lab.id, student_id=extended.id, due_at=NOW + timedelta(days=5)),
        Extension(assignment_id=lab.id, student_id=extended_into.id, due_at=NOW + timedelta(hours=40)),
    ])
    db.session.commit()

    first, second = _twice(runner, "remind-due")
    assert "sent 2" in first and "sent 0" in second
    mails = _mails("due_soon")
    assert sorted(m.user_id for m in mails) == sorted([waiting.id, extended_into.id])
    assert not {elsewhere.id, submitted.id, withdrawn.id, extended.id, disabled.id} & {m.user_id for m in mails}
    assert all("lab1" in m.subject and "48시간" in m.subject for m in mails)
    assert f"/my/courses/{course.id}" in mails[0].body


def test_a_moved_due_date_is_a_new_occasion(runner, make):
    cohort = make.cohort()
    trainee = make.enrolled_student(cohort)
    lab = make.assignment(make.course(cohorts=[cohort]), name="lab1")
    set_due_date(lab, cohort, NOW + timedelta(hours=20), released_at=NOW - timedelta(days=1))
    db.session.commit()
    _run(runner, "remind-due")
    set_due_date(lab, cohort, NOW + timedelta(hours=44))
    db.session.commit()
    _twice(runner, "remind-due")
    assert len(_mails("due_soon")) == 2 and {m.user_id for m in _mails("due_soon")} == {trainee.id}


# --- placement follow-ups -------------------------------------------------------------------------


def _placement(w, trainee, started_days_ago: int, status: str = PlacementStatus.STARTED) -> Placement:
    offer = _offer(w, trainee, NOW - timedelta(days=started_days_ago + 10), OfferStatus.ACCEPTED)
    placement = Placement(offer_id=offer.id, round_id=w["round"].id, demand_id=w["demand"].id,
                          student_id=trainee.id, status=status,
                          started_at=NOW - timedelta(days=started_days_ago))
    db.session.add(placement)
    db.session.flush()
    return placement


def test_follow_up_reminders_go_to_the_company_and_the_office_at_3_6_and_12_months(runner, placement_world):
    w = placement_world
    t = w["trainees"]
    due3 = _placement(w, t[0], 95)
    due12 = _placement(w, t[1], 370)  # 3 and 6 were never recorded: only the 12-month one is asked for
    recorded = _placement(w, t[2], 100)
    db.session.add(FollowUp(placement_id=recorded.id, months=3, employed=True))
    _placement(w, t[3], 30)  # too early
    _placement(w, t[4], 200, PlacementStatus.ENDED)  # no longer employed: nothing to follow
    db.session.commit()

    first, second = _twice(runner, "remind-follow-ups")
    assert "sent 4" in first and "sent 0" in second
    mails = _mails("follow_up_due")
    got = {(m.user_id, m.subject) for m in mails}
    for user in (w["recruiter"], w["admin"]):
        assert any(uid == user.id and "3개월" in subject for uid, subject in got)
        assert any(uid == user.id and "12개월" in subject for uid, subject in got)
    nobody = {w["other_recruiter"].id, w["disabled_recruiter"].id, *(s.id for s in t)}
    assert not nobody & {m.user_id for m in mails}
    assert all(s.name not in m.body for m in mails for s in t)  # no trainee named in an e-mail
    assert f"/placements/{due3.id}" in mails[0].body or f"/placements/{due12.id}" in mails[0].body
    # The 6-month follow-up of the first placement falls due later: a new occasion, one more reminder each.
    db.session.execute(sa.update(Placement).where(Placement.id == due3.id)
                       .values(started_at=NOW - timedelta(days=190)))
    db.session.commit()
    assert "sent 2" in _twice(runner, "remind-follow-ups")[0]


# --- retention purge and the grading requeue -----------------------------------------------------


def test_purge_expired_runs_twice_without_harm(runner, placement_world):
    w = placement_world
    old = MatchRound(cohort_id=w["cohort"].id, retention_until=date.today() - timedelta(days=2),
                     status=RoundStatus.PUBLISHED)
    db.session.add(old)
    db.session.flush()
    db.session.add(Consent(round_id=old.id, demand_id=w["demand"].id, student_id=w["trainees"][0].id,
                           notice="개인정보 제공 동의"))
    db.session.commit()
    first, second = _twice(runner, "purge-expired")
    assert "purged 1" in first and "purged 0" in second
    db.session.expire_all()
    assert db.session.get(MatchRound, old.id).purged_at is not None
    assert db.session.get(MatchRound, w["round"].id).purged_at is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Consent)) == 0


def test_requeue_hands_a_waiting_submission_over_once(app, runner, make, tmp_path):
    queued = []
    app.config["SUBMISSIONS_ENQUEUE"] = lambda sub, files: queued.append(sub.id) or f"job-{sub.id}"
    try:
        cohort = make.cohort()
        trainee = make.enrolled_student(cohort)
        lab = make.assignment(make.course(cohorts=[cohort]), name="lab1")
        waiting = Submission(assignment_id=lab.id, student_id=trainee.id, received_at=NOW - timedelta(minutes=10),
                             sha256="0" * 64, stored_path=str(tmp_path / "none"), status="queued")
        db.session.add(waiting)
        db.session.commit()
        first, second = _twice(runner, "requeue-submissions")
    finally:
        app.config.pop("SUBMISSIONS_ENQUEUE", None)
    assert "queued 1" in first and "queued 0" in second and queued == [waiting.id]


# --- the schedule and the Celery tasks --------------------------------------------------------------


def test_the_beat_schedule_runs_every_job_on_the_portal_queue_through_a_real_task():
    schedule = scheduled_celery.app.conf.beat_schedule
    assert set(schedule) == set(JOBS) == {"expire-offers", "remind-offers", "remind-due", "remind-follow-ups",
                                          "purge-expired", "requeue-submissions"}
    for name, entry in schedule.items():
        assert entry["task"] in scheduled_celery.app.tasks, name
        assert entry["options"]["queue"] == "portal"
    assert scheduled_celery.app.conf.timezone == "Asia/Seoul"
    assert schedule["purge-expired"]["schedule"].hour == {3} and schedule["purge-expired"]["schedule"].minute == {30}
    # The grading workers never read the portal's queue, nor know its tasks.
    assert "portal" not in {q.name for q in grading_celery.app.conf.task_queues}
    assert not any(name.startswith("academy.scheduled.") for name in grading_celery.app.tasks)
    # One broker for both, read from the same setting when each app is built: in a process of its own, since this
    # one's apps were built whenever the suite first imported them (other tests change the broker setting).
    for broker in ("redis://127.0.0.1:6379/14", None):
        env = {k: v for k, v in os.environ.items() if k != "ACADEMY_BROKER_URL"}
        if broker:
            env["ACADEMY_BROKER_URL"] = broker
        both = subprocess.run([sys.executable, "-c", (
            "from academy.scheduled.celery_app import app as s\nfrom academy.grading.celery_app import app as g\n"
            "print(s.conf.broker_url, g.conf.broker_url)")], cwd=REPO, env=env, capture_output=True, text=True,
            timeout=120)
        scheduled_broker, grading_broker = both.stdout.split()
        assert scheduled_broker == grading_broker and (broker is None or scheduled_broker == broker), both.stderr


def test_a_task_runs_its_job_in_the_portal_app(app, placement_world, monkeypatch):
    """The Celery task (eager) runs the job inside the portal's app and commits: the reminder is in the outbox."""
    _offer(placement_world, placement_world["trainees"][0], NOW + timedelta(hours=3))
    db.session.commit()
    monkeypatch.setattr(scheduled_celery, "_portal", app)
    monkeypatch.setitem(scheduled_celery.app.conf, "task_always_eager", True)
    assert scheduled_celery.TASKS["remind-offers"].delay().get() == "sent 1 offer reminder(s)"
    assert scheduled_celery.TASKS["remind-offers"].delay().get() == "sent 0 offer reminder(s)"
    assert len(_mails("offer_expiring")) == 1


def test_the_cli_lists_the_jobs_and_refuses_an_unknown_one(runner):
    listed = runner.invoke(args=["academy", "scheduled", "list"]).output
    assert all(name in listed for name in JOBS) and "daily at 03:30" in listed
    assert runner.invoke(args=["academy", "scheduled", "run", "nothing"]).exit_code != 0


def test_a_reminder_on_record_is_never_sent_again_even_when_asked_directly(placement_world):
    """Two runs at once both see the trainee as due; the unique key lets only the first send.

    Checked: without the savepoint around the record, the second send raised IntegrityError instead of skipping."""
    trainee = placement_world["trainees"][0]
    offer = _offer(placement_world, trainee, NOW + timedelta(hours=5))
    db.session.commit()
    assert services.send_offer_expiring(offer, trainee) is True
    assert services.send_offer_expiring(offer, trainee) is False  # what the second of two racing runs does
    db.session.commit()
    assert len(_mails("offer_expiring")) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SentReminder)) == 1


def test_no_due_reminder_for_a_cohort_the_course_dropped_or_for_an_archived_course(runner, make):
    """How checked: without the course_cohorts join and the archived filter both trainees were reminded (a
    reviewer's finding: the e-mail named a lab whose page answers them 403)."""
    kept, dropped = make.cohort(), make.cohort()
    inside, removed = make.enrolled_student(kept), make.enrolled_student(dropped)
    course = make.course(cohorts=[kept, dropped])
    lab = make.assignment(course, name="lab1")
    for cohort in (kept, dropped):
        set_due_date(lab, cohort, NOW + timedelta(hours=30), released_at=NOW - timedelta(days=3))
    course.cohorts.remove(dropped)
    db.session.commit()
    assert "sent 1" in _run(runner, "remind-due")
    assert {m.user_id for m in _mails("due_soon")} == {inside.id} and removed.id
    later = make.assignment(course, name="lab2")
    set_due_date(later, kept, NOW + timedelta(hours=30), released_at=NOW - timedelta(days=3))
    course.archived_at = NOW
    db.session.commit()
    assert "sent 0" in _run(runner, "remind-due")
