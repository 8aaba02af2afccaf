"""Commands: flask --app wsgi academy scheduled list | run JOB (what beat runs, by hand)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from academy.scheduled import jobs

scheduled = AppGroup("scheduled", help="The portal's periodic jobs (Celery beat runs them; run one by hand here).")


@scheduled.command("list")
def list_command() -> None:
    """List the jobs and when beat runs each (Seoul time)."""
    for job in jobs.JOBS.values():
        click.echo(f"{job.name:<22} {job.when}")


@scheduled.command("run")
@click.argument("name", type=click.Choice(sorted(jobs.JOBS)))
def run_command(name: str) -> None:
    """Run one job now, as beat would (safe to run again: a second run finds nothing to do)."""
    click.echo(f"{name}: {jobs.run(name)}")
