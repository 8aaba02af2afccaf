"""A trainee cannot flood grading: a rate limit per trainee and assignment, newer work superseding waiting work,
one job per trainee in the grading queue, and a storage allowance per trainee. Everything through HTTP."""
from __future__ import annotations

import io
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import sqlalchemy as sa

from academy.audit.models import AuditEntry
from academy.config import var_dir
from academy.courses.services import get_grade, set_due_date
from academy.extensions import db
from academy.submissions.models import Submission
from academy.submissions.queue import CLAIM_TIMEOUT
from academy.submissions.services import requeue_unqueued
from tests.submissions.test_api import NB, _result, _submit, _token

KIB = 1024


def _labs(make, n: int):
    """Return a trainee, a classmate and n assignments of one course, all released and due tomorrow."""
    cohort = make.cohort()
    trainee, classmate = make.enrolled_student(cohort), make.enrolled_student(cohort)
    course = make.course(cohorts=[cohort])
    now = datetime.now(UTC)
    labs = [make.assignment(course, name=f"lab{i}") for i in range(1, n + 1)]
    for lab in labs:
        set_due_date(lab, cohort, now + timedelta(days=1), released_at=now - timedelta(hours=1))
    db.session.commit()
    return trainee, classmate, labs


def _rows(**where):
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Submission).filter_by(**where).order_by(Submission.id)))


def _notebook(size: int) -> list:
    """Return one notebook of about `size` bytes (its padding in the metadata)."""
    body = b'{"cells": [], "metadata": {"pad": "' + b"x" * max(0, size - 80) + b'"}, "nbformat": 4, "nbformat_minor": 5}'
    return [(io.BytesIO(body), "lab.ipynb")]


# --- rate limit ---------------------------------------------------------------------------------


def test_submitting_one_assignment_too_often_gets_429_with_when_to_retry_and_the_count_resets(
        app, client, make, queue):
    """The n+1-th submission of one assignment within the window is refused with 429, Retry-After and a
    Korean and English message saying when to retry; the trainee's other assignment and a classmate are
    not affected; once the window has passed the trainee may submit again.

    Checked: fails when the limiter decorator on api_submit is removed (the fourth submission is accepted).
    """
    app.config["SUBMIT_RATE_LIMIT"] = "3 per 3 seconds"
    trainee, classmate, (lab1, lab2) = _labs(make, 2)
    token = _token(trainee)
    assert [_submit(client, token, lab1).status_code for _ in range(3)] == [201, 201, 201]
    refused = _submit(client, token, lab1)
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 4  # the window, plus the reset time rounded up to a whole second
    body = refused.get_json()
    assert abs(body["retry_after"] - wait) <= 1 and body["retry_at"]  # a second may tick between the two
    assert "제출이 너무 잦습니다" in body["error"] and "Too many submissions" in body["error"]
    said = body["retry_after"]
    assert f"{said}초" in body["error"] and f"{said} s" in body["error"]  # when to retry, in both languages
    assert "3 submissions per 3 seconds" in body["error"] and "3초에 3번" in body["error"]
    assert len(_rows(student_id=trainee.id, assignment_id=lab1.id)) == 3  # the refused one stored nothing
    assert _submit(client, token, lab2).status_code == 201
    assert _submit(client, _token(classmate), lab1).status_code == 201
    time.sleep(wait + 0.2)
    assert _submit(client, token, lab1).status_code == 201


def test_a_parallel_burst_gets_no_more_through_than_the_limit(app, client, make, queue):
    """Ten submissions of one assignment sent at once: exactly the limit's worth are accepted, the rest get
    429, so racing requests past a test-then-count check buys nothing (every attempt counts when it starts).

    Checked: fails when the limit only counts accepted submissions (deduct_when on 201): more than three
    get through.
    """
    app.config["SUBMIT_RATE_LIMIT"] = "3 per 10 minutes"
    trainee, _, (lab1,) = _labs(make, 1)
    token = _token(trainee)
    target = SimpleNamespace(id=lab1.id)  # the threads have no database session of their own to load it
    codes: list[int] = []
    start = threading.Barrier(10)

    def send() -> None:
        with app.test_client() as own:
            start.wait()
            codes.append(_submit(own, token, target, [(io.BytesIO(NB), "lab.ipynb")]).status_code)

    threads = [threading.Thread(target=send) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(codes) == [201] * 3 + [429] * 7
    assert len(_rows(student_id=trainee.id)) == 3


def test_refused_attempts_count_too_so_bad_requests_cannot_probe_for_free(app, client, make, queue):
    """Attempts the portal refuses (no notebook: 422) count towards the limit as well.

    Checked: fails when the limit only counts accepted submissions (the fourth attempt gets 201).
    """
    app.config["SUBMIT_RATE_LIMIT"] = "3 per 10 minutes"
    trainee, _, (lab1,) = _labs(make, 1)
    token = _token(trainee)
    codes = [_submit(client, token, lab1, [(io.BytesIO(b"x"), "notes.txt")]).status_code for _ in range(3)]
    assert codes == [422, 422, 422]
    assert _submit(client, token, lab1).status_code == 429


def test_a_request_without_a_valid_token_uses_nobodys_allowance(app, client, make, queue):
    """Requests with a bad token get 401 and never count against the trainee whose assignment they name.

    Checked: fails when the key function does not check the token first (keyed on the assignment alone,
    the bad requests use up the allowance and the third already gets 429).
    """
    app.config["SUBMIT_RATE_LIMIT"] = "2 per 10 minutes"
    trainee, _, (lab1,) = _labs(make, 1)
    assert [_submit(client, "stolen-or-made-up", lab1).status_code for _ in range(3)] == [401] * 3
    token = _token(trainee)
    assert [_submit(client, token, lab1).status_code for _ in range(2)] == [201, 201]


# --- supersede ----------------------------------------------------------------------------------


def test_a_newer_submission_supersedes_the_waiting_one_which_is_never_graded(app, client, make, queue):
    """While the trainee's first job is in the queue, three more submissions of the same assignment arrive:
    the two older ones are superseded (shown as such, never queued, a result for them changes nothing),
    and only the newest is queued, when the first job reports.

    Checked: fails when supersede_waiting does nothing (the older waiting submissions stay queued for
    grading), and when record_result records results for superseded submissions (one got 'graded').
    """
    trainee, _, (lab1,) = _labs(make, 1)
    token = _token(trainee)
    first, second, third, newest = (_submit(client, token, lab1).get_json()["id"] for _ in range(4))
    assert queue == [first]
    by_id = {r.id: r.status for r in _rows(student_id=trainee.id)}
    assert by_id == {first: "queued", second: "superseded", third: "superseded", newest: "queued"}
    listed = client.get("/api/exchange/submissions", headers={"Authorization": f"Bearer {token}"}).get_json()
    labels = {s["id"]: s["status_label"] for s in listed}
    assert labels[second] == labels[third] == "superseded by a newer submission, not graded"

    # A result for a superseded submission (a rogue or confused worker) is answered but not recorded.
    assert _result(client, second, auto=10.0).status_code == 200
    assert _rows(id=second)[0].status == "superseded" and _rows(id=second)[0].auto_score is None
    assert get_grade(lab1, trainee) is None

    assert _result(client, first, auto=5.0).status_code == 200
    assert queue == [first, newest]  # the first job reported: the newest (only) goes in
    assert _result(client, newest, auto=9.0).status_code == 200
    grade = get_grade(lab1, trainee)
    assert grade is not None and grade.score == 90.0
    assert queue == [first, newest]


def test_my_submissions_page_shows_superseded_with_no_feedback_link(app, client, auth, make, queue):
    """My submissions marks a superseded submission in words (Korean by default) and offers no feedback for it.

    Checked: fails when the 'superseded' label is removed from submissions/_status.html.
    """
    trainee, _, (lab1,) = _labs(make, 1)
    token = _token(trainee)
    ids = [_submit(client, token, lab1).get_json()["id"] for _ in range(3)]
    auth.login(trainee)
    page = client.get("/my/submissions").get_data(as_text=True)
    row = re.search(rf'<tr data-submission-id="{ids[1]}">.*?</tr>', page, re.S).group(0)
    assert "대체됨" in row and "feedback-link" not in row
    client.post("/lang/en")
    page = client.get("/my/submissions").get_data(as_text=True)
    row = re.search(rf'<tr data-submission-id="{ids[1]}">.*?</tr>', page, re.S).group(0)
    assert "Superseded: not graded" in row


def test_a_broker_outage_neither_loses_work_nor_revives_superseded_submissions(app, client, make, queue):
    """With the queue down, submissions wait in the portal; a newer one supersedes the older; when the queue
    is back the periodic requeue queues only the newest, once.

    Checked: fails when a superseded submission counts as waiting in queue._waiting (the periodic requeue
    queued the older one too).
    """
    working = app.config["SUBMISSIONS_ENQUEUE"]
    app.config["SUBMISSIONS_ENQUEUE"] = lambda sub, files: (_ for _ in ()).throw(ConnectionError("down"))
    trainee, _, (lab1,) = _labs(make, 1)
    token = _token(trainee)
    older, newer = (_submit(client, token, lab1).get_json()["id"] for _ in range(2))
    assert requeue_unqueued(older_than=timedelta(0)) == 0
    app.config["SUBMISSIONS_ENQUEUE"] = working
    assert requeue_unqueued(older_than=timedelta(0)) == 1
    assert requeue_unqueued(older_than=timedelta(0)) == 0
    assert queue == [newer]
    assert _rows(id=older)[0].status == "superseded"


# --- fairness -----------------------------------------------------------------------------------


def test_one_trainees_burst_never_delays_anothers_first_submission_by_more_than_one_job(app, client, make, queue):
    """Trainee A submits a burst over four assignments (three times each); trainee B then submits once.
    B's job is the second in the queue; A's work is queued one job at a time as A's results arrive, the
    newest of each assignment once, and nothing is lost.

    Checked: fails when queue._claim no longer checks for the trainee's job in the queue (B's job came
    thirteenth).
    """
    a, b, labs = _labs(make, 4)
    token_a = _token(a)
    sent = {lab.id: [_submit(client, token_a, lab).get_json()["id"] for _ in range(3)] for lab in labs}
    b_first = _submit(client, _token(b), labs[0]).get_json()["id"]
    assert queue.index(b_first) <= 1, queue
    assert queue == [sent[labs[0].id][0], b_first]
    # A's jobs report one by one: each result lets exactly one more of A's submissions in.
    current, expected = sent[labs[0].id][0], [sent[labs[0].id][0], b_first]
    for lab in labs:
        assert _result(client, current).status_code == 200
        current = sent[lab.id][-1]
        expected.append(current)
        assert queue == expected
    assert _result(client, current).status_code == 200
    assert queue == expected  # nothing more to queue: each assignment's newest went in once
    statuses = {r.id: r.status for r in _rows(student_id=a.id)}
    assert sorted(i for i, s in statuses.items() if s != "superseded") == sorted(
        [sent[labs[0].id][0]] + [sent[lab.id][-1] for lab in labs])


def test_a_job_that_never_reports_does_not_hold_the_trainees_next_work_back_for_ever(app, client, make, queue,
                                                                                      runner):
    """A trainee's job whose worker died never reports; once GRADING_JOB_TIMEOUT has passed, the periodic
    requeue queues their waiting submission (once, however often it runs), and the late result of the
    stuck job is still recorded once.

    Checked: fails when queue._holds_place ignores GRADING_JOB_TIMEOUT (the waiting submission stays
    unqueued).
    """
    trainee, _, (lab1, lab2) = _labs(make, 2)
    token = _token(trainee)
    stuck = _submit(client, token, lab1).get_json()["id"]
    waiting = _submit(client, token, lab2).get_json()["id"]
    assert requeue_unqueued(older_than=timedelta(0)) == 0 and queue == [stuck]
    timeout = app.config["GRADING_JOB_TIMEOUT"]
    db.session.execute(sa.update(Submission).where(Submission.id == stuck).values(
        queued_at=datetime.now(UTC) - timedelta(seconds=timeout + 1)))
    db.session.commit()
    assert runner.invoke(args=["submissions", "requeue"]).output.strip() == "queued 1"  # what cron runs
    assert requeue_unqueued() == 0
    assert queue == [stuck, waiting]
    assert _result(client, stuck, auto=7.0).status_code == 200
    assert _result(client, stuck, auto=1.0).status_code == 200  # a redelivered copy changes nothing
    assert _rows(id=stuck)[0].auto_score == 70.0 and queue == [stuck, waiting]


def test_a_claim_left_by_a_crashed_portal_process_is_taken_up_again(app, client, make, queue):
    """A submission claimed for the queue by a process that died before enqueueing it is queued again
    after the claim timeout instead of holding the trainee's place for ever.

    Checked: fails when queue._waiting no longer treats an old claim without a job as waiting (nothing is
    queued).
    """
    trainee, _, (lab1,) = _labs(make, 1)
    app.config["SUBMISSIONS_ENQUEUE"] = lambda sub, files: (_ for _ in ()).throw(ConnectionError("down"))
    sub_id = _submit(client, _token(trainee), lab1).get_json()["id"]
    # What a crash between the committed claim and the enqueue leaves behind:
    db.session.execute(sa.update(Submission).where(Submission.id == sub_id).values(
        queued_at=datetime.now(UTC) - CLAIM_TIMEOUT - timedelta(seconds=1)))
    db.session.commit()
    app.config["SUBMISSIONS_ENQUEUE"] = lambda sub, files: queue.append(sub.id) or f"job-{sub.id}"
    assert requeue_unqueued(older_than=timedelta(0)) == 1 and queue == [sub_id]


# --- storage ------------------------------------------------------------------------------------


def test_a_trainee_cannot_fill_the_portals_disk(app, client, make, queue):
    """Submissions count against the trainee's storage allowance, superseded ones included: the one that
    would pass it is refused with 422 and a Korean and English message, and nothing of it is stored or
    queued; a classmate is unaffected.

    Checked: fails when receive_submission no longer calls _check_storage (the fourth submission is stored).
    """
    app.config["SUBMISSION_STORAGE_PER_TRAINEE"] = 110 * KIB
    trainee, classmate, (lab1,) = _labs(make, 1)
    token = _token(trainee)
    accepted = [_submit(client, token, lab1, _notebook(30 * KIB)).status_code for _ in range(3)]
    assert accepted == [201, 201, 201]  # 3 x (30 + 4) KiB kept, two superseded: they still take space
    refused = _submit(client, token, lab1, _notebook(30 * KIB))
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert "제출물 보관 한도" in error and "storage for submissions" in error and "academy office" in error
    rows = _rows(student_id=trainee.id)
    assert len(rows) == 3 and len(queue) == 1
    folder = var_dir() / "submissions" / str(lab1.id) / str(trainee.id)
    assert sorted(p.name for p in folder.iterdir()) == sorted(str(r.id) for r in rows)
    assert _submit(client, token, lab1, _notebook(3 * KIB)).status_code == 201  # what still fits is taken
    assert _submit(client, _token(classmate), lab1, _notebook(30 * KIB)).status_code == 201


def test_the_office_frees_a_trainees_storage_by_pruning_superseded_files(app, client, make, queue, runner):
    """At the allowance, the office prunes the files of the trainee's superseded submissions from the command
    line: their records stay (status, sha256, receipt time, audit entry), the space counts no more, and the
    trainee can submit again; graded and waiting work is untouched.

    Checked: fails when prune_superseded_files leaves the pruned submission's size counted.
    """
    app.config["SUBMISSION_STORAGE_PER_TRAINEE"] = 110 * KIB
    trainee, _, (lab1,) = _labs(make, 1)
    token = _token(trainee)
    first, older, newest = (_submit(client, token, lab1, _notebook(30 * KIB)).get_json()["id"] for _ in range(3))
    assert _submit(client, token, lab1, _notebook(30 * KIB)).status_code == 422
    result = runner.invoke(args=["submissions", "prune-superseded", "--trainee", trainee.email.upper()])
    assert result.exit_code == 0 and "1 superseded submission(s)" in result.output, result.output
    kept = {r.id: r for r in _rows(student_id=trainee.id)}
    assert kept[older].status == "superseded" and kept[older].size_bytes == 0 and kept[older].sha256
    assert not (var_dir() / kept[older].stored_path / "files").exists()
    assert (var_dir() / kept[first].stored_path / "files").is_dir()
    assert (var_dir() / kept[newest].stored_path / "files").is_dir()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "submission.files_pruned")) == 1
    assert _submit(client, token, lab1, _notebook(30 * KIB)).status_code == 201
    assert runner.invoke(args=["submissions", "prune-superseded", "--trainee", "nobody@x.test"]).exit_code != 0
