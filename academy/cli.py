"""Commands: flask --app wsgi academy <command>."""
from __future__ import annotations

import importlib
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from academy.extensions import db

academy_cli = AppGroup("academy", help="Academy portal administration.")

# Command groups (and single commands) other packages contribute.
EXTRA_GROUPS = ("academy.datasets.cli:datasets", "academy.placements.cli:placements", "academy.oauth.cli:oauth",
                "academy.backup.cli:backup", "academy.backup.cli:restore", "academy.scheduled.cli:scheduled")


@academy_cli.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--name", prompt=True, default="Academy office")
@click.password_option()
def create_admin(email: str, name: str, password: str) -> None:
    """Create an academy-office (admin) account."""
    from academy.auth.services import AccountError, create_user

    try:
        create_user(email, name, "admin", password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"admin {email} created")


@academy_cli.command("seed-demo")
@click.option("--password", default="academy-demo-2027", show_default=True, help="Password of every demo account.")
def seed_demo(password: str) -> None:
    """Fill an empty database with deterministic demo data and print one login per role."""
    from academy.seed import DemoExists, seed

    try:
        logins = seed(password)
    except DemoExists as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo("Demo data created. One login per role (password: %s):" % password)
    for role, email in logins.items():
        click.echo(f"  {role:<12} {email}")


@academy_cli.command("seed-scale")
@click.option("--years", default=10, show_default=True, type=click.IntRange(1, 80), help="Years of academy history.")
@click.option("--seed", default=2027, show_default=True, help="Random seed: the same seed gives the same data.")
@click.option("--password", default="academy-scale-2027", show_default=True, help="Password of every account.")
@click.option("--force", is_flag=True, help="Empty EVERY table of this database first (all its data is lost).")
def seed_scale(years: int, seed: int, password: str, force: bool) -> None:
    """Fill an empty database with years of plausible academy data, for benchmarks (PostgreSQL expected)."""
    from academy.scale_seed import ScaleRefused, seed_scale as fill

    try:
        counts, logins = fill(years, seed, password, force=force, progress=click.echo)
    except ScaleRefused as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"{sum(counts.values())} rows. One login per role (password: {password}):")
    for role, email in logins.items():
        click.echo(f"  {role:<12} {email}")


@academy_cli.command("import-trainees")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--links-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write each trainee's one-time set-your-password link to this CSV (mode 600).")
def import_trainees(file: Path, links_out: Path | None) -> None:
    """Import trainees from CSV or XLSX: all rows or none; every bad row is reported.

    No password is made: each trainee gets a one-time link to set their own, listed on the
    portal's Invitations page (the office's and the university coordinator's outbox).
    """
    from academy.admissions.importer import ImportRejected, import_trainees_file

    try:
        result = import_trainees_file(file)
    except ImportRejected as exc:
        db.session.rollback()
        click.echo(f"Nothing imported: {len(exc.problems)} problem(s) in {file.name}", err=True)
        for problem in exc.problems:
            click.echo(f"  line {problem.line}: {problem.message}", err=True)
        raise SystemExit(1) from None
    db.session.commit()
    click.echo(f"Imported {result.created} trainees ({result.enrolled} enrolled) from {file.name}.")
    click.echo(f"{len(result.invitations)} set-your-password links wait on the portal's Invitations page.")
    if links_out:
        from academy.auth.invitations import write_links

        write_links(result.invitations, links_out)
        click.echo(f"Links written to {links_out}; each works once: hand them over privately.")


# The name earlier versions gave it, kept so existing scripts and cron lines still work.
academy_cli.add_command(import_trainees, "import-students")


@academy_cli.command("compile-translations")
def compile_translations() -> None:
    """Compile every message catalogue of the portal (.po to .mo)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    root = Path(__file__).parent
    for po_path in sorted(root.glob("**/translations/*/LC_MESSAGES/*.po")):
        with po_path.open("rb") as f:
            catalog = read_po(f)
        with po_path.with_suffix(".mo").open("wb") as f:
            write_mo(f, catalog)
        click.echo(f"compiled {po_path.relative_to(root.parent)}")


def register_cli(app: Flask) -> None:
    for spec in EXTRA_GROUPS:
        module_name, _, attr = spec.partition(":")
        academy_cli.add_command(getattr(importlib.import_module(module_name), attr))
    app.cli.add_command(academy_cli)
