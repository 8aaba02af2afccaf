"""The trainee's feedback page: each test's result and points, the reason when it is theirs to see, their notebook
readable (Markdown rendered, code highlighted), nothing of the hidden tests, nothing anyone wrote as markup."""
from __future__ import annotations

import re

import nbformat

from academy.grading.feedback import render_feedback
from academy.grading.jobs import CellScore
from academy.grading.judging import GENERIC_FAIL, Verdict
from tests.grading.conftest import SOLUTIONS

# ps2's test cell: one visible assertion, two hidden ones with messages of their own.
PS2_HIDDEN = ("나누는 순서를 확인하세요", "check which number divides which", "음수도 확인하세요", "check negative numbers",
              "ratio(7, 3)", "ratio(-9, 4)", "2.25", "BEGIN HIDDEN TESTS")
PS2_VISIBLE_MESSAGE = "ratio(1, 4)는 0.25입니다 / ratio(1, 4) is 0.25"


def _box(page: str, grade_id: str) -> str:
    """Return the result box of one test cell on the page."""
    found = re.search(rf'<div class="test [a-z]+" id="t-[^"]*-{grade_id}">.*?</div>', page, re.S)
    assert found, f"no result box for {grade_id}"
    return found.group(0)


def test_failed_hidden_test_shows_failed_and_points_but_no_hidden_text(grade_other):
    """An answer that passes the visible assertion and fails a hidden one: the page says failed, 0 / 2 points,
    that a hidden test did not pass, and nothing of the hidden lines: not their source, values or messages.

    How checked: with the page made as before (nbconvert, the judge's error output shown as it is in the graded
    notebook), the hidden assertion's own message "나누는 순서를 확인하세요 / check which number divides which"
    was on the page.
    """
    answer = "def ratio(a, b):\n    return 0.25 if (a, b) == (1, 4) else b / a\n"
    result = grade_other("ps2", answer, "fb-hidden")
    assert (result.status, result.auto_score, result.max_auto_score) == ("graded", 0.0, 2.0), result.message
    page = result.feedback_html
    for hidden in PS2_HIDDEN:
        assert hidden not in page, hidden
    box = _box(page, "test_ratio")
    assert "실패 · Failed" in box and "0 / 2" in box and GENERIC_FAIL in box
    assert "assert abs(ratio(1, 4) - 0.25) &lt; 1e-9" in re.sub(r"<[^>]+>", "", page)  # the visible line is shown


def test_failed_visible_test_shows_its_message(grade_other):
    """A wrong answer that fails the visible assertion: its message, Korean first, is the reason on the page."""
    result = grade_other("ps2", "def ratio(a, b):\n    return a * b\n", "fb-visible")
    assert result.auto_score == 0.0, result.message
    box = _box(result.feedback_html, "test_ratio")
    assert "실패 · Failed" in box and PS2_VISIBLE_MESSAGE in box
    for hidden in PS2_HIDDEN:
        assert hidden not in result.feedback_html, hidden


def test_passed_tests_show_passed_points_and_highlighted_code(grade, make_submission):
    """The model answer: every test passed with its points, the total, the trainee's code highlighted."""
    page = grade(make_submission(SOLUTIONS), "fb-right").feedback_html
    assert "통과 · Passed" in _box(page, "test_squares") and "2 / 2" in _box(page, "test_squares")
    assert "3 / 3" in _box(page, "test_mean_square")
    assert re.search(r'<td colspan=2>합계 / Total</td><td class=points>5 / 5</td>', page)
    assert re.search(r'<span class="k">def</span>(<span class="w"> </span>| )<span class="nf">mean_square</span>', page)  # highlighted
    assert "<h1>Squares / 제곱</h1>" in page  # the instructor's Markdown, rendered


def _notebook(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def _test_cell(source: str, grade_id: str = "t1", outputs: list | None = None) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, outputs=outputs or [])
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": grade_id, "points": 2,
                                 "schema_version": 3, "locked": True, "task": False}
    return cell


HOSTILE_MARKDOWN = ("# 제목 Title\n**굵게** <script>alert(1)</script><img src=x onerror=alert(2)>\n\n"
                    "[click](javascript:alert(3)) [file](file:///etc/passwd) ![px](http://tracker.example/p.png)\n\n"
                    "<iframe src=//evil.example></iframe> <a href=x onclick=alert(4)>a</a>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")


def test_markdown_and_outputs_never_become_markup():
    """The trainee's Markdown is rendered but any HTML in it shows as text, harmful links are dropped, and no
    output becomes markup: the page has no script, no event handler, no frame and no remote image.

    How checked: with mistune's escape off, the <script> and the onerror image came through as tags.
    """
    outputs = [nbformat.v4.new_output("display_data", data={"text/html": "<script>alert(5)</script>",
                                                            "text/plain": "<b>plain</b>"}),
               nbformat.v4.new_output("display_data", data={"image/png": 'iVBORw0KGgo=" onerror="alert(6)'}),
               nbformat.v4.new_output("error", ename="ValueError", evalue="x",
                                      traceback=["\x1b[31mValueError\x1b[0m: <img src=y onerror=alert(7)>"])]
    nb = _notebook(nbformat.v4.new_markdown_cell(HOSTILE_MARKDOWN), nbformat.v4.new_raw_cell("<script>alert(8)</script>"),
                   nbformat.v4.new_code_cell("print('<script>')", outputs=outputs))
    page = render_feedback({"nb": nb}, [], "ok")
    assert "<h1>제목 Title</h1>" in page and "<strong>굵게</strong>" in page and "<td>1</td>" in page
    assert not re.search(r"<(script|iframe|object|embed)\b", page, re.I)
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", page, re.I)  # no event handler attribute on any tag
    assert "javascript:" not in page and "file:///etc" not in page.replace("[file](file:///etc", "")
    assert not re.search(r"""<img[^>]+src=["']?(?!data:image/(png|jpeg);base64,[A-Za-z0-9+/=]*["' >])""", page)
    assert "&lt;b&gt;plain&lt;/b&gt;" in page and "\x1b" not in page


def test_a_test_cell_still_holding_hidden_lines_shows_neither_them_nor_its_outputs():
    """A test cell the judge did not rewrite (it stopped before it): the hidden lines are cut, outputs dropped.

    How checked: without the cut, the hidden assertion and its printed value were on the page.
    """
    source = ("assert f(1) == 1, 'visible'\n### BEGIN HIDDEN TESTS\nassert f(42) == 1764, 'SECRET-MSG'\n"
              "### END HIDDEN TESTS\n")
    cell = _test_cell(source, outputs=[nbformat.v4.new_output("stream", name="stdout", text="1764 SECRET-OUT\n")])
    page = render_feedback({"nb": _notebook(cell)}, [CellScore("nb", "t1", 0.0, 2.0)], "ok")
    assert "f(42)" not in page and "SECRET" not in page and "1764" not in page
    assert "실패 · Failed" in _box(page, "t1") and "0 / 2" in _box(page, "t1")


def test_only_the_reason_the_judge_marks_as_shown_reaches_the_page():
    """The judge's message for a hidden assertion is written in the graded notebook's error output; the page
    drops that output and shows the verdict's `shown` reason, or the generic one when it is empty.

    How checked: rendering the judge's error output as it is put "SECRET-MSG" on the page.
    """
    failed = nbformat.v4.new_output("error", ename="TestFailed", evalue="숨은 테스트 / Hidden test: SECRET-MSG",
                                    traceback=["숨은 테스트 / Hidden test: SECRET-MSG"])
    placeholder = "assert f(1) == 1, 'visible'\n### 숨은 테스트: 채점할 때만 실행됩니다 / Hidden tests: they run only at grading"
    nb = _notebook(_test_cell(placeholder, "t1", [failed]), _test_cell("assert g() == 2, 'g is 2'", "t2"))
    verdicts = {("nb", "t1"): Verdict(False, "숨은 테스트 / Hidden test: SECRET-MSG", shown=""),
                ("nb", "t2"): Verdict(False, "g is 2", shown="g is 2")}
    page = render_feedback({"nb": nb}, [CellScore("nb", "t1", 0.0, 2.0), CellScore("nb", "t2", 0.0, 1.0)], "ok",
                           verdicts)
    assert "SECRET-MSG" not in page
    assert GENERIC_FAIL in _box(page, "t1") and "g is 2" in _box(page, "t2")


def test_the_instructors_mark_scheme_never_reaches_the_feedback(grade_other):
    """ps5 has a locked task cell whose mark scheme nbgrader keeps in the gradebook and restores into the graded
    notebook: the feedback page shows the task, not the mark scheme.

    How checked (helper-17's review): the page rendered "RUBRIC-PS5: full marks only if ..." as a paragraph under
    a "BEGIN MARK SCHEME" heading.
    """
    result = grade_other("ps5", "def cube(x):\n    return x ** 3\n", "fb-markscheme")
    assert (result.status, result.auto_score) == ("graded", 1.0), result.message
    page = result.feedback_html
    assert "Why does the cube of a negative number stay negative?" in page
    assert "RUBRIC-PS5" not in page and "MARK SCHEME" not in page and "odd power" not in page
