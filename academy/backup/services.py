"""Back up everything the academy cannot rebuild into one folder with a manifest, and restore it after verifying.

A backup folder holds:
  database/portal.<sqlite|dump>      the portal's database
  gradebooks/<course>.<sqlite|dump>  each course's nbgrader gradebook
  files/<tree>/...                   each file tree of TREES that exists
  MANIFEST.json                      format, time, database kind, alembic revision, row counts per table, and
                                     every other file's path, size and sha256 (plus a sha256 of itself)
Restore verifies all of it first (every file present and unchanged, no file more, the manifest itself unedited,
the revision this code's) and changes nothing unless everything verifies.

Not backed up, because it is rebuilt: assignment releases (generated again from the course source when missing),
the course material itself (version control), the hub's database (users come back by signing in), datasets
(`flask academy datasets fetch`). The secret key lives in the environment in production.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import current_app

from academy.backup import databases
from academy.backup.errors import BackupError, BackupRefused
from academy.config import var_dir
from academy.courses.models import Course
from academy.extensions import db
from academy.integrations.course_config import SAFE_NAME
from academy.integrations.nbgrader import course_gradebook_url

FORMAT = 1
MANIFEST = "MANIFEST.json"
Say = Callable[[str], None]


@dataclass(frozen=True)
class Tree:
    """A folder of files the database refers to and nothing can rebuild."""

    name: str
    root: Callable[[], Path]
    skip: tuple[str, ...] = ()  # top-level entries that are transient (never backed up, dropped on restore)


# The file trees a backup holds, each one line; a tree that does not exist is skipped.
TREES = (
    Tree("submissions", lambda: var_dir() / "submissions", skip=(".incoming",)),  # trainees' files, feedback
    # Issued certificates are rows (in the database copy) drawn as PDF on demand; a PDF kept as a file goes here.
    Tree("certificates", lambda: var_dir() / "certificates"),
)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _seal(body: dict) -> str:
    """Return the sha256 of the manifest's body (everything but this value), in a canonical form.

    A checksum against damage and careless edits, not a signature: whoever can write the backup folder can
    recompute it, so keep backups where only the office can write."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _migrations_script() -> ScriptDirectory:
    return ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())


def _portal_url() -> str:
    return db.engine.url.render_as_string(hide_password=False)


def _course_folders() -> list[str]:
    """Return every course folder a gradebook may belong to: in COURSES_DIR, in the portal, under var/gradebooks."""
    root = Path(current_app.config["COURSES_DIR"])
    found = {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()
    found |= set(db.session.scalars(sa.select(Course.nbgrader_course).where(Course.nbgrader_course.is_not(None))))
    gradebooks = var_dir() / "gradebooks"
    found |= {p.name for p in gradebooks.iterdir() if p.is_dir()} if gradebooks.is_dir() else set()
    return sorted(f for f in found if f and SAFE_NAME.match(f))


def _gradebook_url(folder: str) -> str:
    return course_gradebook_url(Path(current_app.config["COURSES_DIR"]) / folder, folder)


def _copy_tree(tree: Tree, target: Path) -> int:
    """Copy a tree's regular files (never following links) into target; return how many."""
    root, count = tree.root(), 0
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if here == root:
            dirs[:] = [d for d in dirs if d not in tree.skip]
            files = [f for f in files if f not in tree.skip]
        for name in files:
            source = here / name
            if source.is_symlink() or not source.is_file():
                continue
            copy = target / source.relative_to(root)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
            count += 1
    return count


def _listing(folder: Path) -> list[dict]:
    return [{"path": p.relative_to(folder).as_posix(), "size": p.stat().st_size, "sha256": _sha256(p)}
            for p in sorted(folder.rglob("*")) if p.is_file()]


def make_backup(target: Path, say: Say) -> dict:
    """Write a backup of the database, the gradebooks and the file trees into target (absent or empty)."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} is not an empty folder: a backup goes into a new or empty folder")
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o700)  # personal data and password hashes: for the account that makes backups only
    try:
        manifest = _write_backup(target, say)
    except BaseException:
        for entry in target.iterdir():
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        raise
    return manifest


def _write_backup(target: Path, say: Say) -> dict:
    url = _portal_url()
    kind = databases.kind(url)
    (target / "database").mkdir()
    database_file = f"database/portal{databases.KINDS[kind]}"
    counts, revision = databases.dump(url, target / database_file)
    say(f"database ({kind}): {len(counts)} tables, {sum(counts.values())} rows, revision {revision}")
    gradebooks = []
    for folder in _course_folders():
        gb_url = _gradebook_url(folder)
        gb_kind = databases.kind(gb_url)
        if gb_kind == "sqlite" and not databases.sqlite_file_exists(gb_url):
            say(f"gradebook {folder}: none yet")
            continue
        (target / "gradebooks").mkdir(exist_ok=True)
        name = f"gradebooks/{folder}{databases.KINDS[gb_kind]}"
        gb_counts, _ = databases.dump(gb_url, target / name)
        gradebooks.append({"course": folder, "kind": gb_kind, "file": name})
        say(f"gradebook {folder} ({gb_kind}): {sum(gb_counts.values())} rows")
    trees = []
    for tree in TREES:
        if not tree.root().is_dir():
            say(f"{tree.name}: none on this machine")
            continue
        (target / "files" / tree.name).mkdir(parents=True)
        count = _copy_tree(tree, target / "files" / tree.name)
        trees.append(tree.name)
        say(f"{tree.name}: {count} files")
    files = [f for f in _listing(target) if f["path"] != MANIFEST]
    body = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": {"kind": kind, "file": database_file, "revision": revision, "row_counts": counts},
            "gradebooks": gradebooks, "trees": trees, "files": files}
    manifest = {**body, "manifest_sha256": _seal(body)}
    (target / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    say(f"manifest: {len(files)} files, {sum(f['size'] for f in files)} bytes")
    return manifest


# Verification: everything is checked and every problem reported before anything is changed.

def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.is_file() or path.is_symlink():
        raise BackupRefused([f"{MANIFEST} is missing: {folder} is not a backup made by `flask academy backup`"])
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
        sealed = manifest.get("manifest_sha256") == _seal(body)
    except (ValueError, AttributeError, UnicodeDecodeError):
        raise BackupRefused([f"{MANIFEST} is not valid JSON"]) from None
    if not sealed:
        raise BackupRefused([f"{MANIFEST} was edited or damaged after the backup was made (its own sha256 differs)"])
    if manifest.get("format") != FORMAT:
        raise BackupRefused([f"backup format {manifest.get('format')!r} is not the format {FORMAT} this code reads"])
    return manifest


def _check_files(folder: Path, manifest: dict) -> list[str]:
    problems, listed = [], set()
    for entry in manifest["files"]:
        rel = PurePosixPath(entry["path"])
        if rel.is_absolute() or ".." in rel.parts or str(rel) == MANIFEST:
            problems.append(f"{rel}: not a path inside the backup")
            continue
        listed.add(str(rel))
        path = folder / rel
        if path.is_symlink() or not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != entry["size"]:
            problems.append(f"{rel}: size {path.stat().st_size}, the manifest says {entry['size']}")
        elif _sha256(path) != entry["sha256"]:
            problems.append(f"{rel}: content changed (sha256 differs from the manifest)")
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink() or (not path.is_dir() and rel not in listed and rel != MANIFEST):
            problems.append(f"{rel}: not in the manifest (a file added after the backup)")
    named = [manifest["database"]["file"]] + [g["file"] for g in manifest["gradebooks"]]
    problems += [f"{name}: named by the manifest but not among its files" for name in named if name not in listed]
    return problems


def _check_revision(revision: str | None) -> list[str]:
    script = _migrations_script()
    heads = script.get_heads()
    if revision in heads:
        return []
    try:
        known = revision is not None and script.get_revision(revision) is not None
    except CommandError:
        known = False
    head = ", ".join(heads)
    if known:
        return [f"the backup's database is at revision {revision}, this code's migrations at {head}: restore it "
                f"with the version of the academy that made it (its migrations head is {revision}), then install "
                f"this version and run `flask --app wsgi db upgrade`"]
    return [f"the backup's database revision {revision} is unknown to this code (its head is {head}): it was made "
            f"by another version of the academy; restore it with that version"]


def _check_targets(manifest: dict) -> list[str]:
    problems = []
    parts = [("the portal's database", manifest["database"]["kind"], _portal_url())]
    unsafe = [g["course"] for g in manifest["gradebooks"] if not SAFE_NAME.match(g["course"])]
    problems += [f"gradebook of {name!r}: not a course folder name" for name in unsafe]
    parts += [(f"gradebook {g['course']}", g["kind"], _gradebook_url(g["course"])) for g in manifest["gradebooks"]
              if g["course"] not in unsafe]
    for label, was, url in parts:
        try:
            now = databases.kind(url)
            if now != was:
                problems.append(f"{label} was backed up from {was} but is configured as {now}: restore needs the "
                                f"same kind of database")
            elif now == "postgresql":
                databases.check_pg_tool(url, "pg_restore")
        except BackupError as exc:
            problems.append(f"{label}: {exc}")
    unknown = set(manifest["trees"]) - {t.name for t in TREES}
    problems += [f"file tree {name!r} is not one this code restores" for name in sorted(unknown)]
    return problems


def _check_trees(folder: Path, manifest: dict) -> list[str]:
    """Every tree the manifest names must be in the copy as a real folder (an empty one may be lost by a copy tool:
    then restoring would stop half-way, after the database was replaced)."""
    problems = []
    for name in manifest["trees"]:
        path = folder / "files" / str(name)
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            problems.append(f"files/{name}: not a folder")
    return problems


def verify_backup(folder: Path) -> dict:
    """Return the backup's manifest if every check passes, else raise BackupRefused with every problem."""
    manifest = _read_manifest(folder)
    try:
        problems = _check_files(folder, manifest)
        problems += _check_revision(manifest["database"]["revision"])
        problems += _check_targets(manifest)
        problems += _check_trees(folder, manifest)
    except (KeyError, TypeError):
        raise BackupRefused([f"{MANIFEST} lacks a part this code needs"]) from None
    if problems:
        raise BackupRefused(problems)
    return manifest


# Restore: only after verify_backup.

def _replace_tree(tree: Tree, source: Path) -> None:
    """Put the backup's copy of a tree in place of the current one, swapping whole folders."""
    root = tree.root()
    root.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(6)
    incoming = root.with_name(f".{root.name}.restoring-{token}")
    if source.is_dir():
        shutil.copytree(source, incoming)
    else:  # an empty tree that a copy tool did not keep: restored as empty (verify_backup found no file of it)
        incoming.mkdir()
    old = root.with_name(f".{root.name}.replaced-{token}")
    if root.exists():
        os.rename(root, old)
    os.rename(incoming, root)
    shutil.rmtree(old, ignore_errors=True)


def restore_backup(folder: Path, manifest: dict, say: Say) -> None:
    """Replace the database, the gradebooks and the file trees with the verified backup in folder.

    Raises BackupError if the restored database's row counts differ from the manifest's.
    """
    db.session.remove()
    db.engine.dispose()  # no connection of this process may hold a lock the restore waits for
    url = _portal_url()
    databases.load(url, folder / manifest["database"]["file"])
    say(f"database ({manifest['database']['kind']}): restored")
    for gradebook in manifest["gradebooks"]:
        databases.load(_gradebook_url(gradebook["course"]), folder / gradebook["file"])
        say(f"gradebook {gradebook['course']}: restored")
    for tree in TREES:
        if tree.name in manifest["trees"]:
            _replace_tree(tree, folder / "files" / tree.name)
            say(f"{tree.name}: restored")
        else:
            say(f"{tree.name}: not in the backup, left as it is")
    counts = databases.count_rows(url)
    expected = manifest["database"]["row_counts"]
    differ = sorted(t for t in expected if counts.get(t) != expected[t])
    if differ:
        raise BackupError(f"the restored database's row counts differ from the manifest in: {', '.join(differ)}")
    if extra := sorted(set(counts) - set(expected)):
        say(f"tables the backup does not have were left as they were: {', '.join(extra)}")
    say(f"row counts: all {len(expected)} tables as in the manifest")
