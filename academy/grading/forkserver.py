"""The worker's side of the fork server (zygote.py): start it once, ask it for one kernel per job.

A grading kernel normally starts a fresh Python in a fresh sandbox and imports the kernel
machinery and the lab's libraries: about 2-3 s of CPU per submission, as much as a third of a
lab's whole cost. The fork server pays that once per worker process; each job's kernel is a
forked child in fresh namespaces that serves that one submission and is then destroyed.

ACADEMY_GRADING_FORK_SERVER=0 turns it off (each kernel then starts in its own bubblewrap
sandbox, as before). It is only used by a root worker (it needs to build namespaces and change
uid) and never for GPU jobs. ACADEMY_GRADING_PRELOAD lists the modules it imports (comma-separated).
"""
from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from academy.grading.cgroups import JobCgroup
from academy.grading.jobs import GradingLimits
from academy.grading.bubblewrap import kill_group, zygote_command
from academy.grading.sandbox_policy import (
    SANDBOX_ZYGOTE, SandboxSpec, forked_request, job_policy, python_executable, sandbox_env, sees_data)
from academy.grading.settings import settings

log = logging.getLogger(__name__)
DEFAULT_PRELOAD = ("cloudpickle", "numpy", "pandas", "scipy", "sklearn.ensemble", "sklearn.linear_model", "sklearn.metrics",
                   "sklearn.model_selection", "sklearn.preprocessing", "matplotlib.pyplot")
START_SECONDS = 120.0
# open_tree(2) (Linux 5.2): a detached copy of a job's folder, which the server mounts in the job's view.
SYS_OPEN_TREE, OPEN_TREE_CLONE, AT_FDCWD = 428, 1, -100
_libc = ctypes.CDLL(None, use_errno=True)


class ForkServerUnavailable(RuntimeError):
    """The fork server could not start or stopped; the job falls back to a fresh sandbox."""


def fork_server_enabled(gpu: bool) -> bool:
    """Return whether kernels of this worker come from the fork server."""
    return (settings.fork_server and os.geteuid() == 0
            and not gpu and sys.platform == "linux")


def preload_modules() -> list[str]:
    """Return the modules the fork server imports before it forks any kernel."""
    configured = settings.preload
    return list(DEFAULT_PRELOAD) if configured is None else configured


class ForkedKernel:
    """A job's kernel as the kernel provisioner sees it: the subset of Popen it uses."""

    def __init__(self, server: ForkServer, job_id: str, program: str = "kernel") -> None:
        self.server = server
        self.job_id = job_id
        self.program = program
        self.killing = False  # asked to end: its exit code is no news
        self.pid = server.process.pid  # only for display: the kernel lives in the server's namespaces
        self.returncode: int | None = None
        self.stdin = self.stdout = self.stderr = None
        self._done = threading.Event()

    def _exited(self, code: int) -> None:
        self.returncode = code
        self._done.set()

    def poll(self) -> int | None:
        """Return the exit code, or None while the kernel runs."""
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the kernel to end and return its exit code."""
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(f"kernel {self.job_id}", timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        """End the job's whole namespace: the kernel and anything it started."""
        if self.returncode is None:
            self.killing = True
            try:
                self.server.send({"op": "kill", "id": self.job_id})
            except ForkServerUnavailable:
                pass  # the server and all its kernels are gone already

    terminate = kill

    def send_signal(self, signum: int) -> None:
        """Only ending signals apply (interrupts go through the kernel's control channel)."""
        if signum in (signal.SIGKILL, signal.SIGTERM):
            self.kill()


class ForkServer:
    """One running zygote.py, for one scratch root and data folder."""

    def __init__(self, scratch: Path, data_dir: Path | None, env: dict[str, str], log_path: Path) -> None:
        self.scratch = scratch
        self.sees_data = sees_data(data_dir)  # its view holds the data folder only if it was there at its start
        self.lock = threading.Lock()
        self.kernels: dict[str, ForkedKernel] = {}
        self.counter = 0
        inner = [python_executable(), SANDBOX_ZYGOTE, *preload_modules()]
        # Requests go over a socket (its stdin) so that each can carry the job's folders and cgroup as fds.
        self.requests, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with open(log_path, "ab") as errors, theirs:
            self.process = subprocess.Popen(
                zygote_command(data_dir, GradingLimits(), inner), stdin=theirs,
                stdout=subprocess.PIPE, stderr=errors, env=env, cwd="/", start_new_session=True)
        assert self.process.stdout is not None
        ready = _read_ready(self.process, START_SECONDS)
        if not ready.get("ready"):
            self.stop()
            raise ForkServerUnavailable(f"the fork server did not start: {ready}")
        self.preload_cpu_s = ready.get("preload_cpu_s")
        threading.Thread(target=self._read, name="fork-server-reader", daemon=True).start()

    def alive(self) -> bool:
        """Return whether the server still answers."""
        return self.process.poll() is None

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        """Send one request, with the file descriptors it hands over."""
        with self.lock:
            try:
                socket.send_fds(self.requests, [json.dumps(message).encode()], fds or [])
            except OSError as exc:
                raise ForkServerUnavailable("the fork server stopped") from exc

    def launch(self, spec: SandboxSpec, connection_file: str, env: dict[str, str],
               program: str = "kernel", cgroup: JobCgroup | None = None) -> ForkedKernel:
        """Start one job's kernel (or its judge, program="judge") in its cgroup and return its handle."""
        with self.lock:
            self.counter += 1
            job_id = f"{os.getpid()}-{self.counter}"
        policy = job_policy(spec)
        fds = [_detached_copy(Path(m.src)) for m in policy.mounts if m.job]
        try:
            fds += cgroup.folder_fds() if cgroup is not None else []
            kernel = ForkedKernel(self, job_id, program)
            self.kernels[job_id] = kernel
            self.send({
                "op": "start", "id": job_id, **forked_request(policy),
                "log": str(spec.socket_dir / "kernel.log"), "connection_file": connection_file,
                "env": env, "program": program,
            }, fds)
        finally:
            for fd in fds:
                os.close(fd)
        return kernel

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "exited" in message:
                kernel = self.kernels.pop(str(message["exited"]), None)
                if kernel is not None:
                    if message["code"] and not kernel.killing:
                        log.warning("forked %s %s ended with code %s", kernel.program, kernel.job_id, message["code"])
                    kernel._exited(int(message["code"]))
        # The server is gone: every kernel it held is gone with it.
        if self.kernels:
            log.warning("the fork server ended (code %s) with %d kernels running",
                        self.process.poll(), len(self.kernels))
        for kernel in list(self.kernels.values()):
            kernel._exited(128 + signal.SIGKILL)
        self.kernels.clear()

    def stop(self) -> None:
        """End the server and every kernel it started."""
        kill_group(self.process.pid)
        self.requests.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass


def _detached_copy(folder: Path) -> int:
    """Return a mount fd of a detached bind of folder (the worker is root; Linux 5.2 or later)."""
    fd = _libc.syscall(SYS_OPEN_TREE, AT_FDCWD, os.fsencode(folder), OPEN_TREE_CLONE | os.O_CLOEXEC)
    if fd < 0:
        err = ctypes.get_errno()
        raise ForkServerUnavailable(f"open_tree {folder}: {os.strerror(err)}")
    return fd


def _read_ready(process: subprocess.Popen, timeout: float) -> dict[str, Any]:
    box: dict[str, Any] = {}

    def read() -> None:
        assert process.stdout is not None
        line = process.stdout.readline()
        try:
            box.update(json.loads(line) if line else {"error": "exited"})
        except ValueError:
            box["error"] = line[:200]

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return box or {"error": f"no answer in {timeout:g} s"}


_servers: dict[tuple[str, str], ForkServer] = {}
_servers_lock = threading.Lock()


def server_env(scratch: Path) -> dict[str, str]:
    """Return the fork server's own environment (each kernel gets its job's on top)."""
    spec = SandboxSpec(work_dir=scratch, socket_dir=scratch, data_dir=None, limits=GradingLimits(), uid=0)
    return sandbox_env(spec)


def fork_server_for(scratch: Path, data_dir: Path | None, env: dict[str, str] | None = None) -> ForkServer:
    """Return this process's running fork server for a scratch root and data folder, started if needed."""
    key = (str(scratch), str(data_dir or ""))
    with _servers_lock:
        server = _servers.get(key)
        # A server started before the data folder existed has none in its view, while a job's view would now
        # name it: every job's setup failed ("FileNotFoundError('/data')"). A server started again sees it.
        if server is not None and server.alive() and server.sees_data == sees_data(data_dir):
            return server
        if server is not None:
            server.stop()
        log_path = scratch / f"fork-server-{os.getpid()}.log"
        start = _starter().submit(ForkServer, scratch, data_dir, env or server_env(scratch), log_path)
        server = _servers[key] = start.result()
        return server


_starters: dict[int, ThreadPoolExecutor] = {}


def _starter() -> ThreadPoolExecutor:
    # bwrap --die-with-parent ends the server when the *thread* that started it ends, so every
    # server is started by one thread that lives as long as the process (one per forked process).
    pid = os.getpid()
    if pid not in _starters:
        _starters[pid] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fork-server-starter")
    return _starters[pid]


def stop_all() -> None:
    """Stop every fork server of this process (tests, worker shutdown)."""
    with _servers_lock:
        for server in _servers.values():
            server.stop()
        _servers.clear()

