"""Resource limits: a runaway notebook ends in a clear limit result, never a crashed worker."""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from academy.grading.jobs import MIB, GradingLimits
from academy.grading.sandbox import SandboxSpec, run_in_sandbox, sandbox_uid
from tests.grading.conftest import SOLUTIONS, WRONG, all_output_text, graded_notebook


def _processes_of(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                continue
    return count


def test_loop_called_from_several_cells_hits_the_whole_notebook_wall_limit(grade, make_submission):
    # Each call would stay under the per-cell timeout; only the notebook limit stops it in time.
    answers = {
        "squares": "import numpy as np, time\ndef squares(n):\n    time.sleep(4)\n    return np.arange(n)\n"
                   "squares(1)\nsquares(1)\n",
        "mean_square": "squares(1)\nsquares(1)\ndef mean_square(x):\n    while True:\n        pass\n",
    }
    limits = GradingLimits(wall_seconds=10, cell_timeout_seconds=30)
    started = time.monotonic()
    result = grade(make_submission(answers), "tara", limits=limits)
    assert result.status == "time_limit"
    assert result.auto_score == 0.0
    assert time.monotonic() - started < 40  # the per-cell timeouts alone would take > 60 s
    assert "10 s" in result.message


def test_memory_bomb_is_a_memory_limit(grade, make_submission):
    bomb = "\nblocks = []\nfor _ in range(64):\n    blocks.append(bytearray(64 * 1024 * 1024))\n"
    limits = GradingLimits(wall_seconds=60, memory_bytes=1024 * MIB)
    result = grade(make_submission({**SOLUTIONS, "squares": SOLUTIONS["squares"] + bomb}), "umin",
                   limits=limits)
    assert result.status == "memory_limit"
    assert "1024 MiB" in result.message


def test_fork_bomb_in_a_notebook_is_contained(grade, make_submission, course):
    bomb = ("import os, time\nchildren = []\ntry:\n    for _ in range(5000):\n        pid = os.fork()\n"
            "        if pid == 0:\n            time.sleep(60)\n            os._exit(0)\n        children.append(pid)\n"
            "except OSError as exc:\n    print('FORK REFUSED AFTER', len(children))\n")
    limits = GradingLimits(wall_seconds=60, max_processes=32)
    result = grade(make_submission({**WRONG, "squares": WRONG["squares"] + bomb}), "vera", limits=limits)
    assert result.auto_score == 0.0
    text = all_output_text(graded_notebook(course, "vera"))
    refused = [line for line in text.splitlines() if line.startswith("FORK REFUSED AFTER")]
    assert refused and int(refused[0].split()[-1]) <= 32


def test_shell_fork_bomb_is_bounded_and_fully_killed(tmp_path: Path):
    spec = SandboxSpec(work_dir=tmp_path / "work", socket_dir=tmp_path / "ipc", data_dir=None,
                       limits=GradingLimits(max_processes=24), uid=sandbox_uid())
    # As root the sandbox runs as spec.uid; otherwise as our own uid, beside our own processes.
    uid = spec.uid if os.geteuid() == 0 else os.getuid()
    baseline = _processes_of(uid)
    box: dict[str, object] = {}
    runner = threading.Thread(target=lambda: box.update(
        result=run_in_sandbox(spec, ["bash", "-c", "f(){ f | f & }; f; sleep 3"], timeout=4)))
    started = time.monotonic()
    runner.start()
    peak = 0
    while runner.is_alive():
        peak = max(peak, _processes_of(uid) - baseline)
        time.sleep(0.05)
    assert time.monotonic() - started < 15
    assert 2 < peak <= 24  # the bomb ran, and the process limit held it
    time.sleep(0.5)
    assert _processes_of(uid) - baseline <= 0  # nothing of the sandbox survives it


def test_sandbox_has_no_network_and_runs_unprivileged(tmp_path: Path):
    spec = SandboxSpec(work_dir=tmp_path / "work", socket_dir=tmp_path / "ipc", data_dir=None,
                       limits=GradingLimits(), uid=sandbox_uid())
    code = ("import os, socket\nfor a in [('127.0.0.1', 6379), ('1.1.1.1', 53)]:\n    s = socket.socket()\n"
            "    s.settimeout(2)\n    print(a[0], s.connect_ex(a))\nprint('uid', os.getuid())\n")
    result = run_in_sandbox(spec, [sys.executable, "-c", code], timeout=30)
    lines = result.stdout.split("\n")
    assert lines[0] != "127.0.0.1 0" and lines[1] != "1.1.1.1 0", result.stdout + result.stderr
    assert f"uid {spec.uid if os.geteuid() == 0 else os.getuid()}" in result.stdout
    assert "uid 0" not in result.stdout


def test_cpu_time_limit_is_a_time_limit(grade, make_submission):
    spin = "\nimport time\nend = time.process_time() + 30\nwhile time.process_time() < end:\n    pass\n"
    limits = GradingLimits(wall_seconds=60, cpu_seconds=3)
    result = grade(make_submission({**SOLUTIONS, "squares": SOLUTIONS["squares"] + spin}), "wren",
                   limits=limits)
    assert result.status == "time_limit"
    assert result.auto_score == 0.0


def test_flood_of_output_is_capped_and_grading_goes_on(grade, make_submission, course):
    flood = "\nfor _ in range(400):\n    print('x' * 10000)\n"
    limits = GradingLimits(wall_seconds=60, output_bytes=200_000)
    result = grade(make_submission({**SOLUTIONS, "squares": SOLUTIONS["squares"] + flood}), "xena",
                   limits=limits)
    assert (result.status, result.auto_score) == ("graded", 5.0)
    assert "cut at the size limit" in result.message
    assert (course / "autograded" / "xena" / "ps1" / "ps1.ipynb").stat().st_size < 400_000
