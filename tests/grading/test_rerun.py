"""A hidden test may run the notebook again on changed data (rerun_notebook, academy/grading/judge.py).

A value looked up from a table computed beforehand from the whole data set passes every test that calls the
trainee's function on a changed frame: the table does not change with the frame. Only running the notebook again
on changed data shows it. ps6 asks for a level that uses only earlier readings; its hidden test changes the
readings from position 120 on, runs the notebook again and requires the first 121 levels to stay put.
"""
from __future__ import annotations

import pytest

from academy.grading.jobs import GradingLimits

pytestmark = pytest.mark.slow

RIGHT = "def level(values):\n    values = pd.Series(values, dtype=float).reset_index(drop=True)\n" \
        "    return values.expanding().mean().shift(1)\n\n\nfeatures = level(readings)\n"
# The mistake: a table of slot means made from every reading, looked up by position. level() never reads the
# values it is given, so changing them moves nothing, and the visible test passes.
TABLE = "SLOT_MEAN = readings.groupby(np.arange(len(readings)) % 10).mean()\n\n\n" \
        "def level(values):\n    return pd.Series(SLOT_MEAN.reindex(np.arange(len(values)) % 10).to_numpy())\n\n\n" \
        "features = level(readings)\n"


def _score(grade_other, answer: str, student: str, **options):
    result = grade_other("ps6", answer, student, **options)
    assert result.status == "graded", result.message
    return result.auto_score, result.max_auto_score


def test_a_right_answer_keeps_its_points_when_run_again(grade_other):
    """The notebook runs again from the top on the test's changed readings and gives the same early levels.

    Regression guard of the rerun itself: with ACADEMY_DATA_DIR left as it was, the readings would not change
    and this would pass for any answer; test_a_table_of_all_the_data_is_caught is the one that needs it.
    """
    assert _score(grade_other, RIGHT, "rerun-right") == (2.0, 2.0)


def test_a_table_of_all_the_data_is_caught(grade_other):
    """A level looked up from a table of all the readings loses the cell.

    How checked: with rerun_notebook left out of the tester's namespace (the hidden check then skips, as in a
    plain kernel) this answer had full marks (2/2).
    """
    assert _score(grade_other, TABLE, "rerun-table") == (0.0, 2.0)


def test_a_notebook_cannot_stand_in_for_the_rerun(grade_other):
    """A notebook that binds rerun_notebook itself (handing back its own unchanged features) is not asked.

    How checked: with the grader's rerun_notebook put in the tester's namespace before the trainee's names,
    this answer had full marks (2/2).
    """
    answer = TABLE + "\n\ndef rerun_notebook(folder, names):\n    return {'features': features}\n"
    assert _score(grade_other, answer, "rerun-stand-in") == (0.0, 2.0)


def test_magics_and_display_run_as_in_the_kernel(grade_other):
    """The rerun runs the code of %time and %%time (the magics the grader lets through that bind names) and
    ignores %matplotlib and display(), so a right answer written with them keeps its points, and a table made
    under %%time is still caught.

    How checked: with get_ipython() doing nothing for every magic, the %time answer lost its points (features
    was never bound in the rerun). It lost them too before the worker counted what %time binds as bound
    (judging._timed_code): the kernel never saved `features` for the hidden lines, in any hidden test, rerun or not.
    """
    right = ("%matplotlib inline\n"
             + RIGHT.replace("features = level(readings)", "%time features = level(readings)")
             + "display(features.head())\n")
    assert _score(grade_other, right, "rerun-magic-right") == (2.0, 2.0)
    table = "%%time\n" + TABLE
    assert _score(grade_other, table, "rerun-magic-table") == (0.0, 2.0)


def test_an_expression_under_time_keeps_its_value(grade_other):
    """`features = %time level(readings)`: IPython's %time gives the expression's value, and so does the rerun.

    How checked: with the rerun's %time running the line as a statement only (None back), this lost its points.
    """
    right = RIGHT.replace("features = level(readings)", "features = %time level(readings)")
    assert _score(grade_other, right, "rerun-time-value") == (2.0, 2.0)


def test_the_rerun_finds_the_files_the_kernel_started_with(grade_other):
    """A notebook that reads a file sent with it (a list of its own) runs again beside that file.

    How checked: with the rerun left in the judge's own folder, the file was missing there, features was never
    bound and the right answer lost its points.
    """
    right = "SKIP = [int(line) for line in open('skip.txt').read().split()]\n\n\n" + RIGHT.replace(
        "features = level(readings)", "features = level(readings).drop(index=SKIP).reindex(range(len(readings)))")
    assert _score(grade_other, right, "rerun-files", files={"skip.txt": b"3\n5\n"}) == (2.0, 2.0)


def test_a_rerun_gets_the_time_its_cells_took(grade_other):
    """The rerun repeats every cell before the test, so the judge gives that cell extra time: three times what
    those cells took in the kernel (the judge runs them on one thread), plus 5 s. Here two cells of 4 s each run
    within a 6 s cell limit in the kernel, and 8 s in the rerun.

    How checked: without that extra time the right answer lost its points (a time limit in the judge).
    """
    right = "import time as _time\n_time.sleep(4)\n" + RIGHT
    limits = GradingLimits(wall_seconds=120, cell_timeout_seconds=6)
    assert _score(grade_other, right, "rerun-slow", limits=limits) == (2.0, 2.0)
