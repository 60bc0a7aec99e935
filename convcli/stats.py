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


def _stats(array: np.ndarray, names) -> dict:
    """The statistics ``names`` (not shape) of ``array``, from one float64 copy."""
    if array.size == 0:  # a sum of nothing is 0, and so is its norm; a mean of nothing is not a number
        return {name: 0.0 if name in ("sum", "norm") else math.nan for name in names}
    with np.errstate(over="ignore", invalid="ignore"):  # Inf in, Inf/NaN out: no warnings
        a = np.asarray(array, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        scale = _scale(lo, hi) if any(name in _SCALED for name in names) else 1.0
        scaled = a if scale == 1.0 else a / scale
        out = {}
        for name in names:
            if name in ("min", "max"):
                out[name] = lo if name == "min" else hi
            elif name == "std" and lo == hi:  # every element the same (finite): no deviation at all
                out[name] = 0.0
            else:
                out[name] = scale * _stat(scaled, name)
        if "mean" in out:
            out["mean"] = bounded_mean(out["mean"], lo, hi)
        return out


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


def json_number(x):
    """JSON has no NaN/Infinity: those become the strings "NaN", "Infinity",
    "-Infinity"; everything else is left alone."""
    if isinstance(x, float) and not np.isfinite(x):
        return "NaN" if np.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    return x
