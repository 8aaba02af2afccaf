"""One cgroup per grading job: memory (tmpfs pages included), process count and CPU time of all its processes.

A job is the trainee's kernel and then the judge (one after the other); both run in the job's
cgroup, so its limits hold for the job as a whole, whatever it forks. The worker (root) makes the
cgroup before the job's first sandbox starts and removes it after the job.

Which hierarchy: for each resource the unified (v2) hierarchy when it offers the controller to
the worker's own cgroup, else the v1 hierarchy that has it mounted. CPU time is read from v2's
cpu.stat, which every v2 cgroup has without any controller, else from v1's cpuacct. On this
kind of machine (v1 memory, pids, cpuacct mounted; v2 unified with no controllers) that gives:
memory and pids from v1, CPU time and the kill switch (cgroup.kill) from v2. Where no hierarchy
is writable (a worker that is not root, a container without delegation) there is no job cgroup:
the rlimits of every process are then the only limits, and the result and the log say so.
"""
from __future__ import annotations

import atexit
import errno
import itertools
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from academy.grading.settings import settings

log = logging.getLogger(__name__)
RESOURCES = ("memory", "pids", "cpu")
V1_CONTROLLER = {"memory": "memory", "pids": "pids", "cpu": "cpuacct"}
CPU_POLL_SECONDS = 0.25
_counter = itertools.count(1)


@dataclass(frozen=True)
class Hierarchy:
    """A mounted cgroup hierarchy and the worker's own cgroup in it."""

    version: int
    mount: Path
    own: Path  # the worker's cgroup, absolute

    def parent(self) -> Path:
        """Return this worker process's folder for its jobs' cgroups."""
        return self.own / f"academy-{os.getpid()}"


@dataclass
class Layout:
    """Which hierarchy serves each resource (a resource missing here is limited by rlimits only)."""

    by_resource: dict[str, Hierarchy] = field(default_factory=dict)
    kill: Hierarchy | None = None  # a v2 hierarchy with cgroup.kill

    def hierarchies(self) -> list[Hierarchy]:
        """Return each hierarchy used, once."""
        found: list[Hierarchy] = []
        for h in [*self.by_resource.values(), *([self.kill] if self.kill else [])]:
            if h not in found:
                found.append(h)
        return found

    def describe(self) -> str:
        """Say which limits hold per job, for results, logs and the README."""
        if not self.by_resource:
            return "rlimits per process only (no writable cgroup hierarchy)"
        parts = [f"{res} v{self.by_resource[res].version}" for res in RESOURCES if res in self.by_resource]
        missing = [res for res in RESOURCES if res not in self.by_resource]
        text = "cgroup per job: " + ", ".join(parts)
        return text + (f"; {', '.join(missing)}: rlimits only" if missing else "")


def _mounts(mountinfo: str) -> tuple[Path | None, dict[str, Path]]:
    v2: Path | None = None
    v1: dict[str, Path] = {}
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        point = Path(fields[4].replace("\\040", " "))
        if tail[0] == "cgroup2" and v2 is None:
            v2 = point
        elif tail[0] == "cgroup":
            for option in tail[2].split(","):
                v1.setdefault(option, point)
    return v2, v1


def _own_paths(proc_cgroup: str) -> tuple[str | None, dict[str, str]]:
    v2: str | None = None
    v1: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            v2 = parts[2]
        for controller in parts[1].split(","):
            if controller:
                v1[controller] = parts[2]
    return v2, v1


def _writable(path: Path) -> bool:
    probe = path / f"academy-probe-{os.getpid()}-{next(_counter)}"
    try:
        probe.mkdir()
    except OSError:
        return False
    try:
        probe.rmdir()
    except OSError:
        pass
    return True


def detect(mountinfo: str | None = None, proc_cgroup: str | None = None) -> Layout:
    """Find, for each resource, a hierarchy where this process may make its jobs' cgroups."""
    mountinfo = mountinfo if mountinfo is not None else _read("/proc/self/mountinfo")
    proc_cgroup = proc_cgroup if proc_cgroup is not None else _read("/proc/self/cgroup")
    v2_mount, v1_mounts = _mounts(mountinfo)
    v2_own, v1_own = _own_paths(proc_cgroup)
    layout = Layout()
    if v2_mount is not None and v2_own is not None:
        v2 = Hierarchy(2, v2_mount, v2_mount / v2_own.lstrip("/"))
        if v2.own.is_dir() and _writable(v2.own):
            offered = set(_read(v2.own / "cgroup.controllers").split())
            for res in ("memory", "pids"):
                if res in offered and _enable(v2.own, res):
                    layout.by_resource[res] = v2
            if (v2.own / "cpu.stat").exists():
                layout.by_resource["cpu"] = v2  # usage_usec is there with or without the cpu controller
            if (v2.own / "cgroup.kill").exists() or v2.own == v2.mount:
                layout.kill = v2
    for res in RESOURCES:
        controller = V1_CONTROLLER[res]
        if res in layout.by_resource or controller not in v1_mounts or controller not in v1_own:
            continue
        mount = v1_mounts[controller]
        h = Hierarchy(1, mount, mount / v1_own[controller].lstrip("/"))
        if h.own.is_dir() and _writable(h.own):
            layout.by_resource[res] = h
    return layout


def _enable(own: Path, controller: str) -> bool:
    """Offer a v2 controller to the worker's children (refused when its own cgroup holds processes)."""
    if controller in _read(own / "cgroup.subtree_control").split():
        return True
    try:
        (own / "cgroup.subtree_control").write_text(f"+{controller}")
    except OSError:
        return False
    return True


def _read(path: str | Path) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


_layout: Layout | None = None
_layout_lock = threading.Lock()


def layout() -> Layout:
    """Return this process's cgroup layout, found once (ACADEMY_GRADING_CGROUPS=0 turns cgroups off)."""
    global _layout
    with _layout_lock:
        if _layout is None:
            if not settings.cgroups or os.geteuid() != 0:
                _layout = Layout()
            else:
                _layout = detect()
                for h in _layout.hierarchies():
                    _remove_stale(h)
                atexit.register(remove_parents)
            level = logging.INFO if _layout.by_resource else logging.WARNING
            log.log(level, "grading limits: %s", _layout.describe())
        return _layout


def reset_layout() -> None:
    """Forget the layout found (tests that change the setting)."""
    global _layout
    with _layout_lock:
        _layout = None


class JobCgroup:
    """The cgroup folders of one job, one per hierarchy used, with its limits set."""

    def __init__(self, layout: Layout, limits: dict[str, int], on_cpu_exceeded: Callable[[], None]) -> None:
        self.layout = layout
        self.limits = limits
        self.name = f"job-{next(_counter)}"
        self.folders: dict[Hierarchy, Path] = {}
        self.cpu_exceeded = False
        self._stop = threading.Event()
        self._on_cpu_exceeded = on_cpu_exceeded
        try:
            for h in layout.hierarchies():
                parent = h.parent()
                parent.mkdir(exist_ok=True)
                if h.version == 2:
                    for res in ("memory", "pids"):
                        if layout.by_resource.get(res) is h:
                            _enable(parent, res)
                folder = parent / self.name
                folder.mkdir()
                self.folders[h] = folder
            self._set_limits()
        except OSError:
            self.remove()
            raise
        if "cpu" in layout.by_resource:
            threading.Thread(target=self._watch_cpu, name=f"cgroup-cpu-{self.name}", daemon=True).start()

    def _folder(self, res: str) -> Path | None:
        h = self.layout.by_resource.get(res)
        return self.folders.get(h) if h is not None else None

    def _set_limits(self) -> None:
        memory, pids = self._folder("memory"), self._folder("pids")
        if memory is not None:
            limit = str(self.limits["memory_bytes"])
            if self.layout.by_resource["memory"].version == 2:
                _write(memory / "memory.max", limit)
                _try_write(memory / "memory.swap.max", "0")
            else:
                _write(memory / "memory.limit_in_bytes", limit)
                _try_write(memory / "memory.memsw.limit_in_bytes", limit)  # no escape into swap
        if pids is not None:
            _write(pids / "pids.max", str(self.limits["max_processes"]))

    def procs_files(self) -> list[Path]:
        """Return the cgroup.procs file of each folder: writing a pid there moves that process in."""
        return [folder / "cgroup.procs" for folder in self.folders.values()]

    def folder_fds(self) -> list[int]:
        """Open each folder (the fork server's monitor joins through these; the caller closes them)."""
        return [os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC) for folder in self.folders.values()]

    def join(self, pid: int = 0) -> None:
        """Move a process (0: the caller) into the job's cgroup in every hierarchy."""
        for path in self.procs_files():
            _write(path, str(pid or os.getpid()))

    def cpu_seconds(self) -> float:
        """Return the CPU time all the job's processes used so far."""
        folder = self._folder("cpu")
        if folder is None:
            return 0.0
        if self.layout.by_resource["cpu"].version == 2:
            for line in _read(folder / "cpu.stat").splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
            return 0.0
        text = _read(folder / "cpuacct.usage").strip()
        return int(text) / 1e9 if text else 0.0

    def _watch_cpu(self) -> None:
        while not self._stop.wait(CPU_POLL_SECONDS):
            if self.cpu_seconds() > self.limits["cpu_seconds"]:
                self.cpu_exceeded = True
                self._on_cpu_exceeded()
                return

    def hits(self) -> set[str]:
        """Return the limits the job ran into: 'memory' (a process was OOM-killed), 'processes', 'cpu'."""
        found: set[str] = set()
        memory, pids = self._folder("memory"), self._folder("pids")
        if memory is not None:
            name = "memory.events" if self.layout.by_resource["memory"].version == 2 else "memory.oom_control"
            if _counter_in(_read(memory / name), "oom_kill") > 0:
                found.add("memory")
        if pids is not None and _counter_in(_read(pids / "pids.events"), "max") > 0:
            found.add("processes")
        if self.cpu_exceeded or (self._folder("cpu") is not None
                                 and self.cpu_seconds() > self.limits["cpu_seconds"]):
            found.add("cpu")
        return found

    def pids(self) -> set[int]:
        """Return the host pids of the processes still in the job."""
        found: set[int] = set()
        for path in self.procs_files():
            found |= {int(p) for p in _read(path).split() if p.isdigit()}
        return found

    def kill(self) -> None:
        """Kill every process of the job, in every hierarchy it reached."""
        kill_h = self.layout.kill
        if kill_h is not None and kill_h in self.folders:
            _try_write(self.folders[kill_h] / "cgroup.kill", "1")
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def remove(self, wait: float = 5.0) -> None:
        """Stop watching, kill what is left, and remove the folders (retried until the processes are gone)."""
        self._stop.set()
        deadline = time.monotonic() + wait
        while self.folders:
            if self.pids():
                self.kill()
            for h, folder in list(self.folders.items()):
                try:
                    folder.rmdir()
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    if exc.errno != errno.EBUSY:
                        raise
                    continue
                del self.folders[h]
            if not self.folders or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if self.folders:
            log.warning("job cgroup %s still busy after %.0f s: left in place", self.name, wait)


def _try_write(path: Path, value: str) -> None:
    try:
        _write(path, value)
    except OSError:
        pass


def _counter_in(text: str, key: str) -> int:
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0


def _remove_stale(h: Hierarchy) -> None:
    """Remove the job cgroups that workers which are gone left behind (their processes died with them)."""
    try:
        parents = [p for p in h.own.iterdir() if p.name.startswith("academy-") and p.name[8:].isdigit()]
    except OSError:
        return
    for parent in parents:
        try:
            os.kill(int(parent.name[8:]), 0)
            continue  # that worker still runs
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        for job in parent.glob("job-*"):
            try:
                job.rmdir()
            except OSError:
                pass
        try:
            parent.rmdir()
        except OSError:
            pass


def remove_parents() -> None:
    """Remove this process's (empty) folder of job cgroups in every hierarchy (worker shutdown, tests)."""
    current = _layout
    if current is None:
        return
    for h in current.hierarchies():
        try:
            h.parent().rmdir()
        except OSError:
            pass
