"""The judge: run each test cell, hidden tests included, where no trainee code can reach it.

Runs as a plain script inside a sandbox of its own (it imports nothing from the academy but kernel_guard, its
neighbour in the sandbox, for the seccomp filter both install), after the
trainee's kernel has finished. The kernel never saw a hidden test: for every test cell it only saved
a copy (cloudpickle) of the variables the cell reads. Here, per test cell, two processes are forked:

- the trainee's side loads that copy (the trainee's code runs there, and only there) and answers
  requests: call this function, read this attribute, iterate this object;
- the tester runs the whole cell. It never runs a line of the trainee's code and never unpickles
  their classes: what it gets from the trainee's side is plain data (numbers, strings, containers,
  NumPy, pandas, scikit-learn, SciPy and PyTorch objects of the libraries' own classes), read with
  an unpickler that refuses every other class and function. Anything else (the trainee's functions,
  classes and objects) is a remote handle whose calls go back to the trainee's side; a handle cannot
  be compared, converted to a number or a truth value, so no "equal to anything" object or replaced
  library function reaches a test. The tester's exit status is the verdict. What the test passes to
  the trainee's functions travels by copy; `on_trainee_side(obj)` (in the cell's namespace) leaves an
  object of the test's on the trainee's side and returns a handle, for probes changed in place.
  `rerun_notebook(data_dir, names)` (also in the namespace) has the trainee's side run the notebook's
  cells before this one again, from the top, in a fresh namespace with ACADEMY_DATA_DIR set to a folder
  the test made (changed data), and returns the named variables of that run: a table computed from the
  whole data set and looked up later shows there, where every call on a changed frame looks clean.
  The tester opens only files the trainee's side cannot have written (read-only mounts, folders the test made):
  its code runs as its copy loads, in the same /tmp, and could otherwise plant the data a hidden test reads.

The parent holds the request (an unlinked file, read one cell at a time right before that cell's
tester is forked) and is not dumpable, so neither side can read another cell's tests. When every
cell is done and every process but itself has ended, it writes the verdicts to a fresh file named
in the request; the worker reads them.

Input (written by the worker in the working folder, opened and deleted at once):
  judge-request.bin: one JSON line {"cells": [{"id", "snapshot", "start", "length"[, "rerun_start",
                     "rerun_length", "rerun_seconds"]}], "timeout": s, "verdicts": name} followed by the cells'
                     code, concatenated (UTF-8); a cell whose test calls rerun_notebook also has a JSON list of the
                     earlier cells' code (plain Python, the instructor's test cells left out) in the body, and
                     rerun_seconds more time (about what those cells took in the kernel).
  rerun-files/: the files the kernel's folder started with; rerun_notebook runs the cells there.
Output: <verdicts>, lines "<id> pass" | "<id> assert <n>" (the cell's n-th literal assertion message,
  in literal_messages order) | "<id> fail" | "<id> error <ExceptionName>" | "<id> load" | "<id> timeout".
"""
from __future__ import annotations

import ast
import builtins
import collections
import copy
import functools
import importlib
import io
import json
import os
import pickle
import select
import signal
import socket
import stat
import struct
import sys
import types
from typing import Any

REQUEST = "judge-request.bin"
RERUN_FILES = "rerun-files"  # beside the request: the kernel's starting files, for rerun_notebook
MAX_MESSAGE = 1024 * 1024 * 1024  # one answer from the trainee's side
# The tester's exit status.
PASS, FAIL, ERROR, LOAD = 0, 1, 2, 3
ERROR_BASE, ASSERT_BASE = 20, 100  # + index of the exception name / of the literal message
ERROR_NAMES = sorted(n for n in dir(builtins) if isinstance(getattr(builtins, n), type)
                     and issubclass(getattr(builtins, n), BaseException))[:79]

# ---------------------------------------------------------------------------------------------- what may cross
# Packages whose own classes (and a few of their reconstruction functions) the tester accepts as data.
TRUSTED_ROOTS = frozenset({"numpy", "pandas", "sklearn", "scipy", "torch", "datetime", "decimal", "fractions",
                           "pathlib", "collections", "zoneinfo", "uuid", "math", "statistics", "enum"})
# Modules that read or write files, spawn work or load pickles, and numpy.ma (a masked value passes
# numpy.testing's comparisons with anything): nothing of theirs crosses.
IO_PREFIXES = ("numpy.ma", "numpy._pytesttester", "sklearn.utils.parallel", "numpy.lib.npyio", "numpy.lib._npyio", "numpy.lib._datasource", "numpy.lib.format", "numpy.f2py",
               "numpy.distutils", "numpy.testing", "numpy.ctypeslib", "numpy.lib.stride_tricks",
               "numpy.lib._stride_tricks", "pandas.io", "pandas._testing", "pandas.core.computation", "scipy.io",
               "scipy._lib", "sklearn.datasets", "sklearn.utils._testing", "sklearn.utils._bunch")
# Of PyTorch, only these travel as data (tensors travel through _tensor, never through torch's own pickling).
TORCH_PREFIXES = ("torch.nn.modules", "torch.nn.parameter", "torch.nn.utils.parametrize", "torch.optim")
# ... and only these modules' functions (torch.fx, torch.jit, torch.distributed, torch.hub and the like run code
# or reach the network); no PyTorch function is ever called to rebuild an object.
TORCH_FUNCTION_MODULES = frozenset({"torch", "torch.functional", "torch.nn.functional", "torch.nn.init", "torch.linalg",
                                    "torch.special", "torch.fft", "torch.random"})
# The only packages whose functions may cross as values (never methods, never private names).
FUNCTION_ROOTS = frozenset({"numpy", "scipy", "sklearn", "pandas", "torch", "math", "statistics"})
# Parts of a function's name that say it touches files, processes or code: such a function never crosses.
RISKY_NAME_PARTS = ("load", "save", "file", "read", "write", "open", "exec", "eval", "compile", "system", "popen",
                    "pickle", "spawn", "fork", "memmap", "strided", "ctypes", "buffer", "query", "set_config",
                    "seed", "import", "src", "source", "script", "shell", "command", "subprocess", "thread")
SAFE_BUILTINS = frozenset({"complex", "slice", "range", "set", "frozenset", "bytearray", "object", "list", "dict",
                           "tuple", "bool", "int", "float", "str", "bytes"})
RECONSTRUCTOR_PREFIXES = ("_unpickle", "__pyx_unpickle_", "_new_", "_reconstruct", "_timedelta_unpickle")
RECONSTRUCTOR_NAMES = frozenset({"scalar", "_frombuffer", "newObj", "__generator_ctor", "__randomstate_ctor",
                                 "__bit_generator_ctor"})
# Module objects the tester may import for itself when the trainee's namespace holds them (np, pd, nn...).
IMPORTABLE_ROOTS = TRUSTED_ROOTS | {"os", "sys", "re", "json", "random", "itertools", "functools", "operator",
                                    "string", "copy", "typing", "warnings", "time", "io", "matplotlib", "PIL"}


def _root(name: str) -> str:
    return name.split(".")[0]


def _io_like(module: str, name: str) -> bool:
    short = name.rsplit(".", 1)[-1].lower()
    if short.startswith(RECONSTRUCTOR_PREFIXES) or short in RECONSTRUCTOR_NAMES:
        return module.startswith(IO_PREFIXES)
    return module.startswith(IO_PREFIXES) or any(part in short for part in RISKY_NAME_PARTS)


def _class_allowed(cls: type) -> bool:
    """Return whether instances of a class may cross to the tester as data (never a metaclass: calling one
    would make a new class whose methods the trainee's side chose)."""
    if not isinstance(cls, type) or issubclass(cls, type) or type(cls).__call__ is not type.__call__:
        return False  # a metaclass, or a class whose call makes classes (enum's functional API) or more
    module = getattr(cls, "__module__", "") or ""
    if module == "builtins":
        return cls.__name__ in SAFE_BUILTINS or cls in (type(None), type(NotImplemented), type(Ellipsis))
    if _root(module) not in TRUSTED_ROOTS or module.startswith(IO_PREFIXES):
        return False
    if _root(module) == "torch" and not (module.startswith(TORCH_PREFIXES) or cls.__name__ == "Size"):
        return False
    numpy = sys.modules.get("numpy")
    return not (numpy is not None and isinstance(cls, type) and issubclass(cls, numpy.memmap))


def _dotted_ok(name: str) -> bool:
    """A qualified name may go through classes (Outer.Inner) but names no dunder attribute at all."""
    return name.replace(".", "").isidentifier() and not any(_dunder(part) for part in name.split("."))


def _lookup(module: str, name: str) -> Any:
    """Find module.name as pickle would, but step only through classes, never through another module
    (pathlib.os._exit) or a dunder attribute (numpy.__builtins__)."""
    if not _dotted_ok(name):
        raise pickle.UnpicklingError(f"{module}.{name} is not accepted from the trainee's side")
    found: Any = importlib.import_module(module)
    parts = name.split(".")
    for i, part in enumerate(parts):
        if i and not isinstance(found, type):
            raise pickle.UnpicklingError(f"{module}.{name} is not accepted from the trainee's side")
        found = getattr(found, part)
    if isinstance(found, types.ModuleType):
        raise pickle.UnpicklingError(f"{module}.{name} is a module")
    return found


def _real_function(obj: Any) -> bool:
    """Return whether obj is really a function (Python, built-in or Cython), judged by its type."""
    kind = type(obj)
    if kind is types.FunctionType:
        return True
    if kind is types.BuiltinFunctionType:  # a module's (or class's) built-in function, not one bound to an object
        return obj.__self__ is None or isinstance(obj.__self__, (types.ModuleType, type))
    module = getattr(kind, "__module__", None) or ""
    if kind.__name__ in ("cython_function_or_method", "fused_cython_function"):
        return module == "builtins" or module.startswith("_cython_")
    return kind.__name__ == "_ArrayFunctionDispatcher" and module == "numpy"  # np.mean and the like


def _library_function_ok(obj: Any) -> bool:
    """Return whether obj is one of the trusted libraries' own functions with a harmless name: its real
    module (a function's own, found by lookup, not a name the trainee's side gave) decides."""
    if not _real_function(obj):
        return False
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", "") or ""
    if _root(module) == "torch" and not (module in TORCH_FUNCTION_MODULES or module.startswith(TORCH_PREFIXES)):
        return False
    return _root(module) in TRUSTED_ROOTS and not _io_like(module, name) and "<" not in name


def _global_allowed(module: str, name: str, obj: Any) -> bool:
    """Return whether the tester's unpickler may hand out this module-level object."""
    if module == "builtins":
        return name in SAFE_BUILTINS
    if module == "copyreg":
        return name in ("_reconstructor", "__newobj__", "__newobj_ex__")
    if module == "_codecs":
        return name == "encode"
    if module == "judge":
        return name in ("_tensor", "_torch_dtype", "_torch_device", "_libfunc", "_names", "_str_array")
    if _root(module) not in TRUSTED_ROOTS or module.startswith(IO_PREFIXES):
        return False
    if isinstance(obj, type):
        return _class_allowed(obj)
    if _io_like(module, name):
        return False
    numpy = sys.modules.get("numpy")
    if numpy is not None and type(obj) is numpy.ufunc:
        return True
    if not callable(obj):  # a library's own constant (pandas.NA)
        return _class_allowed(type(obj))
    short = name.rsplit(".", 1)[-1]
    return (_root(module) != "torch" and _library_function_ok(obj)
            and (short.startswith(RECONSTRUCTOR_PREFIXES) or short in RECONSTRUCTOR_NAMES))


def _libfunc(module: str, name: str) -> Any:
    """Return a library function named by the trainee's side (it is looked up here, never sent)."""
    if (not isinstance(module, str) or not isinstance(name, str) or _root(module) not in TRUSTED_ROOTS
            or module.startswith(IO_PREFIXES) or _io_like(module, name)):
        raise pickle.UnpicklingError(f"function {module}.{name} is not accepted")
    obj = _lookup(module, name)
    numpy = sys.modules.get("numpy")
    if numpy is not None and type(obj) is numpy.ufunc:
        return obj
    # A public module-level function of a numerical library: no method (Path.touch, DataFrame.to_csv), no
    # private helper (uuid._find_mac_near_keyword), nothing of pathlib, uuid, collections or the like.
    own = getattr(obj, "__name__", "") or ""
    reconstructor = own.startswith(RECONSTRUCTOR_PREFIXES) or own in RECONSTRUCTOR_NAMES  # called only via REDUCE
    if (not _library_function_ok(obj) or _root(obj.__module__) not in FUNCTION_ROOTS
            or (own.startswith("_") and not reconstructor) or "." in (getattr(obj, "__qualname__", own) or own)):
        raise pickle.UnpicklingError(f"{module}.{name} is not a library function")
    return obj


def _tensor(array: Any, dtype: str, requires_grad: bool, parameter: bool) -> Any:
    import torch

    value = torch.from_numpy(array).to(getattr(torch, dtype))
    return torch.nn.Parameter(value, requires_grad=requires_grad) if parameter else value.requires_grad_(requires_grad)


def _str_array(text: str, lengths: Any, shape: Any, order: str) -> Any:
    """Rebuild a NumPy array of Python strings (pandas' text columns) from one string and each element's length.

    Sent element by element, such an array is a pickle of one opcode or more per string, which the checked
    unpickler reads slowly; this way it is three objects."""
    numpy = sys.modules["numpy"]
    if (type(text) is not str or type(lengths) is not numpy.ndarray or lengths.dtype != numpy.int64
            or lengths.ndim != 1 or lengths.strides != (8,) or lengths.size > MAX_MESSAGE // 8
            or type(shape) is not tuple or type(order) is not str or order not in ("C", "F")
            or not all(type(n) is int and n >= 0 for n in shape) or len(shape) > 32
            or (lengths < 0).any() or (lengths > len(text)).any() or int(lengths.sum()) != len(text)
            or int(numpy.prod(shape, dtype=numpy.int64)) != len(lengths)):
        raise pickle.UnpicklingError("not a string array")
    ends = numpy.cumsum(lengths).tolist()
    starts = [0, *ends[:-1]]
    values = numpy.empty(shape, dtype=object, order=order)  # owns its data, as an array unpickled would
    values.reshape(-1, order=order)[:] = [text[a:b] for a, b in zip(starts, ends)]
    return values


def _torch_dtype(name: str) -> Any:
    import torch

    value = getattr(torch, name)
    if not isinstance(value, torch.dtype):
        raise pickle.UnpicklingError(f"{name} is not a torch dtype")
    return value


def _torch_device(name: str) -> Any:
    import torch

    return torch.device(name)


# ---------------------------------------------------------------------------------------------- the wire
def _send(sock: socket.socket, kind: str, payload: bytes = b"") -> None:
    head = kind.encode()
    sock.sendall(struct.pack("!QB", len(payload), len(head)) + head + payload)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(min(size - got, 16 * 1024 * 1024))
        if not chunk:
            raise EOFError("the other side closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _recv(sock: socket.socket) -> tuple[str, bytes]:
    size, head = struct.unpack("!QB", _recv_exact(sock, 9))
    if size > MAX_MESSAGE:
        raise EOFError("message too large")
    kind = _recv_exact(sock, head).decode()
    return kind, _recv_exact(sock, size)


# ---------------------------------------------------------------------------------------------- the tester's side
class TraineeError(Exception):
    """An exception raised by the trainee's code; never taken for the test's own assertion."""


class TraineeAssertionError(TraineeError):
    """An AssertionError raised inside the trainee's code (its message is theirs, not the test's)."""


class Remote:
    """A handle on one of the trainee's objects (function, class, instance) living on their side.

    Calls, attribute reads, item access and iteration go to the trainee's side and come back as
    data or as new handles. A handle compares equal only to itself and refuses to become a number,
    a truth value or a hash, so an object of the trainee's making cannot pass a test by pretending.
    """

    __slots__ = ("_link", "_ref")

    def __init__(self, link: Link, ref: int) -> None:
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_ref", ref)

    def _ask(self, op: str, *args: Any) -> Any:
        return object.__getattribute__(self, "_link").ask(op, object.__getattribute__(self, "_ref"), *args)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") and name not in ("__name__", "__qualname__", "__doc__",
                                                                        "__module__", "__wrapped__"):
            raise AttributeError(name)  # protocols (__array__, __float__...) are never borrowed from the trainee
        return self._ask("getattr", name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._ask("setattr", name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._ask("call", args, kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._ask("getitem", key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._ask("setitem", key, value)

    def __len__(self) -> int:
        value = self._ask("len")
        if type(value) is not int:
            raise TypeError("len() of the trainee's object is not an int")
        return value

    def __iter__(self) -> Remote:
        return self._ask("iter")

    def __next__(self) -> Any:
        return self._ask("next")

    def __contains__(self, item: Any) -> bool:
        value = self._ask("contains", item)
        if type(value) is not bool:
            raise TypeError("the trainee's object answered 'in' with something other than a bool")
        return value

    def __enter__(self) -> Any:
        return self._ask("enter")

    def __exit__(self, *exc: Any) -> None:
        self._ask("exit")

    def __repr__(self) -> str:
        value = self._ask("repr")
        return value if type(value) is str else "<trainee object>"

    __str__ = __repr__

    def __deepcopy__(self, memo: dict) -> Any:
        return self._ask("deepcopy")

    def __copy__(self) -> Any:
        return self._ask("copy")

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def __hash__(self) -> int:
        return object.__hash__(self)

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a test cannot use an object of the trainee's own class as a value here; "
                        "return plain data (numbers, arrays, data frames) / 직접 만든 클래스의 객체는 값으로 쓸 수 없습니다")

    __bool__ = __float__ = __int__ = __index__ = __complex__ = __abs__ = __neg__ = __pos__ = __round__ = _refuse
    __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _refuse
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __pow__ = __rpow__ = __matmul__ = __rmatmul__ = _refuse
    __and__ = __rand__ = __or__ = __ror__ = __xor__ = __rxor__ = __invert__ = _refuse

    def __reduce__(self) -> Any:
        raise TypeError("a handle travels only as a reference")


class _ToTrainee(pickle.Pickler):
    """The tester's pickler: handles go back as references, everything else as it is."""

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) is Remote:
            return ("r", object.__getattribute__(obj, "_ref"))
        return None


@functools.lru_cache(maxsize=1)
def _by_value_pickler() -> type:
    import cloudpickle

    return type("_ToTraineeByValue", (cloudpickle.Pickler,), {"persistent_id": _ToTrainee.persistent_id})


def _reduce_allowed(func: Any) -> bool:
    """Return whether the tester's unpickler may call func to rebuild an object."""
    if any(func is helper for helper in _OWN_HELPERS):
        return True
    if isinstance(func, type):
        return _class_allowed(func)
    numpy = sys.modules.get("numpy")
    if numpy is not None and type(func) is numpy.ufunc:
        return True
    import _codecs
    import copyreg

    if func is copyreg._reconstructor or func is copyreg.__newobj__ or func is copyreg.__newobj_ex__:
        return True  # their class arguments are checked in _checked_reduce
    if func is _codecs.encode:
        return True
    # Judged by the function's real type and own module: an object that only says it is numpy's
    # _reconstruct (a partial with a planted __module__ and __name__) is not called.
    if not _library_function_ok(func) or _root(func.__module__) == "torch":
        return False
    name = func.__name__
    return name.startswith(RECONSTRUCTOR_PREFIXES) or name in RECONSTRUCTOR_NAMES


def _dunder(key: Any) -> bool:
    return isinstance(key, str) and key.startswith("__") and key.endswith("__")


_PLAIN_MAPPINGS = (dict, collections.OrderedDict, collections.defaultdict, collections.Counter)


class _FromTrainee(pickle._Unpickler):  # type: ignore[name-defined]
    """The tester's unpickler: library data only (every call and every state checked); handles for the rest.

    The pure-Python unpickler is used so that each step can be checked: a global is looked up only in
    the allowed packages; only classes and the libraries' reconstruction functions are ever called;
    state never sets a dunder attribute (a planted __array_interface__ would let NumPy read any memory).
    """

    dispatch = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def __init__(self, data: bytes, link: Link) -> None:
        super().__init__(io.BytesIO(data))
        self.link = link

    def find_class(self, module: str, name: str) -> Any:
        if _root(module) not in TRUSTED_ROOTS | {"builtins", "copyreg", "_codecs", "judge"}:
            raise pickle.UnpicklingError(f"{module}.{name} is not accepted from the trainee's side")
        try:
            obj = _lookup(module, name) if module not in ("builtins", "copyreg", "_codecs") \
                else super().find_class(module, name)
        except (ImportError, AttributeError) as exc:
            raise pickle.UnpicklingError(f"{module}.{name} is not accepted from the trainee's side") from exc
        if not _global_allowed(module, name, obj):
            raise pickle.UnpicklingError(f"{module}.{name} is not accepted from the trainee's side")
        return obj

    def persistent_load(self, pid: Any) -> Any:
        if isinstance(pid, tuple) and len(pid) == 2 and pid[0] == "r" and type(pid[1]) is int:
            return Remote(self.link, pid[1])
        raise pickle.UnpicklingError("unknown reference")

    def _checked_reduce(self) -> None:
        args = self.stack.pop()
        func = self.stack[-1]
        if not _reduce_allowed(func) or not isinstance(args, tuple):
            raise pickle.UnpicklingError(f"the tester does not call {func!r}")
        import copyreg

        if func is copyreg._reconstructor:  # _reconstructor(cls, base, state): base.__new__(cls, state)
            if len(args) != 3 or not _class_allowed(args[0]) or not (
                    args[1] is object or (_class_allowed(args[1]) and issubclass(args[0], args[1]))):
                raise pickle.UnpicklingError("the tester does not build that class")
        elif func is copyreg.__newobj__ or func is copyreg.__newobj_ex__:
            if not args or not _class_allowed(args[0]):
                raise pickle.UnpicklingError("the tester does not build that class")
        elif not isinstance(func, type) and any(isinstance(arg, type) and not _class_allowed(arg) for arg in args):
            # a reconstructor (pandas' _new_Index and the like) calls cls.__new__ or cls.from_arrays on its class
            raise pickle.UnpicklingError("the tester does not build that class")
        elif getattr(func, "__name__", "") in ("__generator_ctor", "__randomstate_ctor"):
            # NumPy's generator constructors call their second argument: it must be NumPy's own.
            from numpy.random import _pickle as numpy_pickle

            own = getattr(numpy_pickle, "__bit_generator_ctor")  # (a literal __name here would be mangled)
            if any(arg is not own for arg in args[1:]):
                raise pickle.UnpicklingError("the tester does not call that")
        self.stack[-1] = func(*args)

    def _checked_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        if not (isinstance(cls, type) and _class_allowed(cls)):
            raise pickle.UnpicklingError(f"the tester does not build {cls!r}")
        self.append(cls.__new__(cls, *args))

    def _checked_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        if not (isinstance(cls, type) and _class_allowed(cls)):
            raise pickle.UnpicklingError(f"the tester does not build {cls!r}")
        self.append(cls.__new__(cls, *args, **kwargs))

    def _checked_build(self) -> None:
        state = self.stack[-1]
        parts = state if isinstance(state, tuple) else (state,)
        for part in parts:
            if isinstance(part, dict) and any(_dunder(key) for key in part):
                raise pickle.UnpicklingError("state may not set a dunder attribute")
        target = self.stack[-2]
        if isinstance(target, (type, types.ModuleType, types.FunctionType)) or not _class_allowed(type(target)):
            raise pickle.UnpicklingError("state is set on instances of the libraries' classes only")
        pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(target, numpy.dtype):
            # A dtype's state sets its flags as given: one that holds objects while saying it does not would
            # let raw bytes be read as object pointers. It must be what its description makes afresh.
            try:
                fresh = numpy.dtype(target.descr) if target.fields else numpy.dtype(target.str)
            except (TypeError, ValueError) as exc:
                raise pickle.UnpicklingError("a dtype that cannot be made afresh") from exc
            if fresh.flags != target.flags or fresh.hasobject != target.hasobject or fresh.itemsize != target.itemsize:
                raise pickle.UnpicklingError("a dtype whose flags do not match its description")

    def _checked_setitems(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        if type(target) not in _PLAIN_MAPPINGS:  # a Series' __setitem__ calls a callable key
            raise pickle.UnpicklingError("items are set on plain mappings only")
        if type(target) is not dict and any(_dunder(key) for key in items[::2]):
            raise pickle.UnpicklingError("no dunder keys on a mapping object")
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]

    def _checked_setitem(self) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        target = self.stack[-1]
        if type(target) not in _PLAIN_MAPPINGS:
            raise pickle.UnpicklingError("items are set on plain mappings only")
        if type(target) is not dict and _dunder(key):
            raise pickle.UnpicklingError("no dunder keys on a mapping object")
        target[key] = value

    def _refused(self) -> None:
        raise pickle.UnpicklingError("this pickle instruction is not accepted")

    dispatch[pickle.REDUCE[0]] = _checked_reduce
    dispatch[pickle.NEWOBJ[0]] = _checked_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = _checked_newobj_ex
    dispatch[pickle.BUILD[0]] = _checked_build
    dispatch[pickle.SETITEMS[0]] = _checked_setitems
    dispatch[pickle.SETITEM[0]] = _checked_setitem
    for _code in (pickle.INST, pickle.OBJ, pickle.EXT1, pickle.EXT2, pickle.EXT4):
        dispatch[_code[0]] = _refused


class Link:
    """The tester's end of the connection to the trainee's side."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def ask(self, op: str, *args: Any) -> Any:
        buffer = io.BytesIO()
        try:
            _ToTrainee(buffer, protocol=5).dump((op, *args))
        except (pickle.PicklingError, TypeError, AttributeError):
            # The test passes something of its own (a function, a class): by value, as cloudpickle does.
            buffer = io.BytesIO()
            _by_value_pickler()(buffer, protocol=5).dump((op, *args))
        _send(self.sock, "ask", buffer.getvalue())
        kind, payload = _recv(self.sock)
        if kind == "ok":
            return _FromTrainee(payload, self).load()
        if kind == "stop":
            if op != "next":  # only next() may end an iteration: elsewhere it would cut a test's loop short
                raise TraineeError("StopIteration outside next()")
            raise StopIteration
        name, message = json.loads(payload)
        message = str(message)[:2000]
        if name == "AssertionError":
            raise TraineeAssertionError(message)
        exc = getattr(builtins, name, None) if isinstance(name, str) else None
        if (isinstance(exc, type) and issubclass(exc, Exception) and exc is not AssertionError
                and not issubclass(exc, (StopIteration, StopAsyncIteration))):
            raise exc(message)
        raise TraineeError(f"{name}: {message}")


def literal_messages(source: str) -> list[str]:
    """Return, sorted, the assertion messages a cell writes as plain string literals."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found: set[str] = set()
    for node in ast.walk(tree):
        message = None
        if isinstance(node, ast.Assert):
            message = node.msg
        elif (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
              and isinstance(node.exc.func, ast.Name) and node.exc.func.id == "AssertionError" and node.exc.args):
            message = node.exc.args[0]
        if isinstance(message, ast.Constant) and isinstance(message.value, str):
            found.add(message.value)
    return sorted(found)


def read_names(source: str) -> list[str]:
    """Return every name a cell reads (nested functions included), builtins left out."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    return sorted(n for n in names if not hasattr(builtins, n))


# Files of its own under /proc/<pid>/ the tester (or a library it calls) may read: figures, never descriptors.
PROC_OWN = frozenset({"status", "stat", "statm", "cgroup", "mountinfo", "mounts", "limits", "maps", "io", "sched"})


def _on_read_only_mount(path: str) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _trainee_could_have_written(path: str, made: tuple[str, ...]) -> bool:
    """Whether the file at path (or a link on the way to it) lies where the trainee's side can write.

    The trainee's side runs as the tester's uid in the same /tmp, /dev/shm and working folder, and its code runs as
    its copy loads: it can plant a file there and hand the test a path (DATA_DIR) that names it. What the
    sandbox mounts read-only (the data folder, the Python installation, the system) it cannot change, nor a folder
    the tester made itself (made). A link met on the way must lie on a read-only mount too, or the trainee's side
    could swap it between this check and the open.
    """
    if ".." in path.split(os.sep):  # open() resolves a link before its "..", abspath() would not: refused whole
        return True
    full = os.path.abspath(path)
    real = os.path.realpath(full)
    if any(real == folder or real.startswith(folder + os.sep) for folder in made):
        return False
    if real.startswith("/sys/"):  # the kernel's own files: nobody plants one there
        return False
    if real.startswith("/proc/"):  # system-wide figures and this process's own, never another process's or a pipe's
        parts = real.split(os.sep)
        if not parts[2].isdigit():
            return parts[2] in ("self", "thread-self")
        return int(parts[2]) != os.getpid() or len(parts) != 4 or parts[3] not in PROC_OWN
    if not _on_read_only_mount(real):
        return True
    walked = os.sep
    for part in full.split(os.sep):
        if not part:
            continue
        step = os.path.join(walked, part)
        if os.path.islink(step) and not _on_read_only_mount(walked):
            return True
        walked = os.path.realpath(step)
    return False


def _guard_files() -> None:
    """Let the test open only files the trainee's side cannot have written (an audit hook: it cannot be removed).

    Without it a copy whose loading writes files (an object's __reduce__) and binds DATA_DIR to their folder makes
    a hidden test compare the trainee's answer with data of their own. Folders the test makes (tempfile) are its
    own: it writes changed data there for rerun_notebook. Any other write is refused too.
    """
    import tempfile

    tempfile.gettempdir()  # found once, now: the search writes a probe file in each candidate folder
    made: list[str] = []

    def hook(event: str, args: tuple) -> None:
        if event in ("tempfile.mkdtemp", "tempfile.mkstemp") and args and isinstance(args[0], str):
            made.append(os.path.realpath(args[0]))
            return
        if event != "open" or not args or args[0] is None or isinstance(args[0], int):
            return
        try:
            path = os.fsdecode(args[0])
        except TypeError:
            return
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        mode = args[1] if len(args) > 1 and isinstance(args[1], str) else "r"
        writes = bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND)) or any(
            c in mode for c in "wax+")
        real = os.path.realpath(os.path.abspath(path))
        inside_made = any(real == folder or real.startswith(folder + os.sep) for folder in made)
        if (writes and not inside_made) or _trainee_could_have_written(path, tuple(made)):
            raise PermissionError(f"the test may not open {path!r}: the trainee's code could have written it")

    sys.addaudithook(hook)


def _tester(sock: socket.socket, code: bytearray) -> int:
    """Run one test cell whole on data from the trainee's side; return the exit status (the verdict)."""
    source = bytes(code).decode("utf-8")
    code[:] = bytes(len(code))
    try:
        compiled = compile(source, "<test cell>", "exec")
    except SyntaxError:
        return ERROR_BASE + ERROR_NAMES.index("SyntaxError")
    literals, names = literal_messages(source), read_names(source)
    del source  # nothing below needs the cell's text
    link = Link(sock)
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    try:
        namespace.update(link.ask("names", names))
    except BaseException:  # noqa: BLE001 - the trainee's variables could not be brought over
        return LOAD
    # A test may leave an object of its own (a probe model that records its batches) on the trainee's
    # side, so that their functions can change it in place; it gets back a handle to read it through.
    namespace["on_trainee_side"] = functools.partial(link.ask, "keep")
    # Set after the trainee's names: a notebook that binds these names cannot stand in for them.
    namespace["rerun_notebook"] = functools.partial(_rerun_notebook, link)
    _guard_files()
    try:
        exec(compiled, namespace)  # noqa: S102 - the instructor's test
    except TraineeAssertionError:
        return ERROR_BASE + ERROR_NAMES.index("AssertionError")
    except TraineeError:
        return ERROR_BASE + ERROR_NAMES.index("Exception")
    except AssertionError as exc:
        message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else None
        if message in literals and literals.index(message) < 150:
            return ASSERT_BASE + literals.index(message)
        return FAIL
    except BaseException as exc:  # noqa: BLE001 - any other failure of the cell
        name = type(exc).__name__
        return ERROR_BASE + ERROR_NAMES.index(name) if name in ERROR_NAMES else ERROR
    return PASS


def _rerun_notebook(link: Link, data_dir: Any, names: Any) -> dict:
    """Run the notebook's cells before this test again on the trainee's side, with ACADEMY_DATA_DIR=data_dir;
    return {name: value} of the named variables that run left (a name it did not bind is left out).

    data_dir holds the files the test changed; every other file of the real data folder is linked in beside them.
    """
    if isinstance(names, str) or not all(isinstance(name, str) for name in names):
        raise TypeError("rerun_notebook(data_dir, names): names is a list of variable names")
    real = os.environ.get("ACADEMY_DATA_DIR", "")
    if real and os.path.isdir(real):
        _link_missing(real, os.path.abspath(data_dir))
    return dict(link.ask("rerun", os.path.abspath(data_dir), list(names)))


def _link_missing(real: str, changed: str, depth: int = 0) -> None:
    """Link into changed every entry of real it lacks; go into the folders both hold (a few levels deep)."""
    for entry in os.scandir(real):
        target = os.path.join(changed, entry.name)
        if not os.path.lexists(target):
            os.symlink(entry.path, target)
        elif depth < 4 and entry.is_dir() and os.path.isdir(target) and not os.path.islink(target):
            _link_missing(entry.path, target, depth + 1)


# ---------------------------------------------------------------------------------------------- the trainee's side
_BASIC = (type(None), bool, int, float, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset, range,
          slice, pickle.PickleBuffer, memoryview)


class _FromTester(pickle.Unpickler):
    def __init__(self, data: bytes, objects: dict[int, Any]) -> None:
        super().__init__(io.BytesIO(data))
        self.objects = objects

    def persistent_load(self, pid: Any) -> Any:
        obj = self.objects[pid[1]]
        return obj.obj if isinstance(obj, _Opaque) else obj


class _ToTester(pickle.Pickler):
    """The trainee's side's pickler: library data by value, everything of the trainee's as a handle."""

    def __init__(self, file: io.BytesIO, objects: dict[int, Any]) -> None:
        super().__init__(file, protocol=5)
        self.objects = objects

    def persistent_id(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _BASIC or kind is _Names or any(obj is helper for helper in _OWN_HELPERS):
            return None
        if isinstance(obj, types.ModuleType):
            return self._handle(obj)
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(obj, (torch.Tensor, torch.dtype, torch.device)):
            return None  # rebuilt from plain data on the tester's side (reducer_override)
        if isinstance(obj, type):
            return None if _class_allowed(obj) and (obj.__module__ == "builtins" or self._library_global(obj)) \
                else self._handle(obj)
        numpy = sys.modules.get("numpy")
        if callable(obj) and not (numpy is not None and isinstance(obj, numpy.ufunc)) and not _class_allowed(kind):
            # a function: a library's travels by name (reducer_override), the trainee's stays as a handle
            return None if self._library_global(obj) else self._handle(obj)
        if not _class_allowed(kind):
            return self._handle(obj)
        return None  # library data

    def _library_global(self, obj: Any) -> bool:
        module = getattr(obj, "__module__", None) or ""
        name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", "")
        if not module or "<" in name or _root(module) not in TRUSTED_ROOTS or module.startswith(IO_PREFIXES):
            return False
        if not isinstance(obj, type) and _io_like(module, name):
            return False
        try:
            found: Any = importlib.import_module(module)
            for part in name.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):
            return False
        return found is obj and (isinstance(obj, type) and _class_allowed(obj) or not isinstance(obj, type))

    def _handle(self, obj: Any) -> tuple[str, int]:
        ref = id(obj)
        self.objects[ref] = obj
        return ("r", ref)

    def reducer_override(self, obj: Any) -> Any:
        torch = sys.modules.get("torch")
        if torch is not None:
            if isinstance(obj, torch.Tensor):
                value = obj.detach().cpu()
                dtype = str(value.dtype).replace("torch.", "")
                array = value.to(torch.float32).numpy() if dtype == "bfloat16" else value.numpy()
                return (_tensor, (array, dtype, bool(obj.requires_grad), isinstance(obj, torch.nn.Parameter)))
            if isinstance(obj, torch.dtype):
                return (_torch_dtype, (str(obj).replace("torch.", ""),))
            if isinstance(obj, torch.device):
                return (_torch_device, (str(obj),))
        numpy = sys.modules.get("numpy")
        if numpy is not None and type(obj) is numpy.ndarray and obj.dtype == object and obj.size >= 64:
            order = "F" if obj.flags.f_contiguous and not obj.flags.c_contiguous else "C"
            flat = obj.ravel(order=order).tolist()
            if all(type(item) is str for item in flat):
                lengths = numpy.fromiter(map(len, flat), dtype=numpy.int64, count=len(flat))
                return (_str_array, ("".join(flat), lengths, tuple(int(n) for n in obj.shape), order))
        if (callable(obj) and not isinstance(obj, type) and not (numpy is not None and isinstance(obj, numpy.ufunc))
                and self._library_global(obj)):
            return (_libfunc, (obj.__module__, getattr(obj, "__qualname__", obj.__name__)))
        return NotImplemented


_OWN_HELPERS: tuple = ()  # set below: the reconstruction helpers the tester accepts by name


def _serve(sock: socket.socket, snapshot: str, rerun: list[str] | None = None) -> None:
    """Be the trainee's side of one cell: load the copy, then answer the tester until it is done.

    rerun: the code of the notebook's cells before this one, for rerun_notebook (None: the test does not ask).
    """
    objects: dict[int, Any] = {}
    namespace: dict[str, Any] = {}
    failure: BaseException | None = None
    try:
        with open(snapshot, "rb") as handle:
            import cloudpickle

            namespace = cloudpickle.loads(handle.read())
    except FileNotFoundError:
        pass  # nothing was saved (the notebook stopped before this cell): every name is missing
    except BaseException as exc:  # noqa: BLE001 - the trainee's objects failed to load
        failure = exc
    while True:
        try:
            kind, payload = _recv(sock)
        except EOFError:
            return
        try:
            request = _FromTester(payload, objects).load()
            if failure is not None:
                raise failure
            answer = _rerun(rerun, *request[1:]) if request[0] == "rerun" else _answer(request, namespace, objects)
        except StopIteration:
            _send(sock, "stop")
            continue
        except BaseException as exc:  # noqa: BLE001 - anything the trainee's code raises goes back as a name
            _send(sock, "err", json.dumps([type(exc).__name__, str(exc)[:2000]]).encode())
            continue
        buffer = io.BytesIO()
        try:
            _ToTester(buffer, objects).dump(answer)
        except BaseException:  # noqa: BLE001 - not picklable at all: a handle
            buffer = io.BytesIO()
            _ToTester(buffer, objects).dump(_Opaque(answer))
        _send(sock, "ok", buffer.getvalue())


class _NoShell:
    """get_ipython() when the notebook runs again here: %time and %%time run their code, as in IPython; any other
    magic does nothing (the grader lets through only these and %matplotlib, %timeit, whose code binds nothing)."""

    RUNS_LINE = frozenset({"time"})
    RUNS_CELL = frozenset({"time"})

    def __init__(self, namespace: dict) -> None:
        self.namespace = namespace

    def run_line_magic(self, name: str, line: str, *args: Any) -> Any:
        if name not in self.RUNS_LINE:
            return None
        try:  # `X = %time make_features(df)`: IPython gives the expression's value
            code = compile(line, "<magic>", "eval")
        except SyntaxError:
            exec(compile(line, "<magic>", "exec"), self.namespace)  # noqa: S102 - the trainee's own line
            return None
        return eval(code, self.namespace)  # noqa: S307 - the trainee's own expression

    def run_cell_magic(self, name: str, line: str, cell: str) -> None:
        if name not in self.RUNS_CELL or line.strip():  # IPython refuses %%time with a statement on its line
            return
        if "%" in cell or "!" in cell:  # magics inside: rewritten as IPython does
            try:
                from IPython.core.inputtransformer2 import TransformerManager

                cell = TransformerManager().transform_cell(cell)
            except Exception:  # noqa: BLE001 - run as written
                pass
        exec(compile(cell, "<magic>", "exec"), self.namespace)  # noqa: S102 - the trainee's own cell

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def _rerun(sources: list[str] | None, data_dir: str, names: list[str]) -> dict:
    """Run the notebook's earlier cells again, from the top, in a fresh namespace, with ACADEMY_DATA_DIR=data_dir.

    As nbgrader runs a notebook, a cell that raises ends only itself. The trainee's code runs here as in any
    call of theirs: this shows a mistake (a table computed from all the data), not a notebook bent on cheating.
    """
    if sources is None:
        raise RuntimeError("the notebook's earlier cells were not sent (too large to run again)")
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins,
                                 "display": lambda *args, **kwargs: None}
    shell = _NoShell(namespace)
    namespace["get_ipython"] = lambda: shell
    before, here = os.environ.get("ACADEMY_DATA_DIR"), os.getcwd()
    os.environ["ACADEMY_DATA_DIR"] = str(data_dir)
    if os.path.isdir(RERUN_FILES):  # the files the kernel's folder started with (the trainee's and the course's)
        os.chdir(RERUN_FILES)
    try:
        for index, source in enumerate(sources):
            try:
                exec(compile(source, f"<cell {index}>", "exec"), namespace)  # noqa: S102 - the trainee's own cells
            except Exception:  # noqa: BLE001 - as in the notebook's run: the next cell runs all the same
                continue
    finally:
        os.chdir(here)
        if before is None:
            os.environ.pop("ACADEMY_DATA_DIR", None)
        else:
            os.environ["ACADEMY_DATA_DIR"] = before
    return {name: namespace[name] for name in names if isinstance(name, str) and name in namespace}


class _Opaque:
    """Wraps an object that would not pickle, so that it travels as a handle."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __reduce__(self) -> Any:
        raise TypeError("opaque")


def _answer(request: tuple, namespace: dict, objects: dict) -> Any:
    op, *args = request
    if op == "names":
        result = {}
        for name in args[0]:
            if name not in namespace:
                continue
            value = namespace[name]
            if isinstance(value, types.ModuleType):
                continue  # the tester imports its own copy, below
            result[name] = value
        modules = {name: value.__name__ for name, value in namespace.items()
                   if name in args[0] and isinstance(value, types.ModuleType)}
        return _Names(result, modules)
    if op == "keep":
        return _Opaque(args[0])
    target = objects[args[0]]
    if isinstance(target, _Opaque):
        target = target.obj
    if op == "call":
        return target(*args[1], **args[2])
    if op == "getattr":
        return getattr(target, args[1])
    if op == "setattr":
        return setattr(target, args[1], args[2])
    if op == "getitem":
        return target[args[1]]
    if op == "setitem":
        target[args[1]] = args[2]
        return None
    if op == "len":
        return len(target)
    if op == "iter":
        return _Opaque(iter(target))
    if op == "next":
        return next(target)
    if op == "contains":
        return args[1] in target
    if op == "repr":
        return repr(target)[:10000]
    if op == "enter":
        return target.__enter__()
    if op == "exit":
        return target.__exit__(None, None, None)
    if op == "deepcopy":
        return _Opaque(copy.deepcopy(target))
    if op == "copy":
        return _Opaque(copy.copy(target))
    raise ValueError(f"unknown request {op!r}")


class _Names(dict):
    """The names the tester asked for: data, handles, and modules it imports itself."""

    def __init__(self, values: dict, modules: dict) -> None:
        super().__init__(values)
        self.modules = modules

    def __reduce__(self) -> Any:
        return (_names, (dict(self), self.modules))


def _names(values: dict, modules: dict) -> dict:
    """Rebuild the names' dict on the tester's side, importing the modules by name."""
    for name, module in modules.items():
        if isinstance(module, str) and _root(module) in IMPORTABLE_ROOTS:
            try:
                values[name] = importlib.import_module(module)
            except ImportError:
                pass
    return values


_OWN_HELPERS = (_tensor, _torch_dtype, _torch_device, _libfunc, _names, _str_array)


# ---------------------------------------------------------------------------------------------- the parent
def _quiet() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _no_new_processes() -> None:
    """Let this process start no thread or process (RLIMIT_NPROC 0 for an unprivileged uid)."""
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


def _not_dumpable() -> None:
    """Make this process's memory unreadable to processes of the same uid (/proc/pid/mem, ptrace)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0


def _wait(pid: int, timeout: float) -> int | None:
    """Wait for a child; return its exit status, or None (after killing it) when it outlives the timeout."""
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
            return None
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _verdict(status: int | None) -> str:
    if status is None:
        return "timeout"
    if status == PASS:
        return "pass"
    if status == LOAD:
        return "load"
    if status >= ASSERT_BASE:
        return f"assert {status - ASSERT_BASE}"
    if ERROR_BASE <= status < ERROR_BASE + len(ERROR_NAMES):
        return f"error {ERROR_NAMES[status - ERROR_BASE]}"
    return "fail"


def _end_everyone_else() -> None:
    """Kill every other process this uid has in the sandbox (a trainee's side that outlived its cell).

    Only as the sandbox's own unprivileged uid, which nothing outside the job shares; never as root.
    """
    me, uid = os.getpid(), os.getuid()
    if uid == 0 or os.geteuid() == 0:
        return
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (me, 1):  # 1: the sandbox's own init
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    os.kill(int(entry), signal.SIGKILL)
            except OSError:
                continue


def _run_cell(request: int, body: int, cell: dict, timeout: float) -> str:
    """Judge one cell: fork the trainee's side, read the cell's code, fork the tester, wait."""
    rerun = _rerun_code(request, body, cell)  # the notebook's own cells, no test: theirs to see
    ours, theirs = socket.socketpair()
    trainee = os.fork()
    if trainee == 0:  # the trainee's side: nothing of any test is in this process's memory
        try:
            os.close(request)
            ours.close()
            _quiet()
            _no_new_processes()
            _serve(theirs, str(cell["snapshot"]), rerun)
        finally:
            os._exit(0)
    theirs.close()
    code = bytearray(int(cell["length"]))
    os.preadv(request, [code], body + int(cell["start"]))
    tester = os.fork()
    if tester == 0:
        status = ERROR
        try:
            os.close(request)
            _quiet()
            _no_new_processes()
            os.chdir("/")
            status = _tester(ours, code)
        finally:
            os._exit(status)
    code[:] = bytes(len(code))
    ours.close()
    status = _wait(tester, timeout + max(0.0, float(cell.get("rerun_seconds", 0))))
    try:
        os.kill(trainee, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(trainee, 0)
    return _verdict(status)


def _rerun_code(request: int, body: int, cell: dict) -> list[str] | None:
    """Return the earlier cells' code the worker sent for this cell's rerun_notebook, or None."""
    if "rerun_length" not in cell:
        return None
    blob = bytearray(int(cell["rerun_length"]))
    os.preadv(request, [blob], body + int(cell["rerun_start"]))
    try:
        sources = json.loads(bytes(blob).decode("utf-8"))
    except ValueError:
        return None
    return [s for s in sources if isinstance(s, str)] if isinstance(sources, list) else None


def _run_cells(request: int, body: int, cells: list, timeout: float) -> list[str]:
    """Judge the cells one after another, each on its own pair of processes; return their verdicts in order.

    Never side by side: trainee sides that overlap in time can talk (files, signals, timing), and a later
    cell's test data (the expected labels it hands to a trainee function) would answer an earlier cell's
    hidden assertion. One after another, a cell's verdict is in before any later cell's test has run.
    """
    return [_run_cell(request, body, cell, timeout) for cell in cells]


# Heavy libraries a copy may need, imported once here rather than by both processes of every cell.
PRELOADABLE = (b"torch", b"sklearn", b"scipy", b"matplotlib")


def _libraries_named(cells: list) -> list[str]:
    """Return the PRELOADABLE libraries, not loaded yet, whose names occur in the cells' copies (a hint only: the
    copies are the trainee's; nothing is loaded from them here, they are only scanned, regular files only, up to
    256 MiB each)."""
    import mmap

    wanted = {name for name in PRELOADABLE if name.decode() not in sys.modules}
    found: set[bytes] = set()
    for cell in cells:
        if not wanted - found:
            break
        try:
            fd = os.open(str(cell.get("snapshot", "")), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, ValueError):
            continue
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
                continue
            with mmap.mmap(fd, min(info.st_size, 256 * 1024 * 1024), prot=mmap.PROT_READ) as view:
                found.update(name for name in wanted - found if view.find(name) >= 0)
        except (OSError, ValueError):
            continue
        finally:
            os.close(fd)
    return [name.decode() for name in PRELOADABLE if name in found]


def main() -> None:
    """Judge every cell of the request; write the verdicts once no other process of ours is left."""
    import kernel_guard  # loaded already: by the fork server, or by __main__ below before its folder left sys.path

    kernel_guard.deny_keyrings()  # no trainee side leaves what a test handed it in a key for a later job
    _not_dumpable()
    request = os.open(REQUEST, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    os.unlink(REQUEST)  # nothing the trainee's side runs can open it again
    head = bytearray(1024 * 1024)
    got = os.preadv(request, [head], 0)
    newline = head.index(b"\n", 0, got)
    header = json.loads(bytes(head[:newline]))
    head[:] = bytes(len(head))  # it held the start of the first cell's code
    body = newline + 1
    timeout = float(header.get("timeout", 60))
    verdicts_name = str(header["verdicts"])
    if "/" in verdicts_name or verdicts_name.startswith("."):
        raise SystemExit("bad verdicts file name")
    for module in ("numpy", "pandas", "cloudpickle", "sklearn.base", *_libraries_named(header["cells"])):
        try:
            importlib.import_module(module)
        except ImportError:
            pass
    import gc

    gc.freeze()  # the libraries just loaded: the cells' processes never walk (and so copy) their pages
    lines = [f"{cell['id']} {verdict}" for cell, verdict in
             zip(header["cells"], _run_cells(request, body, header["cells"], timeout))]
    os.close(request)
    _end_everyone_else()
    try:
        os.unlink(verdicts_name)
    except FileNotFoundError:
        pass
    fd = os.open(verdicts_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as out:
        out.write("".join(line + "\n" for line in lines))


if __name__ == "__main__":
    # Run as the module "judge" (as the fork server does), so that pickles name its helpers judge._tensor.
    import judge as _judge
    import kernel_guard  # noqa: F401 - for main(), while its folder is still on sys.path

    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)
    _judge.main()
