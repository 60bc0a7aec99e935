"""2-D convolution, forward and backward, NHWC, in two engines.

``reference``: explicit loops shaped like the course notebook's, one output
element at a time. Slow and obvious; the tests' oracle.

``fast`` (default): im2col + one GEMM per batch chunk. The padded input is
unfolded into a contiguous buffer ``cols`` of shape (rows, f_H*f_W*n_C_prev)
with one strided copy per kernel offset, then ``Z = cols @ W`` (BLAS). Backward
rebuilds ``cols`` chunk by chunk for ``dW = cols.T @ dZ`` and scatters
``dcols = dZ @ W.T`` back (col2im) for ``dA_prev``. Chunking keeps the
unfolded buffer at a few MiB whatever the batch size.

Output size, per axis (d = dilation, s = stride, pad = before + after)::

    n_out = floor((n_in + pad - d*(f - 1) - 1) / s) + 1
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .hparams import (
    ConvGeometry,
    as_array,
    check_engine,
    check_upstream,
    compute_dtype,
    conv_geometry,
    pad_sides,
)

# Bytes of unfolded input processed per GEMM in the fast engine.
CHUNK_BYTES = 8 << 20


@dataclass
class _ConvState:
    """What conv_forward adds to the cache after (A_prev, W, b, hparameters)."""

    geometry: ConvGeometry
    engine: str
    dtype: np.dtype


# ----------------------------------------------------------------- helpers


def zero_pad(X, pad):
    """Pad the two spatial axes of a batch of images with zeros.

    Parameters
    ----------
    X : ndarray of shape (m, n_H, n_W, n_C)
    pad : int, [p_H, p_W] or [top, bottom, left, right]

    Returns
    -------
    X_pad : ndarray of shape (m, n_H + top + bottom, n_W + left + right, n_C)
    """
    X = as_array(X, "X", 4, "(m, n_H, n_W, n_C)")
    return _pad(X, pad_sides(pad))


def _pad(X: np.ndarray, sides) -> np.ndarray:
    t, b, l, r = sides
    if not any(sides):
        return X
    return np.pad(X, ((0, 0), (t, b), (l, r), (0, 0)), mode="constant")


def _window_span(g: ConvGeometry) -> tuple[int, int]:
    """Extent of one (dilated) window along H and W."""
    return g.d_H * (g.f_H - 1) + 1, g.d_W * (g.f_W - 1) + 1


def _as_compute(A_prev, W, b):
    A_prev = as_array(A_prev, "A_prev", 4, "(m, n_H_prev, n_W_prev, n_C_prev)")
    W = as_array(W, "W", 4, "(f_H, f_W, n_C_prev, n_C)")
    b = as_array(b, "b", None)
    dtype = compute_dtype(A_prev, W, b)
    return A_prev.astype(dtype, copy=False), W.astype(dtype, copy=False), b.astype(dtype, copy=False), dtype


def conv_single_step(a_slice_prev, W, b, bias="once"):
    """One output element: ``sum(a_slice_prev * W) + b``.

    Parameters
    ----------
    a_slice_prev : ndarray of shape (f_H, f_W, n_C_prev)
    W : ndarray of shape (f_H, f_W, n_C_prev)
    b : scalar or array with one element, e.g. shape (1, 1, 1)
    bias : {"once", "window"}
        ``window`` reproduces the seed notebook, which adds ``b`` to every
        element of the window before summing (``b`` counts f_H*f_W*n_C_prev
        times).
    """
    a = as_array(a_slice_prev, "a_slice_prev", None)
    W = as_array(W, "W", None)
    b = as_array(b, "b", None)
    if a.shape != W.shape:
        raise ValueError(f"W: shape {W.shape} does not match a_slice_prev {a.shape}")
    if b.size != 1:
        raise ValueError(f"b: expected a single value, got shape {b.shape}")
    if bias == "window":
        return np.sum(np.multiply(a, W) + b.reshape(()))
    if bias != "once":
        raise ValueError(f"bias: expected one of once, window, got {bias!r}")
    return np.sum(np.multiply(a, W)) + b.reshape(())


# ----------------------------------------------------------------- public API


def conv_forward(A_prev, W, b, hparameters, engine="fast"):
    """Forward pass of a convolution layer.

    Parameters
    ----------
    A_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
    W : ndarray of shape (f_H, f_W, n_C_prev, n_C)
    b : ndarray of shape (1, 1, 1, n_C) or (n_C,)
    hparameters : dict
        ``stride`` (int or pair, default 1), ``pad`` (int, pair,
        [top, bottom, left, right], "same" or "valid"; default 0),
        ``dilation`` (int or pair, default 1), ``bias`` ("once" default, or
        "window" for the seed notebook's behaviour).
    engine : {"fast", "reference"}

    Returns
    -------
    Z : ndarray of shape (m, n_H, n_W, n_C)
    cache : tuple ``(A_prev, W, b, hparameters, state)`` for :func:`conv_backward`

    Raises
    ------
    ValueError
        Naming the argument and the shapes involved.
    """
    engine = check_engine(engine)
    A_prev, W, b, dtype = _as_compute(A_prev, W, b)
    g = conv_geometry(A_prev, W, b, hparameters)
    run = _forward_fast if engine == "fast" else _forward_reference
    Z = run(A_prev, W, b.reshape(-1), g)
    return Z, (A_prev, W, b, hparameters, _ConvState(g, engine, dtype))


def conv_backward(dZ, cache, engine=None):
    """Backward pass of a convolution layer.

    Parameters
    ----------
    dZ : ndarray of shape (m, n_H, n_W, n_C)
        Gradient of the cost with respect to the layer's output ``Z``.
    cache : tuple from :func:`conv_forward`
    engine : {"fast", "reference"}, optional
        Defaults to the engine that ran the forward pass.

    Returns
    -------
    dA_prev : ndarray, the shape of ``A_prev``
    dW : ndarray, the shape of ``W``
    db : ndarray, the shape of ``b``

    ``bias: window`` affects the forward pass only; ``db`` is always the sum of
    ``dZ``, as in the notebook.
    """
    A_prev, W, b, hparameters, state = _unpack_cache(cache)
    engine = check_engine(engine if engine is not None else state.engine if state else "fast")
    if state is None:
        A_prev, W, b, dtype = _as_compute(A_prev, W, b)
        g = conv_geometry(A_prev, W, b, hparameters)
    else:
        g, dtype = state.geometry, state.dtype
    dZ = check_upstream(dZ, "dZ", g.out_shape).astype(dtype, copy=False)
    run = _backward_fast if engine == "fast" else _backward_reference
    dA_prev, dW, db = run(dZ, A_prev, W, g)
    return dA_prev, dW, db.reshape(b.shape)


def _unpack_cache(cache):
    if not isinstance(cache, tuple) or len(cache) < 4:
        raise ValueError(
            "cache: expected the tuple (A_prev, W, b, hparameters, ...) returned by "
            f"conv_forward, got {type(cache).__name__}"
            + (f" of {len(cache)} items" if isinstance(cache, (tuple, list)) else "")
        )
    A_prev, W, b, hparameters = cache[:4]
    if not (isinstance(A_prev, np.ndarray) and isinstance(W, np.ndarray)
            and isinstance(b, np.ndarray) and isinstance(hparameters, dict)):
        raise ValueError(
            "cache: not a conv cache; expected (A_prev, W, b, hparameters, ...) "
            "as returned by conv_forward"
        )
    state = cache[4] if len(cache) > 4 else None
    if state is not None and not isinstance(state, _ConvState):
        raise ValueError("cache: item 5 is not conv_forward's state; was it made by another layer?")
    if state is not None and (A_prev.shape != state.geometry.in_shape
                              or W.shape != (state.geometry.f_H, state.geometry.f_W,
                                             state.geometry.n_C_prev, state.geometry.n_C)):
        raise ValueError(
            f"cache: A_prev {A_prev.shape} / W {W.shape} do not match the state "
            "conv_forward recorded; the cache was altered"
        )
    return A_prev, W, b, hparameters, state


# ----------------------------------------------------------------- reference engine


def _forward_reference(A_prev, W, b, g: ConvGeometry):
    """The notebook's loops: every sample, output row, column and filter."""
    span_H, span_W = _window_span(g)
    A_prev_pad = _pad(A_prev, g.pad)
    Z = np.zeros(g.out_shape, dtype=A_prev.dtype)
    for i in range(g.m):
        a_prev_pad = A_prev_pad[i]
        for h in range(g.n_H):
            vert_start = h * g.s_H
            vert_end = vert_start + span_H
            for w in range(g.n_W):
                horiz_start = w * g.s_W
                horiz_end = horiz_start + span_W
                a_slice_prev = a_prev_pad[vert_start:vert_end:g.d_H, horiz_start:horiz_end:g.d_W, :]
                for c in range(g.n_C):
                    Z[i, h, w, c] = conv_single_step(a_slice_prev, W[:, :, :, c], b[c], g.bias)
    return Z


def _backward_reference(dZ, A_prev, W, g: ConvGeometry):
    span_H, span_W = _window_span(g)
    t, _, l, _ = g.pad
    A_prev_pad = _pad(A_prev, g.pad)
    dA_prev_pad = np.zeros(A_prev_pad.shape, dtype=dZ.dtype)
    dW = np.zeros(W.shape, dtype=dZ.dtype)
    db = np.zeros(g.n_C, dtype=dZ.dtype)
    for i in range(g.m):
        a_prev_pad = A_prev_pad[i]
        da_prev_pad = dA_prev_pad[i]
        for h in range(g.n_H):
            vert_start = h * g.s_H
            vert_end = vert_start + span_H
            for w in range(g.n_W):
                horiz_start = w * g.s_W
                horiz_end = horiz_start + span_W
                window = (slice(vert_start, vert_end, g.d_H), slice(horiz_start, horiz_end, g.d_W))
                a_slice = a_prev_pad[window]
                for c in range(g.n_C):
                    da_prev_pad[window] += W[:, :, :, c] * dZ[i, h, w, c]
                    dW[:, :, :, c] += a_slice * dZ[i, h, w, c]
                    db[c] += dZ[i, h, w, c]
    # Unlike the notebook's pad:-pad, this is right for a zero pad too.
    dA_prev = dA_prev_pad[:, t:t + g.n_H_prev, l:l + g.n_W_prev, :].copy()
    return dA_prev, dW, db


# ----------------------------------------------------------------- fast engine


def _offsets(g: ConvGeometry):
    """For each kernel offset (i, j): the strided slices of the padded input
    that it meets across all output positions."""
    for i in range(g.f_H):
        for j in range(g.f_W):
            hs, ws = i * g.d_H, j * g.d_W
            yield i, j, (slice(hs, hs + g.s_H * (g.n_H - 1) + 1, g.s_H),
                         slice(ws, ws + g.s_W * (g.n_W - 1) + 1, g.s_W))


def _chunk(g: ConvGeometry, itemsize: int) -> int:
    """Samples per GEMM so that the unfolded buffer stays near CHUNK_BYTES."""
    per_sample = g.n_H * g.n_W * g.f_H * g.f_W * g.n_C_prev * itemsize
    return max(1, min(g.m, CHUNK_BYTES // max(per_sample, 1)))


def _im2col(A_pad_chunk, g: ConvGeometry, out):
    """Unfold: out[n, h, w, i, j, c] = A_pad[n, h*s_H + i*d_H, w*s_W + j*d_W, c]."""
    n = A_pad_chunk.shape[0]
    cols = out[: n * g.n_H * g.n_W].reshape(n, g.n_H, g.n_W, g.f_H, g.f_W, g.n_C_prev)
    for i, j, (rows, columns) in _offsets(g):
        cols[:, :, :, i, j, :] = A_pad_chunk[:, rows, columns, :]
    return out[: n * g.n_H * g.n_W]


def _forward_fast(A_prev, W, b, g: ConvGeometry):
    K = g.f_H * g.f_W * g.n_C_prev
    P = g.n_H * g.n_W
    W2 = W.reshape(K, g.n_C)  # (i, j, c) rows, the order _im2col unfolds in
    A_pad = _pad(A_prev, g.pad)
    Z = np.empty(g.out_shape, dtype=A_prev.dtype)
    Z2 = Z.reshape(g.m * P, g.n_C)
    step = _chunk(g, A_prev.dtype.itemsize)
    buf = np.empty((step * P, K), dtype=A_prev.dtype)
    for n0 in range(0, g.m, step):
        n1 = min(n0 + step, g.m)
        cols = _im2col(A_pad[n0:n1], g, buf)
        np.matmul(cols, W2, out=Z2[n0 * P:n1 * P])  # (nP, K) @ (K, C) -> (nP, C)
    Z += b * K if g.bias == "window" else b
    return Z


def _backward_fast(dZ, A_prev, W, g: ConvGeometry):
    K = g.f_H * g.f_W * g.n_C_prev
    P = g.n_H * g.n_W
    W2 = W.reshape(K, g.n_C)
    dZ2 = dZ.reshape(g.m * P, g.n_C)
    db = dZ2.sum(axis=0)
    A_pad = _pad(A_prev, g.pad)
    dA_pad = np.zeros(A_pad.shape, dtype=dZ.dtype)
    dW2 = np.zeros((K, g.n_C), dtype=dZ.dtype)
    step = _chunk(g, dZ.dtype.itemsize)
    buf = np.empty((step * P, K), dtype=dZ.dtype)
    dbuf = np.empty((step * P, K), dtype=dZ.dtype)
    for n0 in range(0, g.m, step):
        n1 = min(n0 + step, g.m)
        dz = dZ2[n0 * P:n1 * P]
        cols = _im2col(A_pad[n0:n1], g, buf)
        dW2 += cols.T @ dz  # (K, nP) @ (nP, C) -> (K, C)
        dcols = np.matmul(dz, W2.T, out=dbuf[: (n1 - n0) * P])  # (nP, C) @ (C, K)
        dcols = dcols.reshape(n1 - n0, g.n_H, g.n_W, g.f_H, g.f_W, g.n_C_prev)
        da = dA_pad[n0:n1]
        for i, j, (rows, columns) in _offsets(g):  # col2im: overlapping windows add up
            da[:, rows, columns, :] += dcols[:, :, :, i, j, :]
    t, _, l, _ = g.pad
    if any(g.pad):
        dA_prev = dA_pad[:, t:t + g.n_H_prev, l:l + g.n_W_prev, :].copy()
    else:
        dA_prev = dA_pad
    return dA_prev, dW2.reshape(W.shape), db
