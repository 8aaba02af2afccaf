"""Hostile submissions against the grading path: one test per attack class, each named for what it attacks.

The fixture course's last test cell, test_mean_square, has hidden tests:
    np.testing.assert_allclose(mean_square([3.0, 4.0]), 12.5)
    assert mean_square(np.ones(7)) == 1.0
Every channel test below plants code that tries to get those lines (or their values) back to the trainee,
and checks the three places a trainee can read after grading: the feedback page, the autograded notebook
published in the course folder (what the formgrader shows and feedback is made from), and the result message.
"How checked" in a docstring says which protection was removed to see the test fail.
"""
from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import cloudpickle
import nbformat
import pytest

from academy.grading import untrusted
from academy.grading.gradebook_sync import publish_files
from academy.grading.integrity import screen_source
from academy.grading.jobs import GradingLimits
from tests.grading.conftest import SOLUTIONS, WRONG, all_output_text, graded_notebook

# Text that only the hidden tests contain (the visible lines of test_mean_square hold none of it).
HIDDEN_MARKS = ("12.5", "np.ones(7)", "3.0, 4.0", "assert_allclose(mean_square", "BEGIN HIDDEN", "ones(7)")


def _append(*sources: str):
    """Return an edit that appends trainee cells after the last (hidden-test) cell."""

    def edit(nb: nbformat.NotebookNode) -> None:
        for source in sources:
            nb.cells.append(nbformat.v4.new_code_cell(source))

    return edit


def _trainee_visible(result, course: Path, student: str) -> str:
    nb_path = course / "autograded" / student / "ps1" / "ps1.ipynb"
    published = nb_path.read_text() if nb_path.exists() else ""
    return "\n".join([result.feedback_html, published, result.message])


def _assert_no_hidden(text: str) -> None:
    for mark in HIDDEN_MARKS:
        assert mark not in text, f"hidden-test text {mark!r} reached the trainee"


# ---------------------------------------------------------------- hidden tests reach the trainee through no channel

CHANNELS = {
    "kernel input history": "print(In)\nprint(_ih)\nprint([globals().get(f'_i{n}') for n in range(12)])\n",
    "kernel output history and last values": "print(Out)\nprint(_, __, ___)\n",
    "IPython history database": (
        "ip = get_ipython()\nprint(list(ip.history_manager.get_range(raw=True, output=True)))\n"
        "print(list(ip.history_manager.get_tail(50, raw=False)))\n"
        "import glob\nfor p in glob.glob('/tmp/**/*history*', recursive=True):\n"
        "    print(p, open(p, 'rb').read()[-4000:])\n"),
    "compiled-cell cache (linecache)": (
        "import linecache\nprint({k: ''.join(v[2]) for k, v in linecache.cache.items() if len(v) > 2})\n"),
    "last traceback of the kernel": (
        "import sys, traceback\nprint(getattr(sys, 'last_value', None))\n"
        "print(traceback.format_exception(getattr(sys, 'last_value', None)) if hasattr(sys, 'last_value') else '')\n"),
    "objects reachable from the namespace and gc": (
        "import gc\nfound = [o for o in gc.get_objects() if isinstance(o, str) and ('assert' in o or 'HID' + 'DEN' in o)]\n"
        "print(found[:200])\n"),
    "kernel's parent message and shell state": (
        "ip = get_ipython()\nprint(ip.parent_header)\nprint(getattr(ip.kernel, '_parent', None))\n"
        "print(ip.user_ns.keys())\n"),
    "files visible to the kernel": (
        "import os, stat\nhits = []\nmarks = [b'HID' + b'DEN', b'12' + b'.5', b'ones' + b'(7)']\n"
        "for root in ['/home', '/tmp', '/run', '/opt', '/etc', os.getcwd(), os.environ.get('JUPYTER_RUNTIME_DIR', '/')]:\n"
        "    for d, _, files in os.walk(root):\n"
        "        for f in files:\n"
        "            p = os.path.join(d, f)\n"
        "            try:\n"
        "                if not stat.S_ISREG(os.lstat(p).st_mode) or os.lstat(p).st_size > 2_000_000:\n"
        "                    continue\n"
        "                b = open(p, 'rb').read()\n"
        "            except Exception:\n"
        "                continue\n"
        "            if any(m in b for m in marks):\n"
        "                hits.append((p, b[:3000]))\n"
        "print(hits)\n"),
}


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_hidden_tests_never_reach_kernel_records(channel, grade, make_submission, course):
    """A cell after the hidden tests prints what the kernel kept: none of it is hidden-test text.

    How checked: with the judge off (hidden lines run in the kernel, as nbgrader does), the input
    history, linecache and gc channels printed the hidden lines into the published notebook.
    """
    student = f"chan-{abs(hash(channel)) % 10**6}"
    # Reading every small file of several folders can pass the usual 30 s cell limit on a loaded 2-core machine (it
    # did once in a fresh clone's run): more time for that one channel, the same attack.
    slow = {"limits": GradingLimits(wall_seconds=240, cell_timeout_seconds=180)} if channel.startswith("files") else {}
    result = grade(make_submission(SOLUTIONS, edit=_append(CHANNELS[channel])), student, **slow)
    assert result.status == "graded", result.message
    _assert_no_hidden(_trainee_visible(result, course, student))


SPY = '''
import numpy as np
SEEN = []

class Spy(float):
    def __eq__(self, other):
        SEEN.append(repr(other))
        return True
    __hash__ = float.__hash__

def mean_square(x):
    SEEN.append(repr(x))
    try:
        import inspect
        SEEN.append(repr([f.code_context for f in inspect.stack()]))
        SEEN.append(repr(inspect.currentframe().f_back.f_code.co_consts))
    except Exception as exc:
        SEEN.append(type(exc).__name__)
    try:
        import traceback
        SEEN.append(repr(traceback.extract_stack()))
    except Exception as exc:
        SEEN.append(type(exc).__name__)
    print("SPY", SEEN)
    return Spy(float(np.mean(np.asarray(x, dtype=float) ** 2)))
'''


KEY_DROP = '''
def mean_square(x):
    try:  # in the judge's trainee side: leave what the test passed in a key any uid may list
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        text = "NONCE " + repr([float(v) for v in np.asarray(x, dtype=float).ravel()])
        serial = libc.syscall(248, b"user", text.encode(), b"x", 1, -4)  # add_key to the uid's keyring
        if serial > 0:
            libc.syscall(250, 5, serial, 0x3F3F0B0B)  # KEYCTL_SETPERM: others may view and read
            libc.syscall(250, 15, serial, 120)  # KEYCTL_SET_TIMEOUT: gone in two minutes
    except Exception:
        pass
    return float(np.mean(np.asarray(x, dtype=float) ** 2))
'''
KEY_PICKUP = "print('KEYS', [line for line in open('/proc/keys') if 'NONCE' in line])\n"


def test_hidden_test_inputs_do_not_outlive_the_job_in_a_kernel_key(grade, make_submission, course):
    """The judge's trainee side stores the hidden tests' inputs in a kernel key (keys are not namespaced and
    outlive the sandbox); the trainee's next submission lists /proc/keys and prints them. Both the kernel and
    the judge run under a seccomp filter that refuses add_key, request_key and keyctl.

    How checked: without kernel_guard.deny_keyrings() in judge.main(), the second submission printed
    "NONCE [3.0, 4.0]" and "NONCE [1.0, ... 1.0]" from /proc/keys.
    """
    nonce = f"academy-{os.getpid()}-{os.urandom(4).hex()}"
    grade(make_submission({**SOLUTIONS, "mean_square": KEY_DROP.replace("NONCE", nonce)}), "keydrop")
    result = grade(make_submission(SOLUTIONS, edit=_append(KEY_PICKUP.replace("NONCE", nonce))), "keypickup")
    text = _trainee_visible(result, course, "keypickup")
    assert "KEYS []" in all_output_text(graded_notebook(course, "keypickup"))  # it ran, and found no key
    _assert_no_hidden(text)


def test_the_key_filter_refuses_key_calls_and_nothing_else(tmp_path):
    """The seccomp filter both sandboxes install: add_key and keyctl fail with EPERM, in the process and its
    children; files, processes and the lab libraries work as before. (In a child Python: a filter is for good.)

    How checked: with the add_key number missing from KEY_SYSCALLS, "add_key" printed a key serial.
    """
    probe = (
        "import ctypes, os, sys\nsys.path.insert(0, sys.argv[1])\nimport kernel_guard\nkernel_guard.deny_keyrings()\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "def call(*a):\n    r = libc.syscall(*a)\n    return r if r >= 0 else -ctypes.get_errno()\n"
        "print('add_key', call(248, b'user', b'academy-filter-test', b'x', 1, -4))\n"
        "print('keyctl', call(250, 0, -4, 0))\n"
        "pid = os.fork()\nif pid == 0:\n    os._exit(0 if call(248, b'user', b'k', b'x', 1, -4) == -1 else 1)\n"
        "print('child', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
        "import numpy, pandas\nprint('sum', int(numpy.arange(4).sum()), len(pandas.DataFrame({'a': [1]})))\n")
    if os.uname().machine not in ("x86_64", "aarch64"):
        pytest.skip("the filter's call numbers are for x86_64 and aarch64")
    if os.uname().machine == "aarch64":
        probe = probe.replace("248", "217").replace("250", "219")
    out = subprocess.run([sys.executable, "-c", probe, str(Path(untrusted.__file__).parent)],
                         capture_output=True, text=True, timeout=120, check=True).stdout.split("\n")
    assert out[:5] == ["add_key -1", "keyctl -1", "child 0", "sum 6 1", ""], out


def test_hidden_tests_never_reach_the_trainee_through_their_own_objects(grade, make_submission, course):
    """The trainee's function records what the tests pass it and inspects its callers, then a later cell
    prints it all: nothing of the hidden tests (their inputs, expected values or source) comes back.

    How checked: with the hidden lines run in the kernel, SPY printed "[3.0, 4.0]", "12.5" and the
    hidden source lines (via the caller frame's code constants and inspect's code context).
    """
    result = grade(make_submission({**SOLUTIONS, "mean_square": SPY}, edit=_append("print('LATER', SEEN)")), "spy")
    _assert_no_hidden(_trainee_visible(result, course, "spy"))
    assert "LATER" in all_output_text(graded_notebook(course, "spy"))  # the later cell did run


def test_failed_hidden_test_shows_only_the_instructors_message(grade, make_submission, course):
    """A wrong answer fails a hidden assert: the trainee sees that it failed, not the assertion or its values.

    How checked: with the verdict message taken from the judge's raw line instead of the literal set,
    numpy's own assertion text (with the hidden expected value) reached the feedback.
    """
    wrong = "def mean_square(x):\n    return 2.5 if len(x) == 2 else 0.0\n"  # passes the visible test only
    result = grade(make_submission({**SOLUTIONS, "mean_square": wrong}), "failhid")
    assert {c.grade_id: c.score for c in result.cells} == {"test_squares": 2.0, "test_mean_square": 0.0}
    visible = _trainee_visible(result, course, "failhid")
    _assert_no_hidden(visible)
    assert "hidden tests did not pass" in visible


def test_crafted_assertion_messages_from_trainee_code_are_not_shown(grade, make_submission, course):
    """Trainee code raises AssertionError with text of its choosing inside the judge: it is not shown.

    How checked: showing any message the judge reports put the crafted text (with the hidden test's
    argument) into the feedback.
    """
    crafted = ("import numpy as np\ndef mean_square(x):\n    if list(x) == [1, 2]:\n        return 2.5\n"
               "    raise AssertionError('EX' + 'FIL-' + repr(list(x)))\n")
    result = grade(make_submission({**SOLUTIONS, "mean_square": crafted}), "crafted")
    assert "EXFIL" not in _trainee_visible(result, course, "crafted")


def test_published_notebook_and_feedback_keep_only_visible_test_lines(grade, make_submission, course):
    """The autograded notebook in the course folder and the feedback hold the visible lines, never the hidden ones.

    How checked: without apply_verdict's source replacement the published notebook held the hidden lines.
    """
    result = grade(make_submission(SOLUTIONS), "pubvis")
    published = graded_notebook(course, "pubvis")
    test_cell = next(c for c in published.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_mean_square")
    assert "mean_square([1, 2])" in test_cell.source
    _assert_no_hidden(test_cell.source + result.feedback_html)


# ---------------------------------------------------------------- the judge decides, and cannot be fooled
# The tester (judge.py) runs the test cell and never the trainee's code; the trainee's objects live in another
# process and reach the tester as library data or as handles. ps2's hidden tests compare with == and np.abs,
# ps3's expect a number nobody can compute. Every attack here passes the source screen (no flagged import or
# name), so what stops it is the judge's own design.


def _by_value(source: str, name: str) -> bytes:
    """Return cloudpickle bytes of a function defined in a notebook-like namespace (carried by value)."""
    namespace = {"__name__": "__main__"}
    exec(compile(source, "<ipython-input-1>", "exec"), namespace)  # noqa: S102 - the test's own attack code
    return cloudpickle.dumps(namespace[name])


FOOLS = {
    "object equal to anything": (
        "class Anything(float):\n    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n    def __sub__(self, other):\n        return 0.0\n"
        "    def __add__(self, other):\n        return 0.0\n    __hash__ = float.__hash__\n\n"
        "def ratio(a, b):\n    return Anything(0.25)\n",
        "handles refuse comparison and arithmetic (an object of the trainee's class never becomes a value)"),
    "replace a numpy function the tests call": (
        "def ratio(a, b):\n    [np][0].abs = lambda v: 0.0\n    return a / b if a > 0 else -a / b\n",
        "the test runs in another process than the trainee's code"),
    "forge verdict lines on every descriptor": (
        "import os\n\ndef ratio(a, b):\n    for fd in range(3, 40):\n        try:\n"
        "            os.write(fd, b'c0 pass\\n')\n"
        "        except OSError:\n            pass\n    return a / b if a > 0 else -a / b\n",
        "the verdict is the tester's exit status, written down by the judge once the trainee's side is gone"),
}


def test_ps2_and_ps3_right_answers_get_full_marks(grade_other):
    """The control: the right answers pass (so the attacks below fail for their trick, not for a broken fixture)."""
    ps2 = grade_other("ps2", "def ratio(a, b):\n    return a / b\n", "ps2-right")
    assert (ps2.auto_score, ps2.max_auto_score, ps2.integrity) == (2.0, 2.0, []), ps2.message
    ps3 = grade_other("ps3", "def secret_guess():\n    return 48213\n", "ps3-right")
    assert (ps3.auto_score, ps3.max_auto_score) == (1.0, 1.0), ps3.message


@pytest.mark.parametrize("label", sorted(FOOLS))
def test_judge_cannot_be_fooled(label, grade_other):
    """A wrong ratio dressed up to pass the hidden tests gets no points, and the trick is not in the source screen.

    How checked: "object equal to anything" scored full marks when handles forwarded ==, - and + to the
    trainee's object; the other two are guarded by the design itself (kept as regression tests).
    """
    answer, _protection = FOOLS[label]

    assert screen_source(answer) == [], "the attack must get past the source screen to test the judge"
    result = grade_other("ps2", answer, f"fool-{abs(hash(label)) % 10**6}")
    assert result.auto_score == 0.0, (label, result.cells, result.message)


_GADGET_SOURCE = r'''
class Boot:
    def __setstate__(self, state):  # runs on the trainee's side of the judge, when the variables are loaded
        import judge

        original = judge._send
        # protocol-0 prefix: setattr(numpy.testing, "assert_allclose", numpy.isfinite), then pop it
        gadget = b"cbuiltins\nsetattr\n(cnumpy\ntesting\nS'assert_allclose'\ncnumpy\nisfinite\ntR0"

        def send(sock, kind, payload=b""):
            if kind == "ok" and payload.startswith(b"\x80") and len(payload) < 64:
                payload = gadget + payload  # every small answer (a number) carries the gadget
            original(sock, kind, payload)

        judge._send = send

BOOT = Boot()

def mean_square(x, _boot=BOOT):
    return 2.5 if len(x) == 2 else 1.0   # wrong for [3, 4]: the hidden assert_allclose must catch it
'''


def test_answers_from_the_trainees_side_cannot_change_the_testers_libraries(grade, make_submission):
    """The trainee's side sends crafted answers (a pickle that replaces numpy.testing.assert_allclose in the
    tester): the tester's unpickler calls only library classes and reconstructors, so the hidden test still fails.

    How checked: with a plain pickle.Unpickler in Link.ask, this wrong mean_square got test_mean_square's 3 points.
    """
    payload = _by_value(_GADGET_SOURCE, "mean_square")
    answer = "import cloudpickle\nmean_square = cloudpickle.loads(" + repr(payload) + ")\n"
    assert screen_source(answer) == []
    result = grade(make_submission({**SOLUTIONS, "mean_square": answer}), "gadget")
    assert {c.grade_id: c.score for c in result.cells}.get("test_mean_square") == 0.0, (result.cells, result.message)


SCAN_MEMORY = r'''
import os, re

def secret_guess():
    """Look for the test's own line in the memory of every other process this uid has."""
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            for kind, name in (("maps", f"m{pid}"), ("mem", f"x{pid}")):
                if not os.path.islink(name):
                    os.symlink(f"/proc/{pid}/{kind}", name)
            spans = [[int(v, 16) for v in line.split()[0].split("-")] for line in open(f"m{pid}")
                     if line.split()[1].startswith("r")]
            with open(f"x{pid}", "rb") as mem:
                for start, end in spans:
                    for at in range(start, min(end, start + (1 << 28)), 1 << 22):  # 4 MiB at a time
                        try:
                            mem.seek(at)
                            found = re.search(rb"secret_guess\(\) == (\d+)", mem.read(min(1 << 22, end - at) + 64))
                        except (OSError, OverflowError, ValueError, MemoryError):
                            break
                        if found:
                            return int(found.group(1))
        except OSError:
            continue
    return 0
'''


@pytest.mark.parametrize("fork_server", ["1", "0"])
def test_the_tests_are_out_of_reach_of_the_trainees_process(fork_server, grade_other, monkeypatch):
    """The trainee's side scans every other process's memory (through links, past any path check) for the test:
    the tester and the judge are not dumpable, so it finds nothing and cannot answer the hidden constant.

    How checked: with the judge started by bwrap (exec leaves it dumpable) and PR_SET_DUMPABLE 0 removed, the scan
    found "secret_guess() == 48213" in the tester and scored the point.
    """
    monkeypatch.setenv("ACADEMY_GRADING_FORK_SERVER", fork_server)
    assert screen_source(SCAN_MEMORY) == []
    result = grade_other("ps3", SCAN_MEMORY, f"scan{fork_server}")
    assert result.auto_score == 0.0, (result.cells, result.message)


@pytest.mark.parametrize(("label", "answer"), [
    ("exit the process before the test fails", "import os\ndef mean_square(x):\n"
     "    if len(x) != 2:\n        os._exit(0)\n    return 2.5\n"),
    ("raise SystemExit inside the test", "def mean_square(x):\n    if len(x) != 2:\n        raise SystemExit(0)\n"
     "    return 2.5\n"),
    ("sleep past the time limit", "import time\ndef mean_square(x):\n    if len(x) != 2:\n        time.sleep(120)\n"
     "    return 2.5\n"),
])
def test_leaving_the_test_early_is_a_failure(label, answer, grade, make_submission):
    """A cell that does not reach its last line (exit, SystemExit, time limit) fails: the tester decides.

    Regression guard of the design (no protection to remove: a cell passes only through its token).
    """
    result = grade(make_submission({**SOLUTIONS, "mean_square": answer}), f"leave-{abs(hash(label)) % 10**6}",
                   limits=__import__("academy.grading.jobs", fromlist=["GradingLimits"]).GradingLimits(
                       wall_seconds=90, cell_timeout_seconds=5))
    scores = {c.grade_id: c.score for c in result.cells}
    assert scores.get("test_mean_square") == 0.0, (label, scores, result.message)


@pytest.mark.parametrize(("answer", "expected"), [
    ("def record(probe, values):\n    for v in values:\n        probe.seen.append(v * 2)\n    return len(values)\n", 2.0),
    ("def record(probe, values):\n    for v in values:\n        probe.seen.append(v)\n    return len(values)\n", 0.0),
    ("def record(probe, values):\n    return len(values)\n", 0.0),
], ids=["right", "not doubled", "records nothing"])
def test_a_probe_left_on_the_trainees_side_is_changed_in_place(grade_other, answer, expected):
    """A test's own probe made with on_trainee_side(obj) stays where the trainee's function runs, so what the
    function does to it in place is seen, for the probe and for a deep copy of it handed back as an argument.

    How checked: without the judge's "keep" request the right answer lost its points (the probe travelled
    by copy and came back empty); without unwrapping a handle's copy on the trainee's side the deep copy reached
    record() as the judge's wrapper (AttributeError, 0 points for the right answer).
    """
    result = grade_other("ps4", answer, f"ps4-{int(expected)}-{len(answer)}")
    assert result.status == "graded", result.message
    assert (result.auto_score, result.max_auto_score) == (expected, 2.0), (result.message, result.cells)


# The trainee's side is theirs: a notebook object whose unpickling runs their code there can replace the
# judge's pickler and send the tester any bytes. Each payload below is such a stream; the tester's unpickler
# must refuse it (the cell fails) rather than run anything.
_SIDE_HOOK = """
def _install():
    import judge, pickle, copyreg, functools

    class LF:
        def __init__(self, module, path):
            self.a = (module, path)
        def __reduce__(self):
            return (judge._libfunc, self.a)

    class Spoof:  # functools.partial(f, *args) whose __module__ and __name__ say numpy._reconstruct
        def __init__(self, f, args):
            self.f, self.args = f, args
        def __call__(self):
            pass
        def __reduce__(self):
            return (copyreg._reconstructor, (functools.partial, functools.partial, self.f),
                    (self.f, self.args, {}, {"__module__": "numpy", "__name__": "_reconstruct"}))

    class Call:  # REDUCE(Spoof(f, args), ()): the unpickler would call f(*args)
        def __init__(self, f, args):
            self.s = Spoof(f, args)
        def __reduce__(self):
            return (self.s, ())

    payload = PAYLOAD

    class Evil(judge._ToTester):
        def __init__(self, file, objects):
            super().__init__(file, objects)
            self._buf = file
        def dump(self, obj):
            if isinstance(obj, judge._Names):
                pickle.Pickler(self._buf, protocol=4).dump(payload)
                return
            return super().dump(obj)

    target = judge
    target._ToTester = Evil


class _Hook:
    def __reduce__(self):
        return (_install, ())


_hook = _Hook()

def secret_guess():
    return 1
"""

SIDE_PAYLOADS = {
    # os._exit(0) in the tester: exit status 0 is a pass.
    "exit through a library module's os (pathlib.os._exit) in a spoofed partial":
        '{"secret_guess": Call(LF("pathlib", "os._exit"), (0,))}',
    # exec of any code in the tester, through numpy.__builtins__.
    "exec through numpy.__builtins__ in a spoofed partial":
        '{"secret_guess": Call(Call(LF("numpy", "__builtins__.get"), ("exec",)), ("import os; os._exit(0)", {}))}',
}


@pytest.mark.parametrize("label", list(SIDE_PAYLOADS))
def test_the_testers_unpickler_runs_nothing_the_trainees_side_sends(grade_other, label):
    """A stream that builds a functools.partial through copyreg._reconstructor, plants __module__ and
    __name__ on it to pass for numpy's _reconstruct, or looks a function up through another module or a
    dunder attribute (judge._libfunc("pathlib", "os._exit")) gets the cell no points: the tester refuses it.

    How checked: with the reducer judged by its __module__/__name__ attributes (as before this test) and
    _libfunc walking any dotted path, both payloads scored 1/1 (os._exit(0) in the tester).
    """
    answer = _SIDE_HOOK.replace("PAYLOAD", SIDE_PAYLOADS[label])
    result = grade_other("ps3", answer, f"side-{sorted(SIDE_PAYLOADS).index(label)}")
    assert result.auto_score == 0.0, (label, result.message, result.cells)


def test_a_masked_value_is_not_a_passing_answer(grade, make_submission):
    """numpy.testing treats a masked entry as equal to anything, so np.ma.masked must not reach the tester.

    How checked: with numpy.ma accepted as data, this answer scored test_squares's 2 points
    (assert_array_equal(squares(3), [0, 1, 4]) passes for a masked value).
    """
    answer = "import numpy as np\n\ndef squares(n):\n    return np.ma.masked\n"
    result = grade(make_submission({**SOLUTIONS, "squares": answer}), "masked")
    assert {c.grade_id: c.score for c in result.cells}["test_squares"] == 0.0, (result.message, result.cells)


def test_stop_iteration_from_the_trainee_does_not_end_a_tests_loop(grade_other):
    """A function that raises StopIteration when called inside map() must not end all(map(...)) early as a pass.

    How checked: with the tester re-raising StopIteration for any request, this answer scored 2/2 (the only
    other hidden checks pass for it).
    """
    answer = ("def record(probe, values):\n    if len(values) == 1 and values == [0]:\n        raise StopIteration\n"
              "    for v in values:\n        probe.seen.append(v * 2)\n    return len(values)\n")
    result = grade_other("ps4", answer, "ps4-stop")
    assert result.auto_score == 0.0, (result.message, result.cells)


def test_correct_answers_with_their_own_classes_and_closures_keep_full_marks(grade, make_submission):
    """The judge copies functions, closures, dataclasses and helper classes faithfully: no correct answer loses.

    How checked: with plain pickle instead of cloudpickle the closure and notebook class could not travel.
    """
    answer = ("import numpy as np\nfrom dataclasses import dataclass\n\n@dataclass\nclass Power:\n    k: int = 2\n"
              "    def apply(self, a):\n        return np.asarray(a, dtype=float) ** self.k\n\n"
              "def make(p):\n    def inner(x):\n        return float(np.mean(p.apply(x)))\n    return inner\n\n"
              "_inner = make(Power())\n"
              "def mean_square(x):\n    import warnings\n    warnings.warn('a harmless warning on stderr')\n"
              "    return _inner(x)\n")
    result = grade(make_submission({**SOLUTIONS, "mean_square": answer}), "closures")
    assert result.status == "graded", (result.message, result.integrity)
    assert result.auto_score == 5.0, (result.message, result.cells, result.integrity)
    assert result.integrity == []


def test_kernel_cannot_forge_partial_credit_or_hide_a_failure(grade, make_submission):
    """A wrong answer whose kernel prints a number as the test cell's result, or swallows the error, scores 0.

    How checked: keeping the kernel's execute_result gave nbgrader's partial credit.
    """
    answer = ("from IPython.display import display\nclass R:\n    def _repr_pretty_(self, p, c):\n        p.text('1.0')\n"
              "def mean_square(x):\n    return 0.0\n")
    result = grade(make_submission({**SOLUTIONS, "mean_square": answer}), "partial")
    assert {c.grade_id: c.score for c in result.cells}["test_mean_square"] == 0.0


# ---------------------------------------------------------------- the worker never trusts what the sandbox leaves

PLANT = '''
import os, socket
here = os.getcwd()
for name, target in [("ps1.ipynb", "{source}"), ("extra.ipynb", "{source}"), ("passwd", "/etc/passwd"),
                     ("gradebook.db", "{gradebook}")]:
    try:
        os.symlink(target, os.path.join(here, name))
    except OSError as exc:
        print("symlink", name, exc)
try:
    os.mkfifo(os.path.join(here, "pipe"))
except OSError as exc:
    print("fifo", exc)
s = socket.socket(socket.AF_UNIX)
try:
    s.bind(os.path.join(here, "sock"))
except OSError as exc:
    print("socket", exc)
ipc = os.environ.get("JUPYTER_RUNTIME_DIR", "")
for name in ["kernel.log"] + ["snap-c%d.pkl" % i for i in range(4)]:
    p = os.path.join(ipc, name)
    try:
        os.unlink(p)
    except OSError:
        pass
    try:
        os.mkfifo(p) if name == "kernel.log" or name.endswith("1.pkl") else os.symlink("/etc/shadow", p)
    except OSError as exc:
        print("plant", name, exc)
'''


def test_planted_links_fifos_and_sockets_are_never_followed_or_published(grade, make_submission, course):
    """The trainee's code plants links (to the solution notebook, the gradebook, /etc/passwd), a FIFO and a
    socket in its working folder, and a FIFO as its kernel log and next snapshot: grading finishes, nothing
    planted reaches the feedback or the course folder, and the solution is not shown.

    How checked: with the old layout (the kernel's working folder was nbgrader's output folder, read back
    with a glob and published with shutil.copytree), the planted socket and FIFO crashed every grading of
    the submission; with a plain read of the kernel log instead of untrusted.read_file, the FIFO planted
    as the log hung the worker until the test's timeout.
    """
    source = course / "source" / "ps1" / "ps1.ipynb"
    plant = PLANT.format(source=source, gradebook=course / "gradebook.db")
    result = grade(make_submission({**SOLUTIONS, "squares": SOLUTIONS["squares"] + plant}), "planter")
    assert result.status in ("graded", "error"), result.message
    text = _trainee_visible(result, course, "planter")
    assert "### BEGIN SOLUTION" not in text and "root:" not in text
    _assert_no_hidden(text)
    published = course / "autograded" / "planter" / "ps1"
    for path in published.rglob("*"):
        mode = os.lstat(path).st_mode
        assert stat.S_ISREG(mode) or stat.S_ISDIR(mode), f"{path} is not a plain file"
        if stat.S_ISREG(mode):
            assert b"root:" not in path.read_bytes()
    assert sorted(p.name for p in published.iterdir()) == ["ps1.ipynb"]


@pytest.fixture()
def planted(tmp_path: Path) -> Path:
    """A folder holding one of each kind of file a sandbox can leave behind."""
    root = tmp_path / "left"
    root.mkdir()
    (root / "ok.txt").write_bytes(b"fine")
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"SECRET outside the sandbox")
    os.symlink(outside, root / "link.txt")
    os.symlink(tmp_path, root / "dirlink")
    os.link(outside, root / "hard.txt")
    os.mkfifo(root / "fifo")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "sock"))
    os.mknod(root / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    (root / "big.bin").write_bytes(b"x" * 4096)
    return root


@pytest.mark.parametrize(("name", "kind"), [("link.txt", "symbolic link"), ("dirlink", "symbolic link"),
                                            ("hard.txt", "hard link"), ("fifo", "FIFO"), ("sock", "socket"),
                                            ("null", "character device"), ("big.bin", "cap")])
def test_read_back_refuses_each_kind_of_planted_file(planted, name, kind):
    """Each kind of planted file is refused by name and never read through.

    How checked: dropping the S_ISREG test let the FIFO block and the device be read; dropping
    O_NOFOLLOW/lstat followed the links to SECRET; dropping the st_nlink test read the hard link.
    """
    found = untrusted.collect(planted, max_file=1024)
    assert found.files == {"ok.txt": b"fine"}
    reasons = dict(found.refused)
    assert name in reasons and (kind in reasons[name] or kind == "cap" and "cap" in reasons[name]), reasons
    assert all(b"SECRET" not in blob for blob in found.files.values())
    with pytest.raises(OSError):
        untrusted.read_file(planted / name, 1024)


def test_read_back_caps_count_and_total(tmp_path):
    """A flood of files is cut at the count and total caps, each refusal reported.

    How checked: without the caps all 50 files were read.
    """
    for i in range(50):
        (tmp_path / f"f{i:02}").write_bytes(b"y" * 100)
    found = untrusted.collect(tmp_path, max_files=10, max_total=550)
    assert len(found.files) <= 10 and found.total <= 550
    assert len(found.refused) >= 40


def test_publishing_copies_only_regular_files(planted, tmp_path):
    """Publishing into the course folder copies only what passed the checks, as new regular files.

    How checked: with the old shutil.copytree the link's target (SECRET) was copied into the course.
    """
    course = tmp_path / "course"
    course.mkdir()
    refused = publish_files(course, "autograded", "kim", "ps1", planted)
    target = course / "autograded" / "kim" / "ps1"
    assert sorted(p.name for p in target.iterdir()) == ["big.bin", "ok.txt"]
    assert all(not p.is_symlink() for p in target.iterdir())
    assert len(refused) == 6
