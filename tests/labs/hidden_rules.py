"""Static check of the hidden-test authoring rules R1-R4 and R7-R9 (courses/manufacturing-ai/README.md).

The production grader runs the visible part of each test cell in the trainee's kernel and the hidden block
afterwards in a separate sandboxed process, on a copy of the variables it reads. A notebook written for the old
in-kernel runner can pass there and fail (or, worse, pass for the wrong reason) here, so every lab's source
notebook is read with the ast/symtable modules and each broken rule is reported as "R<n> <cell>: <what>".
"""

from __future__ import annotations

import ast
import builtins
import re
import symtable
from dataclasses import dataclass

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# Names an IPython kernel provides without any cell defining them.
KERNEL_NAMES = frozenset(dir(builtins)) | {"get_ipython", "display", "In", "Out", "_", "__", "___", "exit", "quit"}
# Names the judge gives a test cell (academy/grading/judge.py); hidden code reads them only behind this guard, so
# that the cell still runs in a plain kernel.
GRADER_NAMES = {"rerun_notebook": 'if "rerun_notebook" in globals():'}


@dataclass(frozen=True)
class Problem:
    """One broken rule in one cell."""

    rule: str  # "R1".."R4", "R7".."R9"
    cell: str  # grade_id, or "cell <index>"
    what: str

    def __str__(self) -> str:
        return f"{self.rule} {self.cell}: {self.what}"


@dataclass(frozen=True)
class Names:
    """What a piece of code binds at notebook level and which notebook-level names it reads first."""

    bound: frozenset[str]
    reads: frozenset[str]


def python_source(cell_source: str) -> str:
    """Return a cell's source as plain Python (IPython magics become function calls)."""
    return TransformerManager().transform_cell(cell_source)


def names_of(code: str) -> Names:
    """Return the notebook-level names code binds and those it reads without binding (flow-insensitive)."""
    table = symtable.symtable(code, "<cell>", "exec")
    bound = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}
    reads = {s.get_name() for s in table.get_symbols() if s.is_referenced() and s.get_name() not in bound}
    stack = list(table.get_children())
    while stack:
        child = stack.pop()
        stack.extend(child.get_children())
        for s in child.get_symbols():
            if s.is_declared_global() and s.is_assigned():
                bound.add(s.get_name())  # `global x; x = ...` inside a function binds x in the notebook
            elif s.is_global() and s.is_referenced():
                reads.add(s.get_name())
    return Names(frozenset(bound), frozenset(reads - bound))


def split_test_cell(source: str) -> tuple[str, str | None, str]:
    """Return (visible part, hidden block or None, whatever follows END HIDDEN TESTS)."""
    begin, end = source.find(BEGIN_HIDDEN), source.find(END_HIDDEN)
    if begin < 0:
        return source, None, ""
    return source[:begin], source[begin + len(BEGIN_HIDDEN):end if end >= 0 else len(source)], (
        source[end + len(END_HIDDEN):] if end >= 0 else "")


def korean_first(text: str) -> bool:
    """Return whether a message reads "<Korean> / <English>": Hangul before the first " / ", English after."""
    head, sep, tail = text.partition(" / ")
    return bool(HANGUL.search(head)) and bool(sep) and bool(LATIN_WORD.search(tail))


def message_text(node: ast.expr) -> str | None:
    """Return the literal text of a message expression (f-string values as {}), or None if it has none."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp):
        left, right = message_text(node.left), message_text(node.right)
        if left is not None or right is not None:
            return (left or "{}") + (right or "{}")
    return None


def _hidden_message_problems(code: str, cell: str) -> list[Problem]:
    problems = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Assert):
            msg = node.msg
            if msg is None:
                problems.append(Problem("R4", cell, f"hidden assert on line {node.lineno} has no message"))
            elif not (isinstance(msg, ast.Constant) and isinstance(msg.value, str)):
                problems.append(Problem("R4", cell, f"hidden assert on line {node.lineno}: the message must be "
                                                    "one plain string literal (no f-string, format or +)"))
            elif not korean_first(msg.value):
                problems.append(Problem("R4", cell, f"hidden assert on line {node.lineno}: message "
                                                    f"{msg.value!r} is not '<Korean> / <English>'"))
        elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            arg = node.exc.args[0]
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str) and korean_first(arg.value)):
                problems.append(Problem("R4", cell, f"hidden raise on line {node.lineno}: the message must be one "
                                                    "plain '<Korean> / <English>' string literal"))
    return problems


def _visible_message_problems(code: str, cell: str) -> list[Problem]:
    problems = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Assert) and node.msg is not None:
            text = message_text(node.msg)
            if text is None or not korean_first(text):
                shown = ast.unparse(node.msg)[:80]
                problems.append(Problem("R4", cell, f"visible assert on line {node.lineno}: message {shown} is not "
                                                    "'<Korean> / <English>' text"))
    return problems


def _r1_problems(source: str, cell: str, is_test: bool) -> list[Problem]:
    begins, ends = source.count(BEGIN_HIDDEN), source.count(END_HIDDEN)
    if not begins and not ends:
        return []
    if not is_test:
        return [Problem("R1", cell, "hidden tests outside an autograded test cell")]
    problems = []
    if begins > 1 or ends > 1:
        problems.append(Problem("R1", cell, f"{begins} hidden blocks; a test cell may have at most one"))
    if begins != ends or source.find(BEGIN_HIDDEN) > source.find(END_HIDDEN):
        problems.append(Problem("R1", cell, "BEGIN/END HIDDEN TESTS markers do not pair up"))
    _, _, after = split_test_cell(source)
    if after.strip():
        problems.append(Problem("R1", cell, "code after END HIDDEN TESTS: the hidden block must end the cell"))
    return problems


def _meta(cell: nbformat.NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _free_names(expr: ast.expr) -> set[str]:
    """Return the names an expression reads from outside it (a comprehension's or lambda's own names left out)."""
    inner: set[str] = set()
    for node in ast.walk(expr):
        if isinstance(node, ast.comprehension):
            inner |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Lambda):
            inner |= {a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs}
            inner |= {a.arg for a in (node.args.vararg, node.args.kwarg) if a is not None}
    return {n.id for n in ast.walk(expr) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - inner


def given_names(nb: nbformat.NotebookNode) -> set[str]:
    """Return the names the instructor's locked cells give the notebook as data: bound there by a statement that reads
    only other given names, modules and builtins (not a call of the trainee's function), and by no solution cell.

    A trainee's cell can rebind any of them before a test reads it (R9): hidden code must not take ground truth from
    them.
    """
    given: set[str] = set()
    modules: set[str] = set()
    solved: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or _meta(cell).get("grade"):
            continue
        try:
            tree = ast.parse(python_source(cell.source))
        except SyntaxError:
            continue
        if _meta(cell).get("solution"):
            solved |= names_of(ast.unparse(tree)).bound
            continue
        for statement in tree.body:
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                modules |= {(a.asname or a.name).split(".")[0] for a in statement.names}
                continue
            if not isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                continue
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            bound = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            reads = _free_names(statement.value) if statement.value else set()
            if reads <= given | modules | KERNEL_NAMES:
                given |= bound
            else:
                given -= bound
    return given - solved


def check_notebook(nb: nbformat.NotebookNode) -> list[Problem]:
    """Return every broken rule R1-R4 and R7-R9 in an nbgrader source notebook, in cell order."""
    problems: list[Problem] = []
    given = given_names(nb)
    defined: set[str] = set(KERNEL_NAMES)  # what the trainee's kernel holds after the visible code so far
    from_hidden: dict[str, str] = {}  # name -> cell whose hidden code (re)bound it last
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = _meta(cell)
        where = meta.get("grade_id", f"cell {index}")
        is_test = bool(meta.get("grade")) and not meta.get("solution")
        r1 = _r1_problems(cell.source, where, is_test)
        problems += r1
        if r1:
            continue
        visible_src, hidden_src, _ = split_test_cell(cell.source)
        try:
            visible_py = python_source(visible_src)
            visible = names_of(visible_py)
            hidden_py = python_source(hidden_src) if hidden_src is not None else None
            hidden = names_of(hidden_py) if hidden_py is not None else None
        except SyntaxError as exc:
            problems.append(Problem("R1", where, f"does not parse: {exc.msg} (line {exc.lineno})"))
            continue
        for name in sorted(visible.reads & from_hidden.keys()):
            problems.append(Problem("R2", where, f"reads `{name}`, which the hidden code of "
                                                 f"{from_hidden[name]} binds; hidden code never runs in the kernel"))
        if not meta.get("solution"):
            problems += _visible_message_problems(visible_py, where)
        defined |= visible.bound
        for name in visible.bound:
            from_hidden.pop(name, None)
        if hidden is None:
            continue
        for name in sorted(hidden.reads - defined):
            if name in GRADER_NAMES:
                if GRADER_NAMES[name] not in hidden_src:
                    problems.append(Problem("R8", where, f"hidden code reads `{name}` (the judge gives it) without "
                                                         f"`{GRADER_NAMES[name]}`: a plain kernel has no such name"))
                continue
            problems.append(Problem("R3", where, f"hidden code reads `{name}`, which the notebook does not define "
                                                 "at that point"))
        for name in sorted((hidden.reads & from_hidden.keys()) & defined):
            problems.append(Problem("R2", where, f"hidden code reads `{name}`, which the hidden code of "
                                                 f"{from_hidden[name]} rebinds; it gets the kernel's value"))
        for name in sorted(hidden.reads & given):
            problems.append(Problem("R9", where, f"hidden code reads `{name}`, which a locked cell gives the notebook: "
                                                 "a trainee's cell can rebind it; read the data file or restate it"))
        for name in hidden.bound:
            from_hidden[name] = where
        problems += _hidden_message_problems(hidden_py, where)
        if is_test:
            problems += _introspection_problems(visible_py + "\n" + hidden_py, where)
    return problems


# Attributes that reach into a function's code or module rather than calling it: in the judge the trainee's
# functions are handles that refuse them (R7).
INTROSPECTION = frozenset({"__globals__", "__code__", "__closure__", "__dict__", "__defaults__", "__kwdefaults__",
                           "__builtins__", "f_globals", "f_locals"})


def _introspection_problems(python: str, where: str) -> list[Problem]:
    found = sorted({node.attr for node in ast.walk(ast.parse(python))
                    if isinstance(node, ast.Attribute) and node.attr in INTROSPECTION})
    return [Problem("R7", where, f"reads `.{attr}` of an object: the judge gives tests the trainee's functions "
                                 "as handles to call, never their code or globals") for attr in found]
