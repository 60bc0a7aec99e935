"""ReLU: ``A = max(Z, 0)``; backward passes the gradient where ``Z > 0``."""

from __future__ import annotations

import numpy as np

from .hparams import as_array, check_upstream, compute_dtype


def relu_forward(Z):
    """Returns ``(A, cache)`` with ``A = max(Z, 0)`` and ``cache = (Z,)``."""
    Z = as_array(Z, "Z", None)
    Z = Z.astype(compute_dtype(Z), copy=False)
    return np.maximum(Z, 0), (Z,)


def relu_backward(dA, cache):
    """``dZ = dA`` where ``Z > 0``, else 0 (the subgradient at 0 is 0, as in PyTorch)."""
    if isinstance(cache, list):  # [Z]: as good as its tuple, as conv_backward and pool_backward take one
        cache = tuple(cache)
    if isinstance(cache, np.ndarray):  # the course's own relu helper caches Z itself (a learner's review)
        cache = (cache,)
    if not (isinstance(cache, tuple) and len(cache) == 1 and isinstance(cache[0], np.ndarray)):
        raise ValueError("cache: not a relu cache; expected the tuple (Z,) returned by relu_forward, or Z")
    (Z,) = cache
    dA = as_array(dA, "dA", Z.ndim)
    if dA.shape != Z.shape:
        raise ValueError(f"dA: shape {dA.shape} does not match the layer's output shape {Z.shape}")
    return np.where(Z > 0, dA.astype(Z.dtype, copy=False), 0).astype(Z.dtype, copy=False)
