"""The judge: run each test cell, hidden tests included, on a copy of the trainee's variables.

Runs as a plain script inside a sandbox of its own (it imports nothing from the academy), after
the trainee's kernel has finished. The trainee's kernel never sees a hidden test: for every test
cell it only saved a copy (cloudpickle) of the variables the cell reads, taken just before the cell
ran. Here each test cell runs whole (visible and hidden lines) in a child process forked for that
cell alone, on its own copy, with nothing of the other cells' tests in memory. Whatever the
trainee's objects do while a test calls them stays in this sandbox: the only thing that leaves it
is one line per cell in `verdicts.txt`, which the worker reads as untrusted data.

A cell passes only if its own last statement ran: the worker appends to each cell a line that
writes a random token, unknown to anything before the cell's last line runs. Failures say only
which assertion message was raised; the worker shows it only if it is one the instructor wrote.

Input, in the working folder (written by the worker, read once, then deleted):
  judge-request.bin: one JSON line {"cells": [{"id", "snapshot", "start", "length"}], "timeout": s}
                     followed by the cells' code, concatenated (UTF-8).
Output: verdicts.txt, lines "<id> pass <token>" (from the cell itself), "<id> fail <hex message>",
  "<id> error <hex exception name>", "<id> load <hex exception name>", "<id> timeout",
  "<id> tampered <hex what>".
"""
from __future__ import annotations

import builtins
import json
import os
import select
import signal
import sys
import types
from typing import Callable

REQUEST = "judge-request.bin"
VERDICTS = "verdicts.txt"
VERDICT_FD = 3  # the fd a cell's last line writes its token to
MAX_REQUEST = 64 * 1024 * 1024
# Module families whose functions and classes tests rely on: replacing one is tampering.
WATCHED_ROOTS = ("builtins", "math", "operator", "numpy", "pandas", "sklearn", "scipy", "torch", "statistics")
# Classes whose methods tests call on the trainee's results.
WATCHED_CLASSES = ("pandas.DataFrame", "pandas.Series", "pandas.Index", "pandas.core.generic.NDFrame")
# Dunder methods that decide how a value compares or converts: a class the trainee defined that
# overrides them can pretend to equal anything, so its values are not trusted in a test.
TRUSTED_VALUE_METHODS = frozenset({
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__float__", "__int__",
    "__index__", "__abs__", "__sub__", "__rsub__", "__add__", "__radd__", "__neg__", "__round__",
    "__array_ufunc__", "__array_function__",
})
# Audit events refused when the trainee's code (directly, or through a helper such as inspect) asks.
DENIED_FOR_TRAINEE = ("object.__getattr__", "object.__setattr__", "sys.settrace", "sys.setprofile", "sys._current_frames",
                      "gc.", "ctypes.", "os.fork", "os.forkpty", "_thread.start_new_thread", "os.kill",
                      "os.killpg", "signal.pthread_kill", "sys.addaudithook", "os.exec", "os.posix_spawn",
                      "subprocess.Popen", "os.system", "open", "marshal.loads", "code.__new__",
                      "function.__new__", "exec", "compile")
# A cell's code object holds its token: no trainee code may reach a code object.
CODE_ATTRIBUTES = frozenset({"f_code", "__code__", "gi_code", "cr_code", "ag_code", "__defaults__",
                             "__kwdefaults__"})
# Standard modules that hand frames, code, threads or processes to whoever calls them: the hook looks
# through them to their caller, so a library's own use is allowed and the trainee's is not.
PASS_THROUGH = frozenset({"inspect", "traceback", "linecache", "dis", "types", "functools", "operator",
                          "logging", "contextlib", "pdb", "bdb", "code", "codeop", "threading", "_thread",
                          "multiprocessing", "subprocess", "concurrent", "asyncio", "signal", "os", "gc",
                          "ctypes", "importlib", "runpy", "pickle", "copyreg"})
def _library_roots() -> tuple[str, ...]:
    roots = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    return tuple(sorted(r.rstrip("/") + "/" for r in roots)) + ("/usr/lib/", "/usr/local/lib/")


LIBRARY = _library_roots()
HERE = os.path.dirname(os.path.abspath(__file__))


def _is_trainee(filename: str) -> bool:
    """Return whether code from this file is the trainee's: anything neither installed nor ours."""
    if filename.startswith(("<ipython-input", "<dynamic-code>")):
        return True  # a notebook cell; cloudpickle names the code it carries by value <dynamic-code>
    if filename.startswith("<") or not filename.startswith("/"):
        return False  # <frozen ...>, <string> of dataclasses and namedtuple, <test cell>, Cython's own paths
    return not (filename.startswith(LIBRARY) or filename.startswith(HERE + "/"))


def _make_hook(namespace: dict) -> Callable[[str, tuple], None]:
    """Return the audit hook of one cell's child.

    Everything it uses is bound now, as default arguments: the trainee's code runs in this
    process and could otherwise replace a module global or a builtin the hook looks up later.
    Frames are told apart by their globals (no audited attribute is read, so the hook never
    calls itself): the cell's own namespace, a real installed module's dict, or the trainee's.
    """

    def hook(event: str, args: tuple, _cell: dict = namespace, _modules: dict = sys.modules,
             _getframe: Callable = sys._getframe, _denied: tuple = DENIED_FOR_TRAINEE,
             _code: frozenset = CODE_ATTRIBUTES, _through: frozenset = PASS_THROUGH,
             _trainee_file: Callable = _is_trainee, _str: type = str, _isinstance: Callable = isinstance,
             _getattr: Callable = getattr, _len: Callable = len, _error: type = RuntimeError) -> None:
        if not event.startswith(_denied):
            return
        if event.startswith("object.") and (_len(args) < 2 or args[1] not in _code):
            return
        if event == "open":
            path = _str(args[0]) if args else ""
            if not (path.startswith("/proc/") and path.rstrip("/").rsplit("/", 1)[-1] in ("mem", "maps", "pagemap")):
                return
        frame = _getframe(1)
        while frame is not None:
            f_globals = frame.f_globals
            if f_globals is _cell:
                return  # the instructor's test itself
            name = f_globals.get("__name__")
            module = _modules.get(name) if _isinstance(name, _str) else None
            if module is None or name == "__main__" or _getattr(module, "__dict__", None) is not f_globals:
                break  # a namespace that is no real module's: the trainee's code
            if name.split(".")[0] in _through:
                frame = frame.f_back  # a helper: who called it?
                continue
            path = _getattr(module, "__file__", None) or ""
            if path and _trainee_file(path):
                break
            return  # an installed library asked for it for its own use
        else:
            return
        raise _error(f"{event} is not allowed while tests run / 채점 중에는 허용되지 않습니다")

    return hook


def _watched() -> tuple[tuple[object, tuple[tuple[str, object], ...]], ...]:
    """Return (owner, its callables and classes) for the modules and classes tests rely on.

    Immutable, so that trainee code that reaches this record through a frame cannot edit it.
    """
    found = []
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in WATCHED_ROOTS:
            continue
        try:
            members = dict(vars(module))
        except TypeError:
            continue
        found.append((module, tuple((k, v) for k, v in members.items()
                                    if callable(v) or isinstance(v, types.ModuleType))))
    for dotted in WATCHED_CLASSES:
        module_name, _, cls_name = dotted.rpartition(".")
        cls = getattr(sys.modules.get(module_name), cls_name, None)
        if isinstance(cls, type):
            found.append((cls, tuple((k, v) for k, v in vars(cls).items() if callable(v))))
    return tuple(found)


def _tampered(watched: tuple) -> str:
    for owner, members in watched:
        for key, value in members:
            current = owner.__dict__.get(key, None) if isinstance(owner, type) else getattr(owner, key, None)
            if current is not value:
                return f"{getattr(owner, '__name__', owner)}.{key} replaced"
    return ""


def _untrusted_classes() -> str:
    """Name a class defined by the trainee that overrides how its values compare, if any."""
    seen: set[int] = set()
    stack = list(type.__subclasses__(object))
    while stack:
        cls = stack.pop()
        if id(cls) in seen:
            continue
        seen.add(id(cls))
        try:
            stack.extend(type.__subclasses__(cls))
        except TypeError:
            continue
        own = set(vars(cls)) & TRUSTED_VALUE_METHODS
        if not own:
            continue
        for name in sorted(own):
            method = getattr(vars(cls)[name], "__func__", vars(cls)[name])
            code = getattr(method, "__code__", None)
            if code is not None and _generated_by_dataclass(cls, name, code):
                continue  # a dataclass's own field-by-field comparison
            if code is not None and _is_trainee(code.co_filename):
                return f"{cls.__qualname__} defines {name}"
    return ""


def _generated_by_dataclass(cls: type, name: str, code: types.CodeType) -> bool:
    """Return whether a comparison method is exactly what @dataclass writes for this class's fields."""
    import dataclasses

    if not dataclasses.is_dataclass(cls):
        return False
    try:
        fields = [(f.name, object, dataclasses.field(compare=f.compare)) for f in dataclasses.fields(cls)]
        params = getattr(cls, "__dataclass_params__", None)
        reference = dataclasses.make_dataclass(cls.__name__, fields, eq=True, order=bool(getattr(params, "order", False)))
    except Exception:  # noqa: BLE001 - anything odd is not a plain dataclass
        return False
    ours = vars(reference).get(name)
    mine = getattr(ours, "__code__", None)
    return mine is not None and (mine.co_code, mine.co_names, mine.co_consts) == (code.co_code, code.co_names, code.co_consts)


def _line(cell_id: str, kind: str, detail: str = "") -> bytes:
    text = f"{cell_id} {kind}" + (f" {detail.encode('utf-8', 'replace').hex()}" if detail else "")
    return (text[:8000] + "\n").encode()


def _no_new_threads() -> None:
    """Let this process start no thread or process: nothing may race the checks after a cell.

    Python 3.11 raises no audit event when a thread starts, so the kernel's own limit does it
    (RLIMIT_NPROC 0 for this unprivileged uid). Libraries that would spread work over threads
    (scikit-learn through joblib, PyTorch) are told to stay in this thread first.
    """
    try:
        import joblib

        joblib.parallel_config(backend="sequential", n_jobs=1).__enter__()
    except Exception:  # noqa: BLE001 - no joblib, nothing to tell
        pass
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            torch.set_num_threads(1)
        except Exception:  # noqa: BLE001
            pass
    if os.geteuid() != 0:
        import resource

        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


def _run_cell(buf: bytearray, cell: dict, watched: tuple) -> None:
    """Be the child for one cell: keep only its code, load its copy, run it, report, exit."""
    holder = [bytes(buf[cell["start"]:cell["start"] + cell["length"]]).decode("utf-8")]
    buf[:] = bytes(len(buf))  # the other cells' code (and their tokens) leave this process's memory
    cell_id = str(cell["id"])
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    _no_new_threads()
    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    sys.addaudithook(_make_hook(namespace))
    try:
        with open(cell["snapshot"], "rb") as handle:
            import cloudpickle

            namespace.update(cloudpickle.loads(handle.read()))
    except FileNotFoundError:
        pass  # nothing could be copied (e.g. the notebook stopped before this cell): names are missing
    except BaseException as exc:  # noqa: BLE001 - the trainee's objects failed to load: the cell fails
        os.write(VERDICT_FD, _line(cell_id, "load", type(exc).__name__))
        os._exit(1)
    try:
        exec(compile(holder.pop(), "<test cell>", "exec"), namespace)  # noqa: S102 - the instructor's test
    except AssertionError as exc:
        message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
        os.write(VERDICT_FD, _line(cell_id, "fail", message))
    except BaseException as exc:  # noqa: BLE001 - any other failure of the cell
        os.write(VERDICT_FD, _line(cell_id, "error", type(exc).__name__))
    problem = _tampered(watched) or _untrusted_classes()
    if problem:
        os.write(VERDICT_FD, _line(cell_id, "tampered", problem))
    os._exit(0)


def _wait(pid: int, timeout: float) -> bool:
    """Wait for a child; return False (after killing it) when it outlives the timeout."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        ready, _, _ = select.select([fd], [], [], timeout)
        os.close(fd)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return False
        os.waitpid(pid, 0)
        return True
    os.waitpid(pid, 0)
    return True


def _not_dumpable() -> None:
    """Make this process's memory unreadable to processes of the same uid (/proc/pid/mem, ptrace)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0


def main() -> None:
    """Read the request, judge each cell in a child of its own, write the verdicts, exit."""
    fd = os.open(REQUEST, os.O_RDONLY | os.O_NOFOLLOW)
    size = os.fstat(fd).st_size
    if size > MAX_REQUEST:
        raise SystemExit("request too large")
    buf = bytearray(size)
    view, done = memoryview(buf), 0
    while done < size:
        got = os.readv(fd, [view[done:]])
        if got == 0:
            break
        done += got
    os.close(fd)
    os.unlink(REQUEST)  # nothing the cells run can read it back from the folder
    _not_dumpable()  # nor from this process's memory: a cell's process has the same uid
    newline = buf.index(b"\n")
    header = json.loads(bytes(buf[:newline]))
    body_start = newline + 1
    timeout = float(header.get("timeout", 60))
    verdicts = os.open(VERDICTS, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    if verdicts != VERDICT_FD:
        os.dup2(verdicts, VERDICT_FD)
        os.close(verdicts)
    for module in ("numpy", "numpy.testing", "pandas", "pandas.testing", "math", "operator"):
        try:
            __import__(module)
        except ImportError:
            pass
    watched = _watched()
    for cell in header["cells"]:
        cell = {**cell, "start": body_start + int(cell["start"])}
        pid = os.fork()
        if pid == 0:
            try:
                _run_cell(buf, cell, watched)
            finally:
                os._exit(2)
        if not _wait(pid, timeout):
            os.write(VERDICT_FD, _line(str(cell["id"]), "timeout"))
    buf[:] = bytes(len(buf))


if __name__ == "__main__":
    # Run as the module "judge" (as the fork server does), not as __main__: the audit hook tells the
    # judge's own frames from the trainee's by their module.
    import judge as _judge

    if sys.path and sys.path[0] == HERE:
        sys.path.pop(0)
    _judge.main()
