"""Files on the trainee's side: unpack a release safely, never overwrite work, gather a submission."""
from __future__ import annotations

import fnmatch
import io
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

# A release is a few notebooks and small files; anything far larger is not one of ours.
MAX_RELEASE_BYTES = 500 * 1024 * 1024
# Never part of a submission, whatever the configuration says.
ALWAYS_SKIPPED = (".ipynb_checkpoints", "__pycache__", "feedback")


class UnsafeArchive(ValueError):
    """A release archive with a member that could write outside the assignment folder."""


def _member_name(member: tarfile.TarInfo) -> str:
    """Return the member's safe relative path, or raise UnsafeArchive."""
    name = member.name.replace("\\", "/")
    path = PurePosixPath(name)
    if not name or name.startswith("/") or path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
        raise UnsafeArchive(f"unsafe path {member.name!r}")
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchive(f"{member.name!r} is a link or a special file")
    parts = [p for p in path.parts if p not in ("", ".")]
    return "/".join(parts)


def read_release(blob: bytes) -> dict[str, bytes | None]:
    """Return the archive's files as {relative path: contents} (None for a folder), all checked first."""
    try:
        archive = tarfile.open(fileobj=io.BytesIO(blob), mode="r:*")
    except tarfile.TarError as exc:
        raise UnsafeArchive(f"not a readable tar archive ({exc})") from None
    entries: dict[str, bytes | None] = {}
    total = 0
    with archive:
        for member in archive.getmembers():
            name = _member_name(member)
            if not name:
                continue
            if member.isdir():
                entries.setdefault(name, None)
                continue
            total += member.size
            if total > MAX_RELEASE_BYTES:
                raise UnsafeArchive("the archive unpacks to more than the release limit")
            data = archive.extractfile(member)
            entries[name] = data.read() if data is not None else b""
    return entries


def write_release(entries: dict[str, bytes | None], dest: str) -> list[str]:
    """Write the release into dest without touching any file that already exists there.

    A missing dest is built in a scratch folder beside it and renamed into place, so an interrupted
    fetch leaves no half-written assignment. Returns the relative paths written.
    """
    written: list[str] = []
    parent = os.path.dirname(os.path.abspath(dest)) or "."
    os.makedirs(parent, exist_ok=True)
    fresh = not os.path.exists(dest)
    root = tempfile.mkdtemp(prefix=".fetching-", dir=parent) if fresh else dest
    try:
        real_root = os.path.realpath(root)
        for name in sorted(entries):
            target = os.path.join(root, *name.split("/"))
            # Never write through a link the trainee made, nor over anything of theirs.
            if not os.path.realpath(target).startswith(real_root + os.sep) or os.path.lexists(target):
                continue
            try:
                if entries[name] is None:
                    os.makedirs(target, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "xb") as fh:
                    fh.write(entries[name])
            except (FileExistsError, NotADirectoryError):
                continue  # a file of theirs stands where the release has a folder
            written.append(name)
        if fresh:
            os.chmod(root, 0o755)
            os.rename(root, dest)
    finally:
        if fresh and os.path.isdir(root):
            shutil.rmtree(root, ignore_errors=True)
    return written


@dataclass
class Collected:
    """What a submission will carry, and what was left out and why."""

    files: dict[str, bytes] = field(default_factory=dict)
    skipped_large: list[str] = field(default_factory=list)
    skipped_other: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(b) for b in self.files.values())


def _ignored(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def collect_submission(src: str, ignore: list[str], max_file_bytes: int) -> Collected:
    """Gather the assignment folder's files by relative path, leaving out checkpoints, feedback,
    hidden files, links, the ignore patterns and files larger than max_file_bytes."""
    patterns = [*ALWAYS_SKIPPED, *ignore]
    out = Collected()
    for dirpath, dirnames, filenames in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        keep = []
        for d in sorted(dirnames):
            path = os.path.join(dirpath, d)
            if d.startswith(".") or _ignored(d, patterns) or os.path.islink(path):
                out.skipped_other.append(os.path.normpath(os.path.join(rel_dir, d)) + "/")
            else:
                keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = PurePosixPath(*os.path.normpath(os.path.join(rel_dir, name)).split(os.sep)).as_posix()
            if name.startswith(".") or _ignored(name, patterns) or os.path.islink(path) or not os.path.isfile(path):
                out.skipped_other.append(rel)
            elif os.path.getsize(path) > max_file_bytes:
                out.skipped_large.append(rel)
            else:
                with open(path, "rb") as fh:
                    out.files[rel] = fh.read()
    return out
