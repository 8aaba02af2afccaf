"""The instructor's course dashboard: score distribution per lab, the tests trainees fail most, the submission
timeline around the due date, late and missing work, trainees at risk.

Every figure is computed here with SQL over the course's gradebook and submissions; the charts are
academy/charts.py's (server-side SVG images, no script), each with its numbers in a table beside it.

Computing them reads every submission of the course and draws up to three charts per lab, so each process keeps
the figures of the courses viewed last, keyed by the course's data version (academy/courses/versions.py: a
new one with every change to what they read) and good until the next due date passes (missing work and "due
passed" change with the clock alone). The HTML of the figures (everything under the cohort filter) is kept
too, per cohort, language and mount point, for as long as the figures it was written from: it holds nothing of
its viewer, while the page around it (the layout, the filter) is written for each view.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import render_template, request
from markupsafe import Markup

from academy.charts import BRAND, ERR, INK, OK, drawn, figure, hbar, svg_data_url
from academy.courses.models import Assignment, Course, DueDate, Extension
from academy.courses.services import gradebook
from academy.courses.versions import CourseCache
from academy.extensions import db
from academy.i18n import language
from academy.util import utcnow

BINS = list(range(0, 101, 10))  # score bins, percent of the assignment's points
TIMELINE_HOURS = (-72, 72)  # the submission timeline: hours before and after each trainee's due date
AT_RISK_LABS = 2  # a trainee with this many missed or failing labs is at risk
FAILING_PERCENT = 50.0


@dataclass
class TestStat:
    notebook: str
    grade_id: str
    max_score: float
    graded: int = 0
    passed: int = 0

    @property
    def fail_rate(self) -> float:
        return round(100 * (self.graded - self.passed) / self.graded, 1) if self.graded else 0.0


@dataclass
class LabStat:
    assignment_id: int
    due_passed: bool  # the due date has passed for at least one cohort of the course
    graded: int = 0
    missing: int = 0  # past due for the trainee and not graded
    late: int = 0  # graded with a late penalty
    mean_percent: float | None = None
    histogram: list[int] = field(default_factory=lambda: [0] * (len(BINS) - 1))
    tests: list[TestStat] = field(default_factory=list)
    timeline: Counter = field(default_factory=Counter)  # hours relative to the due date (bucketed by 6) -> count
    charts: dict[str, str] = field(default_factory=dict)  # name -> data: URL of an SVG


@dataclass
class AtRisk:
    student_id: int
    name: str
    cohort: str
    missed: list[str]
    failing: list[str]


@dataclass
class Figures:
    """What the dashboard shows, in plain values (no database rows: they outlive the request that read them)."""

    labs: list[LabStat]
    at_risk: list[AtRisk]
    student_ids: list[int]
    valid_until: datetime | None  # the next due date: "missing" and "due passed" change then


@dataclass
class Dashboard:
    labs: list[tuple[Assignment, LabStat]]  # in the course's order
    at_risk: list[AtRisk]
    student_ids: list[int]
    figures: Figures | None = None  # what it was made from: its HTML is kept as long as they are

    @property
    def trainees(self) -> int:
        return len(self.student_ids)


FIGURES = CourseCache(32)  # (course, cohort) pairs kept per process
BODIES = CourseCache(64)  # (course, cohort, language, mount point): the figures' HTML


def course_dashboard(course: Course, cohort_id: int | None = None) -> Dashboard:
    """Return the course's figures and charts, optionally for one cohort (computed again only after a change, or
    when a due date has passed since; the course must be freshly loaded: services.get_course_outline)."""
    figures = FIGURES.get(course, (cohort_id,), lambda: compute_figures(course, cohort_id, utcnow()),
                          still_good=lambda f: f.valid_until is None or utcnow() < f.valid_until)
    by_id = {a.id: a for a in course.assignments}
    return Dashboard([(by_id[lab.assignment_id], lab) for lab in figures.labs if lab.assignment_id in by_id],
                     figures.at_risk, figures.student_ids, figures)


def dashboard_body(course: Course, cohort_id: int | None, board: Dashboard) -> Markup:
    """The dashboard's figures as HTML, written once per cohort, language and mount point for the figures of
    course_dashboard() (rendering them was two thirds of a view's CPU)."""
    kept = BODIES.get(course, (cohort_id, language(), request.script_root), lambda: (board.figures, Markup(
        render_template("courses/_dashboard_body.html", course=course, board=board, cohort_id=cohort_id))),
        still_good=lambda value: value[0] is board.figures)
    return kept[1]


def compute_figures(course: Course, cohort_id: int | None, now: datetime) -> Figures:
    """Compute the dashboard's figures and draw its charts from the database."""
    from academy.submissions.models import Submission, SubmissionCell

    book = gradebook(course, cohort_id)
    ids = book.student_ids
    cohort_of = {r.trainee.id: r.cohort.id for r in book.rows}
    dues = {(d.assignment_id, d.cohort_id): d.due_at for d in db.session.scalars(
        sa.select(DueDate).where(DueDate.assignment_id.in_([a.id for a in book.assignments])))}
    extensions = {(e.assignment_id, e.student_id): e.due_at for e in db.session.scalars(
        sa.select(Extension).where(Extension.student_id.in_(ids),
                                   Extension.assignment_id.in_([a.id for a in book.assignments])))}

    def due(assignment_id: int, student_id: int) -> datetime | None:
        return extensions.get((assignment_id, student_id)) or dues.get((assignment_id, cohort_of[student_id]))

    subs = db.session.execute(
        sa.select(Submission.id, Submission.assignment_id, Submission.student_id, Submission.received_at,
                  Submission.status)
        .where(Submission.assignment_id.in_([a.id for a in book.assignments]), Submission.student_id.in_(ids))
        .order_by(Submission.id)).all()
    newest_graded: dict[tuple[int, int], int] = {}
    timelines: dict[int, Counter] = {a.id: Counter() for a in book.assignments}
    for sub_id, assignment_id, student_id, received_at, status in subs:
        if status in ("graded", "time_limit", "memory_limit", "error"):
            newest_graded[(assignment_id, student_id)] = sub_id
        due_at = due(assignment_id, student_id)
        if due_at is not None:
            hours = (received_at - due_at) / timedelta(hours=1)
            if TIMELINE_HOURS[0] <= hours < TIMELINE_HOURS[1]:
                timelines[assignment_id][int(hours // 6) * 6] += 1
    cells_by_lab: dict[int, dict[tuple[str, str], TestStat]] = {a.id: {} for a in book.assignments}
    sub_lab = {sub_id: assignment_id for (assignment_id, _s), sub_id in newest_graded.items()}
    if sub_lab:
        # Plain rows, not objects: a class's newest submissions have thousands of cells.
        cells = db.session.execute(
            sa.select(SubmissionCell.submission_id, SubmissionCell.notebook, SubmissionCell.grade_id,
                      SubmissionCell.score, SubmissionCell.max_score)
            .where(SubmissionCell.submission_id.in_(sub_lab)).order_by(SubmissionCell.position)).all()
        for submission_id, notebook, grade_id, score, max_score in cells:
            stats = cells_by_lab[sub_lab[submission_id]]
            stat = stats.setdefault((notebook, grade_id), TestStat(notebook, grade_id, max_score))
            stat.graded += 1
            stat.passed += score >= max_score

    labs, troubles = [], {r.trainee.id: ([], []) for r in book.rows}
    for a in book.assignments:
        lab = LabStat(a.id, due_passed=any(d <= now for (aid, _c), d in dues.items() if aid == a.id),
                      tests=list(cells_by_lab[a.id].values()), timeline=timelines[a.id])
        percents = []
        for row in book.rows:
            grade = row.cells.get(a.id)
            due_at = due(a.id, row.trainee.id)
            if grade is None:
                if due_at is not None and due_at <= now:
                    lab.missing += 1
                    troubles[row.trainee.id][0].append(a.nbgrader_name)
                continue
            lab.graded += 1
            lab.late += grade.late_penalty > 0
            percent = 100 * grade.score / a.max_points if a.max_points else 0.0
            percents.append(percent)
            lab.histogram[min(max(int(percent // 10), 0), len(BINS) - 2)] += 1
            if percent < FAILING_PERCENT:
                troubles[row.trainee.id][1].append(a.nbgrader_name)
        lab.mean_percent = round(sum(percents) / len(percents), 1) if percents else None
        lab.charts = _lab_charts(lab)
        labs.append(lab)
    at_risk = [AtRisk(r.trainee.id, r.trainee.name, r.cohort.name, *troubles[r.trainee.id]) for r in book.rows
               if len(troubles[r.trainee.id][0]) + len(troubles[r.trainee.id][1]) >= AT_RISK_LABS]
    upcoming = [d for d in (*dues.values(), *extensions.values()) if d > now]
    return Figures(labs, at_risk, ids, min(upcoming, default=None))


# --- charts ---------------------------------------------------------------------------------------------------


def _lab_charts(lab: LabStat) -> dict[str, str]:
    charts = {}
    if lab.graded:
        charts["scores"] = _score_chart(tuple(lab.histogram))
    if lab.tests:
        tests = sorted(lab.tests, key=lambda t: -t.fail_rate)
        charts["tests"] = _tests_chart(tuple((t.grade_id, t.fail_rate) for t in tests))
    if lab.timeline:
        hours = list(range(TIMELINE_HOURS[0], TIMELINE_HOURS[1], 6))
        charts["timeline"] = _timeline_chart(tuple(lab.timeline.get(h, 0) for h in hours))
    return charts


# Each chart is a pure function of its numbers, so the same numbers give the same image: drawing one with
# matplotlib costs tens of milliseconds, and a dashboard shows three per lab. academy.charts.drawn keeps the images
# by their numbers, for every portal process (a changed grade changes the numbers: nothing stale can be served).
CHART_CACHE = 256


@drawn(CHART_CACHE)
def _score_chart(histogram: tuple[int, ...]) -> str:
    fig, ax = figure(4.2, 2.2)
    ax.bar([f"{lo}–{hi}" for lo, hi in zip(BINS, BINS[1:])], histogram, color=BRAND)
    ax.set_xlabel("점수 (%) / score (%)")
    ax.set_ylabel("교육생 / trainees")
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.yaxis.get_major_locator().set_params(integer=True)
    return svg_data_url(fig)


def _tests_chart(fail_rates: tuple[tuple[str, float], ...]) -> str:
    return hbar([g for g, _r in fail_rates], [r for _g, r in fail_rates], xmax=100,
                xlabel="실패율 (%) / failed (%)", color=ERR)


@drawn(CHART_CACHE)
def _timeline_chart(counts: tuple[int, ...]) -> str:
    hours = list(range(TIMELINE_HOURS[0], TIMELINE_HOURS[1], 6))
    fig, ax = figure(4.2, 2.0)
    ax.bar(hours, counts, width=5.5, align="edge", color=[OK if h < 0 else ERR for h in hours])
    ax.axvline(0, color=INK, linewidth=1)
    ax.set_xlabel("마감 기준 시간 / hours from the due date")
    ax.set_ylabel("제출 / submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return svg_data_url(fig)
