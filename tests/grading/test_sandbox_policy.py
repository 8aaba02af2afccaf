"""One sandbox policy: the fork server's per-job namespaces and a job's own bwrap sandbox show the same view."""
from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from academy.grading import forkserver, sandbox, sandbox_policy, zygote
from academy.grading.bubblewrap import zygote_command
from academy.grading.jobs import MIB, GradingLimits
from academy.grading.sandbox import SandboxSpec, bwrap_command, limits_preexec
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


BINDS = ("ro-bind", "ro-bind-try", "bind", "dev-bind-try")


def _bwrap_steps(args: list[str]) -> tuple[list[tuple], set[str], list[str]]:
    """Read a bwrap command line back: its mount steps (kind, dest, src, mode, size), namespaces, and the rest."""
    steps: list[tuple] = []
    namespaces: set[str] = set()
    mode = size = None
    i = 1
    while args[i] != "--chdir":
        flag = args[i]
        if flag.startswith("--unshare-"):
            namespaces.add(flag.removeprefix("--unshare-").removesuffix("-try"))
        elif flag in ("--perms", "--size", "--cap-add"):
            mode, size = (int(args[i + 1], 8), size) if flag == "--perms" else (mode, size)
            size = int(args[i + 1]) if flag == "--size" else size
            i += 1
        elif flag.removeprefix("--") in BINDS or flag == "--symlink":
            steps.append((flag[2:], args[i + 2], args[i + 1], None, None))
            i += 2
        elif flag in ("--tmpfs", "--dir", "--proc", "--dev"):
            steps.append((flag[2:], args[i + 1], "", mode, size))
            mode = size = None
            i += 1
        i += 1
    return steps, namespaces, args[i:]


def _server_sources(data_dir: Path | None) -> dict[str, str]:
    """Return, for each bind of the fork server's own view, the host path it shows at its destination."""
    steps, _, _ = _bwrap_steps(zygote_command(data_dir, GradingLimits(), ["true"]))
    return {dest: src for kind, dest, src, _, _ in steps if kind in BINDS}


def _forked_source(step: dict, server_sources: dict[str, str], job_folders) -> str:
    """Return the host path a fork server's step shows: a job folder's detached copy, or the server's own bind."""
    if step.get("fd"):
        return str(next(job_folders))
    if step["kind"] in BINDS:
        return server_sources[step["src"]]  # the server's view holds each shared source at its destination
    return step.get("src", "")  # a symlink's text


class _Recorder:
    """Stands in for the resource module: records each rlimit set, sets none."""

    def __init__(self) -> None:
        self.set: dict[int, tuple[int, int]] = {}

    def setrlimit(self, which: int, limits: tuple[int, int]) -> None:
        self.set[which] = tuple(limits)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("bwrap") is None,
                    reason="a root worker with bubblewrap: the only one that uses both paths")
def test_a_job_gets_one_policy_from_its_own_sandbox_and_from_the_fork_server(tmp_path, monkeypatch):
    """Read back what each path would do for one job: the same mounts, sources, limits, namespaces and uid.

    The bwrap command (and the rlimits its preexec_fn sets) against the fork server's start request (as
    zygote.py performs it: its mounts over the server's view, its rlimits, its unshare flags). Checked:
    fails when bwrap_command drops --unshare-net, when forked_mounts drops a tmpfs's size, and when
    zygote.py's _set_limits forgets the CPU grace (each changed once, then put back).
    """
    (tmp_path / "data").mkdir()
    limits = GradingLimits(cpu_seconds=77, memory_bytes=900 * MIB, max_processes=33, file_bytes=5 * MIB,
                           tmp_bytes=48 * MIB)
    spec = SandboxSpec(work_dir=tmp_path / "box" / "sandbox", socket_dir=tmp_path / "box" / "ipc",
                       data_dir=tmp_path / "data", limits=limits, uid=4321, scratch_root=tmp_path)

    # The job's own sandbox: bwrap's arguments, setpriv's, and the rlimits of its preexec_fn.
    own_steps, own_namespaces, tail = _bwrap_steps(bwrap_command(spec, ["true"]))
    own_chdir, setpriv = tail[1], tail[tail.index("setpriv"):]
    own_uid = setpriv[setpriv.index("--reuid") + 1]
    assert setpriv[setpriv.index("--regid") + 1] == own_uid
    assert {"--clear-groups", "--no-new-privs"} <= set(setpriv)
    recorder = _Recorder()
    monkeypatch.setattr(sandbox, "resource", recorder)
    limits_preexec(sandbox_policy.job_policy(spec))()
    own_rlimits = dict(recorder.set)

    # The fork server: the start request it sends for the same job, performed the way zygote.py does.
    copies: dict[int, Path] = {}

    def detached_copy(folder: Path) -> int:
        fd = os.open(os.devnull, os.O_RDONLY)
        copies[fd] = folder
        return fd

    sent: list[dict] = []
    monkeypatch.setattr(forkserver, "_detached_copy", detached_copy)
    server = object.__new__(forkserver.ForkServer)
    server.lock, server.kernels, server.counter = threading.Lock(), {}, 0
    server.process = SimpleNamespace(pid=1)
    server.send = lambda message, fds=None: sent.append({**message, "fds": [copies[fd] for fd in fds or []]})
    server.launch(spec, str(spec.socket_dir / "kernel.json"), {})
    request = sent[0]
    sources, fds = _server_sources(spec.data_dir), iter(request["fds"])
    forked_steps = [(s["kind"], s["dest"], _forked_source(s, sources, fds),
                     s.get("mode") if s["kind"] in ("tmpfs", "dir") else None, s.get("size"))
                    for s in request["mounts"]]
    recorder = _Recorder()
    monkeypatch.setattr(zygote, "resource", SimpleNamespace(setrlimit=recorder.setrlimit))
    zygote._set_limits(request["rlimits"])
    flags = zygote._unshare_flags(request)
    forked_namespaces = {name for name, flag in zygote.NAMESPACES.items() if flags & flag}

    assert flags & zygote.CLONE_NEWNS and flags == zygote.CLONE_NEWNS | sum(
        zygote.NAMESPACES[n] for n in forked_namespaces)
    assert forked_steps == own_steps
    assert forked_namespaces == own_namespaces == {"ipc", "pid", "net", "uts", "cgroup"}
    assert recorder.set == own_rlimits
    assert str(request["uid"]) == own_uid == "4321" and request["chdir"] == own_chdir == "/home/trainee/work"
    # What that one policy is, for this job, said plainly.
    read_only = {dest: src for kind, dest, src, _, _ in own_steps if kind.startswith("ro-")}
    writable = {dest: src for kind, dest, src, _, _ in own_steps if kind == "bind"}
    assert read_only["/usr"] == "/usr" and read_only["/data"] == str(tmp_path / "data")
    assert writable == {"/home/trainee/work": str(spec.work_dir), str(spec.socket_dir): str(spec.socket_dir)}
    assert {(dest, size) for kind, dest, _, _, size in own_steps if kind == "tmpfs"} == {
        ("/tmp", 48 * MIB), ("/dev/shm", 48 * MIB)}
    assert own_rlimits == {zygote.RLIMITS["cpu"]: (77, 82), zygote.RLIMITS["nproc"]: (33, 33),
                           zygote.RLIMITS["fsize"]: (5 * MIB, 5 * MIB), zygote.RLIMITS["core"]: (0, 0),
                           zygote.RLIMITS["as"]: (900 * MIB, 900 * MIB)}
