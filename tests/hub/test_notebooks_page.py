"""The "My notebooks" page: the server state read from the hub's API with the service token."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from academy.admissions.services import withdraw
from academy.integrations.hub import HubClient, ServerState


class FakeHub:
    """A stand-in for the hub's REST API: answers GET /hub/api/users/<name> from a dict."""

    def __init__(self):
        self.users: dict[str, dict] = {}
        self.seen: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                hub.seen.append((self.path, self.headers.get("Authorization", "")))
                if self.headers.get("Authorization") != "token service-token":
                    self.send_response(403)
                    self.end_headers()
                    return
                name = self.path.rsplit("/", 1)[-1]
                body = hub.users.get(name)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(body or {}).encode())

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_hub(app):
    hub = FakeHub()
    app.config.update(HUB_URL=hub.url, HUB_API_TOKEN="service-token")
    yield hub
    hub.close()


@pytest.mark.parametrize(
    "body, state",
    [
        (None, "not_started"),
        ({"servers": {}}, "not_started"),
        ({"servers": {"": {"ready": False, "pending": "spawn"}}}, "starting"),
        ({"servers": {"": {"ready": True, "pending": None}}}, "running"),
        ({"servers": {"": {"ready": False, "pending": "stop"}}}, "stopping"),
    ],
)
def test_page_shows_the_server_state_and_the_open_button(fake_hub, client, auth, make, body, state):
    student = make.enrolled_student()
    if body is not None:
        fake_hub.users[f"u{student.id}"] = body
    auth.login(student)
    page = client.get("/notebooks?lang=en")
    assert page.status_code == 200
    assert f'data-state="{state}"'.encode() in page.data
    assert f'href="{fake_hub.url}/hub/spawn"'.encode() in page.data
    assert fake_hub.seen[-1] == (f"/hub/api/users/u{student.id}", "token service-token")


def test_page_says_so_when_the_hub_is_down_or_no_token(app, client, auth, make):
    app.config.update(HUB_URL="http://127.0.0.1:9", HUB_API_TOKEN="service-token")
    auth.login(make.enrolled_student())
    assert b'data-state="unavailable"' in client.get("/notebooks").data
    assert HubClient(api_url="http://127.0.0.1:9/hub/api", token="").server_state("u1") == ServerState.UNAVAILABLE


def test_withdrawn_trainee_sees_why_and_no_button(fake_hub, client, auth, make):
    cohort = make.cohort()
    student = make.enrolled_student(cohort)
    withdraw(student, cohort, "moved away")
    auth.login(student)
    page = client.get("/notebooks")
    assert b"data-test=\"hub-refused\"" in page.data and b"open-notebooks" not in page.data
    assert fake_hub.seen == []  # nothing asked of the hub for someone it would refuse


def test_instructor_and_admin_may_open_notebooks(fake_hub, client, auth, make):
    for role in ("instructor", "admin"):
        auth.login(make.user(role))
        assert b"open-notebooks" in client.get("/notebooks").data
        auth.logout()


@pytest.mark.parametrize("role", ["recruiter", "coordinator"])
def test_recruiters_and_coordinators_have_no_notebooks_page(fake_hub, client, auth, make, role):
    auth.login(make.user(role))
    assert client.get("/notebooks").status_code == 403


def test_page_is_korean_by_default(fake_hub, client, auth, make):
    auth.login(make.enrolled_student())
    page = client.get("/notebooks").data.decode()
    assert "내 노트북 열기" in page and "시작 전" in page
