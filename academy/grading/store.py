"""Results keyed by submission id, written atomically, so each submission is graded once."""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from academy.grading.jobs import GradingResult
from academy.grading.settings import settings


def grading_dir() -> Path:
    """Return the worker's state folder (results, locks): ACADEMY_GRADING_DIR or var/grading."""
    path = settings.grading_dir
    path.mkdir(parents=True, exist_ok=True)
    return path


def safe_key(submission_id: str) -> str:
    """Return a file-name-safe key for a submission id (ids come from the portal, not trainees)."""
    if re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", submission_id) and not submission_id.startswith("."):
        return submission_id
    return hashlib.sha256(submission_id.encode()).hexdigest()


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on path (created if missing) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ResultStore:
    """One JSON file per graded submission under root/results."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or grading_dir()
        (self.root / "results").mkdir(parents=True, exist_ok=True)
        (self.root / "locks").mkdir(parents=True, exist_ok=True)

    def path(self, submission_id: str) -> Path:
        """Return where a submission's result lives."""
        return self.root / "results" / f"{safe_key(submission_id)}.json"

    def get(self, submission_id: str) -> GradingResult | None:
        """Return the stored result of a submission, or None."""
        try:
            return GradingResult.from_dict(json.loads(self.path(submission_id).read_text()))
        except FileNotFoundError:
            return None

    def put(self, result: GradingResult) -> None:
        """Store a result atomically (write a temporary file, then rename over)."""
        target = self.path(result.submission_id)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(result.to_dict(), ensure_ascii=False))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)

    @contextmanager
    def claim(self, submission_id: str) -> Iterator[None]:
        """Hold the submission's lock, so two deliveries of one job never grade at once."""
        with file_lock(self.root / "locks" / f"{safe_key(submission_id)}.lock"):
            yield
