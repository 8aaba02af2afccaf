"""Kernels forked from the worker's fork server: no privileges left, nothing shared between jobs."""
from __future__ import annotations

import os
import time

import pytest

from academy.grading import forkserver
from academy.grading.jobs import GradingLimits
from academy.grading.sandbox import sandbox_uid
from tests.grading.conftest import SOLUTIONS, WRONG, all_output_text, graded_notebook

pytestmark = pytest.mark.skipif(not forkserver.fork_server_enabled(gpu=False),
                                reason="the fork server needs a root worker and is turned off")

PROBE = (
    "\nimport os\nstatus = dict(line.split(':', 1) for line in open('/proc/self/status').read().splitlines())\n"
    "caps = sorted({status[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')})\n"
    "print('CAPS', caps, 'NNP', status['NoNewPrivs'].strip(), 'UID', os.getuid(), os.geteuid())\n"
    "print('FORKED', 'zygote.py' in open('/proc/self/cmdline').read())\n"
    "others = [p for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, os.getpid())]\n"
    "print('OTHERS', others)\n"
    "fds = []\nfor fd in os.listdir('/proc/self/fd'):\n    try:\n        fds.append(os.readlink(f'/proc/self/fd/{fd}'))\n"
    "    except OSError:\n        pass\nprint('FDS', sorted(fds))\n"
)


def _lines(course, student: str, prefix: str) -> list[str]:
    text = all_output_text(graded_notebook(course, student))
    return [line for line in text.splitlines() if line.startswith(prefix)]


def _uid_processes(uid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_forked_kernel_has_no_privileges_and_sees_only_its_own_processes(grade, make_submission, course):
    result = grade(make_submission({**SOLUTIONS, "squares": SOLUTIONS["squares"] + PROBE}), "fern")
    assert result.status == "graded"
    assert _lines(course, "fern", "FORKED") == ["FORKED True"]
    caps = _lines(course, "fern", "CAPS")[0]
    assert caps.startswith("CAPS ['0000000000000000'] NNP 1 UID ")
    assert " 0 " not in caps + " " and not caps.endswith(" 0")
    assert _lines(course, "fern", "OTHERS") == ["OTHERS []"]  # its init (pid 1) and itself, no server
    fds = _lines(course, "fern", "FDS")[0]
    assert "fork-server" not in fds and "gradebook" not in fds and "/course" not in fds, fds


def test_what_one_job_leaves_behind_never_reaches_the_next(grade, make_submission, course):
    # Job 1 leaves files in /tmp and /dev/shm and a detached process that hunts for the next
    # job's notebook for 60 s and copies whatever it finds to /tmp.
    leave = (
        "\nimport os, subprocess\nopen('/tmp/left-by-first', 'w').write('x')\n"
        "open('/dev/shm/left-by-first', 'w').write('x')\n"
        "spy = 'import glob, shutil, time\\nfor _ in range(300):\\n    for p in glob.glob(\"/**/*.ipynb\", recursive=True):\\n"
        "        shutil.copy(p, \"/tmp/\")\\n    time.sleep(0.2)\\n'\n"
        "subprocess.Popen(['python3', '-c', spy, 'LEFTOVER-MARKER'], start_new_session=True,\n"
        "                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\nprint('SPY STARTED')\n"
    )
    grade(make_submission({**WRONG, "squares": WRONG["squares"] + leave}), "gail")
    assert _lines(course, "gail", "SPY STARTED") == ["SPY STARTED"]
    deadline = time.monotonic() + 5
    while _uid_processes(sandbox_uid()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _uid_processes(sandbox_uid()) == []  # the job's namespace died with it

    look = (
        "\nimport os, glob\nseen = [p for p in ['/tmp/left-by-first', '/dev/shm/left-by-first'] if os.path.exists(p)]\n"
        "seen += glob.glob('/tmp/*.ipynb')\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
        "    try:\n        if 'LEFTOVER' in open(f'/proc/{pid}/cmdline').read():\n            seen.append(pid)\n"
        "    except OSError:\n        pass\nprint('SEEN', seen, sorted(os.listdir('/tmp')))\n"
    )
    result = grade(make_submission({**SOLUTIONS, "squares": SOLUTIONS["squares"] + look}), "hana")
    assert result.auto_score == 5.0
    seen = _lines(course, "hana", "SEEN")
    assert len(seen) == 1 and seen[0].startswith("SEEN [] "), seen
    assert "left-by-first" not in seen[0]


def test_a_dead_fork_server_is_replaced_and_the_old_path_still_works(grade, make_submission, course, monkeypatch):
    first = grade(make_submission(SOLUTIONS), "ines")
    assert first.auto_score == 5.0
    forkserver.stop_all()  # as if it had died: the next job starts a new one
    probe = {**SOLUTIONS, "squares": SOLUTIONS["squares"] + PROBE}
    assert grade(make_submission(probe), "jade").auto_score == 5.0
    assert _lines(course, "jade", "FORKED") == ["FORKED True"]
    monkeypatch.setenv("ACADEMY_GRADING_FORK_SERVER", "0")
    result = grade(make_submission(probe), "kara", limits=GradingLimits(wall_seconds=60))
    assert result.auto_score == 5.0
    assert _lines(course, "kara", "FORKED") == ["FORKED False"]


def test_a_data_folder_made_after_the_fork_server_started_is_seen_by_the_next_job(grade, make_submission, course,
                                                                                  tmp_path):
    """The worker starts its fork server when it starts; the data folder may come later (a fresh install fetches the
    datasets, a test stack makes it). The next job's kernel must start, and see the data. (Fails without
    fork_server_for's check of the server's view: every job's setup fails on /data and the job is an error. CI and a
    fresh clone failed this way: "Kernel died before replying to kernel_info".)"""
    from academy.grading.grader import scratch_root

    data = tmp_path / "late-data"
    forkserver.stop_all()
    forkserver.fork_server_for(scratch_root(), data)  # started with no data folder, as the worker does
    data.mkdir()
    (data / "readings.csv").write_text("rpm\n1797\n")
    reading = "\nprint('DATA', open('/data/readings.csv').read().split())\n"
    probe = {**SOLUTIONS, "squares": SOLUTIONS["squares"] + reading}
    result = grade(make_submission(probe), "late", data_dir=str(data))
    assert result.status == "graded" and result.auto_score == 5.0, result.message
    assert _lines(course, "late", "DATA") == ["DATA ['rpm', '1797']"]
