"""One sandbox policy: the fork server's per-job namespaces and a job's own bwrap sandbox show the same view."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from academy.grading import forkserver, sandbox_policy
from academy.grading.jobs import MIB, GradingLimits
from academy.grading.sandbox import SandboxSpec, bwrap_command
from tests.grading.conftest import SOLUTIONS, all_output_text, graded_notebook

# Prints the sandbox as its code sees it: each mount point (the top one where mounts stack) with its
# file system, read-only or not and size, the rlimits, the uid and the working folder.
VIEW_PROBE = r'''
import json, os, resource
top = {}
for line in open('/proc/self/mountinfo'):
    left, right = line.split(' - ')
    fields, tail = left.split(), right.split()
    point = fields[4].replace('\\040', ' ').replace(os.environ['JUPYTER_RUNTIME_DIR'], '<socket folder>')
    if point.startswith('/proc/') or point.startswith('/dev/') and point != '/dev/shm' and point != '/dev/pts':
        continue
    size = [o for o in tail[2].split(',') if o.startswith('size=')]
    top[point] = [tail[0], fields[5].split(',')[0], size[0] if size else '']
kinds = {'cpu': resource.RLIMIT_CPU, 'nproc': resource.RLIMIT_NPROC, 'fsize': resource.RLIMIT_FSIZE,
         'core': resource.RLIMIT_CORE, 'as': resource.RLIMIT_AS}
limits = {name: resource.getrlimit(kind) for name, kind in kinds.items()}
print('VIEW ' + json.dumps({'mounts': top, 'limits': limits, 'uid': os.getuid() != 0, 'cwd': os.getcwd(),
                           'tmp': oct(os.stat('/tmp').st_mode), 'shm': oct(os.stat('/dev/shm').st_mode)}))
'''


def _view(course, student: str) -> dict:
    text = all_output_text(graded_notebook(course, student))
    line = next(line for line in text.splitlines() if line.startswith("VIEW "))
    return json.loads(line[5:])


@pytest.mark.skipif(not forkserver.fork_server_enabled(gpu=False), reason="the fork server needs a root worker")
def test_fork_server_and_own_sandbox_give_a_job_the_same_view_and_limits(grade, make_submission, course, monkeypatch):
    """Same read-only and writable paths, same tmpfs sizes, same rlimits, in both ways a kernel starts."""
    limits = GradingLimits(wall_seconds=60, tmp_bytes=96 * MIB, memory_bytes=2000 * MIB, max_processes=40)
    probe = make_submission({**SOLUTIONS, "squares": SOLUTIONS["squares"] + VIEW_PROBE})
    assert grade(probe, "pina", limits=limits).auto_score == 5.0
    monkeypatch.setenv("ACADEMY_GRADING_FORK_SERVER", "0")
    assert grade(probe, "pinb", limits=limits).auto_score == 5.0
    forked, own = _view(course, "pina"), _view(course, "pinb")
    assert forked == own
    assert forked["mounts"]["/tmp"] == forked["mounts"]["/dev/shm"] == ["tmpfs", "rw", "size=98304k"]
    assert forked["mounts"]["/home/trainee/work"][:2] == forked["mounts"]["<socket folder>"][:2] == ["tmpfs", "rw"]
    assert forked["mounts"]["/usr"][1] == "ro" and forked["uid"] and forked["cwd"] == "/home/trainee/work"
    assert forked["limits"]["as"] == [2000 * MIB, 2000 * MIB] and forked["limits"]["nproc"] == [40, 40]


def test_a_tmpfs_comes_before_the_mounts_under_it_and_created_parents_are_traversable(monkeypatch):
    """An installation and a scratch folder under /tmp, a Python under a home of mode 700, paths with spaces.

    Checked: fails when shared_mounts() lists the Python folders before the /tmp tmpfs (the fork server's
    old order, which hid a venv under /tmp), and when with_parents() is skipped.
    """
    monkeypatch.setattr(sandbox_policy, "python_roots", lambda: ["/root/.pyenv/versions/3.11.7", "/tmp/my inst/.venv"])
    spec = SandboxSpec(work_dir=Path("/tmp/scratch x/j1/box/sandbox"), socket_dir=Path("/tmp/scratch x/j1/box/ipc"),
                       data_dir=None, limits=GradingLimits(tmp_bytes=64 * MIB), uid=4321)
    policy = sandbox_policy.job_policy(spec)
    steps = [(m.kind, m.dest) for m in policy.mounts]
    tmp = steps.index(("tmpfs", "/tmp"))
    for dest in ("/tmp/my inst/.venv", "/tmp/scratch x/j1/box/ipc"):
        kind = "ro-bind" if "inst" in dest else "bind"
        assert tmp < steps.index((kind, dest))
    created = {m.dest: m.mode for m in policy.mounts if m.kind == "dir"}
    for parent in ("/root", "/root/.pyenv", "/root/.pyenv/versions", "/tmp/my inst", "/tmp/scratch x/j1/box",
                   "/home/trainee", "/opt/academy"):
        assert created.get(parent) == 0o755, parent
        assert steps.index(("dir", parent)) < max(i for i, (_, d) in enumerate(steps) if d.startswith(parent + "/"))
    assert policy.tmpfs_sizes() == {"/tmp": 64 * MIB, "/dev/shm": 64 * MIB}
    # Both renderings carry the same steps: bwrap's arguments, and the fork server's list.
    forked = [(step["kind"], step["dest"], step.get("size")) for step in sandbox_policy.forked_mounts(policy)]
    assert forked == [(m.kind, m.dest, m.size) for m in policy.mounts]
    assert [s for s in sandbox_policy.forked_mounts(policy) if s.get("fd")] == [
        {"kind": "bind", "dest": "/home/trainee/work", "src": "", "fd": True},
        {"kind": "bind", "dest": "/tmp/scratch x/j1/box/ipc", "src": "", "fd": True}]
    args = bwrap_command(spec, ["true"])
    assert args[args.index("/tmp") - 3:args.index("/tmp") + 1] == ["--size", str(64 * MIB), "--tmpfs", "/tmp"]
    assert ["--ro-bind", "/tmp/my inst/.venv", "/tmp/my inst/.venv"] == args[args.index("/tmp/my inst/.venv") - 1:
                                                                             args.index("/tmp/my inst/.venv") + 2]
