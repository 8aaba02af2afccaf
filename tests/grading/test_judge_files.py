"""A hidden test never reads a file the trainee's code could have written (academy/grading/judge.py, _guard_files).

Hidden tests take their ground truth from the data folder again, through the notebook's own names (DATA_DIR,
SOURCE). The judge loads the trainee's copy of those names on the trainee's side, where their code runs as it
loads (an object's __reduce__), in the same /tmp as the tester. A copy that plants a file there and binds SOURCE
to it would have the test compare a wrong answer with the trainee's own "data". ps7's hidden test sums the readings
it reads from SOURCE (a stand-in series where no data folder holds them) and compares with the trainee's total.
"""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

RIGHT = "def summary(values):\n    return float(pd.Series(values, dtype=float).sum())\n\n\ntotal = summary(readings)\n"

# A wrong total (0), a file of readings that sum to 0 planted as the copy loads on the judge's trainee side (summary
# refers to the planter, so the copy of summary carries it), and SOURCE bound to that file.
PLANTED = '''
def _plant(text):
    import os
    os.makedirs("/tmp/planted/ps7", exist_ok=True)
    with open("/tmp/planted/ps7/readings.csv", "w") as handle:
        handle.write(text)
    return text


class _Planter:
    def __reduce__(self):
        return (_plant, ("value\\n0\\n",))


_planter = _Planter()


def summary(values):
    _planter
    return float(pd.Series(values, dtype=float).sum())


total = 0.0
SOURCE = pathlib.Path("/tmp/planted/ps7/readings.csv")
'''


def _score(grade_other, answer: str, student: str) -> tuple[float, float]:
    result = grade_other("ps7", answer, student)
    assert result.status == "graded", result.message
    return result.auto_score, result.max_auto_score


def test_a_right_answer_keeps_its_points(grade_other):
    """Regression guard: the hidden test reads what it needs (the stand-in) and passes a right total."""
    assert _score(grade_other, RIGHT, "files-right") == (2.0, 2.0)


def test_data_planted_by_the_copy_is_never_read(grade_other):
    """A wrong total with readings of its own planted in /tmp loses the cell.

    How checked: with _guard_files() left out of the tester, this answer had full marks (2/2).
    """
    assert _score(grade_other, PLANTED, "files-planted") == (0.0, 2.0)



def test_a_path_that_climbs_out_of_a_link_is_refused(grade_other):
    """The same planted readings reached as /tmp/p/lnk/../../../../usr/lib/os-release: read as text the path names a
    read-only file of the system, but open() follows the link first and climbs from where it points, to the planted
    /tmp/usr/lib/os-release. A path with ".." is refused whole.

    How checked: with the ".." refusal left out (the guard then checks the textual path), this answer had 2/2.
    """
    climbing = PLANTED.replace(
        '    os.makedirs("/tmp/planted/ps7", exist_ok=True)\n    with open("/tmp/planted/ps7/readings.csv", "w")',
        '    os.makedirs("/tmp/usr/lib", exist_ok=True)\n    os.makedirs("/tmp/p/a/b/c", exist_ok=True)\n'
        '    if not os.path.islink("/tmp/p/lnk"):\n        os.symlink("/tmp/p/a/b/c", "/tmp/p/lnk")\n'
        '    with open("/tmp/usr/lib/os-release", "w")').replace(
        'SOURCE = pathlib.Path("/tmp/planted/ps7/readings.csv")',
        'SOURCE = pathlib.Path("/tmp/p/lnk/../../../../usr/lib/os-release")')
    assert "/tmp/p/lnk/../" in climbing and "/tmp/usr/lib/os-release" in climbing
    assert _score(grade_other, climbing, "files-climbing") == (0.0, 2.0)
