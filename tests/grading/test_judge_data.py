"""What crosses from the judge's trainee side to its tester: the libraries' own data, whole (fast, no grading).

The tester's unpickler (judge._FromTrainee) refuses everything but the trusted libraries' classes and
reconstructors; these tests keep it from refusing what lab notebooks legitimately hand their tests.
"""
from __future__ import annotations

import copyreg
import enum
import functools
import importlib
import io
import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.random import _pickle as numpy_pickle
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

JUDGE_DIR = str(Path(__file__).resolve().parents[2] / "academy" / "grading")


@pytest.fixture(scope="module")
def judge():
    """The judge as the sandbox imports it: the module "judge" (its pickles name judge._tensor)."""
    sys.path.insert(0, JUDGE_DIR)
    try:
        yield importlib.import_module("judge")
    finally:
        sys.path.remove(JUDGE_DIR)
        sys.modules.pop("judge", None)


def _across(judge, obj):
    buffer = io.BytesIO()
    judge._ToTester(buffer, {}).dump(obj)
    return judge._FromTrainee(buffer.getvalue(), None).load()


def _cases():
    rng = np.random.default_rng(0)
    X = rng.random((40, 3))
    y = (X[:, 0] > 0.5).astype(int)
    return {
        "frame with text and dates": pd.DataFrame({"a": [1, 2], "b": ["x", "y"],
                                                   "t": pd.to_datetime(["2020-01-01", "2020-01-02"])}),
        "categorical series": pd.Series(["a", "b", "a"], dtype="category"),
        "multi-index": pd.MultiIndex.from_tuples([(1, "a"), (2, "b")]),
        "timedelta": pd.Timedelta("1D"),
        "period": pd.Period("2020-01", "M"),
        "structured array": np.zeros(3, dtype=[("a", "i4"), ("b", "f8")]),
        "generator": np.random.default_rng(3),
        "legacy random state": np.random.RandomState(4),
        "random forest": RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y),
        "pipeline": make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=2, random_state=0)).fit(X, y),
        "numpy function": np.mean,
        "ufunc": np.add,
        "long text columns": pd.DataFrame({"id": [f"M{i:05d}" for i in range(300)], "ko": ["가공 불량", ""] * 150,
                                           "n": range(300)}),
        "text array in Fortran order": np.asfortranarray(np.array([[f"r{r}c{c}" for c in range(80)]
                                                                  for r in range(3)], dtype=object)),
        "text with a gap": np.array(["a"] * 70 + [None], dtype=object),
    }


@pytest.mark.parametrize("label", list(_cases()))
def test_library_data_crosses_whole(judge, label):
    """Each kind of library object a lab's test reads arrives as itself, not refused and not as a handle.

    How checked: with Cython reconstructors (pandas' _unpickle_block) and NumPy's dispatcher functions not
    recognised as real functions, the frame, series, index, timedelta, generator and np.mean were refused.
    """
    original = _cases()[label]
    copy = _across(judge, original)
    assert type(copy) is type(original)
    if isinstance(original, (pd.DataFrame, pd.Series, pd.Index)):
        assert original.equals(copy)
    elif isinstance(original, np.ndarray):
        assert original.shape == copy.shape and original.tolist() == copy.tolist()
        assert original.flags.f_contiguous == copy.flags.f_contiguous
        if original.dtype == object:  # as unpickled element by element: it owns its data (resize() works)
            assert copy.flags.owndata
    elif hasattr(original, "predict"):
        X = np.random.default_rng(1).random((5, 3))
        assert np.array_equal(original.predict(X), copy.predict(X))
    elif label in ("generator", "legacy random state"):
        assert original.random() == copy.random() if label == "generator" else original.rand() == copy.rand()
    else:
        assert copy == original or copy is original


def test_torch_tensors_and_modules_cross(judge):
    """Tensors travel as data (through judge._tensor), a library module with its parameters."""
    torch = pytest.importorskip("torch")
    layer = torch.nn.Linear(2, 3)
    copy = _across(judge, layer)
    assert type(copy) is torch.nn.Linear and torch.equal(copy.weight, layer.weight)
    tensor = _across(judge, torch.ones(2, 3, requires_grad=True))
    assert torch.equal(tensor, torch.ones(2, 3)) and tensor.requires_grad


class _Planted:
    """An object whose pickled form is exactly the given reduce value (nested _Planted objects allowed)."""

    def __init__(self, *reduce_value):
        self.reduce_value = reduce_value

    def __reduce__(self):
        return self.reduce_value

    def __call__(self):  # pickle wants a callable where a reduce value calls one of these
        pass


def _refused_streams(judge):
    ones = _Planted(judge._libfunc, ("numpy", "ones"))
    spoof = _Planted(copyreg._reconstructor, (functools.partial, functools.partial, ones),
                     (ones, (0,), {}, {"__module__": "numpy", "__name__": "_reconstruct"}))
    return {
        # a partial that says it is numpy's _reconstruct, then called: np.ones(0) runs in the tester
        "spoofed partial": _Planted(spoof, ()),
        "lookup through another module": _Planted(judge._libfunc, ("pathlib", "os._exit")),
        "lookup through a dunder": _Planted(judge._libfunc, ("numpy", "__builtins__.get")),
        "a torch function that runs source": _Planted(judge._libfunc, ("torch.fx.graph_module", "_forward_from_src")),
        "numpy's generator constructor calling something else": _Planted(
            numpy_pickle.__generator_ctor, ("x", _Planted(judge._libfunc, ("numpy", "asarray")))),
        "a metaclass making a class": _Planted(enum.EnumMeta, ("X", (), {})),
        "a masked value": _Planted(np.ma.core.MaskedConstant, ()),
        # enum's functional API makes a class whose __eq__ the stream chose
        "an enum class made on the spot": _Planted(enum.Enum, ("Liar", {"A": 1, "__eq__": str})),
        "a method as a function (Path.touch)": _Planted(judge._libfunc, ("pathlib", "Path.touch")),
        "a private helper that starts a process": _Planted(judge._libfunc, ("uuid", "_find_mac_near_keyword")),
        # a Series' __setitem__ calls a callable key
        "items set on a Series": _Planted(pd.Series, ([1, 2],), None, None,
                                          iter([(_Planted(judge._libfunc, ("numpy", "ones")), 1)])),
        # a dtype that holds objects but whose flags say it does not: raw bytes become object pointers
        "a dtype with forged flags": _Planted(np.dtype, ("V8", False, True),
                                             (3, "|", None, ("a",), {"a": (np.dtype("O"), 0)}, 8, 1, 0)),
    }


REFUSED = ["spoofed partial", "lookup through another module", "lookup through a dunder",
           "a torch function that runs source", "numpy's generator constructor calling something else",
           "a metaclass making a class", "a masked value", "an enum class made on the spot",
           "a method as a function (Path.touch)",
           "a private helper that starts a process", "items set on a Series", "a dtype with forged flags"]


@pytest.mark.parametrize("label", REFUSED)
def test_the_unpickler_refuses_what_could_run_or_lie(judge, label):
    """Streams the trainee's side could send that would run code in the tester or compare equal to anything
    are refused with UnpicklingError before anything is called.

    How checked: on the judge of 8d61e5b (reducers judged by their __module__/__name__, _libfunc walking
    any dotted path, no torch module list, numpy.ma accepted, metaclasses callable) every stream but the
    generator's loaded or failed inside the call it made (not refused); the generator's called np.asarray.
    The last five came from a second review (enum's functional API, which pandas' _new_DatetimeIndex then
    instantiated; methods and private helpers through _libfunc; a Series' __setitem__; a dtype's flags): on
    1fa8735's judge each loaded, called what it was given or built the forged dtype.
    """
    pytest.importorskip("torch")
    with pytest.raises(pickle.UnpicklingError):
        judge._FromTrainee(pickle.dumps(_refused_streams(judge)[label], protocol=4), None).load()


@pytest.mark.parametrize("args", [
    ("abc", np.array([1, 1], dtype=np.int64), (2,), "C"),  # lengths add up to less than the text
    ("abc", np.array([4, -1], dtype=np.int64), (2,), "C"),  # a negative length
    ("abc", np.array([2 ** 62] * 4 + [3], dtype=np.int64), (5,), "C"),  # a sum that wraps around
    ("abc", np.array([1, 2], dtype=np.int64), (3,), "C"),  # a shape for more elements than lengths
    ("abc", [1, 2], (2,), "C"),  # lengths that are not an array
    ("abc", np.array([1, 2], dtype=np.int64), (2,), "K"),  # an order NumPy would read differently
    (b"abc", np.array([1, 2], dtype=np.int64), (2,), "C"),  # bytes for text
    # lengths as a zero-stride view of 8 bytes: any number of them for a few bytes of stream
    ("", _Planted(np.ndarray, ((1000,), "i8", b"\0" * 8, 0, (0,))), (1000,), "C"),
])
def test_a_malformed_text_array_is_refused(judge, args):
    """The trainee's side sends long text arrays as one string and the lengths of its pieces (judge._str_array);
    the tester rebuilds them only when the pieces add up to the text and the shape, never indexing past it.

    How checked: with the checks in _str_array removed, each of these built an array (of the wrong size or
    from slices past the text) instead of raising UnpicklingError; the zero-stride one (found by an attacker's
    review: a 108-byte stream, 315 MiB at n=10**7) without the strides check.
    """
    with pytest.raises(pickle.UnpicklingError):
        judge._FromTrainee(pickle.dumps(_Planted(judge._str_array, args), protocol=4), None).load()
