"""Statistics and their JSON form (convcli/stats.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from convcli.stats import all_finite, describe, stat


def test_json_numbers_have_one_rule():
    """The CLI's JSON and summary.json say NaN and infinities the same way."""
    from convcli.cli import _clean
    from convcli.stats import json_number

    doc = {"a": np.float32("nan"), "b": [np.inf, -np.inf, 1.5], "c": np.arange(2), 3: (np.int64(4),)}
    assert _clean(doc) == {"a": "NaN", "b": ["Infinity", "-Infinity", 1.5], "c": [0, 1], "3": [4]}
    assert [json_number(x) for x in (math.nan, math.inf, -math.inf, 2.0, "x")] == [
        "NaN", "Infinity", "-Infinity", 2.0, "x"]


@pytest.mark.parametrize("values, name, expected", [
    # by hand: mean 2e300, deviations +-1e300, so std 1e300 (1e300 squared overflows)
    ([3e300, 1e300], "std", 1e300),
    ([3e300, 4e300], "norm", 5e300),  # 3-4-5
    ([1.5e308, 1.5e308], "mean", 1.5e308),  # their sum overflows
    ([1e300] * 8, "std", 0.0),
    ([3e-200, 4e-200], "norm", 5e-200),  # squares underflow to 0
    ([-3e-200, 1e-200], "std", 2e-200),  # mean -1e-200, deviations -+2e-200
    ([1.5e308, 1.5e308], "sum", math.inf),  # 3e308 is past float64: inf is the truth
])
def test_stats_of_finite_data_do_not_overflow_or_underflow(values, name, expected):
    assert stat(np.array(values), name) == pytest.approx(expected, rel=1e-15, abs=0)


def test_stats_of_ordinary_data_are_numpy_s():
    """Scaling by a power of two is exact: ordinary data is not scaled at all."""
    a = np.random.RandomState(0).randn(3, 5) * 7
    d = describe(a)
    assert (d["mean"], d["std"], d["sum"], d["norm"]) == (a.mean(), a.std(), a.sum(), np.linalg.norm(a.ravel()))


@pytest.mark.parametrize("value", [0.1, 0.7, -2.3e-5, 1e300, 3.0])
def test_a_constant_array_has_its_value_for_mean_and_no_deviation(value):
    """By hand: every element v, so the mean is v and the std 0. Summed in
    float64, 0.1 repeated 196,608 times gave a mean of 0.09999999999999999
    and a std of 1.4e-17, 0.7 a mean past the maximum; in memory and
    streamed (RunningStats) alike."""
    from convcli.streaming import RunningStats

    a = np.full((64, 32, 32, 3), value)
    running = RunningStats()
    running.update(a)
    for d in (describe(a), running.result()):
        assert (d["mean"], d["std"], d["min"], d["max"]) == (value, 0.0, value, value)


def test_a_mean_stays_within_the_extremes_and_is_else_numpy_s():
    """The mean only moves where its rounding left [min, max]: of 0.7 and
    a single 0.7 + ulp, NumPy's mean is exact and kept."""
    a = np.full(196_608, 0.7)
    a[-1] = np.nextafter(0.7, 1.0)
    d = describe(a)
    assert 0.7 <= d["mean"] <= a[-1] and d["std"] > 0
    b = np.random.RandomState(1).randn(1000)
    assert describe(b)["mean"] == b.mean()


def test_streamed_stats_of_subnormal_data_are_the_in_memory_ones():
    """A streaming review: every streamed statistic of data below 2.2e-308
    (subnormal) was NaN: the scale went from 1 to 2**-1030, whose ratio,
    2**1030, is past float64, and the sums' zeros times it made NaN. By
    hand: 3e-310, -1e-310, 2e-310, 0 (each a multiple of the smallest
    subnormal, 4.94e-324, to rounding) have sum 4e-310 and mean 1e-310."""
    from convcli.streaming import RunningStats

    a = np.array([3e-310, -1e-310, 2e-310, 0.0])
    running = RunningStats()
    for chunk in np.array_split(a, 3):
        running.update(chunk)
    got, whole = running.result(), describe(a)
    for name in ("mean", "std", "sum", "norm", "min", "max"):
        assert got[name] == pytest.approx(whole[name], rel=1e-9, abs=0), name
    assert got["sum"] == pytest.approx(4e-310, rel=1e-9) and got["mean"] == pytest.approx(1e-310, rel=1e-9)


def test_stats_of_nothing():
    """A sum of no numbers is 0 and so is its norm; their mean is not a number."""
    d = describe(np.zeros((0, 3)))
    assert d["sum"] == 0.0 and d["norm"] == 0.0
    assert all(math.isnan(d[k]) for k in ("mean", "std", "min", "max"))


def test_stats_of_nonfinite_data_stay_nonfinite():
    d = describe(np.array([1.0, np.inf]))
    assert d["max"] == d["sum"] == d["norm"] == d["mean"] == math.inf and math.isnan(d["std"])
    assert math.isnan(stat(np.array([1.0, np.nan]), "norm"))


@pytest.mark.parametrize("value", [np.inf, -np.inf])
@pytest.mark.parametrize("size", [7, 524_288])
def test_the_std_of_infinities_alone_is_nan_at_any_size(value, size):
    """A review: an array of one infinity repeated had std 0.0 below the
    block-by-block size and NaN from it (inf - inf). NaN at any size, as
    NumPy's np.std and a streamed run's: the one-value rule is for numbers."""
    from convcli.streaming import RunningStats

    a = np.full(size, value)
    running = RunningStats()
    running.update(a)
    for d in (describe(a), running.result()):
        assert math.isnan(d["std"]) and d["mean"] == d["min"] == d["max"] == value, d


@pytest.mark.parametrize("values", [[np.inf, -np.inf], [np.nan, 1.0], [3e38, 3e38, -np.inf]])
def test_all_finite_says_no_without_a_warning(values, recwarn):
    """Inf + -Inf in the float64 sum is NaN: the answer (not finite), which
    must not also print NumPy's RuntimeWarning ahead of the error line."""
    assert not all_finite(np.array(values, dtype=np.float32))
    assert [w for w in recwarn if issubclass(w.category, RuntimeWarning)] == []


def test_streamed_stats_make_no_blas_call(monkeypatch):
    """A streaming review: RunningStats took each 1 MiB block's sums of
    squares with np.dot, which OpenBLAS runs on every thread; between the
    layers' threaded regions each call waited on parked workers, and a
    streamed backward spent 2.3-13.1 s writing against 1.0-1.1 s without.
    No BLAS call now (any would raise here); the statistics are still
    describe's, by hand for the norm: sqrt(sum of squares)."""
    from convcli.streaming import RunningStats

    a = np.random.RandomState(2).randn(3, 100_000) * 5 + 1
    ours = describe(a)

    def no_blas(*args, **kwargs):
        raise AssertionError("a BLAS call")

    for name in ("dot", "vdot", "inner", "matmul", "tensordot"):
        monkeypatch.setattr(np, name, no_blas)
    running = RunningStats()
    for chunk in a:
        running.update(chunk)
    got = running.result()
    monkeypatch.undo()
    assert got["norm"] == pytest.approx(math.sqrt(math.fsum(float(v) ** 2 for v in a.ravel())), rel=1e-13)
    for name in ("mean", "std", "sum", "norm", "min", "max"):
        assert got[name] == pytest.approx(ours[name], rel=1e-12), name


@pytest.mark.parametrize("view", [
    lambda a: a,  # C order
    lambda a: a.reshape(128, 100, 160).transpose(2, 0, 1),  # a transposed view
    lambda a: a.reshape(4, 8000, 64)[:, ::-1, ::2],  # reversed and strided
    lambda a: np.asfortranarray(a.reshape(1, 2000, 1024))[0],  # one leading row, Fortran order
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stats_of_a_large_array_are_numpy_s_without_an_array_sized_temporary(view, dtype):
    """A pictures review: the std of a 32x224x224x64 float64 conv1.Z took
    2.8 s and an 822 MB temporary (NumPy's x - mean), on top of a float64
    copy of a float32 array. Large arrays now go block by block; the numbers
    are NumPy's of a float64 copy (to rounding, rel 1e-13; the sum against
    math.fsum), and nothing near the array's size is allocated."""
    import tracemalloc

    from convcli.stats import RUNNING_MIN

    a = view((np.random.RandomState(3).randn(2_048_000) * 4 + 2).astype(dtype))
    assert a.size >= RUNNING_MIN
    tracemalloc.start()
    d = describe(a)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    c = np.array(a, dtype=np.float64)
    assert c.nbytes >= 8_000_000 and peak < 4 << 20, peak  # a few 1 MiB blocks, never a float64 copy
    assert d["sum"] == pytest.approx(math.fsum(c.ravel().tolist()), rel=1e-13, abs=0)
    for name, want in (("mean", c.mean()), ("std", c.std()), ("norm", np.linalg.norm(c.ravel()))):
        assert d[name] == pytest.approx(want, rel=1e-13, abs=0), name
    assert (d["min"], d["max"], d["shape"], d["dtype"]) == (c.min(), c.max(), list(a.shape), str(np.dtype(dtype)))
