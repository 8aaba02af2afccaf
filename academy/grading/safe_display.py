"""Make a graded notebook safe to show in a browser: nothing the trainee's kernel or text made becomes markup.

The kernel that made a graded notebook's outputs is the trainee's, and so is every Markdown or raw cell they
wrote. Shown as they are, an HTML or SVG output, a script, or HTML in Markdown runs in the page of whoever
looks: the instructor's formgrader (in the hub's origin) or the trainee's feedback page. So, before a graded
notebook is published to the course folder or rendered as feedback:
- each output is rebuilt from its known fields, keeping only SAFE_MIME (images only as base64 text) and no
  output metadata (nbconvert writes an image's width into its tag unquoted: `1 onerror=...` became a handler);
- execution counts are integers or nothing; cells keep only nbgrader's metadata (its grade ids checked as
  nbgrader checks them), the notebook only the kernel's description;
- Markdown and raw cells the trainee wrote become a fenced block, which renders as literal text (no HTML,
  link, image or math: MathJax skips <pre>); the instructor's own cells, restored from the gradebook, keep theirs.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Collection
from typing import Any

import nbformat
from nbformat import NotebookNode

# The output types shown anywhere a graded notebook is rendered (feedback and formgrader alike).
SAFE_MIME = ("text/plain", "image/png", "image/jpeg")
NOTEBOOK_METADATA = ("kernelspec", "language_info", "nbgrader")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
_GRADE_ID = re.compile(r"[A-Za-z0-9_-]+")  # what nbgrader's own metadata validator allows


def for_instructors(nb: NotebookNode, instructor_cells: Collection[str]) -> NotebookNode:
    """Return a copy of a graded notebook fit to publish: safe outputs, the trainee's text inert."""
    nb = copy.deepcopy(nb)
    safe_outputs(nb)
    inert_text(nb, instructor_cells)
    return nb


def safe_outputs(nb: NotebookNode) -> None:
    """Keep only outputs that render as text or raster images, and only the metadata nbgrader needs."""
    nb.metadata = NotebookNode({k: v for k, v in nb.get("metadata", {}).items() if k in NOTEBOOK_METADATA})
    for cell in nb.cells:
        grading = cell.get("metadata", {}).get("nbgrader")
        keep = isinstance(grading, dict) and bool(_GRADE_ID.fullmatch(str(grading.get("grade_id", "x"))))
        cell.metadata = NotebookNode({"nbgrader": grading} if keep else {})
        if cell.get("cell_type") == "code":
            cell.execution_count = _count(cell.get("execution_count"))
            outputs = cell.get("outputs")
            rebuilt = [_safe_output(out) for out in outputs] if isinstance(outputs, list) else []
            cell.outputs = [out for out in rebuilt if out is not None]


def inert_text(nb: NotebookNode, instructor_cells: Collection[str]) -> None:
    """Make every non-code cell the trainee wrote show as literal text; cells in instructor_cells keep theirs."""
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            continue
        grade_id = (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")
        if cell.get("cell_type") == "markdown" and grade_id in instructor_cells:
            continue
        cell.cell_type = "markdown"
        cell.source = literal(_text(cell.get("source")) or "")
        cell.pop("attachments", None)
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


def literal(text: str) -> str:
    """Return Markdown that renders text as-is: a fenced block longer than any backtick run inside it."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def _text(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return value if isinstance(value, str) else None


def _count(value: Any) -> int | None:
    return value if type(value) is int else None


def _safe_output(out: Any) -> NotebookNode | None:
    if not isinstance(out, dict):
        return None
    kind = out.get("output_type")
    if kind == "stream":
        text = _text(out.get("text"))
        name = "stderr" if out.get("name") == "stderr" else "stdout"
        return None if text is None else nbformat.v4.new_output("stream", name=name, text=text)
    if kind == "error":
        trace = out.get("traceback")
        lines = [line for line in trace if isinstance(line, str)] if isinstance(trace, list) else []
        return nbformat.v4.new_output("error", ename=_text(out.get("ename")) or "",
                                      evalue=_text(out.get("evalue")) or "", traceback=lines)
    if kind not in ("display_data", "execute_result"):
        return None
    given = out.get("data") if isinstance(out.get("data"), dict) else {}
    data = {}
    for mime in SAFE_MIME:
        value = _text(given.get(mime))
        if value is not None and (mime == "text/plain" or _BASE64.fullmatch(value)):
            data[mime] = value
    if not data:
        return None
    if kind == "execute_result":
        return nbformat.v4.new_output("execute_result", data=data, execution_count=_count(out.get("execution_count")))
    return nbformat.v4.new_output("display_data", data=data)
