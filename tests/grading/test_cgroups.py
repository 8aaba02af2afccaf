"""Which cgroup hierarchy holds a job's limits, and what a result says when none can."""
from __future__ import annotations

from pathlib import Path

import pytest

from academy.grading import cgroups
from tests.grading.conftest import SOLUTIONS


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _mountinfo(root: Path, v1: tuple[str, ...] = ()) -> str:
    lines = [f"30 25 0:26 / {root}/unified rw,relatime shared:5 - cgroup2 cgroup2 rw"]
    lines += [f"3{i} 25 0:3{i} / {root}/{c} rw,relatime - cgroup cgroup rw,{c}" for i, c in enumerate(v1)]
    return "\n".join(lines) + "\n"


def test_a_v2_hierarchy_that_offers_the_controllers_is_preferred(tmp_path: Path):
    _tree(tmp_path, {"unified/worker/cgroup.controllers": "cpu memory pids io\n",
                     "unified/worker/cgroup.subtree_control": "", "unified/worker/cpu.stat": "usage_usec 0\n",
                     "memory/worker/tasks": ""})
    layout = cgroups.detect(_mountinfo(tmp_path, ("memory", "pids", "cpuacct")), "4:memory:/worker\n0::/worker\n")
    assert {res: h.version for res, h in layout.by_resource.items()} == {"memory": 2, "pids": 2, "cpu": 2}
    assert "+pids" in (tmp_path / "unified/worker/cgroup.subtree_control").read_text()


def test_v1_controllers_serve_what_v2_does_not_offer(tmp_path: Path):
    # This machine's kind: v2 mounted without controllers (cpu.stat is there all the same), v1 has the rest.
    _tree(tmp_path, {"unified/cgroup.controllers": "hugetlb\n", "unified/cgroup.subtree_control": "",
                     "unified/cpu.stat": "usage_usec 0\n", "memory/agent/tasks": "", "pids/tasks": "",
                     "cpuacct/tasks": ""})
    layout = cgroups.detect(_mountinfo(tmp_path, ("memory", "pids", "cpuacct")),
                            "8:pids:/\n4:memory:/agent\n2:cpuacct:/\n0::/\n")
    assert {res: h.version for res, h in layout.by_resource.items()} == {"memory": 1, "pids": 1, "cpu": 2}
    assert layout.by_resource["memory"].own == tmp_path / "memory/agent"
    assert layout.describe() == "cgroup per job: memory v1, pids v1, cpu v2"


def test_no_writable_hierarchy_means_rlimits_only(tmp_path: Path):
    layout = cgroups.detect(_mountinfo(tmp_path / "absent", ("memory",)), "4:memory:/\n0::/\n")
    assert layout.by_resource == {}
    assert layout.describe() == "rlimits per process only (no writable cgroup hierarchy)"


def test_a_job_cgroup_writes_its_limits_and_reads_what_it_hit(tmp_path: Path):
    _tree(tmp_path, {"unified/w/cgroup.controllers": "memory pids\n", "unified/w/cgroup.subtree_control": "",
                     "unified/w/cpu.stat": ""})
    layout = cgroups.detect(_mountinfo(tmp_path), "0::/w\n")
    job = cgroups.JobCgroup(layout, {"memory_bytes": 1 << 30, "max_processes": 40, "cpu_seconds": 60},
                            on_cpu_exceeded=lambda: None)
    folder = next(iter(job.folders.values()))
    assert (folder / "memory.max").read_text() == str(1 << 30)
    assert (folder / "memory.swap.max").read_text() == "0"
    assert (folder / "pids.max").read_text() == "40"
    assert job.hits() == set()
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n")
    (folder / "pids.events").write_text("max 3\n")
    (folder / "cpu.stat").write_text("usage_usec 61000000\nuser_usec 1\n")
    assert job.hits() == {"memory", "processes", "cpu"}
    job._stop.set()


@pytest.fixture()
def no_cgroups(monkeypatch):
    monkeypatch.setenv("ACADEMY_GRADING_CGROUPS", "0")
    cgroups.reset_layout()
    yield
    monkeypatch.undo()
    cgroups.reset_layout()


def test_where_no_cgroup_is_writable_the_result_says_the_limits_are_per_process(no_cgroups, grade, make_submission):
    result = grade(make_submission(SOLUTIONS), "rlim")
    assert (result.status, result.auto_score) == ("graded", 5.0)
    assert result.enforcement.startswith("rlimits per process only")
