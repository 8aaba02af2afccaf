"""The judge's cell runner (judge._run_cells): one cell after another, each on its own pair of processes
(fast, no sandbox: the processes are forked from the test itself, as the judge forks them from itself).

The verdicts come back in the cells' order, a cell that outlives its time limit is a timeout without
changing the others, and nothing a later cell's test hands to the trainee's code can reach an earlier cell.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import time
from pathlib import Path

import cloudpickle
import pytest

JUDGE_DIR = str(Path(__file__).resolve().parents[2] / "academy" / "grading")
CHANNEL = "ACADEMY_TEST_CHANNEL"


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


def _request(folder: Path, cells: dict[str, str], namespace: dict) -> tuple[int, int, list[dict]]:
    """Write a judge request as the worker does: one copy of the trainee's variables per cell, then the code."""
    header, body = [], b""
    for index, (label, code) in enumerate(cells.items()):
        snapshot = folder / f"c{index}.pkl"
        snapshot.write_bytes(cloudpickle.dumps(namespace))
        data = code.encode()
        header.append({"id": label, "snapshot": str(snapshot), "start": len(body), "length": len(data)})
        body += data
    blob = json.dumps({"cells": header}).encode() + b"\n"
    path = folder / "judge-request.bin"
    path.write_bytes(blob + body)
    return os.open(path, os.O_RDONLY), len(blob), header


def test_each_cell_gets_its_own_verdict_in_order(judge, tmp_path):
    """A cell past its time limit is a timeout; the cells after it are judged as usual, each on its own line.

    Regression guard of the runner (verdicts by position; no protection to remove).
    """
    cells = {
        "slow": "import time\ntime.sleep(120)\nassert answer == 42",
        "passes": "assert answer == 42, 'the answer is 42'",
        "fails": "assert answer == 41, 'the answer is 41'",
        "raises": "assert float(words) > 0",
        "calls the trainee": "assert double(21) == answer",
    }
    namespace = {"answer": 42, "words": "many", "double": eval("lambda x: 2 * x")}  # noqa: S307 - a fixed lambda
    fd, body, header = _request(tmp_path, cells, namespace)
    try:
        verdicts = judge._run_cells(fd, body, header, timeout=6.0)
    finally:
        os.close(fd)
    assert dict(zip(cells, verdicts)) == {"slow": "timeout", "passes": "pass", "fails": "assert 0",
                                          "raises": "error ValueError", "calls the trainee": "pass"}


def predict(n):
    """The trainee's answer to cell 0: whatever a later cell's test will have handed over, if it arrives."""
    channel = Path(os.environ[CHANNEL])
    for _ in range(40):
        if channel.exists():
            return json.loads(channel.read_text())[:n]
        time.sleep(0.1)
    return [0] * n


def score(labels):
    """The trainee's function that cell 1's test calls with the labels cell 0's hidden assertion expects."""
    channel = Path(os.environ[CHANNEL])
    channel.with_suffix(".tmp").write_text(json.dumps(list(labels)))
    os.replace(channel.with_suffix(".tmp"), channel)
    return 1.0


def test_a_later_cells_test_data_cannot_answer_an_earlier_cell(judge, tmp_path, monkeypatch):
    """Cell 1's test hands [3, 1, 4, 1, 5] to the trainee's score(); the trainee's side of cell 0 waits for it
    to answer cell 0's hidden assertion. Judged one after another, cell 0 is decided before cell 1 runs: it fails.

    How checked: an attacker's review ran this on e4f696c's judge, which ran a second cell beside the first while
    a core was free: cell 0 passed (['pass', 'pass']). With judge._run_cells running cells side by side again,
    this test fails.
    """
    monkeypatch.setenv(CHANNEL, str(tmp_path / "channel.json"))
    cells = {"hidden": "assert list(predict(5)) == [3, 1, 4, 1, 5], 'hidden'",
             "hands over": "assert score([3, 1, 4, 1, 5]) >= 0"}
    fd, body, header = _request(tmp_path, cells, {"predict": predict, "score": score})
    try:
        verdicts = judge._run_cells(fd, body, header, timeout=10.0)
    finally:
        os.close(fd)
    assert verdicts == ["assert 0", "pass"]


def test_a_rerun_data_folder_holds_the_rest_of_the_data(judge, tmp_path):
    """rerun_notebook's folder holds what the test changed; every other file of the real data folder is linked in
    beside it, folders held by both are filled in, and nothing the test wrote is replaced.

    How checked: without the linking, SOURCE.md and the other data set were missing from the rerun's folder.
    """
    real, changed = tmp_path / "data", tmp_path / "changed"
    (real / "steel").mkdir(parents=True)
    (real / "steel" / "data.csv").write_text("real")
    (real / "steel" / "SOURCE.md").write_text("licence")
    (real / "other").mkdir()
    (real / "other" / "x.csv").write_text("other")
    (changed / "steel").mkdir(parents=True)
    (changed / "steel" / "data.csv").write_text("changed")
    judge._link_missing(str(real), str(changed))
    assert (changed / "steel" / "data.csv").read_text() == "changed"
    assert (changed / "steel" / "SOURCE.md").read_text() == "licence"
    assert (changed / "other" / "x.csv").read_text() == "other"
