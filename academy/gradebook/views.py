"""The portal's end of the formgrader sync and what the hub asks about formgraders.

POST /api/grading/manual: hand-graded totals into the gradebook. The caller is a course's
academy.grading.manual_sync, with that course's own token in the X-Academy-Grader-Token header
(academy.integrations.service_tokens): it may post that course's totals and nothing else. The body names
the submission the nbgrader way:
    {"course": "<Course.nbgrader_course>", "assignment": "<Assignment.nbgrader_name>", "student": "<user id>",
     "score": 7.5, "max_score": 10.0, "manually_graded": 1, "needs_manual_grade": ["lab1/q3"]}

GET /api/hub/formgraders: each course's immutable id and nbgrader folder, for the hub, which names each
formgrader and its instructors' group by the course id (HTTP Basic with the hub's OAuth client id and secret).

Commands (academy.gradebook.commands): flask --app wsgi grading service-token ... | link-folder ...
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from academy.courses.services import CourseError, NotInCourse
from academy.extensions import csrf
from academy.gradebook import commands, services
from academy.gradebook.service_auth import require_hub_client, require_sync_token
from academy.policy import TOKEN, allow

bp = Blueprint("grading_api", __name__, cli_group="grading")
bp.cli.add_command(commands.service_token)
bp.cli.add_command(commands.link_folder)


@bp.post("/api/grading/manual")
@allow(TOKEN)
@csrf.exempt
def api_manual_total():
    """Record one course's hand-graded total as the trainee's grade (that course's sync token only)."""
    data = request.get_json(silent=True) or {}
    course = require_sync_token(str(data.get("course", ""))[:80])
    try:
        grade, changed = services.record_manual_total(course, data)
    except (services.UnknownTarget, NotInCourse) as exc:
        return jsonify(error=_("Not found."), unknown=getattr(exc, "what", "student")), 404
    except services.GradingInProgress:
        return jsonify(error=_("Grading queued"), pending=True), 409
    except CourseError as exc:
        return jsonify(error=str(exc)), 422
    except (TypeError, ValueError):
        return jsonify(error=_("Invalid result.")), 422
    return jsonify(course=data.get("course"), assignment=data.get("assignment"), student=data.get("student"),
                   score=grade.score, max_points=grade.max_score, late_penalty=grade.late_penalty,
                   source=grade.source, changed=changed,
                   needs_manual_grade=list(data.get("needs_manual_grade") or []))


@bp.get("/api/hub/formgraders")
@allow(TOKEN)
def api_hub_formgraders():
    """List each course's id and nbgrader folder, so the hub keys formgraders by the immutable id."""
    require_hub_client()
    return jsonify(courses=[{"id": c.id, "code": c.code, "folder": c.nbgrader_course}
                            for c in services.formgrader_courses()])
