"""Screen a trainee's own code for the ways of faking test results, before it runs.

Test cells run in the same interpreter as the trainee's code, so a trainee could replace what
they rely on (numpy.testing, builtins, IPython's traceback display, the kernel's reply). The
runtime guard catches replaced objects; this screen refuses the tools for doing it at all:
writing attributes of imported modules, reaching the interpreter's internals
(get_ipython, builtins, sys.modules, frames, ctypes, gc) and running code built from strings.
A hit gives no automatic points and asks for an instructor's review.
"""
from __future__ import annotations

import ast
import re

from nbformat import NotebookNode

from academy.grading.execute import is_test_cell

FORBIDDEN_NAMES = frozenset({
    "get_ipython", "__builtins__", "__import__", "exec", "eval", "compile", "globals", "vars",
    "locals", "setattr", "delattr", "breakpoint", "__loader__", "__spec__",
})
FORBIDDEN_MODULES = frozenset({
    "builtins", "ctypes", "gc", "importlib", "IPython", "ipykernel", "zmq", "jupyter_client",
    "traitlets", "inspect", "unittest.mock", "mock", "sys", "atexit", "signal", "threading",
    "multiprocessing", "academy_kernel_guard", "cffi", "_thread", "runpy", "code", "codeop", "marshal", "judge",
})
FORBIDDEN_ATTRIBUTES = frozenset({
    "__dict__", "__code__", "__globals__", "__closure__", "__subclasses__", "__mro__", "__bases__",
    "__class__", "__builtins__", "__func__", "__self__", "f_globals", "f_locals", "f_back",
    "tb_frame", "gi_frame", "cr_frame", "settrace", "setprofile", "showtraceback",
    "_showtraceback", "set_custom_exc", "input_transformers_cleanup", "input_transformers_post",
    "ast_transformers", "do_execute", "run_cell", "__qualname__", "f_code", "co_consts",
})
ALLOWED_MODULE = "IPython.display"  # display(), HTML(), clear_output(): ordinary notebook use
ALLOWED_MAGICS = frozenset({"matplotlib", "time", "timeit"})


def _transform(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


_MAGIC_OPTIONS = re.compile(r"^\s*(?:-[A-Za-z]+(?:\s*[0-9]+)?\s+)+")  # %timeit -n 3 -r1 ...


def _parse_magic_code(code: str) -> ast.AST | None:
    """Return a timing magic's code parsed (magics in it made calls), with or without its leading options."""
    for text in (code, _MAGIC_OPTIONS.sub("", code, count=1)):
        try:
            return ast.parse(_transform(text))
        except Exception:  # noqa: BLE001 - not Python: IPython will not run it either
            continue
    return None


class _Screen(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: list[str] = []
        self.modules: set[str] = set()
        self.depth = 0  # inside a timing magic's code

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(alias.name)
            self.modules.add(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        self._check_module(base)
        for alias in node.names:
            self._check_module(f"{base}.{alias.name}")
            self.modules.add(alias.asname or alias.name)  # may be a submodule: treat as one

    def _check_module(self, name: str) -> None:
        if name == ALLOWED_MODULE or name.startswith(ALLOWED_MODULE + "."):
            return
        for forbidden in FORBIDDEN_MODULES:
            if name == forbidden or name.startswith(forbidden + "."):
                self.found.append(f"imports {name}")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES:
            self.found.append(f"uses {node.id}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in FORBIDDEN_ATTRIBUTES:
            self.found.append(f"uses .{node.attr}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        # getattr(x, "__code__") or attrgetter("tb_frame") reach what .__code__ and .tb_frame would. A name
        # computed at run time is ordinary code (getattr(row, column)) and is left to the judge's own checks.
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if called in ("getattr", "hasattr", "attrgetter", "methodcaller"):
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value in FORBIDDEN_ATTRIBUTES:
                    self.found.append(f"uses .{arg.value}")
        # `%matplotlib inline` and the timing magics come through as run_line_magic calls.
        if (isinstance(func, ast.Attribute) and func.attr in ("run_line_magic", "run_cell_magic")
                and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
                and func.value.func.id == "get_ipython" and node.args
                and isinstance(node.args[0], ast.Constant) and node.args[0].value in ALLOWED_MAGICS):
            for arg in node.args[1:]:
                self.visit(arg)
                if node.args[0].value != "matplotlib" and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    self._screen_magic_code(arg.value)  # %time and %timeit run their code: screen it too
            return
        self.generic_visit(node)

    def _screen_magic_code(self, code: str) -> None:
        """Screen the code a %time or %timeit magic runs (its options, such as -n 3, left out), one level deep."""
        if self.depth >= 1:
            self.found.append("nests timing magics")  # IPython would not run that code as written either
            return
        tree = _parse_magic_code(code)
        if tree is not None:
            self.depth += 1
            try:
                self.visit(tree)
            finally:
                self.depth -= 1

    def _check_target(self, target: ast.expr) -> None:
        root = target
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
        if isinstance(target, ast.Attribute) and isinstance(root, ast.Name) and root.id in self.modules:
            self.found.append(f"changes {ast.unparse(target)}")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_target(target)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_target(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._check_target(target)
        self.generic_visit(node)


def screen_source(source: str) -> list[str]:
    """Return the tampering tools a piece of trainee code uses (empty when clean)."""
    try:
        tree = ast.parse(_transform(source))
    except SyntaxError:
        return []  # it will fail when run; nothing it could tamper with
    screen = _Screen()
    screen.visit(tree)
    return screen.found


def screen_notebook(nb: NotebookNode, restored_ids: set[str]) -> list[str]:
    """Return the findings in every code cell the trainee controls.

    Cells that autograde restores from the gradebook (tests, locked cells) are the instructor's.
    """
    findings: list[str] = []
    modules: set[str] = set()
    for index, cell in enumerate(nb.cells):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        meta = cell.get("metadata", {}).get("nbgrader", {})
        restored = grade_id in restored_ids and (is_test_cell(cell) or meta.get("locked"))
        if cell.get("cell_type") != "code" or restored:
            continue
        screen = _Screen()
        screen.modules = modules  # aliases imported in earlier cells still count
        try:
            screen.visit(ast.parse(_transform(cell.source)))
        except SyntaxError:
            continue
        findings += [f"cell {index + 1}: {item}" for item in screen.found]
    return findings
