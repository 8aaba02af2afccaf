"""Grade one submission: nbgrader autograde in a scratch course, the kernel in a fresh sandbox."""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import nbformat
from nbconvert.preprocessors import ClearMetadataPreprocessor
from traitlets.config import Config

from nbgrader.converters import Autograde
from nbgrader.coursedir import CourseDirectory
from nbgrader.nbgraderformat import common as nbgrader_format
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern,
                                    LimitOutput, SaveAutoGrades)
from nbgrader.utils import capture_log

from academy.grading import gradebook_sync as sync
from academy.grading.execute import ExecutionReport, execute_for
from academy.grading.feedback import render_feedback
from academy.grading.forkserver import fork_server_enabled
from academy.grading import untrusted
from academy.grading.integrity import screen_notebook
from academy.grading.jobs import LIMIT_STATUS, CellScore, GradingJob, GradingResult, Limit, Status, limit_message
from academy.grading.judging import Judge
from academy.grading.sandbox import KernelHandle, SandboxSpec, judge_uid, kernel_manager_for, sandbox_uid
from academy.grading.settings import settings
from academy.grading.store import ResultStore, safe_key
from academy.integrations.assignment_source import SourceRefused

MAX_FILES = 200
MAX_SUBMISSION_BYTES = 100 * 1024 * 1024
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024  # a graded notebook, outputs included (outputs are capped lower)
MAX_LOG_BYTES = 4 * 1024 * 1024  # the tail of a kernel log the worker reads for signs of memory trouble
LOG_TAIL = 3000  # characters of a kernel's log put in the worker's log when its job could not be graded
# Files nbgrader reads as metadata: what the trainee sends under these names is dropped.
METADATA_FILES = frozenset({"timestamp.txt"})
log = logging.getLogger(__name__)
MEMORY_SIGNS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")
# A full /tmp or /dev/shm (inside the sandbox) shows only in what the code said.
DISK_SIGNS = ("No space left on device", "File too large", "Disk quota exceeded")


class _CachedSchemaChecks:
    """nbgrader checks each cell's metadata with jsonschema.validate, which first checks nbgrader's own schema
    against the JSON Schema metaschema, on every cell (a quarter of a second per lab 1 submission). This does
    the same check of the cell with one validator per schema, made once."""

    ValidationError = jsonschema.ValidationError

    def __init__(self) -> None:
        self._validators: dict[str, Any] = {}

    def validate(self, instance: Any, schema: dict) -> None:
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            validator = self._validators[key] = jsonschema.validators.validator_for(schema)(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error


nbgrader_format.jsonschema = _CachedSchemaChecks()


class SubmissionRejected(ValueError):
    """The submission cannot be graded as sent (no notebook, bad paths, too large)."""


def scratch_root() -> Path:
    """Return where job folders are made: ACADEMY_GRADING_SCRATCH, never inside a course."""
    path = settings.scratch_dir
    path.mkdir(parents=True, exist_ok=True)
    return path


def grade_submission(job: GradingJob, store: ResultStore | None = None) -> GradingResult:
    """Grade a submission once; a repeated job returns the stored result."""
    store = store or ResultStore()
    with store.claim(job.submission_id):
        existing = store.get(job.submission_id)
        if existing is not None:
            return existing
        try:
            result = _grade(job)
        except Exception as exc:  # a worker-side failure: report it, but let a later try regrade
            log.exception("grading %s failed", job.submission_id)
            return GradingResult(submission_id=job.submission_id, assignment=job.assignment,
                                 student_id=job.student_id, status="error",
                                 message=str(exc) if isinstance(exc, SourceRefused) else
                                 f"The grader failed: {type(exc).__name__}. / 채점기 오류가 발생했습니다.",
                                 graded_at=datetime.now(timezone.utc).isoformat())
        store.put(result)
        return result


def load_course_config(course_dir: Path) -> Config:
    """Return the course's nbgrader config: its settings read as data (never run), root and gradebook ours."""
    from academy.integrations.course_config import course_config

    return course_config(course_dir)


def _write_submission(job: GradingJob, dest: Path) -> dict[str, nbformat.NotebookNode]:
    files = job.submission_files()
    if len(files) > MAX_FILES or sum(len(b) for b in files.values()) > MAX_SUBMISSION_BYTES:
        raise SubmissionRejected("submission too large / 제출물이 너무 큽니다")
    notebooks: dict[str, nbformat.NotebookNode] = {}
    dest.mkdir(parents=True, exist_ok=True)
    for name, blob in files.items():
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts or any(p.startswith(".") for p in rel.parts):
            continue
        if str(rel) in METADATA_FILES:
            continue
        target = dest.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
        if rel.suffix == ".ipynb" and len(rel.parts) == 1:
            try:
                notebooks[rel.stem] = nbformat.reads(blob.decode("utf-8"), as_version=4)
            except Exception as exc:  # an unreadable notebook is graded as missing
                raise SubmissionRejected(f"{name} is not a valid notebook: {exc}") from exc
    if not notebooks:
        raise SubmissionRejected("no notebook in the submission / 제출물에 노트북이 없습니다")
    if job.submitted_at is not None:  # the portal's receipt time, in nbgrader's format
        stamp = job.submitted_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
        (dest / "timestamp.txt").write_text(stamp)
    return notebooks


def _autograde_config(base: Config, course: Path, db_url: str, job: GradingJob,
                      report: ExecutionReport, spec: SandboxSpec, handle: KernelHandle) -> Config:
    config = Config(base)
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.db_url = db_url
    config.CourseDirectory.assignment_id = job.assignment
    config.CourseDirectory.student_id = job.student_id
    config.Execute.timeout = job.limits.cell_timeout_seconds
    config.GuardedExecute.output_bytes = job.limits.output_bytes
    config.Autograde.autograde_preprocessors = [
        execute_for(report, kernel_manager_for(spec, handle)), IgnorePattern,
        ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
    ]
    return config


def _memory_hit(notebooks: dict[str, nbformat.NotebookNode], kernel_log: Path,
                signs: tuple[str, ...] = MEMORY_SIGNS) -> bool:
    """Return whether an error in the notebooks or the kernel's log shows one of signs."""
    for nb in notebooks.values():
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error" and any(
                        sign in f"{out.get('ename')}: {out.get('evalue')}" for sign in signs):
                    return True
    try:  # the log lies in a folder the sandbox could write: a link or a FIFO there is refused, never followed
        log = untrusted.read_file(kernel_log, MAX_LOG_BYTES).decode("utf-8", "replace")[-20000:]
    except OSError:
        return False
    return any(sign in log for sign in signs)


def _prepare_sandbox(folder: Path, submitted: Path, source: Path, ignore: list[str]) -> None:
    """Fill the kernel's own working folder: the files the release gives trainees, then the trainee's own.

    The course's files are taken by the release's own rules (academy.integrations.assignment_source): no
    dotfile, ignored or excluded file reaches the kernel, and a source folder holding a link, FIFO or device
    is refused (SourceRefused, naming it) before nbgrader copies anything from it. It is not the folder
    nbgrader writes the graded notebook to: nothing the trainee's code leaves in it is ever read back.
    """
    import fnmatch

    from academy.integrations.assignment_source import read_source
    from academy.integrations.course_config import read_settings

    course_files = read_source(source, read_settings(source.parent.parent)).files
    theirs: dict[str, bytes] = {}
    for rel, blob in untrusted.collect(submitted, max_total=MAX_SUBMISSION_BYTES).files.items():
        parts = PurePosixPath(rel).parts
        if rel.endswith(".ipynb") or rel in METADATA_FILES or any(fnmatch.fnmatch(p, pat) for p in parts
                                                                      for pat in ignore):
            continue
        theirs[rel] = blob
    untrusted.write_tree(folder, _overlay(theirs, course_files))


def _overlay(theirs: dict[str, bytes], course_files: dict[str, bytes]) -> dict[str, bytes]:
    """Return the trainee's files with the course's added where no path of theirs stands (theirs win)."""
    merged = dict(theirs)
    folders = {PurePosixPath(rel).parents[i].as_posix() for rel in theirs
               for i in range(len(PurePosixPath(rel).parts) - 1)}
    for rel, blob in course_files.items():
        above = [p.as_posix() for p in PurePosixPath(rel).parents][:-1]
        if rel not in merged and rel not in folders and not any(p in merged for p in above):
            merged[rel] = blob
    return merged


def _graded_notebooks(folder: Path) -> dict[str, nbformat.NotebookNode]:
    """Read the notebooks nbgrader wrote (a folder no sandbox sees)."""
    notebooks = {}
    if not folder.is_dir():
        return notebooks
    for path in sorted(folder.glob("*.ipynb")):
        try:
            notebooks[path.stem] = nbformat.reads(untrusted.read_file(path, MAX_NOTEBOOK_BYTES).decode("utf-8"),
                                                  as_version=4)
        except (OSError, ValueError) as exc:
            log.warning("graded notebook %s unreadable: %s", path.name, exc)
    return notebooks


def _grade(job: GradingJob) -> GradingResult:
    started = time.monotonic()
    result = GradingResult(submission_id=job.submission_id, assignment=job.assignment,
                           student_id=job.student_id, status="error")
    course = Path(job.course_dir).resolve()
    base = load_course_config(course)
    course_id = base.CourseDirectory.get("course_id", "") or ""
    main_db = base.CourseDirectory.get("db_url") or f"sqlite:///{course / 'gradebook.db'}"
    # Short names: the kernel's IPC socket paths must stay under the 107-byte Unix limit.
    scratch = Path(tempfile.mkdtemp(prefix=f"{safe_key(job.submission_id)[:12]}-", dir=scratch_root()))
    handle = KernelHandle()  # the job's sandboxes, cgroup and box: closed however the job ends
    try:
        work = scratch / "course"
        (work / "source").mkdir(parents=True)
        # Empty: autograde needs only the gradebook, and root must not copy from a folder a course author can
        # change between our check of it and nbgrader's copy (the kernel's files come from _prepare_sandbox).
        (work / "source" / job.assignment).mkdir()
        db_url = sync.copy_gradebook(course, main_db, scratch / "gradebook.db")
        submitted = work / "submitted" / job.student_id / job.assignment
        try:
            submitted_nbs = _write_submission(job, submitted)
        except SubmissionRejected as exc:
            result.message = str(exc)
            return result
        restored = sync.instructor_cell_ids(db_url, course_id, job.assignment)
        findings = [f"{name}: {item}" for name, nb in submitted_nbs.items()
                    for item in screen_notebook(nb, restored)]
        data_dir = job.data_dir or settings.data_dir
        forked_from = scratch.parent if fork_server_enabled(job.gpu) else None
        ignore = list(base.CourseDirectory.get("ignore", []) or [])
        box = handle.open_box(scratch / "box", job.limits)  # all the sandboxes may write: a sized tmpfs
        _prepare_sandbox(box / "sandbox", submitted, course / "source" / job.assignment, ignore)
        spec = SandboxSpec(work_dir=box / "sandbox", socket_dir=box / "ipc",
                           data_dir=Path(data_dir) if data_dir else None, limits=job.limits, uid=sandbox_uid(),
                           gpu=job.gpu, scratch_root=forked_from)
        judge_spec = SandboxSpec(work_dir=box / "judge", socket_dir=box / "judge-ipc",
                                 data_dir=spec.data_dir, limits=job.limits, uid=judge_uid(), gpu=job.gpu,
                                 scratch_root=forked_from)
        judge = Judge(judge_spec, handle, sync.instructor_tests(db_url, course_id, job.assignment),
                      deadline=started + job.limits.wall_seconds, cell_timeout=job.limits.cell_timeout_seconds,
                      rerun_files=lambda dest: _prepare_sandbox(dest, submitted, course / "source" / job.assignment,
                                                                ignore))
        report = ExecutionReport(judge=judge, snapshot_dir=spec.socket_dir)
        config = _autograde_config(base, work, db_url, job, report, spec, handle)
        app = Autograde(coursedir=CourseDirectory(config=config), config=config)
        app.force = True
        app.create_student = True
        watchdog = threading.Timer(job.limits.wall_seconds, handle.kill)
        watchdog.start()
        try:
            outcome = capture_log(app)
        finally:
            watchdog.cancel()
            timed_out = handle.killed
            handle.kill()  # no sandbox outlives its job
        graded_dir = work / "autograded" / job.student_id / job.assignment
        graded_nbs = _graded_notebooks(graded_dir)
        kernel_log = spec.socket_dir / "kernel.log"
        limit = _limit(handle.limit_hits(), timed_out or report.judge_timed_out, _memory_hit(graded_nbs, kernel_log),
                       _memory_hit(graded_nbs, kernel_log, DISK_SIGNS))
        status = LIMIT_STATUS[limit] if limit else ("graded" if outcome["success"] else "error")
        if status == "error":
            _log_tails(job, [kernel_log, *([forked_from / f"fork-server-{os.getpid()}.log"] if forked_from else [])])
        rows, penalties = sync.read_grades(db_url, course_id, job.assignment, job.student_id)
        tampered = findings + report.violations
        for row in rows:
            if row.is_test and (status != "graded" or tampered or row.auto_score is None):
                row.auto_score = 0.0
            if tampered and row.is_test:
                row.needs_manual_grade = True  # an instructor should look at it
        result.status = status
        result.limit = limit
        result.enforcement = handle.enforcement()
        result.integrity = tampered
        result.cells = [CellScore(r.notebook, r.grade_id, float(r.auto_score or 0.0), r.max_score)
                        for r in rows if r.is_test]
        result.auto_score = sum(c.score for c in result.cells) - sum(penalties.values())
        result.max_auto_score = sum(c.max_score for c in result.cells)
        result.max_total_score = sum(r.max_score for r in rows)
        result.message = _message(status, limit, tampered, report.output_capped, job, outcome)
        result.feedback_html = render_feedback(graded_nbs, result.cells, result.message, report.verdicts)
        # Bring the grades home from the job's copy; on a server gradebook (used in place) this writes back
        # the zeroed tests of a tampered or limit-hit run over the raw scores nbgrader stored there.
        sync.merge_grades(course, main_db, course_id, job.assignment, job.student_id,
                          job.submitted_at, rows, penalties)
        sync.publish_files(course, "submitted", job.student_id, job.assignment, submitted)
        if graded_nbs:  # the graded notebooks made safe to render, and the trainee's files: no source file
            sync.publish_graded(course, job.student_id, job.assignment, graded_nbs, submitted, restored)
        return result
    finally:
        result.duration_seconds = round(time.monotonic() - started, 3)
        result.graded_at = datetime.now(timezone.utc).isoformat()
        handle.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _log_tails(job: GradingJob, logs: list[Path]) -> None:
    """Put the end of the kernel's and the fork server's logs in the worker's log: why a kernel died.

    The kernel's log is the trainee's code's own output: read as untrusted, shown escaped (one log line).
    """
    for path in logs:
        try:
            text = untrusted.read_tail(path, 4 * LOG_TAIL).decode("utf-8", "replace")[-LOG_TAIL:]
        except OSError as exc:  # untrusted.Refused among them
            text = f"(unreadable: {exc})"
        log.warning("submission %s could not be graded; the end of %s: %r", job.submission_id, path.name, text)


def _limit(hits: set[str], timed_out: bool, memory: bool, disk: bool) -> Limit:
    """Name the limit a job ran into: the cause first (memory, storage, processes), then time."""
    if memory or "memory" in hits:
        return "memory"
    if disk or "disk" in hits:
        return "disk"
    if "processes" in hits:
        return "processes"
    if "cpu" in hits:
        return "cpu_time"
    return "wall_time" if timed_out else ""


def _message(status: Status, limit: Limit, tampered: list[str], capped: bool, job: GradingJob, outcome: dict) -> str:
    text = limit_message(limit, job.limits) if limit else {
        "graded": "Graded. / 채점이 끝났습니다.",
        "error": "The notebook could not be graded (the kernel stopped or failed). "
                 "/ 노트북을 채점하지 못했습니다 (커널이 멈추거나 실패했습니다).",
    }[status]
    if tampered:
        text += (" Test results were not trusted: the code changes what the tests rely on; "
                 "an instructor will review it. / 테스트 결과를 신뢰할 수 없어 자동 점수를 주지 않았습니다. "
                 "강사가 검토합니다.")
    if capped:
        text += " Output was cut at the size limit. / 출력이 크기 제한에서 잘렸습니다."
    if status == "error" and outcome.get("error"):
        text += " " + str(outcome["error"]).strip().splitlines()[-1][:300]
    return text
