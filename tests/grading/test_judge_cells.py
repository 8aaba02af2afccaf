"""The judge's cell runner (judge._run_cells), cells one at a time and side by side (fast, no sandbox).

Each cell gets its own pair of processes (the trainee's side on the cell's copy, the tester on the cell's
code); the verdicts come back in the cells' order whatever order they finish in, and a cell that outlives
its time limit is a timeout without holding up or changing the others.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

import cloudpickle
import pytest

JUDGE_DIR = str(Path(__file__).resolve().parents[2] / "academy" / "grading")

CELLS = {
    "slow": "import time\ntime.sleep(120)\nassert answer == 42",
    "passes": "assert answer == 42, 'the answer is 42'",
    "fails": "assert answer == 41, 'the answer is 41'",
    "raises": "assert float(words) > 0",
    "reads a function": "assert double(21) == answer",
}


@pytest.fixture(scope="module")
def judge():
    sys.path.insert(0, JUDGE_DIR)
    for module in ("numpy", "pandas", "joblib", "sklearn.base"):  # what the judge loads before its first cell
        importlib.import_module(module)
    try:
        yield importlib.import_module("judge")
    finally:
        sys.path.remove(JUDGE_DIR)
        sys.modules.pop("judge", None)


@pytest.fixture()
def request_file(tmp_path):
    """A judge request as the worker writes it: one copy of the trainee's variables per cell, the cells' code."""
    namespace = {"answer": 42, "words": "many", "double": eval("lambda x: 2 * x")}  # noqa: S307 - a fixed lambda
    header, body = [], b""
    for index, (label, code) in enumerate(CELLS.items()):
        snapshot = tmp_path / f"c{index}.pkl"
        snapshot.write_bytes(cloudpickle.dumps(namespace))
        data = code.encode()
        header.append({"id": label, "snapshot": str(snapshot), "start": len(body), "length": len(data)})
        body += data
    blob = json.dumps({"cells": header}).encode() + b"\n"
    path = tmp_path / "judge-request.bin"
    path.write_bytes(blob + body)
    fd = os.open(path, os.O_RDONLY)
    yield fd, len(blob), header
    os.close(fd)


@pytest.mark.parametrize("at_once", [1, 2, 3])
def test_cells_side_by_side_give_each_cell_its_own_verdict_in_order(judge, request_file, at_once, monkeypatch):
    """The slow cell times out while the others finish; every verdict lands on its own cell.

    How checked: with _run_cells filling verdicts in the order cells finished (a list append instead of
    by index), the side-by-side runs put "pass" on the slow cell and "timeout" last.
    """
    fd, body, cells = request_file
    monkeypatch.setattr(judge, "_a_core_is_free", lambda ours: True)  # side by side even on a busy test machine
    verdicts = judge._run_cells(fd, body, cells, timeout=6.0, at_once=at_once)
    assert dict(zip(CELLS, verdicts)) == {
        "slow": "timeout",
        "passes": "pass",
        "fails": "assert 0",
        "raises": "error ValueError",
        "reads a function": "pass",
    }
