"""Read a user's notebook server state from JupyterHub's REST API with the portal's scoped service token."""
from __future__ import annotations

import os
from enum import StrEnum
from urllib.parse import quote

import requests


class ServerState(StrEnum):
    NOT_STARTED = "not_started"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    UNAVAILABLE = "unavailable"  # the hub did not answer, or the portal has no token for it


def _env(key: str, default: str | None = None) -> str | None:
    return os.environ.get(f"ACADEMY_{key}", default)


class HubClient:
    """The portal's door to the hub API: only read scopes (read:users, read:servers) are needed."""

    def __init__(self, api_url: str | None = None, token: str | None = None, timeout: float = 3.0):
        hub = _env("HUB_INTERNAL_URL") or _env("HUB_URL", "http://127.0.0.1:8000")
        self.api_url = (api_url or f"{hub.rstrip('/')}/hub/api").rstrip("/")
        self.token = token if token is not None else _env("HUB_API_TOKEN")
        self.timeout = timeout

    def _get(self, path: str) -> requests.Response:
        return requests.get(
            f"{self.api_url}{path}", headers={"Authorization": f"token {self.token}"}, timeout=self.timeout
        )

    def server_state(self, username: str) -> ServerState:
        """Return the state of the user's default server."""
        if not self.token:
            return ServerState.UNAVAILABLE
        try:
            response = self._get(f"/users/{quote(username, safe='')}")
        except requests.RequestException:
            return ServerState.UNAVAILABLE
        if response.status_code == 404:
            return ServerState.NOT_STARTED  # never signed in at the hub yet
        if response.status_code != 200:
            return ServerState.UNAVAILABLE
        server = (response.json().get("servers") or {}).get("")
        if not server:
            return ServerState.NOT_STARTED
        if server.get("ready"):
            return ServerState.RUNNING
        if server.get("pending") == "stop":
            return ServerState.STOPPING
        return ServerState.STARTING
