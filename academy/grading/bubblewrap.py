"""Start sandboxes with bubblewrap: the sandbox policy (sandbox_policy.py) as bwrap command lines.

Two sandboxes are started this way: a job's own (bwrap_command: a kernel or a judge when the fork server
is off or cannot be used) and the fork server's (zygote_command: the one per worker that forks the
kernels, each in namespaces it builds from the same policy). The kernel manager (sandbox.py) and the
fork server (forkserver.py) both start from here; neither imports the other.
"""
from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

from academy.grading.jobs import GradingLimits
from academy.grading.sandbox_policy import NAMESPACES, SandboxSpec, bwrap_mount_args, job_policy, server_mounts

# The fork server's empty folder where each job's root is built (see zygote.py).
ZYGOTE_STAGE = "/run/academy-stage"


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""

def require_bwrap() -> str:
    """Return the bwrap path or raise SandboxUnavailable."""
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable("bubblewrap is not installed: apt-get install -y bubblewrap")
    return path

def unshare_args(namespaces: tuple[str, ...]) -> list[str]:
    """Return bwrap's flags for the policy's namespaces (a cgroup namespace only where the kernel has them)."""
    return [f"--unshare-{name}-try" if name == "cgroup" else f"--unshare-{name}" for name in namespaces]


def bwrap_command(spec: SandboxSpec, inner: list[str]) -> list[str]:
    """Wrap a command so that it runs inside the sandbox described by spec."""
    bwrap = require_bwrap()
    policy = job_policy(spec)
    privileged = os.geteuid() == 0
    args = [bwrap, "--die-with-parent", "--new-session"]
    if privileged:
        # No user namespace: the code then runs as a real unprivileged host uid, so
        # RLIMIT_NPROC binds (it never does for root, and a userns made by root maps to root).
        args += unshare_args(policy.namespaces) + ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-all"]
    args += bwrap_mount_args(policy.mounts)
    args += ["--chdir", policy.chdir, "--"]
    if privileged:
        uid = str(policy.uid)
        args += ["setpriv", "--reuid", uid, "--regid", uid, "--clear-groups", "--no-new-privs",
                 "--bounding-set", "-all", "--inh-caps", "-all", "--"]
    return args + inner


def zygote_command(data_dir: Path | None, limits: GradingLimits, inner: list[str]) -> list[str]:
    """Wrap the fork server in its worker's sandbox (root only: it builds each job's namespaces).

    It sees every read-only source of a job's view (nothing of any job: each job's writable folders
    reach it as mount fds) and keeps the four capabilities a child needs to build its namespaces
    and drop to the sandbox uid. Only the worker's own code runs with them.
    """
    bwrap = require_bwrap()
    args = [bwrap, "--die-with-parent", "--new-session", *unshare_args(NAMESPACES)]
    for cap in ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"):
        args += ["--cap-add", cap]
    args += bwrap_mount_args(server_mounts(data_dir, limits.tmp_bytes, ZYGOTE_STAGE))
    return args + ["--chdir", "/", "--"] + inner

def kill_group(pid: int | None) -> None:
    """Kill a sandbox's process group; bwrap's --die-with-parent takes the namespace down."""
    if pid is None:
        return
    try:
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
