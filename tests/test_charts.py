"""Charts are drawn once for every portal process (a store under the var folder) and served as images of their own.

A page names a chart of figures by an address, /charts/<name>.svg, which the portal answers to signed-in users
only; the name is an HMAC under the portal's secret, so nobody can make up the name of a chart they were not shown.
"""
from __future__ import annotations

import base64
import re

import pytest
from markupsafe import Markup

from academy import charts

ADDRESS = re.compile(r"/charts/([0-9a-f]{64})\.svg")


@pytest.fixture()
def store(app, tmp_path, monkeypatch):
    monkeypatch.setenv("ACADEMY_VAR_DIR", str(tmp_path))
    charts._hbar.cache_clear()  # this process's copies: as if another gunicorn worker asked
    with app.test_request_context("/"):
        yield tmp_path / charts.FOLDER
    charts._hbar.cache_clear()


def _no_drawing(*_args, **_kw):
    raise AssertionError("drawn again")


def _name(chart) -> str:
    """The name in the address a page gets for a chart (written under the page's mount point)."""
    found = ADDRESS.fullmatch(str(Markup(chart)))
    assert found, chart
    return found.group(1)


def test_a_chart_one_process_drew_is_read_by_the_next_without_drawing(store, monkeypatch):
    """A second worker (its in-process cache empty) reads the image the first drew. (Fails without the store:
    the second call draws.)"""
    first = charts.hbar(["가", "B"], [1.0, 2.0], xmax=5, xlabel="수준")
    assert len(list(store.glob(f"{_name(first)}.txt"))) == 1
    charts._hbar.cache_clear()
    monkeypatch.setattr(charts, "figure", _no_drawing)
    assert charts.hbar(["가", "B"], [1.0, 2.0], xmax=5, xlabel="수준") == first


def test_other_numbers_are_another_image(store):
    one = charts.hbar(["가"], [1.0], xmax=5, xlabel="수준")
    two = charts.hbar(["가"], [2.0], xmax=5, xlabel="수준")
    assert one != two and len(list(store.glob("*.txt"))) == 2


def test_the_name_depends_on_the_portals_secret(store, app):
    """The same numbers under another secret are another name: a name is not a hash anyone can compute from
    numbers they guess (a course's score histogram). (Fails with a plain sha256 of the numbers.)"""
    first = _name(charts.hbar(["가"], [4.0], xmax=5, xlabel="수준"))
    app.secret_key = "another-secret-0123456789abcdef0123456789"
    assert _name(charts.hbar(["가"], [4.0], xmax=5, xlabel="수준")) != first


def test_a_tampered_image_in_the_store_is_drawn_again_not_served(store):
    """What is read back must be a base64 SVG data: URL; anything else is drawn again. (Fails with the check
    removed: the attacker's text stays in the store and is served.)"""
    good = charts.hbar(["가"], [3.0], xmax=5, xlabel="수준")
    (entry,) = store.glob("*.txt")
    drawn = entry.read_text("ascii")
    entry.write_text('data:image/svg+xml;base64,AAAA" onerror="alert(1)', "ascii")
    charts._hbar.cache_clear()
    assert charts.hbar(["가"], [3.0], xmax=5, xlabel="수준") == good
    assert entry.read_text("ascii") == drawn  # and the entry is written again


def test_a_store_that_cannot_keep_the_image_puts_it_in_the_page(store, monkeypatch):
    """A full or read-only disk must not leave the page with an address that answers 404."""
    monkeypatch.setattr(charts, "_store", lambda *_a: False)
    assert charts.hbar(["가"], [2.5], xmax=5, xlabel="수준").startswith("data:image/svg+xml;base64,")


def test_a_trainees_own_chart_is_never_written_to_disk(store):
    """One trainee's scores or levels stay in the process's memory: files under the var folder are out of reach of
    retention and erasure. (Fails if progress and competency charts use the shared store.)"""
    from types import SimpleNamespace

    skill = SimpleNamespace(name_ko="신호처리", name_en="Signal processing", level=3)
    assert charts.competency_chart([skill], "ko").startswith("data:image/svg+xml;base64,")
    row = SimpleNamespace(assignment=SimpleNamespace(nbgrader_name="lab1"),
                          grade=SimpleNamespace(score=7.0, max_score=10.0))
    assert charts.progress_chart([row]).startswith("data:image/svg+xml;base64,")
    assert not list(store.glob("*.txt"))


def test_a_chart_is_served_to_the_roles_shown_charts_only_and_kept_by_the_browser(app, client, auth, make, tmp_path,
                                                                          monkeypatch):
    """The image of a stored chart, as SVG, to the roles whose pages show stored charts (the name is the
    capability); nothing to a visitor or another role; 404 for any other name, a tampered entry or a path outside
    the store. (Fails without the route's role rule, its name check or its content check.)"""
    monkeypatch.setenv("ACADEMY_VAR_DIR", str(tmp_path))
    charts._hbar.cache_clear()
    with app.test_request_context("/"):
        chart = charts.hbar(["가"], [1.5], xmax=5, xlabel="수준")
        address, name = str(Markup(chart)), _name(chart)
    charts._hbar.cache_clear()
    anonymous = client.get(address)
    assert anonymous.status_code in (302, 401) and b"<svg" not in anonymous.data
    for role in ("student", "recruiter", "coordinator"):  # their pages show no stored chart
        auth.login(make.user(role))
        assert client.get(address).status_code == 403, role
        auth.logout()
    auth.login(make.user("instructor"))
    answer = client.get(address)
    assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"
    assert answer.data.lstrip().startswith(b"<?xml") and b"<svg" in answer.data
    assert "immutable" in answer.headers["Cache-Control"] and "private" in answer.headers["Cache-Control"]
    assert "max-age=3600" in answer.headers["Cache-Control"]
    assert "sandbox" in answer.headers["Content-Security-Policy"]
    assert client.get(f"/charts/{'0' * 64}.svg").status_code == 404
    assert client.get(f"/charts/{name[:-1]}.svg").status_code == 404
    planted = "data:image/svg+xml;base64," + base64.b64encode(b"<svg/>").decode()
    (tmp_path / "secret.txt").write_text(planted)
    assert client.get("/charts/..%2Fsecret.svg").status_code == 404
    (tmp_path / charts.FOLDER / "planted.txt").write_text(planted)  # in the store, but not a name the portal gives
    assert client.get("/charts/planted.svg").status_code == 404
    (tmp_path / charts.FOLDER / f"{name}.txt").write_text("<svg onload=alert(1)>", "ascii")
    assert client.get(address).status_code == 404


def test_the_address_is_written_under_each_pages_own_mount_point(store):
    """A kept chart (in a course's figures, shared by every view) carries no request's mount point: the address is
    written when the page is, escaped. (Fails when kept() returns the address made under the first request.)"""
    from flask import current_app

    with current_app.test_request_context("/", environ_overrides={"SCRIPT_NAME": "/one"}):
        chart = charts.hbar(["가"], [4.5], xmax=5, xlabel="수준")
        assert str(Markup(chart)).startswith("/one/charts/")
    with current_app.test_request_context("/", environ_overrides={"SCRIPT_NAME": '/two"><form action=//evil>'}):
        written = str(Markup(chart))
    assert "/one" not in written and '"' not in written and "<" not in written


def test_an_image_trimmed_from_the_store_is_stored_again_when_a_page_names_it(store):
    """The store is trimmed by other processes: a chart this process remembers is written again before its address
    goes into a page. (Fails without kept()'s check: the page names a file that is gone, a broken image.)"""
    chart = charts.hbar(["가"], [0.5], xmax=5, xlabel="수준")
    (store / f"{_name(chart)}.txt").unlink()
    assert charts.hbar(["가"], [0.5], xmax=5, xlabel="수준") == chart
    assert (store / f"{_name(chart)}.txt").exists()


def test_trimming_removes_old_images_and_never_one_in_use(store, monkeypatch):
    """Beyond STORE_LIMIT the least recently used go, but never one used in the last IN_USE_SECONDS (a kept page may
    name it); one unused for UNUSED_SECONDS goes whatever the size. (Fails with the trim by count alone.)"""
    import os
    import time

    monkeypatch.setattr(charts, "STORE_LIMIT", 2)
    store.mkdir(parents=True, exist_ok=True)
    now = time.time()
    ages = {"old": charts.UNUSED_SECONDS + 60, "idle1": 3600, "idle2": 1800, "used1": 60, "used2": 30, "used3": 1}
    for name, age in ages.items():
        path = store / f"{name}.txt"
        path.write_text("data:image/svg+xml;base64,", "ascii")
        os.utime(path, (now - age, now - age))
    charts._trim(store)
    assert sorted(p.stem for p in store.glob("*.txt")) == ["used1", "used2", "used3"]
