"""Each course's formgrader as a hub-managed service that only that course's instructors can reach.

jupyterhub_config.py adds what `formgrader_services` returns to its services and roles:

- one service `formgrade-<course>` per course folder (courses/<course>/nbgrader_config.py): the
  single-user Jupyter server, started by the hub in the course folder with nbgrader's formgrader
  extension, on its own loopback port, landing on /formgrader. The hub proxies it at
  /services/formgrade-<course>/ and signs users in with its own OAuth (no confirmation page);
- one role per course giving the hub group `formgrade-<course>` (the portal puts the course's
  instructors there at every login) access to that service and nothing else;
- one service `formgrade-sync` (no web endpoint) that sends grades entered in the formgraders
  to the portal's gradebook (academy.grading.manual_sync), when the grader token is set.

The portal's instructor course page opens HUB_URL/services/formgrade-<course>/formgrader in a tab
of its own (JupyterHub >= 4.1 refuses to be framed by another page).

Settings (environment, prefix ACADEMY_):
  FORMGRADERS             "off" starts no formgrader and no sync (default "on")
  FORMGRADER_BASE_PORT    loopback port of the first course's formgrader, the next course +1; unset, each
                          formgrader gets a free port when the hub starts (two hubs on one machine never clash)
  FORMGRADER_START_TIMEOUT seconds the hub waits for a formgrader at start-up (120); a formgrader that
                          does not answer in time, or exits, stops the hub (JupyterHub's rule for managed services)
  FORMGRADER_SYNC_EVERY   seconds between two passes of the grade sync (30)
  FORMGRADER_USER         OS user the formgraders run as (the hub must run as root); unset, the hub's own user,
                          which, like the local backend's notebook servers, does not isolate them from the hub
  GRADER_TOKEN            shared secret of the portal's grading endpoints; no token, no sync
  GRADEBOOK_URL           passed on, so formgraders and the sync open the gradebook the worker writes
"""
from __future__ import annotations

import os
import re
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

SERVICE_PREFIX = "formgrade-"
SYNC_SERVICE = "formgrade-sync"
DEFAULT_SYNC_EVERY = 30
DEFAULT_START_TIMEOUT = 120
# A course folder's name becomes part of a service name, a group name and a URL path.
_COURSE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
# Settings the services need from the hub's environment (a managed service sees only what it is given).
PASSED_ON = ("ACADEMY_GRADEBOOK_URL", "ACADEMY_DATA_DIR", "ACADEMY_VAR_DIR")


def service_name(course: str) -> str:
    """Return the hub service (and the hub group) name of a course's formgrader."""
    return f"{SERVICE_PREFIX}{course}"


def formgrader_path(course: str) -> str:
    """Return the path under the hub's public URL where a course's formgrader opens."""
    return f"/services/{service_name(course)}/formgrader"


def course_folders(courses_dir: Path) -> list[Path]:
    """Return the nbgrader course folders (those with an nbgrader_config.py), by name."""
    if not Path(courses_dir).is_dir():
        return []
    found = sorted(p.parent for p in Path(courses_dir).glob("*/nbgrader_config.py"))
    bad = [p.name for p in found if not _COURSE_NAME.match(p.name)]
    if bad:
        raise ValueError(f"course folder names must be lowercase letters, digits, '-' or '_': {bad}")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _switched_on(value: str | None) -> bool:
    return (value or "on").strip().lower() not in {"off", "0", "false", "no"}


def formgrader_services(
    courses_dir: Path,
    env: Mapping[str, str] = os.environ,
    *,
    state_dir: Path,
    portal_url: str,
    python: str = sys.executable,
    allow_root: bool | None = None,
) -> tuple[list[dict], list[dict]]:
    """Return (services, roles) for JupyterHub: a formgrader per course and the grade sync.

    state_dir holds each formgrader's Jupyter runtime files and the sync's state file;
    portal_url is where the sync reaches the portal (the hub's internal URL of it).
    """
    if not _switched_on(env.get("ACADEMY_FORMGRADERS")):
        return [], []
    folders = course_folders(courses_dir)
    if not folders:
        return [], []
    base_port = int(env["ACADEMY_FORMGRADER_BASE_PORT"]) if env.get("ACADEMY_FORMGRADER_BASE_PORT") else None
    timeout = int(env.get("ACADEMY_FORMGRADER_START_TIMEOUT") or DEFAULT_START_TIMEOUT)
    if allow_root is None:
        allow_root = hasattr(os, "geteuid") and os.geteuid() == 0
    state_dir = Path(state_dir)
    passed_on = {key: env[key] for key in PASSED_ON if env.get(key)}
    services, roles = [], []
    for offset, folder in enumerate(folders):
        name = service_name(folder.name)
        port = base_port + offset if base_port is not None else _free_port()
        service = _formgrader(name, folder, port, state_dir / folder.name, python, allow_root, passed_on,
                              env.get("PATH", os.defpath))
        if env.get("ACADEMY_FORMGRADER_USER"):
            service["user"] = env["ACADEMY_FORMGRADER_USER"]
        services.append({**service, "timeout": timeout})
        roles.append({
            "name": name,
            "description": f"Instructors of {folder.name}: open its formgrader",
            # Only the course's instructors' group; no user, service or other group gets this role.
            "groups": [name],
            "scopes": [f"access:services!service={name}", f"read:services!service={name}"],
        })
    token = env.get("ACADEMY_GRADER_TOKEN")
    if token:
        every = int(env.get("ACADEMY_FORMGRADER_SYNC_EVERY") or DEFAULT_SYNC_EVERY)
        command = [python, "-m", "academy.grading.manual_sync", "--every", str(every),
                   "--state", str(state_dir / "manual-sync.json")]
        for folder in folders:
            command += ["--course-dir", str(folder)]
        services.append({
            "name": SYNC_SERVICE,
            "command": command,
            # From the repository root, so `-m academy...` imports this checkout.
            "cwd": str(Path(__file__).resolve().parents[2]),
            "display": False,
            "environment": {**passed_on, "ACADEMY_PORTAL_URL": portal_url, "ACADEMY_GRADER_TOKEN": token},
        })
    return services, roles


def _formgrader(name: str, folder: Path, port: int, state: Path, python: str, allow_root: bool,
                passed_on: dict[str, str], path: str) -> dict:
    # The server's root is the course folder, so nbgrader reads the course's own nbgrader_config.py
    # and the formgrader's course root is the server root (nbgrader needs it inside the root).
    # The trainee-side tools (assignment list, course list) have no use here. traitlets reads a Python literal.
    extensions = repr({"nbgrader.server_extensions.formgrader": True,
                       "nbgrader.server_extensions.assignment_list": False,
                       "nbgrader.server_extensions.course_list": False})
    command = [python, "-m", "jupyterhub.singleuser", f"--ServerApp.jpserver_extensions={extensions}",
               f"--ServerApp.root_dir={folder}",
               # Grading needs neither a shell nor a kernel: an instructor must not run code as the hub's
               # user (its secrets, every course), and trainee code runs only in the grading sandbox.
               "--ServerApp.terminals_enabled=False", "--KernelSpecManager.allowed_kernelspecs=no-kernels",
               "--KernelProvisionerFactory.default_provisioner_name=no-kernels"]
    if allow_root:
        command.append("--allow-root")  # containers and CI run as root; a real install should not
    return {
        "name": name,
        "url": f"http://127.0.0.1:{port}",
        "command": command,
        "cwd": str(folder),
        # Instructors come from the portal already signed in: no "authorize access" page in between.
        "oauth_no_confirm": True,
        "display": True,
        "info": {"course": folder.name, "path": formgrader_path(folder.name)},
        "environment": {
            **passed_on,
            "JUPYTERHUB_DEFAULT_URL": "/formgrader",
            # nbgrader runs the `alembic` script beside this Python when it creates a course's gradebook.
            "PATH": f"{Path(python).parent}{os.pathsep}{path}",
            # Jupyter and IPython state stay beside the hub's data, not in the hub user's $HOME.
            "JUPYTER_CONFIG_DIR": str(state / "config"),
            "JUPYTER_DATA_DIR": str(state / "data"),
            "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
            "IPYTHONDIR": str(state / "ipython"),
        },
    }
