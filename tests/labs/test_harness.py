"""The lab harness itself: solution markers, hidden-test leak detection, submission building, the static check of
the hidden-test rules R1-R4, CPU accounting and grading through the production grader."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import hidden_rules
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
    """Build the solution from the source, keep blank as released, and patch wrong and right versions onto it."""
    subs = h.build_submissions("demo", SOURCE, RELEASED, {"Off by one!": {"answer": "def f(x):\n    return x + 1"}},
                               {"sum": {"answer": "def f(x):\n    return x + x"}})
    assert list(subs) == ["solution", "blank", "wrong-off-by-one", "right-sum"]
    assert subs["right-sum"].cells[1].source == "def f(x):\n    return x + x"
    assert subs["right-sum"].cells[3].source == "Because."
    assert subs["solution"].cells[1].source == "def f(x):\n    return 2 * x"
    assert subs["solution"].cells[3].source == "Because."
    assert subs["blank"].cells[1].source == RELEASED.cells[1].source
    assert subs["wrong-off-by-one"].cells[1].source == "def f(x):\n    return x + 1"
    assert subs["wrong-off-by-one"].cells[3].source == "Because."


def test_wrong_version_may_only_replace_solution_cells() -> None:
    """Refuse a wrong version that edits a test cell, which a student cannot change."""
    with pytest.raises(KeyError, match="non-solution"):
        h.build_submissions("demo", SOURCE, RELEASED, {"cheat": {"tests": "pass"}})
    with pytest.raises(KeyError, match="non-solution"):
        h.build_submissions("demo", SOURCE, RELEASED, {}, {"cheat": {"tests": "pass"}})
    with pytest.raises(KeyError, match="clash"):
        h.build_submissions("demo", SOURCE, RELEASED, {"a b": {"answer": "pass"}, "a-b": {"answer": "pass"}})
    with pytest.raises(KeyError, match="not in the released"):
        h.with_cells(RELEASED, {"nope": "pass"})


def test_variants_files_load_wrong_and_right(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Load WRONG and RIGHT (empty when a file has none), and name the file when one is missing."""
    (tmp_path / "demo.py").write_text('WRONG = {"w": {"answer": "pass"}}\n')
    (tmp_path / "both.py").write_text('WRONG = {}\nRIGHT = {"r": {"answer": "pass"}}\n')
    monkeypatch.setattr(h, "VARIANTS", tmp_path)
    assert h.load_variants("demo") == {"w": {"answer": "pass"}}
    assert h.load_variants("demo", "RIGHT") == {}
    assert h.load_variants("both", "RIGHT") == {"r": {"answer": "pass"}}
    with pytest.raises(ValueError):
        h.load_variants("demo", "MAYBE")
    with pytest.raises(FileNotFoundError, match="lab_that_does_not_exist"):
        h.load_variants("lab_that_does_not_exist")


# --- the static check of R1-R4 --------------------------------------------------------------------------------

GOOD_SETUP = "%matplotlib inline\nimport numpy as np\nSEED = 0"
GOOD_ANSWER = "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n\nresult = f(3)"
GOOD_TEST = textwrap.dedent("""\
    assert f(1) == 2, f"f(1) 이 2 가 아닙니다: {f(1)} / f(1) is not 2"
    ### BEGIN HIDDEN TESTS
    probe = np.arange(5) * 0.3
    assert np.allclose(f(probe), probe + probe), "소수 입력에서도 두 배여야 합니다 / double fractional inputs too"
    ### END HIDDEN TESTS
""")
GOOD_LATER = "print(result + SEED)"


def rules_nb(setup: str = GOOD_SETUP, answer: str = GOOD_ANSWER, test: str = GOOD_TEST,
             later: str = GOOD_LATER, *extra) -> nbformat.NotebookNode:
    """Return a source notebook: setup, answer, test cell, a later cell and any extra (source, kind) cells."""
    cells = [cell(setup, "setup"), cell(answer, "answer", solution=True), cell(test, "tests", grade=True),
             cell(later, "later")]
    for i, (source, kind) in enumerate(extra):
        cells.append(cell(source, f"extra{i}", grade=kind == "test", solution=kind == "solution"))
    return new_notebook(cells=cells)


def rules(nb: nbformat.NotebookNode) -> list[str]:
    """Return the broken rules of a notebook as 'R<n> <cell>: <what>' lines."""
    return [str(p) for p in hidden_rules.check_notebook(nb)]


def test_rules_accept_a_notebook_that_follows_them() -> None:
    """Pass a notebook with magics, Korean-first messages, one final hidden block, names from visible code."""
    assert rules(rules_nb()) == []


@pytest.mark.parametrize("test_source, expected", [
    ("assert f(1) == 2, '확인 / check'\n### BEGIN HIDDEN TESTS\nassert f(2) == 4, '확인 / check'\n"
     "### END HIDDEN TESTS\n### BEGIN HIDDEN TESTS\nassert f(3) == 6, '확인 / check'\n### END HIDDEN TESTS",
     "R1 tests: 2 hidden blocks"),
    ("### BEGIN HIDDEN TESTS\nassert f(2) == 4, '확인 / check'\n### END HIDDEN TESTS\nassert f(1) == 2",
     "R1 tests: code after END HIDDEN TESTS"),
    ("assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 4, '확인 / check'", "R1 tests: BEGIN/END"),
    ("### END HIDDEN TESTS\nassert f(1) == 2\n### BEGIN HIDDEN TESTS\n", "R1 tests: BEGIN/END"),
])
def test_rules_catch_misplaced_hidden_blocks(test_source: str, expected: str) -> None:
    """Flag more than one hidden block, visible code after it, and unpaired markers (R1)."""
    assert any(p.startswith(expected) for p in rules(rules_nb(test=test_source))), rules(rules_nb(test=test_source))


def test_rules_catch_hidden_tests_outside_test_cells() -> None:
    """Flag hidden markers in a solution or plain cell, where nbgrader would not strip them as expected (R1)."""
    hidden = "### BEGIN HIDDEN TESTS\nassert SEED == 0, '확인 / check'\n### END HIDDEN TESTS"
    assert "R1 later: hidden tests outside an autograded test cell" in rules(rules_nb(later=hidden))
    answer = GOOD_ANSWER + "\n" + hidden
    assert "R1 answer: hidden tests outside an autograded test cell" in rules(rules_nb(answer=answer))


def test_rules_catch_hidden_code_that_later_cells_need() -> None:
    """Flag a later cell reading what only hidden code defined or rebound: it never runs in the kernel (R2)."""
    defines = GOOD_TEST.replace("probe = ", "expected = ").replace("f(probe), probe + probe",
                                                                   "f(expected), expected + expected")
    found = rules(rules_nb(GOOD_SETUP, GOOD_ANSWER, defines, "print(expected)"))
    assert any(p.startswith("R2 later: reads `expected`") for p in found), found
    rebinds = GOOD_TEST.replace("probe = np.arange(5) * 0.3", "result = f(np.arange(5) * 0.3)\nprobe = 1.0")
    found = rules(rules_nb(later=GOOD_LATER, test=rebinds))
    assert any(p.startswith("R2 later: reads `result`") for p in found), found
    # Read from inside a function defined later: still a read of the notebook's name.
    found = rules(rules_nb(GOOD_SETUP, GOOD_ANSWER, defines, "def g():\n    return expected\n"))
    assert any(p.startswith("R2 later: reads `expected`") for p in found), found
    # A later cell that binds the name itself first is fine.
    assert rules(rules_nb(GOOD_SETUP, GOOD_ANSWER, defines, "expected = 1\nprint(expected)")) == []


def test_rules_catch_hidden_reads_of_names_the_notebook_lacks() -> None:
    """Flag hidden code reading a name no visible code defined before it, incl. one an earlier hidden block made (R3)."""
    reads_missing = GOOD_TEST.replace("f(probe), probe + probe", "f(probe), expected_values")
    assert "R3 tests: hidden code reads `expected_values`, which the notebook does not define at that point" in rules(
        rules_nb(test=reads_missing))
    first = GOOD_TEST.replace("probe = ", "table = ").replace("f(probe), probe + probe", "f(table), table * 2")
    second = "assert SEED == 0, '확인 / check'\n### BEGIN HIDDEN TESTS\nassert len(table) == 5, '표 / table'\n" \
             "### END HIDDEN TESTS"
    found = rules(rules_nb(GOOD_SETUP, GOOD_ANSWER, first, GOOD_LATER, (second, "test")))
    assert any(p.startswith("R3 extra0: hidden code reads `table`") for p in found), found
    # Names the answer cell, the setup and the kernel itself provide are fine for R3 (SEED is R9's, below).
    uses = GOOD_TEST.replace("f(probe), probe + probe", "f(SEED + result), 2 * (SEED + result)) and (len(In) >= 0")
    assert [p for p in rules(rules_nb(test=uses)) if not p.startswith("R9")] == []


def test_rules_catch_hidden_ground_truth_from_names_a_locked_cell_gives() -> None:
    """Hidden code must not trust a name a locked cell binds from constants (a trainee's cell can rebind SEED, a
    path or the data), nor one built by a comprehension from them; restated as _NAME it may (R9). A name computed
    by the trainee's own function in a locked cell is theirs to be judged, not ground truth.

    How checked: with the comprehension's own names counted as reads (as at first), GRID was not reported.
    """
    reads_seed = GOOD_TEST.replace("f(probe), probe + probe", "f(probe + SEED), 2 * (probe + SEED)")
    assert "R9 tests: hidden code reads `SEED`" in " ".join(rules(rules_nb(test=reads_seed)))
    restated = reads_seed.replace("probe = np.arange", "_SEED = 0\nprobe = np.arange").replace("+ SEED", "+ _SEED")
    assert rules(rules_nb(test=restated)) == []
    setup = GOOD_SETUP + "\nGRID = [k / 10 for k in range(10)]\nOUT = f(3) if False else 0"
    reads_grid = GOOD_TEST.replace("f(probe), probe + probe", "f(np.asarray(GRID)), 2 * np.asarray(GRID)")
    assert "R9 tests: hidden code reads `GRID`" in " ".join(rules(rules_nb(setup=setup, test=reads_grid)))
    reads_out = GOOD_TEST.replace("f(probe), probe + probe", "f(probe + OUT), 2 * (probe + OUT)")
    assert rules(rules_nb(setup=setup, test=reads_out)) == []


def test_rules_let_hidden_code_read_rerun_notebook_only_behind_its_guard() -> None:
    """The judge gives a test cell rerun_notebook; hidden code may read it only under `if "rerun_notebook" in
    globals():`, so that the cell still runs in a plain kernel, where the name does not exist (R8)."""
    call = "again = rerun_notebook('/tmp/x', ['result']).get('result')\n"
    guarded = GOOD_TEST.replace("### END HIDDEN TESTS", 'if "rerun_notebook" in globals():\n    ' + call
                                + "### END HIDDEN TESTS")
    assert rules(rules_nb(test=guarded)) == []
    bare = GOOD_TEST.replace("### END HIDDEN TESTS", call + "### END HIDDEN TESTS")
    found = rules(rules_nb(test=bare))
    assert any(p.startswith("R8 tests: hidden code reads `rerun_notebook`") for p in found), found


@pytest.mark.parametrize("message, why", [
    ("", "has no message"),
    (', f"소수 입력 {probe} / fractions"', "one plain string literal"),
    (', "소수 입력 / fractions " + str(probe)', "one plain string literal"),
    (', "소수 입력 / fractions {}".format(probe)', "one plain string literal"),
    (', "double fractional inputs too"', "is not '<Korean> / <English>'"),
    (', "double fractional inputs / 소수 입력"', "is not '<Korean> / <English>'"),
    (', "소수 입력에서도 두 배여야 합니다"', "is not '<Korean> / <English>'"),
])
def test_rules_catch_hidden_messages_that_are_not_korean_literals(message: str, why: str) -> None:
    """Flag a hidden assert without a literal '<Korean> / <English>' message: that literal is all trainees see (R4)."""
    test = GOOD_TEST.replace(', "소수 입력에서도 두 배여야 합니다 / double fractional inputs too"', message)
    found = rules(rules_nb(test=test))
    assert any(p.startswith("R4 tests: hidden assert on line 2") and why in p for p in found), found


def test_rules_catch_hidden_raise_with_values_and_english_visible_messages() -> None:
    """Flag a hidden raise whose message carries values, and visible messages that are not Korean first (R4)."""
    raising = GOOD_TEST.replace("### END HIDDEN TESTS",
                                "if f(2) != 4:\n    raise AssertionError(f'got {f(2)}')\n### END HIDDEN TESTS")
    assert any(p.startswith("R4 tests: hidden raise") for p in rules(rules_nb(test=raising)))
    for visible in ('"f(1) is not 2"', 'f"f(1) is not 2: {f(1)}"', "f(1)", '"f(1) is not 2 / f(1) 확인"'):
        test = GOOD_TEST.replace('f"f(1) 이 2 가 아닙니다: {f(1)} / f(1) is not 2"', visible)
        found = rules(rules_nb(test=test))
        assert any(p.startswith("R4 tests: visible assert on line 1") for p in found), (visible, found)
    # A visible message may show values when it is Korean first.
    assert rules(rules_nb(test=GOOD_TEST)) == []


def test_rules_catch_tests_that_read_a_functions_code_or_globals() -> None:
    """Flag a test cell reading .__globals__ or .__code__ of a function: the judge refuses both (R7).

    How checked: with the R7 call removed from check_notebook this test fails (no R7 line; R1-R4 see nothing).
    """
    test = GOOD_TEST.replace("### END HIDDEN TESTS", 'f.__globals__["SEED"] = 1\n### END HIDDEN TESTS')
    assert any(p.startswith("R7 tests: reads `.__globals__`") for p in rules(rules_nb(test=test))), rules(rules_nb(test=test))
    assert rules(rules_nb()) == []


def test_rules_report_a_cell_that_does_not_parse() -> None:
    """Report a syntax error instead of crashing on it."""
    assert any(p.startswith("R1 later: does not parse") for p in rules(rules_nb(later="def (:")))


# --- CPU accounting and the production grader ---------------------------------------------------------------

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass\n"


def test_tree_cpu_counts_work_under_a_long_lived_child() -> None:
    """Count CPU a grandchild burns under a child that outlives the job, as kernels under the fork server do.

    Checked: fails when the tree walk is replaced by the root process's own and reaped-children times.
    """
    server = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys\n"
        "sys.stdin.readline()\n"
        f"subprocess.run([sys.executable, '-c', {BURN.format(s=0.8)!r}])\n"
        "print('done', flush=True)\n"
        "sys.stdin.read()\n")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        meter = h.TreeCpu(period=0.05)
        server.stdin.write("go\n")
        server.stdin.flush()
        assert server.stdout.readline().strip() == "done"
        used = meter.stop(settle=0.5)
    finally:
        server.stdin.close()
        server.wait(10)
    assert 0.7 <= used < 3.0, used


@pytest.fixture(scope="module")
def tiny_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a copy of the grading tests' tiny course with ps1 generated."""
    course = Path(shutil.copytree(h.REPO / "tests" / "grading" / "fixtures" / "course",
                                  tmp_path_factory.mktemp("tiny") / "course"))
    scratch = tmp_path_factory.mktemp("tiny-env")
    h.run_nbgrader(["generate_assignment", "ps1", "--force"], course, h.grading_env(scratch), timeout=300)
    return course


@pytest.mark.slow
def test_production_grader_scores_through_grade_submission(tiny_course: Path) -> None:
    """Grade a right, a half-wrong and a crashing submission in two worker processes; read cells and errors."""
    released = nbformat.read(tiny_course / "release" / "ps1" / "ps1.ipynb", as_version=4)
    source = nbformat.read(tiny_course / "source" / "ps1" / "ps1.ipynb", as_version=4)
    subs = h.build_submissions("ps1", source, released, {
        "wrong mean": {"mean_square": "def mean_square(x):\n    return float(np.mean(x)) ** 2"},
    })
    with h.ProductionGrader(workers=2) as grader:
        futures = {sid: grader.submit(tiny_course, "ps1", sid, nb) for sid, nb in subs.items()}
        scores = {sid: f.result(timeout=600) for sid, f in futures.items()}
    assert (scores["solution"].auto, scores["solution"].auto_max) == (5, 5), scores["solution"].explain()
    assert scores["solution"].status == "graded" and scores["solution"].cpu_seconds > 0
    assert scores["blank"].auto == 0 and "NotImplementedError" in scores["blank"].errors.get("test_squares", "")
    wrong = scores["wrong-wrong-mean"]
    assert (wrong.auto, set(wrong.lost)) == (2, {"test_mean_square"}), wrong.explain()
    # The worker published each graded notebook into the course, as the portal's formgrader reads it.
    assert (tiny_course / "autograded" / "wrong-wrong-mean" / "ps1" / "ps1.ipynb").exists()
