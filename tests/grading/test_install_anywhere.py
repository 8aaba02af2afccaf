"""The sandbox starts kernels wherever the project is installed: under /tmp, a home of mode 700, a path with spaces."""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.grading.conftest import SOLUTIONS

REPO = Path(__file__).resolve().parents[2]
MS_BIND, MNT_DETACH = 4096, 2

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not (REPO / ".venv" / "bin" / "python").exists(),
                                reason="placing the installation elsewhere needs root (a bind mount) and the .venv")

# Runs in the relocated installation: grade one right answer through the fork server, one through a
# job's own bwrap sandbox, and say where the code and Python came from.
GRADE = r'''
import json, os, sys
from pathlib import Path
import nbformat
import academy
from academy.grading import forkserver
from academy.grading.grader import grade_submission
from academy.grading.jobs import GradingJob, GradingLimits
from academy.grading.store import ResultStore

course, state, answers = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
nb = nbformat.read(course / "release" / "ps1" / "ps1.ipynb", as_version=4)
for cell in nb.cells:
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    if grade_id in answers:
        cell.source = answers[grade_id]
results = {}
for student, fork in (("relo-forked", "1"), ("relo-own", "0")):
    os.environ["ACADEMY_GRADING_FORK_SERVER"] = fork
    job = GradingJob(submission_id=student, course_dir=str(course), assignment="ps1", student_id=student,
                     files={"ps1.ipynb": nbformat.writes(nb).encode()}, limits=GradingLimits(wall_seconds=90))
    result = grade_submission(job, ResultStore(state))
    results[student] = [result.status, result.auto_score, result.message]
forkserver.stop_all()
print("RESULT " + json.dumps({"results": results, "academy": academy.__file__, "prefix": sys.prefix}))
'''


def _mount(source: str, target: str, flags: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(source.encode(), target.encode(), None, ctypes.c_ulong(flags), None) != 0:
        raise OSError(ctypes.get_errno(), f"mount {target}")


def test_a_project_under_tmp_in_a_private_folder_with_spaces_grades_in_both_sandboxes(course: Path, tmp_path: Path):
    """Both sandbox paths start kernels for an installation (venv included) at /tmp/<700 folder>/my project.

    Checked: fails before the fix (the fork server's per-job tmpfs on /tmp hid a venv that lived under
    /tmp: "Kernel died before replying to kernel_info"), and fails when with_parents() is skipped
    (bwrap creates the missing parents of a mount with mode 700, which the sandbox uid cannot cross).
    The interpreter is started through ".../tests/../.venv/bin/python", as a worker started from a subfolder is.
    """
    home = Path(tempfile.mkdtemp(prefix="academy home ", dir="/tmp"))
    home.chmod(0o700)
    project = home / "my project"
    project.mkdir()
    _mount(str(REPO), str(project), MS_BIND)  # the same files, seen only through a path under /tmp
    try:
        # Started through a path with "..": the sandbox mounts only the installation, not tests/.
        python = project / "tests" / ".." / ".venv" / "bin" / "python"
        env = {**os.environ, "PATH": f"{project / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
               "ACADEMY_GRADING_SCRATCH": str(home / "scratch space"), "ACADEMY_GRADING_PRELOAD": "numpy",
               "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("PYTHONPATH", None)
        done = subprocess.run([str(python), "-c", GRADE, str(course), str(tmp_path / "state"), json.dumps(SOLUTIONS)],
                              cwd=project, env=env, capture_output=True, text=True, timeout=300)
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        assert line is not None, done.stdout[-3000:] + done.stderr[-3000:]
        found = json.loads(line[7:])
        assert found["academy"].startswith(str(project))
        assert os.path.normpath(found["prefix"]) == str(project / ".venv")
        assert found["results"]["relo-forked"][:2] == ["graded", 5.0], found
        assert found["results"]["relo-own"][:2] == ["graded", 5.0], found
    finally:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.umount2(str(project).encode(), MNT_DETACH)
        if not os.path.ismount(project):  # never remove anything through the bind: it is the repository
            shutil.rmtree(home, ignore_errors=True)
