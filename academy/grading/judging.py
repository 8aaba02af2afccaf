"""The worker's side of the judge (judge.py): which cells it judges, what it is given, what it says.

A test cell is split where nbgrader marks its hidden tests: only the visible lines run in the
trainee's kernel (their output is the trainee's feedback), after the kernel saved a copy of the
variables the whole cell reads. Once the notebook has run, the judge runs every test cell whole,
hidden lines included, on those copies, in a sandbox of its own; its verdicts alone decide the
points. The hidden lines never reach the kernel, the published notebook or the feedback: a failed
hidden test shows only a message the instructor wrote, or a generic one.
"""
from __future__ import annotations

import ast
import builtins
import json
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from academy.grading import untrusted
from academy.grading.sandbox import KernelHandle, SandboxSpec, prepare_dirs, run_judge

log = logging.getLogger(__name__)
BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"
PLACEHOLDER = "### 숨은 테스트: 채점할 때만 실행됩니다 / Hidden tests: they run only at grading"
MAX_SNAPSHOT = 512 * 1024 * 1024  # one test cell's copy of the trainee's variables
MAX_SNAPSHOTS = 1024 * 1024 * 1024  # all of one submission's copies together
MAX_VERDICTS = 1024 * 1024
# Exceptions whose name may be shown: the language's own, not a class the trainee named.
SHOWN_ERRORS = frozenset(name for name in dir(builtins) if name.endswith(("Error", "Exception"))
                         and isinstance(getattr(builtins, name), type))
GENERIC_FAIL = "숨은 테스트를 통과하지 못했습니다. / The hidden tests did not pass."
MESSAGES = {
    "timeout": "시간 초과: 테스트가 제한 시간 안에 끝나지 않았습니다. / Time limit: the tests did not finish in time.",
    "load": "채점용으로 변수를 다시 불러오지 못했습니다 ({}). / Your variables could not be loaded for grading ({}).",
    "error": "테스트 실행 중 오류가 났습니다 ({}). / The tests stopped with an error ({}).",
    "tampered": ("테스트가 의존하는 것이 바뀌어 결과를 신뢰할 수 없습니다. 강사가 검토합니다. "
                 "/ The code changed what the tests rely on; an instructor will review it."),
    "none": "채점 결과가 없습니다. / The grading run gave no result for this cell.",
    "missing": "테스트에 필요한 변수를 찾지 못했습니다: {}. / The tests could not find: {}.",
}


def split_hidden(source: str) -> tuple[str, str]:
    """Return (visible lines, hidden lines) of a test cell, the marker lines dropped."""
    visible, hidden, inside = [], [], False
    for line in source.splitlines():
        if BEGIN_HIDDEN in line:
            inside = True
        elif END_HIDDEN in line:
            inside = False
        elif inside:
            hidden.append(line)
        else:
            visible.append(line)
    return "\n".join(visible), "\n".join(hidden)


def _parse(source: str) -> ast.Module | None:
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return None


def _stored(node: ast.AST) -> set[str]:
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            names.add(sub.id)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(sub.name)
        elif isinstance(sub, ast.alias):
            names.add((sub.asname or sub.name).split(".")[0])
        elif isinstance(sub, ast.ExceptHandler) and sub.name:
            names.add(sub.name)
    return names


def free_names(source: str) -> list[str]:
    """Return the names a cell reads before it binds them: the variables to copy for the judge.

    A name read and bound in one statement counts as read; copying one too many is harmless.
    """
    tree = _parse(source)
    if tree is None:
        return []
    bound: set[str] = set()
    found: list[str] = []
    for statement in tree.body:
        for sub in ast.walk(statement):
            if (isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id not in bound
                    and sub.id not in found and not hasattr(builtins, sub.id)):
                found.append(sub.id)
        bound |= _stored(statement)
    return found


def literal_messages(source: str) -> set[str]:
    """Return the assertion messages written as plain string literals in a cell."""
    tree = _parse(source)
    found: set[str] = set()
    if tree is None:
        return found
    for node in ast.walk(tree):
        message = None
        if isinstance(node, ast.Assert):
            message = node.msg
        elif (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
              and isinstance(node.exc.func, ast.Name) and node.exc.func.id == "AssertionError" and node.exc.args):
            message = node.exc.args[0]
        if isinstance(message, ast.Constant) and isinstance(message.value, str):
            found.add(message.value)
    return found


@dataclass
class JudgedCell:
    """One test cell as the judge will run it."""

    key: str  # the judge's id for it: "c<n>"
    grade_id: str
    source: str  # the whole cell, hidden lines included (from the gradebook)
    visible: str
    hidden: str
    names: list[str]
    snapshot: Path  # where the kernel saved its copy (a folder the sandbox can write)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    missing: list[str] = field(default_factory=list)

    def code(self) -> str:
        """Return the cell followed by the line that proves it ran to its end."""
        return f"{self.source}\n__import__('os').write(3, b'{self.key} pass {self.token}\\n')\n"


@dataclass
class Verdict:
    """What the judge said about one cell."""

    passed: bool
    message: str = ""
    tampered: str = ""


def parse_verdicts(text: str, cells: list[JudgedCell]) -> dict[str, Verdict]:
    """Turn verdicts.txt (untrusted: written where trainee code ran) into one verdict per cell."""
    by_key = {cell.key: cell for cell in cells}
    lines: dict[str, list[tuple[str, str]]] = {}
    for raw in text.splitlines()[:10000]:
        parts = raw.split(" ")
        if len(parts) >= 2 and parts[0] in by_key:
            lines.setdefault(parts[0], []).append((parts[1], parts[2] if len(parts) > 2 else ""))
    verdicts = {}
    for key, cell in by_key.items():
        said = lines.get(key, [])
        tampered = [_unhex(detail)[:200] for kind, detail in said if kind == "tampered"]
        passed = any(kind == "pass" and secrets.compare_digest(detail, cell.token) for kind, detail in said)
        if tampered:
            verdicts[key] = Verdict(False, MESSAGES["tampered"], tampered[0] or "changed")
        elif passed:
            verdicts[key] = Verdict(True)
        else:
            verdicts[key] = Verdict(False, _failure_message(cell, said))
    return verdicts


def _unhex(text: str) -> str:
    try:
        return bytes.fromhex(text).decode("utf-8", "replace")
    except ValueError:
        return ""


def _failure_message(cell: JudgedCell, said: list[tuple[str, str]]) -> str:
    public = set(free_names(cell.visible))
    for kind, detail in said:
        if kind == "fail":
            message = _unhex(detail)
            if message and message in literal_messages(cell.visible):
                return message
            if message and message in literal_messages(cell.hidden):
                return f"숨은 테스트 / Hidden test: {message}"
            return GENERIC_FAIL
        if kind == "timeout":
            return MESSAGES["timeout"]
        if kind in ("error", "load"):
            name = _unhex(detail)
            name = name if name in SHOWN_ERRORS else "?"
            shown = [n for n in cell.missing if n in public]
            if name == "NameError" and shown:
                return MESSAGES["missing"].format(", ".join(shown), ", ".join(shown))
            return MESSAGES[kind].format(name, name)
    return MESSAGES["none"]


class Judge:
    """One submission's judge: the cells the kernel saved copies for, then one sandboxed run."""

    def __init__(self, spec: SandboxSpec, handle: KernelHandle, test_ids: set[str], deadline: float,
                 cell_timeout: float) -> None:
        self.spec = spec
        self.handle = handle
        self.test_ids = test_ids
        self.deadline = deadline  # time.monotonic() by which the whole job must end
        self.cell_timeout = cell_timeout
        self.cells: list[JudgedCell] = []
        self.timed_out = False

    def judges(self, cell: NotebookNode) -> bool:
        """Return whether a cell is one of the instructor's test cells (restored from the gradebook)."""
        meta = cell.get("metadata", {}).get("nbgrader", {})
        return (cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")
                and meta.get("grade_id") in self.test_ids)

    def add(self, cell: NotebookNode, snapshot_dir: Path) -> JudgedCell:
        """Register a test cell about to run; return what the kernel must save and run."""
        source = cell.source
        visible, hidden = split_hidden(source)
        key = f"c{len(self.cells)}"
        judged = JudgedCell(key=key, grade_id=cell.metadata["nbgrader"]["grade_id"], source=source,
                            visible=visible, hidden=hidden, names=free_names(source),
                            snapshot=snapshot_dir / f"snap-{key}.pkl")
        self.cells.append(judged)
        return judged

    def run(self) -> dict[str, Verdict]:
        """Run every registered cell in the judge's sandbox; return verdicts by cell key."""
        if not self.cells:
            return {}
        work = self.spec.work_dir
        prepare_dirs(self.spec)
        budget = MAX_SNAPSHOTS
        header, body = [], bytearray()
        for cell in self.cells:
            name = f"{cell.key}.pkl"
            try:
                blob = untrusted.read_file(cell.snapshot, min(MAX_SNAPSHOT, budget))
            except FileNotFoundError:
                blob = None
            except OSError as exc:  # refused (a link, a FIFO, too big...): the cell runs without copies
                log.warning("snapshot %s refused: %s", cell.snapshot.name, exc)
                blob = None
            if blob is not None:
                budget -= len(blob)
                _write_new(work / name, blob, self.spec.uid)
            code = cell.code().encode("utf-8")
            header.append({"id": cell.key, "snapshot": name, "start": len(body), "length": len(code)})
            body += code
        request = json.dumps({"cells": header, "timeout": self.cell_timeout}).encode() + b"\n" + bytes(body)
        _write_new(work / "judge-request.bin", request, self.spec.uid)
        remaining = max(1.0, self.deadline - time.monotonic())
        code = run_judge(self.spec, remaining, self.handle)
        if code is None:
            self.timed_out = True
        try:
            text = untrusted.read_file(work / "verdicts.txt", MAX_VERDICTS).decode("utf-8", "replace")
        except OSError as exc:
            log.warning("no verdicts from the judge: %s", exc)
            text = ""
        return parse_verdicts(text, self.cells)


def _write_new(path: Path, blob: bytes, uid: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o400)
    try:
        if os.geteuid() == 0:
            os.fchown(fd, uid, uid)
        with os.fdopen(fd, "wb", closefd=False) as handle:
            handle.write(blob)
    finally:
        os.close(fd)


def apply_verdict(cell: NotebookNode, judged: JudgedCell, verdict: Verdict) -> None:
    """Make a test cell's outputs say exactly what the judge decided, and hide its hidden lines.

    nbgrader scores a test cell from its outputs: an error output (or stderr) gives 0, a number
    given as the cell's result gives partial credit. The kernel that produced these outputs is the
    trainee's, so they are made harmless first, then the judge's verdict is written in.
    """
    kept = []
    showed_error = False
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "error":
            showed_error = True
            if verdict.passed:  # the judge passed it: show the kernel's complaint as text only
                text = "\n".join(out.get("traceback") or [f"{out.get('ename')}: {out.get('evalue')}"])
                kept.append(nbformat.v4.new_output("stream", name="stdout", text=_strip_ansi(text) + "\n"))
                continue
            kept.append(out)
        elif kind == "execute_result":
            kept.append(nbformat.v4.new_output("display_data", data=out.get("data", {}),
                                               metadata=out.get("metadata", {})))
        elif kind == "stream" and out.get("name") == "stderr":
            kept.append(nbformat.v4.new_output("stream", name="stdout", text=out.get("text", "")))
        else:
            kept.append(out)
    if not verdict.passed and not showed_error:  # a visible failure already shows its own traceback
        kept.append(nbformat.v4.new_output("error", ename="TestFailed", evalue=verdict.message,
                                           traceback=[verdict.message]))
    cell.outputs = kept
    cell.source = judged.visible + ("\n" + PLACEHOLDER if judged.hidden.strip() else "")


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
