"""Attacks on the portal-wide refusals of bad requests (academy.errors); the walk in tests/walker runs them
against every route, these name each protection on its own."""
from __future__ import annotations

import pytest

from academy.extensions import db
from academy.universities.models import University


@pytest.mark.parametrize("odd_id", ["2147483648", "9223372036854775808", "1" + "0" * 40, "7" * 5000])
def test_an_id_no_row_can_have_matches_no_route(client, make, auth, odd_id):
    """Ids past a PostgreSQL integer are not found (404), on SQLite too, where past 2**63 they used to crash.

    Checked: fails with OverflowError (500) when errors.init_app no longer installs IdConverter.
    """
    auth.login(make.user("admin"))
    for path in (f"/admin/companies/{odd_id}", f"/admin/placements/rounds/{odd_id}", f"/demands/{odd_id}"):
        assert client.get(path).status_code == 404, path


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"42", b"true", b"null", b'{"name": {"a": 1}}',
                                  b"[" * 50_000 + b"]" * 50_000])
def test_a_page_refuses_json_whatever_its_shape(client, make, auth, body):
    """A form page answers JSON with 415; Flask-WTF used to feed lists and numbers to the form (500).

    Checked: fails with TypeError / RecursionError (500) when _refuse_malformed no longer refuses JSON on pages.
    """
    auth.login(make.user("admin"))
    response = client.post("/admin/universities/new", data=body, content_type="application/json")
    assert response.status_code == 415


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"42", b"{", b'{"a": ' * 50_000 + b"1" + b"}" * 50_000,
                                  b'{"submission_id": "\\ud800"}'])
def test_a_machine_endpoint_takes_json_objects_only(client, body):
    """The grading endpoints get 400 for JSON that is not a well-formed object, before any token or lookup.

    Checked: /api/grading/manual answers 500 (AttributeError: 'list' object has no attribute 'get') when
    _json_object is not called.
    """
    for path in ("/api/grading/results", "/api/grading/manual"):
        response = client.post(path, data=body, content_type="application/json",
                               headers={"X-Academy-Grader-Token": "x"})
        assert response.status_code == 400, path
        assert response.is_json and response.get_json()["error"]


def test_nul_characters_in_text_are_refused(client, make, auth):
    """NUL in a form field, a query argument or a path segment is a 400: PostgreSQL cannot store it.

    Checked: the PostgreSQL run answers 500 (psycopg DataError) for the form post when the NUL check is removed.
    """
    auth.login(make.user("admin"))
    before = db.session.scalar(db.select(db.func.count()).select_from(_universities()))
    response = client.post("/admin/universities/new",
                           data={"code": "NUL", "name_ko": "널\x00대학", "name_en": "Nul", "city": "changwon"})
    assert response.status_code == 400
    assert db.session.scalar(db.select(db.func.count()).select_from(_universities())) == before
    assert client.get("/admin/users?q=a%00b").status_code == 400
    assert client.post("/lang/k%00o").status_code == 400


def _universities():
    return University


def test_refusals_are_explained_in_korean_and_english(client, make, auth):
    """A 404 page speaks Korean by default and English on request; a machine endpoint answers JSON."""
    auth.login(make.user("admin"))
    korean = client.get("/admin/companies/2000000000")
    assert korean.status_code == 404 and "찾을 수 없습니다" in korean.get_data(as_text=True)
    english = client.get("/admin/companies/2000000000", headers={"Accept-Language": "en"})
    assert english.status_code == 404 and "Not found." in english.get_data(as_text=True)
    api = client.post("/api/grading/results", json={"submission_id": "1"})
    assert api.status_code == 401 and "error" in api.get_json()


def test_a_refusal_page_leaves_waiting_messages_for_the_next_page(client, make, auth):
    """Someone else's record and a missing one read the same: the 404 page shows no earlier flash."""
    auth.login(make.user("admin"))
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "earlier news")]
    assert "earlier news" not in client.get("/admin/companies/2000000000").get_data(as_text=True)
    assert "earlier news" in client.get("/admin/companies").get_data(as_text=True)
