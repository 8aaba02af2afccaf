"""Resource limits: a runaway notebook ends in a clear limit result, never a crashed worker."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from academy.grading import cgroups
from academy.grading.jobs import MIB, GradingLimits
from academy.grading.sandbox import SandboxSpec, judge_uid, run_in_sandbox, sandbox_uid
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


# ---- Limits per job: each attack below spreads over what a per-process limit cannot see. ----

needs_cgroups = pytest.mark.skipif(not cgroups.layout().by_resource,
                                   reason="no writable cgroup hierarchy here: the limits are per process only")
needs_box = pytest.mark.skipif(os.geteuid() != 0, reason="the job's box (a tmpfs) needs a root worker")


def _filler(path: str, chunk_mib: int = 1, stop_mib: int = 400) -> str:
    """Return code that writes path in chunks until it fails, prints how far it got, and raises."""
    return (f"\nwritten = 0\ntry:\n    with open({path!r}, 'wb') as f:\n        while written < {stop_mib}:\n"
            f"            f.write(b'x' * ({chunk_mib} << 20))\n            f.flush()\n            written += {chunk_mib}\n"
            "finally:\n    print('WROTE MIB', written)\n")


def _number(course, student: str, prefix: str) -> int:
    text = all_output_text(graded_notebook(course, student))
    return int(next(line for line in text.splitlines() if line.startswith(prefix)).split()[-1])


@pytest.mark.parametrize("folder", ["/dev/shm", "/tmp"])
def test_filling_a_shared_memory_or_tmp_folder_stops_at_its_size_and_says_disk(grade, make_submission, course,
                                                                               folder):
    """/dev/shm and /tmp are tmpfs of tmp_bytes each, in both sandbox paths (pinned in test_sandbox_policy).

    Checked: fails when the size is dropped from the /dev/shm mount (the file then grows to its 256 MiB
    RLIMIT_FSIZE, in memory the host would have to give).
    """
    host_shm = os.statvfs("/dev/shm")
    limits = GradingLimits(wall_seconds=60, tmp_bytes=48 * MIB)
    student = "shm" if folder == "/dev/shm" else "tmpf"
    result = grade(make_submission({**SOLUTIONS, "squares": SOLUTIONS["squares"] + _filler(f"{folder}/fill")}),
                   student, limits=limits)
    assert _number(course, student, "WROTE MIB") <= 48
    assert (result.status, result.limit) == ("memory_limit", "disk")
    assert "/tmp and /dev/shm 48 MiB" in result.message and "저장 공간" in result.message
    after = os.statvfs("/dev/shm")
    assert abs(after.f_bfree - host_shm.f_bfree) * after.f_frsize < 16 * MIB  # nothing left on the host


@needs_box
def test_filling_the_work_folder_with_many_files_is_a_disk_limit_and_leaves_the_disk_alone(grade, make_submission,
                                                                                          course):
    """The kernel's work and socket folders lie in the job's box: a tmpfs of disk_bytes, max_files entries.

    Checked: fails when the box is turned off (ACADEMY_GRADING_BOX=0): the kernel then writes 256 MiB (its
    RLIMIT_FSIZE) and 20,000 files to the worker's disk.
    """
    many = ("\nimport os\nmade = 0\ntry:\n    for i in range(20000):\n        open(f'many-{i}', 'w').close()\n"
            "        made += 1\nfinally:\n    print('MADE FILES', made)\n")
    limits = GradingLimits(wall_seconds=90, disk_bytes=64 * MIB, max_files=2000)
    answers = {**SOLUTIONS, "squares": SOLUTIONS["squares"] + _filler("big", 4, 300),
               "mean_square": SOLUTIONS["mean_square"] + many}
    result = grade(make_submission(answers), "dina", limits=limits)
    assert _number(course, "dina", "WROTE MIB") <= 64
    assert _number(course, "dina", "MADE FILES") <= 2000
    assert (result.status, result.limit) == ("memory_limit", "disk")
    assert "work folder 64 MiB or 2000 files" in result.message and "writable folders on a tmpfs" in result.enforcement
    assert not [line for line in open("/proc/self/mountinfo") if "/dina-" in line]  # the box went with the job


@needs_cgroups
def test_memory_spread_over_many_processes_is_a_memory_limit(grade, make_submission):
    """Eight processes of 400 MiB each: each is under its RLIMIT_AS, the job as a whole is not (3.2 GiB of 2).

    Checked: fails when the job's memory cgroup limit is not written (JobCgroup._set_limits).
    """
    spread = ("\nimport os, time\nchildren = []\nfor _ in range(8):\n    pid = os.fork()\n    if pid == 0:\n"
              "        try:\n            block = bytearray(400 << 20)\n            for i in range(0, len(block), 4096):\n"
              "                block[i] = 1\n            time.sleep(8)\n        finally:\n            os._exit(0)\n"
              "    children.append(pid)\ncodes = [os.waitpid(pid, 0)[1] for pid in children]\nprint('CHILD CODES', codes)\n")
    limits = GradingLimits(wall_seconds=60, memory_bytes=2048 * MIB)
    result = grade(make_submission({**SOLUTIONS, "squares": SOLUTIONS["squares"] + spread}), "mona", limits=limits)
    assert (result.status, result.limit) == ("memory_limit", "memory")
    assert "2048 MiB" in result.message and result.auto_score == 0.0


@needs_cgroups
def test_forking_until_the_process_limit_is_a_clear_process_limit(grade, make_submission, course):
    """Processes and threads of the whole job count (cgroup pids), and hitting the count is reported.

    Checked: fails when the job's pids.max is not written (the rlimit alone then stops the forks, unseen).
    """
    bomb = ("\nimport os, time\nchildren = []\ntry:\n    for _ in range(500):\n        pid = os.fork()\n"
            "        if pid == 0:\n            time.sleep(30)\n            os._exit(0)\n        children.append(pid)\n"
            "except OSError:\n    print('FORK REFUSED AFTER', len(children))\n")
    limits = GradingLimits(wall_seconds=60, max_processes=40)
    result = grade(make_submission({**SOLUTIONS, "squares": SOLUTIONS["squares"] + bomb}), "pete", limits=limits)
    assert _number(course, "pete", "FORK REFUSED AFTER") < 40
    assert (result.status, result.limit) == ("memory_limit", "processes")
    assert "more than 40 processes" in result.message


class JobCpu:
    """Sample, while jobs run, the most CPU time any job cgroup of this worker has used."""

    def __init__(self) -> None:
        self.most = 0.0
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        h = cgroups.layout().by_resource["cpu"]
        name = "cpu.stat" if h.version == 2 else "cpuacct.usage"
        while self.running:
            for path in h.parent().glob(f"job-*/{name}"):
                try:
                    text = path.read_text()
                except OSError:
                    continue
                used = (int(text.split("usage_usec ")[1].split()[0]) / 1e6 if h.version == 2 else int(text) / 1e9)
                self.most = max(self.most, used)
            time.sleep(0.05)

    def stop(self) -> float:
        self.running = False
        self.thread.join()
        return self.most


@needs_cgroups
def test_cpu_burnt_in_several_processes_is_a_cpu_time_limit(grade, make_submission):
    """Eight processes spin 3 s each: each is under its RLIMIT_CPU of 4 s, the job's 24 s are not.

    Checked: fails when the job's CPU watcher is not started (JobCgroup.__init__): the job then used
    far more than its 4 s (every process ran to its end) before the result said so.
    """
    burn = ("\nimport os, time\nchildren = []\nfor _ in range(8):\n    pid = os.fork()\n    if pid == 0:\n"
            "        end = time.process_time() + 3\n        while time.process_time() < end:\n            pass\n"
            "        os._exit(0)\n    children.append(pid)\nfor pid in children:\n    os.waitpid(pid, 0)\n")
    limits = GradingLimits(wall_seconds=150, cpu_seconds=4, cell_timeout_seconds=140)
    sampler = JobCpu()
    result = grade(make_submission({**SOLUTIONS, "squares": SOLUTIONS["squares"] + burn}), "cara", limits=limits)
    used = sampler.stop()
    assert (result.status, result.limit) == ("time_limit", "cpu_time")
    assert "4 s of CPU time" in result.message and result.auto_score == 0.0
    assert 4 < used < 8, used  # stopped within a poll or two of the limit, however loaded the machine


@needs_cgroups
def test_the_judge_spends_from_the_same_cpu_budget_as_the_kernel(grade, make_submission):
    """A trainee function that spins only when the judge calls it stops at the job's CPU limit, not later.

    Checked: fails when the judge is started outside the job's cgroup (run_judge without the cgroup):
    the judge's cell then runs to its own 30 s timeout and the job ends with no limit named.
    """
    # The kernel's uid is kept in the function; the judge runs under another uid.
    spin_in_judge = ("import os\n\ndef mean_square(x, kernel_uid=os.getuid()):\n    if os.getuid() != kernel_uid:\n"
                     "        while True:\n            pass\n    return float(np.mean(np.asarray(x, dtype=float) ** 2))\n")
    limits = GradingLimits(wall_seconds=90, cpu_seconds=5, cell_timeout_seconds=30)
    sampler = JobCpu()
    result = grade(make_submission({**SOLUTIONS, "mean_square": spin_in_judge}), "jude", limits=limits)
    used = sampler.stop()
    assert (result.status, result.limit) == ("time_limit", "cpu_time")
    assert 5 < used < 9, used


def _host_state(students: tuple[str, ...]) -> dict[str, object]:
    """Return what jobs of these students could leave behind on the worker's machine."""
    layout = cgroups.layout()
    memory = layout.by_resource.get("memory")
    stat = (memory.own / "memory.stat").read_text() if memory is not None and memory.version == 1 else ""
    shmem = [int(line.split()[1]) for line in stat.splitlines() if line.startswith("total_shmem ")]
    return {
        "mounts": [line for line in open("/proc/self/mountinfo") if any(f"/{s}-" in line for s in students)],
        "cgroups": sorted(str(p) for h in layout.hierarchies() if h.parent().is_dir() for p in h.parent().glob("job-*")),
        "processes": _processes_of(sandbox_uid()) + _processes_of(judge_uid()),
        "shm_free": os.statvfs("/dev/shm").f_bfree * os.statvfs("/dev/shm").f_frsize,
        "tmpfs_memory": shmem[0] if shmem else 0,  # tmpfs pages charged to this worker's memory cgroup
    }


EVERY_ATTACK = (
    "\nimport os, time\nfor path in ('/dev/shm/fill', '/tmp/fill', 'fill'):\n    n = 0\n    try:\n"
    "        with open(path, 'wb') as f:\n            while n < 400:\n                f.write(b'x' * (1 << 20))\n"
    "                f.flush()\n                n += 1\n    except OSError:\n        pass\n    print('FILLED', path, n)\n"
    "kids = []\ntry:\n    for _ in range(300):\n        pid = os.fork()\n        if pid == 0:\n            time.sleep(4)\n"
    "            os._exit(0)\n        kids.append(pid)\nexcept OSError:\n    print('FORK REFUSED AFTER', len(kids))\n"
    "for pid in kids:\n    os.waitpid(pid, 0)\nkids = []\nfor _ in range(6):\n    pid = os.fork()\n    if pid == 0:\n"
    "        try:\n            block = bytearray(400 << 20)\n            for i in range(0, len(block), 4096):\n"
    "                block[i] = 1\n            time.sleep(3)\n        finally:\n            os._exit(0)\n    kids.append(pid)\n"
    "print('OOM KILLED', sum(os.waitpid(pid, 0)[1] == 9 for pid in kids))\nfor _ in range(3):\n    if os.fork() == 0:\n"
    "        while True:\n            pass\nwhile True:\n    pass\n"
)


@needs_cgroups
@needs_box
@pytest.mark.parametrize("forked", [True, False], ids=["fork-server", "own-sandbox"])
def test_a_job_attacking_every_limit_at_once_leaves_the_host_and_the_next_job_untouched(
        grade, make_submission, monkeypatch, forked):
    """Fill /dev/shm, /tmp and the work folder, fork to the limit, spread memory, burn CPU in 4 processes.

    The job ends on a named limit (the kernel is killed, so nbgrader publishes no notebook: the tests
    above check each limit's numbers); then nothing of it is left (mounts, cgroups, processes, tmpfs
    memory) and the next job grades as if nothing happened. Checked: fails when KernelHandle.close()
    neither unmounts the box nor removes the cgroup.
    """
    if not forked:
        monkeypatch.setenv("ACADEMY_GRADING_FORK_SERVER", "0")
    tag = "fs" if forked else "own"
    students = (f"warm{tag}", f"evil{tag}", f"next{tag}")
    grade(make_submission(SOLUTIONS), students[0])  # the fork server started, caches warm
    before = _host_state(students)
    limits = GradingLimits(wall_seconds=90, cpu_seconds=12, memory_bytes=2048 * MIB, max_processes=48,
                           disk_bytes=64 * MIB, tmp_bytes=32 * MIB)
    result = grade(make_submission({**SOLUTIONS, "squares": SOLUTIONS["squares"] + EVERY_ATTACK}), students[1],
                   limits=limits)
    assert result.status in ("memory_limit", "time_limit") and result.limit, result
    assert result.auto_score == 0.0

    after_next = grade(make_submission(SOLUTIONS), students[2])
    assert (after_next.status, after_next.auto_score, after_next.limit) == ("graded", 5.0, "")
    time.sleep(0.5)
    after = _host_state(students)
    assert after["mounts"] == before["mounts"] == [] and after["cgroups"] == before["cgroups"] == []
    assert after["processes"] == 0
    assert abs(after["shm_free"] - before["shm_free"]) < 16 * MIB
    assert after["tmpfs_memory"] - before["tmpfs_memory"] < 8 * MIB


@needs_box
def test_the_box_of_a_killed_worker_is_unmounted_by_the_next_sweep(tmp_path: Path, monkeypatch):
    """A worker killed mid-job leaves its box (a tmpfs holding what the job wrote) mounted: the sweep ends it.

    Checked: fails without unmount_stale_boxes in tasks.sweep_scratch (the box stays mounted for 6 h).
    """
    # Imported here: importing academy.grading.tasks builds the Celery app from the environment.
    from academy.grading import tasks

    scratch = tmp_path / "scratch"
    job = scratch / "killed-job"
    job.mkdir(parents=True)
    monkeypatch.setenv("ACADEMY_GRADING_SCRATCH", str(scratch))
    worker = ("import sys, time\nfrom pathlib import Path\nfrom academy.grading.jobs import GradingLimits\n"
              "from academy.grading.sandbox import KernelHandle\nbox = KernelHandle().open_box(Path(sys.argv[1]) / 'box', "
              "GradingLimits())\n(box / 'written').write_bytes(b'x' * (8 << 20))\nprint('READY', flush=True)\ntime.sleep(60)\n")
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", worker, str(job)], cwd=repo, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
        tasks.sweep_scratch()
        assert os.path.ismount(job / "box")  # its worker still runs: left alone
    finally:
        proc.kill()
        proc.wait()
    tasks.sweep_scratch()
    assert not os.path.ismount(job / "box")
