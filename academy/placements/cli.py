"""Commands: flask --app wsgi academy placements <command>."""
from __future__ import annotations

from datetime import UTC, date, datetime

import click
from flask.cli import AppGroup

from academy.extensions import db

placements = AppGroup("placements", help="Talent pipeline: offers and retention.")


@placements.command("purge-expired")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Purge as if today were this date (default: today).")
def purge_expired_command(today: datetime | None) -> None:
    """Delete or anonymise the personal data of match rounds whose retention date has passed."""
    from academy.placements.retention import purge_expired

    purged = purge_expired(today.date() if today else date.today())
    db.session.commit()
    click.echo(f"purged {len(purged)} round(s): {', '.join(map(str, purged)) or '-'}")


@placements.command("expire-offers")
def expire_offers_command() -> None:
    """Mark open offers past their deadline as expired."""
    from academy.placements.offers import expire_offers

    count = expire_offers(datetime.now(UTC))
    db.session.commit()
    click.echo(f"expired {count} offer(s)")
