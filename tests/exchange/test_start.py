"""/academy/start in a trainee's notebook server (academy/exchange/start.py), on a real jupyter server."""
from __future__ import annotations

import json

import pytest
import requests

from tests.exchange.servers import trainee_server

TOKEN = "start-test-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A jupyter server as the hub starts a trainee's (the trainee layer, the academy extension); no portal."""
    home = tmp_path_factory.mktemp("home")
    with trainee_server(home, TOKEN, {"ACADEMY_PORTAL_URL": "http://127.0.0.1:9"}) as url:
        yield url, home


def _start(url: str, **params: str) -> requests.Response:
    return requests.get(f"{url}/academy/start", params=params, allow_redirects=False, timeout=30,
                        headers={"Authorization": f"token {TOKEN}"})


def test_a_folder_already_there_opens_its_notebook_without_fetching(server):
    url, home = server
    (home / "lab2").mkdir()
    for name in ("a_notes.ipynb", "lab2.ipynb"):
        (home / "lab2" / name).write_text("{}")
    response = _start(url, course="manufacturing-ai", assignment="lab2")
    assert response.status_code == 302 and response.headers["Location"] == "/lab/tree/lab2/lab2.ipynb"


def test_another_courses_folder_of_the_same_name_is_refused_not_opened(server):
    """The handler notes the course of each folder it fetched; asked for course A's lab1 while the folder holds
    course B's, it says so (409) instead of opening B's notebook as A's work.

    How checked (helper-17's review): the handler opened courseB's lab1 for courseA's Start.
    """
    url, home = server
    (home / "lab1").mkdir()
    (home / "lab1" / "lab1.ipynb").write_text("{}")
    (home / ".academy").mkdir()
    (home / ".academy" / "started.json").write_text(json.dumps({"lab1": "courseB"}))
    refused = _start(url, course="courseA", assignment="lab1")
    assert refused.status_code == 409 and "courseB" in refused.text and "Rename that folder" in refused.text
    assert _start(url, course="courseB", assignment="lab1").headers["Location"] == "/lab/tree/lab1/lab1.ipynb"


@pytest.mark.parametrize("params", [{"course": "c", "assignment": "../etc"}, {"course": "c", "assignment": ".."},
                                    {"course": "a/b", "assignment": "lab1"}, {"course": "c", "assignment": ""}])
def test_names_that_are_not_nbgrader_ids_are_refused(server, params):
    assert _start(server[0], **params).status_code == 400


def test_a_failed_fetch_says_so_in_korean_and_english_and_leaves_nothing(server):
    url, home = server
    response = _start(url, course="manufacturing-ai", assignment="lab9")  # the portal is unreachable here
    assert response.status_code == 502
    assert "포털에서 과제를 가져오지 못했습니다" in response.text and "could not be fetched" in response.text
    assert not (home / "lab9").exists()


def test_only_the_server_owner_may_start(server):
    response = requests.get(f"{server[0]}/academy/start", params={"course": "c", "assignment": "lab2"},
                            allow_redirects=False, timeout=30)
    assert response.status_code in (302, 403) and "/lab/tree" not in response.headers.get("Location", "")
