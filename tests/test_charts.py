"""Charts are drawn once for every portal process: a content-addressed store under the var folder."""
from __future__ import annotations

import pytest

from academy import charts


@pytest.fixture()
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("ACADEMY_VAR_DIR", str(tmp_path))
    charts._hbar.cache_clear()  # this process's copies: as if another gunicorn worker asked
    yield tmp_path / "charts"
    charts._hbar.cache_clear()


def _no_drawing(*_args, **_kw):
    raise AssertionError("drawn again")


def test_a_chart_one_process_drew_is_read_by_the_next_without_drawing(store, monkeypatch):
    """A second worker (its in-process cache empty) reads the image the first drew. (Fails without the store:
    the second call draws.)"""
    first = charts.hbar(["가", "B"], [1.0, 2.0], xmax=5, xlabel="수준")
    assert first.startswith("data:image/svg+xml;base64,") and len(list(store.glob("*.txt"))) == 1
    charts._hbar.cache_clear()
    monkeypatch.setattr(charts, "figure", _no_drawing)
    assert charts.hbar(["가", "B"], [1.0, 2.0], xmax=5, xlabel="수준") == first


def test_other_numbers_are_another_image(store):
    one = charts.hbar(["가"], [1.0], xmax=5, xlabel="수준")
    two = charts.hbar(["가"], [2.0], xmax=5, xlabel="수준")
    assert one != two and len(list(store.glob("*.txt"))) == 2


def test_a_tampered_image_in_the_store_is_drawn_again_not_written_into_the_page(store):
    """What is read back is written unescaped into an <img src>: anything but a base64 SVG data: URL is refused
    and the chart drawn again. (Fails with the check removed: the page gets the attacker's attribute.)"""
    good = charts.hbar(["가"], [3.0], xmax=5, xlabel="수준")
    (entry,) = store.glob("*.txt")
    entry.write_text('data:image/svg+xml;base64,AAAA" onerror="alert(1)', "ascii")
    charts._hbar.cache_clear()
    assert charts.hbar(["가"], [3.0], xmax=5, xlabel="수준") == good
    assert entry.read_text("ascii") == str(good)  # and the entry is written again


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
