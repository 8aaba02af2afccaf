"""Commands: flask --app wsgi academy oauth <command>."""
from __future__ import annotations

import secrets

import click
from flask.cli import AppGroup

from academy.extensions import db

oauth = AppGroup("oauth", help="The portal as OAuth provider for JupyterHub.")


@oauth.command("hub-secrets")
def hub_secrets() -> None:
    """Print fresh secrets for the portal and the hub as shell exports (nothing is stored)."""
    click.echo(f"export ACADEMY_HUB_CLIENT_SECRET={secrets.token_urlsafe(32)}")
    click.echo(f"export ACADEMY_HUB_API_TOKEN={secrets.token_hex(32)}")
    click.echo(f"export JUPYTERHUB_CRYPT_KEY={secrets.token_hex(32)}")


@oauth.command("register-client")
@click.argument("client_id")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True, help="Exact callback URL.")
@click.option("--name", default=None, help="Shown in the audit log (default: the client id).")
def register_client(client_id: str, redirect_uris: tuple[str, ...], name: str | None) -> None:
    """Register (or re-key) another OAuth client and print its new secret once; only a hash is kept."""
    from academy.oauth.services import OAuthError, new_client_secret
    from academy.oauth.services import register_client as register

    secret = new_client_secret()
    try:
        register(client_id, secret, list(redirect_uris), name or client_id)
    except OAuthError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"client {client_id} registered; its secret (shown once): {secret}")
