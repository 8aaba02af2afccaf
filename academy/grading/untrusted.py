"""Read what a sandbox left behind without trusting it: regular files only, never a link, size-capped.

Everything sandboxed code can write (its work folder, its socket folder, the judge's folder) may hold
planted symbolic links, hard links to other files, FIFOs that block a reader forever, sockets and
device files. The root worker reads such a folder only through this module: each file is opened
relative to an already-opened parent folder with O_NOFOLLOW and O_NONBLOCK, checked with fstat to
be a regular file with a single link, and read up to a cap; folders are entered the same way. What
fails a check is refused and reported, never followed.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MIB = 1024 * 1024
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Refused(OSError):
    """A file the sandbox left is not a plain, single-linked regular file under the cap."""


@dataclass
class Collected:
    """The regular files read from a folder, and what was refused (relative path, reason)."""

    files: dict[str, bytes] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(len(b) for b in self.files.values())


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "symbolic link"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISDIR, "folder")):
        if test(mode):
            return name
    return "special file"


def _read_fd(fd: int, name: str, max_bytes: int) -> bytes:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise Refused(f"{name}: a {_kind(info.st_mode)}, not a regular file")
    if info.st_nlink != 1:
        raise Refused(f"{name}: a hard link ({info.st_nlink} names for one file)")
    if info.st_size > max_bytes:
        raise Refused(f"{name}: {info.st_size} bytes, over the {max_bytes}-byte cap")
    chunks, size = [], 0
    while True:
        chunk = os.read(fd, min(MIB, max_bytes + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:  # it grew after fstat
            raise Refused(f"{name}: over the {max_bytes}-byte cap")
    return b"".join(chunks)


def _open_in(dir_fd: int | None, name: str, flags: int) -> int:
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (40, 20):  # ELOOP: a symbolic link; ENOTDIR: a link or a file where a folder was
            raise Refused(f"{name}: a symbolic link or not what it claims to be") from exc
        raise


def _open_file(path: Path) -> int:
    """Open one file in a folder of the worker's own without following the file if it is a link."""
    dir_fd = os.open(path.parent, _DIR_FLAGS)
    try:
        return _open_in(dir_fd, path.name, _FILE_FLAGS)
    finally:
        os.close(dir_fd)


def read_file(path: Path, max_bytes: int) -> bytes:
    """Return the bytes of one regular file the sandbox may have touched, or raise Refused/OSError.

    The file itself is never followed if it is a link; its folder is the worker's own.
    """
    path = Path(path)
    fd = _open_file(path)
    try:
        return _read_fd(fd, path.name, max_bytes)
    finally:
        os.close(fd)


def read_tail(path: Path, max_bytes: int) -> bytes:
    """Return the last max_bytes of one regular file the sandbox may have touched (a log), refused like read_file."""
    fd = _open_file(Path(path))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"{Path(path).name}: a {_kind(info.st_mode)}, not a regular file")
        os.lseek(fd, max(0, info.st_size - max_bytes), os.SEEK_SET)
        return os.read(fd, max_bytes)
    finally:
        os.close(fd)


def copy_file(source: Path, dest: Path, max_bytes: int, uid: int | None = None, mode: int = 0o400) -> int:
    """Copy one regular file the sandbox may have touched to a new file dest, streaming; return its size.

    Refused (Refused/OSError) like read_file; the copy never holds the whole file in the worker's memory.
    """
    source = Path(source)
    fd = _open_file(source)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"{source.name}: a {_kind(info.st_mode)}, not a regular file")
        if info.st_nlink != 1:
            raise Refused(f"{source.name}: a hard link ({info.st_nlink} names for one file)")
        if info.st_size > max_bytes:
            raise Refused(f"{source.name}: {info.st_size} bytes, over the {max_bytes}-byte cap")
        out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
        try:
            if uid is not None and os.geteuid() == 0:
                os.fchown(out, uid, uid)
            copied = 0
            while copied <= max_bytes:
                sent = os.sendfile(out, fd, None, min(8 * MIB, max_bytes + 1 - copied))
                if sent == 0:
                    break
                copied += sent
            if copied > max_bytes:  # it grew after fstat
                raise Refused(f"{source.name}: over the {max_bytes}-byte cap")
            return copied
        except BaseException:
            os.close(out)
            out = -1
            os.unlink(dest)
            raise
        finally:
            if out >= 0:
                os.close(out)
    finally:
        os.close(fd)


def collect(root: Path, *, max_file: int = 16 * MIB, max_total: int = 64 * MIB, max_files: int = 500,
            max_depth: int = 8, skip: frozenset[str] = frozenset()) -> Collected:
    """Read every regular file under root (root is the worker's own folder), refusing the rest.

    Files past max_files or max_total are refused too, so one planted giant never stops the rest
    from being reported. skip names top-level entries to leave out silently.
    """
    found = Collected()
    fd = os.open(root, _DIR_FLAGS)
    try:
        _walk(fd, PurePosixPath(), found, max_file, max_total, max_files, max_depth, skip)
    finally:
        os.close(fd)
    return found


def _walk(dir_fd: int, rel: PurePosixPath, found: Collected, max_file: int, max_total: int, max_files: int,
          depth: int, skip: frozenset[str]) -> None:
    with os.scandir(dir_fd) as entries:
        names = sorted(entry.name for entry in entries)
    for name in names:
        path = rel / name
        if not rel.parts and name in skip:
            continue
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(info.st_mode):
            if depth <= 0:
                found.refused.append((str(path), "folders nested too deep"))
                continue
            try:
                sub = _open_in(dir_fd, name, _DIR_FLAGS)
            except (Refused, OSError) as exc:
                found.refused.append((str(path), str(exc)))
                continue
            try:
                _walk(sub, path, found, max_file, max_total, max_files, depth - 1, skip)
            finally:
                os.close(sub)
            continue
        if not stat.S_ISREG(info.st_mode):
            found.refused.append((str(path), f"a {_kind(info.st_mode)}, not a regular file"))
            continue
        if len(found.files) >= max_files:
            found.refused.append((str(path), f"more than {max_files} files"))
            continue
        try:
            fd = _open_in(dir_fd, name, _FILE_FLAGS)
        except (Refused, OSError) as exc:
            found.refused.append((str(path), str(exc)))
            continue
        try:
            blob = _read_fd(fd, str(path), min(max_file, max_total - found.total))
        except (Refused, OSError) as exc:
            found.refused.append((str(path), str(exc)))
            continue
        finally:
            os.close(fd)
        found.files[str(path)] = blob


def write_tree(dest: Path, files: dict[str, bytes], mode: int = 0o644) -> None:
    """Write files (relative path -> bytes) into dest, a folder this call creates; never through a link."""
    dest = Path(dest)
    dest.mkdir(parents=False, exist_ok=False)
    for rel, blob in sorted(files.items()):
        parts = PurePosixPath(rel).parts
        if not parts or any(p in ("", ".", "..") for p in parts) or PurePosixPath(rel).is_absolute():
            raise ValueError(f"unsafe path {rel!r}")
        folder = dest
        for part in parts[:-1]:
            folder = folder / part
            if not folder.is_dir() or folder.is_symlink():
                folder.mkdir()
        fd = os.open(folder / parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
