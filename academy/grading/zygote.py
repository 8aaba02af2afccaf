"""Fork server for grading kernels: one per worker, heavy imports done once, one child per job.

Runs as a plain script (it imports nothing from the academy) inside a per-worker bubblewrap
sandbox: no network, read-only system, no view of the course, started as root of that sandbox
with only CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID and CAP_SETPCAP. It imports the kernel machinery
and the labs' libraries, then waits for requests on stdin (one JSON object a line):

  {"op": "start", "id": ..., "work": dir, "ipc": dir, "connection_file": path, "uid": n,
   "limits": {...}, "env": {...}, "program": "kernel" | "judge"}
      ->  {"started": id}  and later  {"exited": id, "code": n}
  {"op": "kill", "id": ...}

Per job it forks a monitor that unshares fresh mount, pid, network, IPC and UTS namespaces,
binds only that job's scratch folder and socket folder, hides the scratch root (gradebook
copies, other jobs), mounts an empty /tmp and /dev/shm, and forks the namespace's init, which
forks the kernel. The kernel sets its rlimits, drops to the unprivileged uid with no groups, no
capabilities of any kind and no_new_privs, and only then runs the guarded kernel. Killing the
monitor kills the namespace's init and with it every process the job left.
"""
from __future__ import annotations

import ctypes
import json
import os
import random
import resource
import signal
import sys
import time

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
WORK = "/home/trainee/work"
STAGE = "/run/academy-stage"
TMP_BYTES = 256 * 1024 * 1024

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


def _bind(source: str, target: str, extra: int = MS_NOSUID | MS_NODEV) -> None:
    _mount(source, target, None, MS_BIND)
    _mount(None, target, None, MS_REMOUNT | MS_BIND | extra)


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


def _inside(path: str, root: str) -> bool:
    real = os.path.realpath(path)
    return real.startswith(root.rstrip("/") + "/")


def _set_limits(limits: dict) -> None:
    cpu, nproc = int(limits["cpu_seconds"]), int(limits["max_processes"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limits["file_bytes"]), int(limits["file_bytes"])))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (int(limits["memory_bytes"]), int(limits["memory_bytes"])))


def _kernel(job: dict) -> None:
    """Become the trainee: limits, uid, no privileges; then run the guarded kernel."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.setsid()
    _set_limits(job["limits"])
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
    os.environ.clear()
    os.environ.update(job["env"])
    os.chdir(WORK)
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


def _init(job: dict) -> None:
    """Be the job namespace's pid 1: mount its /proc, start the kernel, reap until it ends."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    log = os.open(os.path.join(job["ipc"], "kernel.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    os.closerange(3, 65536)  # nothing of the server (its log, its pipes) reaches the job
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


def _monitor(job: dict, scratch: str) -> None:
    """Build the job's namespaces and views, then wait for its init."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)  # the requests and replies pipes are the server's alone
    os.dup2(null, 1)
    os.close(null)
    _call(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _bind(job["work"], WORK)
    _bind(job["ipc"], STAGE)
    _call(_libc.umount2(_b(scratch), MNT_DETACH), "hide the scratch root")
    tmp_flags = MS_NOSUID | MS_NODEV
    _mount("tmpfs", "/tmp", "tmpfs", tmp_flags, f"mode=1777,size={TMP_BYTES}")
    _mount("tmpfs", "/dev/shm", "tmpfs", tmp_flags, "mode=1777")
    os.makedirs(scratch, exist_ok=True)
    _mount("tmpfs", scratch, "tmpfs", tmp_flags, "mode=0755,size=65536")
    os.makedirs(job["ipc"], mode=0o755)
    _bind(STAGE, job["ipc"])
    _call(_libc.umount2(_b(STAGE), MNT_DETACH), "unmount the stage")
    init = os.fork()
    if init == 0:
        try:
            _init(job)
        finally:
            os._exit(119)
    _, status = os.waitpid(init, 0)
    os._exit(_code(status))


def _start(job: dict, scratch: str) -> None:
    if not (_inside(job["work"], scratch) and _inside(job["ipc"], scratch)):
        _send({"exited": job["id"], "code": 118})
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    try:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            try:
                _monitor(job, scratch)
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
    """Import the preload list (argv[2:]), say ready, and serve requests until stdin closes."""
    scratch = os.path.realpath(sys.argv[1])
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
    for name in sys.argv[2:]:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - a missing library is only not preloaded
            failed.append(name)
    import threading

    if threading.active_count() != 1:  # a fork would copy a half-held lock
        _send({"error": "threads started while preloading"})
        return
    signal.signal(signal.SIGCHLD, _reap)
    _send({"ready": True, "preload_cpu_s": round(time.process_time() - started, 2), "failed": failed})
    for line in sys.stdin:
        try:
            request = json.loads(line)
        except ValueError:
            continue
        if request.get("op") == "start":
            _start(request, scratch)
        elif request.get("op") == "kill":
            _kill(str(request.get("id")))


if __name__ == "__main__":
    main()
