"""Render the trainee's feedback page: scores and their own outputs, never hidden-test source."""
from __future__ import annotations

import copy
import functools
import html

import nbformat
from nbconvert import HTMLExporter
from nbformat import NotebookNode

from academy.grading.jobs import CellScore
from academy.grading.judging import BEGIN_HIDDEN, split_hidden
from academy.grading.safe_display import safe_outputs

REDACTED = ("Hidden tests ran in this cell; their details are not shown. "
            "/ 이 셀에서 비공개 테스트가 실행되었습니다. 자세한 내용은 표시되지 않습니다.\n")


def _redact_outputs(cell: NotebookNode, failed: bool) -> None:
    # Tracebacks and printed values of hidden tests would reveal them: keep only the verdict.
    text = REDACTED + ("Result: failed / 결과: 실패\n" if failed else "Result: passed / 결과: 통과\n")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]


def _summary(cells: list[CellScore], message: str) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(c.notebook)}</td><td>{html.escape(c.grade_id)}</td>"
        f"<td>{c.score:g} / {c.max_score:g}</td></tr>"
        for c in cells
    )
    total = sum(c.score for c in cells)
    total_max = sum(c.max_score for c in cells)
    return (
        '<section class="academy-scores"><h2>Automatic scores / 자동 채점 점수</h2>'
        f"<p>{html.escape(message)}</p><table><thead><tr><th>notebook</th><th>test / 테스트</th>"
        f"<th>score / 점수</th></tr></thead><tbody>{rows}</tbody>"
        f"<tfoot><tr><td colspan=2>total / 합계</td><td>{total:g} / {total_max:g}</td></tr></tfoot>"
        "</table></section>"
    )


def render_feedback(notebooks: dict[str, NotebookNode], cells: list[CellScore], message: str) -> str:
    """Return one HTML page: the score table, then each graded notebook without hidden tests."""
    scores = {(c.notebook, c.grade_id): c for c in cells}
    combined = nbformat.v4.new_notebook()
    for name, original in sorted(notebooks.items()):
        nb = copy.deepcopy(original)
        safe_outputs(nb)  # first: it also leaves cells only well-formed nbgrader metadata
        for cell in nb.cells:
            if cell.get("cell_type") == "raw":  # shown as escaped text, as Markdown is here, never as HTML
                cell.cell_type = "markdown"
            grading = cell.metadata.get("nbgrader", {})
            score = scores.get((name, grading.get("grade_id", "")))
            is_test = score is not None or (grading.get("grade") and not grading.get("solution"))
            if cell.get("cell_type") == "code" and is_test and BEGIN_HIDDEN in cell.get("source", ""):
                # A test cell the judge did not rewrite (it does whenever it ran): no hidden line, no output.
                # Only instructors' test cells: the trainee's own text is theirs, whatever it holds, and
                # split_hidden never fails on unbalanced markers as nbgrader's ClearHiddenTests does.
                cell.source = split_hidden(cell.source)[0]
                _redact_outputs(cell, failed=score is None or score.score < score.max_score)
        combined.cells.append(nbformat.v4.new_markdown_cell(f"# {name}"))
        combined.cells.extend(nb.cells)
        combined.metadata = nb.metadata
    body, _ = _exporter().from_notebook_node(combined)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Feedback / 피드백</title></head>'
        f"<body>{_summary(cells, message)}{body}</body></html>"
    )


def _escaped(source: str, *args: object, **kwargs: object) -> str:
    return f"<pre>{html.escape(source)}</pre>"


@functools.lru_cache(maxsize=1)
def _exporter() -> HTMLExporter:
    # One exporter per worker process: building it loads and compiles the templates.
    # Code and Markdown are shown as escaped text: nothing the trainee wrote becomes markup, so
    # no sanitiser is needed, and highlighting plus sanitising cost more CPU than the grading.
    filters = {"highlight_code": _escaped, "markdown2html": _escaped}
    return HTMLExporter(template_name="basic", sanitize_html=False, exclude_input_prompt=True,
                        filters=filters)
