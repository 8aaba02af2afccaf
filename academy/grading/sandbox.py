"""Run untrusted notebook kernels under bubblewrap with no network and hard limits.

The sandbox sees the system, the Python installation and the data folder read-only, a private
sized /tmp and /dev/shm, and two writable folders: the scratch copy of the submission and the
kernel's socket folder. Both lie in the job's box: a size-limited tmpfs the worker mounts per job,
so a submission cannot fill the worker's disk, however many files it writes. It never sees the
course folder, the gradebook, solutions, other submissions, secrets or $HOME. Kernels talk to the
worker over ZeroMQ IPC sockets in the socket folder, because TCP on loopback does not cross the
network namespace. What the sandbox sees and its limits come from one policy (sandbox_policy.py);
the limits of the whole job (memory, processes, CPU time) from its cgroup (cgroups.py).

By default a root worker's kernels are forked from its fork server (forkserver.py and zygote.py),
which builds the same view per job with namespaces of its own; otherwise each kernel is a fresh
Python started by bwrap_command (bubblewrap.py). This module sits above both: the fork server
imports only the policy and the bubblewrap renderings, never this module.
"""
from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import resource
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import zmq
from jupyter_client.manager import AsyncKernelManager

from academy.grading import cgroups
from academy.grading.bubblewrap import bwrap_command, kill_group
from academy.grading.forkserver import ForkServerUnavailable, fork_server_for
from academy.grading.jobs import GradingLimits
from academy.grading.sandbox_policy import (  # noqa: F401 - SandboxSpec: also imported from here by the grader
    RLIMITS, SANDBOX_GUARD, SANDBOX_JUDGE, SandboxPolicy, SandboxSpec, cgroup_limits, job_policy, python_executable,
    sandbox_env)
from academy.grading.settings import settings

MS_NOSUID, MS_NODEV, MNT_DETACH = 2, 4, 2
log = logging.getLogger(__name__)
_libc = ctypes.CDLL(None, use_errno=True)


def sandbox_uid() -> int:
    """Pick this worker process's sandbox uid, so parallel jobs do not share a process count."""
    return settings.sandbox_uid_base + os.getpid() % 50000


def judge_uid() -> int:
    """Pick this worker process's uid for the judge: never the uid its trainee kernels run as."""
    return sandbox_uid() + 50000


def prepare_dirs(spec: SandboxSpec) -> None:
    """Create the writable folders and hand them to the sandbox uid."""
    for path in (spec.work_dir, spec.socket_dir):
        path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            for sub in [path, *path.rglob("*")]:
                os.lchown(sub, spec.uid, spec.uid)
            path.chmod(0o700)


def limits_preexec(policy: SandboxPolicy, cgroup: cgroups.JobCgroup | None = None) -> Callable[[], None]:
    """Return a preexec_fn that joins the job's cgroup and sets the policy's rlimits, for all it starts."""
    procs = [str(p) for p in cgroup.procs_files()] if cgroup is not None else []

    def apply() -> None:
        for path in procs:
            with open(path, "w") as handle:
                handle.write(str(os.getpid()))
        for name, (soft, hard) in policy.rlimit_pairs().items():
            if name == "nproc" and os.geteuid() != 0:
                soft = hard = soft + _own_process_count()  # our own uid: count our other processes
            resource.setrlimit(RLIMITS[name], (soft, hard))

    return apply


def _own_process_count() -> int:
    uid = os.getuid()
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += 1
            except OSError:
                continue
    return count


def mount_box(folder: Path, limits: GradingLimits) -> bool:
    """Make folder a tmpfs of limits.disk_bytes holding everything a job's sandboxes may write.

    Root only; returns False (the folder stays on the worker's disk) otherwise. Its pages count
    against the job's memory when the job writes them, and are freed when the box is unmounted.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not settings.box:
        return False
    options = f"size={limits.disk_bytes},nr_inodes={limits.max_files},mode=0755"
    if _libc.mount(b"tmpfs", os.fsencode(folder), b"tmpfs", ctypes.c_ulong(MS_NOSUID | MS_NODEV),
                   options.encode()) != 0:
        err = ctypes.get_errno()
        log.warning("no tmpfs for the job's folders (%s): they stay on the disk", os.strerror(err))
        return False
    return True


def unmount_box(folder: Path) -> None:
    """Unmount a job's box (its files go with it)."""
    if os.path.ismount(folder):
        if _libc.umount2(os.fsencode(folder), MNT_DETACH) != 0:
            log.warning("could not unmount %s: %s", folder, os.strerror(ctypes.get_errno()))


def unmount_stale_boxes(root: Path) -> int:
    """Unmount the boxes of jobs whose worker is gone (no process holds their lock); return how many."""
    count = 0
    for lock in root.glob("*/box.lock"):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # its worker still grades that job
        else:
            if os.path.ismount(lock.parent / "box"):
                unmount_box(lock.parent / "box")
                count += 1
        finally:
            os.close(fd)
    return count


def box_full(folder: Path) -> bool:
    """Return whether a job filled its box (space or files)."""
    try:
        info = os.statvfs(folder)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < 256 * 1024 or info.f_favail < 16


def run_in_sandbox(spec: SandboxSpec, inner: list[str], timeout: float,
                   handle: KernelHandle | None = None) -> subprocess.CompletedProcess[str]:
    """Run one command in a fresh sandbox, in the cgroup of handle's job (checks and tests, not grading)."""
    prepare_dirs(spec)
    own = handle is None
    handle = handle or KernelHandle()
    try:
        proc = subprocess.Popen(
            bwrap_command(spec, inner), env=sandbox_env(spec), cwd=spec.work_dir,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
            preexec_fn=limits_preexec(job_policy(spec), handle.job_cgroup(spec.limits)))
        handle.pids.append(proc.pid)
        handle.processes.append(proc)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            out, err = proc.communicate()
    finally:
        if own:
            handle.close()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_judge(spec: SandboxSpec, timeout: float, handle: KernelHandle | None = None) -> int | None:
    """Run judge.py once in a fresh sandbox of its own; return its exit code, None if it ran out of time.

    Its input and output are files in spec.work_dir (see judge.py); what it prints goes to
    spec.socket_dir/kernel.log. Forked from the worker's fork server when spec.scratch_root is set.
    It runs in the job's cgroup, after the kernel: the job's limits hold for both together.
    """
    prepare_dirs(spec)
    if handle is not None and handle.killed:
        return None
    env = sandbox_env(spec)
    cgroup = handle.job_cgroup(spec.limits) if handle is not None else None
    process: Any = None
    if spec.scratch_root is not None:
        try:
            server = fork_server_for(spec.scratch_root, spec.data_dir, env)
            process = server.launch(spec, "", env, program="judge", cgroup=cgroup)
        except ForkServerUnavailable:
            log.warning("no fork server; the judge starts in its own sandbox", exc_info=True)
    if process is None:
        with open(spec.socket_dir / "kernel.log", "ab") as out:
            process = subprocess.Popen(
                bwrap_command(spec, [python_executable(), SANDBOX_JUDGE]), env=env, cwd=spec.work_dir,
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                preexec_fn=limits_preexec(job_policy(spec), cgroup))
    if handle is not None:
        handle.processes.append(process)
        if isinstance(process, subprocess.Popen):
            handle.pids.append(process.pid)
        if handle.killed:
            handle.kill()
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        if isinstance(process, subprocess.Popen):
            kill_group(process.pid)
        else:
            process.kill()
        return None


@dataclass
class KernelHandle:
    """One job's sandboxes: their processes, the job's cgroup and box, so a watchdog can end them all."""

    pids: list[int] = field(default_factory=list)
    processes: list[Any] = field(default_factory=list)  # Popen, or forkserver.ForkedKernel
    killed: bool = False
    cgroup: cgroups.JobCgroup | None = None
    box: Path | None = None
    box_mounted: bool = False
    _cgroup_tried: bool = False
    _box_lock: int | None = None

    def open_box(self, folder: Path, limits: GradingLimits) -> Path:
        """Make the job's box (see mount_box) and return it; close() unmounts it.

        A lock beside it is held while the job runs: a worker killed mid-job leaves a box nobody
        holds, which the next worker's sweep unmounts (unmount_stale_boxes).
        """
        self._box_lock = os.open(folder.parent / "box.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._box_lock, fcntl.LOCK_EX)
        self.box = folder
        self.box_mounted = mount_box(folder, limits)
        return folder

    def job_cgroup(self, limits: GradingLimits) -> cgroups.JobCgroup | None:
        """Return the job's cgroup, made on first use; None where no hierarchy is writable."""
        if self.cgroup is None and not self._cgroup_tried:
            self._cgroup_tried = True
            found = cgroups.layout()
            if found.by_resource:
                try:
                    self.cgroup = cgroups.JobCgroup(found, cgroup_limits(limits), self.kill)
                except OSError:
                    log.warning("could not make the job's cgroup: rlimits only", exc_info=True)
        return self.cgroup

    def kill(self) -> None:
        """Kill every sandbox started for the job, and any started later."""
        self.killed = True
        for pid in self.pids:
            kill_group(pid)
        for process in self.processes:
            if not isinstance(process, subprocess.Popen):
                process.kill()  # a forked kernel: its server ends the job's namespace
        if self.cgroup is not None:
            self.cgroup.kill()

    def cpu_exceeded(self) -> bool:
        """Return whether the job ran out of CPU time (its cgroup's total, or one process's rlimit)."""
        if self.cgroup is not None and self.cgroup.cpu_exceeded:
            return True
        codes = {p.poll() for p in self.processes}
        return bool(codes & {-signal.SIGXCPU, 128 + signal.SIGXCPU})

    def limit_hits(self) -> set[str]:
        """Return the job-wide limits it ran into: memory, processes, cpu (cgroup) and disk (its box)."""
        hits = self.cgroup.hits() if self.cgroup is not None else set()
        if self.cpu_exceeded():
            hits.add("cpu")
        if self.box is not None and self.box_mounted and box_full(self.box):
            hits.add("disk")
        return hits

    def enforcement(self) -> str:
        """Say how this job's limits were held (for the result)."""
        found = cgroups.layout()
        if self.cgroup is None and found.by_resource:
            text = "rlimits per process only (the job's cgroup could not be made)"
        else:
            text = found.describe()
        box = "a tmpfs" if self.box_mounted else "the worker's disk (no tmpfs: not root, or turned off)"
        return f"{text}; writable folders on {box}"

    def close(self) -> None:
        """End the job for good: kill what is left, remove its cgroup, unmount its box."""
        self.kill()
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.box is not None and self.box_mounted:
            unmount_box(self.box)
            self.box_mounted = False
        if self._box_lock is not None:
            os.close(self._box_lock)
            self._box_lock = None


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs inside the sandbox of `spec`, over IPC sockets."""

    spec: SandboxSpec | None = None  # set on a per-job subclass by kernel_manager_for()
    handle: KernelHandle | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        assert self.spec is not None, "use kernel_manager_for(spec)"
        # One message from the kernel (the trainee's code) may not be larger than this: the worker
        # holds each in memory. Outputs are capped far lower (GradingLimits.output_bytes).
        self.context.setsockopt(zmq.MAXMSGSIZE, max(64 * 1024 * 1024, 4 * self.spec.limits.output_bytes))
        self.transport = "ipc"
        self.ip = str(self.spec.socket_dir / "kernel")
        self.connection_file = str(self.spec.socket_dir / "kernel.json")

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """Return the guarded kernel command wrapped in bwrap."""
        assert self.spec is not None
        inner = [python_executable(), SANDBOX_GUARD, "-f", self.connection_file, *(extra_arguments or [])]
        return bwrap_command(self.spec, inner)

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        assert self.spec is not None
        prepare_dirs(self.spec)
        return await super()._async_pre_start_kernel(**kw)

    def write_connection_file(self, **kwargs: Any) -> None:
        """Write the connection file so that the sandbox uid can read it."""
        super().write_connection_file(**kwargs)
        assert self.spec is not None
        if os.geteuid() == 0:
            os.chown(self.connection_file, self.spec.uid, self.spec.uid)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        assert self.spec is not None
        kw["env"] = sandbox_env(self.spec)
        kw["cwd"] = str(self.spec.work_dir)
        cgroup = self.handle.job_cgroup(self.spec.limits) if self.handle is not None else None
        kw["preexec_fn"] = limits_preexec(job_policy(self.spec), cgroup)
        # The kernel's parent inside the pid namespace is bwrap, not the worker: no parent
        # polling (it would see pid 1 and quit); --die-with-parent covers a dying worker.
        kw["independent"] = True
        if self.spec.scratch_root is not None:
            try:
                await self._launch_forked(kw["env"], cgroup)
                return
            except ForkServerUnavailable:
                log.warning("no fork server; this kernel starts in its own sandbox", exc_info=True)
        log_path = self.spec.socket_dir / "kernel.log"
        with open(log_path, "ab") as log:  # kernel chatter stays out of the worker's log
            kw["stdout"] = kw["stderr"] = log
            if self.handle is not None and self.handle.killed:
                raise RuntimeError("the job's time limit passed before the kernel started")
            await super()._async_launch_kernel(kernel_cmd, **kw)
        if self.handle is not None and self.sandbox_pid is not None:
            self.handle.pids.append(self.sandbox_pid)
            process = getattr(self.provisioner, "process", None)
            if process is not None:
                self.handle.processes.append(process)
            if self.handle.killed:
                kill_group(self.sandbox_pid)

    async def _launch_forked(self, env: dict[str, str], cgroup: cgroups.JobCgroup | None) -> None:
        """Have the worker's fork server fork this job's kernel (see forkserver.py)."""
        assert self.spec is not None and self.spec.scratch_root is not None and self.provisioner is not None
        if self.handle is not None and self.handle.killed:
            raise RuntimeError("the job's time limit passed before the kernel started")
        server = fork_server_for(self.spec.scratch_root, self.spec.data_dir, env)
        kernel = server.launch(self.spec, self.connection_file, env, cgroup=cgroup)
        provisioner: Any = self.provisioner
        provisioner.process, provisioner.pid, provisioner.pgid = kernel, kernel.pid, None
        if self.handle is not None:
            self.handle.processes.append(kernel)
            if self.handle.killed:
                kernel.kill()
        self._reconcile_connection_info(provisioner.connection_info)

    async def _async_interrupt_kernel(self) -> None:
        # A signal to bwrap's process group would not reach the kernel's own session:
        # ask the kernel to interrupt itself instead. A dead kernel is not asked: a send to
        # its socket would wait for ever.
        if not await self._async_is_alive():
            return
        msg = self.session.msg("interrupt_request", content={})
        self._connect_control_socket()
        assert self._control_socket is not None
        self._control_socket.setsockopt(zmq.SNDTIMEO, 2000)
        try:
            self.session.send(self._control_socket, msg)
        except zmq.Again:
            log.warning("the kernel did not take the interrupt request")

    interrupt_kernel = _async_interrupt_kernel  # type: ignore[assignment]

    @property
    def sandbox_pid(self) -> int | None:
        """Return the pid of bwrap, whose process group holds the sandbox."""
        provisioner = self.provisioner
        return getattr(provisioner, "pid", None) if provisioner is not None else None


def kernel_manager_for(spec: SandboxSpec, handle: KernelHandle | None = None) -> type[SandboxKernelManager]:
    """Return a kernel manager class bound to one job's sandbox."""
    attrs = {"spec": spec, "handle": handle}
    return type("JobSandboxKernelManager", (SandboxKernelManager,), attrs)
