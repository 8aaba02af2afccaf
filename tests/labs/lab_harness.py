"""Build submissions for an nbgrader lab, grade them as the production grader does, and read back the scores.

Used by tests/labs/test_labs.py and bench/bench_labs.py, so both grade the labs exactly the same way: each
submission is one GradingJob for academy.grading.grader.grade_submission (kernel forked from the worker's fork
server inside the bubblewrap sandbox, hidden tests wherever the grader runs them), two workers at a time.
ACADEMY_LAB_GRADER=nbgrader grades with one plain `nbgrader autograde` call per lab instead, for comparison.
"""

from __future__ import annotations

import atexit
import importlib.util
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import uuid
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType

import nbformat
from nbgrader.api import Gradebook

REPO = Path(__file__).resolve().parents[2]
COURSE = REPO / "courses" / "manufacturing-ai"
SHARED_DATA = REPO.parent / "shared" / "datasets"
VARIANTS = Path(__file__).resolve().parent / "variants"

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"


@dataclass(frozen=True)
class Score:
    """Automatic score of one graded submission."""

    auto: float
    auto_max: float
    # grade_id -> (points earned, points possible) for every autograded cell that lost points.
    lost: dict[str, tuple[float, float]]
    # grade_id -> "ErrorName: message" for every cell of the graded notebook that raised.
    errors: dict[str, str]
    status: str = "graded"  # the grader's status: graded, time_limit, memory_limit, error
    message: str = ""  # the grader's message to the trainee
    cpu_seconds: float = 0.0  # grader plus sandboxed kernel (and anything else the job started)
    wall_seconds: float = 0.0
    integrity: tuple[str, ...] = field(default=())

    def explain(self) -> str:
        """Say which cells lost points and why, for assertion messages."""
        extra = "" if self.status == "graded" and not self.integrity else (
            f"; status {self.status}: {self.message} {list(self.integrity)}")
        return f"{self.auto}/{self.auto_max}; cells that lost points: {self.lost}; errors: {self.errors}{extra}"


def syllabus() -> dict:
    """Load the course syllabus."""
    with open(COURSE / "syllabus.toml", "rb") as f:
        return tomllib.load(f)


def assignment_names() -> list[str]:
    """Return every assignment name the syllabus lists, in syllabus order."""
    return [a["name"] for a in syllabus()["assignment"]]


def source_notebook(name: str) -> Path:
    """Return the path of an assignment's nbgrader source notebook."""
    return COURSE / "source" / name / f"{name}.ipynb"


def grading_env(scratch: Path) -> dict[str, str]:
    """Return the environment nbgrader and its kernels run with: real data, no writes to $HOME."""
    env = dict(os.environ)
    env.update(
        ACADEMY_DATA_DIR=str(SHARED_DATA.resolve()),
        IPYTHONDIR=str(scratch / "ipython"),
        JUPYTER_CONFIG_DIR=str(scratch / "jupyter_config"),
        JUPYTER_RUNTIME_DIR=str(scratch / "jupyter_runtime"),
        MPLBACKEND="Agg",
        MPLCONFIGDIR=str(scratch / "mpl"),
        PYTHONHASHSEED="0",
        # nbgrader shells out to `alembic`; find it beside the interpreter running the tests.
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    # A gradebook URL meant for a deployment must never leak into a throwaway copy.
    env.pop("ACADEMY_GRADEBOOK_URL", None)
    return env


def run_nbgrader(args: list[str], course: Path, env: dict[str, str], timeout: float) -> None:
    """Run one nbgrader command in a course folder; raise with its log tail when it fails."""
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-4000:]
        raise RuntimeError(f"nbgrader {' '.join(args)} exited {proc.returncode}:\n{tail}")


def copy_course(dest: Path) -> Path:
    """Copy the course folder (without gradebook or generated folders) to dest and return the copy."""
    skip = shutil.ignore_patterns(
        "gradebook.db", "release", "submitted", "autograded", "feedback", ".ipynb_checkpoints", "__pycache__"
    )
    return Path(shutil.copytree(COURSE, dest / "manufacturing-ai", ignore=skip))


def strip_solution_markers(source: str) -> str:
    """Return a solution cell's source with its BEGIN/END SOLUTION marker lines removed."""
    lines = [ln for ln in source.splitlines() if ln.strip() not in (BEGIN_SOLUTION, END_SOLUTION)]
    return "\n".join(lines)


def hidden_blocks(nb: nbformat.NotebookNode) -> list[str]:
    """Return the text of every BEGIN/END HIDDEN TESTS block of a notebook."""
    pattern = re.compile(re.escape(BEGIN_HIDDEN) + r"(.*?)" + re.escape(END_HIDDEN), re.S)
    return [m.group(1) for cell in nb.cells for m in pattern.finditer(cell.source)]


def leaked_hidden_lines(source_nb: nbformat.NotebookNode, released_nb: nbformat.NotebookNode) -> list[str]:
    """Return hidden-test lines of the source that appear in the released notebook."""
    hidden = {ln.strip() for block in hidden_blocks(source_nb) for ln in block.splitlines() if ln.strip()}
    # A line that also appears outside the hidden blocks (e.g. an import) may legitimately be released.
    outside = re.sub(
        re.escape(BEGIN_HIDDEN) + r".*?" + re.escape(END_HIDDEN),
        "",
        "\n".join(c.source for c in source_nb.cells),
        flags=re.S,
    )
    public = {ln.strip() for ln in outside.splitlines()}
    released = {ln.strip() for c in released_nb.cells for ln in c.source.splitlines()}
    return sorted((hidden - public) & released)


def nbgrader_meta(cell: nbformat.NotebookNode) -> dict:
    """Return a cell's nbgrader metadata, or an empty dict."""
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_sources(source_nb: nbformat.NotebookNode) -> dict[str, str]:
    """Map each solution cell's grade_id to the model answer a correct student would write."""
    return {
        nbgrader_meta(c)["grade_id"]: strip_solution_markers(c.source)
        for c in source_nb.cells
        if nbgrader_meta(c).get("solution")
    }


def with_cells(released_nb: nbformat.NotebookNode, sources: dict[str, str]) -> nbformat.NotebookNode:
    """Return a copy of the released notebook whose named cells have the given sources."""
    nb = nbformat.from_dict(released_nb)
    found = set()
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in sources:
            cell.source = sources[grade_id]
            found.add(grade_id)
    missing = set(sources) - found
    if missing:
        raise KeyError(f"cells not in the released notebook: {sorted(missing)}")
    return nb


def load_variants(name: str, kind: str = "WRONG") -> dict[str, dict[str, str]]:
    """Load WRONG (realistic wrong answers) or RIGHT (other correct answers) from tests/labs/variants/<name>.py."""
    if kind not in ("WRONG", "RIGHT"):
        raise ValueError(f"kind must be WRONG or RIGHT, not {kind!r}")
    path = VARIANTS / f"{name}.py"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: every lab needs wrong and alternative right answers")
    spec = importlib.util.spec_from_file_location(f"lab_variants_{name}", path)
    assert spec and spec.loader
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(getattr(module, kind, {}))


def student_id(label: str) -> str:
    """Turn a submission label into a safe nbgrader student id."""
    return re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()


def build_submissions(
    name: str, source_nb: nbformat.NotebookNode, released_nb: nbformat.NotebookNode,
    wrong: dict[str, dict[str, str]], right: dict[str, dict[str, str]] | None = None,
) -> dict[str, nbformat.NotebookNode]:
    """Return submissions by student id: solution, blank, one per wrong answer and one per right answer."""
    solution = with_cells(released_nb, solution_sources(source_nb))
    subs = {"solution": solution, "blank": nbformat.from_dict(released_nb)}
    solution_ids = set(solution_sources(source_nb))
    for prefix, variants in (("wrong", wrong), ("right", right or {})):
        for label, replacements in variants.items():
            not_solution = set(replacements) - solution_ids
            if not_solution:
                raise KeyError(f"{prefix} version {label!r} of {name} replaces non-solution cells "
                               f"{sorted(not_solution)}")
            sid = f"{prefix}-{student_id(label)}"
            if sid in subs:
                raise KeyError(f"{prefix} versions of {name} clash once made ids: {label!r} -> {sid}")
            subs[sid] = with_cells(solution, replacements)
    return subs


def write_submissions(course: Path, name: str, subs: dict[str, nbformat.NotebookNode]) -> None:
    """Place each submission where nbgrader autograde looks for it."""
    for sid, nb in subs.items():
        folder = course / "submitted" / sid / name
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{name}.ipynb")


def read_scores(course: Path, name: str, students: list[str]) -> dict[str, Score]:
    """Read each student's automatic score on the assignment's notebook from the gradebook."""
    scores = {}
    old_path = os.environ.get("PATH", "")
    # Opening a gradebook runs `alembic heads` as a subprocess.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), old_path])
    try:
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            for sid in students:
                nb = gb.find_submission_notebook(name, name, sid)
                lost = {
                    g.name: (float(g.score or 0), float(g.max_score))
                    for g in nb.grades
                    if g.cell.cell_type == "code" and (g.score or 0) < g.max_score
                }
                graded_nb = course / "autograded" / sid / name / f"{name}.ipynb"
                scores[sid] = Score(
                    auto=float(nb.code_score),
                    auto_max=float(nb.max_code_score),
                    lost=lost,
                    errors=cell_errors(nbformat.read(graded_nb, as_version=4)),
                )
    finally:
        os.environ["PATH"] = old_path
    return scores


def cell_errors(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Map the grade_id (or index) of each cell that raised to its error name and message."""
    errors = {}
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                key = nbgrader_meta(cell).get("grade_id", f"cell {i}")
                errors[key] = f"{out.get('ename')}: {str(out.get('evalue'))[:200]}"
    return errors


def generate(course: Path, name: str, env: dict[str, str]) -> nbformat.NotebookNode:
    """Run generate_assignment and return the released notebook."""
    run_nbgrader(["generate_assignment", name, "--force"], course, env, timeout=300)
    return nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)


def autograde(course: Path, name: str, env: dict[str, str], timeout: float = 1200) -> None:
    """Autograde every submitted student of the assignment in one nbgrader process."""
    run_nbgrader(["autograde", name, "--force"], course, env, timeout=timeout)


# ---------------------------------------------------------------------------------------------------------------
# Grading through the production grader: academy.grading.grader.grade_submission, one GradingJob per submission.

# The grader the lab tests and the benchmark use: "production" (the worker's path) or "nbgrader" (plain autograde).
GRADER = os.environ.get("ACADEMY_LAB_GRADER", "production")
# Submissions graded at once, each in its own worker process with its own fork server (CI has 2 cores).
WORKERS = int(os.environ.get("ACADEMY_LAB_WORKERS", "2"))
# The portal sends GradingLimits() (300 s a notebook, 60 s a cell). The lab suite shares its 2 cores with the rest
# of CI, so it doubles the time limits and keeps the memory and process limits the trainees get; bench_labs.py
# checks the CPU seconds, which the load does not change.
LIMIT_SCALE = float(os.environ.get("ACADEMY_LAB_LIMIT_SCALE", "2"))


def needs_gpu(name: str) -> bool:
    """Return the syllabus's gpu flag for a lab (the production queue sends such jobs to a GPU worker)."""
    return any(a["name"] == name and bool(a.get("gpu")) for a in syllabus()["assignment"])


def lab_limits():
    """Return the GradingLimits each lab submission is graded under."""
    from academy.grading.jobs import GradingLimits  # the worker's modules load in each pool process (init_worker)

    base = GradingLimits()
    return GradingLimits(wall_seconds=base.wall_seconds * LIMIT_SCALE,
                         cell_timeout_seconds=int(base.cell_timeout_seconds * LIMIT_SCALE))


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.scandir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task.name}/children") as f:
                found += [int(p) for p in f.read().split()]
    except OSError:
        pass  # the process ended meanwhile
    return found


def _cpu(pid: int, tick: float) -> tuple[float, float] | None:
    """Return (own, reaped children's) CPU seconds of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


class TreeCpu:
    """Measure the CPU seconds a process and all its descendants use while a job runs.

    Sandboxed kernels are grandchildren of the fork server, so getrusage cannot see them. Two counts are kept
    and the larger is returned: the tree's own plus reaped-children times at the end minus at the start (exact
    when every process is reaped inside the tree, as the fork server does), and each process's own time polled
    every `period` (for a bwrap whose namespace init is never reaped into the tree's counters).
    """

    def __init__(self, root: int | None = None, period: float = 0.2) -> None:
        self.root = root or os.getpid()
        self.period = period
        self.tick = float(os.sysconf("SC_CLK_TCK"))
        self.start = self._sample()
        self.seen = {pid: own for pid, (own, _) in self.start.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-cpu", daemon=True)
        self._thread.start()

    def _sample(self) -> dict[int, tuple[float, float]]:
        found, frontier = {}, [self.root]
        while frontier:
            pid = frontier.pop()
            cpu = _cpu(pid, self.tick)
            if cpu is not None:
                found[pid] = cpu
                frontier += _children(pid)
        return found

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            self.seen.update({pid: own for pid, (own, _) in self._sample().items()})

    def stop(self, settle: float = 5.0) -> float:
        """Wait (up to settle s) for the job's processes to end, stop, and return the tree's CPU seconds."""
        deadline = time.monotonic() + settle
        end = self._sample()
        while set(end) - set(self.start) and time.monotonic() < deadline:
            time.sleep(0.05)
            end = self._sample()
        self._stop.set()
        self._thread.join()
        self.seen.update({pid: own for pid, (own, _) in end.items()})
        exact = sum(sum(v) for v in end.values()) - sum(sum(self.start[p]) for p in end if p in self.start)
        polled = sum(own - self.start.get(pid, (0.0, 0.0))[0] for pid, own in self.seen.items())
        return max(exact, polled)


_worker_scratch: Path | None = None


def init_worker() -> None:
    """Set up a grading worker process as the Celery worker is: its own scratch root and a started fork server."""
    global _worker_scratch
    # Started as ../../.venv/bin/python, the sandbox (which binds only the Python installation) cannot exec
    # sys.executable through tests/labs; the same interpreter by its normalised path works.
    sys.executable = os.path.normpath(os.path.abspath(sys.executable))
    # Short path: the kernel's IPC socket paths must stay under the 107-byte Unix limit.
    _worker_scratch = Path(tempfile.mkdtemp(prefix="labw-", dir="/tmp"))
    os.environ.update(
        ACADEMY_DATA_DIR=str(SHARED_DATA.resolve()),
        ACADEMY_GRADING_SCRATCH=str(_worker_scratch / "jobs"),
        ACADEMY_GRADING_DIR=str(_worker_scratch / "state"),
        IPYTHONDIR=str(_worker_scratch / "ipython"),
        JUPYTER_CONFIG_DIR=str(_worker_scratch / "jupyter_config"),
        JUPYTER_RUNTIME_DIR=str(_worker_scratch / "jupyter_runtime"),
        # nbgrader creates gradebooks with `alembic`; find it beside the interpreter.
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    )
    os.environ.pop("ACADEMY_GRADEBOOK_URL", None)  # a deployment's gradebook must never be touched
    atexit.register(_stop_worker)
    # Imported once this process's environment is the worker's (above), as a worker imports them.
    from academy.grading.forkserver import fork_server_enabled, fork_server_for
    from academy.grading.grader import scratch_root

    if fork_server_enabled(gpu=False):
        fork_server_for(scratch_root(), SHARED_DATA.resolve())


def _stop_worker() -> None:
    from academy.grading.forkserver import stop_all  # a pool process's worker modules (init_worker)

    stop_all()
    if _worker_scratch is not None and not os.environ.get("ACADEMY_LAB_KEEP_SCRATCH"):
        shutil.rmtree(_worker_scratch, ignore_errors=True)


def grade_in_worker(course: str, name: str, sid: str, notebook: str, gpu: bool) -> Score:
    """Grade one submission with grade_submission, as a worker does, and return its score and cost."""
    # The worker's modules, imported in the pool process after init_worker set its environment.
    from academy.grading.grader import grade_submission
    from academy.grading.jobs import GradingJob
    from academy.grading.store import ResultStore

    job = GradingJob(submission_id=f"{name[:12]}-{sid[:40]}-{uuid.uuid4().hex[:8]}", course_dir=course,
                     assignment=name, student_id=sid, files={f"{name}.ipynb": notebook.encode()},
                     limits=lab_limits(), data_dir=str(SHARED_DATA.resolve()), gpu=gpu)
    cpu, started = TreeCpu(), time.perf_counter()
    result = grade_submission(job, ResultStore())
    wall, cpu_seconds = time.perf_counter() - started, cpu.stop()
    graded = Path(course) / "autograded" / sid / name / f"{name}.ipynb"
    errors = cell_errors(nbformat.read(graded, as_version=4)) if graded.exists() else {}
    return Score(
        auto=float(result.auto_score), auto_max=float(result.max_auto_score),
        lost={c.grade_id: (c.score, c.max_score) for c in result.cells if c.score < c.max_score},
        errors=errors, status=result.status, message=result.message, cpu_seconds=round(cpu_seconds, 2),
        wall_seconds=round(wall, 2), integrity=tuple(result.integrity),
    )


def _fork_server_preload_cpu() -> float | None:
    from academy.grading.forkserver import _servers  # the pool process's fork servers (init_worker)

    return next((s.preload_cpu_s for s in _servers.values()), None)


class ProductionGrader:
    """A pool of grading worker processes, each with its own fork server, fed one submission at a time."""

    def __init__(self, workers: int = WORKERS) -> None:
        # spawn: the caller (pytest) has threads; a forked copy of it could inherit a held lock.
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=init_worker)

    def submit(self, course: Path, name: str, sid: str, nb: nbformat.NotebookNode) -> Future[Score]:
        """Queue one submission of a lab whose course copy is generated; return its future score."""
        return self.pool.submit(grade_in_worker, str(course), name, sid, nbformat.writes(nb), needs_gpu(name))

    def preload_cpu(self) -> float | None:
        """Return the CPU seconds one worker's fork server spent importing the lab libraries (None: no server)."""
        return self.pool.submit(_fork_server_preload_cpu).result()

    def close(self) -> None:
        """Wait for the queued submissions and stop the workers (and their fork servers)."""
        self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ProductionGrader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def grade_plain(course: Path, name: str, subs: dict[str, nbformat.NotebookNode], env: dict[str, str]) -> dict[
        str, Score]:
    """Grade every submission of a lab in one plain `nbgrader autograde` call (the comparison path)."""
    write_submissions(course, name, subs)
    started = time.perf_counter()
    autograde(course, name, env)
    wall = time.perf_counter() - started
    scores = read_scores(course, name, list(subs))
    return {sid: replace(s, wall_seconds=round(wall / len(subs), 2)) for sid, s in scores.items()}
