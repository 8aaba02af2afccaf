"""Registered OAuth clients, one-time authorization codes and access tokens (stored as hashes)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.extensions import db
from academy.util import UTCDateTime, created_at_column, utcnow

if TYPE_CHECKING:
    from academy.auth.models import User


class OAuthClient(db.Model):
    """A relying party (the hub): its redirect URI must match exactly, its secret is kept hashed."""

    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.String(80), unique=True)
    # sha256 of the secret: the secret itself is high-entropy, so a slow hash buys nothing.
    secret_hash: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(100))
    # Exact redirect URIs, one per line; no prefix or pattern matching.
    redirect_uris: Mapped[str] = mapped_column(sa.Text)
    # Space-separated scopes the client may ask for.
    scope: Mapped[str] = mapped_column(sa.String(200), default="openid profile email")
    created_at: Mapped[datetime] = created_at_column()

    def redirect_uri_list(self) -> list[str]:
        return [u for u in self.redirect_uris.split() if u]

    def __repr__(self) -> str:
        return f"<OAuthClient {self.client_id}>"


class OAuthCode(db.Model):
    """A one-time authorization code bound to a client, a redirect URI and a PKCE challenge."""

    __tablename__ = "oauth_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(sa.Text)
    scope: Mapped[str] = mapped_column(sa.String(200), default="")
    nonce: Mapped[str | None] = mapped_column(sa.String(200))
    code_challenge: Mapped[str] = mapped_column(sa.String(128))
    code_challenge_method: Mapped[str] = mapped_column(sa.String(10), default="S256")
    # The portal sign-in that authorised it: when that session ends, so do the tokens it led to.
    session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_sessions.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when exchanged; a second exchange is refused and revokes what the first one gave.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    client: Mapped[OAuthClient] = relationship()
    user: Mapped[User] = relationship()

    def is_expired(self) -> bool:
        return utcnow() >= self.expires_at

    def __repr__(self) -> str:
        return f"<OAuthCode client={self.client_id} user={self.user_id} used={self.used_at is not None}>"


class OAuthToken(db.Model):
    """A bearer access token: expires, can be revoked, and remembers the code and the sign-in it came from."""

    __tablename__ = "oauth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_id: Mapped[int | None] = mapped_column(sa.ForeignKey("oauth_codes.id", ondelete="SET NULL"), index=True)
    # The portal sign-in it was issued through: logging out there revokes it.
    session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_sessions.id", ondelete="SET NULL"), index=True
    )
    scope: Mapped[str] = mapped_column(sa.String(200), default="")
    issued_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    client: Mapped[OAuthClient] = relationship()
    user: Mapped[User] = relationship()

    @property
    def lifetime(self) -> timedelta:
        return self.expires_at - self.issued_at

    def is_usable(self) -> bool:
        return self.revoked_at is None and utcnow() < self.expires_at

    def __repr__(self) -> str:
        return f"<OAuthToken client={self.client_id} user={self.user_id} until={self.expires_at:%H:%M}>"
