"""Grade every lab of the syllabus with nbgrader: solution full marks, blank zero, wrong versions in between."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

import lab_harness as h
from academy.datasets.catalogue import load_catalogue

NAMES = h.assignment_names()
# One lab's fixture generates it and autogrades five or six notebooks; on a loaded 2-core box that can pass 10 min.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]
# How many labs are graded at the same time (each in its own nbgrader process and course copy).
LAB_WORKERS = int(os.environ.get("ACADEMY_LAB_WORKERS", "2"))


@dataclass
class GradedLab:
    """Everything one lab's grading run produced."""

    name: str
    source: nbformat.NotebookNode
    released: nbformat.NotebookNode
    wrong: dict[str, dict[str, str]]
    scores: dict[str, h.Score]


def grade_lab(name: str, scratch: Path) -> GradedLab:
    """Generate the lab, build its submissions and autograde them all in one nbgrader call."""
    path = h.source_notebook(name)
    if not path.exists():
        raise FileNotFoundError(f"{name}: source notebook {path.relative_to(h.REPO)} does not exist")
    source = nbformat.read(path, as_version=4)
    wrong = h.load_variants(name)
    env = h.grading_env(scratch)
    course = h.copy_course(scratch)
    released = h.generate(course, name, env)
    subs = h.build_submissions(name, source, released, wrong)
    h.write_submissions(course, name, subs)
    h.autograde(course, name, env)
    return GradedLab(name, source, released, wrong, h.read_scores(course, name, list(subs)))


@pytest.fixture(scope="session")
def grading_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Start grading every selected lab in the background, LAB_WORKERS labs at a time."""
    selected: list[str] = []
    for item in request.session.items:
        name = getattr(item, "callspec", None) and item.callspec.params.get("graded")
        if name and name not in selected:
            selected.append(name)
    # Each lab is mostly one single-threaded kernel at a time, so two labs at once keep both CI cores busy.
    pool = ThreadPoolExecutor(max_workers=LAB_WORKERS)
    runs = {name: pool.submit(grade_lab, name, tmp_path_factory.mktemp(name)) for name in selected}
    yield runs
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module", params=NAMES)
def graded(request: pytest.FixtureRequest, grading_runs: dict) -> GradedLab:
    """Return the finished grading run of one lab."""
    name: str = request.param
    if not h.source_notebook(name).exists():
        pytest.fail(f"{name}: source notebook {h.source_notebook(name).relative_to(h.REPO)} does not exist")
    return grading_runs[name].result()


@pytest.mark.parametrize("name", NAMES)
def test_syllabus_entry_is_consistent(name: str) -> None:
    """Check the notebook exists, is a valid nbgrader source and its dataset is in the shared data."""
    entry = next(a for a in h.syllabus()["assignment"] if a["name"] == name)
    path = h.source_notebook(name)
    assert path.exists(), f"{path.relative_to(h.REPO)} is missing"
    assert (h.SHARED_DATA / entry["dataset"]).is_dir(), f"dataset {entry['dataset']} is not in shared/datasets"
    assert entry["dataset"] in load_catalogue(), f"dataset {entry['dataset']} is not in the datasets catalogue"
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
    assert f'os.environ.get("ACADEMY_DATA_DIR"' in "\n".join(c.source for c in nb.cells), "data dir not from env"


def test_hidden_tests_are_not_released(graded: GradedLab) -> None:
    """Check no hidden-test line reaches the students' copy."""
    assert all(block.strip() for block in h.hidden_blocks(graded.source)), "empty hidden-test block"
    assert h.leaked_hidden_lines(graded.source, graded.released) == []


def test_solution_gets_full_automatic_marks(graded: GradedLab) -> None:
    """Check the model answers pass every visible and hidden test."""
    s = graded.scores["solution"]
    assert s.auto_max > 0
    assert s.auto == pytest.approx(s.auto_max), f"{graded.name}: solution scored {s.explain()}"


def test_blank_gets_zero(graded: GradedLab) -> None:
    """Check the untouched released notebook earns no automatic points."""
    s = graded.scores["blank"]
    assert s.auto == 0, f"{graded.name}: blank notebook scored {s.explain()}"


def test_wrong_versions_get_partial_marks(graded: GradedLab) -> None:
    """Check every realistic wrong version loses some but not all automatic points."""
    assert len(graded.wrong) >= 2, f"{graded.name}: needs at least two wrong versions"
    results = {
        label: graded.scores[f"wrong-{h.student_id(label)}"] for label in graded.wrong
    }
    outside = {k: v.explain() for k, v in results.items() if not 0 < v.auto < v.auto_max}
    assert not outside, f"{graded.name}: wrong versions not strictly between 0 and full marks: {outside}"
