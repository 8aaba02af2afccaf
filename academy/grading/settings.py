"""The grading worker's settings: every environment variable the worker and its helpers read, in one place.

Each is read when asked, not at import, because a worker's pool processes, the fork server's starter and the
tests set them after this module is loaded. The portal has its own settings (academy.config); both read the
environment through academy.env. The one other use of os.environ in academy/grading is zygote.py setting a
sandboxed child's whole environment, which is the sandbox's work, not a setting.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from academy.env import env, flag

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class WorkerSettings:
    """The worker's environment variables (ACADEMY_<name>), each with its default."""

    @property
    def broker_url(self) -> str | None:
        """The Celery broker; unset, a SQLite file in the grading folder (no server)."""
        return env("BROKER_URL") or None

    @property
    def broker_visibility_timeout(self) -> int:
        """Seconds before Redis hands a job not acknowledged to another worker; must exceed the longest job."""
        return int(env("BROKER_VISIBILITY_TIMEOUT", "3600"))

    @property
    def grading_dir(self) -> Path:
        """The worker's state folder (results, locks, journal of pending jobs); unset, <var folder>/grading."""
        configured = env("GRADING_DIR")
        return Path(configured) if configured else self.var_dir / "grading"

    @property
    def var_dir(self) -> Path:
        """The project's folder of run-time state, shared with the portal; unset, var/ in the project."""
        return Path(env("VAR_DIR", str(PROJECT_ROOT / "var")))

    @property
    def scratch_dir(self) -> Path:
        """Where each job's folders are made; never inside a course. Unset, <temp folder>/academy-grading."""
        return Path(env("GRADING_SCRATCH", str(Path(tempfile.gettempdir()) / "academy-grading")))

    @property
    def data_dir(self) -> str | None:
        """The labs' shared data sets, mounted read-only at /data in every sandbox; unset, none."""
        return env("DATA_DIR")

    @property
    def cgroups(self) -> bool:
        """Whether a root worker limits each whole job with a cgroup (0: rlimits per process only)."""
        return flag("GRADING_CGROUPS", True)

    @property
    def box(self) -> bool:
        """Whether a root worker puts each job's writable folders on a sized tmpfs (0: the worker's disk)."""
        return flag("GRADING_BOX", True)

    @property
    def fork_server(self) -> bool:
        """Whether a root worker forks CPU jobs' kernels from its fork server (0: a fresh bwrap sandbox each)."""
        return flag("GRADING_FORK_SERVER", True)

    @property
    def preload(self) -> list[str] | None:
        """The modules the fork server imports before it forks (comma-separated); unset, its default list."""
        configured = env("GRADING_PRELOAD")
        return None if configured is None else [name.strip() for name in configured.split(",") if name.strip()]

    @property
    def sandbox_uid_base(self) -> int:
        """The first unprivileged uid sandboxed code runs as (each worker process adds its own offset)."""
        return int(env("SANDBOX_UID_BASE", "200000"))

    @property
    def requeue_on_start(self) -> bool:
        """Whether a starting worker re-queues the journalled jobs of a stopped one (the no-server broker)."""
        return flag("GRADING_REQUEUE_ON_START", True)

    @property
    def reporter(self) -> str:
        """The function ('module:function') that hands each result to the portal."""
        return env("GRADING_REPORTER", "academy.grading.report:post_result") or ""

    @property
    def portal_url(self) -> str:
        """The portal's base URL, where results and hand-graded totals are posted; unset, results stay in the store."""
        return env("PORTAL_URL", "") or ""

    @property
    def worker_token(self) -> str:
        """The worker's own service token (scope "results": it may post results and nothing else)."""
        return env("WORKER_TOKEN", "") or ""

    @property
    def grader_token(self) -> str:
        """The master secret of the service tokens; a worker set up before scoped tokens derives its own from it."""
        return env("GRADER_TOKEN", "") or ""

    @property
    def sync_token(self) -> str:
        """One course's grade-sync token (academy.grading.manual_sync), good for that course's totals only."""
        return env("SYNC_TOKEN", "") or ""

    @property
    def metrics_port(self) -> int:
        """The port on 127.0.0.1 where the worker serves its Prometheus metrics (academy.grading.metrics); 0: none."""
        return int(env("WORKER_METRICS_PORT", "0") or 0)

    @property
    def metrics_address(self) -> str:
        """The address the metrics port listens on: loopback unless a scraper elsewhere must reach it (a pod IP)."""
        return env("WORKER_METRICS_ADDRESS", "127.0.0.1") or "127.0.0.1"

    @property
    def metrics_token(self) -> str:
        """The bearer token a scraper must send to the metrics port (the portal's /metrics takes the same); unset,
        the port answers 404 to everything."""
        return env("METRICS_TOKEN", "") or ""

    @property
    def metrics_dir(self) -> str | None:
        """PROMETHEUS_MULTIPROC_DIR (read by prometheus_client at import): where the pool's processes write their
        values for the main process to serve; unset, the main process serves only its own (a solo pool)."""
        return env("PROMETHEUS_MULTIPROC_DIR", prefix="") or None


settings = WorkerSettings()


def put_venv_on_path() -> None:
    """Put this interpreter's bin folder first on PATH: nbgrader shells out to `alembic` when it creates a
    gradebook, and must run this venv's. Called once, when the Celery application is built."""
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
