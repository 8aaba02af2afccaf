"""Grading one submission: full marks, hidden tests kept hidden, hostile submissions get nothing."""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from academy.grading.grader import grade_submission
from academy.grading.jobs import GradingJob, GradingResult
from academy.grading.store import ResultStore
from tests.grading.conftest import DUE, SOLUTIONS, WRONG, all_output_text, graded_notebook

HIDDEN_SOURCE = ("assert_allclose(mean_square([3.0, 4.0]), 12.5)", "np.ones(7)", "BEGIN HIDDEN TESTS")


def _scores(course: Path, student: str) -> dict[str, float | None]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "grading-fixture") as gb:
        submission = gb.find_submission_notebook("ps1", "ps1", student)
        return {g.name: g.auto_score for g in submission.grades}


def test_correct_submission_gets_full_marks_and_gradebook_is_updated(grade, make_submission, course):
    result = grade(make_submission(SOLUTIONS), "alice")
    assert result.status == "graded", result.message
    assert (result.auto_score, result.max_auto_score) == (5.0, 5.0)
    assert result.max_total_score == 5.0  # this fixture has no hand-graded answer
    assert {c.grade_id: c.score for c in result.cells} == {"test_squares": 2.0, "test_mean_square": 3.0}
    assert result.integrity == []
    assert _scores(course, "alice") == {"test_squares": 2.0, "test_mean_square": 3.0}
    assert (course / "autograded" / "alice" / "ps1" / "ps1.ipynb").exists()  # formgrader needs it
    json.dumps(result.to_dict())  # plain data all the way down


def test_feedback_shows_scores_but_no_hidden_test_source(grade, make_submission):
    wrong_hidden = {**SOLUTIONS, "mean_square": "def mean_square(x):\n    return 2.5\n"
                    "from IPython.display import HTML\nHTML('<script>alert(2)</script>')\n"}

    def inject(nb: nbformat.NotebookNode) -> None:
        nb.cells.append(nbformat.v4.new_markdown_cell("<script>alert(1)</script><img src=x onerror=alert(3)>"))

    result = grade(make_submission(wrong_hidden, edit=inject), "hana")
    assert result.auto_score == 2.0
    assert "test_mean_square" in result.feedback_html and "squares ok" in result.feedback_html
    for hidden in HIDDEN_SOURCE:
        assert hidden not in result.feedback_html
    assert "<script>alert" not in result.feedback_html and "<img src=x" not in result.feedback_html


def test_wrong_answers_printing_fake_success_get_zero(grade, make_submission):
    fake = {k: v + "print('All tests passed! 5/5 ✓')\n" for k, v in WRONG.items()}
    result = grade(make_submission(fake), "bora")
    assert result.status == "graded"
    assert result.auto_score == 0.0


def test_edited_and_replaced_test_cells_are_restored(grade, make_submission):
    def tamper(nb: nbformat.NotebookNode) -> None:
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade_id") == "test_squares":
                cell.source = "pass  # tests removed"
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="squares ok\n")]
            if meta.get("grade_id") == "test_mean_square":  # strip its identity and empty it
                cell.metadata = {}
                cell.source = "print('ok')"
    result = grade(make_submission(WRONG, edit=tamper), "chul")
    assert [c.score for c in result.cells] == [0.0, 0.0]
    assert result.max_auto_score == 5.0


def test_deleted_test_cell_scores_zero(grade, make_submission):
    def delete(nb: nbformat.NotebookNode) -> None:
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_squares"]
    result = grade(make_submission(WRONG, edit=delete), "dami")
    assert result.auto_score == 0.0


def test_monkeypatched_test_helpers_score_zero_and_are_reported(grade, make_submission):
    patch = ("import numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None\n"
             "numpy.testing.assert_array_equal = lambda *a, **k: None\n")
    result = grade(make_submission({"squares": WRONG["squares"] + patch, "mean_square": WRONG["mean_square"]}), "eun")
    assert result.auto_score == 0.0
    assert any("numpy.testing.assert_array_equal" in item for item in result.integrity)


def test_patches_that_slip_past_the_source_screen_are_caught_at_run_time(grade, make_submission):
    # The assignment target starts at a list, so the source screen does not see a module attribute.
    patch = ("import numpy.testing as nt\n[nt][0].assert_array_equal = print\n"
             "def _quiet(*a, **k):\n    return None\n[np][0].testing.assert_allclose = _quiet\n")
    result = grade(make_submission({**SOLUTIONS, "squares": SOLUTIONS["squares"] + patch}), "gyu")
    assert result.auto_score == 0.0
    assert any("numpy.testing.assert_array_equal replaced" in item for item in result.integrity)


def test_replacing_ipython_traceback_display_is_refused(grade, make_submission):
    patch = ("ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
             "ip._showtraceback = lambda *a, **k: None\n")
    result = grade(make_submission({**WRONG, "squares": WRONG["squares"] + patch}), "hyun")
    assert result.auto_score == 0.0
    assert any("get_ipython" in item for item in result.integrity)


def test_system_exit_and_cleared_outputs_do_not_pass_tests(grade, make_submission, course):
    answers = {
        "squares": "import numpy as np\nfrom IPython.display import clear_output\n"
                   "def squares(n):\n    clear_output()\n    raise SystemExit(0)\n",
        "mean_square": "raise SystemExit('bye')\ndef mean_square(x):\n    return 0.0\n",
    }
    result = grade(make_submission(answers), "inho")
    assert result.status == "graded"
    assert result.auto_score == 0.0


def test_killing_the_kernel_is_an_error_with_zero_points(grade, make_submission, course):
    answers = {**SOLUTIONS, "squares": SOLUTIONS["squares"] + "import os\nos._exit(0)\n"}
    result = grade(make_submission(answers), "jisu")
    assert result.status == "error"
    assert result.auto_score == 0.0
    assert _scores(course, "jisu") == {"test_squares": 0.0, "test_mean_square": 0.0}


def _kernels_dying_at_start(monkeypatch, how_many: int) -> list[int]:
    """Make the first how_many kernels of a job die just after they are started; return the starts seen."""
    from academy.grading.sandbox import SandboxKernelManager

    starts: list[int] = []
    real = SandboxKernelManager._async_launch_kernel

    async def launch(self, kernel_cmd, **kw):
        await real(self, kernel_cmd, **kw)
        starts.append(1)
        if len(starts) <= how_many:
            self.provisioner.process.kill()  # before it can answer kernel_info

    monkeypatch.setattr(SandboxKernelManager, "_async_launch_kernel", launch)
    return starts


def test_a_kernel_that_dies_as_it_starts_is_started_again(grade, make_submission, monkeypatch, caplog):
    """A kernel that died before its first answer (CI saw one once, on a machine's first job) costs the trainee
    nothing: it is started again, and the worker's log says so and shows the end of the kernel's log.

    Checked: fails (status "error") without GuardedExecute.async_start_new_kernel_client's second start.
    """
    starts = _kernels_dying_at_start(monkeypatch, 1)
    with caplog.at_level("WARNING"):
        result = grade(make_submission(SOLUTIONS), "restart-once")
    assert (result.status, result.auto_score) == ("graded", 5.0), result.message
    assert len(starts) == 2
    assert "starting it again, once" in caplog.text


def test_a_kernel_that_dies_at_every_start_is_an_error_after_two_tries(grade, make_submission, monkeypatch,
                                                                       caplog):
    """Only once: a kernel that cannot start is an error, with the kernel's log in the worker's log.

    Checked: fails (starts until the wall limit) when the second start is retried like the first.
    """
    starts = _kernels_dying_at_start(monkeypatch, 99)
    with caplog.at_level("WARNING"):
        result = grade(make_submission(SOLUTIONS), "restart-never")
    assert (result.status, result.auto_score) == ("error", 0.0)
    assert len(starts) == 2
    assert "could not be graded; the end of kernel.log" in caplog.text


def test_the_worker_logs_the_end_of_a_long_kernel_log(tmp_path, caplog):
    """A kernel that wrote megabytes before it died still has the end of its log in the worker's log (where the
    reason is), escaped to one line. (Fails with the whole file read under a cap: "unreadable".)"""
    from academy.grading.grader import LOG_TAIL, _log_tails
    from academy.grading.jobs import GradingJob

    log = tmp_path / "kernel.log"
    log.write_bytes(b"x" * (8 * 1024 * 1024) + b"\nKilled: the reason\n\x1b[31m")
    job = GradingJob(submission_id="s1", course_dir=str(tmp_path), assignment="a", student_id="t", files={})
    with caplog.at_level("WARNING"):
        _log_tails(job, [log])
    line = caplog.records[-1].getMessage()
    assert "Killed: the reason" in line and "\n" not in line and "\x1b" not in line
    assert len(line) < LOG_TAIL + 200


def test_sandbox_cannot_read_gradebook_solutions_other_trainees_or_network(grade, make_submission, course):
    assert grade(make_submission(SOLUTIONS), "kyle").auto_score == 5.0  # another trainee's files now exist
    targets = [course / "gradebook.db", course / "source" / "ps1" / "ps1.ipynb",
               course / "submitted" / "kyle" / "ps1" / "ps1.ipynb",
               course / "autograded" / "kyle" / "ps1" / "ps1.ipynb", Path("/root/.bashrc"),
               Path(__file__), Path("/etc/shadow")]
    probe = (
        "import os, socket\nleaked = []\n"
        f"for p in {[str(t) for t in targets]!r}:\n"
        "    try:\n        open(p, 'rb').read(16)\n        leaked.append(p)\n    except OSError:\n        pass\n"
        "reached = []\n"
        "for addr in [('127.0.0.1', 6379), ('1.1.1.1', 53), ('1.1.1.1', 443)]:\n"
        "    s = socket.socket()\n    s.settimeout(2)\n"
        "    try:\n        s.connect(addr)\n        reached.append(addr)\n    except OSError:\n        pass\n"
        "print('LEAKED', leaked, 'REACHED', reached, 'UID', os.getuid())\n"
    )
    answers = {"squares": WRONG["squares"] + probe, "mean_square": WRONG["mean_square"]}
    result = grade(make_submission(answers), "lina")
    text = all_output_text(graded_notebook(course, "lina"))
    assert "LEAKED [] REACHED []" in text
    assert "UID 0" not in text
    assert result.auto_score == 0.0
    assert _scores(course, "kyle") == {"test_squares": 2.0, "test_mean_square": 3.0}
    with sqlite3.connect(course / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_sandbox_writes_stay_in_the_scratch_copy(grade, make_submission, course):
    before = sorted(p.name for p in course.iterdir())
    attack = ("import os\nfor p in ['/home/trainee/work/../../../evil', '/data/evil', '/usr/evil', '/root/evil']:\n"
              "    try:\n        open(p, 'w').write('x')\n        print('WROTE', p)\n    except OSError:\n        pass\n")
    grade(make_submission({**WRONG, "squares": WRONG["squares"] + attack}), "mina")
    assert "WROTE" not in all_output_text(graded_notebook(course, "mina"))
    assert sorted(p.name for p in course.iterdir()) == before
    assert not Path("/root/evil").exists() and not Path("/usr/evil").exists()


def test_forged_timestamp_is_ignored(grade, make_submission, course):
    received = datetime(2026, 3, 2, 12, 0, 0, tzinfo=timezone.utc)  # one day late
    forged = {"timestamp.txt": b"2020-01-01 00:00:00.000000 UTC"}
    grade(make_submission(SOLUTIONS), "nari", extra_files=forged, submitted_at=received)
    with sqlite3.connect(course / "gradebook.db") as db:
        stamp = db.execute("SELECT timestamp FROM submitted_assignment WHERE student_id='nari'").fetchone()[0]
    assert stamp.startswith("2026-03-02 12:00:00")
    assert received.replace(tzinfo=None) - DUE == (datetime(2026, 3, 2, 12) - datetime(2026, 3, 1, 12))


def test_regrading_a_submission_returns_the_stored_result(grade, make_submission, course, store: ResultStore):
    job = GradingJob(submission_id="once-1", course_dir=str(course), assignment="ps1", student_id="olga",
                     files={"ps1.ipynb": make_submission(SOLUTIONS)})
    first = grade_submission(job, store)
    again = grade_submission(GradingJob(**{**job.__dict__, "files": {"ps1.ipynb": make_submission(WRONG)}}), store)
    assert again == first and again.auto_score == 5.0
    assert isinstance(GradingResult.from_dict(json.loads(store.path("once-1").read_text())), GradingResult)


@pytest.mark.parametrize("name", ["../escape.ipynb", "/abs.ipynb", ".hidden.ipynb"])
def test_unsafe_file_names_are_dropped(grade, make_submission, course, name):
    result = grade(b"{}", "pia", extra_files={name: make_submission(SOLUTIONS)})
    assert result.status == "error"  # ps1.ipynb is not a notebook; the unsafe one was never written
    assert not (course.parent / "escape.ipynb").exists()
