"""ReLU: ``A = max(Z, 0)``; backward passes the gradient where ``Z > 0``."""

from __future__ import annotations

import numpy as np

from .hparams import as_array, check_memory, check_not_swapped, compute_dtype, whole_return_hint


def relu_forward(Z):
    """Forward pass of a ReLU: ``A = max(Z, 0)``, elementwise.

    Parameters
    ----------
    Z : array of any shape (a conv layer's output, say)

    Returns
    -------
    A : ndarray, the shape of ``Z``, in the dtype the layers compute in
        (float32 for float32 and float16, float64 otherwise)
    cache : ``(Z,)``, for :func:`relu_backward`

    Raises
    ------
    ValueError
        For a ``Z`` that is not a real numeric array.
    """
    Z = as_array(Z, "Z", None)
    check_memory(Z.shape, compute_dtype(Z).itemsize, f"Z: {Z.shape}: A, of its shape, would be ")
    Z = Z.astype(compute_dtype(Z), copy=False)
    return np.maximum(Z, 0), (Z,)


def relu_backward(dA, cache):
    """Backward pass of a ReLU: ``dZ = dA`` where ``Z > 0``, else 0 (the
    subgradient at 0 is taken as 0, as in the notebook and PyTorch).

    Parameters
    ----------
    dA : ndarray, the shape of ``Z``: the gradient with respect to ``A``
    cache : ``(Z,)`` from :func:`relu_forward`, or ``Z`` itself (the
        course's relu helper caches ``Z``); a list ``[Z]`` too

    Returns
    -------
    dZ : ndarray, the shape of ``Z``, in the dtype :func:`relu_forward`
        computes ``Z`` in (float32 for float32 and float16, float64 otherwise)

    Raises
    ------
    ValueError
        For a cache that is not a ReLU's (or whose ``Z`` is not a real
        numeric array), or a ``dA`` of another shape.
    """
    check_not_swapped(dA, cache, "relu_backward", "dA")
    if isinstance(cache, list):  # [Z]: as good as its tuple, as conv_backward and pool_backward take one
        cache = tuple(cache)
    if isinstance(cache, np.ndarray):  # the course's own relu helper caches Z itself (a learner's review)
        cache = (cache,)
    if not (isinstance(cache, tuple) and len(cache) == 1 and isinstance(cache[0], np.ndarray)):
        raise ValueError("cache: not a relu cache; expected the tuple (Z,) returned by relu_forward, or Z"
                         + whole_return_hint(cache, "relu_backward"))
    # Z as relu_forward takes it: a real numeric array, computed in its compute dtype. The
    # course's cache is the caller's Z itself, not relu_forward's cast copy (a review: an
    # integer Z gave dZ truncated to integers, a float16 one overflowed, a complex one passed).
    Z = as_array(cache[0], "cache: Z", None)
    Z = Z.astype(compute_dtype(Z), copy=False)
    dA = as_array(dA, "dA", Z.ndim)
    if dA.shape != Z.shape:
        raise ValueError(f"dA: shape {dA.shape} does not match the layer's output shape {Z.shape}")
    check_memory(Z.shape, Z.itemsize, f"cache: Z {Z.shape}: dZ, of its shape, would be ")
    return np.where(Z > 0, dA.astype(Z.dtype, copy=False), 0).astype(Z.dtype, copy=False)
