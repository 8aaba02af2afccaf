"""Authlib wiring: the authorization-code grant (PKCE S256 required, exact redirect URI) and bearer tokens.

Codes and tokens are stored as sha256 hashes, so a copy of the database cannot be replayed.
"""
from __future__ import annotations

import hmac
from datetime import timedelta

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, current_app

from academy.audit.services import record
from academy.auth.models import User, UserSession
from academy.auth.sessions import current_session
from academy.extensions import db
from academy.oauth.models import OAuthClient, OAuthCode, OAuthToken
from academy.oauth.services import get_client
from academy.oauth.tokens import digest, revoke_tokens_of_code
from academy.util import utcnow


class Client(ClientMixin):
    """Authlib's view of a registered client."""

    def __init__(self, row: OAuthClient):
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # the redirect URI must always be sent, and match exactly

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(self.row.scope.split())
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.row.redirect_uri_list()

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(digest(client_secret or ""), self.row.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # A confidential client: it must authenticate at the token endpoint.
        return method in {"client_secret_basic", "client_secret_post"}

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


class CodeGrant(grants.AuthorizationCodeGrant):
    """Authorization code grant: one-time, short-lived codes bound to an S256 PKCE challenge."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_authorization_request(self):
        data = self.request.payload.data
        if not data.get("redirect_uri"):
            raise InvalidRequestError("Missing 'redirect_uri' in request.")
        redirect_uri = super().validate_authorization_request()
        # PKCE is required of every client, and only S256 (plain would leak the verifier).
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with code_challenge_method=S256 is required.", redirect_uri=redirect_uri)
        return redirect_uri

    def save_authorization_code(self, code: str, request) -> OAuthCode:
        data = request.payload.data
        lifetime = current_app.config.get("OAUTH_CODE_LIFETIME", 300)
        row = OAuthCode(
            code_hash=digest(code),
            client_id=request.client.row.id,
            user_id=request.user.id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope or "",
            nonce=data.get("nonce"),
            code_challenge=data["code_challenge"],
            code_challenge_method=data.get("code_challenge_method", "S256"),
            session_id=_current_session_id(),
            expires_at=utcnow() + timedelta(seconds=lifetime),
        )
        db.session.add(row)
        db.session.flush()
        return row

    def query_authorization_code(self, code: str, client: Client) -> OAuthCode | None:
        row = db.session.scalar(db.select(OAuthCode).where(OAuthCode.code_hash == digest(code or "")))
        if row is None or row.client_id != client.row.id:
            return None
        if row.used_at is not None:
            # A code presented twice was probably stolen: revoke what the first exchange gave.
            revoke_tokens_of_code(row)
            record("oauth.code_reused", subject_user_id=row.user_id, detail={"client": client.row.client_id})
            db.session.commit()
            return None
        if row.is_expired():
            return None
        return row

    def delete_authorization_code(self, authorization_code: OAuthCode) -> None:
        authorization_code.used_at = utcnow()

    def authenticate_user(self, authorization_code: OAuthCode) -> User | None:
        user = db.session.get(User, authorization_code.user_id)
        if user is None or not user.is_enabled:
            return None
        # A code from a sign-in that has ended since (logout within the code's minutes) gives nothing.
        if authorization_code.session_id is not None:
            sign_in = db.session.get(UserSession, authorization_code.session_id)
            if sign_in is None or sign_in.ended_at is not None:
                return None
        return user


def _current_session_id() -> int | None:
    row = current_session()
    return row.id if row is not None else None


class TokenValidator(BearerTokenValidator):
    """Find a bearer token by its hash; Authlib then refuses it when expired or revoked."""

    def authenticate_token(self, token_string: str) -> OAuthToken | None:
        return db.session.scalar(db.select(OAuthToken).where(OAuthToken.token_hash == digest(token_string or "")))


# Authlib asks these of a token and a code; defined here so the models stay plain.
OAuthToken.check_client = lambda self, client: self.client_id == client.row.id  # type: ignore[attr-defined]
OAuthToken.get_scope = lambda self: self.scope  # type: ignore[attr-defined]
OAuthToken.get_expires_in = lambda self: int(self.lifetime.total_seconds())  # type: ignore[attr-defined]
OAuthToken.is_expired = lambda self: utcnow() >= self.expires_at  # type: ignore[attr-defined]
OAuthToken.is_revoked = lambda self: self.revoked_at is not None  # type: ignore[attr-defined]
OAuthToken.get_user = lambda self: self.user  # type: ignore[attr-defined]
OAuthCode.get_redirect_uri = lambda self: self.redirect_uri  # type: ignore[attr-defined]
OAuthCode.get_scope = lambda self: self.scope  # type: ignore[attr-defined]
OAuthCode.get_nonce = lambda self: self.nonce  # type: ignore[attr-defined]


def _query_client(client_id: str) -> Client | None:
    row = get_client(client_id)
    return Client(row) if row is not None else None


def _save_token(token: dict, request) -> None:
    code = getattr(request, "authorization_code", None)
    db.session.add(
        OAuthToken(
            token_hash=digest(token["access_token"]),
            client_id=request.client.row.id,
            user_id=request.user.id,
            code_id=code.id if code is not None else None,
            session_id=code.session_id if code is not None else None,
            scope=token.get("scope", ""),
            expires_at=utcnow() + timedelta(seconds=int(token["expires_in"])),
        )
    )


def init_app(app: Flask) -> None:
    """Give the app its own authorization server and resource protector."""
    app.config.setdefault("OAUTH2_TOKEN_EXPIRES_IN", {"authorization_code": app.config.get("OAUTH_TOKEN_LIFETIME", 3600)})
    server = AuthorizationServer(app, query_client=_query_client, save_token=_save_token)
    server.register_grant(CodeGrant, [CodeChallenge(required=True)])
    protector = ResourceProtector()
    protector.register_token_validator(TokenValidator())
    app.extensions["academy_oauth"] = (server, protector)


def authorization_server() -> AuthorizationServer:
    return current_app.extensions["academy_oauth"][0]


def resource_protector() -> ResourceProtector:
    return current_app.extensions["academy_oauth"][1]
