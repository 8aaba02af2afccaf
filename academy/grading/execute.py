"""nbgrader's Execute preprocessor with an output cap and tamper probes after each test cell."""
from __future__ import annotations

import ast
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from nbclient.util import run_sync
from nbformat import NotebookNode
from traitlets import Integer

from nbgrader.preprocessors import Execute

GUARD_MODULE = "academy_kernel_guard"


def is_test_cell(cell: NotebookNode) -> bool:
    """Return whether nbgrader grades this cell by running it (an autograder test cell)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


@dataclass
class ExecutionReport:
    """What the guarded execution of one job's notebooks found."""

    violations: list[str] = field(default_factory=list)
    output_capped: bool = False


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
        self.violations = self.report.violations if self.report is not None else []
        self._output_seen = 0

    def output(self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None,
               cell_index: int) -> NotebookNode | None:
        """Keep an output only while the notebook's outputs stay under the cap."""
        self._output_seen += len(json.dumps(msg.get("content", {}), default=str))
        if self._output_seen > self.output_bytes and msg.get("msg_type") != "error":
            if self.report is not None:
                self.report.output_capped = True
            return None
        return super().output(outs, msg, display_id, cell_index)

    async def async_execute_cell(self, cell: NotebookNode, cell_index: int,
                                 execution_count: int | None = None,
                                 store_history: bool = True) -> NotebookNode:
        """Run a cell; after a test cell, check that nothing it relies on was replaced."""
        result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if is_test_cell(cell):
            await self._probe(cell)
        return result

    # nbconvert calls the sync wrapper, which was bound to the base class's coroutine.
    execute_cell = run_sync(async_execute_cell)

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


def execute_for(report: ExecutionReport, manager: type) -> type[GuardedExecute]:
    """Return an Execute preprocessor class bound to one job's report and sandbox."""
    return type("JobGuardedExecute", (GuardedExecute,), {"report": report, "sandbox_manager": manager})
