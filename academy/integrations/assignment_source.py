"""An assignment's source folder as the platform reads it: plain files and folders only, and what trainees receive.

Root reads `courses/<course>/source/<assignment>/`, which course authors write. A symbolic link there (to
/proc/self/environ, /etc/shadow), a FIFO or a device file (/dev/zero) would be followed by a plain copy, so
read_source() refuses the whole assignment, naming the first such entry, before anything copies from it:
entries are looked at with lstat, folders and files opened relative to their already-opened folder with
O_NOFOLLOW, never followed.

The release store (academy.integrations.nbgrader) and the grading worker (the kernel's working folder) both
take the assignment's files from read_source(), so a kernel sees exactly the non-notebook files the release
gives trainees. The rules are the release's: dotfiles and nbgrader's `ignore` patterns left out (files and
folders), files outside `include` or over `max_file_size` left out, and more than `max_dir_size` in all
refused, as nbgrader's own exchange does; the course's settings, else nbgrader's defaults.
"""
from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from nbgrader.coursedir import CourseDirectory

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
# Never released, whatever the course's ignore says (editor and nbgrader scratch).
ALWAYS_SKIPPED = (".ipynb_checkpoints", "__pycache__", "*.pyc")
MAX_DEPTH = 16
MAX_ENTRIES = 5000
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024  # nbgrader's max_file_size is about released files, not the notebooks


class SourceRefused(ValueError):
    """An assignment's source folder holds something other than plain files and folders (or too much)."""


@dataclass
class AssignmentSource:
    """The notebooks of an assignment (top level, by file name) and the other files trainees receive."""

    notebooks: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    files_bytes: int = 0


@dataclass(frozen=True)
class _Rules:
    ignore: tuple[str, ...]
    include: tuple[str, ...]
    max_file_bytes: int
    max_total_bytes: int

    @classmethod
    def of(cls, settings: Mapping[tuple[str, str], Any]) -> _Rules:
        def setting(name: str) -> Any:
            value = settings.get(("CourseDirectory", name))
            return CourseDirectory.class_traits()[name].default() if value is None else value

        # nbgrader counts sizes in kilobytes of 1000 bytes.
        return cls(ignore=(*ALWAYS_SKIPPED, *setting("ignore")), include=tuple(setting("include")),
                   max_file_bytes=1000 * int(setting("max_file_size")),
                   max_total_bytes=1000 * int(setting("max_dir_size")))

    def skips(self, name: str, is_file: bool) -> bool:
        if name.startswith(".") or any(fnmatch.fnmatch(name, p) for p in self.ignore):
            return True
        return is_file and not any(fnmatch.fnmatch(name, p) for p in self.include)


LINK = ("심볼릭 링크", "symbolic link")


def _kind(mode: int) -> tuple[str, str]:
    """Return what a file that is neither a regular file nor a folder is, in Korean and English."""
    for test, names in ((stat.S_ISLNK, LINK), (stat.S_ISFIFO, ("FIFO", "FIFO")), (stat.S_ISSOCK, ("소켓", "socket")),
                        (stat.S_ISCHR, ("문자 장치", "character device")), (stat.S_ISBLK, ("블록 장치", "block device"))):
        if test(mode):
            return names
    return ("특수 파일", "special file")


def _refuse(where: str, kind: tuple[str, str]) -> SourceRefused:
    return SourceRefused(
        f"과제 원본 폴더에 일반 파일이나 폴더가 아닌 항목({kind[0]})이 있어 이 과제를 처리하지 않습니다: {where}. "
        f"강사가 이것을 지운 뒤 다시 시도하세요. / The assignment's source folder holds a {kind[1]}, not a plain "
        f"file or folder, so the assignment is refused: {where}. An instructor must remove it, then try again.")


def read_source(source: Path, settings: Mapping[tuple[str, str], Any]) -> AssignmentSource:
    """Check every entry under source and return its notebooks and the files trainees receive.

    Raises SourceRefused, naming the entry, when anything under source (a skipped one too) is not a plain
    file or folder, and when the folder is too deep, too full or its released files too large.
    """
    source = Path(source)
    rules = _Rules.of(settings)
    found = AssignmentSource()
    for folder in (source.parent, source):  # source/ itself a link would lead anywhere too
        if folder.is_symlink():
            raise _refuse(str(folder), LINK)
    try:
        fd = os.open(source, _DIR_FLAGS)
    except OSError as exc:
        raise SourceRefused(f"과제 원본 폴더를 열 수 없습니다 / The assignment's source folder cannot be opened: "
                            f"{source} ({exc.strerror})") from None
    try:
        _walk(fd, PurePosixPath(), source, rules, found, released=True, depth=MAX_DEPTH, seen=[0])
    finally:
        os.close(fd)
    return found


def _walk(dir_fd: int, rel: PurePosixPath, source: Path, rules: _Rules, found: AssignmentSource, *,
          released: bool, depth: int, seen: list[int]) -> None:
    with os.scandir(dir_fd) as entries:
        names = sorted(entry.name for entry in entries)
    for name in names:
        path = rel / name
        where = f"{source.name}/{path}"
        seen[0] += 1
        if seen[0] > MAX_ENTRIES:
            raise SourceRefused(f"과제 원본 폴더의 항목이 {MAX_ENTRIES}개를 넘습니다 / The assignment's source folder "
                                f"holds more than {MAX_ENTRIES} entries: {source}")
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            if depth <= 0:
                raise SourceRefused(f"과제 원본 폴더가 너무 깊습니다 / The assignment's source folder nests too deep: "
                                    f"{where}")
            sub = _open(dir_fd, name, _DIR_FLAGS, where)
            try:
                _walk(sub, path, source, rules, found, released=released and not rules.skips(name, False),
                      depth=depth - 1, seen=seen)
            finally:
                os.close(sub)
        elif not stat.S_ISREG(info.st_mode):
            raise _refuse(where, _kind(info.st_mode))
        elif not rel.parts and name.endswith(".ipynb") and not name.startswith("."):
            found.notebooks[name] = _read(dir_fd, name, where, MAX_NOTEBOOK_BYTES)
        elif released and not name.endswith(".ipynb") and not rules.skips(name, True) \
                and info.st_size <= rules.max_file_bytes:
            blob = found.files[str(path)] = _read(dir_fd, name, where, rules.max_file_bytes)
            found.files_bytes += len(blob)
            if found.files_bytes > rules.max_total_bytes:
                raise SourceRefused(
                    f"과제 원본 폴더의 배포 파일이 {rules.max_total_bytes // 1000} kB(max_dir_size)를 넘습니다 / The "
                    f"assignment's released files exceed max_dir_size ({rules.max_total_bytes // 1000} kB): {source}")


def _open(dir_fd: int, name: str, flags: int, where: str) -> int:
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (40, 20, 6):  # ELOOP, ENOTDIR, ENXIO: swapped for a link or a special file since lstat
            raise _refuse(where, LINK) from None
        raise


def _read(dir_fd: int, name: str, where: str, cap: int) -> bytes:
    fd = _open(dir_fd, name, _FILE_FLAGS, where)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # swapped since lstat
            raise _refuse(where, _kind(info.st_mode))
        chunks, size = [], 0
        while size <= cap:
            chunk = os.read(fd, 1024 * 1024)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
        raise SourceRefused(f"과제 원본 파일이 너무 큽니다 / A source file is too large: {where}")
    finally:
        os.close(fd)
