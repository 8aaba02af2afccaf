"""Fork server for grading kernels: one per worker, heavy imports done once, one child per job.

Runs as a plain script (it imports nothing from the academy) inside a per-worker bubblewrap
sandbox: no network, read-only system, no view of the course or of any job's folders, started as
root of that sandbox with only CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID and CAP_SETPCAP. It imports
the kernel machinery and the labs' libraries, then waits for requests on its stdin, a
SOCK_SEQPACKET socket: one JSON object a message, with file descriptors attached:

  {"op": "start", "id": ..., "mounts": [step, ...], "chdir": dir, "log": path, "connection_file": path,
   "uid": n, "rlimits": {name: [soft, hard]}, "namespaces": [name, ...], "env": {...},
   "program": "kernel" | "judge"}
      fds: one mount fd per step marked "fd" (the job's writable folders, detached by the worker),
           then one folder fd per cgroup hierarchy of the job
      ->  {"started": id}  and later  {"exited": id, "code": n}
  {"op": "kill", "id": ...}

Per job it forks a monitor that joins the job's cgroup, unshares a fresh mount namespace and the
policy's others (pid, network, IPC, UTS and cgroup), and builds the job's root from the mount steps
(mounts, namespaces, uid and rlimits are the same ones bwrap gets for a job's own sandbox, all from
sandbox_policy.py), then pivots into it: nothing of the server's view
is left. It forks the namespace's init, which mounts /proc and forks the kernel. The kernel sets
its rlimits, drops to the unprivileged uid with no groups, no capabilities of any kind and
no_new_privs, and only then runs the guarded kernel. Killing the monitor kills the namespace's
init and with it every process the job left.
"""
from __future__ import annotations

import ctypes
import json
import os
import platform
import random
import resource
import signal
import socket
import sys
import time

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x02000000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
NAMESPACES = {"ipc": CLONE_NEWIPC, "pid": CLONE_NEWPID, "net": CLONE_NEWNET, "uts": CLONE_NEWUTS,
              "cgroup": CLONE_NEWCGROUP}  # sandbox_policy.NAMESPACES, in bwrap's words
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
MS_REC, MS_PRIVATE = 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
SYS_MOVE_MOUNT, MOVE_MOUNT_F_EMPTY_PATH, AT_FDCWD = 429, 0x4, -100
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(platform.machine())
STAGE = "/run/academy-stage"  # an empty folder of the server's view: each job's root is built there
RLIMITS = {"cpu": resource.RLIMIT_CPU, "nproc": resource.RLIMIT_NPROC, "fsize": resource.RLIMIT_FSIZE,
           "core": resource.RLIMIT_CORE, "as": resource.RLIMIT_AS}
PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus")  # as bwrap leaves them
MAX_REQUEST = 1024 * 1024

_libc = ctypes.CDLL(None, use_errno=True)
_jobs: dict[int, str] = {}  # monitor pid -> job id


def _call(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(text: str | None) -> bytes | None:
    return text.encode() if text is not None else None


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _call(_libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)), f"mount {target}")


def _bind(source: str, target: str, flags: int) -> None:
    _mount(source, target, None, MS_BIND | MS_REC)
    _mount(None, target, None, MS_REMOUNT | MS_BIND | flags)


def _prctl(option: int, arg: int) -> int:
    return _libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0),
                       ctypes.c_ulong(0))


def _drop_bounding_set() -> None:
    """Empty the bounding and ambient sets (needs CAP_SETPCAP: call it before any uid change)."""
    for cap in range(64):
        _prctl(PR_CAPBSET_DROP, cap)  # EINVAL past the last capability: ignored
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)


def _drop_all_capabilities() -> None:
    """Empty the inheritable, permitted and effective sets."""
    header = (ctypes.c_uint32 * 2)(LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _call(_libc.capset(header, data), "capset")


def _send(message: dict) -> None:
    os.write(1, (json.dumps(message) + "\n").encode())  # one write: lines never interleave


def _reap(*_: object) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        job = _jobs.pop(pid, None)
        if job is not None:
            _send({"exited": job, "code": _code(status)})


def _code(status: int) -> int:
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _set_limits(rlimits: dict) -> None:
    for name, (soft, hard) in rlimits.items():  # the policy's (soft, hard): SIGXCPU first, SIGKILL later
        resource.setrlimit(RLIMITS[name], (int(soft), int(hard)))


def _unshare_flags(job: dict) -> int:
    """Return unshare(2)'s flags for the job: a mount namespace, and each namespace its policy names."""
    flags = CLONE_NEWNS
    for name in job["namespaces"]:
        flags |= NAMESPACES[name]  # an unknown name is a KeyError: the job does not start half-set
    return flags


def _kernel(job: dict) -> None:
    """Become the trainee: limits, uid, no privileges; then run the guarded kernel."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.setsid()
    _set_limits(job["rlimits"])
    uid = int(job["uid"])
    _drop_bounding_set()
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # clears permitted and effective capabilities
    _drop_all_capabilities()
    _call(_prctl(PR_SET_NO_NEW_PRIVS, 1), "no_new_privs")
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # a uid change clears it
    if os.getuid() != uid or os.geteuid() != uid:
        os._exit(121)
    # Not a setting read: the sandbox gives the child exactly the job's environment (sandbox.sandbox_env).
    os.environ.clear()
    os.environ.update(job["env"])
    os.chdir(job["chdir"])
    random.seed()  # a fork would otherwise give every job the same random streams
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    if job.get("program") == "judge":
        import judge

        judge.main()
        os._exit(0)
    import kernel_guard

    sys.argv = [sys.argv[0], "-f", job["connection_file"]]
    kernel_guard.main()
    os._exit(0)


def _init(job: dict, procs: list[str]) -> None:
    """Be the job namespace's pid 1: mount its /proc, start the kernel, reap until it ends."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    for path in procs:
        _mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        for sub in PROC_READ_ONLY:
            if os.path.exists(f"{path}/{sub}"):
                _bind(f"{path}/{sub}", f"{path}/{sub}", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    os.closerange(3, 65536)  # nothing of the server (its log, its socket) reaches the job
    kernel = os.fork()
    if kernel == 0:
        try:
            _kernel(job)
        finally:
            os._exit(120)
    _drop_bounding_set()
    _drop_all_capabilities()
    _call(_prctl(PR_SET_NO_NEW_PRIVS, 1), "no_new_privs")
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == kernel:
            os._exit(_code(status))


def _mountpoint(target: str, like: str | None) -> None:
    """Create what a mount needs at target: a file for a file, else a folder."""
    if like is not None and os.path.exists(like) and not os.path.isdir(like):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o644))
    else:
        os.makedirs(target, exist_ok=True)


def _build_root(root: str, steps: list[dict], fds: list[int]) -> list[str]:
    """Perform the job's mount steps under root, as bwrap would; return where /proc goes (mounted by init)."""
    procs: list[str] = []
    job_fds = iter(fds)
    for step in steps:
        kind, dest = step["kind"], step["dest"]
        target = root + dest
        if kind in ("ro-bind", "ro-bind-try", "bind", "dev-bind-try"):
            flags = MS_NOSUID | (0 if kind == "dev-bind-try" else MS_NODEV) | (MS_RDONLY if kind.startswith("ro") else 0)
            if step.get("fd"):
                _mountpoint(target, None)
                _call(_libc.syscall(SYS_MOVE_MOUNT, next(job_fds), b"", AT_FDCWD, _b(target), MOVE_MOUNT_F_EMPTY_PATH),
                      f"move_mount {dest}")
                _mount(None, target, None, MS_REMOUNT | MS_BIND | flags)
                continue
            if not os.path.lexists(step["src"]):
                if kind.endswith("-try"):
                    continue
                raise FileNotFoundError(step["src"])
            _mountpoint(target, step["src"])
            _bind(step["src"], target, flags)
        elif kind == "tmpfs":
            os.makedirs(target, exist_ok=True)
            options = f"mode={step.get('mode', 0o755):o}" + (f",size={step['size']}" if step.get("size") else "")
            _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, options)
        elif kind == "dir":
            os.makedirs(target, exist_ok=True)
            if step.get("mode") is not None:
                os.chmod(target, step["mode"])
        elif kind == "symlink":
            os.symlink(step["src"], target)
        elif kind == "proc":
            os.makedirs(target, exist_ok=True)
            procs.append(dest)
        elif kind == "dev":  # the server's /dev is bwrap's minimal one; each job gets its own ptys
            os.makedirs(target, exist_ok=True)
            _bind("/dev", target, MS_NOSUID)
            try:
                _mount("devpts", target + "/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
            except OSError:
                pass
        else:
            raise ValueError(f"unknown mount step {kind}")
    return procs


def _pivot(root: str) -> None:
    """Make root the namespace's root and drop every other mount (the server's whole view)."""
    if SYS_PIVOT_ROOT is None:
        raise OSError(f"pivot_root: unknown on {platform.machine()}")
    old = root + "/.old-root"
    os.mkdir(old, 0o700)
    _call(_libc.syscall(SYS_PIVOT_ROOT, _b(root), _b(old)), "pivot_root")
    os.chdir("/")
    _call(_libc.umount2(b"/.old-root", MNT_DETACH), "unmount the old root")
    os.rmdir("/.old-root")


def _monitor(job: dict, fds: list[int]) -> None:
    """Join the job's cgroup, build the job's namespaces and root, then wait for its init."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)  # the request socket and the replies pipe are the server's alone
    os.dup2(null, 1)
    os.close(null)
    mounts = sum(1 for step in job["mounts"] if step.get("fd"))
    for folder in fds[mounts:]:  # the job's cgroup, one folder per hierarchy: the monitor and all it starts
        procs = os.open("cgroup.procs", os.O_WRONLY, dir_fd=folder)
        os.write(procs, str(os.getpid()).encode())
        os.close(procs)
        os.close(folder)
    _call(_libc.unshare(_unshare_flags(job)), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", STAGE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    procs_at = _build_root(STAGE, job["mounts"], fds[:mounts])
    for fd in fds[:mounts]:
        os.close(fd)
    _pivot(STAGE)
    init = os.fork()
    if init == 0:
        try:
            _init(job, procs_at)
        finally:
            os._exit(119)
    _, status = os.waitpid(init, 0)
    os._exit(_code(status))


def _start(job: dict, fds: list[int]) -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    try:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            try:
                _monitor(job, fds)
            except BaseException as exc:  # noqa: BLE001 - report and leave, never run a job half-set
                os.write(2, f"job setup failed: {exc!r}\n".encode())
            finally:
                os._exit(117)
        _jobs[pid] = job["id"]
        _send({"started": job["id"]})
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})


def _kill(job_id: str) -> None:
    for pid, running in list(_jobs.items()):
        if running == job_id:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def main() -> None:
    """Import the preload list (argv[1:]), say ready, and serve requests until the socket closes."""
    requests = socket.socket(fileno=0)  # the worker's end of a SOCK_SEQPACKET pair
    import judge  # noqa: F401 - loaded now, run per job that asks for the judge
    import kernel_guard  # noqa: F401 - loaded now, run per job

    if sys.path and sys.path[0].endswith("/opt/academy"):
        sys.path.pop(0)  # the kernel's folder is not for trainee imports
    started = time.process_time()
    import ipykernel.ipkernel  # noqa: F401 - with its debugger, which every kernel loads
    import ipykernel.kernelapp  # noqa: F401
    import IPython.core.history  # noqa: F401
    import IPython.core.interactiveshell  # noqa: F401

    failed = []
    for name in sys.argv[1:]:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - a missing library is only not preloaded
            failed.append(name)
    import threading

    if threading.active_count() != 1:  # a fork would copy a half-held lock
        _send({"error": "threads started while preloading"})
        return
    signal.signal(signal.SIGCHLD, _reap)
    import gc

    gc.collect()
    gc.freeze()  # what is loaded now is shared: a job's collections never walk (and so copy) these pages
    _send({"ready": True, "preload_cpu_s": round(time.process_time() - started, 2), "failed": failed})
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(requests, MAX_REQUEST, 16)
        except InterruptedError:
            continue
        if not data:
            return
        try:
            request = json.loads(data)
        except ValueError:
            request = {}
        try:
            if request.get("op") == "start":
                _start(request, fds)
            elif request.get("op") == "kill":
                _kill(str(request.get("id")))
        finally:
            for fd in fds:
                os.close(fd)


if __name__ == "__main__":
    main()
