"""2-D convolution, forward and backward, NHWC, in two engines.

``reference``: explicit loops shaped like the course notebook's, one output
element at a time. Slow and obvious; the tests' oracle.

``fast`` (default): blocked im2col + GEMM. A read-only strided view of all
windows of the padded input is copied block by block into a small,
cache-sized buffer ``cols`` of shape (rows, f_H*f_W*n_C_prev) and multiplied
with ``W.reshape(K, n_C)`` by BLAS; the block's output is written in place and
the bias added while it is still in cache. Backward runs the same loop for
``dW = cols.T @ dZ``; ``dA_prev`` is, at stride 1, the convolution of the
padded ``dZ`` with the flipped kernel (one more gather + GEMM), and at larger
strides a scatter-add of ``dZ @ W.T`` (col2im). Memory beyond the arrays
themselves: a padded copy of the input (and of ``dZ`` at stride 1) and a
cache-sized buffer per thread, whatever the batch size; the col2im path
also holds a padded ``dA_prev`` and one block (at least one sample) of
``dZ @ W.T``.

Output size, per axis (d = dilation, s = stride, pad = before + after)::

    n_out = floor((n_in + pad - d*(f - 1) - 1) / s) + 1
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import parallel
from .hparams import (
    ConvGeometry,
    as_array,
    check_engine,
    check_upstream,
    compute_dtype,
    conv_geometry,
    pad_sides,
)

# Bytes of unfolded input per GEMM in the fast engine. 1-4 MiB measured
# within noise of each other on the benchmark shapes (benchmarks/README.md).
CHUNK_BYTES = 2 << 20
# Each thread keeps its unfolding buffer between calls, up to this size. A
# fresh one per call cost 100+ page faults on small layers whenever glibc's
# malloc had just returned the memory to the OS (4x the small case's time).
SCRATCH_KEEP_BYTES = 4 * CHUNK_BYTES
_scratch_local = threading.local()


@dataclass
class _ConvState:
    """What conv_forward adds to the cache after (A_prev, W, b, hparameters)."""

    geometry: ConvGeometry
    engine: str
    dtype: np.dtype
    # The fast engine's unfolded input with a column of ones, [cols | 1], kept
    # only when it is one small block (<= CHUNK_BYTES): backward then skips
    # rebuilding it for dW and db.
    cols: np.ndarray | None = None


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
    m, H, W, C = X.shape
    # np.zeros + one copy: the same as np.pad's constant mode, at a tenth of
    # its fixed cost (which dominates on small inputs).
    X_pad = np.zeros((m, H + t + b, W + l + r, C), dtype=X.dtype)
    X_pad[:, t:t + H, l:l + W, :] = X
    return X_pad


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
    Z, cols = run(A_prev, W, b.reshape(-1), g)
    return Z, (A_prev, W, b, hparameters, _ConvState(g, engine, dtype, cols))


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

    The cache holds the forward's arrays by reference, as the notebook's does:
    change ``A_prev`` or ``W`` in place between the passes and the gradients
    belong to neither version.
    """
    A_prev, W, b, hparameters, state = _unpack_cache(cache)
    engine = check_engine(engine if engine is not None else state.engine if state else "fast")
    if state is None:
        A_prev, W, b, dtype = _as_compute(A_prev, W, b)
        g = conv_geometry(A_prev, W, b, hparameters)
    else:
        g, dtype = state.geometry, state.dtype
    dZ = check_upstream(dZ, "dZ", g.out_shape).astype(dtype, copy=False)
    if engine == "fast":
        dA_prev, dW, db = _backward_fast(dZ, A_prev, W, g, state.cols if state else None)
    else:
        dA_prev, dW, db = _backward_reference(dZ, A_prev, W, g)
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
    return Z, None


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


def _windows(X_pad, n_H, n_W, f_H, f_W, s, d):
    """Strided view (never written to) of every window: shape (m, n_H, n_W, f_H, f_W, C),
    ``view[n, h, w, i, j, c] = X_pad[n, h*s_H + i*d_H, w*s_W + j*d_W, c]``.
    With d_W = 1 the trailing (j, c) axes are one contiguous run in memory, so
    copying the view moves f_W*C elements at a time."""
    sn, sh, sw, sc = X_pad.strides
    shape = (X_pad.shape[0], n_H, n_W, f_H, f_W, X_pad.shape[3])
    strides = (sn, sh * s[0], sw * s[1], sh * d[0], sw * d[1], sc)
    if X_pad.flags.c_contiguous:  # 0.3 us instead of as_strided's 2.3 us
        return np.ndarray(shape, X_pad.dtype, X_pad, 0, strides)
    return as_strided(X_pad, shape, strides, writeable=False)


def _blocks(m, n_H, row_bytes):
    """Split the (sample, output row) grid into blocks whose unfolded input
    stays near CHUNK_BYTES (cache-sized, so the copy and the GEMM that reads it
    meet in cache): whole samples when one is small, else bands of rows of one
    sample. Yields (n0, n1, h0, h1)."""
    rows = max(1, CHUNK_BYTES // max(row_bytes, 1))  # output rows per block
    if rows >= n_H:
        step = max(1, rows // n_H)
        for n0 in range(0, m, step):
            yield n0, min(n0 + step, m), 0, n_H
    else:
        for n in range(m):
            for h0 in range(0, n_H, rows):
                yield n, n + 1, h0, min(h0 + rows, n_H)


def _scratch(rows: int, width: int, dtype) -> np.ndarray:
    """An uninitialised (rows, width) buffer, reused by the calling thread
    from one call to the next."""
    dtype = np.dtype(dtype)
    nbytes = rows * width * dtype.itemsize
    raw = getattr(_scratch_local, "raw", None)
    if raw is None or raw.nbytes < nbytes:
        raw = np.empty(nbytes + 64, dtype=np.uint8)
        raw = raw[-raw.ctypes.data % 64:][:nbytes]  # cache-line aligned
        if nbytes <= SCRATCH_KEEP_BYTES:
            _scratch_local.raw = raw
    return raw[:nbytes].view(dtype).reshape(rows, width)


def _conv_gemm(X_pad, W2, n_H, n_W, f, s, d, out2, bias=None, grad_out2=None, dWb=None, keep=False):
    """The blocked im2col + GEMM loop shared by every fast conv pass.

    Forward (``out2`` given): ``out2[rows] = cols @ W2``, the (m*n_H*n_W, C)
    output; with ``bias``, ``[cols | 1] @ [W2; bias]``, the bias added by the
    GEMM itself (a broadcast add over narrow rows cost as much as the GEMM). Weight gradient (``grad_out2``, ``dWb`` given): ``dWb += [cols | 1].T @
    grad_out2[rows]``, a (K + 1, C) array: ``dW`` in its first K rows and ``db``,
    the column sums of ``grad_out2``, in the last -- the column of ones makes the
    bias gradient part of the same GEMM (a separate ``sum(axis=0)`` cost as much
    as a small layer's whole GEMM, and a threaded one between two threaded
    regions lets OpenBLAS's spinning workers compete with the next region).
    ``cols`` is the unfolded block of ``X_pad``, (rows, f_H*f_W*C_in), row order
    (n, h, w) and column order (i, j, c) -- the order of ``W.reshape(K, C)``.
    Blocks write disjoint rows, so they run on several threads
    (:mod:`convcli.parallel`), each with its own buffer and its own partial
    ``dWb``, summed in a fixed order. With ``keep``, returns ``[cols | 1]`` (rows,
    K + 1) when one block held all of it (for backward to reuse), else None.
    """
    m, C_in = X_pad.shape[0], X_pad.shape[3]
    K = f[0] * f[1] * C_in
    ones = bias is not None or dWb is not None or keep
    width = K + 1 if ones else K  # room for the column of ones
    if bias is not None:
        W2 = np.concatenate([W2, bias.reshape(1, -1)])
    win = _windows(X_pad, n_H, n_W, f[0], f[1], s, d)
    blocks = list(_blocks(m, n_H, n_W * K * X_pad.dtype.itemsize))

    def run(group):
        rows_max = max((n1 - n0) * (h1 - h0) for n0, n1, h0, h1 in group) * n_W
        # A kept buffer goes into the cache: it must be the caller's own.
        buf = (np.empty((rows_max, width), dtype=X_pad.dtype) if keep and len(blocks) == 1
               else _scratch(rows_max, width, X_pad.dtype))
        buf[:, K:] = 1
        part = None if dWb is None else np.zeros_like(dWb)
        for n0, n1, h0, h1 in group:
            src = win[n0:n1, h0:h1]
            rows = src.shape[0] * src.shape[1] * n_W
            # src's shape as a view of buf's first K columns (never a copy).
            item = buf.itemsize
            R = width * item
            dest = np.ndarray(src.shape, buf.dtype, buf, 0,
                              (src.shape[1] * n_W * R, n_W * R, R, f[1] * C_in * item, C_in * item, item))
            np.copyto(dest, src)
            cols = buf[:rows]
            r0 = (n0 * n_H + h0) * n_W
            if out2 is not None:
                # (rows, K[+1]) @ (K[+1], C) -> (rows, C)
                np.matmul(cols if bias is not None else cols[:, :K], W2, out=out2[r0:r0 + rows])
            if part is not None:
                part += cols.T @ grad_out2[r0:r0 + rows]  # (K+1, rows) @ (rows, C) -> (K+1, C)
        return cols, part

    results = parallel.map_blocks(run, blocks)
    if dWb is not None:
        for _, part in results:  # in block order: the same sums every run
            dWb += part
    return results[0][0] if keep and len(blocks) == 1 else None


def _forward_fast(A_prev, W, b, g: ConvGeometry):
    K = g.f_H * g.f_W * g.n_C_prev
    Z = np.empty(g.out_shape, dtype=A_prev.dtype)
    bias = b * K if g.bias == "window" else b
    cols = _conv_gemm(_pad(A_prev, g.pad), W.reshape(K, g.n_C), g.n_H, g.n_W,
                      (g.f_H, g.f_W), (g.s_H, g.s_W), (g.d_H, g.d_W),
                      out2=Z.reshape(-1, g.n_C), bias=bias, keep=True)
    return Z, cols


def _pad_or_crop(X, sides):
    """Zero-pad the spatial axes; a negative side crops instead."""
    t, b, l, r = sides
    X = X[:, max(-t, 0): X.shape[1] - max(-b, 0), max(-l, 0): X.shape[2] - max(-r, 0), :]
    return _pad(X, (max(t, 0), max(b, 0), max(l, 0), max(r, 0)))


def _backward_fast(dZ, A_prev, W, g: ConvGeometry, cols=None):
    K = g.f_H * g.f_W * g.n_C_prev
    dZ2 = dZ.reshape(-1, g.n_C)
    f, s, d = (g.f_H, g.f_W), (g.s_H, g.s_W), (g.d_H, g.d_W)
    if cols is not None:  # [cols | 1], kept by the forward pass
        dWb = cols.T @ dZ2
    else:
        dWb = np.zeros((K + 1, g.n_C), dtype=dZ.dtype)
        _conv_gemm(_pad(A_prev, g.pad), None, g.n_H, g.n_W, f, s, d,
                   out2=None, grad_out2=dZ2, dWb=dWb)
    dW2, db = dWb[:K], dWb[K]
    if s == (1, 1):
        dA_prev = _input_grad_stride1(dZ, W, g)
    else:
        dA_prev = _input_grad_col2im(dZ2, W.reshape(K, g.n_C), g)
    return dA_prev, dW2.reshape(W.shape), db


def _input_grad_stride1(dZ, W, g: ConvGeometry):
    """Stride 1: dA_prev is the convolution of dZ, zero-padded by
    d*(f-1) less the forward's padding on each side, with the kernel flipped in
    both spatial axes and its channel axes swapped:

        dA_prev[n, y, x, c'] = sum_{i,j,c} dZ_q[n, y + i*d_H, x + j*d_W, c] * W[f_H-1-i, f_W-1-j, c', c]

    A gather, so one more blocked GEMM instead of a scatter-add (col2im)."""
    t, b, l, r = g.pad
    eH, eW = g.d_H * (g.f_H - 1), g.d_W * (g.f_W - 1)
    dZ_q = _pad_or_crop(dZ, (eH - t, eH - b, eW - l, eW - r))
    W_flip = np.ascontiguousarray(W[::-1, ::-1].transpose(0, 1, 3, 2))  # (f_H, f_W, C, C_prev)
    dA_prev = np.empty(g.in_shape, dtype=dZ.dtype)
    _conv_gemm(dZ_q, W_flip.reshape(-1, g.n_C_prev), g.n_H_prev, g.n_W_prev,
               (g.f_H, g.f_W), (1, 1), (g.d_H, g.d_W), out2=dA_prev.reshape(-1, g.n_C_prev))
    return dA_prev


def _input_grad_col2im(dZ2, W2, g: ConvGeometry):
    """Any stride: dcols = dZ @ W.T, scattered back window by window (col2im);
    overlapping windows add up. Blocks of samples write disjoint parts of
    dA_pad, so they run on threads like the other passes."""
    t, _, l, _ = g.pad
    H_pad, W_pad = g.padded_hw
    dA_pad = np.zeros((g.m, H_pad, W_pad, g.n_C_prev), dtype=dZ2.dtype)
    P = g.n_H * g.n_W

    def run(group):
        for n0, n1, _, _ in group:
            dcols = (dZ2[n0 * P:n1 * P] @ W2.T).reshape(  # (rows, C) @ (C, K)
                n1 - n0, g.n_H, g.n_W, g.f_H, g.f_W, g.n_C_prev)
            da = dA_pad[n0:n1]
            for i in range(g.f_H):
                for j in range(g.f_W):
                    hs, ws = i * g.d_H, j * g.d_W
                    da[:, hs:hs + g.s_H * (g.n_H - 1) + 1:g.s_H,
                       ws:ws + g.s_W * (g.n_W - 1) + 1:g.s_W, :] += dcols[:, :, :, i, j, :]

    parallel.map_blocks(run, list(_blocks(g.m, 1, P * W2.shape[0] * dZ2.dtype.itemsize)))
    return dA_pad[:, t:t + g.n_H_prev, l:l + g.n_W_prev, :].copy()
