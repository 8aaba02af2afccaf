"""Years of a plausible academy, for measuring pages on big data (`flask academy seed-scale`).

Per year of data: 4 cohorts (one per university) of about 150 trainees in all, 2 courses of 6 labs,
10,000 graded submissions, 50 companies, 200 demands, one match round with consents, offers, placements
and follow-ups, and 20,000 audit entries. Ten years is what the issue asks the portal to stay fast on.

Rows go in with bulk INSERTs of plain dicts (executemany), never one ORM object at a time, and with ids
chosen here, so the whole graph is known before anything is written; PostgreSQL's id sequences are moved
past them at the end. The same --seed gives the same data.
"""
from __future__ import annotations

import random
import time
import tomllib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import generate_password_hash

from academy.admissions.models import Application, ApplicationEvent, Enrollment
from academy.audit.models import AuditEntry
from academy.auth.models import User
from academy.companies.models import CITIES, Company, Demand, DemandSkill, Sector
from academy.courses.models import (Assignment, AssignmentSkill, Course, DueDate, Grade, course_cohorts,
                                    course_instructors)
from academy.courses.seed import FEEDBACK
from academy.extensions import db
from academy.placements.models import (Consent, DemandFill, Evaluation, FollowUp, MatchOutcome, MatchRound, Offer,
                                       Placement, RoundDemand, ShortlistEntry)
from academy.privacy.seed import seed_consents
from academy.seed import COMPANY_KINDS, COMPANY_STEMS, DEMAND_TITLES, GIVEN, SURNAMES, UNIVERSITIES
from academy.skills.catalogue import seed_skills
from academy.skills.models import Skill
from academy.students.models import Profile, ProfileSkill, Project
from academy.students.seed import HEADLINES, PROJECTS
from academy.submissions.models import Submission, SubmissionCell
from academy.universities.models import Cohort, University

FIRST_YEAR = 2020  # cohorts.year must be 2020 or later (year_sane)
TRAINEES_PER_YEAR = 150
LABS_PER_COURSE = 6
SUBMISSIONS_PER_YEAR = 10_000
COMPANIES_PER_YEAR = 50
DEMANDS_PER_YEAR = 200
AUDIT_PER_YEAR = 20_000
INSTRUCTORS = 12
CHUNK = 5_000
MAJORS = ["기계공학", "산업공학", "전자공학", "컴퓨터공학", "조선해양공학", "통계학"]
PY_LABS = [("py1_pandas_basics", "판다스 기초", "pandas basics"),
           ("py2_cleaning", "센서 데이터 정제", "Cleaning sensor data"),
           ("py3_plots", "공정 데이터 시각화", "Plotting process data"),
           ("py4_groupby", "라인별 집계", "Aggregating by line"),
           ("py5_time_index", "시계열 인덱스 다루기", "Working with time indexes"),
           ("py6_report", "품질 보고서 자동화", "Automating a quality report")]
# What the audit log mostly holds, and how often (weights).
AUDIT_ACTIONS = [("personal_data.viewed", 40), ("submission.received", 25), ("access.denied", 8),
                 ("profile.updated", 6), ("enrollment.enrolled", 4), ("user.password_changed", 3),
                 ("offer.made", 3), ("consent.given", 5), ("placement.follow_up", 2), ("application.decided", 4)]


class ScaleRefused(RuntimeError):
    pass


def _ts(day: date, rng: random.Random) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=rng.randrange(86_400))


class _Writer:
    """Bulk-insert rows into one table after another and say how long each took."""

    def __init__(self, progress: Callable[[str], None]):
        self.progress = progress
        self.counts: dict[str, int] = {}

    def write(self, table: sa.Table, rows: list[dict]) -> None:
        started = time.perf_counter()
        for i in range(0, len(rows), CHUNK):
            db.session.execute(table.insert(), rows[i:i + CHUNK])
        self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)
        self.progress(f"  {table.name:<22} {len(rows):>8} rows  {time.perf_counter() - started:6.1f} s")


def empty_every_table() -> None:
    """Delete every row of every portal table (the schema and its migration stamp stay)."""
    db.session.flush()
    tables = db.metadata.sorted_tables
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    else:
        conn.execute(sa.text("PRAGMA defer_foreign_keys=ON"))
        for table in reversed(tables):
            conn.execute(table.delete())


def seed_scale(years: int, seed: int, password: str, force: bool = False,
               progress: Callable[[str], None] = print) -> tuple[dict[str, int], dict[str, str]]:
    """Fill an empty database with `years` years of academy data; return rows per table and one login per role."""
    if years < 1 or FIRST_YEAR + years - 1 > 2100:
        raise ScaleRefused(f"--years must be between 1 and {2100 - FIRST_YEAR + 1}")
    if db.session.scalar(sa.select(sa.func.count(User.id))):
        if not force:
            raise ScaleRefused("the database already has users: seed-scale only fills an empty one "
                               "(--force empties every table first)")
        empty_every_table()
    seed_skills()
    db.session.flush()
    started = time.perf_counter()
    gen = _Generator(years, random.Random(seed), generate_password_hash(password), _Writer(progress))
    logins = gen.run()
    _move_sequences_past_ids()
    consented = seed_consents()  # the trainees and recruiters have given the privacy policy's consent
    progress(f"policy_consents: {consented} people")
    progress(f"done in {time.perf_counter() - started:.1f} s")
    return gen.out.counts, logins


def _move_sequences_past_ids() -> None:
    conn = db.session.connection()
    if conn.dialect.name != "postgresql":
        return
    for table in db.metadata.sorted_tables:
        if "id" in table.c and table.c.id.primary_key and isinstance(table.c.id.type, sa.Integer):
            conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                 f"COALESCE((SELECT MAX(id) FROM \"{table.name}\"), 0) + 1, false)"))


class _Generator:
    """Build the rows year by year with ids chosen here, then write them table by table."""

    def __init__(self, years: int, rng: random.Random, pw_hash: str, out: _Writer):
        self.years = list(range(FIRST_YEAR, FIRST_YEAR + years))
        self.last = self.years[-1]
        self.rng = rng
        self.pw = pw_hash
        self.out = out
        self.skills = {s.code: s.id for s in db.session.scalars(sa.select(Skill))}
        self.users: list[dict] = []
        self.users_written = 0

    def _user(self, email: str, role: str, created: datetime, **kw) -> int:
        uid = len(self.users) + 1
        self.users.append(dict(id=uid, email=email, name=self.rng.choice(SURNAMES) + self.rng.choice(GIVEN),
                               role=role, password_hash=self.pw, is_enabled=True, session_token=f"{uid:032x}",
                               created_at=created, university_id=kw.get("university_id"),
                               company_id=kw.get("company_id")))
        return uid

    def _write_users(self) -> None:
        self.out.write(User.__table__, self.users[self.users_written:])
        self.users_written = len(self.users)

    def run(self) -> dict[str, str]:
        start = datetime(FIRST_YEAR - 1, 12, 1, tzinfo=UTC)
        self.admin = self._user("office@scale.test", "admin", start)
        self._universities(start)
        self.out.write(University.__table__, self.unis)
        self.out.write(Cohort.__table__, [c for y in self.years for c in self.cohorts[y]])
        self._write_users()
        self._companies()
        self.out.write(Company.__table__, self.companies)
        self._write_users()
        self.out.write(Demand.__table__, self.demands)
        self.out.write(DemandSkill.__table__, self.demand_skills)
        self._trainees()
        self._courses()
        self._submissions()
        self._placements()
        self._audit()
        first_trainee = self.users[self.trainees_by_year[self.last][0][0] - 1]["email"]
        return {"admin": "office@scale.test", "coordinator": "coord.inje@scale.test",
                "instructor": "instructor01@scale.test", "student": first_trainee,
                "recruiter": "recruiter0001@scale.test"}

    def _universities(self, start: datetime) -> None:
        self.unis = [dict(id=i + 1, code=code, name_ko=ko, name_en=en, city=city)
                     for i, (code, ko, en, city, _n) in enumerate(UNIVERSITIES)]
        self.coordinators = [self._user(f"coord.{u['code'].lower()}@scale.test", "coordinator", start,
                                        university_id=u["id"]) for u in self.unis]
        self.instructors = [self._user(f"instructor{i + 1:02d}@scale.test", "instructor", start,
                                       university_id=self.unis[i % 4]["id"]) for i in range(INSTRUCTORS)]
        self.cohorts: dict[int, list[dict]] = {}
        for y, year in enumerate(self.years):
            self.cohorts[year] = [
                dict(id=y * 4 + u + 1, university_id=uni["id"], year=year, name=f"{year}-1", capacity=45,
                     enrolled_count=self._per_cohort(u) if year == self.last else 0, is_open=year == self.last)
                for u, uni in enumerate(self.unis)]

    @staticmethod
    def _per_cohort(u: int) -> int:
        return TRAINEES_PER_YEAR // 4 + (1 if u < TRAINEES_PER_YEAR % 4 else 0)

    def _companies(self) -> None:
        rng, sectors, cities = self.rng, [s.value for s in Sector], list(CITIES)
        self.companies, self.demands, self.demand_skills = [], [], []
        self.recruiter_of: dict[int, int] = {}
        self.demands_by_year: dict[int, list[dict]] = {y: [] for y in self.years}
        n_companies = COMPANIES_PER_YEAR * len(self.years)
        for i in range(n_companies):
            year = self.years[i // COMPANIES_PER_YEAR]
            sector = sectors[i % len(sectors)]
            kinds = COMPANY_KINDS[sector]
            name = f"{COMPANY_STEMS[i % 20]}{kinds[(i // 8) % len(kinds)]} {i // 20 + 1}공장"
            status = "approved" if i % 25 != 24 else ("pending" if year == self.last else "rejected")
            created = _ts(date(year, 1, 5) + timedelta(days=rng.randrange(60)), rng)
            self.companies.append(dict(
                id=i + 1, name=name, sector=sector, city=cities[(i * 7) % len(cities)], size=["small", "medium", "large"][i % 3],
                description=f"경상남도 {CITIES[cities[(i * 7) % len(cities)]][0]} 소재 {name}", website="",
                status=status, review_reason="제출 서류 미비" if status == "rejected" else None,
                reviewed_by_id=self.admin if status != "pending" else None,
                reviewed_at=created + timedelta(days=3) if status != "pending" else None, created_at=created))
        for company in self.companies:
            self.recruiter_of[company["id"]] = self._user(
                f"recruiter{company['id']:04d}@scale.test", "recruiter", company["created_at"], company_id=company["id"])
        approved = [c for c in self.companies if c["status"] == "approved"]
        for i in range(DEMANDS_PER_YEAR * len(self.years)):
            year = self.years[i // DEMANDS_PER_YEAR]
            pool = [c for c in approved if c["created_at"].year <= year]
            company = pool[rng.randrange(len(pool))]
            code, title_ko, _en = DEMAND_TITLES[i % len(DEMAND_TITLES)]
            if year < self.last:
                status = "closed" if rng.random() < 0.9 else "approved"
            else:
                status = rng.choices(["approved", "submitted", "draft"], [6, 2, 2])[0]
            created = _ts(date(year, 3, 1) + timedelta(days=rng.randrange(120)), rng)
            demand = dict(id=i + 1, company_id=company["id"], title=title_ko, kind="internship" if i % 3 else "hire",
                          description=f"{company['name']}의 {title_ko} 과제에 참여할 훈련생을 찾습니다.",
                          headcount=1 + i % 3, start_date=date(year, 9, 1) + timedelta(days=7 * (i % 4)),
                          duration_months=[3, 6, 12][i % 3], work_city=company["city"], work_address="",
                          stipend_krw=[1_800_000, 2_000_000, 2_800_000][i % 3], status=status, review_reason=None,
                          reviewed_by_id=self.admin if status in ("approved", "closed") else None,
                          reviewed_at=created + timedelta(days=2) if status in ("approved", "closed") else None,
                          created_by_id=self.recruiter_of[company["id"]], created_at=created)
            self.demands.append(demand)
            self.demands_by_year[year].append(demand)
            self.demand_skills += [dict(demand_id=demand["id"], skill_id=self.skills[code], min_level=3),
                                   dict(demand_id=demand["id"], skill_id=self.skills["data_preparation"], min_level=2)]

    def _trainees(self) -> None:
        rng = self.rng
        apps, events, enrolments, profiles, pskills, projects = [], [], [], [], [], []
        self.trainees_by_year: dict[int, list[tuple[int, dict]]] = {}
        n = 0
        skill_ids = sorted(self.skills.values())
        for year in self.years:
            self.trainees_by_year[year] = []
            decided = datetime(year, 2, 20, 6, tzinfo=UTC)
            for u, cohort in enumerate(self.cohorts[year]):
                for _ in range(self._per_cohort(u)):
                    n += 1
                    uid = self._user(f"trainee{n:05d}@scale.test", "student", _ts(date(year, 1, 10), rng))
                    self.trainees_by_year[year].append((uid, cohort))
                    app_id = len(apps) + 1
                    submitted = _ts(date(year, 1, 15) + timedelta(days=rng.randrange(30)), rng)
                    apps.append(dict(id=app_id, student_id=uid, cohort_id=cohort["id"], status="admitted",
                                     motivation="제조 현장의 데이터를 다루는 AI 엔지니어가 되고 싶습니다.", background="",
                                     submitted_at=submitted, decided_at=decided,
                                     decided_by_id=self.coordinators[u], decision_reason="서류 및 면접 통과"))
                    events += [dict(id=len(events) + 1, application_id=app_id, from_status=None,
                                    to_status="submitted", by_id=uid, reason=None, at=submitted),
                               dict(id=len(events) + 2, application_id=app_id, from_status="submitted",
                                    to_status="admitted", by_id=self.coordinators[u], reason="서류 및 면접 통과", at=decided)]
                    done = year < self.last
                    enrolments.append(dict(id=len(enrolments) + 1, student_id=uid, cohort_id=cohort["id"],
                                           status="completed" if done else "active", enrolled_at=decided,
                                           ended_at=datetime(year, 8, 31, tzinfo=UTC) if done else None, end_reason=None))
                    profiles.append(dict(user_id=uid, headline=HEADLINES[n % len(HEADLINES)],
                                         about="경남 제조기업에서 AI 엔지니어로 일하고 싶습니다.", phone="",
                                         major=rng.choice(MAJORS)))
                    for skill_id in rng.sample(skill_ids, rng.randint(2, 4)):
                        pskills.append(dict(user_id=uid, skill_id=skill_id, level=rng.randint(1, 4)))
                    if n % 3 == 0:
                        title, description = PROJECTS[n % len(PROJECTS)]
                        projects.append(dict(id=len(projects) + 1, user_id=uid, title=title, description=description,
                                             url=f"https://github.com/academy-demo/trainee-{uid}"))
        # Applicants of the newest year still waiting for a decision: the coordinators' work.
        for i in range(12):
            n += 1
            uid = self._user(f"applicant{i + 1:02d}@scale.test", "student", _ts(date(self.last, 1, 20), rng))
            app_id = len(apps) + 1
            at = _ts(date(self.last, 1, 25), rng)
            apps.append(dict(id=app_id, student_id=uid, cohort_id=self.cohorts[self.last][i % 4]["id"],
                             status=["submitted", "under_review", "interview"][i % 3], motivation="지역 제조기업에서 일하고 싶습니다.",
                             background="", submitted_at=at, decided_at=None, decided_by_id=None, decision_reason=None))
            events.append(dict(id=len(events) + 1, application_id=app_id, from_status=None, to_status="submitted",
                               by_id=uid, reason=None, at=at))
        self._write_users()
        self.out.write(Application.__table__, apps)
        self.out.write(ApplicationEvent.__table__, events)
        self.out.write(Enrollment.__table__, enrolments)
        self.out.write(Profile.__table__, profiles)
        self.out.write(ProfileSkill.__table__, pskills)
        self.out.write(Project.__table__, projects)

    def _courses(self) -> None:
        rng = self.rng
        syllabus = tomllib.loads((current_app.config["COURSES_DIR"] / "manufacturing-ai" / "syllabus.toml").read_text())
        labs = sorted(syllabus["assignment"], key=lambda a: a["week"])[:LABS_PER_COURSE]
        courses, links, teaches, assignments, askills, dues, self.labs = [], [], [], [], [], [], []
        for y, year in enumerate(self.years):
            newest = year == self.last
            for k, (code, folder, ko, en) in enumerate([
                    ("MAI-101", "manufacturing-ai", syllabus["title_ko"], syllabus["title_en"]),
                    ("PY-100", "python-basics", "제조 데이터를 위한 파이썬", "Python for manufacturing data")]):
                cid = len(courses) + 1
                courses.append(dict(id=cid, code=f"{code}-{year}", title_ko=f"{ko} ({year})", title_en=f"{en} ({year})",
                                    nbgrader_course=folder if newest else f"{folder}-{year}", late_percent_per_day=10,
                                    late_max_deduction=50, late_cutoff_days=7))
                links += [dict(course_id=cid, cohort_id=c["id"]) for c in self.cohorts[year]]
                teaches += [dict(course_id=cid, user_id=self.instructors[k * 3 + j]) for j in range(3)]
                term = datetime(year, 3, 2, 14, tzinfo=UTC) + timedelta(weeks=10 * k)
                specs = labs if k == 0 else [dict(name=n, title_ko=t_ko, title_en=t_en, week=w + 1, points=10,
                                                  skills={"python_programming": 2, "data_preparation": 1})
                                             for w, (n, t_ko, t_en) in enumerate(PY_LABS)]
                for spec in specs:
                    aid = len(assignments) + 1
                    assignments.append(dict(id=aid, course_id=cid, nbgrader_name=spec["name"], title_ko=spec["title_ko"],
                                            title_en=spec["title_en"], week=spec["week"], needs_gpu=spec.get("gpu", False),
                                            max_points=float(spec["points"])))
                    askills += [dict(assignment_id=aid, skill_id=self.skills[c], level=lvl) for c, lvl in spec["skills"].items()]
                    due = term + timedelta(weeks=spec["week"])
                    dues += [dict(id=len(dues) + 1 + i, assignment_id=aid, cohort_id=c["id"], due_at=due,
                                  released_at=due - timedelta(days=7)) for i, c in enumerate(self.cohorts[year])]
                    self.labs.append((year, aid, float(spec["points"]), due))
        rng.shuffle(links)  # no meaning in the order the links are written
        self.out.write(Course.__table__, courses)
        self.out.write(course_cohorts, links)
        self.out.write(course_instructors, teaches)
        self.out.write(Assignment.__table__, assignments)
        self.out.write(AssignmentSkill.__table__, askills)
        self.out.write(DueDate.__table__, dues)

    def _submissions(self) -> None:
        rng = self.rng
        subs, grades, cells = [], [], []
        ability = {uid: rng.gauss(74, 12) for year in self.years for uid, _c in self.trainees_by_year[year]}
        for year in self.years:
            pairs = [(uid, lab) for lab in self.labs if lab[0] == year for uid, _c in self.trainees_by_year[year]]
            counts = [0 if rng.random() < 0.05 else rng.randint(1, 10) for _ in pairs]
            total = sum(counts)
            while total != SUBMISSIONS_PER_YEAR:
                i = rng.randrange(len(counts))
                if total < SUBMISSIONS_PER_YEAR:
                    counts[i] += 1
                    total += 1
                elif counts[i] > 0:
                    counts[i] -= 1
                    total -= 1
            for (uid, (_y, aid, points, due)), count in zip(pairs, counts, strict=True):
                if count:
                    self._attempts(uid, aid, points, due, count, ability[uid], subs, grades,
                                   cells if year == self.last else None)
        self.out.write(Submission.__table__, subs)
        self.out.write(SubmissionCell.__table__, cells)
        self.out.write(Grade.__table__, grades)

    def _attempts(self, uid: int, aid: int, points: float, due: datetime, count: int, ability: float,
                  subs: list, grades: list, cells: list | None) -> None:
        """One trainee's submissions of one lab, getting better, the last one sometimes a day or three late."""
        rng = self.rng
        at = due - timedelta(hours=rng.uniform(2, 24 * 7))
        last = None
        for attempt in range(count):
            if attempt:
                at += timedelta(hours=rng.uniform(0.2, 10))
            if attempt == count - 1 and rng.random() < 0.08:
                at = due + timedelta(hours=rng.uniform(1, 72))
            days_late = max(0, -(-int((at - due).total_seconds()) // 86_400))
            graded = rng.random() < 0.97
            percent = min(100.0, max(0.0, ability + 4 * attempt + rng.gauss(0, 8)))
            auto = round(points * percent / 100, 1) if graded else None
            penalty = round((auto or 0) * min(10 * days_late, 50) / 100, 1)
            sid = len(subs) + 1
            subs.append(dict(id=sid, assignment_id=aid, student_id=uid, received_at=at,
                             sha256=f"{rng.getrandbits(256):064x}", stored_path=f"submissions/{aid}/{uid}/{sid}",
                             size_bytes=rng.randint(20_000, 400_000),
                             status="graded" if graded else rng.choice(["error", "time_limit"]),
                             days_late=days_late, auto_score=auto, late_penalty=penalty if graded else 0.0,
                             feedback_path=None, message="" if graded else "커널이 제한 시간 안에 끝나지 않았습니다.",
                             job_id=None, queued_at=at, graded_at=at + timedelta(seconds=rng.randint(20, 180))))
            if graded:
                last = subs[-1]
                if cells is not None:
                    for j in range(3):
                        cells.append(dict(submission_id=sid, notebook="lab.ipynb", grade_id=f"test_{j + 1}", position=j,
                                          score=round(points / 3 * max(0.0, min(1.0, percent / 100 + rng.uniform(-0.2, 0.2))), 2),
                                          max_score=round(points / 3, 2)))
        if last is not None:
            grades.append(dict(id=len(grades) + 1, assignment_id=aid, student_id=uid,
                               score=max(0.0, round(last["auto_score"] - last["late_penalty"], 1)), max_score=points,
                               late_penalty=last["late_penalty"],
                               feedback=FEEDBACK[len(grades) % len(FEEDBACK)] if len(grades) % 10 == 0 else "",
                               source="autograde", graded_by_id=None, updated_at=last["graded_at"]))

    def _placements(self) -> None:
        """One round a year (a different university's cohort each year), the newest still open for opt-ins."""
        rng = self.rng
        t: dict[str, list[dict]] = {k: [] for k in ("rounds", "consents", "shortlist", "round_demands", "outcomes",
                                                     "offers", "placements", "fills", "evaluations", "follow_ups")}
        for y, year in enumerate(self.years):
            newest = year == self.last
            cohort = self.cohorts[year][y % 4]
            trainees = [uid for uid, c in self.trainees_by_year[year] if c is cohort]
            demands = [d for d in self.demands_by_year[year] if d["status"] in ("approved", "closed")][:40]
            opened = datetime(year, 6, 1, 1, tzinfo=UTC)
            matched = opened + timedelta(days=30)
            rid = y + 1
            t["rounds"].append(dict(id=rid, cohort_id=cohort["id"], status="open" if newest else "closed",
                                    seed=None if newest else rng.getrandbits(31), retention_until=date(self.last + 1, 12, 31),
                                    participants=0 if newest else len(trainees), created_by_id=self.admin,
                                    created_at=opened, matched_at=None if newest else matched,
                                    published_at=None if newest else matched + timedelta(days=2), purged_at=None))
            choices: dict[int, list[dict]] = {}
            for uid in trainees:
                choices[uid] = rng.sample(demands, min(3, len(demands)))
                for rank, demand in enumerate(choices[uid], start=1):
                    t["consents"].append(dict(id=len(t["consents"]) + 1, round_id=rid, student_id=uid, demand_id=demand["id"],
                                              notice="개인정보 제3자 제공 동의: 수신자 " + str(demand["company_id"]),
                                              given_at=opened + timedelta(hours=rng.uniform(1, 400)), withdrawn_at=None,
                                              choice_rank=rank))
            used = {d["id"]: d for ds in choices.values() for d in ds}
            for did, demand in sorted(used.items()):
                t["round_demands"].append(dict(round_id=rid, demand_id=did, capacity=None if newest else demand["headcount"],
                                               submitted_at=None if newest else opened + timedelta(days=20)))
                listed = [uid for uid, ds in choices.items() if demand in ds]
                rng.shuffle(listed)
                if not newest:
                    t["shortlist"] += [dict(id=len(t["shortlist"]) + i, round_id=rid, demand_id=did, student_id=uid,
                                            position=i, note="") for i, uid in enumerate(listed, start=1)]
            if not newest:
                self._match(rid, year, trainees, choices, used, matched, t)
        for name, table in [("rounds", MatchRound), ("round_demands", RoundDemand), ("consents", Consent),
                            ("shortlist", ShortlistEntry), ("outcomes", MatchOutcome), ("offers", Offer),
                            ("fills", DemandFill), ("placements", Placement), ("evaluations", Evaluation),
                            ("follow_ups", FollowUp)]:
            self.out.write(table.__table__, t[name])

    def _match(self, rid: int, year: int, trainees: list[int], choices: dict, used: dict, matched: datetime,
               t: dict[str, list[dict]]) -> None:
        rng = self.rng
        left = {did: d["headcount"] for did, d in used.items()}
        filled = dict.fromkeys(used, 0)
        for uid in rng.sample(trainees, len(trainees)):
            place = next(((rank, d) for rank, d in enumerate(choices[uid], start=1)
                          if left[d["id"]] > 0 and rng.random() < 0.8), None)
            if place is None:
                t["outcomes"].append(dict(id=len(t["outcomes"]) + 1, round_id=rid, student_id=uid, demand_id=None,
                                          choice=None, explanation_ko="희망한 수요의 정원이 모두 찼습니다.",
                                          explanation_en="Every demand you chose was full."))
                continue
            rank, demand = place
            left[demand["id"]] -= 1
            t["outcomes"].append(dict(id=len(t["outcomes"]) + 1, round_id=rid, student_id=uid, demand_id=demand["id"],
                                      choice=rank, explanation_ko=f"{rank}지망에 배정되었습니다.",
                                      explanation_en=f"Matched to your choice {rank}."))
            made = matched + timedelta(days=rng.randint(3, 10))
            status = rng.choices(["accepted", "declined", "expired"], [75, 15, 10])[0]
            oid = len(t["offers"]) + 1
            t["offers"].append(dict(id=oid, round_id=rid, demand_id=demand["id"], student_id=uid, status=status,
                                    deadline_at=made + timedelta(days=14), made_by_id=self.recruiter_of[demand["company_id"]],
                                    made_at=made, responded_at=None if status == "expired" else made + timedelta(days=rng.randint(1, 10))))
            if status != "accepted":
                continue
            filled[demand["id"]] += 1
            started = datetime.combine(demand["start_date"], datetime.min.time(), UTC)
            pid = len(t["placements"]) + 1
            t["placements"].append(dict(id=pid, offer_id=oid, round_id=rid, demand_id=demand["id"], student_id=uid,
                                        status="started" if year == self.last - 1 else "ended",
                                        accepted_at=made + timedelta(days=2), started_at=started))
            t["evaluations"].append(dict(id=len(t["evaluations"]) + 1, placement_id=pid, by="supervisor",
                                         rating=rng.choice([3, 4, 4, 5, 5]), comment="데이터 전처리와 보고가 성실함",
                                         recorded_by_id=self.recruiter_of[demand["company_id"]], recorded_at=started + timedelta(days=80)))
            employed = True
            for months, keep in ((3, 0.92), (6, 0.88), (12, 0.85)):
                at = started + timedelta(days=30 * months)
                if at > datetime(self.last, 12, 1, tzinfo=UTC):
                    break
                employed = employed and rng.random() < keep
                t["follow_ups"].append(dict(id=len(t["follow_ups"]) + 1, placement_id=pid, months=months, employed=employed,
                                            note="", recorded_by_id=self.admin, recorded_at=at))
        t["fills"] += [dict(demand_id=did, capacity=used[did]["headcount"], filled=n) for did, n in sorted(filled.items())]

    def _audit(self) -> None:
        rng = self.rng
        actions, weights = zip(*AUDIT_ACTIONS, strict=True)
        staff = [u["id"] for u in self.users if u["role"] != "student"]
        rows = []
        for year in self.years:
            trainees = [uid for uid, _c in self.trainees_by_year[year]]
            begin = datetime(year, 1, 1, tzinfo=UTC)
            for action in rng.choices(actions, weights, k=AUDIT_PER_YEAR):
                subject = rng.choice(trainees)
                actor = subject if action in ("submission.received", "profile.updated", "consent.given") else rng.choice(staff)
                rows.append(dict(id=len(rows) + 1, at=begin + timedelta(seconds=rng.randrange(365 * 86_400)),
                                 actor_id=actor, action=action, subject_user_id=subject, object_type=None,
                                 object_id=None, detail=None, ip=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"))
        rows.sort(key=lambda r: r["at"])
        for i, row in enumerate(rows, start=1):
            row["id"] = i
        self.out.write(AuditEntry.__table__, rows)
