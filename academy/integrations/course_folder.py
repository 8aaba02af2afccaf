"""An nbgrader course folder under COURSES_DIR, looked at before a course is linked to it.

A course folder declares its assignments in `syllabus.toml` (one `[[assignment]]` table with a `name` each) and
holds each one's material in `source/<name>/`; a folder without a syllabus declares the assignments its `source/`
holds. Nothing in the folder is run: the syllabus is read as TOML data.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

SYLLABUS = "syllabus.toml"


class FolderProblem(Exception):
    """The folder cannot be a course's: the subclass says why, the callers say it in the user's language."""


class FolderMissing(FolderProblem):
    pass


class FolderOutside(FolderProblem):
    """The name leads out of COURSES_DIR (a link, or a path that is not a plain child)."""


class SyllabusUnreadable(FolderProblem):
    pass


class NotACourseFolder(FolderProblem):
    """The folder has neither a syllabus nor a source/ folder."""


@dataclass
class CourseFolder:
    path: Path
    declared: list[str]  # the assignments the syllabus names (or source/ holds)
    missing: list[str]  # declared, but without a real source/<name>/ folder


def _real_dir(path: Path, root: Path) -> bool:
    """Return whether path is a folder, not a link, and really inside root."""
    if path.is_symlink() or not path.is_dir():
        return False
    return path.resolve().is_relative_to(root)


def inspect_course_folder(courses_dir: Path, folder: str) -> CourseFolder:
    """Look at COURSES_DIR/<folder>: a real folder directly inside it, and the assignments it declares and holds."""
    root = Path(courses_dir).resolve()
    if not folder or folder in {".", ".."} or "/" in folder or "\\" in folder or "\0" in folder:
        raise FolderOutside(folder)
    path = root / folder
    if path.is_symlink() or (path.exists() and path.resolve().parent != root):
        raise FolderOutside(folder)
    if not path.is_dir():
        raise FolderMissing(folder)
    source = path / "source"
    syllabus = path / SYLLABUS
    if syllabus.is_symlink():
        raise FolderOutside(f"{folder}/{SYLLABUS}")
    if syllabus.is_file():
        try:
            data = tomllib.loads(syllabus.read_text(encoding="utf-8"))
            declared = [str(a["name"]) for a in data.get("assignment", [])]
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise SyllabusUnreadable(str(exc)) from exc
    elif _real_dir(source, root):
        declared = sorted(p.name for p in source.iterdir() if _real_dir(p, root))
    else:
        raise NotACourseFolder(folder)
    source_ok = _real_dir(source, root)
    missing = [n for n in declared if not (source_ok and "/" not in n and n not in {".", ".."}
                                           and _real_dir(source / n, root))]
    return CourseFolder(path=path, declared=declared, missing=missing)


def course_folders(courses_dir: Path) -> list[str]:
    """Return the names of the real folders directly inside COURSES_DIR (links left out), sorted."""
    root = Path(courses_dir).resolve()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".") and _real_dir(p, root))
