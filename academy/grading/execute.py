"""nbgrader's Execute preprocessor: output cap, tamper probes, and test cells decided by the judge.

Before a test cell runs, the kernel saves a copy of the variables the cell reads; then only the
cell's visible lines run in the kernel. When the notebook is done, the judge (judging.py) runs each
test cell whole on its copy and its verdicts replace what the kernel's run of the cell showed.
"""
from __future__ import annotations

import ast
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbclient.util import run_sync
from nbformat import NotebookNode
from traitlets import Integer

from nbgrader.preprocessors import Execute

from academy.grading.judging import apply_verdict

if TYPE_CHECKING:
    from academy.grading.judging import Judge, Verdict

GUARD_MODULE = "academy_kernel_guard"
log = logging.getLogger(__name__)
ERROR_TEXT = 4000  # characters kept of an error's name, message and each traceback line


def is_test_cell(cell: NotebookNode) -> bool:
    """Return whether nbgrader grades this cell by running it (an autograder test cell)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


@dataclass
class ExecutionReport:
    """What the guarded execution of one job's notebooks found."""

    violations: list[str] = field(default_factory=list)
    output_capped: bool = False
    judge: Judge | None = None  # set: test cells are decided by it (see judging.py)
    snapshot_dir: Path | None = None  # where the kernel saves its copies (its socket folder)
    judge_timed_out: bool = False
    verdicts: dict[tuple[str, str], Verdict] = field(default_factory=dict)  # by (notebook, grade id)


class GuardedExecute(Execute):
    """Execute a submission, capping output and asking the kernel guard for tampering."""

    report: ExecutionReport | None = None  # set on a per-job subclass by execute_for()
    sandbox_manager: type | None = None

    output_bytes = Integer(2 * 1024 * 1024, help="Cap on all cell outputs kept, in bytes.").tag(
        config=True
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if self.sandbox_manager is not None:
            kwargs["kernel_manager_class"] = self.sandbox_manager
        super().__init__(*args, **kwargs)
        self.nonce = secrets.token_hex(16)
        self._took: dict[int, float] = {}  # seconds each cell took in the kernel, by index
        self.violations = self.report.violations if self.report is not None else []
        self._output_seen = 0

    def output(self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None,
               cell_index: int) -> NotebookNode | None:
        """Keep an output only while the notebook's outputs stay under the cap; errors always, but short."""
        if msg.get("msg_type") == "error":
            _shorten_error(msg.get("content", {}))
        self._output_seen += len(json.dumps(msg.get("content", {}), default=str))
        if self._output_seen > self.output_bytes and msg.get("msg_type") != "error":
            if self.report is not None:
                self.report.output_capped = True
            return None
        return super().output(outs, msg, display_id, cell_index)

    def on_cell_executed(self, **kwargs: Any) -> None:
        """nbgrader copies a failed cell's error from the kernel's reply: keep that one short too."""
        reply = kwargs.get("execute_reply") or {}
        if isinstance(reply, dict) and isinstance(reply.get("content"), dict):
            _shorten_error(reply["content"])
        super().on_cell_executed(**kwargs)

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> Any:
        """Run the notebook, then let the judge decide every test cell."""
        self._judged: dict[int, Any] = {}
        if self.report is not None and self.report.judge is not None:
            self.report.judge.notebook = str(((resources or {}).get("nbgrader") or {}).get("notebook", ""))
        nb, resources = super().preprocess(nb, resources, km)
        judge = self.report.judge if self.report is not None else None
        if judge is not None and self._judged:
            verdicts = judge.run()
            self.report.judge_timed_out = judge.timed_out  # type: ignore[union-attr]
            for index, judged in self._judged.items():
                verdict = verdicts[judged.key]
                self.report.verdicts[(judge.notebook, judged.grade_id)] = verdict  # type: ignore[union-attr]
                if verdict.tampered:
                    self.violations.append(f"{judged.grade_id}: {verdict.tampered}")
                apply_verdict(nb.cells[index], judged, verdict)
        return nb, resources

    async def async_execute_cell(self, cell: NotebookNode, cell_index: int,
                                 execution_count: int | None = None,
                                 store_history: bool = True) -> NotebookNode:
        """Run a cell; a test cell runs only its visible lines, after its variables were saved."""
        judge = self.report.judge if self.report is not None else None
        if judge is None or not judge.judges(cell):
            started = time.monotonic()
            result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            self._took[cell_index] = time.monotonic() - started  # what a rerun of it may take again
            if is_test_cell(cell):
                await self._probe(cell)
            return result
        assert self.report is not None and self.report.snapshot_dir is not None
        earlier = [c.source for c in self.nb.cells[:cell_index] if c.get("cell_type") == "code"]
        kept = [i for i, c in enumerate(self.nb.cells[:cell_index]) if c.get("cell_type") == "code"
                and not judge.judges(c)]
        judged = judge.add(cell, self.report.snapshot_dir, earlier, [self.nb.cells[i].source for i in kept],
                           sum(self._took.get(i, 0.0) for i in kept))
        self._judged[cell_index] = judged
        judged.missing = await self._save_copy(cell, judged.names, judged.snapshot)
        cell.source = judged.visible  # the hidden lines never reach the trainee's kernel
        try:
            result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            cell.source = judged.visible
        await self._probe(cell)
        return result

    # nbconvert calls the sync wrapper, which was bound to the base class's coroutine.
    execute_cell = run_sync(async_execute_cell)

    async def async_start_new_kernel_client(self) -> Any:
        """Connect to the new kernel; one that died before its first answer is started again, once.

        Nothing of the submission has run at that point, so a second start gives a trainee nothing the
        first did not. The worker's log says why the first died (see forkserver.py and the grader).
        """
        try:
            return await super().async_start_new_kernel_client()
        except RuntimeError as exc:
            handle = getattr(self.sandbox_manager, "handle", None)
            if "died before replying" not in str(exc) or getattr(handle, "killed", False):
                raise
            log.warning("the kernel died as it started (%s); starting it again, once", exc)
        self.km = self.create_kernel_manager()  # nbclient dropped the dead one's manager
        await self.async_start_new_kernel()
        return await super().async_start_new_kernel_client()  # a second death is the job's error

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    async def _save_copy(self, cell: NotebookNode, names: list[str], path: Path) -> list[str]:
        """Ask the kernel's guard to save the named variables; return the names it could not save."""
        if not names:
            return []
        expression = f"__import__('sys').modules[{GUARD_MODULE!r}].snapshot({str(path)!r}, {names!r})"
        assert self.kc is not None
        msg_id = self.kc.execute("", silent=True, store_history=False, user_expressions={"copy": expression})
        try:
            reply = await self.async_wait_for_reply(msg_id, cell)
            data = reply["content"]["user_expressions"]["copy"]["data"]["text/plain"]  # type: ignore[index]
            missing = json.loads(ast.literal_eval(data))
        except Exception:  # noqa: BLE001 - the trainee's kernel is not trusted to answer sensibly
            return list(names)
        return [n for n in missing if n in names] if isinstance(missing, list) else list(names)

    async def _probe(self, cell: NotebookNode) -> None:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "?")
        expression = f"__import__('sys').modules[{GUARD_MODULE!r}].check({self.nonce!r})"
        assert self.kc is not None
        msg_id = self.kc.execute("", silent=True, store_history=False,
                                 user_expressions={"guard": expression})
        reply = await self.async_wait_for_reply(msg_id, cell)
        try:
            data = reply["content"]["user_expressions"]["guard"]["data"]["text/plain"]  # type: ignore[index]
            verdict = str(ast.literal_eval(data))
        except (KeyError, TypeError, ValueError, SyntaxError):
            verdict = ""
        if verdict == f"{self.nonce}:ok":
            return
        if verdict.startswith(f"{self.nonce}:"):
            detail = verdict[len(self.nonce) + 1:]
        else:
            detail = "the integrity probe did not answer"
        self.violations.append(f"after {grade_id}: {detail}")


def _shorten_error(content: dict[str, Any]) -> None:
    """Cut an error's name, message and traceback to a size the worker can keep (a trainee's error is theirs)."""
    if not isinstance(content, dict):
        return
    for key in ("ename", "evalue"):
        if key in content:
            content[key] = str(content[key])[:ERROR_TEXT]
    trace = content.get("traceback")
    if trace is not None:
        lines = [str(line)[:ERROR_TEXT] for line in (trace if isinstance(trace, list) else [trace])]
        content["traceback"] = lines[:3] + (["..."] if len(lines) > 23 else []) + lines[3:][-20:]


def execute_for(report: ExecutionReport, manager: type) -> type[GuardedExecute]:
    """Return an Execute preprocessor class bound to one job's report and sandbox."""
    return type("JobGuardedExecute", (GuardedExecute,), {"report": report, "sandbox_manager": manager})
