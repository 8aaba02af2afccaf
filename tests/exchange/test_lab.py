"""Check, Submit, the latest submission and the tour in a trainee's notebook server (academy/exchange/lab.py), on a
real jupyter server with the trainee layer and a stand-in portal."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import requests

from tests.exchange.servers import REPO, trainee_server
from tests.exchange.test_client import Stub

TOKEN = "lab-test-token"
PORTAL_TOKEN = "trainee-portal-token"
RECORD = {"id": 3, "course": "manufacturing-ai", "assignment": "lab9", "notebooks": ["lab9"],
          "title_ko": "두 배", "title_en": "Double", "due_at": "2027-03-09T00:00:00+00:00",
          "released_at": "2027-03-01T00:00:00+00:00"}
SUBMISSION = {"id": 41, "assignment": "lab9", "course": "manufacturing-ai", "received_at": "2027-03-02T01:02:03+00:00",
              "sha256": "ab", "status": "graded", "status_label": "graded", "days_late": 0, "score": 7.0,
              "max_points": 10.0, "late_penalty": 0, "has_feedback": True, "notebooks": ["lab9"]}


def cell(kind: str, source: str, **nbgrader) -> nbformat.NotebookNode:
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    return make(source, metadata={"nbgrader": {"schema_version": 3, "grade": False, "solution": False,
                                               "locked": False, "task": False, **nbgrader}})


def assignment_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[
        cell("code", "def double(x):\n    return 2 * x + 1", grade_id="answer", solution=True),
        cell("code", "assert double(0) != None\nprint('returns something')", grade_id="test_returns", grade=True,
             locked=True, points=3),
        cell("code", "assert double(2) == 4, '두 배가 아닙니다 / not twice'", grade_id="test_twice", grade=True,
             locked=True, points=7),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def portal():
    stub = Stub()
    yield stub
    stub.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, portal):
    """A jupyter server as the hub starts a trainee's (the trainee layer) whose portal is the stand-in."""
    home = tmp_path_factory.mktemp("home")
    with trainee_server(home, TOKEN, {"ACADEMY_PORTAL_URL": portal.url, "ACADEMY_PORTAL_TOKEN": PORTAL_TOKEN,
                                      "ACADEMY_PORTAL_PUBLIC_URL": "https://portal.example"}) as url:
        yield url, home


def call(url: str, method: str, path: str, **kw) -> requests.Response:
    return requests.request(method, f"{url}/academy/{path}", headers={"Authorization": f"token {TOKEN}"},
                            allow_redirects=False, timeout=120, **kw)


def test_check_runs_the_visible_tests_and_says_which_pass_with_their_messages(server):
    url, home = server
    assignment_notebook(home / "lab9" / "lab9.ipynb")
    reply = call(url, "POST", "check", json={"path": "lab9/lab9.ipynb"})
    assert reply.status_code == 200, reply.text
    tests = {t["name"]: t for t in reply.json()["tests"]}
    assert tests["test_returns"] == {"index": 1, "name": "test_returns", "passed": True, "points": 3, "max_points": 3,
                                     "message": "returns something"}
    assert tests["test_twice"]["passed"] is False and tests["test_twice"]["points"] == 0
    assert tests["test_twice"]["message"] == "AssertionError: 두 배가 아닙니다 / not twice"
    # The trainee's file is checked, not changed.
    assert nbformat.read(home / "lab9" / "lab9.ipynb", as_version=4).cells[2].outputs == []


def test_check_and_submit_refuse_what_is_not_an_assignment_in_the_home(server):
    url, home = server
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), home / "scratch.ipynb")
    assert call(url, "GET", "assignment", params={"path": "scratch.ipynb"}).status_code == 404
    assert call(url, "POST", "check", json={"path": "scratch.ipynb"}).status_code == 404
    assert call(url, "POST", "submit", json={"path": "scratch.ipynb"}).status_code == 404
    assert call(url, "POST", "check", json={"path": "../../etc/passwd.ipynb"}).status_code == 400
    assert call(url, "GET", "assignment", params={"path": "lab9/lab9.ipynb"}).json() == {"assignment": "lab9",
                                                                                         "course": None}


def test_submit_goes_through_the_portal_exchange_and_answers_the_receipt(server, portal):
    """Submit uploads the folder with the trainee's own portal token and answers the portal's latest submission:
    received time in Seoul, state, score and the portal's feedback page."""
    url, home = server
    assignment_notebook(home / "lab9" / "lab9.ipynb")
    portal.routes[("GET", "/api/exchange/assignments")] = (200, [RECORD])
    portal.routes[("POST", "/api/exchange/assignments/3/submit")] = (201, {**SUBMISSION, "status": "queued"})
    portal.routes[("GET", "/api/exchange/submissions")] = (200, [{**SUBMISSION, "status": "queued", "score": None}])
    portal.seen.clear()
    reply = call(url, "POST", "submit", json={"path": "lab9/lab9.ipynb"})
    assert reply.status_code == 201, reply.text
    assert reply.json()["received_local"] == "2027-03-02 10:02:03" and reply.json()["status"] == "queued"
    assert ("POST", "/api/exchange/assignments/3/submit") in [(m, p) for m, p, _h in portal.seen]
    assert {h.get("Authorization") for _m, _p, h in portal.seen} == {f"Bearer {PORTAL_TOKEN}"}

    portal.routes[("GET", "/api/exchange/submissions")] = (200, [SUBMISSION])
    latest = call(url, "GET", "submission", params={"course": "manufacturing-ai", "assignment": "lab9"})
    assert latest.status_code == 200
    assert (latest.json()["score"], latest.json()["max_points"]) == (7.0, 10.0)
    assert latest.json()["feedback_url"] == "https://portal.example/my/submissions/41/feedback"
    assert portal.seen[-1][1] == "/api/exchange/submissions?course=manufacturing-ai&assignment=lab9"

    portal.routes[("GET", "/api/exchange/submissions")] = (200, [])
    assert call(url, "GET", "submission", params={"course": "manufacturing-ai", "assignment": "lab9"}).status_code == 404


def test_the_launcher_lists_the_released_assignments_with_their_start_links(server, portal):
    url, _home = server
    portal.routes[("GET", "/api/exchange/assignments")] = (200, [RECORD])
    reply = call(url, "GET", "courses")
    assert reply.status_code == 200
    assert reply.json()["assignments"] == [{
        "course": "manufacturing-ai", "assignment": "lab9", "title_ko": "두 배", "title_en": "Double",
        "due_at": "2027-03-09T00:00:00+00:00", "start_url": "/academy/start?course=manufacturing-ai&assignment=lab9"}]
    portal.routes[("GET", "/api/exchange/assignments")] = (401, {"error": "expired"})
    refused = call(url, "GET", "courses")
    assert refused.status_code == 502 and "만료" in refused.json()["error"]


def test_the_tour_is_copied_once_and_never_over_the_trainees_copy(server):
    """Checked: with the copy made on every visit, the trainee's changed tour was replaced by the original."""
    url, home = server
    first = call(url, "GET", "tour")
    assert first.status_code == 302 and first.headers["Location"] == "/lab/tree/datasets_tour.ipynb"
    mine = home / "datasets_tour.ipynb"
    assert json.loads(mine.read_text()) == json.loads((REPO / "notebooks" / "datasets_tour.ipynb").read_text())
    mine.write_text(json.dumps({"mine": True}))
    assert call(url, "GET", "tour").status_code == 302
    assert json.loads(mine.read_text()) == {"mine": True}
