"""The gradebook's table body, written by one Python loop: a course of a year has ~150 trainees and ~900 cells,
and rendering those through Jinja's loop and escaping machinery cost tens of milliseconds per view. The body is
kept per process until the course's data version changes (academy/courses/versions.py); it holds the course's
trainees and grades and links, nothing of the viewer (no CSRF token, no nonce), so any of its instructors may
be shown it."""
from __future__ import annotations

from flask import request, url_for
from flask_babel import get_locale, gettext as _
from markupsafe import Markup, escape

from academy.courses.services import Gradebook
from academy.courses.versions import CourseCache

BODIES = CourseCache(64)  # (course, cohort, language) triples kept per process


def gradebook_body(book: Gradebook) -> Markup:
    """Return the <tr> of each trainee: a cell per assignment (score, late penalty, a link to grade it by hand),
    the total and the late penalties; the same markup courses/gradebook.html wrote cell by cell."""
    key = (book.cohort_id, str(get_locale()), request.script_root)
    return BODIES.get(book.course, key, lambda: _body(book))


def _body(book: Gradebook) -> Markup:
    course_id = book.course.id
    # Built once per assignment, not once per cell: the link ends with the trainee's id.
    links = [(a.id, escape(url_for("courses.grade", course_id=course_id, assignment_id=a.id, student_id=0)[:-1]))
             for a in book.assignments]
    label = escape(_("Grade"))
    late = Markup(' <span class="status" title="{}">⏰ −').format(_("Late penalty"))
    out: list[str] = []
    for row in book.rows:
        sid = row.trainee.id
        out.append(f'<tr data-test="row-{sid}"><td>{escape(row.trainee.name)}</td><td>{escape(row.cohort.name)}</td>\n')
        for aid, link in links:
            g = row.cells.get(aid)
            text = "·" if g is None else f"{g.score:g}{late}{g.late_penalty:g}</span>" if g.late_penalty else f"{g.score:g}"
            out.append(f'<td><a href="{link}{sid}" aria-label="{label}">{text}</a></td>\n')
        penalty = f"−{row.late_penalty:g}" if row.late_penalty else ""
        out.append(f'<td class="total" data-test="total-{sid}"><strong>{row.total:g}</strong></td><td>{penalty}</td></tr>\n')
    return Markup("".join(out))
