"""What backup and restore refuse or fail with."""
from __future__ import annotations


class BackupError(Exception):
    """A backup or restore could not be made; the message says why and what to do."""


class BackupRefused(BackupError):
    """A backup folder failed verification: nothing was restored, nothing changed."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("the backup does not verify, nothing was changed:\n" + "\n".join(f"  - {p}" for p in problems))
