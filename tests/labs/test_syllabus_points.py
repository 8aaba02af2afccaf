"""The syllabus states each lab's points as nbgrader counts them in the source notebook."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

COURSE = Path(__file__).resolve().parents[2] / "courses" / "manufacturing-ai"
SYLLABUS = tomllib.loads((COURSE / "syllabus.toml").read_text())


def _points(notebook: Path) -> tuple[float, float]:
    auto = manual = 0.0
    for cell in json.loads(notebook.read_text())["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade") or not meta.get("points"):
            continue
        if cell["cell_type"] == "code" and not meta.get("task"):
            if meta.get("solution"):
                manual += meta["points"]  # a graded answer cell is graded by hand
            else:
                auto += meta["points"]  # an autograder test cell
        else:
            manual += meta["points"]
    return auto, manual


@pytest.mark.parametrize("spec", SYLLABUS["assignment"], ids=lambda s: s["name"])
def test_syllabus_points_match_the_notebook(spec):
    auto, manual = _points(COURSE / "source" / spec["name"] / f"{spec['name']}.ipynb")
    assert (spec["auto_points"], spec["manual_points"]) == (auto, manual)
    assert spec["points"] == auto + manual
    assert spec["week"] >= 1 and spec["skills"]
