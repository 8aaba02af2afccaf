"""Commands: flask --app wsgi grading service-token ... | link-folder ... (registered on the gradebook's blueprint)."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext
from flask_babel import force_locale

from academy.courses.models import Course
from academy.courses.services import CourseError, link_nbgrader_folder
from academy.extensions import db
from academy.gradebook.service_auth import master_secret
from academy.integrations.service_tokens import RESULTS, derive, manual_scope


@click.command("service-token")
@click.argument("scope", type=click.Choice(["results", "manual"]))
@click.option("--course", "code", help="the course code (for a manual, i.e. grade sync, token)")
@with_appcontext
def service_token(scope: str, code: str | None) -> None:
    """Print the worker's (results) or one course's sync (manual) token, derived from ACADEMY_GRADER_TOKEN."""
    master = master_secret()
    if not master:
        raise click.ClickException("ACADEMY_GRADER_TOKEN 설정이 없습니다 / ACADEMY_GRADER_TOKEN is not set")
    if scope == "results":
        click.echo(derive(master, RESULTS))
        return
    course = db.session.scalar(sa.select(Course).where(Course.code == (code or "")))
    if course is None:
        raise click.ClickException(f"과정 코드 {code!r}이(가) 없습니다 / no course with the code {code!r}")
    click.echo(derive(master, manual_scope(course.id)))


@click.command("link-folder")
@click.argument("code")
@click.argument("folder")
@with_appcontext
def link_folder(code: str, folder: str) -> None:
    """Link a course (by code) to its nbgrader folder under courses/; no two courses share a folder."""
    course = db.session.scalar(sa.select(Course).where(Course.code == code))
    if course is None:
        raise click.ClickException(f"과정 코드 {code!r}이(가) 없습니다 / no course with the code {code!r}")
    try:
        link_nbgrader_folder(course, folder)
    except CourseError as exc:
        db.session.rollback()
        with force_locale("en"):
            english = str(exc)
        with force_locale("ko"):
            korean = str(exc)
        raise click.ClickException(f"{korean}\n{english}") from None
    db.session.commit()
    click.echo(f"{code} -> courses/{folder} (restart JupyterHub so its formgrader serves the new folder)")
