"""Start an IPython kernel for autograding with tamper checks in place before any trainee code.

Runs inside the sandbox as a plain script (it imports nothing from the academy). Before the
kernel executes a cell it: installs an audit hook (which cannot be removed) that refuses the
low-level ways around the checks when they come from notebook code; and records the objects
that test cells rely on (builtins, numpy.testing, IPython's execution and traceback methods).
The worker asks `check(nonce)` after every test cell; any replaced object is reported.
A determined attacker with arbitrary code in the same interpreter can still try to fool
in-process checks, which is why the worker also screens the trainee's source before running it.
"""
from __future__ import annotations

import builtins
import sys
import types
from typing import Any

GUARD_NAME = "academy_kernel_guard"
# Audit events refused when the calling Python frame is notebook code.
DENIED_FROM_NOTEBOOK = ("ctypes.", "sys.settrace", "sys.setprofile", "sys._current_frames",
                        "gc.get_referrers", "gc.get_referents", "gc.get_objects", "sys.addaudithook")
# Refused from anywhere: nothing legitimate in a graded notebook needs them.
DENIED_ALWAYS = ("gc.get_referrers",)
SHELL_METHODS = ("run_cell", "run_cell_async", "run_code", "run_ast_nodes", "showtraceback",
                 "_showtraceback", "showsyntaxerror", "transform_cell", "should_run_async",
                 "get_exception_only", "_run_cell")
KERNEL_METHODS = ("do_execute", "execute_request", "send_response", "_publish_execute_input")

# Builtins that IPython itself swaps around each execution.
IPYTHON_BUILTINS = frozenset({"_", "__", "___", "exit", "quit", "input", "raw_input", "get_ipython",
                              "display", "help", "copyright", "credits", "license"})

_snapshot: dict[str, Any] = {}


def _notebook_frame(frame: types.FrameType | None) -> bool:
    name = frame.f_code.co_filename if frame is not None else ""
    return name.startswith("<ipython-input") or "/ipykernel_" in name or name.startswith("<string")


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event.startswith(DENIED_ALWAYS):
        raise RuntimeError(f"{event} is not allowed during grading")
    if event.startswith(DENIED_FROM_NOTEBOOK) and _notebook_frame(sys._getframe(1)):
        raise RuntimeError(f"{event} is not allowed during grading")


def _function(obj: Any, name: str) -> Any:
    value = getattr(obj, name, None)
    return getattr(value, "__func__", value)


def _public(module: Any) -> dict[str, Any]:
    return {k: getattr(module, k) for k in dir(module) if not k.startswith("_")}


def _record(shell: Any, kernel: Any) -> None:
    _snapshot["builtins"] = dict(builtins.__dict__)
    try:
        import numpy.testing as npt

        _snapshot["numpy.testing"] = _public(npt)
    except ImportError:
        pass
    _snapshot["shell"] = shell
    _snapshot["shell_methods"] = {m: _function(shell, m) for m in SHELL_METHODS}
    _snapshot["kernel"] = kernel
    _snapshot["kernel_methods"] = {m: _function(kernel, m) for m in KERNEL_METHODS}
    _snapshot["transformers"] = (list(shell.input_transformers_cleanup),
                                 list(shell.input_transformers_post), list(shell.ast_transformers))


def _violations() -> list[str]:
    found: list[str] = []
    saved = _snapshot["builtins"]
    for name, value in saved.items():
        if builtins.__dict__.get(name, None) is not value and name not in IPYTHON_BUILTINS:
            found.append(f"builtins.{name} replaced")
    for name, value in _snapshot.get("numpy.testing", {}).items():
        module = sys.modules.get("numpy.testing")
        if module is not None and getattr(module, name, None) is not value:
            found.append(f"numpy.testing.{name} replaced")
    shell, kernel = _snapshot["shell"], _snapshot["kernel"]
    for name, value in _snapshot["shell_methods"].items():
        if _function(shell, name) is not value:
            found.append(f"IPython shell.{name} replaced")
    for name, value in _snapshot["kernel_methods"].items():
        if _function(kernel, name) is not value:
            found.append(f"kernel.{name} replaced")
    now = (list(shell.input_transformers_cleanup), list(shell.input_transformers_post),
           list(shell.ast_transformers))
    if now != _snapshot["transformers"]:
        found.append("IPython input or AST transformers changed")
    if shell.custom_exceptions:
        found.append("IPython custom exception handler set")
    if sys.gettrace() is not None or sys.getprofile() is not None:
        found.append("a trace or profile function is set")
    return found


def check(nonce: str) -> str:
    """Return 'nonce:ok' or 'nonce:' followed by the violations found."""
    found = _violations()
    return f"{nonce}:" + ("ok" if not found else "; ".join(sorted(set(found))))


def snapshot(path: str, names: list[str]) -> str:
    """Save the named variables of the notebook for the judge; return a JSON list of those not saved.

    The judge runs the test cell on this copy (academy/grading/judging.py). Objects travel by
    cloudpickle, which carries functions and classes defined in the notebook by value.
    """
    import json
    import os

    import cloudpickle

    namespace = _snapshot["shell"].user_ns
    chosen = {n: namespace[n] for n in names if isinstance(n, str) and n in namespace}
    missing = [n for n in names if n not in chosen]
    try:
        data = cloudpickle.dumps(chosen, protocol=5)
    except Exception:  # noqa: BLE001 - one variable that cannot travel must not lose the others
        kept = {}
        for name, value in chosen.items():
            try:
                cloudpickle.dumps(value, protocol=5)
            except Exception:  # noqa: BLE001
                missing.append(name)
            else:
                kept[name] = value
        data = cloudpickle.dumps(kept, protocol=5)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return json.dumps(sorted(set(missing)))


# The kernel's key management calls (add_key, request_key, keyctl) by architecture. Keys are not namespaced: a key
# a sandboxed process adds to its uid's keyring outlives the sandbox and is readable by any uid it allows, so a
# judge's trainee side could leave what a hidden test handed it for the trainee's next kernel to print.
KEY_SYSCALLS = {0xC000003E: (248, 249, 250), 0xC00000B7: (217, 218, 219)}  # AUDIT_ARCH_X86_64, _AARCH64
X32_SYSCALL_BIT = 0x40000000


def deny_keyrings() -> None:
    """Refuse the key management calls (EPERM) to this process and every process it starts, for good.

    A seccomp filter (classic BPF, as in the kernel's Documentation/userspace-api/seccomp_filter.rst): any
    other architecture's calls (a 32-bit entry from a 64-bit process), and x32 calls, are refused whole.
    Raises OSError where the kernel refuses the filter: a sandbox must not start without it.
    """
    import ctypes
    import os
    import struct

    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, refuse = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    program: list[tuple[int, int, int, int]] = [(ld_abs, 0, 0, 4)]  # the call's architecture
    blocks: list[list[tuple[int, int, int, int]]] = []
    for arch, numbers in KEY_SYSCALLS.items():
        block = [(ld_abs, 0, 0, 0)]  # the call's number
        if arch == 0xC000003E:
            block.append((jge, 255, 0, X32_SYSCALL_BIT))  # 255: to the final refusal, resolved below
        block += [(jeq, 255, 0, number) for number in numbers] + [(ret, 0, 0, allow)]
        blocks.append(block)
    # Architecture dispatch: one test per architecture, then refuse the rest.
    dispatch = [(jeq, 0, 0, arch) for arch in KEY_SYSCALLS] + [(ret, 0, 0, refuse)]
    program += dispatch
    starts = []
    for block in blocks:
        starts.append(len(program))
        program += block
    program.append((ret, 0, 0, refuse))
    final = len(program) - 1
    for index, arch in enumerate(KEY_SYSCALLS):  # jump from dispatch test to its block
        pc = 1 + index
        program[pc] = (jeq, starts[index] - pc - 1, 0, arch)
    for pc, (code, jt, jf, k) in enumerate(program):
        if jt == 255:
            program[pc] = (code, final - pc - 1, jf, k)
    raw = b"".join(struct.pack("<HBBI", *step) for step in program)
    buffer = ctypes.create_string_buffer(raw, len(raw))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(program), ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if prctl(38, 1, None, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "no_new_privs")
    if prctl(22, 2, ctypes.addressof(fprog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        raise OSError(ctypes.get_errno(), f"seccomp filter refused: {os.strerror(ctypes.get_errno())}")


def main() -> None:
    """Start the guarded kernel (argv as for ipykernel_launcher)."""
    deny_keyrings()
    sys.addaudithook(_audit)
    module = types.ModuleType(GUARD_NAME)
    module.check = check  # type: ignore[attr-defined]
    module.snapshot = snapshot  # type: ignore[attr-defined]
    sys.modules[GUARD_NAME] = module
    if sys.path and sys.path[0] and sys.path[0].endswith("/opt/academy"):
        sys.path.pop(0)  # the guard's folder is not for imports
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(sys.argv[1:])
    _record(app.shell, app.kernel)
    app.start()


if __name__ == "__main__":
    main()
