"""The hub's authenticator refuses whom the portal refuses, at login and at refresh."""
from __future__ import annotations

import asyncio
from unittest import mock

import pytest

from academy.integrations.hub_auth import PortalAuthenticator, Refused, refusal


def model(**claims):
    info = {"sub": "7", "preferred_username": "u7", "hub_access": True, "hub_refusal": None, **claims}
    return {"name": info["preferred_username"], "admin": None, "auth_state": {"oauth_user": info}}


def test_allowed_user_passes():
    assert asyncio.run(PortalAuthenticator().check_allowed("u7", model())) is True


@pytest.mark.parametrize("code, text", [("role", "기업 담당자"), ("not_enrolled", "not enrolled in an active cohort"),
                                        ("disabled", "disabled")])
def test_refused_user_gets_a_clear_403(code, text):
    with pytest.raises(Refused) as caught:
        asyncio.run(PortalAuthenticator().check_allowed("u7", model(hub_access=False, hub_refusal=code)))
    assert caught.value.status_code == 403 and text in caught.value.jupyterhub_message


@pytest.mark.parametrize("claims", [{"preferred_username": "alice@example.test"}, {"sub": "8"},
                                    {"preferred_username": "u7-prod"}, {"hub_access": "yes"}])
def test_names_not_keyed_on_the_immutable_id_are_refused(claims):
    assert refusal(model(**claims)["auth_state"]["oauth_user"]) is not None


def test_refresh_asks_for_a_new_login_once_the_portal_refuses():
    auth = PortalAuthenticator(enable_auth_state=True)
    user = mock.Mock()
    user.name = "u7"
    withdrawn = model(hub_access=False, hub_refusal="not_enrolled")
    with mock.patch("oauthenticator.oauth2.OAuthenticator.refresh_user", return_value=withdrawn):
        assert asyncio.run(auth.refresh_user(user)) is False
    with mock.patch("oauthenticator.oauth2.OAuthenticator.refresh_user", return_value=model()):
        assert asyncio.run(auth.refresh_user(user))["name"] == "u7"
