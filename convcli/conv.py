"""2-D convolution, forward and backward, NHWC, in two engines.

``reference``: explicit loops shaped like the course notebook's, one output
element at a time. Slow and obvious; the tests' oracle.

``fast`` (default): blocked im2col + GEMM. A read-only strided view of all
windows of the padded input is copied block by block into a small,
cache-sized buffer ``cols`` of shape (rows, f_H*f_W*n_C_prev) plus a column of
ones, and multiplied with ``[W.reshape(K, n_C); b]`` by BLAS, which writes the
block's output in place, bias included. Backward runs the same loop for
``[dW; db] = [cols | 1].T @ dZ``; ``dA_prev`` is, at stride 1, the convolution of
the padded ``dZ`` with the flipped kernel (one more gather + GEMM), and at
larger strides a scatter-add of ``dZ @ W.T`` (col2im). At stride 1, unless
the forward kept its unfolded input or the gather runs in tiles, that gather
also gives ``dW`` (one more GEMM on the same unfolded dZ,
:func:`_input_grad_stride1`), and the input is not unfolded again. A pass
with few output channels unfolds tiles of T output columns instead of single
ones, with banded weights (:func:`_tile_width`): less copying, a wider GEMM.
Those three shortcuts multiply zeros that are not terms of the notebook's
sums (dZ's padding, the band's) by data, and 0 * inf is NaN: with an
infinity or a NaN where they would meet one, a pass takes the plain route
instead (:func:`_finite`, :func:`_backward_fast`), so that both engines
give the same numbers.

Memory beyond the arrays themselves: a padded copy of the input (and of
``dZ`` at stride 1) and a cache-sized buffer per thread (for a deep layer,
up to 1.5x WIDE_MIN_ROWS unfolded rows), whatever the batch size; each
thread keeps its buffer for the next call (up to ``SCRATCH_KEEP_BYTES``).
The col2im path also holds a padded ``dA_prev`` and one block (at least one
sample) of ``dZ @ W.T``.

Output size, per axis (d = dilation, s = stride, pad = before + after)::

    n_out = floor((n_in + pad - d*(f - 1) - 1) / s) + 1
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import threading
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import parallel
from .stats import all_finite
from .hparams import (
    BIAS_MODES,
    ConvGeometry,
    LayerCache,
    as_array,
    a_type,
    with_notebook_keys,
    cache_arrays,
    cache_state,
    check_engine,
    check_not_swapped,
    check_padded,
    check_upstream,
    check_memory,
    choice,
    compute_dtype,
    conv_geometry,
    pad_sides,
    weak,
    whole_return_hint,
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
    """What conv_forward keeps beside the cache's (A_prev, W, b, hparameters), as its .state."""

    geometry: ConvGeometry
    engine: str
    dtype: np.dtype
    # The fast engine's unfolded input with a column of ones, [cols | 1], kept
    # when one block held the whole pass (at most 1.5x CHUNK_BYTES, or one output row
    # if that is larger): backward then skips rebuilding it for dW and db.
    cols: np.ndarray | None = None
    # The tile width cols was unfolded with (see _tile_width).
    tile: int = 1


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
    sides = pad_sides(pad, modes=False)
    check_padded(X.shape, sides, "X", memory=True, itemsize=X.dtype.itemsize, dtype=X.dtype.name)  # X's own
    X_pad = _pad(X, sides)
    # A new array even with nothing to pad, as np.pad's (the course's) is: writing into it leaves X alone.
    return X_pad.copy() if X_pad is X else X_pad


def _check_fits(g: ConvGeometry, itemsize: int, backward: bool = False) -> None:
    """A ValueError naming the argument when the padded input or Z, of
    ``itemsize``-byte elements, or with ``backward`` dA_prev (A_prev's
    shape), would not fit this machine's memory (hparams.too_large), before
    any is made. An unpadded forward makes no copy of A_prev (a memmap
    larger than memory may go through it); its backward makes dA_prev."""
    t, b, l, r = g.pad
    if g.m * max((g.n_H_prev + t + b) * (g.n_W_prev + l + r) * g.n_C_prev, g.n_H * g.n_W * g.n_C) * itemsize <= 2**30:
        return  # 1 GiB at most: every machine has that (a small layer pays no more)
    in_shape = (g.m, g.n_H_prev, g.n_W_prev, g.n_C_prev)
    if any(g.pad):  # unpadded, A_prev is used as it is (a review: "padded by (0, 0, 0, 0)" blamed a pad of 0)
        check_padded(in_shape, g.pad, "A_prev", memory=True, itemsize=itemsize)
    check_memory((g.m, g.n_H, g.n_W, g.n_C), itemsize,
                 f"output size: A_prev {in_shape} with pad {g.pad}, stride {(g.s_H, g.s_W)}, "
                 f"dilation {(g.d_H, g.d_W)} gives Z {(g.m, g.n_H, g.n_W, g.n_C)}, ")
    if backward:  # (a review: a stride-4096 layer over a memmap of 512 GiB ran its forward, then MemoryError)
        check_memory(in_shape, itemsize, f"cache: A_prev {in_shape}: its gradient dA_prev would be ")


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


# A fast conv pass pads its input on its threads, each its own samples, from
# this size of input on (below it, np.zeros and one copy cost less than the
# five calls).
PAD_IN_THREADS_BYTES = 1 << 20
# ... and when its blocks are bands of rows, from this many samples (a
# thread takes whole samples then: too few would leave a thread idle).
MIN_SAMPLES_TO_SHARE = 8


def _pad_samples(X: np.ndarray, X_pad: np.ndarray, sides, n0: int, n1: int) -> None:
    """``X_pad[n0:n1]`` = samples n0:n1 of X, zero-padded: the interior copied
    and only the borders zeroed (np.zeros writes it all once more)."""
    _pad_into(X[n0:n1], X_pad[n0:n1], sides)


def _pad_into(X: np.ndarray, out: np.ndarray, sides) -> None:
    """``out`` = X zero-padded by ``sides`` (top, bottom, left, right)."""
    t, b, l, r = sides
    H, W = X.shape[1], X.shape[2]
    out[:, :t] = 0
    out[:, t + H:] = 0
    out[:, t:t + H, :l] = 0
    out[:, t:t + H, l + W:] = 0
    out[:, t:t + H, l:l + W] = X


def _window_span(g: ConvGeometry) -> tuple[int, int]:
    """Extent of one (dilated) window along H and W."""
    return g.d_H * (g.f_H - 1) + 1, g.d_W * (g.f_W - 1) + 1


def _as_compute(A_prev, W, b):
    A_prev = as_array(A_prev, "A_prev", 4, "(m, n_H_prev, n_W_prev, n_C_prev)")
    W = as_array(W, "W", 4, "(f_H, f_W, n_C_prev, n_C)")
    b0, b = b, as_array(b, "b", None)
    dtype = compute_dtype(A_prev, W, weak(b0, b))
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
        times): its printed values come from it. The default adds ``b`` once,
        as the course's own formula and every framework do.

    Returns
    -------
    Z : NumPy scalar in the compute dtype (NumPy's promotion of the three,
        float64 for integers and float16 computed in float32: see the README's
        Engines section).

    Raises
    ------
    ValueError
        If ``W``'s shape is not exactly ``a_slice_prev``'s (no broadcasting:
        one filter, one window) or ``b`` holds more than one number.
    """
    bias = choice(bias, "bias", BIAS_MODES)
    a = as_array(a_slice_prev, "a_slice_prev", None)
    W0, b0 = W, b
    W = as_array(W, "W", None)
    b = as_array(b, "b", None)
    # In the dtype conv_forward computes in: uint8 pixels times weights must not wrap around.
    if a.shape != W.shape:
        raise ValueError(f"W: shape {W.shape} does not match a_slice_prev {a.shape}")
    if b.size != 1:
        raise ValueError(f"b: expected a single value, got shape {b.shape}")
    dtype = compute_dtype(a, weak(W0, W), weak(b0, b))
    return _single_step(a.astype(dtype, copy=False), W.astype(dtype, copy=False), b.astype(dtype, copy=False),
                        bias)


def _single_step(a, W, b, bias):
    """conv_single_step's arithmetic on arrays it or the reference engine
    checked already (one window and one filter of a shape, one bias value,
    in the compute dtype; ``bias`` checked): the reference engine calls it
    for every output element, after checking the layer once."""
    if bias == "window":
        return np.sum(np.multiply(a, W) + b.reshape(()))
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
        "window" for the seed notebook's behaviour: its printed means come
        from it, configs/seed.yaml); ``f`` may be given, as in the notebook,
        and must then be W's size.
    engine : {"fast", "reference"}

    Returns
    -------
    Z : ndarray of shape (m, n_H, n_W, n_C), in the compute dtype: NumPy's
        promotion of the inputs' dtypes, with all-integer (or bool) inputs
        computed in float64, float16 in float32, and an integer array beside
        a float32 one as NumPy promotes the pair (uint8 and int16 stay
        float32, wider integers make float64; the README's Engines section)
    cache : tuple ``(A_prev, W, b, hparameters)`` for :func:`conv_backward`,
        the notebook's: the arrays as computed with (the caller's own where
        already in the compute dtype, else a cast copy); what the engine
        keeps for the backward is ``cache.state``, outside the items, so the
        notebook's ``(A_prev, W, b, hparameters) = cache`` takes it;
        ``hparameters`` a copy of the caller's, with ``stride`` and ``pad`` set
        to their defaults where left out, as the notebook's loops read them.
        :func:`conv_backward` also takes the notebook's own tuple.

    Raises
    ------
    ValueError
        Naming the argument and the shapes involved.
    """
    engine = check_engine("fast" if engine is None else engine)  # None: the default, as the backward takes it
    A_prev, W, b, dtype = _as_compute(A_prev, W, b)
    g = conv_geometry(A_prev, W, b, hparameters)
    _check_fits(g, dtype.itemsize)
    if engine == "fast":
        Z, cols, T = _flagging_the_layers_invalid(
            lambda: _forward_fast(A_prev, W, b.reshape(-1), g, _forward_tile(g, dtype)), (A_prev, W, b),
            lambda out: out[:1])
    else:
        T, (Z, cols) = 1, _flagging_the_layers_invalid(lambda: _forward_reference(A_prev, W, b.reshape(-1), g),
                                                       (A_prev, W, b), lambda out: out[:1])
    hparameters = with_notebook_keys(hparameters, {"stride": 1, "pad": 0})
    return Z, LayerCache((A_prev, W, b, hparameters), _ConvState(g, engine, dtype, cols, T))


def conv_backward(dZ, cache, engine=None):
    """Backward pass of a convolution layer.

    Parameters
    ----------
    dZ : ndarray of shape (m, n_H, n_W, n_C)
        Gradient of the cost with respect to the layer's output ``Z``.
    cache : the cache :func:`conv_forward` returns (its second item), or the
        notebook's own ``(A_prev, W, b, hparameters)`` as a tuple or a list
        (the backward then recomputes what the forward's cache kept)
    engine : {"fast", "reference"}, optional
        Defaults to the engine that ran the forward pass.

    Returns
    -------
    dA_prev : ndarray, the shape of ``A_prev``
    dW : ndarray, the shape of ``W``
    db : ndarray, the shape of ``b``

    Raises
    ------
    ValueError
        For a ``dZ`` of another shape than the forward's output, or a cache
        that is not ``conv_forward``'s (another layer's, the forward's whole
        ``(Z, cache)``, or items that do not make a layer).

    ``bias: window`` affects the forward pass only; ``db`` is always the sum of
    ``dZ``, as in the notebook.

    The cache holds the forward's arrays by reference, as the notebook's does:
    change ``A_prev`` or ``W`` in place between the passes and the gradients
    are undefined (the fast engine may use either version, depending on the
    layer's size).
    """
    check_not_swapped(dZ, cache, "conv_backward", "dZ")
    A_prev, W, b, hparameters, state = _unpack_cache(cache)
    engine = check_engine(engine if engine is not None else state.engine if state else "fast")
    if state is None:  # a cache built by hand: conv_forward never saw it
        try:
            A_prev, W, b, dtype = _as_compute(A_prev, W, b)
            g = conv_geometry(A_prev, W, b, hparameters)
        except ValueError as exc:  # its items, not the caller's arguments (a learner's review: 'W: channel mismatch')
            raise ValueError(f"cache: its items do not make a layer as (A_prev, W, b, hparameters): {exc}") from None
    else:
        g, dtype = state.geometry, state.dtype
    _check_fits(g, dtype.itemsize, backward=True)
    dZ = check_upstream(dZ, "dZ", g.out_shape).astype(dtype, copy=False)
    if engine == "fast":
        kept = state is not None and state.cols is not None
        dA_prev, dW, db = _flagging_the_layers_invalid(
            lambda: _backward_fast(dZ, A_prev, W, g, state.cols if kept else None,
                                   state.tile if kept else _forward_tile(g, dtype)), (dZ, A_prev, W),
            lambda out: out)
    else:
        dA_prev, dW, db = _flagging_the_layers_invalid(lambda: _backward_reference(dZ, A_prev, W, g),
                                                       (dZ, A_prev, W), lambda out: out)
    return dA_prev, dW, db.reshape(b.shape)


def _flagging_the_layers_invalid(run, inputs, results):
    """``run()`` with NumPy's invalid-operation flag taken only where the
    layer's own arithmetic makes one: a NaN of inputs that hold none (an
    infinity less an infinity in a window). The fast engine's tiles
    multiply their bands' zeros, and OpenBLAS's kernels their padding
    lanes, by an infinity of the input where the layer does not (a review:
    one inf in A_prev gave a RuntimeWarning, and a FloatingPointError under
    ``np.errstate(invalid="raise")``, for a result without NaN, where the
    reference engine gave neither). Only then are inputs and results looked
    at; a NaN of the layer's is flagged by an inf - inf under the caller's
    own ``np.errstate``, as NumPy flags its own. The reference engine's
    loops run under it too: with a NaN in the input already they flagged
    a padding's 0 * inf where the fast engine did not (an engineer's
    review), and the README promises the same of both."""
    flag = _InvalidFlag(np.geterrcall())
    with np.errstate(invalid="call", call=flag):
        out = run()
    if flag.seen and not any(_has_nan(x) for x in inputs) and any(_has_nan(y) for y in results(out)):
        np.subtract(np.inf, np.inf)
    return out


def _has_nan(x: np.ndarray) -> bool:
    """Whether ``x`` holds a NaN: its minimum is NaN then (one pass, no
    boolean array of its size)."""
    return x.size > 0 and bool(np.isnan(np.min(x)))


class _InvalidFlag:
    """The ``np.errstate`` callback that notes an invalid operation, and
    passes every other kind the caller's errstate sends to a callback
    (``call``) or a log (``log``) on to the caller's own (a review: a
    caller's ``over="log"`` object was replaced for the pass, and its
    overflow raised AttributeError)."""

    def __init__(self, caller):
        self.caller, self.seen = caller, False

    def __call__(self, kind: str, flag: int) -> None:
        if kind.startswith("invalid"):
            self.seen = True
        elif callable(self.caller):
            self.caller(kind, flag)

    def write(self, message: str) -> None:  # 'log' mode: never for invalid, which is 'call' here
        if self.caller is not None and hasattr(self.caller, "write"):
            self.caller.write(message)


def _unpack_cache(cache):
    if isinstance(cache, list):  # the notebook's 4 items in a list: as good as its tuple
        cache = tuple(cache)
    if not isinstance(cache, tuple) or len(cache) < 4:
        other = type(getattr(cache, "state", None)).__name__ == "_PoolState"  # (a learner's review)
        raise ValueError(
            "cache: expected the tuple (A_prev, W, b, hparameters) returned by conv_forward, got "
            + ("pool_forward's cache: is the gradient for the pool layer (pool_backward)?" if other else
               f"{'tuple' if isinstance(cache, tuple) else type(cache).__name__}"
               + (f" of {len(cache)} item{'s' * (len(cache) != 1)}" if isinstance(cache, (tuple, list)) else "")
               + whole_return_hint(cache, "conv_backward"))
        )
    A_prev, W, b, hparameters = cache[:4]
    if not isinstance(hparameters, dict):
        raise ValueError(f"cache: item 4, hparameters, is {a_type(hparameters)}, not a dict; expected "
                         "(A_prev, W, b, hparameters, ...) as returned by conv_forward")
    if not (isinstance(A_prev, np.ndarray) and isinstance(W, np.ndarray) and isinstance(b, np.ndarray)):
        A_prev, W, b = cache_arrays(zip(("A_prev", "W", "b"), (A_prev, W, b)),
                                    "(A_prev, W, b, hparameters, ...) as returned by conv_forward")
    state = cache_state(cache, 4)
    if state is not None and not isinstance(state, _ConvState):
        raise ValueError("cache: item 5 is not conv_forward's state; was it made by another layer?")
    if state is not None and (A_prev.shape != state.geometry.in_shape
                              or W.shape != (state.geometry.f_H, state.geometry.f_W,
                                             state.geometry.n_C_prev, state.geometry.n_C)
                              or b.size != state.geometry.n_C):
        raise ValueError(
            f"cache: A_prev {A_prev.shape} / W {W.shape} / b {b.shape} do not match the state "
            "conv_forward recorded; the cache was altered"
        )
    return A_prev, W, b, hparameters, state


# ----------------------------------------------------------------- reference engine


def _forward_reference(A_prev, W, b, g: ConvGeometry):
    """The notebook's loops: every sample, output row, column and filter.

    ``g`` is the layer's geometry (hparams.ConvGeometry): strides s_H, s_W,
    dilations d_H, d_W, the pad as (top, bottom, left, right), the output
    shape. ``b`` comes flattened to (n_C,). Returns Z and None: the reference
    keeps nothing for its backward (the fast engine keeps its unfolded input).
    """
    # A window spans f input rows (the notebook's vert_end = vert_start + f);
    # dilated by d, it spans d*(f-1)+1 and takes every d-th of them (the ::d_H
    # below; d = 1 is the notebook's window).
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
                    Z[i, h, w, c] = _single_step(a_slice_prev, W[:, :, :, c], b[c], g.bias)
    return Z, None


def _backward_reference(dZ, A_prev, W, g: ConvGeometry):
    """The notebook's conv_backward loops: each output element sends
    ``W * dZ`` back to the window it saw (into the padded dA_prev), adds
    ``window * dZ`` to dW and ``dZ`` to db. db comes back flattened, (n_C,)."""
    span_H, span_W = _window_span(g)  # as in the forward
    t, _, l, _ = g.pad
    A_prev_pad = _pad(A_prev, g.pad)
    dA_prev_pad = np.zeros(A_prev_pad.shape, dtype=dZ.dtype)
    dW = np.zeros(W.shape, dtype=dZ.dtype)
    db = np.zeros(g.n_C, dtype=dZ.dtype)
    for i in range(g.m):
        a_prev_pad = A_prev_pad[i]
        da_prev_pad = dA_prev_pad[i]
        dW_i, db_i = np.zeros_like(dW), np.zeros_like(db)
        for h in range(g.n_H):
            vert_start = h * g.s_H
            vert_end = vert_start + span_H
            # dW and db summed a row, then a sample at a time: one running sum over every output
            # position rounds ~m*n_H*n_W times (2e-12 relative over 25 64x64 maps), these ~m + n_H + n_W
            dW_h, db_h = np.zeros_like(dW), np.zeros_like(db)
            for w in range(g.n_W):
                horiz_start = w * g.s_W
                horiz_end = horiz_start + span_W
                # the window's rows and columns (every d-th, as in the forward), named once for both uses
                window = (slice(vert_start, vert_end, g.d_H), slice(horiz_start, horiz_end, g.d_W))
                a_slice = a_prev_pad[window]
                for c in range(g.n_C):
                    da_prev_pad[window] += W[:, :, :, c] * dZ[i, h, w, c]
                    dW_h[:, :, :, c] += a_slice * dZ[i, h, w, c]
                    db_h[c] += dZ[i, h, w, c]
            dW_i += dW_h
            db_i += db_h
        dW += dW_i
        db += db_i
    # The notebook's da_prev_pad[pad:-pad, pad:-pad, :] is empty for pad 0 (-0 is
    # 0); cutting the padding off by the input's size is right for every pad.
    dA_prev = dA_prev_pad[:, t:t + g.n_H_prev, l:l + g.n_W_prev, :].copy()
    return dA_prev, dW, db


# ----------------------------------------------------------------- fast engine


def _windows(X_pad, n_H, n_Wt, f_H, f_W, s, d, T=1):
    """Strided view (never written to) of every window: with T = 1, shape
    (m, n_H, n_W, f_H, f_W, C),
    ``view[n, h, w, i, j, c] = X_pad[n, h*s_H + i*d_H, w*s_W + j*d_W, c]``;
    with tiles of T output columns (:func:`_tile_width`), shape
    (m, n_H, n_W/T, f_H, span, C), ``view[n, h, u, i, x, c] = X_pad[n, h*s_H + i*d_H,
    u*T*s_W + x, c]``, the span of input columns the tile's windows cover.
    For a C-contiguous X_pad, the trailing two axes are one contiguous run in
    memory (d_W = 1 or T > 1), so copying the view moves f_W*C (or span*C)
    elements at a time."""
    sn, sh, sw, sc = X_pad.strides
    width = _row_width(T, f_W, s[1], d[1])
    shape = (X_pad.shape[0], n_H, n_Wt, f_H, width, X_pad.shape[3])
    strides = (sn, sh * s[0], sw * s[1] * T, sh * d[0], sw * (d[1] if T == 1 else 1), sc)
    if X_pad.flags.c_contiguous:  # 0.3 us instead of as_strided's 2.3 us
        return np.ndarray(shape, X_pad.dtype, X_pad, 0, strides)
    return as_strided(X_pad, shape, strides, writeable=False)


def _span(T, f_W, s_W, d_W):
    """Input columns covered by T adjacent output columns' windows."""
    return s_W * (T - 1) + d_W * (f_W - 1) + 1


def _row_width(T, f_W, s_W, d_W):
    """Input columns one row of the unfolded input holds: the kernel's f_W
    (T = 1, dilation gaps skipped) or the span of a tile of T columns."""
    return f_W if T == 1 else _span(T, f_W, s_W, d_W)


# Layers with few output channels unfold in tiles of T output columns (see
# _tile_width): T the largest divisor of n_W with T*n_C <= TILE_WIDTH and a
# tile span at most TILE_GROWTH times the kernel's width. The span was allowed
# 3 kernel widths until the products were cut into small slices (see
# SMALL_GEMM_MNK), which run narrow bands well: a wider tile then costs more
# in the band's zeros than it saves (attempt 34: the m32 benchmark case's
# input gradient at T = 4 instead of 8, 0.90x; fwd+bwd 0.93x in float64, other
# narrow layers within noise). Measured with OpenBLAS's small kernels; where
# the products stay whole (other cores, attempt 48) it was not re-measured.
TILE_MAX_C_OUT = 8
TILE_WIDTH = 40
TILE_GROWTH = 2.0
# In float64, only when the input has at most this many channels: the gain is
# the unfolded copy's, whose runs of f_W*C_in elements are then short; dgemm
# runs narrow products well enough that the extra zeros cost more than they
# save otherwise (benchmarks/README.md, attempt 19). An odd number of output
# channels is the exception, up to TILE_MAX_C_IN_F64_ODD input channels:
# dgemm's kernels take output columns in pairs (SkylakeX: 16x2), so an odd
# width leaves a last column run through the slow edge kernel, which a tile
# of T*n_C columns avoids (attempt 26: 18 such passes 0.77x the time in
# geometric mean, none slower by more than noise).
TILE_MAX_C_IN_F64 = 4
TILE_MAX_C_IN_F64_ODD = 8
# Nor when the whole pass unfolds less than this: building the banded weights
# and folding their gradient cost ~10 us, more than tiles save on a tiny layer.
TILE_MIN_BYTES = 1 << 20
# The stride-1 input gradient has no weight gradient to fold, only the banded
# weights to build (~1 us): its tiles pay from about this size (attempt 30:
# 0.78x-0.93x from 81 to 324 KiB, 1.11x-1.23x at 6-40 KiB).
INPUT_GRAD_TILE_MIN_BYTES = 64 << 10


def _tile_width(n_W, C_in, C_out, f_W, s_W, d_W, dtype, unfolded_bytes, min_bytes=None) -> int:
    """How many adjacent output columns one row of the unfolded input serves.

    Plain im2col (T = 1) gives a GEMM (rows, f_H*f_W*C_in) @ (f_H*f_W*C_in, C_out):
    with few output channels it is a thin product whose cost is the unfolded
    copy and BLAS's narrow-matrix edge code. A tile of T output columns shares
    its input: one row holds the span of input columns the T windows cover,
    (f_H, span, C_in), and the weights become a banded (Toeplitz) matrix
    (f_H*span*C_in, T*C_out) with W at each column's offset and zeros
    elsewhere. The copy shrinks by about f_W*T/span and the GEMM widens T
    times, for span/f_W times the multiply-adds (zeros included). T divides
    n_W, so the output is Z itself viewed as (m*n_H*n_W/T, T*C_out).
    ``unfolded_bytes``: the size of the pass's plain im2col matrix; no tiles
    below ``min_bytes`` of it (default TILE_MIN_BYTES)."""
    max_c_in_f64 = TILE_MAX_C_IN_F64_ODD if C_out % 2 else TILE_MAX_C_IN_F64
    if (C_out > TILE_MAX_C_OUT or (np.dtype(dtype).itemsize == 8 and C_in > max_c_in_f64)
            or unfolded_bytes < (TILE_MIN_BYTES if min_bytes is None else min_bytes)):
        return 1
    best = 1
    for T in range(2, min(TILE_WIDTH // C_out, n_W) + 1):
        if n_W % T == 0 and _span(T, f_W, s_W, d_W) <= TILE_GROWTH * f_W:
            best = T
    return best


def block_bytes(n_W, C_in, C_out, f_H, f_W, s_W, d_W, dtype) -> int:
    """At most the bytes of one block buffer of a fast conv pass whose output
    is n_W columns of C_out channels: at most 1.5x its block target of
    unfolded input (CHUNK_BYTES, or more for a wide product:
    :func:`_wide_target`), or one output row of it
    (:func:`block_max_bytes`), plus the column of ones (for memory estimates; the largest over the tile widths the pass
    may use)."""
    T = _tile_width(n_W, C_in, C_out, f_W, s_W, d_W, dtype, TILE_MIN_BYTES)
    K = f_H * _row_width(T, f_W, s_W, d_W) * C_in
    item = np.dtype(dtype).itemsize
    K1 = f_H * f_W * C_in
    target = max(_wide_target(K * item, T * C_out), _wide_target(K1 * item, C_out))
    return max(block_max_bytes(n_W // T * K * item, target), n_W * K1 * item) * (K1 + 1) // K1


def grad_sum_bytes(n_W, C_in, C_out, f_H, f_W, s_W, d_W, dtype) -> int:
    """At most the bytes one thread holds while it sums the weight gradient of
    a fast conv pass (:func:`_add_matmul_t`) whose unfolded rows hold C_in
    channels and whose gradient has C_out columns per tile column, for
    memory estimates: its running sum, the sum over a block's slices and
    the rows left over's product, each (K + 1, T*C_out), and where the
    product is cut into slices of rows, the stack of their products,
    (slices, K + 1, T*C_out), as large as the block allows (the largest over
    the tile widths the pass may use)."""
    item = np.dtype(dtype).itemsize
    most = 0
    for T in {1, _tile_width(n_W, C_in, C_out, f_W, s_W, d_W, dtype, TILE_MIN_BYTES)}:
        K = f_H * _row_width(T, f_W, s_W, d_W) * C_in
        N = T * C_out
        rows = block_max_bytes(n_W // T * K * item, _wide_target(K * item, N)) // (K * item)  # of the largest block
        step = _gemm_rows(K + 1, N, rows, item, transposed=True)
        # No stack where the product is cut along K.
        slices = rows // step if step < rows and not _gemm_cols_t(K + 1, N) else 0
        most = max(most, (3 + slices) * (K + 1) * N * item)
    return most


def _band(M, T, f_W, s_W, d_W):
    """The view of a (f_H, span, C_in, T, C_out) array M holding its band:
    ``band[i, t, j, c, k] = M[i, t*s_W + j*d_W, c, t, k]``, shape
    (f_H, T, f_W, C_in, C_out)."""
    s0, s1, s2, s3, s4 = M.strides
    f_H, _, C_in, _, C_out = M.shape
    shape, strides = (f_H, T, f_W, C_in, C_out), (s0, s_W * s1 + s3, d_W * s1, s2, s4)
    if M.flags.c_contiguous:  # as in _windows: a tenth of as_strided's cost
        return np.ndarray(shape, M.dtype, M, 0, strides)
    return as_strided(M, shape, strides)


def _gemm_weights(W, T, s_W, d_W, bias=None):
    """The right-hand matrix of a pass: ``W.reshape(K, C_out)`` (T = 1) or the
    (f_H*span*C_in, T*C_out) banded matrix of :func:`_tile_width`, with ``bias``
    (C_out,) as one more row, repeated per tile column, when given."""
    f_H, f_W, C_in, C_out = W.shape
    if T == 1:
        W2 = W.reshape(-1, C_out)
        return W2 if bias is None else np.concatenate([W2, bias.reshape(1, -1)])
    K = f_H * _span(T, f_W, s_W, d_W) * C_in
    out = np.zeros((K + (bias is not None), T * C_out), dtype=W.dtype)
    _band(out[:K].reshape(f_H, -1, C_in, T, C_out), T, f_W, s_W, d_W)[...] = W[:, None]
    if bias is not None:
        out[K].reshape(T, C_out)[...] = bias
    return out


def _fold_tiled(dWT, f_W, C_in, T, s_W, d_W):
    """The gradient of :func:`_gemm_weights`'s matrix (without its bias row),
    (K, T*C_out), back to (f_H, f_W, C_in, C_out): each W element appears once
    per tile column, and its gradient is the sum of those."""
    C_out = dWT.shape[1] // T
    if T == 1:
        return dWT.reshape(-1, f_W, C_in, C_out)
    f_H = dWT.shape[0] // (_span(T, f_W, s_W, d_W) * C_in)
    return _band(dWT.reshape(f_H, -1, C_in, T, C_out), T, f_W, s_W, d_W).sum(axis=1)


# A product wider than SMALL_GEMM_MAX_N columns goes whole to BLAS, which
# packs its (K, N) operand on every call, and a weight gradient's block adds
# a (K, N) partial to its running sum: costs of K*N per block, paid for few
# rows when K is large, since a 2 MiB block of a deep layer is short ((32,
# 14, 14, 256) -> 256 channels 3x3 float64: 98 rows against a 4.7 MB operand;
# (16, 7, 7, 512) -> 512: 49 rows against 18.9 MB). One thread, GFLOP/s of
# (rows, 2304) @ (2304, 512) float64 at 49 / 98 / 196 / 392 / 784 rows: 60 /
# 67 / 76 / 85 / 77, the weight gradient's product with its partial added 43
# / 57 / 68 / 75 / 80; float32 127 / 157 / 163 / 183 / 185 and 99 / 136 /
# 160 / 182 / 183. So such a pass takes blocks of this many rows, or fewer
# where that would leave a thread less than two blocks, but not where it
# would cost the pass threads or balance (:func:`_pass_blocks`; attempt 72).
WIDE_MIN_ROWS = 384
# ... which they do when the busiest thread would get more than this times
# the rows it gets with CHUNK_BYTES blocks (fewer, larger blocks share out
# less evenly: 3 blocks on 2 threads give one of them two thirds).
WIDE_MAX_IMBALANCE = 1.05


def _wide_target(K_bytes: int, N: int) -> int:
    """The most bytes of unfolded input (rows of ``K_bytes``) a block of a
    pass whose product has N columns aims at (:func:`_pass_blocks`):
    CHUNK_BYTES, or for N > SMALL_GEMM_MAX_N up to WIDE_MIN_ROWS rows."""
    return max(CHUNK_BYTES, WIDE_MIN_ROWS * K_bytes) if N > SMALL_GEMM_MAX_N else CHUNK_BYTES


def _busiest(blocks: list, n: int) -> int:
    """Output rows (of n_W columns each) on the busiest of n threads when
    ``parallel.map_blocks`` shares ``blocks`` out."""
    return max(sum((n1 - n0) * (h1 - h0) for n0, n1, h0, h1 in group) for group in parallel.split(blocks, n))


# A pass is cut (its block target, its bands: :func:`_pass_blocks`) as for
# its batch, or the batch planned_for gives, counted up to this many
# samples: a streamed chunk is cut as its whole batch is, without listing
# the whole batch's blocks (a review: planned for 10^6 samples, 1.2 s and
# 458 MiB of tuples a chunk), and past it the cut no longer changes but for
# a band more or less on some thread's share, out of thousands.
PLAN_MAX_SAMPLES = 1024


def _pass_target(plan: int, n_H: int, row_bytes: int, K_bytes: int, N: int) -> int | None:
    """The block target of a pass of ``plan`` samples (see
    :func:`_pass_blocks`): None for CHUNK_BYTES, or a wide one."""
    if _wide_target(K_bytes, N) <= CHUNK_BYTES:  # narrow, or WIDE_MIN_ROWS rows fit CHUNK_BYTES
        return None
    blocks = list(_blocks(plan, n_H, row_bytes))
    n = parallel.threads_for(len(blocks))
    target = min(WIDE_MIN_ROWS, plan * n_H * (row_bytes // K_bytes) // (2 * n)) * K_bytes
    if target > CHUNK_BYTES:
        wide = list(_blocks(plan, n_H, row_bytes, target))
        if parallel.threads_for(len(wide)) == n and _busiest(wide, n) <= WIDE_MAX_IMBALANCE * _busiest(blocks, n):
            return target
    return None


def _pass_blocks(m: int, n_H: int, row_bytes: int, K_bytes: int, N: int, plan_m: int | None = None,
                 group: int = 1) -> list:
    """The blocks of a pass (:func:`_blocks`) whose output rows hold
    ``row_bytes`` of unfolded input, ``K_bytes`` per unfolded row, and whose
    product has N columns: of CHUNK_BYTES, or where N > SMALL_GEMM_MAX_N, of
    WIDE_MIN_ROWS rows (:func:`_wide_target`), or fewer if the pass's rows
    make less than two blocks a thread of that, as long as they run on as
    many threads as CHUNK_BYTES blocks would, the busiest thread within
    WIDE_MAX_IMBALANCE of its rows. Chosen as for a batch of ``plan_m``
    samples (default m), up to PLAN_MAX_SAMPLES, so that a chunk of it is
    cut as the batch is (see :func:`_blocks`); whole samples in whole
    groups of ``group`` (:func:`sample_group`)."""
    plan = min(plan_m or m, PLAN_MAX_SAMPLES)
    return list(_blocks(m, n_H, row_bytes, _pass_target(plan, n_H, row_bytes, K_bytes, N), plan, group))


def _pass_block_count(m: int, n_H: int, row_bytes: int, K_bytes: int, N: int, group: int = 1) -> int:
    """``len(_pass_blocks(m, ...))``, without listing them."""
    plan = min(m, PLAN_MAX_SAMPLES)
    per, step = _cut(n_H, row_bytes, _pass_target(plan, n_H, row_bytes, K_bytes, N), group)
    if step:
        groups = -(-m // group)
        return 1 if step >= groups else parallel.sample_run_count(groups, step)
    return m * _band_count(n_H, per, plan)


def _blocks(m, n_H, row_bytes, target=None, plan_m=None, group=1):
    """Split the (sample, output row) grid into blocks whose unfolded input
    stays near ``target`` bytes (default CHUNK_BYTES: cache-sized, so the
    copy and the GEMM that reads it meet in cache; more for wide products,
    :func:`_pass_blocks`): whole samples when one is at most 1.5x that, as
    many as come nearest it, else bands of rows of one sample, near-equal,
    as many rows as come nearest it (at least one). Rounding to the nearest, not
    down, keeps a sample of 1.1x the target whole instead of a band of 0.9x
    it and one of 0.2x, and takes two samples of 0.6x rather than one: fewer,
    fuller blocks (attempt 40). So a block is at most
    :func:`block_max_bytes`. Whole samples are shared out evenly between
    the threads (:func:`parallel.sample_runs`); bands come in a multiple of
    the threads' count where a sample has rows enough, so some may hold
    fewer rows than the target's. The bands are those of a batch of
    ``plan_m`` samples (default m): a sample's bands are its products, whose
    rows BLAS rounds by their place in them (:func:`_products`), so a chunk
    of a batch is cut into the batch's own. Whole samples go in whole
    groups of ``group`` samples, counted from the first (the last group may
    hold fewer): a group is one product (:func:`sample_group`), whose rows
    a block must not cut. Yields (n0, n1, h0, h1)."""
    per, step = _cut(n_H, row_bytes, target, group)
    if step:
        groups = -(-m // group)
        if step >= groups:  # the whole pass (the common small case, without the loop)
            yield 0, m, 0, n_H
            return
        for g0, g1 in parallel.sample_runs(groups, step):
            yield g0 * group, min(g1 * group, m), 0, n_H
        return
    runs = parallel.even_runs(n_H, _band_count(n_H, per, plan_m or m))
    for n in range(m):
        for h0, h1 in runs:
            yield n, n + 1, h0, h1


def _cut(n_H: int, row_bytes: int, target: int | None, group: int = 1) -> tuple[float, int | None]:
    """``(per, step)`` of :func:`_blocks`: output rows per target, and the
    groups of ``group`` samples a block (at least one) where samples stay
    whole (one is at most 1.5x the target), else None (bands)."""
    per = (target or CHUNK_BYTES) / max(row_bytes, 1)
    return per, (max(1, round(per / (n_H * group))) if per * 1.5 >= n_H else None)


def _band_count(n_H: int, per: float, plan: int) -> int:
    """Bands a sample of n_H output rows, ``per`` rows to a block target,
    in a batch of ``plan`` samples. Bands are shared out by count: as many
    on each thread where more bands a sample make their count a multiple of
    the threads they run on (one sample of 7 bands gave two threads 4 and 3,
    attempt 83); a band's edges at the nearest row to equal shares, so that
    bands of one more row spread over the threads."""
    bands = -(-n_H // max(1, round(per)))
    while bands < n_H and (plan * bands) % parallel.threads_for(plan * bands):
        bands += 1
    return bands


def block_max_bytes(row_bytes: int = 0, target: int | None = None) -> int:
    """The most unfolded bytes one of :func:`_blocks`'s blocks holds, for
    output rows of ``row_bytes``: 1.5x the target (default CHUNK_BYTES;
    whole samples rounded to the nearest; a band rounds to at most half a
    row over), or one row."""
    return max((target or CHUNK_BYTES) * 3 // 2, row_bytes)


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


def _conv_gemm(X, W2, n_H, n_W, f, s, d, out2, bias=False, grad_out2=None, keep=False, T=1,
               pad=(0, 0, 0, 0), x_sums=False, plan_m=None, per_sample=False):
    """The blocked im2col + GEMM loop shared by every fast conv pass.

    Forward (``out2`` given): ``out2[rows] = cols @ W2``, the (m*n_H*n_W, C)
    output; with ``bias``, W2's last row is the bias: ``[cols | 1] @ W2``, the
    bias added by the GEMM itself (a broadcast add over narrow rows cost as
    much as the GEMM). Weight gradient (``grad_out2`` given): the sum over blocks of
    ``[cols | 1].T @ grad_out2[rows]``, a (K + 1, C) array: ``dW`` in its first K rows and ``db``,
    the column sums of ``grad_out2``, in the last -- the column of ones makes the
    bias gradient part of the same GEMM (a separate ``sum(axis=0)`` cost as much
    as a small layer's whole GEMM, and a threaded one between two threaded
    regions lets OpenBLAS's spinning workers compete with the next region).
    ``X`` is zero-padded by ``pad`` (top, bottom, left, right) first; when X
    is large (PAD_IN_THREADS_BYTES), by each group of blocks for its own
    samples, on its thread.
    ``cols`` is the unfolded block of the padded X, (rows, f_H*f_W*C_in), row order
    (n, h, w) and column order (i, j, c) -- the order of ``W.reshape(K, C)``;
    with tiles of T output columns (:func:`_tile_width`), rows (n, h, w/T) and
    columns (i, x, c), x over the tile's span, ``W2`` the banded matrix and
    ``out2``/``grad_out2`` (m*n_H*n_W/T, T*C).
    Blocks write disjoint rows, so they run on several threads
    (:mod:`convcli.parallel`), each with its own buffer and its own partial
    sum (its first product, then added to), summed in a fixed order.

    With ``plan_m``, the pass is cut as for a batch of that many samples
    (:func:`_pass_blocks`). With ``per_sample``, ``out2``'s products are
    each sample's own, each group's of samples too small for one
    (:func:`sample_group`), or each band's (:func:`_products`), and BLAS is held
    to one thread where the blocks run on one but a batch of ``plan_m``'s
    would run on threads (BLAS held to one), or where CONVCLI_THREADS is 1.
    So a sample's output rows come out the same bits whatever the batch,
    chunk (starting at a multiple of the group) or block that holds it, for
    one batch of ``plan_m`` and one thread setting (BLAS rounds a product otherwise on more threads, and a
    pass whose blocks run on one thread leaves BLAS its own).

    Returns ``(kept, grad, sums)``: with ``keep``, ``[cols | 1]`` (rows, K + 1)
    when one block held all of it (for backward to reuse), else None; the
    weight gradient's sum, or None; with ``x_sums`` ``"finite"``, whether X
    holds no infinity and no NaN (a 0-d bool, each group's over its samples:
    :func:`_x_summary`); with any other true ``x_sums``, the column sums of
    X (C_in,) taken by each group of its samples right after padding them
    (in cache: the input gradient's dZ, whose sums are db). A group's
    samples: those of its blocks, or where blocks are bands padded on the
    threads, those whose first band it holds. None where X is padded whole
    first while its blocks are bands, or X is a view that is not contiguous.
    """
    m, C_in = X.shape[0], X.shape[3]
    n_Wt = n_W // T
    width_W = _row_width(T, f[1], s[1], d[1])
    K = f[0] * width_W * C_in
    ones = bias or grad_out2 is not None or keep
    width = K + 1 if ones else K  # room for the column of ones
    N = max(0 if out2 is None else out2.shape[1], 0 if grad_out2 is None else grad_out2.shape[1])
    item = X.dtype.itemsize
    # a product a sample, a group of samples where a sample has too few rows (sample_group), or a band
    group = _product_group(n_H * n_Wt, K, item) if per_sample else 1
    blocks = _pass_blocks(m, n_H, n_Wt * K * item, K * item, N, plan_m, group)
    whole = blocks[0][2:] == (0, n_H)
    product_rows = group * n_H * n_Wt if whole else max(h1 - h0 for *_, h0, h1 in blocks) * n_Wt
    # BLAS held to one thread where the blocks run on one and BLAS would thread a product: for a chunk
    # whose batch's would run on threads (so as they do), and under CONVCLI_THREADS=1, whose passes
    # would otherwise leave BLAS its own threads and round otherwise than the default's regions (an
    # instructor's review: float64 Z 8.5% an ulp off, 56 of 116 checks failing); with
    # OPENBLAS_NUM_THREADS=1 BLAS is held already. (Not for products too small for BLAS to thread:
    # the hold costs ~25 us, a review found +35-50% on a tiny layer's call.)
    one_blas_thread = per_sample and product_rows * width * N > BLAS_THREADED_MNK and (parallel.threads() == 1 or (
        plan_m is not None and plan_m != m and parallel.threads_for(len(blocks)) <= 1
        and parallel.threads_for(_pass_block_count(plan_m, n_H, n_Wt * K * item, K * item, N, group)) > 1))
    # Kept only when one block of at most block_max_bytes() holds it all: a block of one output row
    # past that (a 1-D signal: (1, 2, 8000, 16) by a 2x32 kernel kept 65 MB for a 2 MB input) is not
    keep = keep and len(blocks) == 1 and m * n_H * n_Wt * width * X.dtype.itemsize <= block_max_bytes()
    # The threads share out the blocks by count. Each group of whole samples
    # pads its own samples; a group of bands pads each sample it meets into a
    # buffer of its own, so a sample whose bands fall on two threads is padded
    # by both (shared out by sample instead, 9 samples went 5 and 4 to two
    # threads: 1.08x the time a sample of an even batch took, attempt 86). A
    # batch of fewer samples than MIN_SAMPLES_TO_SHARE is padded first.
    pad_groups = (any(pad) and len(blocks) > 1 and X.nbytes >= PAD_IN_THREADS_BYTES
                  and (whole or m >= MIN_SAMPLES_TO_SHARE))
    # Bands padded on the threads go one sample at a time, just before its
    # first band on that thread, through a padded copy of that sample alone,
    # each thread its own, which is still in cache for the sample's bands (attempts 51-52:
    # m16 0.96x-0.99x the time, then 0.98x); whole samples are padded into
    # one padded batch, a group's samples at once (one call a block cost m64
    # and m32 5-9%).
    banded = pad_groups and not whole
    padded_shape = (X.shape[1] + pad[0] + pad[1], X.shape[2] + pad[2] + pad[3], C_in)
    X_pad = win = None
    if not banded:
        X_pad = np.empty((m, *padded_shape), dtype=X.dtype) if pad_groups else _pad(X, pad)
        win = _windows(X_pad, n_H, n_Wt, f[0], f[1], s, d, T)
    x_sums = x_sums if (whole or pad_groups) and X.flags.c_contiguous else False

    def run(group):
        g0, g1 = group[0][0], group[-1][1]
        sums = None
        if banded:
            one = np.empty((1, *padded_shape), dtype=X.dtype)  # this thread's padded sample
            win_one = _windows(one, n_H, n_Wt, f[0], f[1], s, d, T)
        else:
            if pad_groups:
                _pad_samples(X, X_pad, pad, g0, g1)
            if x_sums:
                sums = _x_summary(X[g0:g1], x_sums)
        rows_max = max((n1 - n0) * (h1 - h0) for n0, n1, h0, h1 in group) * n_Wt
        # A kept buffer goes into the cache: it must be the caller's own.
        buf = (np.empty((rows_max, width), dtype=X.dtype) if keep
               else _scratch(rows_max, width, X.dtype))
        buf[:, K:] = 1
        part = spare = None
        padded = None  # the sample in this thread's buffer (a band is of one sample)
        for n0, n1, h0, h1 in group:
            if banded and n0 != padded:
                _pad_into(X[n0:n1], one, pad)
                padded = n0
                if x_sums and h0 == 0:  # the group with a sample's first band sums it
                    part_sums = _x_summary(X[n0:n1], x_sums)
                    sums = part_sums if sums is None else _x_combined(sums, part_sums, x_sums)
            src = win_one[:, h0:h1] if banded else win[n0:n1, h0:h1]
            rows = src.shape[0] * src.shape[1] * n_Wt
            # src's shape as a view of buf's first K columns (never a copy).
            item = buf.itemsize
            R = width * item
            dest = np.ndarray(src.shape, buf.dtype, buf, 0,
                              (src.shape[1] * n_Wt * R, n_Wt * R, R, width_W * C_in * item, C_in * item, item))
            _unfold(dest, src, rows, C_in)
            cols = buf[:rows]
            r0 = (n0 * n_H + h0) * n_Wt
            if out2 is not None:  # (rows, K[+1]) @ (K[+1], C) -> (rows, C)
                a, out = (cols if bias else cols[:, :K]), out2[r0:r0 + rows]
                if per_sample:  # a product a sample (or a group of them), or a band
                    _products(a, W2, out, product_rows if whole else rows)
                else:
                    _matmul_rows(a, W2, out)
            if grad_out2 is not None:  # (K+1, rows) @ (rows, C) -> (K+1, C)
                part, spare = _add_matmul_t(cols, grad_out2[r0:r0 + rows], part, spare)
        return cols, part, sums

    results = parallel.map_blocks(run, blocks, one_blas_thread=one_blas_thread)
    grad, sums = results[0][1], results[0][2]
    for _, part, group_sums in results[1:]:  # in block order: the same sums every run
        if grad is not None:
            grad += part
        if group_sums is not None:  # None: a group of bands with no sample's first band
            sums = group_sums if sums is None else _x_combined(sums, group_sums, x_sums)
    return (results[0][0] if keep else None), grad, sums


def _x_summary(Xs: np.ndarray, kind):
    """What :func:`_conv_gemm`'s ``x_sums`` asks of some samples of X. Whether
    they are finite: inside a parallel region, where BLAS runs on one thread,
    by their dot product with themselves (15 against ~50 us for np.isfinite
    over 1.5 MiB of float64 just read by the padding: 3% of the m32 benchmark
    layer's forward; a sum of squares past the dtype's largest number, as
    from float32 values beyond ~1e19 / sqrt(their count), is asked again
    exactly by :func:`_finite`: counted as not finite, it redid the pass
    untiled, whose Z rounds otherwise); outside one, as
    :func:`stats.all_finite` (no BLAS call: a threaded one there leaves
    OpenBLAS's workers spinning against the next region, see
    FINITE_BY_DOT_MAX)."""
    if kind == "finite":
        return np.bool_(_finite(Xs, one_blas_thread=parallel.in_region()))
    return _column_sums(Xs.reshape(-1, Xs.shape[-1]))


def _x_combined(a, b, kind):
    """Two groups' :func:`_x_summary`, in order."""
    return a & b if kind == "finite" else a + b


# One copy of a block's window view moves runs of one window row, f_W*C_in
# elements (attempt 2): with one input channel and a narrow kernel those
# runs are 2-5 elements, and the copy's cost per run is most of it (~12 ns a
# row whatever C_in up to 4). Copied one kernel offset at a time instead,
# each copy runs along the output columns: 0.2x-0.86x the time for kernels
# 2-5 wide, but 1.2x for 7 wide, and each copy call costs ~1 us, so only for
# blocks of at least UNFOLD_PER_OFFSET_ROWS rows per call (attempt 58).
UNFOLD_PER_OFFSET_MAX_WIDTH = 5
UNFOLD_PER_OFFSET_ROWS = 128


def _unfold(dest, src, rows: int, C_in: int) -> None:
    """``dest[...] = src``: a block's windows, (n, h, w, i, x, c), into its
    rows of the unfolded buffer."""
    f_H, width = src.shape[3], src.shape[4]
    if C_in == 1 and 1 < width <= UNFOLD_PER_OFFSET_MAX_WIDTH and rows >= UNFOLD_PER_OFFSET_ROWS * f_H * width:
        for i in range(f_H):
            for x in range(width):
                np.copyto(dest[:, :, :, i, x], src[:, :, :, i, x])
    else:
        np.copyto(dest, src)


# OpenBLAS's small-matrix kernels (SkylakeX and later x86-64 cores) skip the
# packing of both operands, but only for products with M*N*K at most 100^3.
# The engine's products are tall and thin, (rows, K) @ (K, C) with rows in the
# thousands, far above it; cut into slices of rows under it they run faster
# where C is small, the case the packed kernels serve worst: on one thread
# 0.5-0.9x the time in float64, 0.66-1.0x in float32 (benchmarks/README.md,
# attempt 33), while the copy that unfolds the input keeps its cache-sized
# blocks (attempt 20 had cut both, and the per-block calls ate the gain).
# Wide products (C above SMALL_GEMM_MAX_N) measured slower sliced, up to
# 1.2-2.7x; they stay whole. Without those kernels (OpenBLAS's Haswell ones,
# as on AVX2-only CPUs or with OPENBLAS_CORETYPE=Haswell) every slice is
# packed like a large product, and slices took 1.06x-1.83x the whole
# product's time (attempt 48): no slicing there. None: 100^3 where NumPy's
# BLAS has the small kernels (parallel.blas_small_kernels), else 0; 0 turns
# the slicing off.
SMALL_GEMM_MNK = None
SMALL_GEMM_MAX_N = 64


def _small_mnk() -> int:
    """SMALL_GEMM_MNK, resolved (see there)."""
    if SMALL_GEMM_MNK is not None:
        return SMALL_GEMM_MNK
    return 100 ** 3 if parallel.blas_small_kernels() else 0


# A (rows, K) @ (K, N) slice has a multiple of this many rows: the small
# kernels take 8 rows at a time, and a ragged last few ran through their slow
# edge code. m16's (27, 577) @ (577, 64) float64 slices took 368-372 us a
# 448-row block, 24-row ones 310-323; so aligned, slices of 8 to 48 rows beat
# the whole product in 20 of 22 shapes swept in both dtypes (attempt 41),
# where unaligned ones had lost below 16 rows (float64) or 48 (float32).
SMALL_GEMM_ROW_MULTIPLE = 8
# The transposed product (K, rows) @ (rows, N) sums one (K, N) partial per
# slice: its slices stay at the most rows under SMALL_GEMM_MNK (24 instead of
# 27 rows: 360 vs 350 us), and whole below these (per item size).
SMALL_GEMM_MIN_ROWS = {8: 16, 4: 48}


def _gemm_rows(K: int, N: int, rows: int, itemsize: int, transposed: bool = False) -> int:
    """Rows per BLAS call for a (rows, K) @ (K, N) product, or with
    ``transposed`` for (K, rows) @ (rows, N): the most that keep M*N*K under
    SMALL_GEMM_MNK (a multiple of SMALL_GEMM_ROW_MULTIPLE unless transposed),
    or all of them when slicing does not pay (see SMALL_GEMM_MNK)."""
    mnk = _small_mnk()
    step = mnk // (K * N) if mnk and N <= SMALL_GEMM_MAX_N else 0
    if transposed:
        return step if step >= SMALL_GEMM_MIN_ROWS.get(itemsize, 1) else rows
    step -= step % SMALL_GEMM_ROW_MULTIPLE
    return step if step > 0 else rows


# The transposed product (K, rows) @ (rows, N) cut along K instead, into
# (SMALL_GEMM_T_COLS, rows) @ (rows, N) small products writing their own rows
# of the result: no partial sums within a chunk of rows, where slices of rows
# made one (K, N) partial per slice to add up (m16's (577, 448) @ (448, 64)
# float64: 16 slices, 4.7 MB of partials a block). A block with more rows
# than fit under 100^3 goes in near-equal chunks, each cut along K, one
# partial per chunk. Only at 24 rows of K, which measured 0.74x-0.96x the
# time of slices of rows over 12 shapes in both dtypes (16 or 8 rows:
# 0.90x-1.42x), and from 3 of them (K = 37: 1.21x in float32; attempt 45);
# chunked, 0.41x-1.04x over 10 more (attempt 46). Like all slicing, only
# with the small kernels (SMALL_GEMM_MNK); 0 turns this cut off.
SMALL_GEMM_T_COLS = 24


def _gemm_cols_t(K: int, N: int) -> int:
    """Rows of K per BLAS call for a (K, rows) @ (rows, N) product cut along
    K (see SMALL_GEMM_T_COLS), or 0 to cut it along rows (:func:`_gemm_rows`)."""
    cols, mnk = SMALL_GEMM_T_COLS, _small_mnk()
    fits = mnk and N <= SMALL_GEMM_MAX_N and cols * N <= mnk
    return cols if cols and fits and K >= 3 * cols else 0


def _row_stack(x, n: int, step: int):
    """The first n*step rows of a 2-D x as a (n, step, cols) view. Never a
    copy (which an ``out=`` would silently write to): splitting one axis
    needs no particular strides, and NumPy's reshape returns a view whenever
    one exists. (``copy=False``, which would make it raise instead, needs
    NumPy 2.1.)"""
    return x[:n * step].reshape(n, step, x.shape[1])


def _matmul_rows(a, b, out) -> None:
    """``out[...] = a @ b`` for a (rows, K) ``a``, in slices of rows
    (:func:`_gemm_rows`): one stacked ``np.matmul`` over the whole slices
    (NumPy calls BLAS once per slice in C; a Python loop of calls cost
    ~3 us a block more, attempt 39), then the rows left over."""
    rows = a.shape[0]
    step = _gemm_rows(a.shape[1], b.shape[1], rows, a.itemsize)
    if step >= rows:
        np.matmul(a, b, out=out)
        return
    n = rows // step
    np.matmul(_row_stack(a, n, step), b, out=_row_stack(out, n, step))
    if n * step < rows:
        np.matmul(a[n * step:], b, out=out[n * step:])


# BLAS rounds a row of a product by its place in it: OpenBLAS's float32
# kernels on this AVX2 machine by its place modulo 12 (when K >= ~55), and
# a product's last (M mod 12) rows otherwise than the rest; float64's, the
# last row of an odd M. So a sample's output bits depended on where its rows
# fell in its block's product, which the batch's size and a streamed run's
# chunks move, and in float32 over images with flat regions that made or
# broke a max pool's ties, moving whole gradients (a review: 28 of 58 checks
# of a streamed run failed in memory). So the forward pass makes each
# sample (or band) its own product (:func:`_products`), where a sample has
# at least this many rows of it, and else a group of samples that have as
# many (sample_group): each BLAS call packs the whole (K, N) operand, which
# a few rows a call do not pay for (a review: 1x1 to 4x4 output maps of deep
# layers, a product a sample, took 2-6x the time, attempt 117). Forward
# alone, against products of whole blocks, 5 small-map layers (1x1 to 7x7)
# in both dtypes: groups of at least 64 rows 1.01x-1.52x, 128 0.93x-1.20x,
# 256 0.87x-1.20x (attempt 118); but the larger the group, the more samples
# a streamed chunk needs to hold a whole one.
PRODUCT_MIN_ROWS = 128


def sample_group(rows: int, sample_bytes: int) -> int:
    """How many samples of ``rows`` forward product rows each make one
    product (:func:`_products`): one where a sample has at least
    PRODUCT_MIN_ROWS, else the fewest, a power of two, that have as many
    between them, but no more than a block holds (their unfolded input,
    ``sample_bytes`` a sample, within 1.5x CHUNK_BYTES: a block is a whole
    number of groups, and the memory estimates count blocks of at most
    that, :func:`block_max_bytes`). The groups are counted from the batch's first sample, so
    a chunk that starts at a multiple of the group (a streamed run's
    chunks: :func:`stream_group`) makes the batch's own products, bit for
    bit (a review: a streamed float32 run's 7x7 maps, 49 rows a sample in
    its blocks' products, 46% of Z an ulp off the in-memory run's, which
    moved a max pool's ties and half its answer key)."""
    group = 1
    while group * rows < PRODUCT_MIN_ROWS and 2 * group * sample_bytes <= CHUNK_BYTES * 3 // 2:
        group *= 2
    return group


# BLAS runs a product on more than one thread only past this M*N*K
# (OpenBLAS: 65536 x its GEMM_MULTITHREAD_THRESHOLD, 4): a pass whose
# products are no larger need not hold it to one (see _conv_gemm).
BLAS_THREADED_MNK = 65536 * 4


def _products(a, b, out, R: int) -> None:
    """``out[...] = a @ b`` for a (rows, K) ``a`` whose rows are products
    of R rows each (samples', groups of samples' or a band's,
    :func:`sample_group`; the last may be shorter, a batch's last group),
    every one its own BLAS call, or its own slices of rows
    (:func:`_matmul_rows`) cut from its first row whatever the others: one
    stacked ``np.matmul`` for them all where they take no slices (NumPy
    calls BLAS once a product, in C)."""
    rows, K = a.shape
    B = rows // R
    if B and _gemm_rows(K, b.shape[1], R, a.itemsize) >= R:
        np.matmul(_row_stack(a, B, R), b, out=_row_stack(out, B, R))
    else:
        for k in range(B):
            _matmul_rows(a[k * R:(k + 1) * R], b, out[k * R:(k + 1) * R])
    if B * R < rows:  # a last group of fewer samples (the batch's last): its own product too
        _matmul_rows(a[B * R:], b, out[B * R:])


def _add_matmul_t(a, g, part, spare):
    """``part + a.T @ g`` for a (rows, K) ``a`` and (rows, N) ``g``; ``part``
    None starts the sum. Cut along K where :func:`_gemm_cols_t` says so:
    chunks of rows, each product in slices of its own rows, written in
    place. Else in slices of rows (:func:`_gemm_rows`): the whole slices'
    products from one stacked ``np.matmul`` into ``spare`` (a (slices, K, N)
    buffer), summed over the slices in order, the rows left over added last.
    ``spare`` is reused when it fits, or None. Returns ``(part, spare)`` for
    the next call."""
    rows, K = a.shape
    N = g.shape[1]
    dtype = np.result_type(a, g)
    cols = _gemm_cols_t(K, N)
    if cols and rows:
        chunks = -(-rows // (_small_mnk() // (cols * N)))
        step, n = -(-rows // chunks), K // cols
        for r0 in range(0, rows, step):
            a_i, g_i = a[r0:r0 + step].T, g[r0:r0 + step]
            # The first product is the running sum; the next ones go into
            # spare, a (K, N) buffer, and are added to it.
            if part is None:
                prod = np.empty((K, N), dtype=dtype)
            else:
                if spare is None or spare.shape != (K, N) or spare.dtype != dtype:
                    spare = np.empty((K, N), dtype=dtype)
                prod = spare
            np.matmul(_row_stack(a_i, n, cols), g_i, out=_row_stack(prod, n, cols))
            if n * cols < K:
                np.matmul(a_i[n * cols:], g_i, out=prod[n * cols:])
            if part is None:
                part = prod
            else:
                part += prod
        return part, spare
    step = _gemm_rows(K, N, rows, a.itemsize, transposed=True)
    if step >= rows:
        prod = a.T @ g
    else:
        n = rows // step
        if spare is None or spare.shape[0] < n or spare.shape[1:] != (K, N) or spare.dtype != dtype:
            spare = np.empty((n, K, N), dtype=dtype)
        stack = np.matmul(_row_stack(a, n, step).transpose(0, 2, 1), _row_stack(g, n, step),
                          out=spare[:n])
        prod = stack.sum(axis=0)
        if n * step < rows:
            prod += a[n * step:].T @ g[n * step:]
    if part is None:
        return prod, spare
    part += prod
    return part, spare


# The batch size the tile widths are chosen for, where not the call's own (planned_for).
_PLANNED_SAMPLES: contextvars.ContextVar[int | None] = contextvars.ContextVar("convcli_planned_samples",
                                                                               default=None)


@contextlib.contextmanager
def planned_for(samples: int):
    """Inside it, the fast engine chooses its tile widths as for a batch of
    ``samples`` samples, whatever the batch each call is given.

    The tile width moves the last bits of a result (BLAS adds up a banded
    product's terms in another order), and it is chosen from the size of the
    whole pass: a chunk of a streamed run rounded otherwise than the whole
    batch in memory, and an ulp is enough to make or break a tie in a max
    pool after it, which moves a whole gradient (a review: 5 of 12 checks of
    a streamed float32 run failed against the in-memory one). Under it, the
    chunks unfold as the whole batch does, are cut into the batch's bands
    and, where the batch's blocks would run on threads, hold BLAS to one
    thread as the batch's do; and as every sample is its own product, or
    a group of samples counted from the batch's first (:func:`sample_group`),
    each chunk that starts at a multiple of its layers' groups
    (:func:`stream_group`; a streamed run's do, where a chunk holds that
    many) makes the whole batch's forward output, bit for bit. Not where the batch
    holds an infinity or a NaN: a tiled pass that meets one is done again
    untiled, in memory the whole batch's, streamed only that chunk's. (The
    gradients are sums over the batch, and a chunk's dA_prev comes from
    smaller products: they agree to rounding.)"""
    token = _PLANNED_SAMPLES.set(int(samples))
    try:
        yield
    finally:
        _PLANNED_SAMPLES.reset(token)


def _planned_m(g: ConvGeometry) -> int:
    return _PLANNED_SAMPLES.get() or g.m


def _forward_tile(g: ConvGeometry, dtype) -> int:
    """Tile width of the forward and weight-gradient passes (the same, so that
    backward can reuse the forward's unfolded input)."""
    return _forward_tile_of(_planned_m(g), g.n_H, g.n_W, g.f_H, g.f_W, g.n_C_prev, g.n_C, g.s_W, g.d_W, dtype)


def _forward_tile_of(m, n_H, n_W, f_H, f_W, C_in, C_out, s_W, d_W, dtype) -> int:
    """:func:`_forward_tile` of a batch of m samples of that layer."""
    unfolded = m * n_H * n_W * f_H * f_W * C_in * np.dtype(dtype).itemsize
    return _tile_width(n_W, C_in, C_out, f_W, s_W, d_W, dtype, unfolded)


def stream_group(m, n_H, n_W, f_H, f_W, C_in, C_out, s_W, d_W, dtype) -> int:
    """The samples of one product (:func:`sample_group`) of the forward pass
    of a layer whose batch of m samples is streamed (:func:`planned_for`):
    a chunk that starts at a multiple of it makes the batch's products, so
    the same bits (but where an infinity or a NaN leaves the pass untiled)."""
    T = _forward_tile_of(m, n_H, n_W, f_H, f_W, C_in, C_out, s_W, d_W, dtype)
    return _product_group(n_H * (n_W // T), f_H * _row_width(T, f_W, s_W, d_W) * C_in, np.dtype(dtype).itemsize)


def _product_group(rows: int, K: int, item: int) -> int:
    """The samples of one forward product (:func:`sample_group`) of a
    sample of ``rows`` product rows, each K elements of ``item`` bytes: what
    the pass (_conv_gemm) makes and a streamed chunk counts alike."""
    return sample_group(rows, rows * K * item)


def _input_grad_tile(g: ConvGeometry, dtype) -> int:
    """Tile width of the stride-1 input-gradient pass (a conv of dZ, n_C
    channels in and n_C_prev out, over the input's columns)."""
    item = np.dtype(dtype).itemsize
    unfolded = _planned_m(g) * g.n_H_prev * g.n_W_prev * g.f_H * g.f_W * g.n_C * item
    return _tile_width(g.n_W_prev, g.n_C, g.n_C_prev, g.f_W, 1, g.d_W, dtype, unfolded,
                       min(TILE_MIN_BYTES, INPUT_GRAD_TILE_MIN_BYTES))


def _forward_fast(A_prev, W, b, g: ConvGeometry, T: int):
    """``(Z, cols, T)``: the tile width used, which is T unless A_prev holds
    an infinity or a NaN (then 1: the band's zeros times it would be NaN in
    the tile's other outputs). Tiled, whether it does is found by the
    threads, each over the samples it has just padded."""
    Z = np.empty(g.out_shape, dtype=A_prev.dtype)
    bias = b * (g.f_H * g.f_W * g.n_C_prev) if g.bias == "window" else b
    cols, _, sums = _conv_gemm(A_prev, _gemm_weights(W, T, g.s_W, g.d_W, bias), g.n_H, g.n_W,
                               (g.f_H, g.f_W), (g.s_H, g.s_W), (g.d_H, g.d_W),
                               out2=Z.reshape(-1, T * g.n_C), bias=True, keep=True, T=T, pad=g.pad,
                               x_sums="finite" if T > 1 else False, plan_m=_planned_m(g), per_sample=True)
    if T > 1 and not (_finite(A_prev) if sums is None else sums):
        del Z, cols
        return _forward_fast(A_prev, W, b, g, 1)
    return Z, cols, T


def _crop(X, sides):
    """Padding by ``sides`` where a negative side crops: ``(view, pad)``, the
    view of X cropped where a side is negative and the padding that is left."""
    if min(sides) >= 0:
        return X, tuple(sides)
    t, b, l, r = sides
    X = X[:, max(-t, 0): X.shape[1] - max(-b, 0), max(-l, 0): X.shape[2] - max(-r, 0), :]
    return X, (max(t, 0), max(b, 0), max(l, 0), max(r, 0))


# The weight gradient from the input gradient's unfolded dZ (see
# _input_grad_stride1) is a product (K + 1, rows) @ (rows, n_C_prev): with
# few input channels a narrow one, slower than unfolding the input again for
# a product with n_C columns. Measured (64, 32, 32, C) -> 16 channels, 3x3:
# C = 1-3 1.05x-1.64x the time of the separate passes, C = 8 0.89x-1.00x,
# 16 0.89x-0.94x; (16, 56, 56, 4) -> 64 1.2x (attempt 59). In tiles of
# T_in columns the product is (K + 1, rows) @ (rows, T_in * n_C_prev) and
# folded from its band: taken where T_in is at most the weight gradient's
# own tile width T, so that its band costs no more multiply-adds a position
# than the separate pass's (f_H * (T + f_W - 1) * C_in * C_out), which it
# saves with the input's second unfolding. Backward alone, one process,
# alternated: (32, 64, 64, 3) -> 8, 4x4 (T 5, T_in 4) float32 0.896x,
# float64 0.942x; (32, 32, 32, 4) -> 8, 5x5 (T 4, T_in 4) float32 0.704x;
# but a 7x7 RGB stem -> 64 (T 1, T_in 8) float32 1.54x; in the benchmark's
# own timing of m32 fwd+bwd, no difference (attempt 92).
WEIGHT_GRAD_FROM_DZ_MIN_C_IN = 8


# At stride 1 too, the input gradient of a layer with one input channel goes
# through col2im (channel-first, see _input_grad_col2im), and with up to 3
# where the gather would run untiled: the gather's product has only T*C_in
# columns. One process, both ways alternated, gather / col2im, (m, H=W, C_in)
# <- C_out channels 3x3: (64,28,1) <- 16 float32 (T 4) 0.62x, float64 (T 1)
# 0.23x; <- 8 0.63x-0.71x, <- 4 0.87x-0.91x; 5x5 <- 32 0.17x-0.56x; untiled
# (float64) (32,32,3) <- 64 0.46x, <- 16 0.78x, (64,28,2) <- 16 0.74x,
# (8,112,3) <- 16 0.65x, (32,32,4) <- 32 0.95x; but tiled with 2-4 channels
# 1.02x-2.12x, and a tiny (8,16,1) <- 16 float32 1.32x (46 against 35 us).
# Only from 8 output channels: col2im's product (rows, C_out) @ (C_out, K)
# is short then, and LeNet's first layer, (64,28,1) <- 6 5x5, took 1.07x
# (float32) and 1.12x (float64) fwd+bwd that way (attempt 61).
STRIDE1_COL2IM_MAX_C = 1
STRIDE1_COL2IM_MAX_C_UNTILED = 3
STRIDE1_COL2IM_MIN_C_OUT = 8
# Tiled too from this many output channels (0: never): an RGB layer's
# banded gather then multiplies T*3 outputs by rows T*C_out*f wide. fwd+bwd,
# col2im / tiled gather, float32, alternated in one process (attempt 103):
# (m, H=W, C_in) -> C_out f x f: (16,32,3) -> 128 0.55x, -> 64 (8, 16, 32, 64
# samples) 0.64x-0.82x, (4,112,3) 0.77x, 5x5 0.83x, 7x7 0.81x, (32,32,2) 0.65x,
# -> 96 0.72x (a review's sweep: 2.16x PyTorch); float64 0.94x-1.03x (its
# gather mostly untiled there: col2im already). At 16-32 output channels
# 0.91x-1.05x, and stems of 4+ rows and 8-32 go by rows (attempt 99): left.
STRIDE1_COL2IM_WIDE_C_OUT = 64
# And wherever the layer widens its channels enough (C_out >= ratio * C_in,
# from STRIDE1_COL2IM_RATIO_MIN_C_OUT output channels and up to
# STRIDE1_COL2IM_RATIO_MAX_C input channels where the gather runs untiled,
# STRIDE1_COL2IM_TILED_MAX_C where it runs in tiles): the gather copies
# f_H*f_W*C_out elements for each input position (a tile of T shares a
# span among T of them), col2im's product writes f_H*f_W*C_in for each
# output position and adds them back. 4 times where the gather would run
# untiled and col2im's scatter is channel-first (COL2IM_CHANNEL_FIRST_MAX_C
# input channels), 8 times otherwise (attempt 113 below: 4.5 times, by
# positions, where it runs untiled with more input channels; 8 times, by
# channels, where it runs in tiles). Backward alone, col2im / gather,
# alternated 4-5 rounds in one process, 2 threads, 3x3 to 7x7 kernels on
# 8-96 pixel images, 1-128 samples (the twenty-seventh session's AMD EPYC,
# attempt 105), where the rule takes col2im: untiled, channel-first (float64
# up to 8 input channels, 4-8 times wider) 43 layers, 0.34x-1.16x,
# geometric mean 0.68x, the one above 0.93x a 0.12 ms layer (2 x 10x10);
# tiled (float32) 8 times or wider 23 layers, 0.46x-1.06x, 0.70x; 10-16
# input channels 8 times wider 16 layers, 0.35x-1.13x, 0.70x. Where it
# keeps the gather: tiled 4-7 times wider 0.70x-1.39x (0.98x), 6 -> 16
# untiled 0.79x-1.25x, 16 -> 32 / 64 and 32 -> 128 0.44x-1.66x (1.01x),
# 2 -> 8 float32 1.08x-1.27x (hence 16 output channels). A stem whose
# gradients go by rows (input_grad_by_rows) keeps them.
#
# Where the gather runs untiled, the ratio counts positions too (attempt
# 113): the gather's copies and its product's rows run over the H_in*W_in
# input positions, col2im's over the H_out*W_out output positions, so the
# ratio is C_out*H_in*W_in / (C_in*H_out*W_out): a valid layer's is its
# channels' times (H_in*W_in) / (H_out*W_out) (LeNet's second layer,
# (64,14,14,6) -> 16 5x5: 2.67 * 1.96 = 5.2), a "same" one's its channels',
# a layer padded past "same" less. 4.5 times with more than 8 input channels
# (an NHWC scatter), up to 32. Backward alone, col2im / gather, 5 rounds
# alternated in one process, 2 threads (the twenty-ninth session's AMD
# EPYC): valid float64 6-8 input channels, 4.2-8 times by positions (2-3 by
# channels), 7 layers 0.55x-0.82x; 10-32 input channels, valid, 4.5-10.7
# times (2-2.7 by channels), 7 layers in each dtype 0.28x-0.88x; "same", 4.8-6
# times, 6 layers in each 0.58x-1.03x (geometric mean 0.80x); below the
# ratios, mixed (3-3.9 times: 0.41x-1.53x). Padded past "same" (3x3, pad 2,
# 0.79 by positions), 4 -> 16 and 8 -> 32, 4 times by channels, took col2im
# before and go by the gather now: a trade, col2im measured 0.83x and 1.26x
# the gather there. The ratio is compared exactly (a Fraction: 39/10 *
# 210/182 is 4.5, which floats round to 4.4999...).
# A tiled gather keeps the channels' ratio: its tiles share a span of
# columns, and valid float32 layers of 3-6 input channels 9-16 times wider
# by positions took 0.53x-1.53x (tiles of 4-6: 1.26x-1.53x).
STRIDE1_COL2IM_RATIO = 4
STRIDE1_COL2IM_NHWC_RATIO = 4.5
STRIDE1_COL2IM_TILED_RATIO = 8
STRIDE1_COL2IM_RATIO_MIN_C_OUT = 16
STRIDE1_COL2IM_RATIO_MAX_C = 32
STRIDE1_COL2IM_TILED_MAX_C = 16  # (as attempt 105 measured it)


def positions_ratio(in_hw, out_hw) -> Fraction:
    """H_in*W_in / (H_out*W_out) of a layer, exactly: how many times more
    positions its input has than its output (see STRIDE1_COL2IM_RATIO)."""
    return Fraction(in_hw[0] * in_hw[1], out_hw[0] * out_hw[1])


def geometry_positions(g: ConvGeometry) -> Fraction:
    """A layer's :func:`positions_ratio` from its geometry."""
    return positions_ratio((g.n_H_prev, g.n_W_prev), (g.n_H, g.n_W))


def _widening(C_in: int, C_out: int, T_in: int | None, positions: Fraction) -> bool:
    """Whether a stride-1 layer widens its channels enough for its input
    gradient to go through col2im rather than the gather of tile width
    ``T_in`` (None: at some tile width), ``positions`` its
    :func:`positions_ratio`; see STRIDE1_COL2IM_RATIO, whose 0 turns this
    off."""
    if not STRIDE1_COL2IM_RATIO or C_out < STRIDE1_COL2IM_RATIO_MIN_C_OUT or C_in > STRIDE1_COL2IM_RATIO_MAX_C:
        return False
    tiled = C_out >= STRIDE1_COL2IM_TILED_RATIO * C_in and C_in <= STRIDE1_COL2IM_TILED_MAX_C
    if T_in is not None and T_in > 1:
        return tiled
    ratio = STRIDE1_COL2IM_RATIO if C_in <= COL2IM_CHANNEL_FIRST_MAX_C else STRIDE1_COL2IM_NHWC_RATIO
    return C_out * Fraction(positions) >= Fraction(ratio) * C_in or T_in is None and tiled


def stride1_col2im(C_in: int, C_out: int, T_in: int | None, positions: Fraction) -> bool:
    """Whether a stride-1 layer's input gradient goes through col2im rather
    than the gather of tile width ``T_in``; with ``T_in`` None, whether it
    may at some tile width (for memory estimates). ``positions``: the
    layer's :func:`positions_ratio`. (A stem whose gradients go by rows
    keeps them: :func:`_backward_fast`.)"""
    most = {None: max(STRIDE1_COL2IM_MAX_C, STRIDE1_COL2IM_MAX_C_UNTILED), 1: STRIDE1_COL2IM_MAX_C_UNTILED}
    if STRIDE1_COL2IM_WIDE_C_OUT and C_out >= STRIDE1_COL2IM_WIDE_C_OUT and C_in <= STRIDE1_COL2IM_MAX_C_UNTILED:
        return True
    if _widening(C_in, C_out, T_in, positions):
        return True
    return C_out >= STRIDE1_COL2IM_MIN_C_OUT and C_in <= most.get(T_in, STRIDE1_COL2IM_MAX_C)


# _finite's dot products stay under this many elements, which OpenBLAS runs
# on one thread: a threaded BLAS call between the engine's threaded regions
# leaves OpenBLAS's workers spinning against them (a dot product over the
# m32 benchmark layer's input took its fwd+bwd from 5.8 to 7.9-10.6 ms).
FINITE_BY_DOT_MAX = 4096


def _finite(X: np.ndarray, one_blas_thread: bool = False) -> bool:
    """Whether X holds no infinity and no NaN. A contiguous X that is small
    (W, db, column sums), or any size where BLAS runs on one thread
    (``one_blas_thread``), by its dot product with itself, which any
    infinity or NaN makes one (0.45 us against 1 us for
    ``np.isfinite(X).all()``); one that is not finite, an infinity's, a
    NaN's or a sum of squares past the dtype's largest number (values beyond
    ~1e154 / sqrt(their count) in float64, ~1e19 / sqrt(count) in float32),
    is asked again as below: large finite values are finite (a review:
    counted as not, a streamed chunk's tiled pass was done again untiled
    where the batch's in memory was not, and 29% of its float32 Z moved by
    an ulp). Else as :func:`stats.all_finite` (a float64 sum: no BLAS call,
    no array-sized mask)."""
    if X.flags.c_contiguous and (one_blas_thread or X.size <= FINITE_BY_DOT_MAX):
        if math.isfinite(np.vdot(X, X)):  # flattened: 0.41 us, with reshape and dot 0.66
            return True
    return all_finite(X)


def _backward_fast(dZ, A_prev, W, g: ConvGeometry, cols, T: int):
    """``cols``: the forward's ``[cols | 1]`` unfolded with tiles of T columns,
    or None to unfold again (with T).

    The stride-1 gather multiplies dZ's zero padding by W, its tiles the
    band's zeros by dZ, and the weight gradient from the unfolded dZ pairs
    A_prev with dZ's padding: none of them terms of the notebook's sums,
    which 0 * inf or 0 * NaN would turn into NaN. So with an infinity or a
    NaN in W, the input gradient goes through col2im (its terms are the
    notebook's). With W finite, dZ's padding times W is 0, so a plain gather
    stands whatever dZ holds; but with an infinity or a NaN in dZ (then db
    is not finite) a tiled gather is done again untiled, and in dZ or A_prev
    (nor are the column sums the fused pass takes of it) the weight gradient
    from dZ is done again from the unfolded input, the plain way. Both redos
    are passes the streaming estimate counts already. A stem's gradients go
    by rows (:func:`input_grad_by_rows`); the weight gradient's terms are
    then the notebook's, its input gradient's band as the gather's."""
    f, s, d = (g.f_H, g.f_W), (g.s_H, g.s_W), (g.d_H, g.d_W)
    T_in = _input_grad_tile(g, dZ.dtype) if s == (1, 1) else None  # None: col2im
    if T_in is not None and (not _finite(W) or stride1_col2im(g.n_C_prev, g.n_C, T_in, geometry_positions(g))
                             and not (cols is None and input_grad_by_rows(g, T_in))):
        T_in = None
    dA_prev = None
    if cols is None and input_grad_by_rows(g, T_in):
        # a stem's input gradient by rows (db, dZ's column sums, taken on its threads), then dW by rows
        dA_prev, db = _input_grad_rows(dZ, W, g, T_in)
        db = db if db is not None else _column_sums(dZ.reshape(-1, g.n_C))
        if not _finite(db):  # the band's zeros met an infinity or a NaN of dZ: untiled
            dA_prev = None
            dA_prev = _input_grad_stride1(dZ, W, g, 1)[0]
        return dA_prev, _weight_grad_rows(A_prev, dZ, g), db.astype(dZ.dtype, copy=False)
    if cols is None and T_in is not None and (T_in == 1 and g.n_C_prev >= WEIGHT_GRAD_FROM_DZ_MIN_C_IN
                                              or 1 < T_in <= T):
        # One unfolded dZ serves both gradients (see _input_grad_stride1).
        dA_prev, dW, db, a_sums = _input_grad_stride1(dZ, W, g, T_in, A_prev)
        db = db if db is not None else _column_sums(dZ.reshape(-1, g.n_C))
        if _finite(db) and _finite(a_sums):
            return dA_prev, dW, db.astype(dZ.dtype, copy=False)  # (float32's summed in float64)
        del dW  # an infinity or a NaN in dZ or A_prev: dW the plain way below (dA_prev stands)
        if T_in > 1 and not _finite(db):
            dA_prev = None  # the band's zeros met an infinity or a NaN of dZ: untiled below
    dZ2 = dZ.reshape(-1, T * g.n_C)
    if cols is not None:  # [cols | 1], kept by the forward pass
        dWb, _ = _add_matmul_t(cols, dZ2, None, None)
    else:
        _, dWb, _ = _conv_gemm(A_prev, None, g.n_H, g.n_W, f, s, d,
                               out2=None, grad_out2=dZ2, T=T, pad=g.pad)
    dW = _fold_tiled(dWb[:-1], g.f_W, g.n_C_prev, T, g.s_W, g.d_W)
    if dZ.dtype == np.float32:  # the product's float32 row of sums rounds as _column_sums says
        db = _column_sums(dZ.reshape(-1, g.n_C))
    else:
        db = dWb[-1].reshape(T, g.n_C).sum(axis=0) if T > 1 else dWb[-1]
    if dA_prev is None and T_in is not None:  # untiled if the band's zeros would meet an infinity or a NaN of dZ
        dA_prev = _input_grad_stride1(dZ, W, g, T_in if T_in == 1 or _finite(db) else 1)[0]
    elif dA_prev is None:
        dA_prev = _input_grad_col2im(dZ.reshape(-1, g.n_C), W.reshape(-1, g.n_C), g)
    return dA_prev, dW, db.astype(dZ.dtype, copy=False)


# The weight gradient of a layer of stride and dilation 1 with 2-3 input
# channels (an RGB stem) and a kernel of 4 rows or more goes by rows
# (_weight_grad_rows), and so, in tiles, does its input gradient
# (_input_grad_rows, attempt 100): its
# unfolding copies a quarter or less of the full one's, and its products
# hold no band. Backward alone, old and new in one process, 2 threads,
# alternated, (m, H=W, C_in) -> C_out, f x f, pad, new / old: (32,64,3) -> 8
# 4x4 pad 2 (the benchmark's m32) float64 0.88x, float32 1.00x; 5x5 0.89x /
# 0.88x; 7x7 0.94x / 0.99x; (64,32,3) -> 8 4x4 0.86x / 0.81x; (32,32,3) -> 8
# 0.85x / 0.81x; (32,64,3) -> 16 0.89x / 0.75x; (32,64,2) -> 8 0.93x / 1.00x;
# but (16,64,3) -> 8 0.99x / 1.07x. Elsewhere it lost: 3x3 kernels
# 0.98x-1.34x, one input channel 0.98x-1.19x, 4 or more 1.00x-1.63x, 4 output
# channels 1.03x-1.12x, on one thread 0.87x-1.19x where two lost more: each
# block's calls take the GIL (benchmarks/README.md, attempt 99).
ROWS_MIN_F = 4
ROWS_C_IN = (2, 3)
ROWS_MIN_C_OUT = 8
# A review of both passes over 32 stems against the code before (attempt 102): with 64 output channels,
# 0.73x-0.91x on some but 1.11x-1.82x on others (the weight gradient by rows slower than the full
# unfolding's product there); with the weight gradient by rows alone (float64's untiled input gradient,
# col2im as before) 0.83x-1.34x; and where dZ's unfolding has more than two edge tiles (7x7, pad 0: six
# zero columns a side) 1.09x-1.58x. So: at most 32 output channels, both passes by rows or neither, and at
# most MAX_EDGE_TILES.
ROWS_MAX_C_OUT = 32
ROWS_MAX_EDGE_TILES = 2
# ... and small batches of large images lost too (4 x 96x96, 7x7: 1.23x-1.50x; 8 x 96x96 1.14x-1.19x; 4 x
# 96x96, 5x5: 1.17x), where 32 x 64x64 gained (0.76x-0.95x): batches of at least this many samples.
ROWS_MIN_SAMPLES = 16
# Its blocks hold about this much of its unfolding (1 MiB: 0.98x-1.0x of 2 MiB,
# 512 KiB 1.02x-1.18x, 4 MiB up to 1.28x on 2 threads). Counting dZ's rows
# beside it, and filling it straight from the input (no padded copy, as the
# input gradient's), each measured slower in the benchmark's m32 (attempt 101).
ROWS_CHUNK_BYTES = 1 << 20
# ... and the input gradient's by rows (_input_grad_rows), 512 KiB: one sample of m32's (459 KB) a block;
# on 2 threads, its pass alone 2.62 ms against 3.03 at 1 MiB, 3.22 at 256 KiB (bands) and 3.85 for the gather.
INPUT_ROWS_CHUNK_BYTES = 1 << 19


def weight_grad_by_rows(stride, dilation, f_H: int, C_in: int, C_out: int) -> bool:
    """Whether a layer is a stem whose gradients may go by rows (see
    ROWS_MIN_F): ``stride`` and ``dilation`` (H, W) both 1. (They do where
    its input gradient goes by rows too: :func:`input_grad_by_rows`.)"""
    return (tuple(stride), tuple(dilation)) == ((1, 1), (1, 1)) and f_H >= ROWS_MIN_F and \
        ROWS_C_IN[0] <= C_in <= ROWS_C_IN[1] and ROWS_MIN_C_OUT <= C_out <= ROWS_MAX_C_OUT


def _most_rows(n_H: int, row: int, target: int) -> tuple[int, int]:
    """The most samples, and output rows of each, one block of :func:`_blocks`
    holds for output rows of ``row`` bytes: whole samples near ``target``,
    or one sample's band (more bands, a multiple of the threads, are only
    shorter)."""
    per = target / max(row, 1)
    if per * 1.5 >= n_H:
        return max(1, round(per / n_H)), n_H
    return 1, -(-n_H // -(-n_H // max(1, round(per))))


def rows_bytes(n_H: int, n_W: int, C_in: int, C_out: int, f_H: int, f_W: int, dtype) -> tuple[int, int]:
    """For memory estimates: at most the bytes of one block buffer of
    :func:`_weight_grad_rows`, and of what one thread holds while it sums
    (a block's products, one (f_H, f_W*C_in, C_out) a sample, their sum and
    the running one), as :func:`_blocks` cuts the pass."""
    item = np.dtype(dtype).itemsize
    row = n_W * f_W * C_in * item  # an output row's unfolded bytes
    k, h = _most_rows(n_H, row, ROWS_CHUNK_BYTES)
    return k * (h + f_H - 1) * row, (k + 2) * f_H * f_W * C_in * C_out * item


def input_rows_bytes(H: int, W: int, C_in: int, C_out: int, f_H: int, f_W: int, T: int, dtype) -> tuple[int, int]:
    """For memory estimates: at most the bytes one thread holds in
    :func:`_input_grad_rows` of a layer of C_in input channels, C_out output
    channels (dZ's), in tiles of T: a block's rows of tile spans (its kept
    scratch), and beside them its stacked products, f_H times the block's
    share of dA_prev."""
    item = np.dtype(dtype).itemsize
    row = W // T * (T + f_W - 1) * C_out * item
    k, h = _most_rows(H, row, INPUT_ROWS_CHUNK_BYTES)
    return k * (h + f_H - 1) * row, k * f_H * h * W * C_in * item


def _weight_grad_rows(X, dZ, g: ConvGeometry):
    """The weight gradient of a layer of vertical stride 1 from its padded
    input unfolded along W only: a row (n, y, w) of the unfolding holds
    X_pad[n, y, w*s_W + j*d_W, c] over (j, c), f_W*C_in elements, and the
    kernel's row i pairs the output row h with the input row y = h + i*d_H,
    so its share is a product over a shifted run of the same rows:

        dW[i] = sum over blocks of rows(h + i*d_H).T @ dZ[rows h],

    (f_W*C_in, rows) @ (rows, C_out), the f_H products of each of a block's
    samples in one stacked ``np.matmul`` (a call a product, on two threads,
    cost more than it saved: attempt 99). The copy moves f_W*C_in elements
    a position where the full unfolding moves f_H times that, and the
    products' terms are the notebook's (no band, no padded dZ). Blocks as
    :func:`_conv_gemm`'s, of ROWS_CHUNK_BYTES of these rows; the input
    padded as there. Returns dW (f_H, f_W, C_in, C_out)."""
    m, H, W, C = X.shape
    t, b, l, r = g.pad
    f_H, f_W, d_H, d_W, s_W = g.f_H, g.f_W, g.d_H, g.d_W, g.s_W
    n_H, n_W, N = g.n_H, g.n_W, g.n_C
    Kw = f_W * C
    ext = d_H * (f_H - 1)  # input rows a band needs beyond its output rows
    item = X.dtype.itemsize
    blocks = list(_blocks(m, n_H, n_W * Kw * item, ROWS_CHUNK_BYTES))
    whole = blocks[0][2:] == (0, n_H)
    pad_groups = (any(g.pad) and len(blocks) > 1 and X.nbytes >= PAD_IN_THREADS_BYTES
                  and (whole or m >= MIN_SAMPLES_TO_SHARE))
    banded = pad_groups and not whole
    padded_shape = (H + t + b, W + l + r, C)
    X_pad = None
    if not banded:
        X_pad = np.empty((m, *padded_shape), dtype=X.dtype) if pad_groups else _pad(X, g.pad)
    dZ2 = dZ.reshape(-1, N)

    def rows_of(Xp, n0, n1, h0, h1):  # (n1 - n0, h1 - h0 + ext, n_W, f_W, C), a view
        sn, sh, sw, sc = Xp.strides
        shape, strides = (n1 - n0, h1 - h0 + ext, n_W, f_W, C), (sn, sh, sw * s_W, sw * d_W, sc)
        if Xp.flags.c_contiguous:
            return np.ndarray(shape, Xp.dtype, Xp, n0 * sn + h0 * sh, strides)
        # X itself, unpadded (pad 0), a view (an NCHW batch's transpose): no buffer to view (a review: ValueError)
        return as_strided(Xp[n0:, h0:], shape, strides, writeable=False)

    def run(group):
        g0, g1 = group[0][0], group[-1][1]
        if banded:
            one = np.empty((1, *padded_shape), dtype=X.dtype)  # this thread's padded sample
        elif pad_groups:
            _pad_samples(X, X_pad, g.pad, g0, g1)
        rows_max = max((n1 - n0) * (h1 - h0 + ext) for n0, n1, h0, h1 in group) * n_W
        buf = _scratch(rows_max, Kw, X.dtype)
        part = None
        padded = None
        for n0, n1, h0, h1 in group:
            if banded:
                if n0 != padded:
                    _pad_into(X[n0:n1], one, g.pad)
                    padded = n0
                src = rows_of(one, 0, 1, h0, h1)
            else:
                src = rows_of(X_pad, n0, n1, h0, h1)
            k, per, R = n1 - n0, src.shape[1] * n_W, (h1 - h0) * n_W
            np.copyto(buf[:k * per].reshape(src.shape), src)
            # (k, f_H, Kw, R): sample q's rows shifted by the kernel row i, transposed
            rows = np.ndarray((k, f_H, Kw, R), buf.dtype, buf, 0,
                              (per * Kw * item, d_H * n_W * Kw * item, item, Kw * item))
            r0 = (n0 * n_H + h0) * n_W  # (a band is of one sample, k = 1)
            prod = np.matmul(rows, dZ2[r0:r0 + k * R].reshape(k, 1, R, N))  # one call: (k, f_H) products (Kw, R) @ (R, N)
            prod = prod[0] if k == 1 else prod.sum(axis=0)
            if part is None:
                part = prod
            else:
                part += prod
        return part

    results = parallel.map_blocks(run, blocks)
    dW = results[0]
    for part in results[1:]:  # in block order: the same sums every run
        dW += part
    return dW.reshape(f_H, f_W, C, N)


def _spans_into(B, X, n0: int, h0: int, top: int, left: int, T: int) -> None:
    """``B`` (k, rows, tiles, span, C) = the spans of ``span`` columns at
    every T-th column of rows h0, h0 + 1, ... of samples n0, n0 + 1, ... of X
    zero-padded by ``top`` rows above and ``left`` columns to the left (and
    as many below and to the right as the spans reach), filled straight from
    X: the padding written as zeros, no padded copy of X made. One copy for
    the tiles whose span lies within X's columns, three small ones for each
    of the rest, at its edges."""
    k, rows, tiles, span, C = B.shape
    n_rows, n_cols = X.shape[1], X.shape[2]
    y0, y1 = max(h0, top), max(h0, top, min(h0 + rows, top + n_rows))  # padded rows of X's
    B[:, :y0 - h0] = 0
    B[:, y1 - h0:] = 0
    if y1 == y0:
        return
    mid, src = B[:, y0 - h0:y1 - h0], X[n0:n0 + k, y0 - top:y1 - top]
    inner = range(-(-left // T), min(tiles, (n_cols + left - span) // T + 1))
    if len(inner):
        sn, sh, sw, sc = X.strides
        shape, strides = (k, y1 - y0, len(inner), span, C), (sn, sh, T * sw, sw, sc)
        if X.flags.c_contiguous:  # 0.3 us, where as_strided took 19 (its calls were 10% of m32's pass)
            view = np.ndarray(shape, X.dtype, X, n0 * sn + (y0 - top) * sh + (inner[0] * T - left) * sw, strides)
        else:
            view = as_strided(src[:, :, inner[0] * T - left:], shape, strides, writeable=False)
        np.copyto(mid[:, :, inner[0]:inner[-1] + 1], view)
    for u in range(tiles):
        if u in inner:
            continue
        x0 = u * T - left
        lo, hi = max(0, -x0), max(0, -x0, min(span, n_cols - x0))
        mid[:, :, u, :lo] = 0
        mid[:, :, u, hi:] = 0
        mid[:, :, u, lo:hi] = src[:, :, x0 + lo:x0 + hi]


def input_grad_by_rows(g: ConvGeometry, T: int | None) -> bool:
    """Whether a stem's stride-1 input gradient in tiles of T columns goes by
    rows (:func:`_input_grad_rows`), and so its weight gradient: a stem
    (:func:`weight_grad_by_rows`) of at least ROWS_MIN_SAMPLES samples, dZ
    padded, not cropped (each pad at most the kernel's extent less one), at
    most ROWS_MAX_EDGE_TILES tiles reaching into its zero columns."""
    t, b, l, r = g.pad
    if not (T is not None and T > 1 and weight_grad_by_rows((g.s_H, g.s_W), (g.d_H, g.d_W), g.f_H, g.n_C_prev, g.n_C)
            and g.m >= ROWS_MIN_SAMPLES and max(t, b) <= g.f_H - 1 and max(l, r) <= g.f_W - 1):
        return False
    # the tiles whose span reaches into dZ's zero columns, each three small copies a block
    left, right = g.f_W - 1 - l, g.f_W - 1 - r
    return -(-left // T) + -(-right // T) <= ROWS_MAX_EDGE_TILES


def _input_grad_rows(dZ, W, g: ConvGeometry, T: int):
    """The stride-1 input gradient (see :func:`_input_grad_stride1`) in tiles
    of T columns, dZ unfolded along W only: a row (n, y, u) holds the span of
    T + f_W - 1 columns of dZ's zero-padded row y under tile u, and the
    flipped kernel's row i pairs the input's row y with dZ's padded row
    y + i, so each kernel row's share is a product over the same rows
    shifted by i rows against that row's band of the banded kernel, the
    f_H shares added into dA_prev. The unfolding is 1/f_H of the full one's,
    and it is filled from dZ itself, its padding written as zeros into it
    (no padded copy of dZ). Blocks of INPUT_ROWS_CHUNK_BYTES of these rows, whole
    samples or bands of input rows, on the threads; each block's products
    one stacked ``np.matmul``. Returns ``(dA_prev, db)``: db, the column sums
    of dZ, taken by each thread of its samples (None where dZ is not
    contiguous, or the blocks are bands)."""
    m, n_H, n_W, K = dZ.shape
    H, Wd, C = g.n_H_prev, g.n_W_prev, g.n_C_prev
    f_H, f_W = g.f_H, g.f_W
    top, left = f_H - 1 - g.pad[0], f_W - 1 - g.pad[2]  # dZ's zero rows above it, columns left of it
    span, n_Wt = T + f_W - 1, Wd // T
    KW, N = span * K, T * C
    W_flip = np.ascontiguousarray(W[::-1, ::-1].transpose(0, 1, 3, 2))  # (f_H, f_W, C, C_prev)
    bands = _gemm_weights(W_flip, T, 1, 1)[:f_H * KW].reshape(f_H, KW, N)  # each kernel row's band
    dA_prev = np.empty(g.in_shape, dtype=dZ.dtype)
    dA2 = dA_prev.reshape(m, H * n_Wt, N)
    item = dZ.itemsize
    blocks = list(_blocks(m, H, n_Wt * KW * item, INPUT_ROWS_CHUNK_BYTES))
    contiguous = dZ.flags.c_contiguous
    whole = blocks[0][2:] == (0, H)

    def run(group):
        rows_max = max((n1 - n0) * (h1 - h0 + f_H - 1) for n0, n1, h0, h1 in group) * n_Wt
        buf = _scratch(rows_max, KW, dZ.dtype)
        for n0, n1, h0, h1 in group:
            k, Hb = n1 - n0, h1 - h0 + f_H - 1
            _spans_into(buf[:k * Hb * n_Wt].reshape(k, Hb, n_Wt, span, K), dZ, n0, h0, top, left, T)
            R = (h1 - h0) * n_Wt
            rows = np.ndarray((k, f_H, R, KW), buf.dtype, buf, 0, (Hb * n_Wt * KW * item, n_Wt * KW * item,
                                                                   KW * item, item))
            part = np.matmul(rows, bands)  # one call: (k, f_H) products (R, KW) @ (KW, N)
            out = dA2[n0:n1, h0 * n_Wt:h1 * n_Wt]
            np.add(part[:, 0], part[:, 1], out=out)
            for i in range(2, f_H):
                out += part[:, i]
        # db: the group's samples summed at once (a call a sample cost 47 us each: 1.5 ms of m32's pass)
        return _x_summary(dZ[group[0][0]:group[-1][1]], True) if whole and contiguous else None

    db = None
    for col_sums in parallel.map_blocks(run, blocks):  # in block order: the same sums every run
        db = col_sums if db is None else db + col_sums
    return dA_prev, db


# _column_sums adds about this many elements per row of its wide view.
COLUMN_SUM_WIDTH = 4096


def _column_sums(X2):
    """``X2.sum(axis=0)`` of a (rows, C) array. NumPy reduces axis 0 one row
    at a time, which is slow for short rows ((135200, 8) float64: 1.5 ms);
    viewed k rows at a time as a (rows/k, k*C) array it adds long rows instead
    (0.12 ms), then folds the k partial sums. No BLAS call (a product with
    ones would need BLAS held to one thread between the engine's threaded
    regions, attempt 14) and nothing the size of a column.

    float32 is summed in float64 (and returned so; the caller casts the
    gradient back): added up in float32, one row after another, the seed
    notebook's db (490 positions) was off by up to 2.3e-6 of the sum of
    their magnitudes, where PyTorch's is ~5e-8. It costs ~0.5 ms more a
    (65536, 32) float32 array (0.78 against 0.30 ms on one thread)."""
    rows, C = X2.shape
    acc = np.float64 if X2.dtype == np.float32 else None
    k = max(1, min(rows, COLUMN_SUM_WIDTH // C))
    if k == 1 or not X2.flags.c_contiguous:
        return X2.sum(axis=0, dtype=acc)
    r = rows - rows % k
    out = X2[:r].reshape(-1, k * C).sum(axis=0, dtype=acc).reshape(k, C).sum(axis=0)
    if r < rows:
        out += X2[r:].sum(axis=0, dtype=acc)
    return out


def _input_grad_stride1(dZ, W, g: ConvGeometry, T: int, A_prev=None):
    """Stride 1: dA_prev is the convolution of dZ, zero-padded by
    d*(f-1) less the forward's padding on each side, with the kernel flipped in
    both spatial axes and its channel axes swapped:

        dA_prev[n, y, x, c'] = sum_{i,j,c} dZ_q[n, y + i*d_H, x + j*d_W, c] * W[f_H-1-i, f_W-1-j, c', c]

    A gather, so one more blocked GEMM instead of a scatter-add (col2im), with
    tiles of T columns (:func:`_input_grad_tile`).

    With ``A_prev``, the weight gradient comes from the same unfolded dZ,
    whose row (n, y, x) holds dZ_q[n, y + i*d_H, x + j*d_W, c], which is
    dZ[n, y + top - (f_H-1-i)*d_H, ...]: so

        dW[f_H-1-i, f_W-1-j, c', c] = sum_{n,y,x} A_prev[n, y, x, c'] * dZ_q[n, y + i*d_H, x + j*d_W, c],

    one more GEMM per block, ``cols.T @ A_prev`` (rows of A_prev are rows of
    dA_prev), and no second unfolding of the padded input. In tiles (T > 1)
    a row is T positions, A_prev's rows (n, y, x/T) of T*C' and the product
    the gradient of the banded kernel, folded as the forward's
    (:func:`_fold_tiled`). Returns
    ``(dA_prev, dW, db, a_sums)``: dW None without ``A_prev``; db, the column
    sums of dZ, when the pass took them on its threads (see :func:`_conv_gemm`),
    else None; a_sums, the column sums of A_prev (the product's last row,
    which says whether A_prev is finite: see :func:`_backward_fast`), or None."""
    t, b, l, r = g.pad
    eH, eW = g.d_H * (g.f_H - 1), g.d_W * (g.f_W - 1)
    dZ_c, pad = _crop(dZ, (eH - t, eH - b, eW - l, eW - r))
    W_flip = np.ascontiguousarray(W[::-1, ::-1].transpose(0, 1, 3, 2))  # (f_H, f_W, C, C_prev)
    dA_prev = np.empty(g.in_shape, dtype=dZ.dtype)
    _, G, db = _conv_gemm(dZ_c, _gemm_weights(W_flip, T, 1, g.d_W), g.n_H_prev, g.n_W_prev,
                          (g.f_H, g.f_W), (1, 1), (g.d_H, g.d_W), out2=dA_prev.reshape(-1, T * g.n_C_prev),
                          grad_out2=None if A_prev is None else A_prev.reshape(-1, T * g.n_C_prev), T=T, pad=pad,
                          x_sums=A_prev is not None and dZ_c is dZ)  # all of dZ: its sums are db
    if G is None:
        return dA_prev, None, db, None
    del W_flip  # before dW's copy: the streaming estimate counts what is alive
    # G = [cols | 1].T @ A_prev: rows (i, j, c) in its first K; its last, the
    # column sums of A_prev.
    dW = _fold_tiled(G[:-1], g.f_W, g.n_C, T, 1, g.d_W)[::-1, ::-1].transpose(0, 1, 3, 2)
    return dA_prev, np.ascontiguousarray(dW), db, G[-1]


# col2im adds each kernel offset's share of the product into dA_pad. In
# NHWC those adds run over n_C_prev elements at a time, which with few input
# channels (an RGB stem's 3) is mostly per-run cost; into a channel-first
# dA_pad, (C, samples, H, W), with the product made channel-first too
# (W2 @ dZ.T, rows (i, j, c)), they run along the output columns instead.
# One thread, col2im's time channel-first / NHWC: (16,112,112,3) 7x7 stride 2
# -> 64 0.38x float32, 0.43x float64; (32,32,32,3) 3x3 stride 2 0.36x-0.41x;
# (16,64,64,8) 5x5 0.68x-0.70x; but 16 channels 1.05x-1.07x, 32 (2x2) 1.36x-2.04x,
# 64 1.13x-1.30x (attempt 60).
COL2IM_CHANNEL_FIRST_MAX_C = 8


def _input_grad_col2im(dZ2, W2, g: ConvGeometry):
    """Any stride: dcols = dZ @ W.T, scattered back window by window (col2im);
    overlapping windows add up; channel-first for few input channels
    (COL2IM_CHANNEL_FIRST_MAX_C); in NHWC at a stride above 1, in the dtypes
    of COL2IM_BY_PHASE, by kernel offset and stride phase
    (:func:`_input_grad_col2im_phases`). Blocks of samples write disjoint parts of
    dA_prev, so they run on threads like the other passes, each scattering
    into a padded gradient of its own thread's (a block's, zeroed first)
    and copying it, cropped, into dA_prev last, while it is in cache
    (``np.zeros`` and a cropping copy of the whole after the pass ran on one
    thread over memory: 5.3 of the 53 ms (32, 56, 56, 64) -> 128 stride-2
    float64 col2im, attempt 80; a whole batch's padded gradient held a
    padded copy of dA_prev beside it, attempt 114)."""
    t, _, l, _ = g.pad
    H_pad, W_pad = g.padded_hw
    C, K, P = g.n_C_prev, W2.shape[0], g.n_H * g.n_W
    first = C <= COL2IM_CHANNEL_FIRST_MAX_C
    if not first and dZ2.dtype in COL2IM_BY_PHASE and (g.s_H, g.s_W) != (1, 1):
        return _input_grad_col2im_phases(dZ2, W2, g)
    dA_prev = np.empty(g.in_shape, dtype=dZ2.dtype)
    ys_in, xs_in = slice(t, t + g.n_H_prev), slice(l, l + g.n_W_prev)

    def run(group):
        # One buffer for the group's blocks: a block's product is dead once
        # scattered (a fresh one per block kept two alive at a time); and
        # one padded gradient, a block's, dead once copied into dA_prev
        # (the whole batch's held a padded copy of dA_prev beside it).
        most = max(n1 - n0 for n0, n1, _, _ in group)
        buf = np.empty(most * P * K, dtype=dZ2.dtype)
        dA_pad = np.empty((C, most, H_pad, W_pad) if first else (most, H_pad, W_pad, C), dtype=dZ2.dtype)
        for n0, n1, _, _ in group:
            part = dA_pad[:, :n1 - n0] if first else dA_pad[:n1 - n0]
            part[...] = 0
            rows = (n1 - n0) * P
            if first:
                dcols = buf[:rows * K].reshape(K, rows)
                np.matmul(W2, dZ2[n0 * P:n1 * P].T, out=dcols)  # (K, C_out) @ (C_out, rows)
                dcols = dcols.reshape(g.f_H, g.f_W, C, n1 - n0, g.n_H, g.n_W)
            else:
                dcols = buf[:rows * K].reshape(rows, K)
                _matmul_rows(dZ2[n0 * P:n1 * P], W2.T, dcols)  # (rows, C_out) @ (C_out, K)
                dcols = dcols.reshape(n1 - n0, g.n_H, g.n_W, g.f_H, g.f_W, C)
            for i in range(g.f_H):
                for j in range(g.f_W):
                    hs, ws = i * g.d_H, j * g.d_W
                    ys = slice(hs, hs + g.s_H * (g.n_H - 1) + 1, g.s_H)
                    xs = slice(ws, ws + g.s_W * (g.n_W - 1) + 1, g.s_W)
                    if first:
                        part[:, :, ys, xs] += dcols[i, j]
                    else:
                        part[:, ys, xs, :] += dcols[:, :, :, i, j, :]
            crop = part[:, :, ys_in, xs_in].transpose(1, 2, 3, 0) if first else part[:, ys_in, xs_in, :]
            np.copyto(dA_prev[n0:n1], crop)

    parallel.map_blocks(run, list(_blocks(g.m, 1, P * K * dZ2.dtype.itemsize)))
    return dA_prev


# In NHWC at a stride above 1, each kernel offset's add runs over C_in
# elements at a time on both sides (the product's row holds every offset;
# dA_pad's positions are s_W apart). In float32, the product made one
# kernel offset at a time ((rows, C_out) @ (C_out, C_in), stacked) and
# added into a padded gradient kept by stride phase, (s_H, s_W, H/s_H,
# W/s_W, C_in) a sample, both sides run over n_W*C_in: the pass alone, 2
# threads, alternated 4 rounds, new / old: (32,32,32,16) -> 32 3x3 0.64x,
# (16,32,32,32) -> 64 0.74x, (16,16,16,64) -> 128 0.89x, (32,32,32,32) -> 64
# 2x2 0.63x, (32,56,56,64) -> 128 1.04x; float64 0.93x-0.98x, and at stride
# 1 0.72x-1.32x: not there (benchmarks/README.md, attempts 108 and 111).
# The dtypes it serves (empty: none).
COL2IM_BY_PHASE = (np.dtype(np.float32),)


def phase_extent(n: int, f: int, s: int, d: int, reach: int) -> int:
    """Along one axis, the padded gradient's extent in
    :func:`_input_grad_col2im_phases`: s phases, each as long as the
    scatter's n + d*(f-1)//s positions or the input's ``reach`` (its
    padding before it plus its size: rows past the windows' last one are
    copied out, as zeros), whichever is longer; up to s - 1 more than the
    padded input's (also for memory estimates)."""
    return s * max(n + d * (f - 1) // s, -(-reach // s))


def _input_grad_col2im_phases(dZ2, W2, g: ConvGeometry):
    """:func:`_input_grad_col2im` in NHWC at a stride above 1, by kernel
    offset and stride phase (see the note above). The padded gradient's
    position (y, x) is phase (y % s_H, x % s_W), row y // s_H, column
    x // s_W; offset (i, j) adds to phase (i*d_H % s_H, j*d_W % s_W) from
    row i*d_H // s_H and column j*d_W // s_W on."""
    t, _, l, _ = g.pad
    C, P, F = g.n_C_prev, g.n_H * g.n_W, g.f_H * g.f_W
    s_H, s_W, n_H, n_W = g.s_H, g.s_W, g.n_H, g.n_W
    H_q = phase_extent(n_H, g.f_H, s_H, g.d_H, t + g.n_H_prev) // s_H
    W_q = phase_extent(n_W, g.f_W, s_W, g.d_W, l + g.n_W_prev) // s_W
    W3 = np.ascontiguousarray(W2.reshape(F, C, g.n_C).transpose(0, 2, 1))  # (offsets, C_out, C_in)
    dA_prev = np.empty(g.in_shape, dtype=dZ2.dtype)
    # phase a along H (padded rows y + t = a mod s_H): dA_prev's first row y0 in it, where that row
    # is in the phase, how many rows; the same along W
    rows = [(y0, (y0 + t) // s_H, len(range(y0, g.n_H_prev, s_H))) for y0 in ((a - t) % s_H for a in range(s_H))]
    cols = [(x0, (x0 + l) // s_W, len(range(x0, g.n_W_prev, s_W))) for x0 in ((b - l) % s_W for b in range(s_W))]

    def run(group):
        most = max(n1 - n0 for n0, n1, _, _ in group)
        phases = np.empty((most, s_H, s_W, H_q, W_q, C), dtype=dZ2.dtype)
        buf = np.empty((F, most * P, C), dtype=dZ2.dtype)
        for n0, n1, _, _ in group:
            part = phases[:n1 - n0]
            part[...] = 0
            dcols = buf[:, :(n1 - n0) * P]
            np.matmul(dZ2[n0 * P:n1 * P], W3, out=dcols)  # (rows, C_out) @ (C_out, C_in) per offset
            dcols = dcols.reshape(g.f_H, g.f_W, n1 - n0, n_H, n_W, C)
            for i in range(g.f_H):
                qi, a = divmod(i * g.d_H, s_H)
                for j in range(g.f_W):
                    qj, b = divmod(j * g.d_W, s_W)
                    part[:, a, b, qi:qi + n_H, qj:qj + n_W] += dcols[i, j]
            for a, (y0, qy, ny) in enumerate(rows):
                for b, (x0, qx, nx) in enumerate(cols):
                    if ny and nx:
                        np.copyto(dA_prev[n0:n1, y0::s_H, x0::s_W], part[:, a, b, qy:qy + ny, qx:qx + nx])

    parallel.map_blocks(run, list(_blocks(g.m, 1, P * F * C * dZ2.dtype.itemsize)))
    return dA_prev
