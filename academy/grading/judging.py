"""The worker's side of the judge (judge.py): which cells it judges, what it is given, what it says.

A test cell is split where nbgrader marks its hidden tests: only the visible lines run in the
trainee's kernel (their output is the trainee's feedback), after the kernel saved a copy of the
variables the cell reads (and, so that the request says nothing of the hidden lines, of every name
the notebook's earlier cells bind). Once the notebook has run, the judge runs every test cell whole,
hidden lines included, in a process that never runs the trainee's code (judge.py); its verdicts alone
decide the points. The hidden lines never reach the kernel, the published notebook or the feedback:
a failed hidden test shows only a message the instructor wrote, or a generic one.
"""
from __future__ import annotations

import ast
import builtins
import functools
import json
import logging
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat
from nbformat import NotebookNode

from academy.grading import untrusted
from academy.grading.judge import RERUN_FILES, literal_messages
from academy.grading.sandbox import KernelHandle, SandboxSpec, prepare_dirs, run_judge

log = logging.getLogger(__name__)
BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"
PLACEHOLDER = "### 숨은 테스트: 채점할 때만 실행됩니다 / Hidden tests: they run only at grading"
MAX_SNAPSHOT = 256 * 1024 * 1024  # one test cell's copy of the trainee's variables
MAX_SNAPSHOTS = 512 * 1024 * 1024  # all of one submission's copies together
MAX_VERDICTS = 1024 * 1024
MAX_RERUN = 16 * 1024 * 1024  # the earlier cells' code sent for one cell's rerun_notebook
RERUN = "rerun_notebook"  # a test that calls it is sent the notebook's earlier cells (judge.py)
# A rerun's time: what the cells took in the kernel, x3 (the judge runs them on one thread), + 5 s.
RERUN_MARGIN, RERUN_EXTRA = 3.0, 5.0
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


@functools.lru_cache(maxsize=1024)
def _bound_by(source: str) -> tuple[str, ...]:
    """Return the names one cell binds, sorted (cached: every test cell asks again for all the cells before it)."""
    tree = _parse(source)
    return tuple(sorted(_stored(tree))) if tree is not None else ()


def _parse(source: str) -> ast.Module | None:
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return None


def _plain_python(source: str) -> str:
    """Return a cell's code as the kernel ran it, magics turned into get_ipython() calls (judge.py stubs those)."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - left as it is: it fails to compile there, as it failed here
        return source


def _timed_code(node: ast.AST) -> str | None:
    """Return the code of a %time or %%time magic call (get_ipython().run_line_magic('time', code)), else None:
    IPython runs it in the notebook's namespace, so what it binds is bound there. A %%time with a statement on its
    own line runs nothing (IPython refuses it)."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("run_line_magic", "run_cell_magic") and node.args
            and isinstance(node.args[0], ast.Constant) and node.args[0].value == "time"):
        return None
    if node.func.attr == "run_cell_magic" and not (len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
                                                   and str(node.args[1].value).strip() == ""):
        return None
    index = 1 if node.func.attr == "run_line_magic" else 2  # (name, line) or (name, line, cell)
    code = node.args[index] if len(node.args) > index else None
    return code.value if isinstance(code, ast.Constant) and isinstance(code.value, str) else None


def _stored(node: ast.AST, nested: bool = False) -> set[str]:
    names: set[str] = set()
    for sub in ast.walk(node):
        timed = None if nested else _timed_code(sub)  # one level: the magic's own code, no magic within it
        if timed is not None:
            try:
                tree = _parse(timed)
            except Exception:  # noqa: BLE001 - more rewrites than IPython allows, too deep: it binds nothing
                tree = None
            if tree is not None:
                names |= _stored(tree, nested=True)
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


def bound_names(sources: list[str]) -> list[str]:
    """Return every name the given cells bind (assignments, imports, definitions), in first-seen order."""
    found: dict[str, None] = {}
    for source in sources:
        for name in _bound_by(source):
            if name not in found and not hasattr(builtins, name):
                found[name] = None
    return list(found)


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
    missing: list[str] = field(default_factory=list)
    rerun: list[str] | None = None  # plain Python of the cells before it, when its test runs them again
    rerun_seconds: float = 0.0  # what those cells took in the kernel: the judge gives the cell that much more time


@dataclass
class Verdict:
    """What the judge said about one cell."""

    passed: bool
    message: str = ""  # written into the graded notebook (a hidden assertion's own message included)
    tampered: str = ""
    shown: str = ""  # what the trainee's feedback page may say: nothing that comes from the hidden lines


def parse_verdicts(text: str, cells: list[JudgedCell]) -> dict[str, Verdict]:
    """Turn the judge's verdicts file (one line per cell, written when no trainee code was left) into verdicts."""
    by_key = {cell.key: cell for cell in cells}
    said: dict[str, list[str]] = {}
    for raw in text.splitlines()[:10000]:
        parts = raw.split(" ")
        if parts and parts[0] in by_key and parts[0] not in said:
            said[parts[0]] = parts[1:]
    verdicts = {}
    for key, cell in by_key.items():
        words = said.get(key, [])
        if words == ["pass"]:
            verdicts[key] = Verdict(True)
        else:
            message = _failure_message(cell, words)
            verdicts[key] = Verdict(False, message, shown=_shown_message(cell, words))
    return verdicts


def _shown_message(cell: JudgedCell, words: list[str]) -> str:
    """Return the part of a failure's message that says nothing of the hidden lines ("" when it would).

    A visible assertion's own message, the time limit, variables that could not be loaded and names the
    visible lines read are the trainee's to see; a hidden assertion's message, a bare failure and the
    name of an exception (which may have been raised by a hidden line) are not.
    """
    kind, detail = (words[0], words[1] if len(words) > 1 else "") if words else ("", "")
    if kind == "assert" and detail.isdigit():
        literals = literal_messages(cell.source)
        index = int(detail)
        if index < len(literals) and literals[index] in literal_messages(cell.visible):
            return literals[index]
        return ""
    if kind in ("timeout", "load"):
        return _failure_message(cell, words)
    if kind == "error":
        shown = [n for n in cell.missing if n in set(free_names(cell.visible))]
        return MESSAGES["missing"].format(", ".join(shown), ", ".join(shown)) if detail == "NameError" and shown else ""
    return ""


def _failure_message(cell: JudgedCell, words: list[str]) -> str:
    kind, detail = (words[0], words[1] if len(words) > 1 else "") if words else ("", "")
    if kind == "assert" and detail.isdigit():
        literals = literal_messages(cell.source)
        index = int(detail)
        if index < len(literals):
            message = literals[index]
            return message if message in literal_messages(cell.visible) else f"숨은 테스트 / Hidden test: {message}"
        return GENERIC_FAIL
    if kind == "fail":
        return GENERIC_FAIL
    if kind == "timeout":
        return MESSAGES["timeout"]
    if kind == "load":
        return MESSAGES["load"].format("?", "?")
    if kind == "error":
        name = detail if detail in SHOWN_ERRORS else "?"
        shown = [n for n in cell.missing if n in set(free_names(cell.visible))]
        if name == "NameError" and shown:
            return MESSAGES["missing"].format(", ".join(shown), ", ".join(shown))
        return MESSAGES["error"].format(name, name)
    return MESSAGES["none"]


class Judge:
    """One submission's judge: the cells the kernel saved copies for, then one sandboxed run."""

    def __init__(self, spec: SandboxSpec, handle: KernelHandle, tests: dict[str, dict[str, str]], deadline: float,
                 cell_timeout: float, rerun_files: Callable[[Path], None] | None = None) -> None:
        self.spec = spec
        self.handle = handle
        self.tests = tests  # notebook -> grade id -> the test cell's source in the gradebook
        self.notebook = ""  # the notebook being executed (set per notebook by the Execute preprocessor)
        self.deadline = deadline  # time.monotonic() by which the whole job must end
        self.cell_timeout = cell_timeout
        self.rerun_files = rerun_files  # writes the kernel's starting files into a new folder (for a rerun)
        self.cells: list[JudgedCell] = []
        self.pending: list[JudgedCell] = []  # registered since the last run (one run per notebook)
        self.runs = 0
        self.timed_out = False

    def judges(self, cell: NotebookNode) -> bool:
        """Return whether a cell is one of the instructor's test cells (restored from the gradebook)."""
        meta = cell.get("metadata", {}).get("nbgrader", {})
        return (cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")
                and meta.get("grade_id") in self.tests.get(self.notebook, {}))

    def add(self, cell: NotebookNode, snapshot_dir: Path, earlier: list[str] | None = None,
            rerun: list[str] | None = None, rerun_seconds: float = 0.0) -> JudgedCell:
        """Register a test cell about to run; return what the kernel must save and run.

        earlier: the sources of the notebook's cells before this one. Every name they bind is saved too,
        so that the list the kernel is sent reads the same whatever the hidden lines use.
        rerun: the earlier code cells that are not the instructor's tests, as they ran: what rerun_notebook runs
        again, kept only when the cell's test calls it; rerun_seconds: what they took in the kernel.
        """
        source = self.tests[self.notebook][cell.metadata["nbgrader"]["grade_id"]]  # the gradebook's, never the notebook's
        visible, hidden = split_hidden(source)
        key = f"c{len(self.cells)}"
        needed = free_names(source)
        padding = bound_names(earlier or [])
        names = sorted(set(padding) | (set(needed) & (set(padding) | set(free_names(visible)))))
        judged = JudgedCell(key=key, grade_id=cell.metadata["nbgrader"]["grade_id"], source=source,
                            visible=visible, hidden=hidden, names=names,
                            snapshot=snapshot_dir / f"snap-{key}.pkl")
        if RERUN in hidden or RERUN in visible:
            judged.rerun = [_plain_python(s) for s in rerun or []]
            judged.rerun_seconds = RERUN_MARGIN * max(0.0, rerun_seconds) + RERUN_EXTRA
        self.cells.append(judged)
        self.pending.append(judged)
        return judged

    def run(self) -> dict[str, Verdict]:
        """Run the cells registered since the last run in the judge's sandbox; return verdicts by cell key."""
        cells, self.pending = self.pending, []
        if not cells:
            return {}
        self.runs += 1
        work = self.spec.work_dir
        if self.rerun_files is not None and any(c.rerun is not None for c in cells) \
                and not (work / RERUN_FILES).exists():
            work.mkdir(parents=True, exist_ok=True)
            try:
                self.rerun_files(work / RERUN_FILES)
            except (OSError, ValueError) as exc:  # no room in the box: the rerun runs in the judge's own folder
                log.warning("the kernel's files were not copied for a rerun: %s", exc)
                shutil.rmtree(work / RERUN_FILES, ignore_errors=True)  # not half a copy (no judge runs yet)
        prepare_dirs(self.spec)
        budget = MAX_SNAPSHOTS
        header, body = [], bytearray()
        for cell in cells:
            name = f"{cell.key}.pkl"
            try:
                budget -= untrusted.copy_file(cell.snapshot, work / name, min(MAX_SNAPSHOT, max(budget, 0)),
                                              uid=self.spec.uid)
            except FileNotFoundError:
                pass
            except OSError as exc:  # refused (a link, a FIFO, too big...): the cell runs without copies
                log.warning("snapshot %s refused: %s", cell.snapshot.name, exc)
            code = cell.source.encode("utf-8")
            entry = {"id": cell.key, "snapshot": name, "start": len(body), "length": len(code)}
            body += code
            if cell.rerun is not None:
                again = json.dumps(cell.rerun).encode("utf-8")
                if len(again) <= MAX_RERUN:  # else the test's rerun_notebook fails: too large to run again
                    entry.update(rerun_start=len(body), rerun_length=len(again), rerun_seconds=cell.rerun_seconds)
                    body += again
            header.append(entry)
        verdicts = f"verdicts-{self.runs}-{secrets.token_hex(8)}.txt"
        request = json.dumps({"cells": header, "timeout": self.cell_timeout, "verdicts": verdicts}).encode()
        _write_new(work / "judge-request.bin", request + b"\n" + bytes(body), self.spec.uid)
        remaining = max(1.0, self.deadline - time.monotonic())
        if run_judge(self.spec, remaining, self.handle) is None:
            self.timed_out = True
        try:
            text = untrusted.read_file(work / verdicts, MAX_VERDICTS).decode("utf-8", "replace")
        except OSError as exc:
            log.warning("no verdicts from the judge: %s", exc)
            text = ""
        return parse_verdicts(text, cells)


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
    # nbgrader keeps the md5 of the whole cell, hidden lines included: a guessing oracle for them.
    cell.get("metadata", {}).get("nbgrader", {}).pop("checksum", None)


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
