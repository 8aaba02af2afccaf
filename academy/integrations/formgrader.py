"""Each course's formgrader as a hub-managed service that only that course's instructors can reach.

jupyterhub_config.py asks the portal which courses exist (fetch_course_links: each course's immutable id
and its nbgrader folder) and adds what `formgrader_services` returns to its services and roles:

- one service `formgrade-c<course id>` per portal course whose folder is under courses/: the single-user
  Jupyter server with nbgrader's formgrader extension, on its own loopback port, landing on /formgrader.
  The hub proxies it at /services/formgrade-c<id>/ and signs users in with its own OAuth;
- one role per course giving the hub group `formgrade-c<id>` (the portal puts the course's instructors
  there at every login) access to that service and nothing else. Keyed by the course id, never by the
  folder name: a folder re-linked to another course never carries its old instructors' group along;
- one service `formgrade-sync-c<id>` per course (no web endpoint) that sends grades entered in that
  formgrader to the portal (academy.grading.manual_sync) with a token good for that course only.

What an instructor can do through a formgrader never reaches what others run:
- no kernels and no terminals, and its Jupyter contents API is read-only (formgrader_contents);
- when the hub runs as root, every formgrader and sync runs as ACADEMY_FORMGRADER_USER (default
  `academy-formgrader`, which scripts/install.sh creates), which may write only its course's gradebook
  (outside the course folder) and its own state files. The hub refuses to start formgraders when that user
  could write the academy code, the Python environment or a course folder (checked at every start);
- the worker, the sync and the portal read a course's nbgrader_config.py as data (course_config).
When the hub is not root the formgraders run as the hub's own user (README, Security, says what that means).

The portal's instructor course page opens HUB_URL/services/formgrade-c<id>/formgrader in a tab of its own
(JupyterHub >= 4.1 refuses to be framed by another page).

Settings (environment, prefix ACADEMY_):
  FORMGRADERS             "off" starts no formgrader and no sync (default "on")
  FORMGRADER_BASE_PORT    loopback port of the first course's formgrader, the next course +1; unset, each
                          formgrader gets a free port when the hub starts (two hubs on one machine never clash)
  FORMGRADER_START_TIMEOUT seconds the hub waits for a formgrader at start-up (120); a formgrader that
                          does not answer in time, or exits, stops the hub (JupyterHub's rule for managed services)
  FORMGRADER_PORTAL_WAIT  seconds the hub keeps asking the portal for the courses at start-up (60); then it
                          starts without formgraders and logs why
  FORMGRADER_SYNC_EVERY   seconds between two passes of the grade sync (30)
  FORMGRADER_USER         OS user the formgraders and syncs run as when the hub is root (academy-formgrader);
                          "root" is refused unless named explicitly (then a warning says what it gives away)
  GRADER_TOKEN            the master secret each course's sync token is derived from; no secret, no sync
  GRADEBOOK_URL           the gradebooks ("{course}" = folder); unset, <var>/gradebooks/<folder>/gradebook.db
"""
from __future__ import annotations

import base64
import json
import logging
import os
import pwd
import re
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from academy.integrations.course_config import CourseConfigError, gradebook_url
from academy.integrations.service_tokens import derive, manual_scope

SERVICE_PREFIX = "formgrade-"
SYNC_PREFIX = "formgrade-sync-"
DEFAULT_USER = "academy-formgrader"
DEFAULT_SYNC_EVERY = 30
DEFAULT_START_TIMEOUT = 120
DEFAULT_PORTAL_WAIT = 60
ROOT = Path(__file__).resolve().parents[2]
# A course folder's name becomes part of a path and of the gradebook's name.
_COURSE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
# Settings the services need from the hub's environment (a managed service sees only what it is given).
PASSED_ON = ("ACADEMY_DATA_DIR", "ACADEMY_VAR_DIR")
log = logging.getLogger("academy.formgrader")


@dataclass(frozen=True)
class CourseLink:
    """A portal course and its nbgrader folder, as the portal says."""

    id: int
    folder: str
    code: str = ""


def service_name(course_id: int) -> str:
    """Return the hub service (and the hub group) name of a course's formgrader: keyed by the course id."""
    return f"{SERVICE_PREFIX}c{int(course_id)}"


def sync_service_name(course_id: int) -> str:
    """Return the hub service name of a course's grade sync."""
    return f"{SYNC_PREFIX}c{int(course_id)}"


def formgrader_path(course_id: int) -> str:
    """Return the path under the hub's public URL where a course's formgrader opens."""
    return f"/services/{service_name(course_id)}/formgrader"


# --- what the portal says ------------------------------------------------------------------------


def parse_course_links(payload: object) -> list[CourseLink]:
    """Return the well-formed course links of the portal's answer (others are logged and left out)."""
    links = []
    for item in (payload or {}).get("courses", []) if isinstance(payload, dict) else []:
        cid, folder = item.get("id") if isinstance(item, dict) else None, item.get("folder") if isinstance(item, dict) else None
        if type(cid) is not int or cid <= 0 or not isinstance(folder, str) or not _COURSE_NAME.match(folder):
            log.error("portal listed a course the hub cannot serve: %r", item)
            continue
        links.append(CourseLink(cid, folder, str(item.get("code") or "")))
    return links


def fetch_course_links(portal_url: str, client_id: str, client_secret: str, wait_s: float, *,
                       sleep: Callable[[float], None] = time.sleep,
                       clock: Callable[[], float] = time.monotonic) -> list[CourseLink] | None:
    """Ask the portal for each course's id and folder, retrying for up to wait_s; None when it never answered.

    Authenticated with the hub's OAuth client id and secret (HTTP Basic), so it works wherever the hub can
    reach the portal's internal URL. A refused secret is not retried (waiting does not fix it).
    """
    url = portal_url.rstrip("/") + "/api/hub/formgraders"
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    deadline, pause, why = clock() + max(0.0, wait_s), 1.0, "not asked"
    while True:
        request = urllib.request.Request(url, headers={"Authorization": f"Basic {basic}",
                                                       "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=max(1.0, min(10.0, deadline - clock()))) as response:
                return parse_course_links(json.loads(response.read(1_000_000)))
        except urllib.error.HTTPError as exc:
            why = f"the portal answered {exc.code}"
            if exc.code in (401, 403, 404):
                log.error("formgraders: %s at %s; check ACADEMY_HUB_CLIENT_ID/SECRET and the portal version", why, url)
                return None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            why = f"the portal did not answer ({getattr(exc, 'reason', exc)})"
        if clock() + pause > deadline:
            log.error("formgraders: %s at %s for %.0f s; the hub starts without formgraders (restart it once "
                      "the portal is up)", why, url, wait_s)
            return None
        sleep(pause)
        pause = min(pause * 2, 10.0)


# --- who may write what ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OSUser:
    name: str
    uid: int
    gids: frozenset[int]
    gid: int = -1


def os_user(name: str) -> OSUser | None:
    """Return an OS account with its groups, or None when it does not exist."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return OSUser(name, entry.pw_uid, frozenset(os.getgrouplist(name, entry.pw_gid)), entry.pw_gid)


# What the formgrader and the sync import: the user they run as must be able to run all of it.
SERVICE_MODULES = ("jupyterhub.singleuser", "nbgrader.server_extensions.formgrader",
                   "academy.integrations.formgrader_contents", "academy.grading.manual_sync")


def cannot_run(user: OSUser, python: str, modules: Iterable[str] = SERVICE_MODULES) -> str | None:
    """Say why the user cannot run this Python with the services' modules (by trying, as that user); None if it can."""
    try:
        done = subprocess.run([python, "-c", f"import {', '.join(modules)}"], user=user.uid, group=user.gid,
                              extra_groups=sorted(user.gids), cwd="/", capture_output=True, text=True, timeout=180,
                              env={"PATH": os.defpath, "PYTHONPATH": str(ROOT), "HOME": "/"})
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{python}: {exc}"
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1][:300]


def writable_by(path: Path, user: OSUser) -> bool:
    """Return whether the user may change this file or folder (its owner may always chmod it)."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return info.st_uid == user.uid  # a link's own bits mean nothing; its owner could replace it
    if user.uid == 0 or info.st_uid == user.uid:
        return True
    if info.st_gid in user.gids:
        return bool(info.st_mode & stat.S_IWGRP)
    return bool(info.st_mode & stat.S_IWOTH)


# How far to look under a path: itself only, its whole tree, or its tree's folders only (large trees whose
# files cannot be replaced without writing their folder, unless someone gave a file away on purpose).
ITSELF, TREE, FOLDERS = "itself", "tree", "folders"


def writable_paths(roots: Iterable[tuple[Path, str]], user: OSUser, limit: int = 5) -> list[Path]:
    """Return up to `limit` paths under the roots (ITSELF, TREE or FOLDERS) that the user could change."""
    found: list[Path] = []
    for root, depth in roots:
        root = Path(root)
        if not root.exists() and not root.is_symlink():
            continue
        candidates: Iterable[Path] = [root]
        if depth != ITSELF and root.is_dir() and not root.is_symlink():
            candidates = _walk(root, files=depth == TREE)
        for path in candidates:
            if writable_by(path, user):
                found.append(path)
                if len(found) >= limit:
                    return found
    return found


def _walk(root: Path, files: bool) -> Iterable[Path]:
    yield root
    for folder, dirs, names in os.walk(root, followlinks=False):
        for name in dirs + (names if files else []):
            yield Path(folder) / name


def code_paths() -> list[tuple[Path, str]]:
    """Return what the hub, the portal and the worker execute, with how far to look under each."""
    return [(ROOT, ITSELF), (ROOT / "jupyterhub_config.py", ITSELF), (ROOT / "wsgi.py", ITSELF),
            (ROOT / "academy", TREE), (ROOT / "scripts", TREE), (ROOT / "node_modules", FOLDERS),
            (Path(sys.prefix), FOLDERS), (Path(sys.prefix) / "bin", TREE), (Path(sys.executable).resolve(), ITSELF)]


def _chown_tree(path: Path, user: OSUser) -> None:
    for item in _walk(path, files=True):
        os.lchown(item, user.uid, -1)


def _switched_on(value: str | None) -> bool:
    return (value or "on").strip().lower() not in {"off", "0", "false", "no"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as(env: Mapping[str, str], as_root: bool, python: str) -> OSUser | None | bool:
    """Return the OS user the formgraders run as (None: the hub's own user), or False to start none."""
    if not as_root:
        log.warning("formgraders run as the hub's own OS user (the hub is not root): see README, Security")
        return None
    name = env.get("ACADEMY_FORMGRADER_USER") or DEFAULT_USER
    user = os_user(name)
    if user is None:
        log.error("formgraders: the OS user %r does not exist; create it (scripts/install.sh does: useradd --system "
                  "%s) or name another in ACADEMY_FORMGRADER_USER. The hub starts without formgraders.", name, name)
        return False
    if user.uid == 0 and env.get("ACADEMY_FORMGRADER_USER") != name:
        log.error("formgraders: %r is root; name it explicitly in ACADEMY_FORMGRADER_USER to accept that", name)
        return False
    if user.uid == 0:
        log.warning("formgraders run as root (ACADEMY_FORMGRADER_USER=%s): only their read-only file API and "
                    "the absence of kernels keep instructors from changing what the worker runs", name)
        return user
    why = cannot_run(user, python)
    if why is not None:
        log.error("formgraders: %s cannot run %s with the formgrader's modules (%s): install Python and the "
                  "venv where other users may read them, or name ACADEMY_FORMGRADER_USER=root to accept running "
                  "them as root. The hub starts without formgraders.", name, python, why)
        return False
    exposed = writable_paths(code_paths(), user)
    if exposed:
        log.error("formgraders: %s could change code the hub and the worker run (%s); the hub starts without "
                  "formgraders", name, ", ".join(map(str, exposed[:3])))
        return False
    return user


# --- the services ------------------------------------------------------------------------------------


def formgrader_services(
    links: list[CourseLink] | None,
    courses_dir: Path,
    env: Mapping[str, str],
    *,
    state_dir: Path,
    portal_url: str,
    python: str = sys.executable,
    allow_root: bool | None = None,
    as_root: bool | None = None,
) -> tuple[list[dict], list[dict]]:
    """Return (services, roles) for JupyterHub: for each linked course a formgrader and its grade sync.

    links is what the portal said (fetch_course_links); env is the hub's settings by their ACADEMY_* names
    (jupyterhub_config.py passes its environment); state_dir holds each course's Jupyter runtime
    files and sync state; portal_url is where the syncs reach the portal (the hub's internal URL of it);
    as_root says whether the hub can switch OS users (default: whether it runs as root).
    """
    if not _switched_on(env.get("ACADEMY_FORMGRADERS")) or not links:
        return [], []
    if as_root is None:
        as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if allow_root is None:
        allow_root = as_root
    user = _run_as(env, as_root, python)
    if user is False:
        return [], []
    base_port = int(env["ACADEMY_FORMGRADER_BASE_PORT"]) if env.get("ACADEMY_FORMGRADER_BASE_PORT") else None
    timeout = int(env.get("ACADEMY_FORMGRADER_START_TIMEOUT") or DEFAULT_START_TIMEOUT)
    every = int(env.get("ACADEMY_FORMGRADER_SYNC_EVERY") or DEFAULT_SYNC_EVERY)
    master = env.get("ACADEMY_GRADER_TOKEN", "")
    passed_on = {key: env[key] for key in PASSED_ON if env.get(key)}
    services, roles, seen = [], [], set()
    for offset, link in enumerate(sorted(links, key=lambda c: c.id)):
        folder = Path(courses_dir) / link.folder
        db_url = _course_gradebook(link, folder, env, user, seen)
        if db_url is None:
            continue
        state = Path(state_dir) / f"c{link.id}"
        _prepare_state(state, user)
        name = service_name(link.id)
        port = base_port + offset if base_port is not None else _free_port()
        service = _formgrader(link, folder, port, state, python, allow_root, db_url, passed_on,
                              env.get("PATH", os.defpath))
        if user is not None:
            service["user"] = user.name
        services.append({**service, "timeout": timeout})
        roles.append({
            "name": name,
            "description": f"Instructors of course {link.code or link.id}: open its formgrader",
            # Only the course's instructors' group; no user, service or other group gets this role.
            "groups": [name],
            "scopes": [f"access:services!service={name}", f"read:services!service={name}"],
        })
        if master:
            services.append(_sync(link, folder, state, python, every, db_url, passed_on, portal_url,
                                  derive(master, manual_scope(link.id)), user))
    return services, roles


def _course_gradebook(link: CourseLink, folder: Path, env: Mapping[str, str], user: OSUser | None,
                      seen: set[str]) -> str | None:
    """Return the course's gradebook URL once its folder and gradebook are safe to serve, else None (logged)."""
    if link.folder in seen:
        log.error("formgraders: two courses name the folder %s; neither gets a second formgrader", link.folder)
        return None
    seen.add(link.folder)
    if not folder.is_dir():
        log.warning("formgraders: course %s (id %d) is linked to %s, which is not a folder here", link.code,
                    link.id, folder)
        return None
    try:
        db_url = gradebook_url(folder, env=env)
    except CourseConfigError as exc:
        log.error("formgraders: course %s: %s", link.code or link.id, exc)
        return None
    if user is None or user.uid == 0:
        _ensure_sqlite_dir(db_url, None)
        return db_url
    exposed = writable_paths([(folder, TREE), (folder.parent, ITSELF)], user)
    if exposed:
        log.error("formgraders: %s could change course folder %s (%s): no formgrader for course %s", user.name,
                  folder, ", ".join(map(str, exposed[:3])), link.code or link.id)
        return None
    database = _sqlite_file(db_url)
    if database is not None and folder.resolve() in database.resolve().parents:
        log.error("formgraders: the gradebook of course %s is inside its folder (%s), which %s must not write: "
                  "move it to %s/gradebooks/%s/gradebook.db", link.code or link.id, database, user.name,
                  env.get("ACADEMY_VAR_DIR", "var"), link.folder)
        return None
    _ensure_sqlite_dir(db_url, user)
    return db_url


def _sqlite_file(db_url: str) -> Path | None:
    return Path(db_url[len("sqlite:///"):]) if db_url.startswith("sqlite:///") else None


def _ensure_sqlite_dir(db_url: str, user: OSUser | None) -> None:
    """Make a SQLite gradebook's folder and, with a user, hand it (and its files) to that user alone."""
    database = _sqlite_file(db_url)
    if database is None:
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    if user is not None:
        # An empty file is an empty SQLite database: whoever opens it first (formgrader or release) creates the
        # tables in a file the formgrader owns. SQLite writes a journal beside it, so the folder is the
        # formgrader's too; root (the worker, the portal) still writes both. Grades: no other user reads them.
        database.touch(exist_ok=True)
        database.parent.chmod(0o700)
        _chown_tree(database.parent, user)


def _prepare_state(state: Path, user: OSUser | None) -> None:
    # config/ stays the hub's (nobody else's code reads it, and the formgrader need not write it).
    for sub in ("config", "runtime", "data", "ipython", "sync"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    if user is not None and user.uid != 0:
        for sub in ("runtime", "data", "ipython", "sync"):
            _chown_tree(state / sub, user)


def _formgrader(link: CourseLink, folder: Path, port: int, state: Path, python: str, allow_root: bool,
                db_url: str, passed_on: dict[str, str], path: str) -> dict:
    # The server's root is the course folder (nbgrader needs the course root inside it), read-only through
    # the contents API. The trainee-side tools (assignment list, course list) have no use here.
    extensions = repr({"nbgrader.server_extensions.formgrader": True,
                       "nbgrader.server_extensions.assignment_list": False,
                       "nbgrader.server_extensions.course_list": False})
    command = [python, "-m", "jupyterhub.singleuser", f"--ServerApp.jpserver_extensions={extensions}",
               f"--ServerApp.root_dir={folder}", f"--CourseDirectory.root={folder}",
               # The same gradebook the worker, the portal and the sync use (the platform's, not the course's).
               f"--CourseDirectory.db_url={db_url}",
               # Instructors grade here; they never change the files others run (the contents API cannot write).
               "--ServerApp.contents_manager_class=academy.integrations.formgrader_contents.ReadOnlyContentsManager",
               # Grading needs neither a shell nor a kernel: an instructor must not run code as this OS user,
               # and trainee code runs only in the grading sandbox.
               "--ServerApp.terminals_enabled=False", "--KernelSpecManager.allowed_kernelspecs=no-kernels",
               "--KernelProvisionerFactory.default_provisioner_name=no-kernels"]
    if allow_root:
        command.append("--allow-root")  # containers and CI run as root; a real install should not
    return {
        "name": service_name(link.id),
        "url": f"http://127.0.0.1:{port}",
        "command": command,
        # Not the course folder: Python puts the working folder first on its import path.
        "cwd": str(state),
        # Instructors come from the portal already signed in: no "authorize access" page in between.
        "oauth_no_confirm": True,
        "display": True,
        "info": {"course_id": link.id, "course": link.code, "folder": link.folder,
                 "path": formgrader_path(link.id)},
        "environment": {
            **passed_on,
            # The course's own nbgrader_config.py (which nbgrader also reads here) takes its db_url from this.
            "ACADEMY_GRADEBOOK_URL": db_url,
            "JUPYTERHUB_DEFAULT_URL": "/formgrader",
            # The read-only contents manager is academy code (never writable by this service's user).
            "PYTHONPATH": str(ROOT),
            # nbgrader runs the `alembic` script beside this Python when it creates a course's gradebook.
            "PATH": f"{Path(python).parent}{os.pathsep}{path}",
            # Jupyter and IPython state stay beside the hub's data, not in a home folder.
            "JUPYTER_CONFIG_DIR": str(state / "config"),
            "JUPYTER_DATA_DIR": str(state / "data"),
            "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
            "IPYTHONDIR": str(state / "ipython"),
        },
    }


def _sync(link: CourseLink, folder: Path, state: Path, python: str, every: int, db_url: str,
          passed_on: dict[str, str], portal_url: str, token: str, user: OSUser | None) -> dict:
    service = {
        "name": sync_service_name(link.id),
        "command": [python, "-m", "academy.grading.manual_sync", "--course-dir", str(folder), "--every", str(every),
                    "--state", str(state / "sync" / "manual-sync.json")],
        # From the repository root, so `-m academy...` imports this checkout.
        "cwd": str(ROOT),
        "display": False,
        # This course's token: the portal takes this course's totals from it, nothing else.
        "environment": {**passed_on, "ACADEMY_PORTAL_URL": portal_url, "ACADEMY_SYNC_TOKEN": token,
                        "ACADEMY_GRADEBOOK_URL": db_url},
    }
    if user is not None:
        service["user"] = user.name
    return service
