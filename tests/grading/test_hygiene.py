"""What the grading path takes from a course folder and what it puts back: attack tests, one per attack.

Each test is named for what it attacks; "Checked" in a docstring says which protection was removed to see it fail.
A course here is a copy of the fixture course (ps1 generated, a gradebook beside it) with files of the attack's
choosing in source/ps1, graded by the real worker (grade_submission) or released by the portal's release store.
"""
from __future__ import annotations

import ast
import io
import itertools
import os
import shutil
import stat
import tarfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter
from nbgrader import preprocessors
from nbgrader.server_extensions.formgrader import handlers

from academy.courses.services import set_due_date
from academy.extensions import db
from academy.grading import judging
from academy.grading.grader import grade_submission
from academy.grading.jobs import GradingJob, GradingLimits
from academy.grading.safe_display import for_instructors
from academy.grading.store import ResultStore
from academy.integrations import nbgrader as releases
from academy.integrations.course_config import MARKERS, CourseConfigError, course_config
from tests.grading.conftest import SOLUTIONS, all_output_text
from tests.submissions.test_api import _token

SECRET = b"SECRET-ANSWER-KEY-7731"
# source/ps1 besides the notebook: what trainees receive, and what they never do (and why).
COURSE_FILES = {
    "data/values.csv": b"x\n1\n",
    "notes.txt": b"read me\n",
    ".answers.json": SECRET,  # dotfiles
    ".private/answers.txt": SECRET,
    "data/.key.txt": SECRET,
    "scratch.bak": SECRET,  # the course's ignore
    "model.pkl": SECRET,  # outside the course's include
    "big.txt": SECRET * 100,  # over the course's max_file_size (1 kB)
    "__pycache__/x.pyc": SECRET,  # nbgrader's default ignore
    "feedback/old.html": SECRET,
}
RELEASED = {"data/values.csv", "notes.txt"}
SELECTION = '''
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.bak"]
c.CourseDirectory.include = ["*.ipynb", "*.csv", "*.txt", "*.json"]
c.CourseDirectory.max_file_size = 1
'''
LIST_FILES = (
    "import os\n"
    "found = sorted(os.path.relpath(os.path.join(d, f)) for d, _, fs in os.walk('.') for f in fs)\n"
    "print('FILES', found)\n"
    "for p in found:\n"
    "    print(p, open(p, 'rb').read()[:300])\n"
)
_ids = itertools.count()


def _course_copy(course: Path, dest: Path, files: dict[str, bytes] | None = None, config: str = "") -> Path:
    """Return a copy of the fixture course at dest, with files added to source/ps1 and lines to its config."""
    shutil.copytree(course, dest, ignore=shutil.ignore_patterns("autograded", "submitted", "release"))
    for rel, blob in (files or {}).items():
        path = dest / "source" / "ps1" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    with (dest / "nbgrader_config.py").open("a") as handle:
        handle.write(config)
    return dest


def _grade(course: Path, store: ResultStore, student: str, notebook: bytes, extra: dict[str, bytes] | None = None):
    job = GradingJob(submission_id=f"{student}-{next(_ids)}", course_dir=str(course), assignment="ps1",
                     student_id=student, files={"ps1.ipynb": notebook, **(extra or {})},
                     limits=GradingLimits(wall_seconds=60, cell_timeout_seconds=30))
    return grade_submission(job, store)


def _append(*cells: nbformat.NotebookNode):
    def edit(nb: nbformat.NotebookNode) -> None:
        nb.cells.extend(cells)

    return edit


def _everything_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _environment_in(folder: Path) -> list[bytes]:
    """Return the entries of this process's environment (as /proc/self/environ holds it) found under folder."""
    held = _everything_under(folder)
    return [entry for entry in Path("/proc/self/environ").read_bytes().split(b"\0") if len(entry) > 12 and entry in held]


# ---------------------------------------------------------------- F8: files trainees never received


@pytest.fixture(scope="module")
def selected_course(course: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _course_copy(course, tmp_path_factory.mktemp("hygiene") / "hygiene-course", COURSE_FILES, SELECTION)


@pytest.fixture(scope="module")
def lister(selected_course: Path, release_nb: nbformat.NotebookNode, tmp_path_factory: pytest.TempPathFactory):
    """Grade once: a right answer, a file of the trainee's own, and a cell that prints every file it can see."""
    nb = nbformat.from_dict(release_nb)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in SOLUTIONS:
            cell.source = SOLUTIONS[cell.metadata["nbgrader"]["grade_id"]]
    nb.cells.append(nbformat.v4.new_code_cell(LIST_FILES))
    store = ResultStore(tmp_path_factory.mktemp("state"))
    result = _grade(selected_course, store, "lister", nbformat.writes(nb).encode(), {"mine.txt": b"my notes"})
    return result


def test_kernel_sees_only_the_files_the_release_gives_trainees(lister, selected_course):
    """A trainee's cell lists and prints every file in its working folder: it finds the released files and
    its own, never an instructor's dotfile, an ignored, excluded or oversized file.

    Checked: fails with _prepare_sandbox copying all of source/ps1 but notebooks and ignore patterns (the
    old code): .answers.json, model.pkl and big.txt were printed with the secret.
    """
    assert lister.status == "graded", lister.message
    published = nbformat.read(selected_course / "autograded" / "lister" / "ps1" / "ps1.ipynb", as_version=4)
    text = all_output_text(published)
    listed = ast.literal_eval(next(line for line in text.splitlines() if line.startswith("FILES "))[6:])
    assert RELEASED | {"mine.txt"} <= set(listed), listed
    assert not set(listed) & (set(COURSE_FILES) - RELEASED), listed
    assert SECRET.decode() not in text + lister.feedback_html


def test_course_folder_gets_no_source_file_through_the_autograded_folder(lister, selected_course):
    """nbgrader's autograde copies the assignment's source files into its output folder: the worker publishes
    only the graded notebook and the trainee's own files into courses/<course>/autograded.

    Checked: fails with the worker publishing nbgrader's whole autograded folder (the old publish_files call):
    data/values.csv, notes.txt and .answers.json (the secret) were in the course folder.
    """
    published = selected_course / "autograded" / "lister" / "ps1"
    assert sorted(p.relative_to(published).as_posix() for p in published.rglob("*") if p.is_file()) == \
        ["mine.txt", "ps1.ipynb"]
    assert SECRET not in _everything_under(selected_course / "autograded")


def _released_assignment(app, make, course_folder: Path):
    """Return a portal assignment on course_folder's ps1, released to a cohort, with its trainee and teacher."""
    app.config["COURSES_DIR"] = course_folder.parent
    cohort = make.cohort()
    teacher = make.user("instructor")
    course = make.course(cohorts=[cohort], instructors=[teacher], nbgrader_course=course_folder.name)
    assignment = make.assignment(course, name="ps1")
    set_due_date(assignment, cohort, datetime.now(UTC) + timedelta(days=3),
                 released_at=datetime.now(UTC) - timedelta(hours=1))
    trainee = make.enrolled_student(cohort)
    db.session.commit()
    return assignment, trainee, teacher, cohort


@pytest.fixture()
def own_var(tmp_path, monkeypatch):
    monkeypatch.setenv("ACADEMY_VAR_DIR", str(tmp_path / "var"))
    return tmp_path / "var"


def test_release_gives_trainees_the_files_the_kernel_gets(app, make, own_var, course, tmp_path):
    """The release store and the worker select a source folder's files by one rule: the released archive holds
    the notebook and exactly the files the kernel test above finds, none of the others.

    Checked: fails with the release's old copytree (dotfiles and *.pyc skipped, include and max_file_size not
    applied): model.pkl and big.txt were released.
    """
    folder = _course_copy(course, tmp_path / "courses" / "hygiene-course", COURSE_FILES, SELECTION)
    assignment, *_ = _released_assignment(app, make, folder)
    released = releases.ensure_release(assignment)
    names = {p.relative_to(released).as_posix() for p in released.rglob("*") if p.is_file()}
    assert names == RELEASED | {"ps1.ipynb"}


# ---------------------------------------------------------------- F10: stored script in the instructor's formgrader

MARK = "pwn"
HOSTILE_OUTPUTS = f'''
from IPython.display import display, HTML, SVG, Javascript, Image, Markdown
import base64
display(HTML("<script>window.{MARK}1 = 1</script><b onmouseover='{MARK}2()'>bold</b>"))
display(SVG('<svg xmlns="http://www.w3.org/2000/svg" onload="{MARK}3()"><rect width="1" height="1"/></svg>'))
display(Javascript("{MARK}4()"))
display(Markdown("<img src=x onerror={MARK}5()>"))
display({{"text/plain": "plain {MARK}6", "text/html": "<iframe src=javascript:{MARK}7()>"}}, raw=True)
png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
display(Image(data=png, width="1 onerror={MARK}8()"))
display({{"image/png": 'x"><script>{MARK}9()</script>'}}, raw=True)
'''
HOSTILE_MARKDOWN = (f"# heading\n<img src=x onerror=\"{MARK}10()\"> [link](javascript:{MARK}11()) "
                    f"$\\href{{javascript:{MARK}12()}}{{x}}$\n\n````\n```\n<script>{MARK}13()</script>\n")


def _formgrade_html(nb: nbformat.NotebookNode) -> str:
    """Render a notebook as nbgrader's formgrader does (its extension's HTMLExporter settings and resources)."""
    exporter = HTMLExporter(template_name="formgrade", extra_template_basedirs=[handlers.template_path])
    resources = {"assignment_id": "ps1", "notebook_id": "ps1", "submission_id": "s", "index": 0, "total": 1,
                 "base_url": "/services/formgrade", "student": "kim", "last_name": "", "first_name": "",
                 "notebook_path": "autograded/kim/ps1/ps1.ipynb"}
    return exporter.from_notebook_node(nb, resources=resources)[0]


def _markup_with(page: str, mark: str = MARK, text_outside_pre: bool = False) -> list[str]:
    """Return every place where text holding mark is markup: an attribute, a script or style, or text outside
    <pre>/<code> (where a browser or MathJax could act on it). text_outside_pre: allow such text, for a page
    that runs no script at all (the feedback page renders the trainee's Markdown, with its HTML escaped)."""
    soup = BeautifulSoup(page, "html.parser")
    found = []
    for tag in soup.find_all(True):
        for name, value in tag.attrs.items():
            if mark in (" ".join(value) if isinstance(value, list) else str(value)):
                found.append(f"<{tag.name} {name}={value!r}>")
        if tag.name in ("script", "style") and mark in tag.get_text():
            found.append(f"<{tag.name}>{tag.get_text()[:80]}")
    for text in soup.find_all(string=True):
        if text_outside_pre:
            break
        if mark in text and not any(p.name in ("pre", "code", "script", "style") for p in text.parents):
            found.append(f"text outside <pre>: {text[:80]!r}")
    return found


def test_trainee_markup_never_runs_in_the_formgrader_or_the_feedback(grade, make_submission, course):
    """A submission whose kernel displays <script> in HTML, an SVG with onload, JavaScript, Markdown and an
    image whose width carries a handler, with a Markdown cell of <img onerror>, a javascript: link and MathJax's
    \\href, and a raw cell with a script: the published notebook, rendered as nbgrader's formgrader renders it,
    and the feedback page hold none of it as markup; the trainee's text still shows, as text.

    Checked: fails with publish_graded writing nbgrader's notebook unchanged (scripts, onload, onerror and the
    javascript: link were markup in the formgrader page), and with the feedback keeping output metadata
    (the image's width became an onerror handler on the feedback page).
    """
    raw = nbformat.v4.new_raw_cell(f"<script>{MARK}14()</script>")
    edit = _append(nbformat.v4.new_code_cell(HOSTILE_OUTPUTS), nbformat.v4.new_markdown_cell(HOSTILE_MARKDOWN), raw)
    result = grade(make_submission(SOLUTIONS, edit=edit), "marker")
    assert result.status == "graded" and result.auto_score == 5.0, result.message
    published = nbformat.read(course / "autograded" / "marker" / "ps1" / "ps1.ipynb", as_version=4)
    page = _formgrade_html(published)
    assert _markup_with(page) == []
    # The feedback page renders Markdown (the trainee's text outside <pre>) but is served script-free in a
    # sandbox (submissions/views.py FEEDBACK_CSP): no MathJax to act on it, and no tag or attribute of theirs.
    assert _markup_with(result.feedback_html, text_outside_pre=True) == []
    assert "<script" not in result.feedback_html and f"{MARK}10()" in result.feedback_html
    soup = BeautifulSoup(page, "html.parser")
    texts = "\n".join(t for t in soup.find_all(string=True))
    assert f"onerror=\"{MARK}10()\"" in texts and f"<script>{MARK}14()</script>" in texts  # shown, as text
    assert f"plain {MARK}6" in texts  # the plain-text form of a rich output stays
    assert any("Squares" in h.get_text() for h in soup.find_all("h1")), "the instructor's locked Markdown renders"
    with_outputs = [c for c in published.cells if c.cell_type == "code" and HOSTILE_OUTPUTS.strip() in c.source][0]
    kinds = {k for out in with_outputs.outputs for k in out.get("data", {})}
    assert kinds <= {"text/plain", "image/png", "image/jpeg"} and "image/png" in kinds


def test_forged_output_metadata_never_becomes_markup_or_hides_code():
    """A kernel speaks the protocol itself, so it can attach any metadata to what it displays: an image width
    holding a handler, image data that is not base64, tags, and nbformat's transient remove_source (which
    hides a cell's code from the instructor). None of it is markup once published, and the code shows.

    Checked: fails with safe_outputs keeping output and cell metadata (the old filter of output data only):
    nbconvert wrote the width into the <img> tag unquoted, an onerror handler, and remove_source hid the code.
    """
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell(f"x = 1  # {MARK}-source")
    code.metadata = {"tags": [f'"><script>{MARK}22()</script>'], "transient": {"remove_source": True}}
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="},
                               metadata={"image/png": {"width": f"1 onerror={MARK}26()", "unconfined": True,
                                                       "alt": f'"><script>{MARK}27()</script>'}}),
        nbformat.v4.new_output("display_data", data={"image/jpeg": f'A"><img src=x onerror={MARK}25()>'}),
        nbformat.v4.new_output("stream", name="stdout", text=f"<script>{MARK}23()</script>"),
    ]
    nb.cells = [code]
    page = _formgrade_html(for_instructors(nb, set()))
    assert _markup_with(page) == []
    assert f"{MARK}-source" in page  # the code is shown


# ---------------------------------------------------------------- F12: hidden-test markers in the trainee's own text


def test_hidden_test_markers_in_trainee_cells_do_not_break_grading(grade, make_submission):
    """A trainee's own cells hold an unbalanced "### BEGIN HIDDEN TESTS", a stray END and a balanced pair in a
    cell that is not a test: grading ends normally with full marks and their text in the feedback.

    Checked: fails with feedback running nbgrader's ClearHiddenTests over every cell (it raised on the
    unbalanced marker, so the grading ended in error).
    """
    answer = SOLUTIONS["squares"] + "# ### BEGIN HIDDEN TESTS (my own note)\n"
    edit = _append(nbformat.v4.new_code_cell("x = 1\n### END HIDDEN TESTS\n"),
                   nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\ny = 2\n### END HIDDEN TESTS\nprint(y)\n"),
                   nbformat.v4.new_markdown_cell("### BEGIN HIDDEN TESTS\nmy notes"))
    result = grade(make_submission({**SOLUTIONS, "squares": answer}, edit=edit), "markers")
    assert result.status == "graded", result.message
    assert result.auto_score == 5.0, result.cells
    assert "(my own note)" in result.feedback_html


# ---------------------------------------------------------------- F13: links, FIFOs and devices in a source folder


def _plant(kind: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "link to the worker's environment":
        os.symlink("/proc/self/environ", path)
    elif kind == "link to a folder":
        os.symlink("/etc", path)
    elif kind == "FIFO":
        os.mkfifo(path)
    elif kind == "device":
        os.mknod(path, 0o644 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's device: safe to run unprotected
    else:
        raise AssertionError(kind)


PLANTS = ["link to the worker's environment", "link to a folder", "FIFO", "device"]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", PLANTS)
def test_worker_refuses_a_source_folder_with_links_fifos_or_devices(kind, course, tmp_path, release_nb):
    """A course author plants a link to /proc/self/environ (or a folder, a FIFO, a device) in source/ps1, even
    under a dot folder: the worker refuses the assignment before nbgrader copies anything, with an error naming
    the file in Korean and English, and nothing of the worker's environment reaches the course folder.

    Checked: fails without read_source's check in _prepare_sandbox: the link to /proc/self/environ was copied
    by nbgrader's autograde (as root) and the worker's environment reached courses/<course>/autograded; the other
    links and the device were followed into a graded submission, and the FIFO ended it in nbgrader's own
    unexplained error.
    """
    folder = _course_copy(course, tmp_path / "planted-course")
    _plant(kind, folder / "source" / "ps1" / ".cache" / "environ")
    nb = nbformat.from_dict(release_nb)
    store = ResultStore(tmp_path / "state")
    result = _grade(folder, store, "victim", nbformat.writes(nb).encode())
    assert _environment_in(folder) == []
    assert result.status == "error"
    assert "ps1/.cache/environ" in result.message and "source folder" in result.message
    assert "원본 폴더" in result.message
    assert not (folder / "autograded" / "victim").exists()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", PLANTS)
def test_release_refuses_a_source_folder_with_links_fifos_or_devices(kind, app, make, auth, client, own_var, course,
                                                                       tmp_path):
    """The same plants against the portal's release store: a trainee's fetch gets 503 and no archive, the
    instructor's release says which file to remove, and nothing of the portal's environment is released.

    Checked: fails with the release's old copytree(symlinks=False): the link to /proc/self/environ was
    released as a file holding the portal's environment (200, the environment in the archive).
    """
    folder = _course_copy(course, tmp_path / "courses" / "planted-course")
    _plant(kind, folder / "source" / "ps1" / "environ.txt")
    assignment, trainee, teacher, cohort = _released_assignment(app, make, folder)
    fetch = client.get(f"/api/exchange/assignments/{assignment.id}/release",
                       headers={"Authorization": f"Bearer {_token(trainee)}"})
    db.session.commit()
    if fetch.status_code == 200:  # what it released: no byte of the environment may be in it
        with tarfile.open(fileobj=io.BytesIO(fetch.data)) as tar:
            held = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())
        assert not [e for e in Path("/proc/self/environ").read_bytes().split(b"\0") if len(e) > 12 and e in held]
    assert fetch.status_code == 503, fetch.status_code
    auth.login(teacher)
    page = client.post(f"/courses/{assignment.course.id}/assignments/{assignment.id}/release",
                       data={"cohort_id": cohort.id}, follow_redirects=True).get_data(as_text=True)
    assert "ps1/environ.txt" in page and ("source folder" in page or "원본 폴더" in page)
    assert _environment_in(own_var) == []


@pytest.mark.parametrize("kind", ["link", "FIFO", "too large"])
def test_queue_choice_never_follows_a_planted_syllabus(kind, tmp_path):
    """syllabus.toml is the course author's: a link to another file, a FIFO or a huge file is refused (the job's
    own gpu flag decides), never followed, read to the end or waited on.

    Checked: fails with the old read (path.read_text()): the link's target sent ps1 to the GPU queue, the
    padded file was read whole, and the FIFO blocked the call (the thread was still waiting after 10 s).
    """
    # Imported here: importing academy.grading.tasks builds the Celery app from the environment.
    from academy.grading.tasks import assignment_needs_gpu

    gpu_syllabus = '[[assignment]]\nname = "ps1"\ngpu = true\n'
    course = tmp_path / "course"
    course.mkdir()
    if kind == "link":
        (tmp_path / "elsewhere.toml").write_text(gpu_syllabus)
        os.symlink(tmp_path / "elsewhere.toml", course / "syllabus.toml")
    elif kind == "FIFO":
        os.mkfifo(course / "syllabus.toml")
    else:
        (course / "syllabus.toml").write_text(gpu_syllabus + "#" * (2 * 1024 * 1024) + "\n")
    answer: list[bool] = []
    reader = threading.Thread(target=lambda: answer.append(assignment_needs_gpu(course, "ps1")), daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # unblock the reader so the test run can end
        with open(course / "syllabus.toml", "wb"):
            pass
        reader.join(5)
        pytest.fail("the syllabus FIFO blocked the queue choice")
    assert answer == [False]


def test_queue_choice_reads_a_plain_syllabus(tmp_path):
    """The control: a plain syllabus.toml still sends its gpu assignment to the GPU queue."""
    # Imported here: importing academy.grading.tasks builds the Celery app from the environment.
    from academy.grading.tasks import assignment_needs_gpu

    (tmp_path / "syllabus.toml").write_text('[[assignment]]\nname = "ps1"\ngpu = true\n')
    assert assignment_needs_gpu(tmp_path, "ps1") is True
    assert assignment_needs_gpu(tmp_path, "ps2") is False


# ---------------------------------------------------------------- F4: a course's own hidden-test markers


def _markers():
    return sorted(MARKERS)


@pytest.mark.parametrize("key", _markers(), ids=".".join)
def test_course_config_refuses_its_own_hidden_test_and_solution_markers(key, tmp_path):
    """A course's nbgrader_config.py that changes how hidden tests, solutions or mark schemes are marked is
    refused, with a message naming the setting in Korean and English: the judge and the feedback know only
    nbgrader's defaults (with "SECRET TESTS" markers the hidden lines ran in the trainee's kernel and reached
    their feedback). Setting the default itself is accepted.

    Checked: fails with these settings back in course_config.SETTINGS as plain strings and booleans.
    """
    default = MARKERS[key]
    other = (not default) if isinstance(default, bool) else f"SECRET {default.split()[-1]}"
    (tmp_path / "nbgrader_config.py").write_text(f"c = get_config()\nc.{key[0]}.{key[1]} = {other!r}\n")
    with pytest.raises(CourseConfigError) as refused:
        course_config(tmp_path)
    assert f"c.{key[0]}.{key[1]}" in str(refused.value)
    assert "바꿀 수 없습니다" in str(refused.value) and "cannot be changed" in str(refused.value)
    (tmp_path / "nbgrader_config.py").write_text(f"c = get_config()\nc.{key[0]}.{key[1]} = {default!r}\n")
    assert key[0] not in course_config(tmp_path)  # the default: accepted, and left to nbgrader


def test_fixed_markers_are_the_ones_nbgrader_and_the_judge_use():
    """The markers a course must keep are nbgrader's own defaults, and the judge's hidden-test markers."""
    for (section, name), value in MARKERS.items():
        assert getattr(preprocessors, section).class_traits()[name].default() == value
    assert MARKERS[("ClearHiddenTests", "begin_test_delimeter")] == judging.BEGIN_HIDDEN
    assert MARKERS[("ClearHiddenTests", "end_test_delimeter")] == judging.END_HIDDEN
