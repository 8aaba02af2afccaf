"""Deterministic demo data: four universities, 150 trainees in 2027, 40 companies, 60 demands."""
from __future__ import annotations

import random
import tomllib
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import generate_password_hash

from academy.admissions.models import Application, ApplicationEvent
from academy.admissions.services import enroll
from academy.auth.models import User
from academy.companies.models import CITIES, Company, CompanySize, Demand, DemandSkill, Sector
from academy.courses.models import Assignment, AssignmentSkill, Course, DueDate, Grade
from academy.extensions import db
from academy.privacy.seed import seed_consents
from academy.skills.catalogue import seed_skills
from academy.skills.models import Skill
from academy.students.models import Profile
from academy.universities.models import Cohort, University

UNIVERSITIES = [
    # code, Korean, English, city, trainees enrolled in 2027
    ("INJE", "인제대학교", "Inje University", "gimhae", 38),
    ("KYUNGNAM", "경남대학교", "Kyungnam University", "changwon", 37),
    ("CWNU", "국립창원대학교", "Changwon National University", "changwon", 38),
    ("GNU", "경상국립대학교", "Gyeongsang National University", "jinju", 37),
]
SURNAMES = list("김이박최정강조윤장임한오서신권황안송류홍")
GIVEN = ["민준", "서연", "도윤", "서윤", "하준", "지우", "시우", "하은", "주원", "지민", "지호", "수아", "준서",
         "예은", "현우", "윤서", "건우", "채원", "우진", "지유", "선우", "다은", "연우", "은서", "유준", "예린",
         "정우", "소율", "승현", "가은", "준혁", "수빈", "태윤", "민서", "동현", "하린", "재윤", "서현", "민재", "지안"]
COMPANY_STEMS = ["한결", "대성", "동진", "세진", "가야", "남해", "창성", "진영", "대원", "서진", "우림", "태광",
                 "한빛", "금강", "성우", "명진", "삼호", "영남", "청해", "동양"]
COMPANY_KINDS = {
    "machinery": ["정밀기계", "공작기계", "유압"], "auto_parts": ["오토텍", "모터스 부품", "차체"],
    "shipbuilding": ["조선기자재", "해양플랜트", "선박엔진"], "aerospace": ["에어로", "항공부품"],
    "defense": ["방산정밀", "디펜스"], "nuclear": ["원전기기", "뉴클리어"], "electronics": ["전자", "센서"],
    "other": ["소재", "스마트팩토리"],
}
DEMAND_TITLES = [
    ("predictive_maintenance", "설비 예지보전 모델 개발", "Predictive maintenance for CNC lines"),
    ("computer_vision_inspection", "용접 비드 비전 검사 자동화", "Vision inspection of weld beads"),
    ("time_series_regression", "공정 에너지 사용량 예측", "Forecasting process energy use"),
    ("signal_processing", "회전체 진동 이상 진단", "Vibration diagnosis of rotating machinery"),
    ("rul_prognostics", "엔진 부품 잔존수명 예측", "RUL prediction for engine parts"),
    ("imbalanced_classification", "강판 불량 분류 모델", "Steel plate defect classification"),
]


class DemoExists(RuntimeError):
    pass


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _user(email: str, name: str, role: str, pw_hash: str, **kw) -> User:
    user = User(email=email, name=name, role=role, password_hash=pw_hash, **kw)
    db.session.add(user)
    return user


def seed(password: str) -> dict[str, str]:
    """Create the demo data in an empty database and return one login e-mail per role."""
    if db.session.scalar(sa.select(sa.func.count(University.id))):
        raise DemoExists("the database already has data: seed-demo only fills an empty one")
    rng = random.Random(2027)
    # One hash for every demo account: hashing 250 passwords with scrypt would take a minute.
    pw = generate_password_hash(password)
    seed_skills()
    db.session.flush()
    skills = {s.code: s for s in db.session.scalars(sa.select(Skill))}

    admin = _user("office@academy.test", "경남AI혁신아카데미 사무국", "admin", pw)
    universities, cohorts = [], []
    for code, ko, en, city, _n in UNIVERSITIES:
        uni = University(code=code, name_ko=ko, name_en=en, city=city)
        db.session.add(uni)
        universities.append(uni)
        cohorts.append(Cohort(university=uni, year=2027, name="2027-1", capacity=40))
    db.session.add_all(cohorts)
    db.session.flush()

    coordinators = [
        _user(f"coord.{u.code.lower()}@academy.test", _name(rng), "coordinator", pw, university_id=u.id)
        for u in universities
    ]
    instructors = [
        _user(f"instructor{i + 1:02d}@academy.test", _name(rng), "instructor", pw,
              university_id=universities[i % 4].id)
        for i in range(12)
    ]
    db.session.flush()

    # 150 trainees, admitted through the real workflow so every enrolment has its history.
    trainees = []
    n = 0
    for (code, *_rest, count), cohort, coordinator in zip(UNIVERSITIES, cohorts, coordinators, strict=True):
        for _ in range(count):
            n += 1
            trainee = _user(f"trainee{n:03d}@academy.test", _name(rng), "student", pw)
            db.session.flush()
            db.session.add(Profile(user_id=trainee.id, major=rng.choice(["기계공학", "산업공학", "전자공학", "컴퓨터공학", "조선해양공학", "통계학"])))
            app = Application(student_id=trainee.id, cohort_id=cohort.id, status="admitted",
                              motivation="제조 현장의 데이터를 다루는 AI 엔지니어가 되고 싶습니다.",
                              decided_by_id=coordinator.id, decided_at=datetime(2027, 2, 20, tzinfo=UTC),
                              decision_reason="서류 및 면접 통과")
            app.events = [ApplicationEvent(to_status="submitted", by_id=trainee.id),
                          ApplicationEvent(from_status="submitted", to_status="admitted", by_id=coordinator.id,
                                           reason="서류 및 면접 통과")]
            db.session.add(app)
            enroll(trainee, cohort)
            trainees.append((trainee, cohort))
    # A few applicants waiting for a decision, so coordinators have work on their home page.
    for i in range(12):
        n += 1
        applicant = _user(f"applicant{i + 1:02d}@academy.test", _name(rng), "student", pw)
        db.session.flush()
        cohort = cohorts[i % 4]
        status = ["submitted", "under_review", "interview"][i % 3]
        db.session.add(Application(student_id=applicant.id, cohort_id=cohort.id, status=status,
                                   motivation="지역 제조기업에서 일하고 싶습니다.",
                                   events=[ApplicationEvent(to_status="submitted", by_id=applicant.id)]))

    # Courses: the nbgrader labs, offered to every 2027 cohort.
    syllabus = tomllib.loads((current_app.config["COURSES_DIR"] / "manufacturing-ai" / "syllabus.toml").read_text())
    course = Course(code="MAI-101", title_ko=syllabus["title_ko"], title_en=syllabus["title_en"],
                    nbgrader_course=syllabus["course_id"], instructors=instructors[:3], cohorts=cohorts)
    # One course, one nbgrader folder: PY-100 has a folder of its own (empty until its labs are written).
    basics = Course(code="PY-100", title_ko="제조 데이터를 위한 파이썬", title_en="Python for manufacturing data",
                    nbgrader_course="python-basics", instructors=instructors[3:6], cohorts=cohorts)
    db.session.add_all([course, basics])
    term_start = datetime(2027, 3, 2, tzinfo=UTC)
    for spec in syllabus["assignment"]:
        assignment = Assignment(course=course, nbgrader_name=spec["name"], title_ko=spec["title_ko"],
                                title_en=spec["title_en"], week=spec["week"], needs_gpu=spec.get("gpu", False),
                                max_points=float(spec["points"]))
        assignment.skills = [AssignmentSkill(skill=skills[c], level=lvl) for c, lvl in spec["skills"].items()]
        due = term_start + timedelta(weeks=spec["week"], hours=14)  # Tuesdays 23:00 KST
        assignment.due_dates = [DueDate(cohort=c, due_at=due, released_at=due - timedelta(days=7)) for c in cohorts]
        db.session.add(assignment)
    db.session.flush()
    # Grades for the first two labs, so profiles and gradebooks have something to show.
    for assignment in course.assignments[:2]:
        for trainee, _cohort in trainees:
            percent = min(100.0, max(20.0, rng.gauss(78, 12)))
            score = round(assignment.max_points * percent / 100, 1)
            db.session.add(Grade(assignment_id=assignment.id, student_id=trainee.id, score=score,
                                 max_score=assignment.max_points, source="autograde", feedback=""))

    # Profiles, projects, extensions and feedback, so every trainee and instructor page has content.
    from academy.courses.seed import seed_courses
    from academy.students.seed import seed_trainees

    db.session.flush()
    seed_trainees()
    seed_courses()

    # 40 companies across the province's sectors and cities, 34 approved.
    sectors = [s.value for s in Sector]
    cities = list(CITIES)
    companies = []
    for i in range(40):
        sector = sectors[i % len(sectors)]
        name = f"{COMPANY_STEMS[i % 20]}{COMPANY_KINDS[sector][i % len(COMPANY_KINDS[sector])]}"
        if i >= 20:
            name += " 2공장"
        status = "approved" if i < 34 else "pending"
        company = Company(name=name, sector=sector, city=cities[(i * 7) % len(cities)],
                          size=[CompanySize.SMALL, CompanySize.MEDIUM, CompanySize.LARGE][i % 3].value,
                          description=f"경상남도 {CITIES[cities[(i * 7) % len(cities)]][0]} 소재 {name}",
                          status=status, reviewed_by_id=admin.id if status == "approved" else None,
                          reviewed_at=datetime(2027, 1, 10, tzinfo=UTC) if status == "approved" else None)
        db.session.add(company)
        companies.append(company)
    db.session.flush()
    recruiters = [
        _user(f"recruiter{i + 1:02d}@academy.test", _name(rng), "recruiter", pw, company_id=c.id)
        for i, c in enumerate(companies)
    ]
    db.session.flush()

    # 60 demands: 40 approved, 12 waiting for the office, 8 drafts.
    for i in range(60):
        company = companies[i % 34]
        skill_code, title_ko, _title_en = DEMAND_TITLES[i % len(DEMAND_TITLES)]
        status = "approved" if i < 40 else ("submitted" if i < 52 else "draft")
        demand = Demand(company=company, title=title_ko, kind="internship" if i % 3 else "hire",
                        description=f"{company.name}의 {title_ko} 과제에 참여할 훈련생을 찾습니다.",
                        headcount=1 + i % 3, start_date=date(2027, 9, 1) + timedelta(days=7 * (i % 4)),
                        duration_months=[3, 6, 12][i % 3], work_city=company.city,
                        stipend_krw=[1_800_000, 2_000_000, 2_800_000][i % 3], status=status,
                        created_by_id=recruiters[i % 34].id,
                        reviewed_by_id=admin.id if status == "approved" else None,
                        reviewed_at=datetime(2027, 4, 1, tzinfo=UTC) if status == "approved" else None)
        demand.skills = [DemandSkill(skill=skills[skill_code], min_level=3),
                         DemandSkill(skill=skills["data_preparation"], min_level=2)]
        db.session.add(demand)
    db.session.flush()
    # Consents, rankings, a published round with offers and a started placement.
    from academy.placements.seed import seed_placements

    seed_placements()
    seed_consents()
    # The provincial department's read-only account (aggregate figures only), made last so that every
    # other demo record keeps its id.
    province = _user("province@academy.test", "경상남도 산업혁신과", "province", pw)
    db.session.flush()
    return {
        "admin": admin.email,
        "coordinator": coordinators[0].email,
        "instructor": instructors[0].email,
        "student": trainees[0][0].email,
        "recruiter": recruiters[0].email,
        "province": province.email,
    }
