"""OAuth 2.0 endpoints the hub signs users in through, and the trainee's "my notebooks" page."""
from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_login import current_user

from academy.audit.services import record
from academy.extensions import csrf
from academy.integrations.hub import HubClient, ServerState
from academy.oauth import provider, services
from academy.oauth.tokens import SCOPES
from academy.policy import AUTHENTICATED, PUBLIC, TOKEN, Role, allow
from academy.transactions import changes_on_get

bp = Blueprint("oauth", __name__)
bp.record_once(lambda state: provider.init_app(state.app))


def _issuer() -> str:
    return (services.setting("PORTAL_URL") or "http://127.0.0.1:5000").rstrip("/")


@bp.get("/oauth/authorize")
@allow(AUTHENTICATED)
@changes_on_get("RFC 6749 4.1.1: the authorization endpoint answers a GET by issuing a one-time code")
def authorize():
    """Issue a one-time code to a registered client for the signed-in user (academy clients need no consent)."""
    server = provider.authorization_server()
    try:
        grant = server.get_consent_grant(end_user=current_user._get_current_object())
    except OAuth2Error as error:
        if getattr(error, "redirect_uri", None):
            # The client and its redirect URI are genuine: tell the client what was wrong (RFC 6749 4.1.2.1).
            return server.handle_error_response(request, error)
        # A bad client or redirect URI never gets a redirect (no open redirector): show why instead.
        return render_template("oauth/error.html", error=error), 400
    response = server.create_authorization_response(grant=grant, grant_user=current_user._get_current_object())
    record("oauth.authorize", subject_user_id=current_user.id, detail={"client": grant.client.get_client_id()})
    return response


@bp.post("/oauth/token")
@allow(TOKEN)
def token():
    """Exchange a code (with the client's secret and the PKCE verifier) for an access token."""
    return provider.authorization_server().create_token_response()  # the request commits a 200, not an error


csrf.exempt(token)  # a machine endpoint: the client authenticates with its secret, not a session


@bp.route("/oauth/userinfo", methods=["GET", "POST"])
@allow(TOKEN)
def userinfo():
    """Return the claims of the token's user: stable subject, hub name, role, hub access and groups."""
    protector = provider.resource_protector()
    try:
        token = protector.acquire_token()
    except OAuth2Error as error:
        # Expired, revoked, unknown or missing: the same 401, as RFC 6750 asks.
        body = jsonify(error=error.error, error_description=error.description)
        return body, 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    return jsonify(services.userinfo_claims(token.user, token.scope))


csrf.exempt(userinfo)


@bp.get("/.well-known/openid-configuration")
@allow(PUBLIC)
def discovery():
    """Describe the provider's endpoints and what it supports."""
    issuer = _issuer()
    return jsonify(
        issuer=issuer,
        authorization_endpoint=issuer + url_for("oauth.authorize"),
        token_endpoint=issuer + url_for("oauth.token"),
        userinfo_endpoint=issuer + url_for("oauth.userinfo"),
        response_types_supported=["code"],
        grant_types_supported=["authorization_code"],
        code_challenge_methods_supported=["S256"],
        token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
        scopes_supported=list(SCOPES),
        subject_types_supported=["public"],
        claims_supported=["sub", "preferred_username", "name", "email", "email_verified", "role", "groups",
                          "hub_access", "hub_refusal"],
    )


@bp.get("/notebooks")
@allow(Role.STUDENT, Role.INSTRUCTOR, Role.ADMIN)
def notebooks():
    """Show the state of one's notebook server and a button that opens it in JupyterHub."""
    user = current_user._get_current_object()
    hub_url = current_app.config.get("HUB_URL", "http://127.0.0.1:8000").rstrip("/")
    access = services.hub_access(user)
    state = ServerState.UNAVAILABLE
    if access.allowed:
        api = (services.setting("HUB_INTERNAL_URL") or hub_url).rstrip("/") + "/hub/api"
        client = HubClient(api_url=api, token=services.setting("HUB_API_TOKEN"))
        state = client.server_state(services.hub_username(user))
    return render_template(
        "oauth/notebooks.html", access=access, state=state, open_url=f"{hub_url}/hub/spawn", hub_url=hub_url
    )
