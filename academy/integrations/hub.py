"""Read a user's notebook server state from JupyterHub's REST API with the portal's scoped service token."""
from __future__ import annotations

from enum import StrEnum
from urllib.parse import quote

import requests


class ServerState(StrEnum):
    NOT_STARTED = "not_started"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    UNAVAILABLE = "unavailable"  # the hub did not answer, or the portal has no token for it


class HubClient:
    """The portal's door to the hub API: only read scopes (read:users, read:servers) are needed.

    api_url and token come from the portal's settings (HUB_INTERNAL_URL or HUB_URL, and HUB_API_TOKEN).
    """

    def __init__(self, api_url: str, token: str | None, timeout: float = 3.0):
        self.api_url = api_url.rstrip("/")
        self.token = token
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
