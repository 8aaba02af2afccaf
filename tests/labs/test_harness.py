"""The lab harness itself: solution markers, hidden-test leak detection, submission building."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import lab_harness as h


def cell(source: str, grade_id: str, *, solution: bool = False, grade: bool = False, markdown: bool = False):
    """Return a cell with nbgrader metadata."""
    meta = {"nbgrader": {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": not solution,
                         "schema_version": 3, "task": False}}
    make = new_markdown_cell if markdown else new_code_cell
    return make(source, metadata=meta)


SOURCE = new_notebook(cells=[
    cell("import numpy as np", "setup"),
    cell("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION", "answer", solution=True),
    cell("assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(21) == 42\nimport numpy as np\n### END HIDDEN TESTS",
         "tests", grade=True),
    cell("### BEGIN SOLUTION\nBecause.\n### END SOLUTION", "memo", solution=True, grade=True, markdown=True),
])
RELEASED = new_notebook(cells=[
    cell("import numpy as np", "setup"),
    cell("def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()", "answer", solution=True),
    cell("assert f(1) == 2", "tests", grade=True),
    cell("YOUR ANSWER HERE", "memo", solution=True, grade=True, markdown=True),
])


def test_strip_solution_markers_keeps_the_code() -> None:
    """Remove only the marker lines, keeping indentation of the answer."""
    assert h.strip_solution_markers(SOURCE.cells[1].source) == "def f(x):\n    return 2 * x"


def test_hidden_lines_found_only_when_released() -> None:
    """Flag a hidden line that reaches the release, but not one that also appears in public cells."""
    assert h.hidden_blocks(SOURCE) == ["\nassert f(21) == 42\nimport numpy as np\n"]
    assert h.leaked_hidden_lines(SOURCE, RELEASED) == []
    leaky = nbformat.from_dict(RELEASED)
    leaky.cells[2].source += "\nassert f(21) == 42"
    assert h.leaked_hidden_lines(SOURCE, leaky) == ["assert f(21) == 42"]


def test_build_submissions_solution_blank_and_wrong() -> None:
    """Build the solution from the source, keep blank as released, and patch wrong versions onto the solution."""
    subs = h.build_submissions("demo", SOURCE, RELEASED, {"Off by one!": {"answer": "def f(x):\n    return x + 1"}})
    assert list(subs) == ["solution", "blank", "wrong-off-by-one"]
    assert subs["solution"].cells[1].source == "def f(x):\n    return 2 * x"
    assert subs["solution"].cells[3].source == "Because."
    assert subs["blank"].cells[1].source == RELEASED.cells[1].source
    assert subs["wrong-off-by-one"].cells[1].source == "def f(x):\n    return x + 1"
    assert subs["wrong-off-by-one"].cells[3].source == "Because."


def test_wrong_version_may_only_replace_solution_cells() -> None:
    """Refuse a wrong version that edits a test cell, which a student cannot change."""
    with pytest.raises(KeyError, match="non-solution"):
        h.build_submissions("demo", SOURCE, RELEASED, {"cheat": {"tests": "pass"}})
    with pytest.raises(KeyError, match="not in the released"):
        h.with_cells(RELEASED, {"nope": "pass"})


def test_every_syllabus_lab_has_wrong_versions_file() -> None:
    """Load WRONG for each lab whose variants exist, and name the file when one is missing."""
    for name in h.assignment_names():
        if (h.VARIANTS / f"{name}.py").exists():
            assert len(h.load_variants(name)) >= 2, name
    with pytest.raises(FileNotFoundError, match="lab_that_does_not_exist"):
        h.load_variants("lab_that_does_not_exist")
