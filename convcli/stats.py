"""Summary statistics of a quantity, the same for ``summary.json`` and for
``expected`` entries such as ``dW.mean``. Computed in float64 whatever the
array's dtype, so a float32 run's statistics are not rounded twice."""

from __future__ import annotations

import math

import numpy as np

STATS = ("mean", "std", "min", "max", "sum", "norm", "shape")
# The significant digits the CLI's tables show a statistic with (summary.json
# and expected.yaml keep every one).
TABLE_DIGITS = 6
STATS_BLOCK = 1 << 17  # elements: 1 MiB of float64 per statistics step


def all_finite(a: np.ndarray) -> bool:
    """No NaN or Inf in ``a``, in one pass with no array-sized temporary: a
    float64 sum of finite float32 values cannot overflow; only when the sum
    is not finite (Inf, NaN, or a float64 sum past 1.8e308) look element by
    element."""
    with np.errstate(over="ignore", invalid="ignore"):  # Inf + -Inf is the answer, not a warning
        if np.isfinite(np.add.reduce(a, axis=None, dtype=np.float64)):
            return True
    return bool(np.isfinite(a).all())


def stat(array: np.ndarray, name: str):
    """One statistic: a float, or for ``shape`` a list of ints."""
    if name == "shape":
        return list(array.shape)
    return _stats(array, (name,))[name]


def describe(array: np.ndarray) -> dict:
    """shape, dtype, mean, std, min, max, sum, norm of an array."""
    return {"shape": list(array.shape), "dtype": str(array.dtype), **_stats(array, STATS[:-1])}


# Sums and squares of finite values can overflow (std and norm of 1e300s
# gave inf) or underflow (the norm of 1e-200s gave 0): those stats are taken
# of the data divided by a power of two, which is exact, then scaled back.
_SCALED = ("mean", "std", "sum", "norm")
_SAFE = 2.0**400  # below it, squares and sums of up to 2**62 elements stay finite


# From this many elements, statistics are taken a block at a time (RunningStats, as a streamed
# quantity's): np.std of a 32x224x224x64 float64 Z took 2.8 s and an 822 MB temporary (x - mean),
# besides the float64 copy of a float32 array; block by block 0.4 s, and no temporary past a block.
RUNNING_MIN = 4 * STATS_BLOCK


def _stats(array: np.ndarray, names) -> dict:
    """The statistics ``names`` (not shape) of ``array``: NumPy's of one
    float64 copy, or of a large array its blocks' (:class:`RunningStats`)."""
    if array.size == 0:  # a sum of nothing is 0, and so is its norm; a mean of nothing is not a number
        return {name: 0.0 if name in ("sum", "norm") else math.nan for name in names}
    if array.size >= RUNNING_MIN:
        running = RunningStats(largest=False)
        for part in _parts(array):
            running.update(part)
        got = running.result()
        return {name: got[name] for name in names}
    with np.errstate(over="ignore", invalid="ignore"):  # Inf in, Inf/NaN out: no warnings
        a = np.asarray(array, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        scale = _scale(lo, hi) if any(name in _SCALED for name in names) else 1.0
        scaled = a if scale == 1.0 else a / scale
        out = {}
        for name in names:
            if name in ("min", "max"):
                out[name] = lo if name == "min" else hi
            elif name == "std" and lo == hi and math.isfinite(lo):  # every element the same: no deviation
                # (infinities have none either way: NaN, as NumPy's and RunningStats' inf - inf, a review)
                out[name] = 0.0
            else:
                out[name] = scale * _stat(scaled, name)
        if "mean" in out:
            out["mean"] = bounded_mean(out["mean"], lo, hi)
        return out


def _parts(array: np.ndarray):
    """``array`` (not empty) in C order as contiguous pieces: itself
    flattened, else runs of its leading rows copied about STATS_BLOCK
    elements at a time (never the whole array)."""
    if array.flags.c_contiguous:  # (a 0-d array is)
        yield array.reshape(-1)
        return
    row = array[0].size
    if row > STATS_BLOCK:  # a row at a time, each in its own pieces
        for r in array:
            yield from _parts(r)
        return
    step = STATS_BLOCK // row
    for i in range(0, array.shape[0], step):
        yield np.ascontiguousarray(array[i:i + step]).reshape(-1)


def bounded_mean(mean: float, lo: float, hi: float) -> float:
    """``mean`` held within the data's extremes, where the rounding of its sum
    took it past them: the mean of 0.7 repeated 196,608 times summed to
    0.7000000000000001, of 0.1 to 0.09999999999999999 where every element
    is 0.1. A constant array's mean is then its value exactly; other data's
    mean is left alone (NaN and infinities too)."""
    if not (math.isfinite(mean) and math.isfinite(lo) and math.isfinite(hi)):
        return mean
    return min(max(mean, lo), hi)


def _scale(lo: float, hi: float) -> float:
    """The power of two near ``max|a|`` (from ``a``'s extremes) when that is
    beyond ``2**±400``; else 1."""
    big = max(hi, -lo)
    if not math.isfinite(big) or big == 0 or 1 / _SAFE <= big <= _SAFE:
        return 1.0
    return math.ldexp(1.0, math.frexp(big)[1] - 1)  # big / scale is in [1, 2)


def _stat(a: np.ndarray, name: str) -> float:
    if name == "mean":
        return float(a.mean())
    if name == "std":
        return float(a.std())
    if name == "sum":
        return float(a.sum())
    if name == "norm":
        return float(np.linalg.norm(a.ravel()))
    raise ValueError(f"stat: expected one of {', '.join(STATS)}, got {name!r}")


def _sum_of_squares(x: np.ndarray) -> float:
    """x . x without BLAS: OpenBLAS runs a dot product of a block this size
    (STATS_BLOCK) on every thread, and each call between the layers'
    threaded regions waits on their parked workers: a review's streamed
    backward spent 2.3-13.1 s writing (the more, the busier the machine)
    against 1.0-1.1 s with the sums taken this way (einsum's own loop, ~4x
    a quiet dot's time: 37 us a 1 MiB block)."""
    return float(np.einsum("i,i->", x, x))


class RunningStats:
    """mean, std, min, max, sum, norm of an array seen a chunk at a time, as
    :func:`convcli.stats.describe` gives them for the whole (in float64).

    Sums (and the sum of squares, for the norm) add up in float64; the
    variance combines the blocks' centred sums of squares with Chan et al.'s
    update, on the data shifted by its first value: block means near zero
    round to far less than a large mean's ulp, so a variance small beside
    the mean squared keeps its digits (1e8 + randn: 1e-16, as two passes).
    Each chunk is visited in blocks of ``STATS_BLOCK`` elements, so the
    float64 copies stay small whatever the chunk.

    Like ``describe``, data beyond ``2**±400`` is divided by a power of two
    near its largest magnitude so far (``scale``; exact), else the squares of
    1e300s overflow and those of 1e-200s underflow. All running sums are kept
    in units of ``scale``: when the largest magnitude grows past it, they are
    rescaled by the ratio, a power of two (exact, or lost to underflow only
    where negligible beside the new data). Ordinary data has scale 1 and is
    not touched.
    """

    def __init__(self, largest: bool = True) -> None:
        self.track_largest = largest  # (describe has no use for it: a review)
        self.n = 0
        self.scale = 1.0  # every sum below is of the data divided by it
        self.total = 0.0
        self.squares = 0.0
        self.shift: float | None = None
        self.mean = 0.0  # Chan's running mean of the shifted data, for the variance only
        self.m2 = 0.0
        self.lo = math.inf
        self.hi = -math.inf
        # the element largest in magnitude (the first of equals): its flat index and value, for
        # expected.yaml's Q[i, j, k, c] entry, as an array whole in memory has (an instructor's review)
        self.largest: tuple[int, float] | None = None

    def update(self, array: np.ndarray) -> None:
        flat = array.reshape(-1)
        for i in range(0, flat.size, STATS_BLOCK):
            x = np.asarray(flat[i:i + STATS_BLOCK], dtype=np.float64)
            k = x.size
            if self.track_largest:
                j = int(np.argmax(np.abs(x)))  # (a NaN's, if any: then no entry is made, see largest_at)
                if self.largest is None or abs(x[j]) > abs(self.largest[1]):
                    self.largest = (self.n + j, float(flat[i + j]))
            self.lo = float(np.minimum(self.lo, x.min()))  # np.minimum keeps a NaN
            self.hi = float(np.maximum(self.hi, x.max()))
            if math.isfinite(self.lo) and math.isfinite(self.hi):  # Inf/NaN: the stats are not finite anyway
                self._rescale(_scale(self.lo, self.hi))
            if self.scale != 1.0:
                x = x / self.scale
            if self.shift is None:
                self.shift = float(x[0]) if math.isfinite(x[0]) else 0.0
            with np.errstate(over="ignore", invalid="ignore"):
                s = float(x.sum())
                y = x - self.shift
                m = float(y.sum()) / k
                y -= m
                m2 = _sum_of_squares(y)
                n = self.n + k
                delta = m - self.mean
                self.mean += delta * k / n
                self.m2 += m2 + delta * delta * self.n * k / n
                self.squares += _sum_of_squares(x)
            self.n = n
            self.total += s

    def largest_at(self, shape) -> tuple[tuple[int, ...], float] | None:
        """The element largest in magnitude, ``(index, value)``, of an array
        of ``shape`` seen whole; None where it held a NaN or an infinity
        (compared whole instead) or fewer than two elements."""
        if self.largest is None or self.n < 2 or not (math.isfinite(self.lo) and math.isfinite(self.hi)):
            return None
        at, value = self.largest
        return tuple(int(i) for i in np.unravel_index(at, shape)), value

    def _rescale(self, scale: float) -> None:
        """Keep the sums in units of ``scale`` (a power of two) from now on:
        each multiplied by the ratio of the scales, 2**e, as an exponent
        (exact unless it underflows). The ratio itself can be past float64:
        from 1 to the 2**-1030 of subnormal data it was inf, and the sums'
        zeros times it NaN (a review: every streamed statistic of 1e-310s
        was NaN)."""
        if scale == self.scale:
            return
        e = math.frexp(self.scale)[1] - math.frexp(scale)[1]

        def times(x: float, k: int = 1) -> float:  # x * 2**(k*e), in steps no float64 overflows on the way
            return float(np.ldexp(np.ldexp(x, e), (k - 1) * e))

        self.total = times(self.total)
        self.mean = times(self.mean)
        if self.shift is not None:
            self.shift = times(self.shift)
        self.squares = times(self.squares, 2)
        self.m2 = times(self.m2, 2)
        self.scale = scale

    def result(self) -> dict:
        c = self.scale
        with np.errstate(invalid="ignore"):
            return {
                "mean": bounded_mean(c * (self.total / self.n), self.lo, self.hi),
                "std": c * math.sqrt(self.m2 / self.n) if self.m2 >= 0 else math.nan,
                "min": self.lo,
                "max": self.hi,
                "sum": c * self.total,
                "norm": c * math.sqrt(self.squares) if self.squares >= 0 else math.nan,
            }


def json_number(x):
    """JSON has no NaN/Infinity: those become the strings "NaN", "Infinity",
    "-Infinity"; everything else is left alone."""
    if isinstance(x, float) and not np.isfinite(x):
        return "NaN" if np.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    return x
