"""The grading worker's interface: a job in, a plain JSON-serialisable result out."""
from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

Status = Literal["graded", "time_limit", "memory_limit", "error"]

MIB = 1024 * 1024


@dataclass(frozen=True)
class GradingLimits:
    """Resource limits for one submission's sandbox."""

    wall_seconds: float = 300.0  # whole notebook, kernel start included
    cell_timeout_seconds: int = 60  # one cell (nbgrader's ExecutePreprocessor.timeout)
    cpu_seconds: int = 600  # RLIMIT_CPU of each sandboxed process
    memory_bytes: int = 3072 * MIB  # RLIMIT_AS of each sandboxed process
    max_processes: int = 64  # RLIMIT_NPROC of the sandbox's own unprivileged uid
    output_bytes: int = 2 * MIB  # all cell outputs together, as the worker receives them
    file_bytes: int = 256 * MIB  # largest file the sandbox may write (RLIMIT_FSIZE)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> GradingLimits:
        """Build limits from a dict, ignoring unknown keys."""
        data = data or {}
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class GradingJob:
    """One submission to autograde.

    The submission is either `files` (relative path -> bytes, as received by the portal) or
    `submission_path` (a folder holding a scratch copy that the worker may read). Files the
    trainee sends that nbgrader treats as metadata (timestamp.txt) are ignored: lateness comes
    from `submitted_at`, the portal's own receipt time.
    """

    submission_id: str  # the portal's key: a submission is graded exactly once
    course_dir: str  # nbgrader course root with gradebook.db and source/; never shown to the sandbox
    assignment: str
    student_id: str
    files: dict[str, bytes] | None = None
    submission_path: str | None = None
    submitted_at: datetime | None = None  # UTC, recorded by the portal at receipt
    limits: GradingLimits = field(default_factory=GradingLimits)
    data_dir: str | None = None  # read-only data for the kernel; default ACADEMY_DATA_DIR
    gpu: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (file contents base64) for a task message."""
        data = asdict(self)
        data["files"] = (
            {name: base64.b64encode(blob).decode("ascii") for name, blob in self.files.items()}
            if self.files is not None
            else None
        )
        data["submitted_at"] = self.submitted_at.isoformat() if self.submitted_at else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradingJob:
        """Rebuild a job from `to_dict`'s output."""
        files = data.get("files")
        submitted_at = data.get("submitted_at")
        return cls(
            submission_id=str(data["submission_id"]),
            course_dir=str(data["course_dir"]),
            assignment=str(data["assignment"]),
            student_id=str(data["student_id"]),
            files={k: base64.b64decode(v) for k, v in files.items()} if files is not None else None,
            submission_path=data.get("submission_path"),
            submitted_at=datetime.fromisoformat(submitted_at) if submitted_at else None,
            limits=GradingLimits.from_dict(data.get("limits")),
            data_dir=data.get("data_dir"),
            gpu=bool(data.get("gpu", False)),
        )

    def submission_files(self) -> dict[str, bytes]:
        """Return the submitted files as relative path -> bytes."""
        if self.files is not None:
            return dict(self.files)
        if self.submission_path is None:
            raise ValueError("a job needs files or submission_path")
        root = Path(self.submission_path)
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()
        }


@dataclass
class CellScore:
    """The automatic score of one autograded test cell."""

    notebook: str
    grade_id: str
    score: float
    max_score: float


@dataclass
class GradingResult:
    """What the worker reports for one submission (plain data, JSON-serialisable)."""

    submission_id: str
    assignment: str
    student_id: str
    status: Status
    cells: list[CellScore] = field(default_factory=list)
    auto_score: float = 0.0
    max_auto_score: float = 0.0
    # All of nbgrader's points for the work, hand-graded answers included: the portal scales against it.
    max_total_score: float = 0.0
    feedback_html: str = ""
    duration_seconds: float = 0.0
    message: str = ""
    integrity: list[str] = field(default_factory=list)  # tampering found, if any
    graded_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a plain dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradingResult:
        """Rebuild a result from `to_dict`'s output."""
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["cells"] = [CellScore(**c) for c in data.get("cells", [])]
        return cls(**fields)
