"""The one sandbox policy: what a job's code sees, where it may write, and the limits it runs under.

Both ways a job's code starts build its view from the same ordered list of mount steps made here:
bubblewrap (bubblewrap.bwrap_command turns each step into bwrap arguments) and the fork server's
per-job namespaces (zygote.py performs each step itself, with the job's writable folders handed
over as mount file descriptors). Order matters: a sized tmpfs on /tmp comes first, then the binds
that may lie under /tmp (an installation or a scratch folder there stays visible), then the
job's own writable folders. Parent folders that the sandbox creates are made traversable
(0755) explicitly, so an installation under a home folder of mode 700 works in both.

Limits come in two layers: rlimits on every process (the only layer where no cgroup hierarchy
is writable) and, per job, a cgroup (cgroups.py) for memory (tmpfs pages included), processes
and CPU time across all the job's processes. The namespaces a job gets, the uid its code runs as
and its whole environment are decided here too, for both ways.

This module imports nothing else of the sandbox: the bubblewrap renderings (bubblewrap.py), the fork
server (forkserver.py) and the kernel manager (sandbox.py) all build on it.
"""
from __future__ import annotations

import os
import resource
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from academy.grading.jobs import GradingLimits

SANDBOX_WORK = "/home/trainee/work"
SANDBOX_DATA = "/data"
GUARD_FILE = Path(__file__).with_name("kernel_guard.py")
SANDBOX_GUARD = "/opt/academy/kernel_guard.py"
ZYGOTE_FILE = Path(__file__).with_name("zygote.py")
SANDBOX_ZYGOTE = "/opt/academy/zygote.py"
# The judge runs each test cell on a copy of the trainee's variables, in a sandbox of its own (judge.py).
JUDGE_FILE = Path(__file__).with_name("judge.py")
SANDBOX_JUDGE = "/opt/academy/judge.py"
# /etc entries a Python kernel needs; the rest of /etc (deployment secrets) stays hidden.
ETC_ENTRIES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group",
    "nsswitch.conf", "hosts", "ssl", "fonts", "alternatives", "mime.types",
)
NVIDIA_DEVICES = ("nvidia0", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")
# The namespaces of every sandbox besides its own mount namespace, in bwrap's words (--unshare-<name>):
# no network, its own pids, IPC, host name and cgroup view. No user namespace for a root worker: the code
# runs as a real unprivileged host uid, so RLIMIT_NPROC binds (zygote.py maps each name to its CLONE_NEW*).
NAMESPACES = ("ipc", "pid", "net", "uts", "cgroup")
RLIMITS = {"cpu": resource.RLIMIT_CPU, "nproc": resource.RLIMIT_NPROC, "fsize": resource.RLIMIT_FSIZE,
           "core": resource.RLIMIT_CORE, "as": resource.RLIMIT_AS}
CPU_GRACE_SECONDS = 5  # past the CPU rlimit, SIGXCPU; this much later, SIGKILL


@dataclass(frozen=True)
class SandboxSpec:
    """Where one sandbox's writable folders are and what it may use."""

    work_dir: Path  # scratch copy of the submission; bound read-write at SANDBOX_WORK
    socket_dir: Path  # kernel IPC sockets; bound read-write at the same path
    data_dir: Path | None
    limits: GradingLimits
    uid: int  # unprivileged host uid the student's code runs as
    gpu: bool = False
    scratch_root: Path | None = None  # set: the kernel comes from this root's fork server


@dataclass(frozen=True)
class Mount:
    """One step of building a sandbox's view, in bwrap's vocabulary."""

    kind: str  # ro-bind, ro-bind-try, bind, dev-bind-try, tmpfs, dir, symlink, proc, dev
    dest: str
    src: str = ""  # host path of a bind; link text of a symlink
    mode: int | None = None  # tmpfs and dir
    size: int | None = None  # tmpfs, bytes
    job: bool = False  # one of the job's own writable folders (the fork server receives it as a mount fd)


@dataclass(frozen=True)
class SandboxPolicy:
    """Everything that decides what one sandbox may see and use."""

    mounts: tuple[Mount, ...]
    chdir: str
    uid: int
    rlimits: dict[str, int] = field(default_factory=dict)  # name -> limit, set on every process
    cgroup: dict[str, int] = field(default_factory=dict)  # name -> limit of the whole job
    namespaces: tuple[str, ...] = NAMESPACES

    def rlimit_pairs(self) -> dict[str, tuple[int, int]]:
        """Return each rlimit as (soft, hard): the hard CPU limit comes CPU_GRACE_SECONDS after the soft one."""
        return {name: (value, value + CPU_GRACE_SECONDS if name == "cpu" else value)
                for name, value in self.rlimits.items()}

    def paths(self, kinds: tuple[str, ...]) -> list[str]:
        """Return the destinations of the mounts of the given kinds, in order."""
        return [m.dest for m in self.mounts if m.kind in kinds]

    def tmpfs_sizes(self) -> dict[str, int | None]:
        """Return each tmpfs mount point and its size."""
        return {m.dest: m.size for m in self.mounts if m.kind == "tmpfs"}


def rlimits(limits: GradingLimits, gpu: bool) -> dict[str, int]:
    """Return the rlimits of every sandboxed process (the limits that hold without cgroups too)."""
    found = {"cpu": limits.cpu_seconds, "nproc": limits.max_processes, "fsize": limits.file_bytes, "core": 0}
    if not gpu:  # CUDA reserves far more address space than it uses
        found["as"] = limits.memory_bytes
    return found


def cgroup_limits(limits: GradingLimits) -> dict[str, int]:
    """Return the limits of a whole job: all its processes, one after the other or at once.

    The process count includes the sandbox's own two (bwrap's, or the fork server's monitor and init),
    so where a cgroup holds it is reached before the same number as an rlimit and is seen as a hit.
    """
    return {"memory_bytes": limits.memory_bytes, "max_processes": limits.max_processes,
            "cpu_seconds": limits.cpu_seconds}


def system_mounts() -> list[Mount]:
    """Return the read-only system: /usr, the /bin and /lib links or folders, a few /etc entries."""
    found = [Mount("ro-bind", "/usr", "/usr")]
    for name in ("bin", "sbin", "lib", "lib64", "lib32"):
        host = Path("/") / name
        if host.is_symlink():
            found.append(Mount("symlink", str(host), os.readlink(host)))
        elif host.exists():
            found.append(Mount("ro-bind", str(host), str(host)))
    found += [Mount("ro-bind-try", f"/etc/{entry}", f"/etc/{entry}") for entry in ETC_ENTRIES]
    return found


def python_executable() -> str:
    """Return the interpreter as a path the sandbox can run: normalised, so that a worker started as
    `tests/labs/../../.venv/bin/python` does not name a folder that the sandbox does not mount."""
    return os.path.normpath(os.path.abspath(sys.executable))


def python_roots() -> list[str]:
    """Return the Python installation folders outside /usr that kernels need, read-only."""
    roots = {os.path.realpath(sys.base_prefix), os.path.abspath(sys.prefix), os.path.realpath(sys.prefix)}
    return sorted(r for r in roots if not r.startswith("/usr/") and r != "/usr")


def shared_mounts(data_dir: Path | None, gpu: bool, tmp_bytes: int, extra: tuple[Mount, ...] = ()) -> list[Mount]:
    """Return what every job of a worker sees the same way: system, Python, our scripts, data, /tmp."""
    found = system_mounts()
    found += [Mount("proc", "/proc"), Mount("dev", "/dev"),
              Mount("tmpfs", "/tmp", mode=0o1777, size=tmp_bytes),
              Mount("tmpfs", "/dev/shm", mode=0o1777, size=tmp_bytes)]
    if gpu:
        found += [Mount("dev-bind-try", f"/dev/{dev}", f"/dev/{dev}") for dev in NVIDIA_DEVICES]
    found += [Mount("ro-bind", root, root) for root in python_roots()]
    found += [Mount("ro-bind", SANDBOX_GUARD, str(GUARD_FILE)), Mount("ro-bind", SANDBOX_JUDGE, str(JUDGE_FILE))]
    found += list(extra)
    if sees_data(data_dir):
        found.append(Mount("ro-bind", SANDBOX_DATA, str(data_dir)))
    return found


def sees_data(data_dir: Path | None) -> bool:
    """Whether a view built now holds the data folder (a folder that does not exist yet is left out)."""
    return data_dir is not None and data_dir.is_dir()


def with_parents(mounts: list[Mount]) -> tuple[Mount, ...]:
    """Insert, before each mount, the folders above it that nothing else provides, as 0755.

    bwrap would create them itself, but with a mode that depends on the umask; a home folder of
    mode 700 on the host must not become a folder the sandbox uid cannot cross.
    """
    done: set[str] = {"/"}
    provided: list[str] = []  # mounted from the host: what lies below comes from there
    out: list[Mount] = []
    for mount in mounts:
        if mount.kind not in ("dir", "symlink"):
            parent = Path(mount.dest).parent
            missing = []
            while str(parent) not in done and not any(_below(str(parent), p) for p in provided):
                missing.append(str(parent))
                parent = parent.parent
            for path in reversed(missing):
                out.append(Mount("dir", path, mode=0o755))
                done.add(path)
        out.append(mount)
        done.add(mount.dest)
        if mount.kind not in ("dir", "symlink", "tmpfs", "dev"):
            provided.append(mount.dest)
        elif mount.kind == "tmpfs":  # a fresh tmpfs hides what the folders below it held
            provided = [p for p in provided if not _below(p, mount.dest)]
            done = {d for d in done if not _below(d, mount.dest) or d == mount.dest}
    return tuple(out)


def _below(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def sandbox_env(spec: SandboxSpec) -> dict[str, str]:
    """Return the whole environment of sandboxed code: nothing inherited from the worker."""
    path = [str(Path(sys.prefix) / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]
    threads = "1"  # one BLAS thread per sandbox: workers already run one job per core
    env = {
        "PATH": ":".join(path),
        "HOME": "/tmp",
        "USER": "trainee",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "IPYTHONDIR": "/tmp/.ipython",
        "JUPYTER_CONFIG_DIR": "/tmp/.jupyter",
        "JUPYTER_DATA_DIR": "/tmp/.jupyter-data",
        "JUPYTER_RUNTIME_DIR": str(spec.socket_dir),
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/.matplotlib",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "NBGRADER_EXECUTION": "autograde",
        "ACADEMY_DATA_DIR": SANDBOX_DATA,
    }
    if not spec.gpu:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def job_policy(spec: SandboxSpec) -> SandboxPolicy:
    """Return the policy of one sandbox (a job's kernel or its judge)."""
    limits = spec.limits
    mounts = shared_mounts(spec.data_dir, spec.gpu, limits.tmp_bytes)
    mounts += [Mount("bind", SANDBOX_WORK, str(spec.work_dir), job=True),
               Mount("bind", str(spec.socket_dir), str(spec.socket_dir), job=True)]
    return SandboxPolicy(mounts=with_parents(mounts), chdir=SANDBOX_WORK, uid=spec.uid,
                         rlimits=rlimits(limits, spec.gpu), cgroup=cgroup_limits(limits))


def bwrap_mount_args(mounts: tuple[Mount, ...]) -> list[str]:
    """Return bwrap's arguments for a list of mount steps."""
    args: list[str] = []
    for m in mounts:
        if m.kind in ("ro-bind", "ro-bind-try", "bind", "dev-bind-try"):
            args += [f"--{m.kind}", m.src, m.dest]
        elif m.kind == "tmpfs":
            if m.mode is not None:
                args += ["--perms", f"{m.mode:o}"]
            if m.size is not None:
                args += ["--size", str(m.size)]
            args += ["--tmpfs", m.dest]
        elif m.kind == "dir":
            args += (["--perms", f"{m.mode:o}"] if m.mode is not None else []) + ["--dir", m.dest]
        elif m.kind == "symlink":
            args += ["--symlink", m.src, m.dest]
        elif m.kind in ("proc", "dev"):
            args += [f"--{m.kind}", m.dest]
        else:
            raise ValueError(f"unknown mount step {m.kind}")
    return args


def forked_mounts(policy: SandboxPolicy) -> list[dict[str, Any]]:
    """Return the mount steps as the fork server performs them.

    The server's own view holds every shared source at its destination (server_mounts), so a shared
    bind's source is its destination there; the job's own folders arrive as mount fds, in order.
    """
    steps = []
    for m in policy.mounts:
        step: dict[str, Any] = {"kind": m.kind, "dest": m.dest}
        if m.kind in ("ro-bind", "ro-bind-try", "bind", "dev-bind-try"):
            step["src"] = "" if m.job else m.dest
        elif m.kind == "symlink":
            step["src"] = m.src
        if m.mode is not None:
            step["mode"] = m.mode
        if m.size is not None:
            step["size"] = m.size
        if m.job:
            step["fd"] = True
        steps.append(step)
    return steps


def forked_request(policy: SandboxPolicy) -> dict[str, Any]:
    """Return the policy's part of the fork server's start request: mounts, folder, uid, limits, namespaces."""
    return {"mounts": forked_mounts(policy), "chdir": policy.chdir, "uid": policy.uid,
            "rlimits": {name: list(pair) for name, pair in policy.rlimit_pairs().items()},
            "namespaces": list(policy.namespaces)}


def server_mounts(data_dir: Path | None, tmp_bytes: int, stage: str) -> tuple[Mount, ...]:
    """Return the fork server's own view: every shared source of a job's view, and a stage folder.

    It holds no job's folders: each job's writable folders reach the server as mount fds.
    """
    zygote = (Mount("ro-bind", SANDBOX_ZYGOTE, str(ZYGOTE_FILE)),)
    mounts = [m for m in shared_mounts(data_dir, False, tmp_bytes, zygote) if m.dest != "/dev/shm"]
    return with_parents(mounts + [Mount("dir", stage, mode=0o700)])
