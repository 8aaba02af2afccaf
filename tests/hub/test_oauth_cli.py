"""The oauth commands: fresh secrets, and registering a client whose secret is kept only as a hash."""
from __future__ import annotations

import re

import sqlalchemy as sa

from academy.extensions import db
from academy.oauth.cli import oauth
from academy.oauth.models import OAuthClient
from academy.oauth.provider import Client, digest


def test_hub_secrets_are_fresh_each_time(runner):
    first, second = runner.invoke(oauth, ["hub-secrets"]), runner.invoke(oauth, ["hub-secrets"])
    assert first.exit_code == 0
    assert re.search(r"^export ACADEMY_HUB_CLIENT_SECRET=\S{40,}$", first.output, re.M)
    assert re.search(r"^export JUPYTERHUB_CRYPT_KEY=[0-9a-f]{64}$", first.output, re.M)
    assert first.output != second.output


def test_register_client_keeps_a_hash_and_matches_redirects_exactly(runner):
    result = runner.invoke(oauth, ["register-client", "grader-ui", "--redirect-uri", "https://grader.test/cb"])
    assert result.exit_code == 0, result.output
    secret = result.output.rsplit(" ", 1)[-1].strip()
    row = db.session.scalar(sa.select(OAuthClient).where(OAuthClient.client_id == "grader-ui"))
    assert row.secret_hash == digest(secret) and secret not in row.secret_hash
    client = Client(row)
    assert client.check_client_secret(secret) and not client.check_client_secret(secret + "x")
    assert client.check_redirect_uri("https://grader.test/cb")
    assert not client.check_redirect_uri("https://grader.test/cb/")


def test_register_client_refuses_a_relative_redirect(runner):
    result = runner.invoke(oauth, ["register-client", "bad", "--redirect-uri", "/cb"])
    assert result.exit_code != 0 and "absolute" in result.output
