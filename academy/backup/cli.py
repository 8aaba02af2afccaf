"""Commands: flask --app wsgi academy backup DIR, flask --app wsgi academy restore DIR."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from academy.audit.services import record
from academy.backup.errors import BackupError
from academy.backup.services import make_backup, restore_backup, verify_backup
from academy.extensions import db


@click.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup(directory: Path) -> None:
    """Back up the database, the course gradebooks, submissions and certificates into DIR (new or empty)."""
    try:
        manifest = make_backup(directory, click.echo)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backup written to {directory} ({len(manifest['files'])} files, revision "
               f"{manifest['database']['revision']}); restore it with: flask --app wsgi academy restore {directory}")


@click.command("restore")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore(directory: Path, yes: bool) -> None:
    """Verify the backup in DIR, then replace the database, the gradebooks and the file trees with it.

    Stop the portal, the hub's formgraders and the grading workers first: what they write meanwhile is lost.
    """
    try:
        manifest = verify_backup(directory)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    database = manifest["database"]
    click.echo(f"verified: {len(manifest['files'])} files, made {manifest['created_at']}, {database['kind']} "
               f"database at revision {database['revision']}, {sum(database['row_counts'].values())} rows")
    if not yes:
        click.confirm("This replaces the portal's database, the course gradebooks and the stored files with the "
                      "backup. Continue?", abort=True)
    try:
        restore_backup(directory, manifest, click.echo)
    except BackupError as exc:
        raise click.ClickException(f"restore failed: {exc}") from exc
    # Into the restored history: when the records were replaced, and by which backup.
    record("backup.restored", detail={"created_at": manifest["created_at"], "revision": database["revision"],
                                      "folder": str(directory.resolve())})
    db.session.commit()
    click.echo("restore complete")
