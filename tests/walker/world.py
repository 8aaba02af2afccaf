"""The walker's world: two of everything, so every id has an owner and someone else's twin.

Side A belongs to the signed-in walkers (the office, coordinator A, instructor A, trainee A, recruiter A);
side B is the same records of another university, course, trainee and company. Built through the
services, the way the portal makes them, so every record is in a state the pages can show.
Ids are deterministic (the database is emptied with its sequences before each build), so a form found
on one build posts to the same ids on the next.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from academy.admissions import services as admissions
from academy.auth import invitations
from academy.auth.models import User
from academy.certificates import services as certificates
from academy.companies.models import Company, Demand, DemandSkill
from academy.courses import services as courses
from academy.courses.models import Assignment, AssignmentSkill, Course
from academy.extensions import db
from academy.integrations.service_tokens import RESULTS, derive, manual_scope
from academy.oauth.models import OAuthClient, OAuthToken
from academy.oauth.tokens import digest
from academy.placements import consent, offers, rounds
from academy.placements.models import Placement
from academy.notifications.services import notify
from academy.privacy.seed import seed_consents
from academy.privacy.services import file_request
from academy.skills.catalogue import seed_skills
from academy.skills.models import Skill
from academy.students import services as students
from academy.submissions import services as submissions
from academy.universities.models import Cohort, University

PASSWORD = "correct-horse-battery-staple"
# One cheap hash for every account: the walker signs in six roles for every rule it walks.
_CHEAP_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")
GRADER_SECRET = "walker-grader-master-secret"
HUB_CLIENT_SECRET = "walker-hub-client-secret-0123456789abcdef"
HUB_REDIRECT = "http://127.0.0.1:8000/hub/oauth_callback"
# Trainee A's certificate's public id (the verification address); the walker's STRING_POOLS names it.
CERTIFICATE_PUBLIC_ID = "walker-certificate-a-0123456789a"
# No record of any table ever has this id; below 2**31 so it is a valid id on every backend.
MISSING = 2_000_000_000


@dataclass
class World:
    """Who signs in, and which ids are whose."""

    users: dict[str, str] = field(default_factory=dict)  # role -> the e-mail of the walker's account (side A)
    # converter name -> role -> (own ids, someone else's ids). "*" is every role not named.
    ids: dict[str, dict[str, tuple[list[int], list[int]]]] = field(default_factory=dict)
    bearer: dict[str, str] = field(default_factory=dict)  # "own", "other", "expired", "revoked" -> raw token
    service: dict[str, str] = field(default_factory=dict)  # "results", "manual_own", "manual_other" -> token
    json_examples: dict[str, dict] = field(default_factory=dict)  # endpoint -> a body the API accepts
    invitation_token: str = ""

    def pools(self, arg: str, role: str) -> tuple[list[int], list[int]]:
        by_role = self.ids[arg]
        return by_role.get(role) or by_role["*"]


def _user(role: str, email: str, **kw):
    user = User(email=email, name=kw.pop("name", email.split("@")[0]), role=role, password_hash=_CHEAP_HASH, **kw)
    db.session.add(user)
    db.session.flush()
    return user


def _token(client, user, *, expires_in: timedelta = timedelta(hours=1), revoked: bool = False) -> str:
    raw = secrets.token_urlsafe(24)
    row = OAuthToken(token_hash=digest(raw), client_id=client.id, user_id=user.id,
                     expires_at=datetime.now(UTC) + expires_in)
    if revoked and hasattr(row, "revoked_at"):
        row.revoked_at = datetime.now(UTC)
    db.session.add(row)
    db.session.flush()
    return raw


def build_world(app) -> World:
    """Create both sides' records and return who owns which id."""
    seed_skills()
    db.session.flush()
    skill = db.session.scalar(sa.select(Skill).where(Skill.code == "predictive_maintenance"))
    w = World()
    admin = _user("admin", "office@walk.test")
    province = _user("province", "province@walk.test")  # read-only: the reports, aggregates only

    # Universities, cohorts, coordinators.
    ua = University(code="UA", name_ko="가대학", name_en="University A", city="changwon")
    ub = University(code="UB", name_ko="나대학", name_en="University B", city="jinju")
    db.session.add_all([ua, ub])
    db.session.flush()
    ca = Cohort(university=ua, year=2027, name="2027-A", capacity=10)
    cb = Cohort(university=ub, year=2027, name="2027-B", capacity=10)
    db.session.add_all([ca, cb])
    db.session.flush()
    coord_a = _user("coordinator", "coord.a@walk.test", university_id=ua.id)
    _user("coordinator", "coord.b@walk.test", university_id=ub.id)

    # Trainees: A (the walker), A2 (a classmate whose enrolment the coordinator may end), B (elsewhere).
    s_a, s_a2, s_b = (_user("student", f"{n}@walk.test") for n in ("trainee.a", "trainee.a2", "trainee.b"))
    applications = {}
    for student, cohort in ((s_a, ca), (s_a2, ca), (s_b, cb)):
        application = admissions.submit_application(student, cohort, "제조 AI를 배우고 싶습니다.")
        admissions.move_application(application, "under_review", admin, None)
        admissions.move_application(application, "admitted", admin, "서류 통과")
        applications[student.id] = application
    # Applicants waiting for a decision, one per university; trainee A also applied to cohort B.
    x_a, x_b = _user("student", "applicant.a@walk.test"), _user("student", "applicant.b@walk.test")
    app_xa = admissions.submit_application(x_a, ca, "지원합니다.")
    app_xb = admissions.submit_application(x_b, cb, "지원합니다.")
    app_a_to_b = admissions.submit_application(s_a, cb, "두 번째 지원입니다.")
    enrol = {s.id: admissions.enroll(s, c) for s, c in ((s_a, ca), (s_a2, ca), (s_b, cb))}  # admitted: enrolled

    # Imported trainees with invitations (one per university).
    i_a, i_b = _user("student", "invited.a@walk.test"), _user("student", "invited.b@walk.test")
    inv_a, inv_b = invitations.invite([(i_a, ua.id), (i_b, ub.id)], created_by=coord_a)
    w.invitation_token = invitations.token_for(inv_a)

    # Courses: A taught by instructor A to cohort A, B by instructor B to cohort B.
    ins_a, ins_b = _user("instructor", "instructor.a@walk.test"), _user("instructor", "instructor.b@walk.test")
    k_a = Course(code="KA", title_ko="과정A", title_en="Course A", nbgrader_course="manufacturing-ai",
                 cohorts=[ca], instructors=[ins_a])
    k_b = Course(code="KB", title_ko="과정B", title_en="Course B", nbgrader_course="walker-course-b",
                 cohorts=[cb], instructors=[ins_b])
    db.session.add_all([k_a, k_b])
    db.session.flush()
    assignments = {}
    for course in (k_a, k_b):
        a = Assignment(course=course, nbgrader_name="lab1_predictive_maintenance", title_ko="실습1", title_en="Lab 1",
                       max_points=10.0)
        a.skills = [AssignmentSkill(skill=skill, level=3)]
        db.session.add(a)
        db.session.flush()
        assignments[course.id] = a
    a_a, a_b = assignments[k_a.id], assignments[k_b.id]
    now = datetime.now(UTC)
    courses.set_due_date(a_a, ca, now + timedelta(days=7), released_at=now - timedelta(days=1))
    courses.set_due_date(a_b, cb, now + timedelta(days=7), released_at=now - timedelta(days=1))
    x_ta = courses.grant_extension(a_a, s_a, now + timedelta(days=9), "병가", ins_a)
    x_tb = courses.grant_extension(a_b, s_b, now + timedelta(days=9), "병가", ins_b)
    courses.upsert_grade(a_a, s_a, 8.0, "잘했습니다.", ins_a)
    courses.upsert_grade(a_b, s_b, 7.0, "좋습니다.", ins_b)

    # Submissions (graded, with feedback) of trainee A and trainee B.
    app.config["SUBMISSIONS_ENQUEUE"] = lambda sub, files: f"walker-job-{sub.id}"
    nb = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    sub_ids = {}
    for student, assignment in ((s_a, a_a), (s_b, a_b)):
        sub = submissions.receive_submission(assignment, student, {"lab1.ipynb": nb})
        submissions.record_result({"submission_id": sub.id, "status": "graded", "auto_score": 8,
                                   "max_auto_score": 10, "feedback_html": "<p>잘했습니다</p>"})
        sub_ids[student.id] = sub.id
    # A second submission of trainee A still queued: the results API has one to grade.
    queued = submissions.receive_submission(a_a, s_a, {"lab1.ipynb": nb})

    # Profiles and projects.
    p_a = students.add_project(s_a, "진동 대시보드", "CWRU 데이터", "https://example.org/a")
    p_b = students.add_project(s_b, "결함 분류기", "NEU-DET", "https://example.org/b")

    # Companies, recruiters and demands.
    co_a = Company(name="가회사", sector="machinery", city="changwon", size="small", status="approved")
    co_b = Company(name="나회사", sector="machinery", city="jinju", size="small", status="approved")
    db.session.add_all([co_a, co_b])
    db.session.flush()
    rec_a = _user("recruiter", "recruiter.a@walk.test", company_id=co_a.id)
    _user("recruiter", "recruiter.b@walk.test", company_id=co_b.id)

    def demand(company, title, status, headcount=2):
        d = Demand(company=company, title=title, kind="internship", headcount=headcount,
                   start_date=date.today() + timedelta(days=60), duration_months=6, work_city=company.city,
                   status=status)
        d.skills = [DemandSkill(skill=skill, min_level=2)]
        db.session.add(d)
        db.session.flush()
        return d

    d_a, d_a2, d_draft = demand(co_a, "예지보전", "approved"), demand(co_a, "비전검사", "approved"), \
        demand(co_a, "초안", "draft")
    d_b = demand(co_b, "용접검사", "approved")

    # Rounds: each cohort's first round is published with a started placement and an open offer;
    # cohort A has a second round open for opt-ins and shortlists.
    keep = date.today() + timedelta(days=365)
    r_a, r_b = rounds.open_round(ca, keep, admin), rounds.open_round(cb, keep, admin)
    consents = {}
    for student, ds in ((s_a, (d_a, d_a2)), (s_a2, (d_a,)), (s_b, (d_b,))):
        for d in ds:
            consents[(student.id, d.id)] = consent.give_consent(student, d, agreed=True)
    placements = {}
    for r, d, student, recruiter in ((r_a, d_a, s_a, rec_a), (r_b, d_b, s_b, admin)):
        lines = rounds.shortlist(r, d)
        rounds.save_shortlist(r, d, {ln.trainee.id: i for i, ln in enumerate(lines, 1)}, {}, submit=True)
        rounds.run_round(r, admin, 7)
        rounds.publish_round(r, admin)
        offer = offers.make_offer(r, d, student.id, now + timedelta(days=14), recruiter)
        offers.respond_to_offer(offer, student, accept=True)
        db.session.flush()
        placement = db.session.scalar(sa.select(Placement).where(Placement.offer_id == offer.id))
        offers.confirm_start(placement, student)
        placements[student.id] = placement
    open_offer = offers.make_offer(r_a, d_a2, s_a.id, now + timedelta(days=14), rec_a)
    other_offer = offers.make_offer(r_a, d_a, s_a2.id, now + timedelta(days=14), rec_a)
    r_a2 = rounds.open_round(ca, keep, admin)
    consent.give_consent(s_a, d_a, agreed=True)
    consent.give_consent(s_a2, d_a, agreed=True)

    # Certificates of completion: trainee A's (cohort A) and trainee B's (cohort B), both in force.
    certs = {}
    for student, cohort in ((s_a, ca), (s_b, cb)):
        certificates.set_attendance(cohort, student, 95, admin)
        certs[student.id] = certificates.issue_certificate(cohort, student, admin)
    certs[s_a.id].public_id = CERTIFICATE_PUBLIC_ID

    # The hub's OAuth client, bearer tokens, the grading services' tokens.
    client = OAuthClient(client_id="jupyterhub", secret_hash=digest(HUB_CLIENT_SECRET), name="hub",
                         redirect_uris=HUB_REDIRECT)
    db.session.add(client)
    db.session.flush()
    w.bearer = {"own": _token(client, s_a), "other": _token(client, s_b),
                "expired": _token(client, s_a, expires_in=-timedelta(minutes=1)),
                "instructor": _token(client, ins_a)}
    app.config["GRADER_TOKEN"] = GRADER_SECRET
    w.service = {"results": derive(GRADER_SECRET, RESULTS), "manual_own": derive(GRADER_SECRET, manual_scope(k_a.id)),
                 "manual_other": derive(GRADER_SECRET, manual_scope(k_b.id))}
    w.json_examples = {
        "submissions.api_grading_result": {"submission_id": queued.id, "status": "graded", "auto_score": 8.5,
                                           "max_auto_score": 10, "max_total_score": 10, "student_id": str(s_a.id),
                                           "assignment": a_a.nbgrader_name, "message": "ok",
                                           "feedback_html": "<p>ok</p>"},
        "grading_api.api_manual_total": {"course": k_a.nbgrader_course, "assignment": a_a.nbgrader_name,
                                         "student": str(s_a.id), "score": 7.5, "max_score": 10.0,
                                         "manually_graded": 1, "needs_manual_grade": ["lab1/q3"]},
    }

    w.users = {"admin": admin.email, "coordinator": coord_a.email, "instructor": ins_a.email, "student": s_a.email,
               "recruiter": rec_a.email, "province": province.email}
    seed_consents()  # the world's trainees and recruiters have consented to the privacy policy
    privacy_a = file_request(s_a, "correction", "전공 정정")
    privacy_b = file_request(s_b, "deletion", "")
    note_a = notify(s_a, "offer_expiring", "a", "a", "/my/placement")
    note_b = notify(s_b, "offer_expiring", "b", "b", "/my/placement")
    w.ids = {
        # Universities and cohorts: the office's to edit; a coordinator's own university's cohort.
        "university_id": {"*": ([ua.id], [ub.id])},
        "cohort_id": {"coordinator": ([ca.id], [cb.id]), "*": ([ca.id], [cb.id])},
        "company_id": {"*": ([co_a.id], [co_b.id])},
        "demand_id": {"recruiter": ([d_a.id, d_draft.id], [d_b.id]), "*": ([d_a.id, d_draft.id], [d_b.id])},
        "round_id": {"recruiter": ([r_a2.id, r_a.id], [r_b.id]), "*": ([r_a.id, r_a2.id], [r_b.id])},
        "user_id": {"*": ([s_a2.id], [s_b.id])},
        "application_id": {"coordinator": ([app_xa.id], [app_xb.id]),
                           "student": ([applications[s_a.id].id, app_a_to_b.id], [applications[s_b.id].id]),
                           "*": ([app_xa.id], [app_xb.id])},
        "enrollment_id": {"*": ([enrol[s_a2.id].id], [enrol[s_b.id].id])},
        "invitation_id": {"*": ([inv_a.id], [inv_b.id])},
        "course_id": {"*": ([k_a.id], [k_b.id])},
        "assignment_id": {"*": ([a_a.id], [a_b.id])},
        "extension_id": {"*": ([x_ta.id], [x_tb.id])},
        "student_id": {"*": ([s_a.id], [s_b.id])},
        "submission_id": {"*": ([sub_ids[s_a.id]], [sub_ids[s_b.id]])},
        "consent_id": {"*": ([consents[(s_a.id, d_a.id)].id], [consents[(s_b.id, d_b.id)].id])},
        "offer_id": {"*": ([open_offer.id], [other_offer.id])},
        "placement_id": {"*": ([placements[s_a.id].id], [placements[s_b.id].id])},
        "project_id": {"*": ([p_a.id], [p_b.id])},
        "certificate_id": {"*": ([certs[s_a.id].id], [certs[s_b.id].id])},
        "request_id": {"*": ([privacy_a.id], [privacy_b.id])},
        "notification_id": {"*": ([note_a.id], [note_b.id])},
        # The catalogue is the office's alone: one skill with evidence, one that nothing names.
        "skill_id": {"*": ([skill.id], [db.session.scalar(sa.select(Skill.id).where(Skill.code == "mlops"))])},
    }
    db.session.commit()
    return w
