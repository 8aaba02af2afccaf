"""The source screen: ordinary lab code passes, the tools for faking test results do not."""
from __future__ import annotations

from datetime import datetime, timezone

import nbformat
import pytest

from academy.grading.integrity import screen_notebook, screen_source
from academy.grading.jobs import GradingJob, GradingLimits

CLEAN = [
    "import numpy as np\nimport pandas as pd\nfrom sklearn.ensemble import RandomForestClassifier\n"
    "model = RandomForestClassifier(n_estimators=10)\nmodel.fit([[0], [1]], [0, 1])",
    "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])",
    "%time total = sum(range(10))",
    "%timeit -n 3 -r1 sorted([3, 1, 2])",
    "%%time\nmodel = RandomForestClassifier(n_estimators=10)\nmodel.fit([[0], [1]], [0, 1])",
    "features = %time make_features(df)",
    "import torch\nnet = torch.nn.Linear(2, 1)\nnet.eval()\nfor m in net.modules():\n    pass",
    "df = pd.DataFrame({'a': [1]})\ndf.events = 1\ndf['b'] = df['a'] * 2\nclass A:\n    pass\nA().x = 3",
    "import os\nDATA = os.environ.get('ACADEMY_DATA_DIR', '/data')",
    "from IPython.display import display, HTML, clear_output\ndisplay(HTML('<b>x</b>'))",
    "col = getattr(df, 'columns')\nok = hasattr(model, 'predict_proba')",
    "def field(rec, column):\n    return getattr(rec, column)\nfrom operator import attrgetter\nby = attrgetter('score')",
]
HOSTILE = [
    ("import numpy.testing\nnumpy.testing.assert_allclose = print", "changes numpy.testing.assert_allclose"),
    ("import numpy as np\nnp.testing.assert_array_equal = lambda *a: None", "changes np.testing"),
    ("from numpy import testing as t\nt.assert_allclose = print", "changes t.assert_allclose"),
    ("get_ipython().showtraceback = lambda *a, **k: None", "uses get_ipython"),
    ("import builtins\nbuiltins.AssertionError = Exception", "imports builtins"),
    ("__builtins__.print = None", "uses __builtins__"),
    ("exec('x = 1')", "uses exec"),
    ("import sys\nsys.settrace(None)", "imports sys"),
    ("import ctypes", "imports ctypes"),
    ("import judge\ntarget = judge\ntarget._ToTester = object", "imports judge"),  # the judge's trainee side
    ("from IPython.core.interactiveshell import InteractiveShell", "imports IPython.core"),
    ("f = (lambda: 0).__globals__", "uses .__globals__"),
    ("!cat /etc/passwd", "uses get_ipython"),
    ("%load_ext something", "uses get_ipython"),
    ("import gc\ngc.get_referrers(1)", "imports gc"),
    ("setattr(__import__('numpy').testing, 'assert_allclose', print)", "uses setattr"),
    ("g = getattr(lambda: 0, '__code__')", "uses .__code__"),
    ("import operator\nget = operator.attrgetter('tb_frame')", "uses .tb_frame"),
    # The code a timing magic runs is screened too (found by a review: these passed the screen before).
    ("%time import ctypes, gc", "imports ctypes"),
    ("%timeit -n 1 -r1 import judge", "imports judge"),
    ("%%time\nimport numpy as np\nnp.testing.assert_allclose = print", "changes np.testing"),
    ("%%timeit\nexec('x = 1')", "uses exec"),
    ("%time %time import gc", "nests timing magics"),
]


@pytest.mark.parametrize("source", CLEAN)
def test_ordinary_lab_code_passes(source):
    assert screen_source(source) == []


@pytest.mark.parametrize(("source", "finding"), HOSTILE)
def test_tampering_tools_are_found(source, finding):
    found = screen_source(source)
    assert any(item.startswith(finding) for item in found), found


def test_restored_cells_are_not_screened_but_unmarked_copies_are():
    test_meta = {"nbgrader": {"grade": True, "solution": False, "grade_id": "t1", "points": 1}}
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import sys  # instructor's test", metadata=test_meta),
        nbformat.v4.new_code_cell("import sys  # trainee's cell"),
    ])
    assert screen_notebook(nb, {"t1"}) == ["cell 2: imports sys"]
    assert screen_notebook(nb, set()) == ["cell 1: imports sys", "cell 2: imports sys"]


def test_job_round_trips_through_json_safe_dict():
    job = GradingJob(submission_id="s-1", course_dir="/c", assignment="ps1", student_id="kim",
                     files={"ps1.ipynb": b"\x00\xffdata"}, submitted_at=datetime(2026, 3, 1, tzinfo=timezone.utc),
                     limits=GradingLimits(wall_seconds=5))
    assert GradingJob.from_dict(job.to_dict()) == job


def test_nested_timing_magics_cost_the_worker_little():
    """The worker reads what each earlier cell binds, %time's code included, outside any sandbox: a cell of
    hundreds of nested %%time lines around a large body is read one level deep, and binds nothing (IPython refuses
    a %%time with a statement on its line).

    How checked: reading every level (a review's finding) took about 0.05 s and a copy of the cell per level, so
    300 levels of a 3 MB cell held the worker for tens of seconds and about 1 GB; here it takes a fraction of that.
    """
    from academy.grading.judging import bound_names

    nested = "%%time\n" * 300 + "x = 1\n# " + "a" * 3_000_000 + "\n"
    assert bound_names([nested]) == []
    assert bound_names(["%time a = 1\n", "%%time\nb = 2\n", "%%time c = 3\nd = 4\n"]) == ["a", "b"]
