"""Grade every lab of the syllabus as trainees are graded: model answer full marks, blank zero, each realistic
wrong answer less than full, each alternative correct answer full marks; and check the hidden-test rules R1-R4.

Grading goes through the production grader (academy.grading.grader.grade_submission, kernels from a fork server in
the bubblewrap sandbox), two submissions at a time; ACADEMY_LAB_GRADER=nbgrader uses one plain autograde per lab.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

import hidden_rules
import lab_harness as h
from academy.datasets.catalogue import load_catalogue

NAMES = h.assignment_names()
MIN_WRONG = 8
MIN_RIGHT = 2
# Tests wait for their lab's submissions, which queue behind the labs before them: the whole suite on 2 cores.
pytestmark = [pytest.mark.timeout(5400)]


@dataclass
class GradedLab:
    """Everything one lab's grading run produced."""

    name: str
    source: nbformat.NotebookNode
    released: nbformat.NotebookNode
    wrong: dict[str, dict[str, str]]
    right: dict[str, dict[str, str]]
    scores: dict[str, h.Score]


@dataclass
class PendingLab:
    """A lab whose course copy is generated and whose submissions are queued."""

    name: str
    source: nbformat.NotebookNode
    released: nbformat.NotebookNode
    wrong: dict[str, dict[str, str]]
    right: dict[str, dict[str, str]]
    scores: dict[str, Future[h.Score]] | Future[dict[str, h.Score]]

    def result(self) -> GradedLab:
        """Wait for every submission of the lab and return the graded lab."""
        scores = self.scores.result() if isinstance(self.scores, Future) else {
            sid: f.result() for sid, f in self.scores.items()}
        return GradedLab(self.name, self.source, self.released, self.wrong, self.right, scores)


def prepare_lab(name: str, scratch: Path, grader: h.ProductionGrader | None,
                plain: ThreadPoolExecutor) -> PendingLab:
    """Generate the lab in a course copy, build its submissions and queue them for grading."""
    path = h.source_notebook(name)
    if not path.exists():
        raise FileNotFoundError(f"{name}: source notebook {path.relative_to(h.REPO)} does not exist")
    source = nbformat.read(path, as_version=4)
    wrong, right = h.load_variants(name, "WRONG"), h.load_variants(name, "RIGHT")
    env = h.grading_env(scratch)
    course = h.copy_course(scratch)
    released = h.generate(course, name, env)
    subs = h.build_submissions(name, source, released, wrong, right)
    if grader is None:
        scores = plain.submit(h.grade_plain, course, name, subs, env)
    else:
        scores = {sid: grader.submit(course, name, sid, nb) for sid, nb in subs.items()}
    return PendingLab(name, source, released, wrong, right, scores)


@pytest.fixture(scope="session")
def grading_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Queue every selected lab's submissions on the graders; report wall and CPU seconds at the end.

    The CPU figure covers this process and everything under it (generation, workers, fork servers, kernels).
    """
    selected: list[str] = []
    for item in request.session.items:
        name = getattr(item, "callspec", None) and item.callspec.params.get("graded")
        if name and name not in selected:
            selected.append(name)
    grader = h.ProductionGrader() if h.GRADER == "production" else None
    # Generating a lab is a short nbgrader call; one thread does it while the graders work on earlier labs.
    preparer = ThreadPoolExecutor(max_workers=1)
    plain = ThreadPoolExecutor(max_workers=h.WORKERS)
    started, meter = time.perf_counter(), h.TreeCpu(period=0.25)
    runs = {name: preparer.submit(prepare_lab, name, tmp_path_factory.mktemp(name), grader, plain)
            for name in selected}
    yield runs
    preparer.shutdown(wait=True, cancel_futures=True)
    plain.shutdown(wait=True, cancel_futures=True)
    if grader is not None:
        grader.close()
    _report(runs, time.perf_counter() - started, meter.stop(settle=0))


def _report(runs: dict[str, Future[PendingLab]], wall: float, cpu: float) -> None:
    """Write each lab's grading cost to ACADEMY_LAB_REPORT (JSON), if set, and print a line per lab."""
    labs = {}
    for name, run in runs.items():
        if run.exception() is not None:
            continue
        try:
            scores = run.result().result().scores
        except Exception:  # noqa: BLE001 - a lab that failed to grade has nothing to report
            continue
        if h.GRADER != "production":  # one autograde call per lab: no per-submission cost to report
            labs[name] = {"submissions": len(scores), "cpu_seconds": 0.0}
            continue
        labs[name] = {
            "submissions": len(scores),
            "cpu_seconds": round(sum(s.cpu_seconds for s in scores.values()), 1),
            "solution_cpu_seconds": scores["solution"].cpu_seconds,
            "max_cpu_seconds": max(s.cpu_seconds for s in scores.values()),
        }
    # cpu_seconds: the session's process tree, polled (a lower bound: sandboxes killed at the end are not reaped
    # into it); jobs_cpu_seconds: the sum of each job's own measurement (exact while its worker's fork server runs).
    summary = {"grader": h.GRADER, "workers": h.WORKERS, "wall_seconds": round(wall, 1),
               "cpu_seconds": round(cpu, 1), "jobs_cpu_seconds": round(sum(v["cpu_seconds"] for v in labs.values()), 1),
               "labs": labs}
    print("\nlab grading:", json.dumps(summary))
    if os.environ.get("ACADEMY_LAB_REPORT"):
        Path(os.environ["ACADEMY_LAB_REPORT"]).write_text(json.dumps(summary, indent=2))


@pytest.fixture(scope="module", params=NAMES)
def graded(request: pytest.FixtureRequest, grading_runs: dict) -> GradedLab:
    """Return the finished grading run of one lab."""
    name: str = request.param
    if not h.source_notebook(name).exists():
        pytest.fail(f"{name}: source notebook {h.source_notebook(name).relative_to(h.REPO)} does not exist")
    return grading_runs[name].result().result()


@pytest.mark.parametrize("name", NAMES)
def test_syllabus_entry_is_consistent(name: str) -> None:
    """Check the notebook exists, is a valid nbgrader source and its datasets (extra ones too) are catalogued."""
    entry = next(a for a in h.syllabus()["assignment"] if a["name"] == name)
    path = h.source_notebook(name)
    assert path.exists(), f"{path.relative_to(h.REPO)} is missing"
    for dataset in [entry["dataset"], *entry.get("extra_datasets", [])]:
        assert (h.SHARED_DATA / dataset).is_dir(), f"dataset {dataset} is not in shared/datasets"
        assert dataset in load_catalogue(), f"dataset {dataset} is not in the datasets catalogue"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    metas = [h.nbgrader_meta(c) for c in nb.cells]
    ids = [m["grade_id"] for m in metas if "grade_id" in m]
    assert len(ids) == len(set(ids)), f"duplicate grade_id in {name}: {sorted({i for i in ids if ids.count(i) > 1})}"
    assert any(m.get("solution") and not m.get("grade") for m in metas), "no autograded solution cell"
    manual = [
        c for c in nb.cells
        if c.cell_type == "markdown" and (h.nbgrader_meta(c).get("task") or (
            h.nbgrader_meta(c).get("grade") and h.nbgrader_meta(c).get("solution")))
    ]
    assert manual and all(h.nbgrader_meta(c).get("points", 0) > 0 for c in manual), "no manually graded answer"
    assert h.hidden_blocks(nb), f"{name} has no hidden tests"
    assert 'os.environ.get("ACADEMY_DATA_DIR"' in "\n".join(c.source for c in nb.cells), "data dir not from env"


# R9 is newer than most labs: the names each lab's hidden code still reads from its locked cells (constants, data
# paths, the data itself), to be restated or read from the data file. A list may only shrink; labs not named follow R9.
R9_NOT_YET: dict[str, set[str]] = {
    # The subset size follows the kernel's device (a GPU kernel runs the full set); the judge may see another one.
    "lab3_defect_inspection": {"PER_CLASS"},
    "lab5_bearing_vibration": {"signals"},  # the 13 recordings, loaded once by the notebook: too slow to load per test
}


@pytest.mark.parametrize("name", NAMES)
def test_hidden_tests_follow_the_rules(name: str) -> None:
    """Check R1-R4 and R7-R9: one hidden block ending each test cell, nothing later cells need, Korean-first
    literals, no ground truth from a name a trainee's cell can rebind (but the names R9_NOT_YET still lists).

    How R9 was checked: lab 1's hidden tests reading FEATURES (a locked cell's list) were reported, and are not since
    they restate it.
    """
    path = h.source_notebook(name)
    assert path.exists(), f"{path.relative_to(h.REPO)} is missing"
    found = hidden_rules.check_notebook(nbformat.read(path, as_version=4))
    waived = R9_NOT_YET.get(name, set())
    problems = [p for p in found if not (p.rule == "R9" and p.what.split("`")[1] in waived)]
    assert not problems, f"{name} breaks the hidden-test rules:\n" + "\n".join(map(str, problems))
    still_read = {p.what.split("`")[1] for p in found if p.rule == "R9"}
    assert waived <= still_read, f"{name}: R9_NOT_YET lists {sorted(waived - still_read)}, no longer read: drop them"


@pytest.mark.parametrize("name", NAMES)
def test_lab_has_enough_variants(name: str) -> None:
    """Check the lab has at least 8 realistic wrong answers and 2 alternative correct answers."""
    wrong, right = h.load_variants(name, "WRONG"), h.load_variants(name, "RIGHT")
    assert len(wrong) >= MIN_WRONG, f"{name}: {len(wrong)} wrong answers in WRONG, needs at least {MIN_WRONG}"
    assert len(right) >= MIN_RIGHT, f"{name}: {len(right)} alternative correct answers in RIGHT, needs {MIN_RIGHT}"


@pytest.mark.slow
def test_hidden_tests_are_not_released(graded: GradedLab) -> None:
    """Check no hidden-test line reaches the students' copy."""
    assert all(block.strip() for block in h.hidden_blocks(graded.source)), "empty hidden-test block"
    assert h.leaked_hidden_lines(graded.source, graded.released) == []


@pytest.mark.slow
def test_solution_gets_full_automatic_marks(graded: GradedLab) -> None:
    """Check the model answers pass every visible and hidden test."""
    s = graded.scores["solution"]
    assert s.auto_max > 0, f"{graded.name}: solution scored {s.explain()}"
    assert s.auto == pytest.approx(s.auto_max), f"{graded.name}: solution scored {s.explain()}"


@pytest.mark.slow
def test_blank_gets_zero(graded: GradedLab) -> None:
    """Check the untouched released notebook earns no automatic points."""
    s = graded.scores["blank"]
    assert s.status == "graded", f"{graded.name}: blank notebook was not graded: {s.explain()}"
    assert s.auto == 0, f"{graded.name}: blank notebook scored {s.explain()}"


@pytest.mark.slow
def test_wrong_answers_lose_points(graded: GradedLab) -> None:
    """Check every realistic wrong answer scores strictly less than full marks (it may score 0)."""
    full = graded.scores["solution"].auto_max
    results = {label: graded.scores[f"wrong-{h.student_id(label)}"] for label in graded.wrong}
    full_marks = {k: v.explain() for k, v in results.items() if v.auto >= full or v.auto_max != full}
    assert not full_marks, f"{graded.name}: wrong answers that keep full marks: {full_marks}"


@pytest.mark.slow
def test_right_answers_keep_full_marks(graded: GradedLab) -> None:
    """Check every alternative correct answer gets full automatic marks."""
    full = graded.scores["solution"].auto_max
    results = {label: graded.scores[f"right-{h.student_id(label)}"] for label in graded.right}
    lost = {k: v.explain() for k, v in results.items() if v.auto != pytest.approx(full) or v.auto_max != full}
    assert not lost, f"{graded.name}: correct answers that lost points: {lost}"
