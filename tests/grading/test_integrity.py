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
