"""A course's nbgrader_config.py is data to the platform: the worker, the grade sync and the portal's release
read its settings without running it, whatever code is planted in it."""
from __future__ import annotations

import uuid
from pathlib import Path

import nbformat
import pytest

from academy.grading.grader import load_course_config
from academy.grading.manual_sync import SyncState, sync_once
from academy.integrations import nbgrader
from academy.integrations.course_config import (CourseConfigError, course_config, gradebook_url, parse_settings,
                                                read_settings, render_config)

REPO = Path(__file__).resolve().parents[2]
REAL_CONFIG = REPO / "courses" / "manufacturing-ai" / "nbgrader_config.py"

# Each plants code a loader that runs the file would run; {marker} is the file it writes when run.
PLANTED = {
    "a top-level call": "c = get_config()\nopen({marker!r}, 'w').write('ran')\n",
    "code in a setting's value": "c = get_config()\nc.Execute.timeout = len(open({marker!r}, 'w').write('ran') * 'x')\n",
    "code in the gradebook setting": "c = get_config()\nc.CourseDirectory.db_url = open({marker!r}, 'w').write('ran') and ''\n",
    "code in the root setting": "import os\nc = get_config()\nc.CourseDirectory.root = os.system('touch {marker}') or '/'\n",
    "a decorated function": ("c = get_config()\ndef mark(f):\n    open({marker!r}, 'w').write('ran')\n    return f\n"
                             "@mark\ndef anything():\n    pass\n"),
    "an import hook": "c = get_config()\nimport builtins\nbuiltins.__import__('os').system('touch {marker}')\n",
    "a with block": "c = get_config()\nwith open({marker!r}, 'w') as f:\n    f.write('ran')\n",
}


def planted_course(root: Path, payload: str, marker: Path, name: str = "planted") -> Path:
    """A course folder whose nbgrader_config.py holds the payload and an otherwise real lab."""
    course = root / name
    source = course / "source" / "lab_x"
    source.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(payload.format(marker=str(marker)))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, source / "lab_x.ipynb")
    return course


@pytest.mark.parametrize("payload", PLANTED.values(), ids=PLANTED.keys())
def test_the_worker_never_runs_a_course_config(tmp_path, payload):
    """The grading worker (root) loads a course's settings without running its nbgrader_config.py.

    Checked: fails (the marker is written) when load_course_config goes back to traitlets' PyFileConfigLoader.
    """
    marker = tmp_path / "ran-in-worker"
    course = planted_course(tmp_path, payload, marker)
    try:
        config = load_course_config(course)
    except CourseConfigError:
        config = None  # refused: the job fails with the reason, nothing of the file ran
    assert not marker.exists()
    if config is not None:  # ignored lines: the platform's root and gradebook stand
        assert config.CourseDirectory.root == str(course)
        assert config.CourseDirectory.db_url == gradebook_url(course)


@pytest.mark.parametrize("payload", PLANTED.values(), ids=PLANTED.keys())
def test_the_grade_sync_never_runs_a_course_config(tmp_path, payload):
    """The formgrader's grade sync reads the course's id and gradebook without running its config.

    Checked: fails (the marker is written) when manual_sync.course_gradebook goes back to PyFileConfigLoader.
    """
    marker = tmp_path / "ran-in-sync"
    course = planted_course(tmp_path, payload, marker)
    report = sync_once([course], SyncState(tmp_path / "state.json"), "http://127.0.0.1:9", "token")
    assert not marker.exists()
    assert report.stopped is None  # nothing to send (no gradebook), or the course refused as unreadable


@pytest.mark.parametrize("payload", [PLANTED["a top-level call"], PLANTED["code in the gradebook setting"],
                                     PLANTED["an import hook"]], ids=["call", "gradebook", "import"])
def test_the_portals_release_never_runs_a_course_config(app, make, tmp_path, payload):
    """The portal releases an assignment (nbgrader generate_assignment in a subprocess) without running the
    course's nbgrader_config.py: nbgrader gets a config of literals written from the settings read as data.

    Checked: fails (the marker is written) when _build copies the course's nbgrader_config.py as before.
    """
    marker = tmp_path / "ran-in-portal"
    courses = tmp_path / "courses"
    folder = f"planted-{uuid.uuid4().hex[:8]}"  # the release store is per folder: no earlier run's release
    planted_course(courses, payload, marker, name=folder)
    app.config["COURSES_DIR"] = courses
    assignment = make.assignment(make.course(nbgrader_course=folder), name="lab_x")
    try:
        folder = nbgrader.ensure_release(assignment)
    except nbgrader.ReleaseError as exc:
        assert "refused" in str(exc)  # a config that is not data: nothing released, nothing run
    else:
        assert (folder / "lab_x.ipynb").is_file()
    assert not marker.exists()


def test_the_real_course_settings_are_read_as_data(tmp_path, monkeypatch):
    monkeypatch.delenv("ACADEMY_GRADEBOOK_URL", raising=False)
    monkeypatch.setenv("ACADEMY_VAR_DIR", str(tmp_path / "var"))
    config = course_config(REAL_CONFIG.parent)
    assert config.CourseDirectory.course_id == "manufacturing-ai"
    assert config.Execute.timeout == 120 and config.Execute.interrupt_on_timeout is True
    assert config.ClearSolutions.code_stub == {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    assert "*.csv" in config.CourseDirectory.ignore
    # The file computes root and db_url; the platform decides them.
    assert config.CourseDirectory.root == str(REAL_CONFIG.parent)
    legacy = REAL_CONFIG.parent / "gradebook.db"
    expected = legacy if legacy.is_file() else tmp_path / "var" / "gradebooks" / "manufacturing-ai" / "gradebook.db"
    assert config.CourseDirectory.db_url == f"sqlite:///{expected}"


@pytest.mark.parametrize(("line", "why"), [
    ("c.Autograde.autograde_preprocessors = ['evil.Module']", "not a setting a course may choose"),
    ("c.Execute.kernel_manager_class = 'evil.KernelManager'", "not a setting a course may choose"),
    ("c.CourseDirectory.submitted_directory = '../../etc'", "not a setting a course may choose"),
    ("c.IncludeHeaderFooter.header = '/etc/shadow'", "not a setting a course may choose"),
    ("c.Execute.timeout = '120'", "wrong kind"),
    ("c.Execute.timeout = -1", "wrong kind"),
    ("c.CourseDirectory.course_id = '../other'", "wrong kind"),
    ("c.ClearSolutions.code_stub = {'python': 1}", "wrong kind"),
    ("c.Execute.timeout = 60 * 2", "plain value"),
    ("c.Execute.timeout += 1", "AugAssign"),
    ("c.ClearSolutions.code_stub['python'] = 'x'", "Assign"),
    ("x = 1", "Assign"),
    ("for i in range(3): pass", "For"),
])
def test_anything_but_a_chosen_setting_as_a_literal_is_refused_with_its_line(line, why):
    """Paths, class names, hooks and expressions would let a course file steer the root worker."""
    with pytest.raises(CourseConfigError, match=why) as refused:
        parse_settings(f'"""doc"""\nimport os\nc = get_config()\n{line}\n', "courses/x/nbgrader_config.py")
    assert "line 4" in str(refused.value)


def test_oversized_or_unparsable_files_are_refused(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n" + "# pad\n" * 20000)
    with pytest.raises(CourseConfigError, match="larger than"):
        read_settings(tmp_path)
    (tmp_path / "nbgrader_config.py").write_text("c = get_config(\n")
    with pytest.raises(CourseConfigError, match="not readable"):
        read_settings(tmp_path)
    (tmp_path / "nbgrader_config.py").unlink()
    assert read_settings(tmp_path) == {}  # no config: nbgrader's defaults, as before


def test_the_rendered_config_is_literals_only_and_round_trips(tmp_path):
    config = course_config(REAL_CONFIG.parent, db_url="sqlite:///x.db")
    text = render_config(config)
    settings = parse_settings(text)  # what nbgrader will be given passes the same reader
    assert settings[("Execute", "timeout")] == 120
    assert "import" not in text and "os." not in text


def test_the_gradebook_is_the_platforms(tmp_path):
    course = tmp_path / "courses" / "lab-course"
    course.mkdir(parents=True)
    env = {"ACADEMY_VAR_DIR": str(tmp_path / "var")}
    assert gradebook_url(course, env=env) == f"sqlite:///{tmp_path}/var/gradebooks/lab-course/gradebook.db"
    assert gradebook_url(course, "postgresql://gb/{course}", env=env) == "postgresql://gb/lab-course"
    assert gradebook_url(course, env={**env, "ACADEMY_GRADEBOOK_URL": "postgresql://gb/all"}) == "postgresql://gb/all"
    (course / "gradebook.db").touch()  # where earlier versions kept it: still used while it is there
    assert gradebook_url(course, env=env) == f"sqlite:///{course}/gradebook.db"
