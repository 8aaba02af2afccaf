"""Run untrusted notebook kernels under bubblewrap with no network and hard limits.

The sandbox sees the system, the Python installation and the data folder read-only, a private
/tmp, and one writable folder: the scratch copy of the submission. It never sees the course
folder, the gradebook, solutions, other submissions, secrets or $HOME. Kernels talk to the
worker over ZeroMQ IPC sockets in a folder bound into the sandbox, because TCP on loopback
does not cross the network namespace.

By default a root worker's kernels are forked from its fork server (zygote_command here, the
rest in forkserver.py and zygote.py), which builds the same view per job with namespaces of its
own; otherwise each kernel is a fresh Python started by bwrap_command.
"""
from __future__ import annotations

import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from jupyter_client.manager import AsyncKernelManager

from academy.grading.jobs import MIB, GradingLimits

SANDBOX_WORK = "/home/trainee/work"
SANDBOX_DATA = "/data"
GUARD_FILE = Path(__file__).with_name("kernel_guard.py")
SANDBOX_GUARD = "/opt/academy/kernel_guard.py"
ZYGOTE_FILE = Path(__file__).with_name("zygote.py")
SANDBOX_ZYGOTE = "/opt/academy/zygote.py"
# The judge runs each test cell on a copy of the trainee's variables, in a sandbox of its own (judge.py).
JUDGE_FILE = Path(__file__).with_name("judge.py")
SANDBOX_JUDGE = "/opt/academy/judge.py"
# The stage folder a fork-server child binds a job's socket folder through (see zygote.py).
ZYGOTE_STAGE = "/run/academy-stage"
# /etc entries a Python kernel needs; the rest of /etc (deployment secrets) stays hidden.
ETC_ENTRIES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group",
    "nsswitch.conf", "hosts", "ssl", "fonts", "alternatives", "mime.types",
)
NVIDIA_DEVICES = ("nvidia0", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")
TMP_BYTES = 256 * MIB
log = logging.getLogger(__name__)


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""


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


def sandbox_uid() -> int:
    """Pick this worker process's sandbox uid, so parallel jobs do not share a process count."""
    base = int(os.environ.get("ACADEMY_SANDBOX_UID_BASE", "200000"))
    return base + os.getpid() % 50000


def judge_uid() -> int:
    """Pick this worker process's uid for the judge: never the uid its trainee kernels run as."""
    return sandbox_uid() + 50000


def require_bwrap() -> str:
    """Return the bwrap path or raise SandboxUnavailable."""
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable("bubblewrap is not installed: apt-get install -y bubblewrap")
    return path


def prepare_dirs(spec: SandboxSpec) -> None:
    """Create the writable folders and hand them to the sandbox uid."""
    for path in (spec.work_dir, spec.socket_dir):
        path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            for sub in [path, *path.rglob("*")]:
                os.lchown(sub, spec.uid, spec.uid)
            path.chmod(0o700)


def _ancestors(paths: list[str]) -> list[str]:
    found: set[str] = set()
    for path in paths:
        parent = Path(path).parent
        while str(parent) != "/":
            found.add(str(parent))
            parent = parent.parent
    return sorted(found, key=lambda p: (p.count("/"), p))


def _system_binds() -> list[str]:
    args: list[str] = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib64", "lib32"):
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.exists():
            args += ["--ro-bind", str(host), str(host)]
    for entry in ETC_ENTRIES:
        args += ["--ro-bind-try", f"/etc/{entry}", f"/etc/{entry}"]
    return args


def _python_roots() -> list[str]:
    """Return the Python installation folders outside /usr that kernels need, read-only."""
    roots = {os.path.realpath(sys.base_prefix), os.path.abspath(sys.prefix)}
    return sorted(r for r in roots if not r.startswith("/usr/") and r != "/usr")


def bwrap_command(spec: SandboxSpec, inner: list[str]) -> list[str]:
    """Wrap a command so that it runs inside the sandbox described by spec."""
    bwrap = require_bwrap()
    mounts: list[tuple[str, str, str]] = [("--ro-bind", r, r) for r in _python_roots()]
    mounts.append(("--ro-bind", str(GUARD_FILE), SANDBOX_GUARD))
    mounts.append(("--ro-bind", str(JUDGE_FILE), SANDBOX_JUDGE))
    if spec.data_dir is not None and spec.data_dir.is_dir():
        mounts.append(("--ro-bind", str(spec.data_dir), SANDBOX_DATA))
    mounts.append(("--bind", str(spec.work_dir), SANDBOX_WORK))
    mounts.append(("--bind", str(spec.socket_dir), str(spec.socket_dir)))
    privileged = os.geteuid() == 0
    args = [bwrap, "--die-with-parent", "--new-session"]
    if privileged:
        # No user namespace: the code then runs as a real unprivileged host uid, so
        # RLIMIT_NPROC binds (it never does for root, and a userns made by root maps to root).
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                 "--unshare-cgroup-try", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-all"]
    args += _system_binds()
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(TMP_BYTES), "--perms", "1777", "--tmpfs", "/tmp",
             "--perms", "1777", "--tmpfs", "/dev/shm"]
    if spec.gpu:
        for dev in NVIDIA_DEVICES:
            args += ["--dev-bind-try", f"/dev/{dev}", f"/dev/{dev}"]
    # bwrap creates missing parents as root-only folders; the sandbox uid must traverse them.
    for parent in _ancestors([dest for _, _, dest in mounts]):
        if parent not in ("/tmp", "/usr", "/etc") and not parent.startswith(("/tmp/", "/usr/")):
            args += ["--perms", "0755", "--dir", parent]
    for flag, src, dest in mounts:
        if dest.startswith("/tmp/"):
            for parent in _ancestors([dest]):
                if parent.startswith("/tmp/"):
                    args += ["--perms", "0755", "--dir", parent]
        args += [flag, src, dest]
    args += ["--chdir", SANDBOX_WORK, "--"]
    if privileged:
        uid = str(spec.uid)
        args += ["setpriv", "--reuid", uid, "--regid", uid, "--clear-groups", "--no-new-privs",
                 "--bounding-set", "-all", "--inh-caps", "-all", "--"]
    return args + inner


def zygote_command(scratch: Path, data_dir: Path | None, gpu: bool, inner: list[str]) -> list[str]:
    """Wrap the fork server in its worker's sandbox (root only: it builds each job's namespaces).

    It sees what a kernel sandbox sees, plus the whole scratch root (each child hides it again
    and keeps only its own job's folders) and keeps the four capabilities a child needs to build
    its namespaces and drop to the sandbox uid. Only the worker's own code runs with them.
    """
    bwrap = require_bwrap()
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid",
            "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    for cap in ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"):
        args += ["--cap-add", cap]
    args += _system_binds()
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(TMP_BYTES), "--perms", "1777", "--tmpfs", "/tmp",
             "--perms", "1777", "--tmpfs", "/dev/shm", "--perms", "0755", "--dir", SANDBOX_WORK,
             "--dir", ZYGOTE_STAGE]
    if gpu:
        for dev in NVIDIA_DEVICES:
            args += ["--dev-bind-try", f"/dev/{dev}", f"/dev/{dev}"]
    mounts = [("--ro-bind", r, r) for r in _python_roots()]
    mounts += [("--ro-bind", str(GUARD_FILE), SANDBOX_GUARD), ("--ro-bind", str(ZYGOTE_FILE), SANDBOX_ZYGOTE),
               ("--ro-bind", str(JUDGE_FILE), SANDBOX_JUDGE)]
    if data_dir is not None and data_dir.is_dir():
        mounts.append(("--ro-bind", str(data_dir), SANDBOX_DATA))
    mounts.append(("--bind", str(scratch), str(scratch)))
    # The sandbox uid must traverse the folders bwrap creates (root-only) above each mount.
    for parent in _ancestors([dest for _, _, dest in mounts] + [SANDBOX_WORK]):
        if parent not in ("/tmp", "/usr", "/etc") and not parent.startswith(("/tmp/", "/usr/")):
            args += ["--perms", "0755", "--dir", parent]
    for flag, src, dest in mounts:
        args += [flag, src, dest]
    return args + ["--chdir", "/", "--"] + inner


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


def limits_preexec(limits: GradingLimits, gpu: bool = False) -> Callable[[], None]:
    """Return a preexec_fn that applies the rlimits, inherited by everything in the sandbox."""

    def apply() -> None:
        nproc = limits.max_processes + (0 if os.geteuid() == 0 else _own_process_count())
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if not gpu:  # CUDA reserves far more address space than it uses
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))

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


def kill_group(pid: int | None) -> None:
    """Kill a sandbox's process group; bwrap's --die-with-parent takes the namespace down."""
    if pid is None:
        return
    try:
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_in_sandbox(spec: SandboxSpec, inner: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run one command in a fresh sandbox (used by checks and tests, not by grading)."""
    prepare_dirs(spec)
    proc = subprocess.Popen(
        bwrap_command(spec, inner), env=sandbox_env(spec), cwd=spec.work_dir,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=limits_preexec(spec.limits, spec.gpu),
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_judge(spec: SandboxSpec, timeout: float, handle: KernelHandle | None = None) -> int | None:
    """Run judge.py once in a fresh sandbox of its own; return its exit code, None if it ran out of time.

    Its input and output are files in spec.work_dir (see judge.py); what it prints goes to
    spec.socket_dir/kernel.log. Forked from the worker's fork server when spec.scratch_root is set.
    """
    prepare_dirs(spec)
    if handle is not None and handle.killed:
        return None
    env = sandbox_env(spec)
    process: Any = None
    if spec.scratch_root is not None:
        from academy.grading.forkserver import ForkServerUnavailable, fork_server_for

        try:
            server = fork_server_for(spec.scratch_root, spec.data_dir, env)
            process = server.launch(spec, "", env, program="judge")
        except ForkServerUnavailable:
            log.warning("no fork server; the judge starts in its own sandbox", exc_info=True)
    if process is None:
        with open(spec.socket_dir / "kernel.log", "ab") as out:
            process = subprocess.Popen(
                bwrap_command(spec, [sys.executable, SANDBOX_JUDGE]), env=env, cwd=spec.work_dir,
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                preexec_fn=limits_preexec(spec.limits, spec.gpu))
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
    """The processes of one job's sandboxes, so a watchdog can end them all."""

    pids: list[int] = field(default_factory=list)
    processes: list[Any] = field(default_factory=list)  # Popen, or forkserver.ForkedKernel
    killed: bool = False

    def kill(self) -> None:
        """Kill every sandbox started for the job, and any started later."""
        self.killed = True
        for pid in self.pids:
            kill_group(pid)
        for process in self.processes:
            if not isinstance(process, subprocess.Popen):
                process.kill()  # a forked kernel: its server ends the job's namespace

    def cpu_exceeded(self) -> bool:
        """Return whether a sandbox ended on its CPU-time limit (SIGXCPU)."""
        codes = {p.poll() for p in self.processes}
        return bool(codes & {-signal.SIGXCPU, 128 + signal.SIGXCPU})


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs inside the sandbox of `spec`, over IPC sockets."""

    spec: SandboxSpec | None = None  # set on a per-job subclass by kernel_manager_for()
    handle: KernelHandle | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        assert self.spec is not None, "use kernel_manager_for(spec)"
        self.transport = "ipc"
        self.ip = str(self.spec.socket_dir / "kernel")
        self.connection_file = str(self.spec.socket_dir / "kernel.json")

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """Return the guarded kernel command wrapped in bwrap."""
        assert self.spec is not None
        inner = [sys.executable, SANDBOX_GUARD, "-f", self.connection_file, *(extra_arguments or [])]
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
        kw["preexec_fn"] = limits_preexec(self.spec.limits, self.spec.gpu)
        # The kernel's parent inside the pid namespace is bwrap, not the worker: no parent
        # polling (it would see pid 1 and quit); --die-with-parent covers a dying worker.
        kw["independent"] = True
        if self.spec.scratch_root is not None:
            from academy.grading.forkserver import ForkServerUnavailable

            try:
                await self._launch_forked(kw["env"])
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

    async def _launch_forked(self, env: dict[str, str]) -> None:
        """Have the worker's fork server fork this job's kernel (see forkserver.py)."""
        from academy.grading.forkserver import fork_server_for

        assert self.spec is not None and self.spec.scratch_root is not None and self.provisioner is not None
        if self.handle is not None and self.handle.killed:
            raise RuntimeError("the job's time limit passed before the kernel started")
        server = fork_server_for(self.spec.scratch_root, self.spec.data_dir, env)
        kernel = server.launch(self.spec, self.connection_file, env)
        provisioner: Any = self.provisioner
        provisioner.process, provisioner.pid, provisioner.pgid = kernel, kernel.pid, None
        if self.handle is not None:
            self.handle.processes.append(kernel)
            if self.handle.killed:
                kernel.kill()
        self._reconcile_connection_info(provisioner.connection_info)

    async def _async_interrupt_kernel(self) -> None:
        # A signal to bwrap's process group would not reach the kernel's own session:
        # ask the kernel to interrupt itself instead.
        msg = self.session.msg("interrupt_request", content={})
        self._connect_control_socket()
        self.session.send(self._control_socket, msg)

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
