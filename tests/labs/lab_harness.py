"""Build submissions for an nbgrader lab, autograde them in one call, and read back the scores.

Used by tests/labs/test_labs.py and bench/bench_labs.py, so both grade the labs exactly the same way.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import nbformat

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

    def explain(self) -> str:
        """Say which cells lost points and why, for assertion messages."""
        return f"{self.auto}/{self.auto_max}; cells that lost points: {self.lost}; errors: {self.errors}"


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


def load_variants(name: str) -> dict[str, dict[str, str]]:
    """Load WRONG from tests/labs/variants/<name>.py."""
    path = VARIANTS / f"{name}.py"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: every lab needs at least two wrong versions")
    spec = importlib.util.spec_from_file_location(f"lab_variants_{name}", path)
    assert spec and spec.loader
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.WRONG)


def student_id(label: str) -> str:
    """Turn a submission label into a safe nbgrader student id."""
    return re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()


def build_submissions(
    name: str, source_nb: nbformat.NotebookNode, released_nb: nbformat.NotebookNode, wrong: dict[str, dict[str, str]]
) -> dict[str, nbformat.NotebookNode]:
    """Return submissions by student id: solution, blank, and one per wrong version."""
    solution = with_cells(released_nb, solution_sources(source_nb))
    subs = {"solution": solution, "blank": nbformat.from_dict(released_nb)}
    for label, replacements in wrong.items():
        solution_ids = set(solution_sources(source_nb))
        not_solution = set(replacements) - solution_ids
        if not_solution:
            raise KeyError(f"wrong version {label!r} of {name} replaces non-solution cells {sorted(not_solution)}")
        subs[f"wrong-{student_id(label)}"] = with_cells(solution, replacements)
    return subs


def write_submissions(course: Path, name: str, subs: dict[str, nbformat.NotebookNode]) -> None:
    """Place each submission where nbgrader autograde looks for it."""
    for sid, nb in subs.items():
        folder = course / "submitted" / sid / name
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{name}.ipynb")


def read_scores(course: Path, name: str, students: list[str]) -> dict[str, Score]:
    """Read each student's automatic score on the assignment's notebook from the gradebook."""
    from nbgrader.api import Gradebook

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
