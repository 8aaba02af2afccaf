"""Certificates of completion through HTTP: the office's rule, issuing (one and a cohort), refusals, revoking,
the PDF's contents and QR code, the trainee's download, and public verification."""
from __future__ import annotations

import io
import json
import re

import pytest
import sqlalchemy as sa
from PIL import ImageChops
from pypdf import PdfReader

from academy.audit.models import AuditEntry
from academy.certificates.models import DEFAULT_RULE, Attendance, Certificate, CompletionRule
from academy.certificates.pdf import UNIVERSITIES_KO, qr_image
from academy.extensions import db


def _certificates() -> list[Certificate]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Certificate).order_by(Certificate.id)))


def _actions(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def _attend(client, world, trainee, percent: int = 90):
    return client.post(f"/admin/certificates/cohorts/{world.cohort.id}/trainees/{trainee.id}/attendance",
                       data={"percent": percent})


def _issue(client, world, trainee):
    return client.post(f"/admin/certificates/cohorts/{world.cohort.id}/trainees/{trainee.id}/issue")


@pytest.fixture
def issued(world, auth, client):
    """A certificate issued by the office through the pages; the office stays signed in."""
    trainee = world.trainee("김민준")
    auth.login(world.office)
    assert _attend(client, world, trainee).status_code == 302
    response = _issue(client, world, trainee)
    assert response.status_code == 302 and "/admin/certificates/" in response.headers["Location"]
    (certificate,) = _certificates()
    return trainee, certificate


# --- the rule ----------------------------------------------------------------------------------


def test_the_office_edits_the_rule_and_the_change_is_audited(world, auth, client):
    auth.login(world.office)
    page = client.get("/admin/certificates/rule")
    assert page.status_code == 200 and db.session.get(CompletionRule, 1) is None  # a page writes nothing
    body = {"pass_percent": 50, "min_courses_passed": 1, "min_share_percent": 100, "min_attendance_percent": 70}
    assert client.post("/admin/certificates/rule", data=body).status_code == 302
    rule = db.session.get(CompletionRule, 1)
    assert (rule.pass_percent, rule.min_attendance_percent, rule.updated_by_id) == (50, 70, world.office.id)
    (entry,) = _actions("certificates.rule_changed")
    detail = json.loads(entry.detail)
    assert detail["before"]["pass_percent"] == 60 and detail["after"]["pass_percent"] == 50
    bad = client.post("/admin/certificates/rule", data={**body, "pass_percent": 101})
    assert bad.status_code == 400 and db.session.get(CompletionRule, 1).pass_percent == 50


def test_only_the_office_sees_the_rule_and_issues(world, auth, client, make):
    trainee = world.trainee("김민준")
    for role in ("coordinator", "instructor", "student", "recruiter"):
        auth.login(make.user(role))
        assert client.get("/admin/certificates").status_code == 403
        assert client.post("/admin/certificates/rule", data={"pass_percent": 0}).status_code == 403
        assert _issue(client, world, trainee).status_code == 403
        auth.logout()
    assert _certificates() == []


# --- issuing ----------------------------------------------------------------------------------


def test_a_trainee_who_does_not_meet_the_rule_is_refused_with_the_reason(world, auth, client):
    """Checked once by making _issue skip its `standing.lacks` check: both refusals were issued."""
    no_attendance = world.trainee("이서연")
    low_scores = world.trainee("박도윤", scores=(3.0, 2.0))
    auth.login(world.office)
    response = _issue(client, world, no_attendance)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "이서연" in page and "출석" in page  # "does not meet the completion rule: no attendance recorded"
    _attend(client, world, low_scores, 100)
    _issue(client, world, low_scores)
    page = client.get(f"/admin/certificates/cohorts/{world.cohort.id}").get_data(as_text=True)
    assert "0 / 1" in page  # courses passed: 25 in 100 is under the default pass mark of 60
    assert _certificates() == [] and not _actions("certificate.issued")


def test_issuing_stores_the_certificate_as_issued_and_audits_it(issued, world, client):
    trainee, certificate = issued
    assert re.fullmatch(r"GNAI-\d{4}-00001", certificate.serial)
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", certificate.public_id)
    assert certificate.holder_name == "김민준" and certificate.cohort_label_ko == "인제대학교 2027년 2027-1"
    data = certificate.data
    assert [c["code"] for c in data["courses"]] == ["MAI-101"] and data["courses"][0]["percent"] == 75.0
    skills = {s["code"]: s for s in data["competencies"]}
    assert skills["predictive_maintenance"]["level"] == 2.4  # 3 x 8/10
    assert skills["predictive_maintenance"]["evidence"] == [{"assignment": "실습1 예지보전", "percent": 80.0}]
    (entry,) = _actions("certificate.issued")
    assert entry.subject_user_id == trainee.id and entry.actor_id == world.office.id
    again = _issue(client, world, trainee)  # one certificate in force per trainee and cohort
    assert again.status_code == 302 and len(_certificates()) == 1


def test_the_office_issues_to_a_whole_cohort_who_meet_the_rule(world, auth, client):
    done_a, done_b, short = world.trainee("가"), world.trainee("나"), world.trainee("다")
    auth.login(world.office)
    for trainee in (done_a, done_b):
        _attend(client, world, trainee, 85)
    _attend(client, world, short, 50)
    assert client.post(f"/admin/certificates/cohorts/{world.cohort.id}/issue").status_code == 302
    assert sorted(c.student_id for c in _certificates()) == sorted([done_a.id, done_b.id])
    assert len({c.serial for c in _certificates()}) == 2
    client.post(f"/admin/certificates/cohorts/{world.cohort.id}/issue")  # twice: nobody gets a second one
    assert len(_certificates()) == 2


def test_attendance_is_recorded_only_for_the_cohort_s_trainees_and_audited(world, auth, client, make):
    trainee, outsider = world.trainee("가"), make.enrolled_student()
    auth.login(world.office)
    assert _attend(client, world, trainee, 120).status_code == 400
    assert _attend(client, world, outsider, 90).status_code == 302
    assert _attend(client, world, trainee, 88).status_code == 302
    rows = list(db.session.scalars(sa.select(Attendance)))
    assert [(r.student_id, r.percent) for r in rows] == [(trainee.id, 88)]
    assert [e.subject_user_id for e in _actions("certificates.attendance_set")] == [trainee.id]


# --- the PDF --------------------------------------------------------------------------------------


def _pdf_of(client, url: str) -> PdfReader:
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "application/pdf", response.data[:300]
    return PdfReader(io.BytesIO(response.data))


def test_the_pdf_says_who_completed_what_in_korean_with_a_qr_code_to_the_verification_page(issued, client, app):
    trainee, certificate = issued
    reader = _pdf_of(client, f"/admin/certificates/{certificate.id}/certificate.pdf")
    text = "\n".join(p.extract_text() for p in reader.pages)
    flat = re.sub(r"\s+", "", text)
    url = f"{app.config['PORTAL_URL']}/verify/{certificate.public_id}"
    for expected in ("경남AI혁신아카데미", "GyeongnamAIInnovationAcademy", "수료증", "김민준", "인제대학교2027년2027-1",
                     "MAI-101", "제조AI", "예지보전", "실습1예지보전80점", "데이터전처리", certificate.serial,
                     *UNIVERSITIES_KO, url):
        assert expected.replace(" ", "") in flat, expected
    fonts = {str(f.get("/BaseFont")) for p in reader.pages for f in p["/Resources"]["/Font"].values()}
    assert any("Nanum" in f for f in fonts), fonts  # the Korean font is embedded, not assumed
    # The QR code: the image in the PDF is the QR code of the verification address, module for module.
    (image,) = [i for p in reader.pages for i in p.images]
    drawn = image.image.convert("1")
    expected_qr = qr_image(url).convert("1")
    assert ImageChops.difference(drawn, expected_qr).getbbox() is None
    other = qr_image(url.replace(certificate.public_id[:4], "AAAA")).convert("1")
    assert ImageChops.difference(drawn, other).getbbox() is not None  # the comparison can fail


def test_without_a_korean_font_the_pdf_is_refused_clearly(issued, client, app, tmp_path):
    _trainee, certificate = issued
    app.config["CERTIFICATE_FONT"] = str(tmp_path / "missing.ttf")
    response = client.get(f"/admin/certificates/{certificate.id}/certificate.pdf")
    assert response.status_code == 503 and "글꼴" in response.get_data(as_text=True)


# --- the trainee's download -----------------------------------------------------------------------


def test_a_trainee_downloads_their_own_certificate_and_nobody_else_s(issued, world, auth, client, make):
    """Checked once by removing the owner check from my_pdf: the other trainee got the PDF."""
    trainee, certificate = issued
    auth.logout()
    auth.login(trainee)
    page = client.get("/my/certificates").get_data(as_text=True)
    assert certificate.serial in page and certificate.public_id in page
    reader = _pdf_of(client, f"/my/certificates/{certificate.id}/certificate.pdf")
    assert "김민준" in reader.pages[0].extract_text()
    auth.logout()
    auth.login(world.trainee("이서연"))
    assert client.get(f"/my/certificates/{certificate.id}/certificate.pdf").status_code == 404
    assert client.get("/my/certificates/999999/certificate.pdf").status_code == 404
    assert certificate.serial not in client.get("/my/certificates").get_data(as_text=True)
    auth.logout()
    auth.login(make.user("recruiter"))
    assert client.get(f"/my/certificates/{certificate.id}/certificate.pdf").status_code == 403
    assert client.get(f"/admin/certificates/{certificate.id}/certificate.pdf").status_code == 403
    auth.logout()
    response = client.get(f"/my/certificates/{certificate.id}/certificate.pdf")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- verification --------------------------------------------------------------------------------


def test_verification_says_valid_then_revoked_with_the_name_and_date_only(issued, world, client):
    """Checked once by rendering every found certificate as valid: the revoked one read 'valid'.

    CI once failed it on a CSRF token that happened to hold "75"; the grade is now looked for in the page's text.
    """
    trainee, certificate = issued
    client.post("/logout")
    page = client.get(f"/verify/{certificate.public_id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-state="valid"' in body
    assert "김민준" in body and certificate.issued_at.strftime("%Y-") in body
    # what a reader sees: text outside tags, so a random sign-in token holding "75" is not a leak
    text = re.sub(r"<[^>]*>", " ", body)
    for private in (trainee.email, "MAI-101", certificate.serial):
        assert private not in body, private
    assert not re.search(r"(?<!\d)75(?!\d)", text), "the grade 75 is shown"
    assert page.headers["Cache-Control"] == "no-store"

    from tests.conftest import Auth
    Auth(client).login(world.office)
    assert client.post(f"/admin/certificates/{certificate.id}/revoke", data={"reason": ""}).status_code == 400
    assert client.post(f"/admin/certificates/{certificate.id}/revoke",
                       data={"reason": "성적 정정으로 재발급"}).status_code == 302
    (entry,) = _actions("certificate.revoked")
    assert json.loads(entry.detail)["reason"] == "성적 정정으로 재발급"
    client.post("/logout")
    body = client.get(f"/verify/{certificate.public_id}").get_data(as_text=True)
    assert 'data-state="revoked"' in body and 'data-state="valid"' not in body and "재발급" not in body


def test_unknown_and_malformed_addresses_get_one_and_the_same_answer(issued, client):
    _trainee, certificate = issued
    client.post("/logout")
    answers = []
    for public_id in ("A" * 32, certificate.public_id[:-1] + ("A" if certificate.public_id[-1] != "A" else "B"),
                      "short", "x" * 300, "한글🙂", "<script>"):
        response = client.get(f"/verify/{public_id}")
        main = re.search(r"<main>.*</main>", response.get_data(as_text=True), re.S).group(0)
        answers.append((response.status_code, main))  # the page around names its own address (language link)
    assert answers[0][0] == 404 and 'data-state="unknown"' in answers[0][1]
    assert len(set(answers)) == 1


def test_verification_is_rate_limited(issued, client, app):
    """Checked once by removing the limit from verify: the fourth request got 200."""
    _trainee, certificate = issued
    app.config["VERIFY_RATE_LIMIT"] = "3 per minute"
    codes = [client.get(f"/verify/{certificate.public_id}").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_the_office_can_issue_again_after_revoking(issued, world, client):
    trainee, certificate = issued
    client.post(f"/admin/certificates/{certificate.id}/revoke", data={"reason": "이름 오기"})
    assert client.post(f"/admin/certificates/{certificate.id}/revoke", data={"reason": "다시"}).status_code == 302
    assert len(_actions("certificate.revoked")) == 1  # revoking twice is refused
    _issue(client, world, trainee)
    first, second = _certificates()
    assert not first.is_valid and second.is_valid and second.serial.endswith("00002")
    assert second.public_id != first.public_id


# --- the office's list of cohorts ----------------------------------------------------------------


def _listed(client, cohort) -> tuple[int, int, int]:
    """Return (trainees, meet the rule, certificates in force) as the office's list shows them for a cohort."""
    page = client.get("/admin/certificates").get_data(as_text=True)
    row = re.search(rf'data-test="cohort-{cohort.id}">(.*?)</tr>', page, re.S).group(1)
    return tuple(int(n) for n in re.findall(r"<td>(\d+)</td>", row))


def _shown(client, cohort) -> tuple[int, int, int]:
    """Return (trainees, meet the rule, certificates in force) as the cohort's own page shows them."""
    page = client.get(f"/admin/certificates/cohorts/{cohort.id}").get_data(as_text=True)
    return (page.count('data-test="trainee-'), page.count('class="status s-approved"'),
            page.count('data-test="certificate"'))


@pytest.mark.parametrize("rule", [
    {},  # the default rule
    {"pass_percent": 0, "min_courses_passed": 2, "min_share_percent": 100, "min_attendance_percent": 80},
    {"pass_percent": 75, "min_courses_passed": 1, "min_share_percent": 50, "min_attendance_percent": 0},
    {"pass_percent": 50, "min_courses_passed": 0, "min_share_percent": 0, "min_attendance_percent": 90},
])
def test_the_list_counts_what_each_cohort_s_page_shows(rule, world, auth, client, make):
    """The counts are SQL (services.cohort_counts), the cohort's page Python (cohort_standings): they must agree.

    Checked once by dropping the attendance condition from the SQL (two rules failed) and, apart, the case of a
    pass mark of 0 (one failed)."""
    from academy.admissions.models import Enrollment, EnrollmentStatus
    from academy.courses.services import upsert_grade

    second = make.course(cohorts=[world.cohort], code="MAI-102")
    lab = make.assignment(second, "lab3_vision", max_points=20.0)
    make.course(cohorts=[world.cohort], code="MAI-103")  # no assignments: not counted
    make.enrolled_student(make.cohort(year=2026))  # another cohort, listed too
    trainees = [world.trainee("가"), world.trainee("나", scores=(6.0, 6.0)), world.trainee("다", scores=(3.0, 2.0)),
                world.trainee("라", scores=None), world.trainee("마", scores=(10.0, 5.0)), world.trainee("바")]
    for trainee, score in zip(trainees, (15.0, 12.0, 20.0, 0.0, 14.9)):
        upsert_grade(lab, trainee, score, "", world.instructor)
    db.session.flush()
    auth.login(world.office)
    assert client.post("/admin/certificates/rule", data=ISSUING_RULE).status_code == 302  # issue under one rule
    for trainee, percent in zip(trainees, (90, 80, 100, 85, 95)):  # the last one has none recorded
        _attend(client, world, trainee, percent)
    client.post(f"/admin/certificates/cohorts/{world.cohort.id}/issue")
    issued = _certificates()
    assert issued  # some hold one
    client.post(f"/admin/certificates/{issued[0].id}/revoke", data={"reason": "오류"})
    if len(issued) > 1:  # a holder who withdrew: their certificate is not the cohort's any more
        enrollment = db.session.scalar(sa.select(Enrollment).where(Enrollment.student_id == issued[1].student_id))
        enrollment.status = EnrollmentStatus.WITHDRAWN
        db.session.flush()
    # then count under another (the request commits what the test changed)
    assert client.post("/admin/certificates/rule", data=rule or DEFAULT_RULE).status_code == 302
    assert _listed(client, world.cohort) == _shown(client, world.cohort)


ISSUING_RULE = {"pass_percent": 60, "min_courses_passed": 1, "min_share_percent": 50, "min_attendance_percent": 80}


def test_the_list_shows_the_newest_cohorts_a_page_at_a_time(world, auth, client, make, app):
    from academy.certificates.views import COHORTS_PER_PAGE

    uni = make.university("KNU")
    older = [make.cohort(uni, year=2020 + i // 2, name=f"{2020 + i // 2}-{i % 2 + 1}") for i in range(COHORTS_PER_PAGE)]
    newest_first = [str(c.id) for c in sorted([world.cohort, *older], key=lambda c: (-c.year, c.name, c.id))]
    auth.login(world.office)
    first = client.get("/admin/certificates").get_data(as_text=True)
    assert re.findall(r'data-test="cohort-(\d+)"', first) == newest_first[:COHORTS_PER_PAGE]
    assert newest_first[0] == str(world.cohort.id)
    second = client.get("/admin/certificates?page=2").get_data(as_text=True)
    assert re.findall(r'data-test="cohort-(\d+)"', second) == newest_first[COHORTS_PER_PAGE:]
    found = client.get("/admin/certificates?q=knu").get_data(as_text=True)
    assert f'data-test="cohort-{world.cohort.id}"' not in found and f'data-test="cohort-{older[0].id}"' in found


def test_the_list_follows_each_change_made_after_it_was_viewed(world, auth, client, make):
    """The counts are kept between views (academy/reports/cache.py, "certificates"): each change to what they
    read (the rule, attendance, a grade, a new trainee, a certificate issued or revoked) shows on the next view.

    Checked: fails with "certificates" taken out of reports/cache.py's TABLES (the first count stays).
    """
    from academy.courses.services import upsert_grade

    trainees = [world.trainee("가"), world.trainee("나", scores=(6.0, 6.0))]
    db.session.commit()
    auth.login(world.office)

    def grade_zero() -> None:
        upsert_grade(world.lab1, trainees[1], 0.0, "", world.instructor)
        upsert_grade(world.lab2, trainees[1], 0.0, "", world.instructor)
        db.session.commit()

    def new_trainee() -> None:
        world.trainee("다")
        db.session.commit()

    steps = [lambda: client.post("/admin/certificates/rule", data=ISSUING_RULE),
             lambda: _attend(client, world, trainees[0], 90), lambda: _attend(client, world, trainees[1], 95),
             grade_zero, new_trainee, lambda: client.post(f"/admin/certificates/cohorts/{world.cohort.id}/issue"),
             lambda: client.post(f"/admin/certificates/{_certificates()[0].id}/revoke", data={"reason": "오류"})]
    seen = []
    for step in steps:
        seen.append(_listed(client, world.cohort))
        assert seen[-1] == _shown(client, world.cohort), len(seen)
        step()
    assert _listed(client, world.cohort) == _shown(client, world.cohort)
    assert len(set(seen)) >= 4  # the counts did move along the way
