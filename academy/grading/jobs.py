"""The grading worker's interface: a job in, a plain JSON-serialisable result out."""
from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

Status = Literal["graded", "time_limit", "memory_limit", "error"]
# Which limit stopped or hampered a job; "" when none did.
Limit = Literal["", "wall_time", "cpu_time", "memory", "disk", "processes"]
# The portal knows four outcomes: every limit maps to one of them, and the result's `limit` and message
# say exactly which. A job's storage (work folder, /tmp, /dev/shm) is memory (tmpfs) counted against the
# job's memory, and its process limit guards memory too, so both are reported as memory limits.
LIMIT_STATUS: dict[str, Status] = {"wall_time": "time_limit", "cpu_time": "time_limit", "memory": "memory_limit",
                                   "disk": "memory_limit", "processes": "memory_limit"}

MIB = 1024 * 1024


@dataclass(frozen=True)
class GradingLimits:
    """Resource limits for one submission: most hold for the whole job, kernel and judge together."""

    wall_seconds: float = 300.0  # whole notebook, kernel start included
    cell_timeout_seconds: int = 60  # one cell (nbgrader's ExecutePreprocessor.timeout)
    cpu_seconds: int = 600  # the job's CPU time, all processes (cgroup); also RLIMIT_CPU of each process
    memory_bytes: int = 3072 * MIB  # the job's memory, all processes and their tmpfs files (cgroup); RLIMIT_AS
    max_processes: int = 64  # the job's processes and threads (cgroup pids); RLIMIT_NPROC of its uid
    output_bytes: int = 2 * MIB  # all cell outputs together, as the worker receives them
    file_bytes: int = 256 * MIB  # largest file the sandbox may write (RLIMIT_FSIZE)
    disk_bytes: int = 2048 * MIB  # the job's box: work and socket folders of kernel and judge (a tmpfs)
    max_files: int = 100_000  # files and folders in the box
    tmp_bytes: int = 256 * MIB  # each of the sandbox's /tmp and /dev/shm (tmpfs)

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
    limit: Limit = ""  # the limit the job ran into, if any (status says only time or memory)
    enforcement: str = ""  # how the limits were held: a cgroup per job, or rlimits per process only

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a plain dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradingResult:
        """Rebuild a result from `to_dict`'s output."""
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["cells"] = [CellScore(**c) for c in data.get("cells", [])]
        return cls(**fields)


def limit_message(limit: Limit, limits: GradingLimits) -> str:
    """Say which limit a job ran into, in English and Korean."""
    mib = MIB
    return {
        "wall_time": (f"Stopped: the notebook ran longer than {limits.wall_seconds:g} s. "
                      f"/ 실행 시간 {limits.wall_seconds:g}초를 넘어 중단했습니다."),
        "cpu_time": (f"Stopped: the notebook used more than {limits.cpu_seconds} s of CPU time, all its processes "
                     f"together. / 모든 프로세스의 CPU 시간 합계가 {limits.cpu_seconds}초를 넘어 중단했습니다."),
        "memory": (f"Stopped: the notebook used more than {limits.memory_bytes // mib} MiB of memory (all its "
                   f"processes together, files in /tmp, /dev/shm and the work folder included). "
                   f"/ 메모리 {limits.memory_bytes // mib} MiB를 넘었습니다 (모든 프로세스와 /tmp, /dev/shm, "
                   f"작업 폴더의 파일 포함)."),
        "disk": (f"Stopped: the notebook filled its storage (work folder {limits.disk_bytes // mib} MiB or "
                 f"{limits.max_files} files; /tmp and /dev/shm {limits.tmp_bytes // mib} MiB each; one file at most "
                 f"{limits.file_bytes // mib} MiB). / 저장 공간을 가득 채웠습니다 (작업 폴더 "
                 f"{limits.disk_bytes // mib} MiB 또는 파일 {limits.max_files}개, /tmp·/dev/shm 각 "
                 f"{limits.tmp_bytes // mib} MiB, 파일 하나 최대 {limits.file_bytes // mib} MiB)."),
        "processes": (f"Stopped: the notebook tried to run more than {limits.max_processes} processes or threads "
                      f"at once. / 프로세스·스레드를 동시에 {limits.max_processes}개 넘게 실행하려 했습니다."),
    }.get(limit, "")
