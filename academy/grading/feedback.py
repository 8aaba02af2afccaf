"""Render the trainee's feedback page: each test's result and points, their notebook readable, no hidden test.

The page is one script-free HTML document, served in a sandbox with a strict Content-Security-Policy
(submissions/views.py): inline styles, images only as data: URLs. Per test cell it says passed or failed,
the points, and why when the reason is the trainee's to see (a visible assertion's message, a time limit,
a missing name: `Verdict.shown`); a failed hidden test says only that a hidden test did not pass. Code is
highlighted with Pygments; Markdown is rendered with mistune, with raw HTML escaped and harmful link
schemes dropped, so nothing anyone wrote becomes markup; outputs are text and raster images only
(safe_display.py). The hidden lines never reach it: the judge rewrote each test cell to its visible lines
before the notebook was saved, and a test cell that still holds hidden lines is cut and its outputs dropped. Nor
does an instructor's mark scheme (nbgrader restores locked task cells from the gradebook with it): it is cut.
"""
from __future__ import annotations

import copy
import functools
import html
import re
from typing import TYPE_CHECKING, Any

import mistune
from nbformat import NotebookNode
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from academy.grading.jobs import CellScore
from academy.grading.judging import BEGIN_HIDDEN, GENERIC_FAIL, PLACEHOLDER, split_hidden
from academy.grading.safe_display import safe_outputs

if TYPE_CHECKING:
    from academy.grading.judging import Verdict

PASSED, FAILED = "통과 · Passed", "실패 · Failed"
HIDDEN_OUTPUT = ("이 셀의 숨은 테스트 출력은 표시하지 않습니다. / The output of this cell's hidden tests is not shown.")
VISIBLE_FAIL = "테스트를 통과하지 못했습니다. / The test did not pass."
# nbgrader's own markers (ClearMarkScheme's defaults) around a task's mark scheme.
BEGIN_MARK_SCHEME, END_MARK_SCHEME = "BEGIN MARK SCHEME", "END MARK SCHEME"
JUDGE_ERROR = "TestFailed"  # the error output the judge writes into a failed test cell (its message may be hidden)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]")

PAGE_CSS = """
:root { --ink:#1d2433; --muted:#5b6474; --line:#d9dee7; --bg:#f6f7fa; --brand:#0b5cad; --ok:#1c7c3a; --err:#b42318; }
* { box-sizing: border-box; }
body { margin: 0; padding: 1rem; font-family: "NanumGothic", "Noto Sans KR", "Apple SD Gothic Neo", system-ui,
  sans-serif; color: var(--ink); background: #fff; line-height: 1.55; max-width: 60rem; }
h1 { font-size: 1.4rem; margin: .2rem 0 .6rem; } h2 { font-size: 1.2rem; margin: 1.6rem 0 .6rem;
  border-bottom: 2px solid var(--line); padding-bottom: .2rem; }
.message { color: var(--muted); margin: 0 0 .8rem; }
table.scores { border-collapse: collapse; width: 100%; margin-bottom: 1rem; font-size: .95rem; }
.scores th, .scores td { border-bottom: 1px solid var(--line); padding: .35rem .5rem; text-align: left; }
.scores td.points, .scores th.points { text-align: right; white-space: nowrap; }
.scores tfoot td { font-weight: bold; border-bottom: none; }
.scores a { color: var(--brand); }
.pass { color: var(--ok); font-weight: bold; } .fail { color: var(--err); font-weight: bold; }
.cell { margin: .9rem 0; } .md { overflow-wrap: anywhere; }
.md pre, .md code { background: var(--bg); }
.md table { border-collapse: collapse; } .md td, .md th { border: 1px solid var(--line); padding: .2rem .4rem; }
.md img { max-width: 100%; }
pre { margin: 0; padding: .55rem .7rem; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere;
  font-family: "D2Coding", "NanumGothicCoding", ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: .85rem; line-height: 1.45; }
pre.source { background: var(--bg); border: 1px solid var(--line); border-radius: 4px; }
pre.output { border-left: 3px solid var(--line); margin-top: .3rem; }
pre.stderr { background: #fff8e6; } pre.error { background: #fdf0ef; border-left-color: var(--err); }
img.output { display: block; max-width: 100%; height: auto; margin-top: .3rem; }
.test { border: 1px solid var(--line); border-left-width: 6px; border-radius: 4px; padding: .4rem .7rem;
  margin-bottom: .3rem; }
.test.passed { border-left-color: var(--ok); } .test.failed { border-left-color: var(--err); }
.test p { margin: .15rem 0; } .test .why { white-space: pre-wrap; }
.note { color: var(--muted); font-size: .9rem; }
@media (max-width: 40rem) { body { padding: .5rem; } pre { font-size: .8rem; } }
@media print { body { max-width: none; padding: 0; } .cell, .test, tr { break-inside: avoid; }
  pre { white-space: pre-wrap; } a { color: inherit; text-decoration: none; } }
"""


def render_feedback(notebooks: dict[str, NotebookNode], cells: list[CellScore], message: str,
                    verdicts: dict[tuple[str, str], Verdict] | None = None) -> str:
    """Return the feedback page: the score table, then each graded notebook with a result box per test."""
    verdicts = verdicts or {}
    scores = {(c.notebook, c.grade_id): c for c in cells}
    parts = [_summary(cells, message)]
    for name, original in sorted(notebooks.items()):
        nb = copy.deepcopy(original)
        safe_outputs(nb)  # first: it also leaves cells only well-formed nbgrader metadata
        parts.append(f"<section><h2>{html.escape(name)}</h2>")
        for cell in nb.cells:
            grading = cell.get("metadata", {}).get("nbgrader", {})
            score = scores.get((name, grading.get("grade_id", "")))
            is_test = score is not None or bool(grading.get("grade") and not grading.get("solution"))
            parts.append(_cell(cell, name, score, verdicts.get((name, grading.get("grade_id", ""))), is_test))
        parts.append("</section>")
    return ('<!DOCTYPE html>\n<html lang="ko"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>피드백 / Feedback</title><style>{PAGE_CSS}{_code_css()}</style></head>"
            f"<body>{''.join(parts)}</body></html>")


def _summary(cells: list[CellScore], message: str) -> str:
    rows = "".join(
        f'<tr><td><a href="#{_anchor(c.notebook, c.grade_id)}">{html.escape(c.grade_id)}</a></td>'
        f"<td>{_result(c)}</td><td class=points>{c.score:g} / {c.max_score:g}</td></tr>"
        for c in cells
    )
    total, total_max = sum(c.score for c in cells), sum(c.max_score for c in cells)
    return (
        '<header><h1>자동 채점 결과 / Automatic grading</h1>'
        f'<p class="message">{html.escape(message)}</p>'
        '<table class="scores"><thead><tr><th>테스트 / Test</th><th>결과 / Result</th>'
        f'<th class=points>점수 / Points</th></tr></thead><tbody>{rows}</tbody>'
        f"<tfoot><tr><td colspan=2>합계 / Total</td><td class=points>{total:g} / {total_max:g}</td></tr></tfoot>"
        "</table></header>"
    )


def _result(score: CellScore) -> str:
    passed = score.score >= score.max_score
    return f'<span class="{"pass" if passed else "fail"}">{PASSED if passed else FAILED}</span>'


def _anchor(notebook: str, grade_id: str) -> str:
    return "t-" + re.sub(r"[^A-Za-z0-9_-]", "_", f"{notebook}-{grade_id}")


def _cut(source: str, begin: str, end: str) -> str:
    """Drop the lines from each `begin` marker to its `end` marker (both included; an unclosed one to the end)."""
    kept, inside = [], False
    for line in source.splitlines(keepends=True):
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "".join(kept)


def _cell(cell: NotebookNode, notebook: str, score: CellScore | None, verdict: Verdict | None,
          is_test: bool) -> str:
    kind = cell.get("cell_type")
    source = _text(cell.get("source"))
    # nbgrader restores the instructor's locked cells from the gradebook, which keeps a task's mark scheme (it is
    # cut only from the released notebook): the trainee never sees it. Cut from every cell but the trainee's
    # answers (solution cells are theirs, markers and all: nothing of the instructor's is in them).
    if not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
        source = _cut(source, BEGIN_MARK_SCHEME, END_MARK_SCHEME)
    if kind == "markdown":
        return f'<div class="cell md">{_markdown()(source)}</div>'
    if kind != "code":  # raw cells: shown as they are, as text
        return f'<div class="cell"><pre class="source">{html.escape(source)}</pre></div>'
    outputs = cell.get("outputs", [])
    box = ""
    if is_test:
        if BEGIN_HIDDEN in source:  # a test cell the judge did not rewrite (it does whenever it ran)
            source = split_hidden(source)[0]
            outputs = []
            box = f'<p class="note">{html.escape(HIDDEN_OUTPUT)}</p>'
        outputs = [o for o in outputs if not (o.get("output_type") == "error" and o.get("ename") == JUDGE_ERROR)]
        box = _test_box(notebook, cell, score, verdict) + box
    rendered = "".join(_output(o) for o in outputs)
    return f'<div class="cell code">{box}<pre class="source">{_highlighted(source)}</pre>{rendered}</div>'


def _test_box(notebook: str, cell: NotebookNode, score: CellScore | None, verdict: Verdict | None) -> str:
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
    if score is None:  # a test nbgrader did not score (the notebook stopped, or no gradebook entry)
        return (f'<div class="test failed" id="{_anchor(notebook, grade_id)}"><p><span class="fail">{FAILED}'
                "</span> · 점수 없음 / not scored</p></div>")
    passed = score.score >= score.max_score
    why = ""
    if not passed:
        if verdict is not None and verdict.shown:
            reason = verdict.shown
        elif verdict is not None and not verdict.passed:
            reason = GENERIC_FAIL if _has_hidden(cell) else VISIBLE_FAIL
        else:
            reason = ""  # the judge passed it: the page's message says why no points (limits, tampering)
        why = f'<p class="why">{html.escape(reason)}</p>' if reason else ""
    return (f'<div class="test {"passed" if passed else "failed"}" id="{_anchor(notebook, grade_id)}">'
            f'<p>{_result(score)} · {score.score:g} / {score.max_score:g}점 · points'
            f" <small>({html.escape(grade_id)})</small></p>{why}</div>")


def _has_hidden(cell: NotebookNode) -> bool:
    return PLACEHOLDER in _text(cell.get("source"))


def _output(out: Any) -> str:
    kind = out.get("output_type")
    if kind == "stream":
        name = "stderr" if out.get("name") == "stderr" else "stdout"
        return f'<pre class="output {name}">{html.escape(_text(out.get("text")))}</pre>'
    if kind == "error":
        trace = "\n".join(out.get("traceback") or []) or f"{out.get('ename', '')}: {out.get('evalue', '')}"
        return f'<pre class="output error">{html.escape(_ANSI.sub("", trace))}</pre>'
    data = out.get("data", {})
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            encoded = _NOT_BASE64.sub("", _text(data[mime]))
            return f'<img class="output" alt="" src="data:{mime};base64,{encoded}">'
    if "text/plain" in data:
        return f'<pre class="output">{html.escape(_ANSI.sub("", _text(data["text/plain"])))}</pre>'
    return ""


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _highlighted(source: str) -> str:
    return highlight(source, _lexer(), _formatter()).rstrip("\n") if source.strip() else ""


@functools.lru_cache(maxsize=1)
def _lexer() -> PythonLexer:
    return PythonLexer(stripnl=False, ensurenl=False)


@functools.lru_cache(maxsize=1)
def _formatter() -> HtmlFormatter:
    return HtmlFormatter(nowrap=True, style="friendly")


@functools.lru_cache(maxsize=1)
def _code_css() -> str:
    # A `%magic` line lexes as an error token: no red box around it.
    return _formatter().get_style_defs("pre.source") + "\npre.source .err { border: none; }"


class _Renderer(mistune.HTMLRenderer):
    """mistune's HTML with raw HTML escaped and harmful link schemes dropped; an image only from a data: URL
    (a remote one would tell its server who opened the page and when: it is shown as its alt text)."""

    def image(self, text: str, url: str, title: str | None = None) -> str:
        if _DATA_IMAGE.match(url):
            return super().image(text, url, title)
        return f'<span class="note">[{html.escape(text or url)}]</span>'


_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]*\Z")


@functools.lru_cache(maxsize=1)
def _markdown() -> mistune.Markdown:
    return mistune.create_markdown(renderer=_Renderer(escape=True), plugins=["table", "strikethrough"])
