"""Summary statistics of a quantity, the same for ``summary.json`` and for
``expected`` entries such as ``dW.mean``. Computed in float64 whatever the
array's dtype, so a float32 run's statistics are not rounded twice."""

from __future__ import annotations

import numpy as np

STATS = ("mean", "std", "min", "max", "sum", "norm", "shape")


def stat(array: np.ndarray, name: str):
    """One statistic: a float, or for ``shape`` a list of ints."""
    if name == "shape":
        return list(array.shape)
    if array.size == 0:
        return float("nan")
    with np.errstate(over="ignore", invalid="ignore"):  # Inf in, Inf/NaN out: no warnings
        return _stat(np.asarray(array, dtype=np.float64), name)


def _stat(a: np.ndarray, name: str):
    if name == "mean":
        return float(a.mean())
    if name == "std":
        return float(a.std())
    if name == "min":
        return float(a.min())
    if name == "max":
        return float(a.max())
    if name == "sum":
        return float(a.sum())
    if name == "norm":
        return float(np.linalg.norm(a.ravel()))
    raise ValueError(f"stat: expected one of {', '.join(STATS)}, got {name!r}")


def describe(array: np.ndarray) -> dict:
    """shape, dtype, mean, std, min, max, sum, norm of an array."""
    out = {"shape": list(array.shape), "dtype": str(array.dtype)}
    for name in STATS[:-1]:
        out[name] = stat(array, name)
    return out


def json_number(x):
    """JSON has no NaN/Infinity: those become the strings "NaN", "Infinity",
    "-Infinity"; everything else is left alone."""
    if isinstance(x, float) and not np.isfinite(x):
        return "NaN" if np.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    return x
