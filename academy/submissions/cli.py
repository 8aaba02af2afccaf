"""Commands: flask --app wsgi submissions <command> (cron runs requeue)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from academy.auth.services import get_user_by_email
from academy.extensions import db
from academy.submissions import services

commands = AppGroup("submissions", help="Trainees' submissions: the grading queue and stored files.")


@commands.command("requeue")
def requeue_command() -> None:
    """Queue the submissions that wait: run every few minutes (cron) so no trainee's work waits for ever."""
    click.echo(f"queued {services.requeue_unqueued(limit=500)}")


@commands.command("prune-superseded")
@click.option("--trainee", "email", help="Only this trainee's (e-mail); default: every trainee's.")
def prune_superseded_command(email: str | None) -> None:
    """Delete the files of superseded submissions, keeping their records, to free trainees' storage."""
    trainee = None
    if email:
        trainee = get_user_by_email(email)
        if trainee is None:
            raise click.ClickException(f"no such account: {email}")
    count, freed = services.prune_superseded_files(trainee)
    db.session.commit()
    click.echo(f"pruned the files of {count} superseded submission(s), {freed / 1024 / 1024:.1f} MiB freed")
