"""The release store: each assignment's student version, made by nbgrader generate_assignment, kept under var/.

    var/releases/<nbgrader course>/<assignment>/             the released files (what a trainee fetches)
    var/releases/<nbgrader course>/<assignment>.tar.gz        the same files as served (no top folder)
    var/releases/<nbgrader course>/<assignment>.tar.gz.sha256

nbgrader runs on a scratch copy of the course (that one source folder, and a config written from the course's
settings read as data: academy.integrations.course_config), so releasing never writes into the repository's
courses/ folder and never runs anything from it. It records the assignment (notebooks, graded and locked cells) in the
course gradebook, as an instructor's own generate_assignment does: the grading worker autogrades against that
record, so a course is gradeable as soon as it is released. The write holds the gradebook lock the worker's
merges take. A release is built beside
the store and moved in whole; a flock per assignment keeps concurrent first requests (threads or processes) from
building it twice or reading it half-swapped.
"""
from __future__ import annotations

import fcntl
import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from flask import current_app

from academy.config import var_dir
from academy.env import environment
from academy.integrations.assignment_source import SourceRefused, read_source
from academy.integrations.course_config import (CourseConfigError, course_config, gradebook_url, read_settings,
                                                render_config)

if TYPE_CHECKING:
    from academy.courses.models import Assignment

# Names nbgrader accepts as course and assignment ids, and nothing that could climb out of a folder.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_LOG_TAIL = 4000


class ReleaseError(RuntimeError):
    """The release of an assignment could not be made; the message says why (with nbgrader's output)."""


def _names(assignment: Assignment) -> tuple[str, str]:
    course, name = assignment.course.nbgrader_course or "", assignment.nbgrader_name or ""
    if not (_SAFE_NAME.match(course) and _SAFE_NAME.match(name)):
        raise ReleaseError(f"unsafe nbgrader course or assignment name: {course!r}/{name!r}")
    return course, name


def _store(assignment: Assignment) -> Path:
    return var_dir() / "releases" / _names(assignment)[0]


def release_dir(assignment: Assignment) -> Path:
    """Return the folder holding the assignment's released (student) files."""
    return _store(assignment) / _names(assignment)[1]


def _archive_path(assignment: Assignment) -> Path:
    return _store(assignment) / f"{_names(assignment)[1]}.tar.gz"


def _sha_path(assignment: Assignment) -> Path:
    return _store(assignment) / f"{_names(assignment)[1]}.tar.gz.sha256"


def source_dir(assignment: Assignment) -> Path:
    """Return the assignment's nbgrader source folder under COURSES_DIR."""
    course, name = _names(assignment)
    return Path(current_app.config["COURSES_DIR"]) / course / "source" / name


def notebook_names(assignment: Assignment) -> list[str]:
    """Return the assignment's notebooks (file stems of source/<assignment>/*.ipynb), sorted."""
    try:
        folder = source_dir(assignment)
    except ReleaseError:
        return []
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.ipynb") if p.is_file() and not p.name.startswith("."))


@contextmanager
def _lock(assignment: Assignment, exclusive: bool) -> Iterator[None]:
    # flock belongs to the open file description, so two threads of one process exclude each other too.
    path = _store(assignment) / f".{_names(assignment)[1]}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _complete(assignment: Assignment) -> bool:
    """Return whether the store holds a whole release (an interrupted swap leaves the hashes disagreeing)."""
    archive, sha = _archive_path(assignment), _sha_path(assignment)
    if not (release_dir(assignment).is_dir() and archive.is_file() and sha.is_file()):
        return False
    return hashlib.sha256(archive.read_bytes()).hexdigest() == sha.read_text().strip()


def _tar_gz(folder: Path) -> bytes:
    """Pack a folder's regular files, paths relative to it, reproducibly (same files, same bytes)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
            info = tarfile.TarInfo(path.relative_to(folder).as_posix())
            info.size = path.stat().st_size
            info.mode = 0o644
            info.mtime = 0
            with path.open("rb") as f:
                tar.addfile(info, f)
    return gzip.compress(raw.getvalue(), mtime=0)


def _nbgrader_env(scratch: Path) -> dict[str, str]:
    env = environment()
    env.update(
        # Jupyter and IPython must not write to (or read config from) the portal user's home.
        IPYTHONDIR=str(scratch / "ipython"),
        JUPYTER_CONFIG_DIR=str(scratch / "jupyter_config"),
        JUPYTER_RUNTIME_DIR=str(scratch / "jupyter_runtime"),
        JUPYTER_DATA_DIR=str(scratch / "jupyter_data"),
        # nbgrader shells out to `alembic` for the gradebook; find it beside this interpreter.
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    # The gradebook is named on the command line (--db); the scratch copy's config must not pick another.
    env.pop("ACADEMY_GRADEBOOK_URL", None)
    return env


def course_gradebook_url(course_root: Path, course: str) -> str:
    """Return the db URL of a course's gradebook, as the worker, the sync and the formgrader find it: the app's
    GRADEBOOK_URL ("{course}" is the folder), else the platform's default under the var folder."""
    return gradebook_url(course_root, current_app.config.get("GRADEBOOK_URL") or None,
                         env={"ACADEMY_VAR_DIR": str(var_dir())})


def _run_generate(course_copy: Path, name: str, scratch: Path, db_url: str) -> None:
    timeout = float(current_app.config["RELEASE_TIMEOUT_S"])
    command = [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force", "--db", db_url]
    try:
        proc = subprocess.run(command, cwd=course_copy, env=_nbgrader_env(scratch), capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        tail = "".join(o.decode(errors="replace") if isinstance(o, bytes) else o
                       for o in (exc.stdout or "", exc.stderr or ""))
        raise ReleaseError(
            f"nbgrader generate_assignment {name} took over {timeout:g} s:\n{tail[-_LOG_TAIL:]}") from None
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-_LOG_TAIL:]
        raise ReleaseError(f"nbgrader generate_assignment {name} exited {proc.returncode}:\n{tail}")


def _build(assignment: Assignment, scratch: Path) -> Path:
    """Run nbgrader on a scratch copy of the course; return the released folder inside scratch."""
    course, name = _names(assignment)
    root = Path(current_app.config["COURSES_DIR"]) / course
    source = root / "source" / name
    if not source.is_dir():
        raise ReleaseError(f"no nbgrader source folder {course}/source/{name}")
    if not (root / "nbgrader_config.py").is_file():
        raise ReleaseError(f"no nbgrader_config.py in course {course}")
    course_copy = scratch / course
    (course_copy / "source").mkdir(parents=True)
    db_url = course_gradebook_url(root, course)
    try:
        # nbgrader reads the copy's config; it gets the course's settings as literals, never the course's file.
        settings = read_settings(root)
        config = course_config(course_copy, db_url=db_url, settings=settings)
    except CourseConfigError as exc:
        raise ReleaseError(f"the course's nbgrader_config.py is refused: {exc}") from None
    (course_copy / "nbgrader_config.py").write_text(render_config(config), encoding="utf-8")
    try:
        # Checked and read without following anything; the copy holds only what trainees receive (and the
        # notebooks), by the rules the grading worker fills the kernel's folder with.
        taken = read_source(source, settings)
    except SourceRefused as exc:
        raise ReleaseError(str(exc)) from None
    from academy.grading.gradebook_sync import lock_path
    from academy.grading.store import file_lock
    from academy.grading.untrusted import write_tree

    write_tree(course_copy / "source" / name, {**taken.notebooks, **taken.files})

    if db_url.startswith("sqlite:///"):
        Path(db_url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    with file_lock(lock_path(root)):
        _run_generate(course_copy, name, scratch, db_url)
    released = course_copy / "release" / name
    if not released.is_dir() or not any(released.glob("*.ipynb")):
        raise ReleaseError(f"nbgrader generate_assignment {name} released no notebook")
    return released


def _generate_locked(assignment: Assignment) -> Path:
    store, target = _store(assignment), release_dir(assignment)
    # Under the lock any earlier build folder of this assignment is a killed process's leftover.
    # ("+" cannot occur in an nbgrader name, so another assignment's builds never match.)
    for stale in store.glob(f".build+{target.name}+*"):
        shutil.rmtree(stale, ignore_errors=True)
    # Built beside the store so the final moves are renames on one filesystem.
    scratch = Path(tempfile.mkdtemp(prefix=f".build+{target.name}+", dir=store))
    try:
        released = _build(assignment, scratch)
        blob = _tar_gz(released)
        digest = hashlib.sha256(blob).hexdigest()
        staged_archive, staged_sha = scratch / "release.tar.gz", scratch / "release.tar.gz.sha256"
        staged_archive.write_bytes(blob)
        staged_sha.write_text(digest + "\n")
        # Swap in the folder, then the archive, then its hash last: a crash in between leaves hashes that
        # disagree, which _complete() sees, so the next request rebuilds.
        previous = scratch / "previous"
        if target.exists():
            target.rename(previous)
        try:
            released.rename(target)
        except OSError:
            if previous.exists() and not target.exists():
                previous.rename(target)
            raise
        os.replace(staged_archive, _archive_path(assignment))
        os.replace(staged_sha, _sha_path(assignment))
    except OSError as exc:
        raise ReleaseError(f"could not store the release of {target.name}: {exc}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def ensure_release(assignment: Assignment, *, force: bool = False) -> Path:
    """Return the assignment's release folder, generating it first when it is missing (or always with force)."""
    if not force:
        with _lock(assignment, exclusive=False):
            if _complete(assignment):
                return release_dir(assignment)
    with _lock(assignment, exclusive=True):
        # Another request may have built it while this one waited for the lock.
        if force or not _complete(assignment):
            _generate_locked(assignment)
    return release_dir(assignment)


def release_archive(assignment: Assignment) -> tuple[bytes, str]:
    """Return the release as tar.gz bytes and their sha256, generating the release first if needed."""
    for _attempt in range(2):
        ensure_release(assignment)
        with _lock(assignment, exclusive=False):
            if _complete(assignment):
                return _archive_path(assignment).read_bytes(), _sha_path(assignment).read_text().strip()
    raise ReleaseError(f"the release of {_names(assignment)[1]} keeps disappearing from the store")
