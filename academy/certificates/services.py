"""Certificates of completion: the completion rule, who meets it, issuing, revoking and verifying.

Services change rows and leave the commit to the request (or the CLI); each refusal is a named error whose
message the office reads as it is.
"""
from __future__ import annotations

import json
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import gettext as _

from academy.admissions.models import Enrollment, EnrollmentStatus
from academy.audit.services import record
from academy.auth.models import User
from academy.certificates.models import DEFAULT_RULE, Attendance, Certificate, CompletionRule
from academy.courses.models import Assignment, Course, Grade, course_cohorts
from academy.extensions import db
from academy.placements.profiles import competency_profile
from academy.reports import cache
from academy.universities.models import Cohort
from academy.util import utcnow

# token_urlsafe(24): 32 characters, 192 random bits; the verification page refuses anything else unread.
PUBLIC_ID_BYTES = 24
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{32}")
SERIAL_PREFIX = "GNAI"
# Trainees whose enrolment counts towards completion (a withdrawn trainee does not complete).
COUNTED = (EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED)


class CertificateError(ValueError):
    """A certificate action the rules refuse; the message says why."""


class NotEligible(CertificateError):
    """The trainee does not meet the completion rule."""


class AlreadyIssued(CertificateError):
    """The trainee already holds a certificate in force for the cohort."""


class NotInCohort(CertificateError):
    """The trainee is not (or no longer) a trainee of the cohort."""


class AlreadyRevoked(CertificateError):
    """The certificate was revoked before."""


# --- the rule -------------------------------------------------------------------------------


def get_rule() -> CompletionRule:
    """Return the office's rule; until it saves one, the default (not added to the session: a page writes nothing)."""
    return db.session.get(CompletionRule, 1) or CompletionRule(id=1, **DEFAULT_RULE)


def update_rule(actor: User, **values: int) -> CompletionRule:
    """Save the office's completion rule; the change is audited with the values before and after."""
    rule = db.session.get(CompletionRule, 1)
    before = rule.values() if rule else dict(DEFAULT_RULE)
    if rule is None:
        rule = CompletionRule(id=1, **DEFAULT_RULE)
        db.session.add(rule)
    for key in DEFAULT_RULE:
        value = int(values[key])
        if not 0 <= value <= 100:
            raise CertificateError(_("Each value must be between 0 and 100."))
        setattr(rule, key, value)
    rule.updated_at, rule.updated_by_id = utcnow(), actor.id
    record("certificates.rule_changed", obj=rule, actor_id=actor.id, detail={"before": before, "after": rule.values()})
    db.session.flush()
    return rule


def unmet(rule: CompletionRule, passed: int, counted: int, attendance: int | None) -> list[str]:
    """Return what a trainee still lacks under the rule, in words (empty: they complete)."""
    lacks = []
    if passed < rule.min_courses_passed:
        lacks.append(_("%(passed)d of %(needed)d courses passed", passed=passed, needed=rule.min_courses_passed))
    share = 100 * passed / counted if counted else 0
    if share < rule.min_share_percent:
        lacks.append(_("%(share)d in 100 of the courses passed, %(needed)d in 100 needed",
                       share=int(share), needed=rule.min_share_percent))
    if rule.min_attendance_percent and attendance is None:
        lacks.append(_("no attendance recorded"))
    elif attendance is not None and attendance < rule.min_attendance_percent:
        lacks.append(_("attendance %(got)d in 100, %(needed)d in 100 needed",
                       got=attendance, needed=rule.min_attendance_percent))
    return lacks


# --- who meets it ----------------------------------------------------------------------------


@dataclass(slots=True)
class CourseResult:
    course: Course
    percent: float
    passed: bool


@dataclass(slots=True)
class Standing:
    """One trainee of a cohort measured against the rule."""

    trainee: User
    courses: list[CourseResult] = field(default_factory=list)
    attendance: int | None = None
    lacks: list[str] = field(default_factory=list)
    certificate: Certificate | None = None

    @property
    def passed(self) -> int:
        return sum(1 for c in self.courses if c.passed)

    @property
    def eligible(self) -> bool:
        return not self.lacks


def cohort_courses(cohort: Cohort) -> list[Course]:
    """Return the cohort's courses that have graded work to pass (a course without assignments is not counted)."""
    return list(db.session.scalars(
        sa.select(Course).join(course_cohorts, course_cohorts.c.course_id == Course.id)
        .where(course_cohorts.c.cohort_id == cohort.id, sa.exists().where(Assignment.course_id == Course.id))
        .order_by(Course.code)))


def _percents(courses: list[Course], student_ids: list[int]) -> dict[tuple[int, int], float]:
    """Return each (trainee, course) total as a percent of the course's maximum; ungraded work counts 0."""
    if not courses or not student_ids:
        return {}
    maximum = {c.id: sum(a.max_points for a in c.assignments) for c in courses}
    points: dict[tuple[int, int], float] = defaultdict(float)
    rows = db.session.execute(
        sa.select(Grade.student_id, Assignment.course_id, Grade.score, Grade.max_score, Assignment.max_points)
        .join(Assignment, Grade.assignment_id == Assignment.id)
        .where(Assignment.course_id.in_(maximum), Grade.student_id.in_(student_ids)))
    for sid, cid, score, max_score, max_points in rows:
        points[sid, cid] += max_points * score / max_score
    return {key: 100 * value / maximum[key[1]] for key, value in points.items()}


def cohort_standings(cohort: Cohort) -> list[Standing]:
    """Measure every trainee of the cohort against the rule, by name."""
    rule = get_rule()
    trainees = list(db.session.scalars(
        sa.select(User).join(Enrollment, Enrollment.student_id == User.id)
        .where(Enrollment.cohort_id == cohort.id, Enrollment.status.in_(COUNTED)).order_by(User.name, User.id)))
    ids = [t.id for t in trainees]
    courses = cohort_courses(cohort)
    percents = _percents(courses, ids)
    attendance = dict(db.session.execute(sa.select(Attendance.student_id, Attendance.percent).where(
        Attendance.cohort_id == cohort.id, Attendance.student_id.in_(ids))).all()) if ids else {}
    held = {c.student_id: c for c in db.session.scalars(sa.select(Certificate).where(
        Certificate.cohort_id == cohort.id, Certificate.revoked_at.is_(None)))}
    standings = []
    for trainee in trainees:
        results = [CourseResult(c, round(percents.get((trainee.id, c.id), 0.0), 1),
                                percents.get((trainee.id, c.id), 0.0) >= rule.pass_percent) for c in courses]
        standing = Standing(trainee, results, attendance.get(trainee.id), certificate=held.get(trainee.id))
        standing.lacks = unmet(rule, standing.passed, len(courses), standing.attendance)
        standings.append(standing)
    return standings


@dataclass(slots=True, frozen=True)
class CohortCounts:
    """How many of a cohort's trainees there are, meet the rule, and hold a certificate in force."""

    trainees: int = 0
    eligible: int = 0
    certified: int = 0


def cohort_counts(cohort_ids: list[int]) -> dict[int, CohortCounts]:
    """Count, per cohort, what cohort_standings would list, in one query and without loading anyone; kept per
    process until a write to what it reads (academy/reports/cache.py's "certificates" tables).

    The measure is cohort_standings' to the letter (a course's percent is 100 * points / its maximum, compared
    with the pass mark; the share and attendance as in unmet), so the office's list says what each cohort's
    page shows, at a cost that does not grow with the trainees behind the counts.
    """
    if not cohort_ids:
        return {}
    return cache.kept("certificates", ("counts", tuple(cohort_ids)), lambda: _cohort_counts(cohort_ids))


def _cohort_counts(cohort_ids: list[int]) -> dict[int, CohortCounts]:
    rule = get_rule()
    counted = Enrollment.status.in_(COUNTED)
    # Each cohort's courses with graded work, and each one's maximum points (as _percents).
    maximum = (sa.select(course_cohorts.c.cohort_id, Assignment.course_id,
                         sa.func.sum(Assignment.max_points).label("maximum"))
               .join(Assignment, Assignment.course_id == course_cohorts.c.course_id)
               .where(course_cohorts.c.cohort_id.in_(cohort_ids))
               .group_by(course_cohorts.c.cohort_id, Assignment.course_id).subquery())
    n_courses = (sa.select(maximum.c.cohort_id, sa.func.count().label("n"))
                 .group_by(maximum.c.cohort_id).subquery())
    n = sa.func.coalesce(n_courses.c.n, 0)
    if rule.pass_percent <= 0:
        passed: sa.ColumnElement = n  # a course counts as passed with 0 points: every course is passed
        passed_from = None
    else:
        points = (sa.select(Enrollment.cohort_id, Enrollment.student_id, Assignment.course_id,
                            sa.func.sum(sa.cast(Assignment.max_points, sa.Float) * Grade.score / Grade.max_score)
                            .label("points"))
                  .join(course_cohorts, course_cohorts.c.cohort_id == Enrollment.cohort_id)
                  .join(Assignment, Assignment.course_id == course_cohorts.c.course_id)
                  .join(Grade, sa.and_(Grade.assignment_id == Assignment.id, Grade.student_id == Enrollment.student_id))
                  .where(Enrollment.cohort_id.in_(cohort_ids), counted)
                  .group_by(Enrollment.cohort_id, Enrollment.student_id, Assignment.course_id).subquery())
        passed_from = (sa.select(points.c.cohort_id, points.c.student_id, sa.func.count().label("passed"))
                       .join(maximum, sa.and_(maximum.c.cohort_id == points.c.cohort_id,
                                              maximum.c.course_id == points.c.course_id))
                       .where(100 * points.c.points / maximum.c.maximum >= rule.pass_percent)
                       .group_by(points.c.cohort_id, points.c.student_id).subquery())
        passed = sa.func.coalesce(passed_from.c.passed, 0)
    # The rule of unmet, as conditions on the counts (integers: 100 * passed / n >= share is exact either way).
    meets = [passed >= rule.min_courses_passed]
    if rule.min_share_percent > 0:
        meets.append(sa.and_(n > 0, 100 * passed >= rule.min_share_percent * n))
    if rule.min_attendance_percent > 0:
        meets.append(sa.and_(Attendance.percent.is_not(None), Attendance.percent >= rule.min_attendance_percent))
    query = (sa.select(Enrollment.cohort_id, sa.func.count(),
                       sa.func.sum(sa.case((sa.and_(*meets), 1), else_=0)),
                       sa.func.count(Certificate.id))
             .outerjoin(n_courses, n_courses.c.cohort_id == Enrollment.cohort_id)
             .outerjoin(Attendance, sa.and_(Attendance.cohort_id == Enrollment.cohort_id,
                                            Attendance.student_id == Enrollment.student_id))
             .outerjoin(Certificate, sa.and_(Certificate.cohort_id == Enrollment.cohort_id,
                                             Certificate.student_id == Enrollment.student_id,
                                             Certificate.revoked_at.is_(None)))
             .where(Enrollment.cohort_id.in_(cohort_ids), counted)
             .group_by(Enrollment.cohort_id))
    if passed_from is not None:
        query = query.outerjoin(passed_from, sa.and_(passed_from.c.cohort_id == Enrollment.cohort_id,
                                                     passed_from.c.student_id == Enrollment.student_id))
    return {cohort_id: CohortCounts(trainees, eligible or 0, certified)
            for cohort_id, trainees, eligible, certified in db.session.execute(query)}


def find_standing(cohort: Cohort, trainee: User) -> Standing:
    """Return one trainee's standing in the cohort; raise NotInCohort when they are not its trainee."""
    for standing in cohort_standings(cohort):
        if standing.trainee.id == trainee.id:
            return standing
    raise NotInCohort(_("%(name)s is not a trainee of this cohort.", name=trainee.name))


def set_attendance(cohort: Cohort, trainee: User, percent: int, actor: User) -> Attendance:
    """Record a trainee's attendance of the cohort in percent (audited)."""
    find_standing(cohort, trainee)
    if not 0 <= percent <= 100:
        raise CertificateError(_("Each value must be between 0 and 100."))
    row = db.session.scalar(sa.select(Attendance).where(
        Attendance.cohort_id == cohort.id, Attendance.student_id == trainee.id))
    before = row.percent if row else None
    if row is None:
        row = Attendance(cohort_id=cohort.id, student_id=trainee.id, percent=percent)
        db.session.add(row)
    row.percent, row.recorded_by_id = percent, actor.id
    db.session.flush()
    record("certificates.attendance_set", subject_user_id=trainee.id, obj=row, actor_id=actor.id,
           detail={"cohort_id": cohort.id, "before": before, "after": percent})
    return row


# --- issuing and revoking ----------------------------------------------------------------------


def _serial(year: int) -> str:
    prefix = f"{SERIAL_PREFIX}-{year}-"
    last = db.session.scalar(sa.select(sa.func.max(Certificate.serial)).where(Certificate.serial.like(prefix + "%")))
    return f"{prefix}{int(last.rsplit('-', 1)[1]) + 1 if last else 1:05d}"


def _contents(standing: Standing) -> str:
    courses = [{"code": r.course.code, "title_ko": r.course.title_ko, "title_en": r.course.title_en,
                "percent": r.percent} for r in standing.courses if r.passed]
    competencies = [
        {"code": s.code, "name_ko": s.name_ko, "name_en": s.name_en, "level": s.level,
         "evidence": [{"assignment": e.assignment, "percent": round(e.percent, 1)} for e in s.evidence]}
        for s in competency_profile(standing.trainee.id) if s.level > 0
    ]
    return json.dumps({"courses": courses, "competencies": competencies}, ensure_ascii=False)


def _issue(cohort: Cohort, standing: Standing, actor: User) -> Certificate:
    if standing.certificate is not None:
        raise AlreadyIssued(_("%(name)s already holds certificate %(serial)s.",
                              name=standing.trainee.name, serial=standing.certificate.serial))
    if standing.lacks:
        raise NotEligible(_("%(name)s does not meet the completion rule: %(lacks)s.",
                            name=standing.trainee.name, lacks="; ".join(standing.lacks)))
    university = cohort.university
    now = utcnow()
    certificate = Certificate(
        public_id=secrets.token_urlsafe(PUBLIC_ID_BYTES), serial=_serial(now.year), student_id=standing.trainee.id,
        cohort_id=cohort.id, holder_name=standing.trainee.name,
        cohort_label_ko=f"{university.name_ko} {cohort.year}년 {cohort.name}",
        cohort_label_en=f"{university.name_en}, {cohort.year} {cohort.name}",
        contents=_contents(standing), issued_at=now, issued_by_id=actor.id)
    db.session.add(certificate)
    db.session.flush()
    record("certificate.issued", subject_user_id=standing.trainee.id, obj=certificate, actor_id=actor.id,
           detail={"serial": certificate.serial, "cohort_id": cohort.id})
    standing.certificate = certificate
    return certificate


def issue_certificate(cohort: Cohort, trainee: User, actor: User) -> Certificate:
    """Issue a trainee's certificate for the cohort; refuse one who does not meet the rule or holds one already."""
    return _issue(cohort, find_standing(cohort, trainee), actor)


def issue_for_cohort(cohort: Cohort, actor: User) -> list[Certificate]:
    """Issue a certificate to every trainee of the cohort who meets the rule and holds none; return them."""
    return [_issue(cohort, s, actor) for s in cohort_standings(cohort) if s.eligible and s.certificate is None]


def revoke_certificate(certificate: Certificate, reason: str, actor: User) -> Certificate:
    """Revoke a certificate with a reason (audited); its verification page says revoked from now on."""
    if certificate.revoked_at is not None:
        raise AlreadyRevoked(_("Certificate %(serial)s was already revoked.", serial=certificate.serial))
    reason = reason.strip()
    if not reason:
        raise CertificateError(_("Say why the certificate is revoked."))
    certificate.revoked_at, certificate.revoked_by_id, certificate.revoke_reason = utcnow(), actor.id, reason
    record("certificate.revoked", subject_user_id=certificate.student_id, obj=certificate, actor_id=actor.id,
           detail={"serial": certificate.serial, "reason": reason})
    db.session.flush()
    return certificate


# --- reading ----------------------------------------------------------------------------------


def get_certificate_by_public_id(public_id: str) -> Certificate | None:
    """Return the certificate a verification address names, or None (anything not shaped like one is not read)."""
    if not PUBLIC_ID.fullmatch(public_id):
        return None
    return db.session.scalar(sa.select(Certificate).where(Certificate.public_id == public_id))


def certificates_of(trainee: User) -> list[Certificate]:
    """Return a trainee's certificates, newest first."""
    return list(db.session.scalars(
        sa.select(Certificate).where(Certificate.student_id == trainee.id).order_by(Certificate.id.desc())))


def recent_certificates(limit: int = 50) -> list[Certificate]:
    """Return the certificates issued last, newest first."""
    return list(db.session.scalars(sa.select(Certificate).order_by(Certificate.id.desc()).limit(limit)))


def verify_url(certificate: Certificate) -> str:
    """Return the public verification address, built on the portal's own address (never a request's Host)."""
    return current_app.config["PORTAL_URL"].rstrip("/") + url_for("certificates.verify",
                                                                    public_id=certificate.public_id)
