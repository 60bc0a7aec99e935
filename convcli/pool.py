"""2-D pooling (max and average), forward and backward, NHWC, two engines.

Max backward sends each window's gradient to its maximum; ``ties`` says what
happens when a window holds the maximum more than once:

- ``all`` (default): every tied position gets the full gradient, the course's
  ``create_mask_from_window`` (``x == max(x)``);
- ``first``: only the first in row-major window order (PyTorch, cuDNN, Caffe;
  with several NaNs in a window PyTorch's ``max_pool2d`` picks the last);
- ``split``: the tied positions share it equally (``torch.amax``).

Average backward spreads ``dA / (f_H*f_W)`` over the window
(``distribute_value``). Overlapping windows add up.

The fast engine works on cache-sized blocks of samples, on threads. Within a
block each step is one vectorised operation over every sample, output
position and channel in it: the forward and the average's backward in two
separable passes (along W, then along H); max's backward one window offset
at a time, or over overlapping windows, where that makes fewer passes, in
two separable passes too (every ties rule); windows that do not overlap in
one broadcast operation.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import parallel
from .hparams import (
    LayerCache,
    PoolGeometry,
    as_array,
    cache_arrays,
    check_memory,
    with_notebook_keys,
    cache_state,
    check_engine,
    check_not_swapped,
    check_mode,
    check_upstream,
    choice,
    compute_dtype,
    is_int,
    pool_geometry,
    TIE_RULES,
    too_large,
    whole_return_hint,
)


@dataclass
class _PoolState:
    """What pool_forward keeps beside the cache's (A_prev, hparameters), as its .state."""

    geometry: PoolGeometry
    engine: str
    # The fast max forward's window maxima, for its backward: a private copy
    # of the output, which the caller may change in place (an in-place ReLU);
    # None for other modes and engines (backward computes them again).
    A: np.ndarray | None
    mode: str = "max"  # the forward's


def create_mask_from_window(x, ties="all"):
    """Where the gradient of ``max(x)`` goes, as weights over ``x``.

    Parameters
    ----------
    x : ndarray of shape (f_H, f_W)
    ties : {"all", "first", "split"}

    A NaN in the window is its maximum (``np.max`` propagates it, as PyTorch's
    max pooling does), so the NaN positions take the gradient. Several NaNs
    are ties among themselves under the same rule: ``first`` gives it to the
    first NaN, where PyTorch's ``max_pool2d`` gives it to the last one.

    Returns
    -------
    mask : ndarray of shape (f_H, f_W)
        Boolean for ``all`` (``x == max(x)``, the course's mask) and ``first``
        (a single True at the first maximum in row-major order); float for
        ``split`` (``1/k`` at each of the k tied maxima).
    """
    x = as_array(x, "x", None)
    if x.size == 0:
        raise ValueError("x: the window is empty")
    ties = choice(ties, "ties", TIE_RULES)
    mask = np.asarray(_is_max(x, np.max(x)))  # an array for a 0-d x too, NaN or not (NumPy's == gives a scalar)
    if ties == "first":
        first = np.zeros(x.shape, dtype=bool)
        first.flat[np.argmax(mask)] = True
        return first
    if ties == "split":
        return np.asarray(mask / np.count_nonzero(mask))
    return mask


def _is_max(x, m, out=None, has_nan=None):
    """``x == m``, where a NaN maximum is met by the NaNs in the window: np.max
    propagates NaN, so a window holding one has NaN as its maximum, and (as
    in PyTorch) the NaN takes the gradient. ``out``: a boolean array to
    write into; ``has_nan``: whether m holds a NaN, when already known."""
    hit = np.equal(x, m, out=out)
    if np.isnan(m).any() if has_nan is None else has_nan:
        # (arrays, where a 0-d x made NumPy scalars, which take no out=: a review's create_mask_from_window
        # of np.float64("nan") raised a TypeError from inside NumPy)
        hit, nan = np.asarray(hit), np.asarray(np.isnan(x))
        hit |= np.logical_and(nan, np.isnan(m), out=nan)  # two masks alive, not three
    return hit


def distribute_value(dz, shape):
    """Spread ``dz`` evenly over a window of ``shape`` (n_H, n_W): the
    gradient of an average pool's window.

    Parameters
    ----------
    dz : number, or an array holding one number
    shape : (n_H, n_W), two ints >= 1 (a tuple, a list or a 1-D integer array)

    Returns
    -------
    a : ndarray of shape (n_H, n_W), every element ``dz / (n_H * n_W)``, in
        the dtype the layers compute in for dz's (float32 for float32 and
        float16, float64 for float64, long double, an integer or a Python
        number: hparams.compute_dtype).

    Raises
    ------
    ValueError
        For a ``dz`` of more than one number or a bad ``shape``.
    """
    given = shape
    if isinstance(shape, np.ndarray) and shape.ndim == 1:  # np.array([2, 2]) (a learner's review: refused)
        shape = shape.tolist()
    if not (isinstance(shape, (tuple, list)) and len(shape) == 2 and all(map(is_int, shape))):
        raise ValueError(f"shape: expected (n_H, n_W), two ints, got {given!r}")
    n_H, n_W = (int(n) for n in shape)
    if n_H < 1 or n_W < 1:
        raise ValueError(f"shape: both sizes must be >= 1, got {shape!r}")
    dz = as_array(dz, "dz", None)
    if dz.size != 1:
        raise ValueError(f"dz: expected a single value to spread over the window, got shape {dz.shape}")
    dz = dz.reshape(())
    dtype = compute_dtype(dz)
    why = too_large((n_H, n_W), memory=True, itemsize=np.dtype(dtype).itemsize, dtype=str(np.dtype(dtype)))
    if why:  # NumPy's MemoryError or "maximum dimension" named no argument (a review)
        raise ValueError(f"shape: a window of {(n_H, n_W)} is {why}")
    return np.full((n_H, n_W), dz.astype(dtype) / (n_H * n_W), dtype=dtype)


# ----------------------------------------------------------------- public API


def pool_forward(A_prev, hparameters, mode="max", engine="fast"):
    """Forward pass of a pooling layer (no padding).

    Parameters
    ----------
    A_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C)
    hparameters : dict
        ``f`` (int or pair), ``stride`` (int or pair, default ``f``),
        ``ties`` ("all" default, "first", "split": which of a window's equal
        maxima max's backward gives the gradient to; an average pool, and
        this forward, do not use it).
    mode : {"max", "average"}
    engine : {"fast", "reference"}

    Returns
    -------
    A : ndarray of shape (m, n_H, n_W, n_C), ``n_H = floor((n_H_prev - f_H) / s_H) + 1``
    cache : tuple ``(A_prev, hparameters)`` for :func:`pool_backward`, the
        notebook's; ``A_prev`` as computed with (the caller's own if float32
        or float64, else a cast copy: integers in float64, float16 in
        float32); what the engine keeps for the backward is ``cache.state``,
        outside the items; ``hparameters`` a copy of the caller's, with
        ``stride`` set to ``f`` where left out, as the notebook's loops read it.

    Raises
    ------
    ValueError
        Naming the argument and the shapes involved (e.g. an output size
        below 1, a ``pad``: pools have none).
    """
    mode = check_mode(mode)
    engine = check_engine("fast" if engine is None else engine)  # None: the default, as the backward takes it
    A_prev = _as_compute(A_prev)
    g = pool_geometry(A_prev, hparameters)
    check_memory(g.out_shape, A_prev.itemsize,  # (a review: a broadcast A_prev of 512 GiB, f 1: MemoryError)
                 f"output size: A_prev {g.in_shape} with f {(g.f_H, g.f_W)}, stride {(g.s_H, g.s_W)} "
                 f"gives A {g.out_shape}, ")
    maxima = None
    if engine == "reference":
        A = _forward_reference(A_prev, g, mode)
    elif mode == "max":
        A, maxima = _forward_fast(A_prev, g, mode, keep=True)
    else:
        A = _forward_fast(A_prev, g, mode)
    hparameters = with_notebook_keys(hparameters, {"stride": hparameters["f"]} if "f" in hparameters else {})
    return A, LayerCache((A_prev, hparameters), _PoolState(g, engine, maxima, mode))


def pool_backward(dA, cache, mode="max", engine=None):
    """Backward pass of a pooling layer.

    Parameters
    ----------
    dA : ndarray of shape (m, n_H, n_W, n_C), gradient with respect to ``A``
    cache : the cache :func:`pool_forward` returns (its second item), or the
        notebook's own ``(A_prev, hparameters)`` as a tuple or a list
    mode : {"max", "average"}
        Which gradient to compute; ``"max"`` unless given, as in the course's
        ``pool_backward(dA, cache, mode="max")``. **After an average pool,
        pass mode="average"**: the cache does not choose it (the course's
        own test takes both modes' gradients from a max pool's cache), and
        ``mode="max"`` with an average pool's cache gives max pooling's
        gradient with a ``UserWarning``.
    engine : {"fast", "reference"}, optional; defaults to the forward's

    Max's gradient follows the ``ties`` rule of the forward's hparameters
    (default ``"all"``, the course's mask).

    The cache holds ``A_prev`` by reference, as the notebook's does: change
    it in place between the passes and max's gradient is undefined (the
    fast engine finds each window's maximum among the forward's outputs, so
    a changed window may give it to no position at all).

    Returns
    -------
    dA_prev : ndarray, the shape of ``A_prev``

    Raises
    ------
    ValueError
        For a ``dA`` of another shape than the forward's output, or a cache
        that is not ``pool_forward``'s.
    """
    check_not_swapped(dA, cache, "pool_backward", "dA")
    A_prev, hparameters, state = _unpack_cache(cache)
    mode = check_mode(mode)
    # (not the other way: the course's own test cell takes the average gradient of a max pool's cache, which
    # holds all it needs, a learner's review)
    if mode == "max" and state is not None and state.mode == "average":  # the default mode, most likely
        warnings.warn("pool_backward: this cache is an average pool's and mode is 'max' (the default where none is "
                      "given), so this is max pooling's gradient; pass mode='average' for the average pool's",
                      UserWarning, stacklevel=2)
    engine = check_engine(engine if engine is not None else state.engine if state else "fast")
    if state is None:  # a cache built by hand: pool_forward never saw it
        try:
            g = pool_geometry(A_prev, hparameters)
        except ValueError as exc:
            raise ValueError(f"cache: its items do not make a layer as (A_prev, hparameters): {exc}") from None
    else:
        g = state.geometry
    check_memory(g.in_shape, A_prev.itemsize, f"cache: A_prev {g.in_shape}: its gradient dA_prev would be ")
    dA = check_upstream(dA, "dA", g.out_shape).astype(A_prev.dtype, copy=False)
    if engine == "reference":
        return _backward_reference(dA, A_prev, g, mode)
    if mode == "average":
        return _backward_average_fast(dA, g)
    # The forward's maxima, unless it did not keep them (another mode or engine).
    A = state.A if state is not None and state.A is not None else _forward_fast(A_prev, g, "max")
    return _backward_max_fast(dA, A_prev, A, g)


def _as_compute(A_prev):
    A_prev = as_array(A_prev, "A_prev", 4, "(m, n_H_prev, n_W_prev, n_C)")
    return A_prev.astype(compute_dtype(A_prev), copy=False)


def _unpack_cache(cache):
    if isinstance(cache, list):  # the notebook's (A_prev, hparameters) in a list: as good as its tuple
        cache = tuple(cache)
    if not isinstance(cache, tuple) or len(cache) < 2 or not isinstance(cache[1], dict):
        conv = type(getattr(cache, "state", None)).__name__ == "_ConvState"  # (a learner's review)
        raise ValueError(
            "cache: not a pool cache; expected the tuple (A_prev, hparameters) returned by pool_forward"
            + (", got conv_forward's cache: is the gradient for the conv layer (conv_backward)?" if conv else
               whole_return_hint(cache, "pool_backward"))
        )
    A_prev, hparameters = cache[:2]
    if not isinstance(A_prev, np.ndarray):  # the notebook's (A_prev, hparameters), A_prev a list as pool_forward takes
        (A_prev,) = cache_arrays([("A_prev", A_prev)], "(A_prev, hparameters, ...) as returned by pool_forward")
    state = cache_state(cache, 2)
    if state is not None and not isinstance(state, _PoolState):
        raise ValueError("cache: item 3 is not pool_forward's state; was it made by another layer?")
    # In the compute dtype, native, also where the forward's state says it
    # was (a cache whose A_prev was swapped for a big-endian copy gave
    # 2.8e-319 for 0.5: the mask ANDs bits, _take); no copy where it is.
    try:
        A_prev = _as_compute(A_prev)
    except ValueError as exc:  # its item, not the caller's argument (as conv_backward says it; a review)
        raise ValueError(f"cache: its items do not make a layer as (A_prev, hparameters): {exc}") from None
    if state is not None and A_prev.shape != state.geometry.in_shape:
        raise ValueError(
            f"cache: A_prev {A_prev.shape} does not match the state pool_forward "
            "recorded; the cache was altered"
        )
    return A_prev, hparameters, state


# ----------------------------------------------------------------- reference engine


def _forward_reference(A_prev, g: PoolGeometry, mode):
    """The notebook's pool_forward loops: every sample, output row, column
    and channel takes its window's max or mean. ``g`` is the layer's geometry
    (hparams.PoolGeometry: window f_H x f_W, strides s_H, s_W, output shape)."""
    A = np.zeros(g.out_shape, dtype=A_prev.dtype)
    for i in range(g.m):
        for h in range(g.n_H):
            vert_start = h * g.s_H
            vert_end = vert_start + g.f_H
            for w in range(g.n_W):
                horiz_start = w * g.s_W
                horiz_end = horiz_start + g.f_W
                for c in range(g.n_C):
                    a_prev_slice = A_prev[i, vert_start:vert_end, horiz_start:horiz_end, c]
                    if mode == "max":
                        A[i, h, w, c] = np.max(a_prev_slice)
                    else:
                        A[i, h, w, c] = np.mean(a_prev_slice)
    return A


def _backward_reference(dA, A_prev, g: PoolGeometry, mode):
    """The notebook's pool_backward loops: a max window sends its gradient
    where create_mask_from_window says (the ``ties`` rule), an average window
    spreads it evenly (distribute_value); overlapping windows add up."""
    dA_prev = np.zeros(A_prev.shape, dtype=dA.dtype)
    for i in range(g.m):
        a_prev = A_prev[i]
        for h in range(g.n_H):
            vert_start = h * g.s_H
            vert_end = vert_start + g.f_H
            for w in range(g.n_W):
                horiz_start = w * g.s_W
                horiz_end = horiz_start + g.f_W
                for c in range(g.n_C):
                    if mode == "max":
                        a_prev_slice = a_prev[vert_start:vert_end, horiz_start:horiz_end, c]
                        mask = create_mask_from_window(a_prev_slice, g.ties)
                        da = dA[i, h, w, c]
                        if np.isfinite(da):
                            share = mask * da
                        else:  # only where the mask is: its zeros times inf are NaN
                            with np.errstate(invalid="ignore"):
                                share = np.where(mask != 0, mask * da, 0)
                        dA_prev[i, vert_start:vert_end, horiz_start:horiz_end, c] += share
                    else:
                        da = dA[i, h, w, c]
                        shape = (g.f_H, g.f_W)
                        dA_prev[i, vert_start:vert_end, horiz_start:horiz_end, c] += distribute_value(da, shape)
    return dA_prev


# ----------------------------------------------------------------- fast engine

# Bytes of input per block in the fast engine: every pass over a block (one
# per window offset) then runs in cache instead of streaming from memory.
# 1 MiB against the first 512 KiB (not swept then), fwd+bwd on (64, 32, 32,
# 32), alternating in one process, on an Intel Xeon with 2 MiB of L2 a core:
# f 2 stride 2 0.76x-0.86x the time in both modes and dtypes (half the
# blocks, each pass's fixed costs halved), f 3 stride 1 0.98x-1.01x
# (benchmarks/README.md, attempt 70).
CHUNK_BYTES = 1 << 20
# The block-sized arrays a thread may hold beside the block's input and
# gradient in any pass, for the streaming estimate. The most is the
# separable max backward's: the row segments' maxima, their gradient and a
# product, a mask, with ties: first what each segment gave out, and with a
# NaN in the input two masks of NaNs: 4 in float32 (a boolean is a quarter
# of a float32), 3.5 in float64; and NumPy's buffers for strided operands
# beside them (33-100 KB a call; a review measured 4.0x of a block in all,
# 5.6 KB over four). One more for those, and for ties: split's windows'
# counts (output-sized; 4.7 measured in float32 with a NaN).
SCRATCH_BLOCKS = 5


def _offsets(g: PoolGeometry):
    """For each window offset: the strided slice of A_prev it meets across all
    output positions (distinct positions, so ``+=`` on it is safe)."""
    for rw in _offset_slices(g.f_H, g.s_H, g.n_H):
        for c in _offset_slices(g.f_W, g.s_W, g.n_W):
            yield (slice(None), rw, c)


def block_samples(sample_bytes: int) -> int:
    """Samples per block of the fast engine, for samples of ``sample_bytes``
    of input: as many as fit CHUNK_BYTES, at least one."""
    return max(1, CHUNK_BYTES // max(sample_bytes, 1))


def _blocks(g: PoolGeometry, itemsize: int, work: int | None = None):
    """Blocks of at most :func:`block_samples` samples, shared out evenly
    between the threads (:func:`parallel.sample_runs`). ``work``: the
    elements a channel of a sample that the pass's operations go over, if
    fewer than the input's: then blocks of up to CHUNK_BYTES of those, as
    long as every thread keeps two blocks (see :func:`_backward_max_fast`)."""
    step = block_samples(g.n_H_prev * g.n_W_prev * g.n_C * itemsize)
    # Grown by work, to m // (2 threads) samples a block at most: never on
    # fewer threads than the blocks of input (the larger of the two steps
    # stands).
    if work is not None:
        step = max(step, min(block_samples(work * g.n_C * itemsize), max(1, g.m // (2 * parallel.threads()))))
    for n0, n1 in parallel.sample_runs(g.m, step):
        yield slice(n0, n1)


def _each_block(g: PoolGeometry, itemsize: int, body, work: int | None = None) -> None:
    """``body(samples)`` for every block of samples. Blocks share nothing
    but read-only inputs, so they run on threads (convcli.parallel)."""
    parallel.map_blocks(lambda group: [body(n) for n in group], list(_blocks(g, itemsize, work)))


# The forward's first pass goes over the whole input, the second over what it
# left. Along H, a pass's terms are whole input rows (W*C elements at a
# time); along W at a stride above 1, runs of C elements at a stride, for
# which NumPy's loops cost per run. So at a stride above 1 along H, the pass
# along H goes first and leaves the one along W a fraction 1/s_H of the
# input. One thread, the whole batch, (m, H=W, C) (f_H, f_W) (s_H, s_W), H
# first / W first, float64 / float32: (64,32,32) (2,2) (2,2) 0.78x / 0.93x,
# (3,3) (2,2) 0.65x-0.82x / 0.56x-0.72x, (3,3) (3,3) 0.39x / 0.71x, (2,2)
# (2,1) 0.68x / 0.71x; (16,56,64) (2,2) (2,2) 0.63x / 0.72x; (16,112,64)
# (3,3) (2,2) 0.70x / 0.75x; (64,28,8) 0.73x / 0.61x; (64,24,3) 0.62x /
# 0.68x. But at stride 1 along H 1.13x-1.36x with s_W 2, and 0.95x / 1.19x
# with s_W 1: W first there (benchmarks/README.md, attempt 107). Max is
# exact in any order; the average's sum of a window is reordered (within
# rounding of the reference's, as before).


def _forward_fast(A_prev, g: PoolGeometry, mode, keep=False):
    """Separable: reduce along W for every input row, then along H (at a
    stride above 1 along H, along H first: see the note above).
    f_W + f_H - 2 passes instead of f_H*f_W - 1. Max is exact in any order;
    the average's sum is reordered (within rounding of the reference's).
    With ``keep``, returns ``(A, kept)``: ``kept`` a private copy of A for
    the cache (see :class:`_PoolState`), made block by block on the threads
    while the block is in cache (``A.copy()`` after the pass: a single-threaded
    read of A back from memory, 1.04 of the 3.7 ms f3 s1 float64 forward of
    (64, 32, 32, 32); attempt 79)."""
    A = np.empty(g.out_shape, dtype=A_prev.dtype)
    kept = np.empty_like(A) if keep else None
    combine = np.maximum if mode == "max" else np.add

    def along_H(x):
        return [x[:, rw] for rw in _offset_slices(g.f_H, g.s_H, g.n_H)]

    def along_W(x):
        return [x[:, :, c] for c in _offset_slices(g.f_W, g.s_W, g.n_W)]

    h_first = g.s_H > 1  # (the note above)
    # Along H first, over the input columns a window meets only (an engineer's review: an inf and a -inf in a
    # column no window takes made the average's first pass warn "invalid value", for an output free of NaN):
    # up to the last window's edge; where windows leave gaps between them, a view of their columns, (n_W, f_W)
    # (shorter runs: 1.4x the time of all the columns for f 2 stride 3 of 16 float32 channels)
    apart_W = g.s_W > g.f_W
    reach = (g.n_W - 1) * g.s_W + g.f_W
    if h_first:
        r_hw = (g.n_H, g.n_W, g.f_W) if apart_W else (g.n_H, reach)
    else:
        r_hw = (g.n_H_prev, g.n_W)

    def block(n):
        a, out = A_prev[n], A[n]
        r = np.empty((a.shape[0], *r_hw, g.n_C), dtype=A_prev.dtype)
        if not h_first:
            _reduce(combine, along_W(a), r)
            _reduce(combine, along_H(r), out)
        elif apart_W:
            sn, sh, sw, sc = a.strides
            met = as_strided(a, (a.shape[0], a.shape[1], g.n_W, g.f_W, g.n_C), (sn, sh, sw * g.s_W, sw, sc))
            _reduce(combine, along_H(met), r)
            _reduce(combine, [r[:, :, :, j] for j in range(g.f_W)], out)
        else:
            _reduce(combine, along_H(a[:, :, :reach]), r)
            _reduce(combine, along_W(r), out)
        if mode == "average":
            _divide(out, g.f_H * g.f_W, out)
        if keep:
            np.copyto(kept[n], out)

    _each_block(g, A_prev.itemsize, block)
    return (A, kept) if keep else A


def _offset_slices(f: int, s: int, n: int) -> list:
    """Along one axis, for each of the f window offsets: the slice of the
    input it meets across the n output positions at stride s."""
    return [slice(k, k + s * (n - 1) + 1, s) for k in range(f)]


def _reduce(combine, terms, out) -> None:
    """``out = combine(...combine(terms[0], terms[1])..., terms[-1])``: the
    first two combined straight into ``out``, not copied there first (a pass
    over the block fewer; the same numbers, in the same order)."""
    if len(terms) == 1:
        np.copyto(out, terms[0])
        return
    combine(terms[0], terms[1], out=out)
    for t in terms[2:]:
        combine(out, t, out=out)


def _divide(x, count: int, out=None):
    """``x / count``; by a power of two as a multiplication by its (exact)
    reciprocal, the same numbers at several times the speed."""
    if count & (count - 1) == 0:
        return np.multiply(x, 1.0 / count, out=out)
    return np.divide(x, count, out=out)


def _tiles(X, g: PoolGeometry):
    """For windows that do not overlap (stride >= f): a 6-D view
    ``T[n, h, i, w, j, c] = X[n, h*s_H + i, w*s_W + j, c]``, so one broadcast
    operation covers every window. Each element of X appears at most once, so
    writing through the view is safe."""
    sn, sh, sw, sc = X.strides
    return as_strided(X, (X.shape[0], g.n_H, g.f_H, g.n_W, g.f_W, g.n_C),
                      (sn, sh * g.s_H, sh, sw * g.s_W, sw, sc))


def _apart(g: PoolGeometry) -> bool:
    return g.s_H >= g.f_H and g.s_W >= g.f_W


def _covered(g: PoolGeometry) -> bool:
    """Whether the windows tile the input exactly: every element in one
    window, so a gradient written window by window leaves nothing unset."""
    return ((g.s_H, g.s_W) == (g.f_H, g.f_W)
            and (g.n_H * g.f_H, g.n_W * g.f_W) == (g.n_H_prev, g.n_W_prev))


def _gradient_buffer(g: PoolGeometry, dtype):
    """dA_prev, uninitialised: each block zeroes its own samples on its thread
    where a pass adds up or leaves elements unset (:func:`_zeroed`, or only
    what lies past the first offset: :func:`_place`). np.zeros
    wrote all of it on one thread first: a memset of the whole input whenever
    malloc reused memory (~1 ms of the 2 ms f2s2 average pool, attempt 44)."""
    return np.empty(g.in_shape, dtype=dtype)


def _zeroed(da, g: PoolGeometry) -> None:
    """``da``, a block of the buffer of :func:`_gradient_buffer`, before a
    pass over windows that do not overlap: zeroed unless the windows cover
    every element of it."""
    if not _covered(g):
        da[...] = 0


def _spread(x):
    """(n, n_H, n_W, C) -> broadcastable against _tiles: (n, n_H, 1, n_W, 1, C)."""
    return x[:, :, None, :, None, :]


def _backward_average_fast(dA, g: PoolGeometry):
    dA_prev = _gradient_buffer(g, dA.dtype)
    count = g.f_H * g.f_W

    def block(n):
        da = dA_prev[n]
        if _apart(g):  # each window's share written once
            _zeroed(da, g)
            _no_negative_zero(_spread(_divide(dA[n], count)), out=_tiles(da, g))
            return
        d = _divide(dA[n], count)
        _no_negative_zero(d, out=d)
        # Separable, as the forward: spread along H into every output
        # column's input rows, then along W. f_H + f_W passes, not f_H*f_W.
        cols = np.empty((da.shape[0], g.n_H_prev, g.n_W, g.n_C), dtype=dA.dtype)
        _place(cols, _offset_slices(g.f_H, g.s_H, g.n_H), d)
        _place(da, _offset_slices(g.f_W, g.s_W, g.n_W), cols, axis=2)

    _each_block(g, dA.itemsize, block)
    return dA_prev


def _first_only(hit, g: PoolGeometry) -> None:
    """``hit`` (n, n_H, f_H, n_W, f_W, C), where each window's elements equal
    its maximum, cut in place to the first of them in row-major window
    order: f_H*f_W passes over one byte an element (before, each window
    offset's compare, multiply and add over the values: 3.3x the time of
    ties: all's one pass, attempt 64)."""
    taken = np.zeros(hit.shape[:2] + hit.shape[3:4] + hit.shape[5:], dtype=bool)
    for i in range(g.f_H):
        for j in range(g.f_W):
            _keep_first(hit[:, :, i, :, j, :], taken)


def _keep_first(hit, taken) -> None:
    """``hit`` (one offset's maxima) cut in place to those with no maximum
    before them, where ``taken`` (what the offsets before took) is False;
    then ``taken`` takes them. Two passes over one byte an element."""
    np.greater(hit, taken, out=hit)  # hit and not taken
    np.logical_or(taken, hit, out=taken)


def _backward_max_fast(dA, A_prev, A, g: PoolGeometry):
    """Each window offset in turn: where the input equals the window's maximum,
    the window's gradient goes. Compare, mask (:func:`_take`), add: measured
    2-3x faster at full size than a masked ``np.add(..., where=)`` (4x on a
    block of f 3 stride 1 with a third of its elements taken, NumPy 2.4;
    attempts 67 and 87). Windows that do not overlap take one broadcast
    pass instead (every ties rule: first's mask cut by
    :func:`_first_only`); overlapping windows go in f_H + f_W offsets
    instead of f_H*f_W where that makes fewer passes over memory
    (:func:`_max_block_separable`, every ties rule).

    Over overlapping windows every operation goes over the output (or the
    row segments), at a stride above 1 (or a window large against the
    input) a fraction of the input: the blocks are sized by those
    (CHUNK_BYTES of them, not of input), no more than give each thread
    two. Each NumPy call takes the GIL back when it ends, and a thread that
    waits for it sleeps: many small calls on two threads ran little faster
    than on one (attempt 89: f 3 stride 2 on (64, 32, 32, 32) float64,
    0.83x the time; f 4 stride 2 separable 0.88x)."""
    dA_prev = _gradient_buffer(g, dA.dtype)
    _each_block(g, dA.itemsize, lambda n: _max_block(A_prev[n], A[n], dA[n], dA_prev[n], g), _max_work(g))
    return dA_prev


def _max_path(g: PoolGeometry) -> str:
    """How the max backward goes over a block: ``"apart"`` (windows that do
    not overlap, one broadcast compare), ``"separable"``
    (:func:`_max_block_separable`) or ``"offsets"`` (one window offset at a
    time). Both its blocks (:func:`_max_work`) and each block's pass
    (:func:`_max_block`) follow it."""
    if _apart(g):
        return "apart"
    return "separable" if _separable_pays(g) else "offsets"


def _max_work(g: PoolGeometry) -> int | None:
    """What the max backward's operations go over, in elements a channel of
    a sample (for :func:`_blocks`): the whole input where windows do not
    overlap (one compare over it), else the row segments (separable) or
    the output (one offset at a time)."""
    return {"apart": None, "separable": g.n_H_prev * g.n_W, "offsets": g.n_H * g.n_W}[_max_path(g)]


def _bits(x):
    """``x``'s bits, as signed integers of its width (a view)."""
    return x.view(np.dtype(f"i{x.dtype.itemsize}"))


def _take(hit, d, out) -> None:
    """``out = d`` where ``hit``, +0 elsewhere, bit for bit: ``hit``'s bytes
    made 0 / -1 (every bit set) in place, sign-extended to ``d``'s width and
    ANDed with its bits (``d`` and ``out`` of one dtype, as the callers'
    are: the compute dtype, native). ``hit``'s bytes are no longer valid
    booleans afterwards. Against ``hit * d``: no -0 where nothing is
    taken (0 times a negative), an infinity or NaN of ``d`` goes where
    ``hit`` is only (0 times it is NaN: PyTorch's max_pool2d gives the rest
    0), with no slower path for them, and a little faster (the
    bool-to-float cast of the product: f 2 stride 2, 4 samples of (32, 32,
    32) float64, 99 against 105 us)."""
    assert d.dtype == out.dtype, (d.dtype, out.dtype)
    mask = hit.view(np.int8)
    np.negative(mask, out=mask)
    np.bitwise_and(mask, _bits(d), out=_bits(out))


def _no_negative_zero(d, out=None):
    """``d`` with -0 made +0, every other value the same bits (a NaN too). A
    pass that writes a term straight into the gradient, not 0 + term, takes
    it: the reference's 0 + -0 is 0."""
    return np.add(d, 0.0, out=out)


def _max_block(a, out, d, da, g: PoolGeometry) -> None:
    """Max backward on one block: ``da`` (uninitialised, see
    :func:`_gradient_buffer`) receives the gradient ``d``."""
    # np.maximum propagates NaN: where a window's maximum is NaN, its
    # NaNs are the maxima (the reference's create_mask_from_window too).
    has_nan = bool(np.isnan(out).any())
    path = _max_path(g)
    if path == "apart":
        _zeroed(da, g)
        hit = _is_max(_tiles(a, g), _spread(out), has_nan=has_nan)
        if g.ties == "split":
            d = d / hit.sum(axis=(2, 4), dtype=d.dtype)  # int64 counts made a float64 quotient (scratch)
            _no_negative_zero(d, out=d)  # after the quotient: a tiny negative over a count can round to -0
        else:
            d = _no_negative_zero(d)
            if g.ties == "first":
                _first_only(hit, g)
        _take(hit, _spread(d), _tiles(da, g))
        return
    if path == "separable":
        _max_block_separable(a, out, d, da, g, has_nan)
        return
    hit = np.empty(out.shape, dtype=bool)
    part = np.empty(out.shape, dtype=d.dtype)

    def is_max(window):
        return _is_max(a[window], out, hit, has_nan)

    if g.ties == "split":
        count = np.zeros(out.shape, dtype=d.dtype)
        for window in _offsets(g):
            count += is_max(window)
        d = np.divide(d, count, out=count)
    # Its first offset of each stride phase writes the gradient straight into
    # da (as _place does), so d is to hold no -0.
    d = _no_negative_zero(d, out=d if g.ties == "split" else None)
    # first: the windows whose gradient a maximum has taken (two byte
    # operations an offset, where zeroing the taken part of a copy of d took
    # two over its values)
    taken = np.zeros(out.shape, dtype=bool) if g.ties == "first" else None
    phases = set()
    for window in _offsets(g):
        hit = is_max(window)
        if taken is not None:
            _keep_first(hit, taken)
        phase = (window[1].start % g.s_H, window[2].start % g.s_W)
        if phase in phases:
            _take(hit, d, part)
            da[window] += part
            continue
        phases.add(phase)
        lane = _lane(da, g, phase)  # its first offset reaches lane[:, :n_H, :n_W]
        lane[:, g.n_H:] = 0
        lane[:, :g.n_H, g.n_W:] = 0
        _take(hit, d, da[window])
    for phase in set(itertools.product(range(g.s_H), range(g.s_W))) - phases:  # s > f: gaps
        _lane(da, g, phase)[...] = 0


def _lane(da, g: PoolGeometry, phase):
    """The positions of ``da`` in one stride phase (ph_H, ph_W): rows ph_H,
    ph_H + s_H, ..., columns likewise. The window offsets (i, j) of that
    phase, and only they, reach them: (ph_H, ph_W) its first n_H x n_W."""
    return da[:, phase[0]::g.s_H, phase[1]::g.s_W]


def _place(dst, slices, term, scratch=None, axis=1) -> None:
    """``dst`` (uninitialised) = the sum over the offsets' ``slices`` (along
    ``axis``) of their terms: ``term(slice, into)`` writes one into ``into``
    (``scratch`` but for the first of a phase), or ``term`` is an array,
    every offset's. By stride phase: the positions ph, ph + s, ... of
    ``dst`` take the offsets ph, ph + s, ... only, so the first offset of
    each phase goes straight into its positions and only what lies past
    it (and a phase no offset reaches, where s > f) is zeroed; the others
    add, in the offsets' order (the sums' order of zeroing and adding
    every one). No zeroing pass over ``dst`` and an add fewer a phase (at
    stride 1, one phase: the first offset; attempt 94). A first term's -0
    stays -0 (where 0 + -0 is 0), so a gradient placed so takes terms with
    no -0: from a gradient made free of them (:func:`_no_negative_zero`;
    :func:`_take` passes its values through, and makes +0 only where it
    takes nothing)."""
    def at(sl):
        return (slice(None),) * axis + (sl,)

    fixed = isinstance(term, np.ndarray)
    s = slices[0].step
    phases = set()
    for sl in slices:  # in order: a term may depend on the ones before (ties: first)
        if sl.start % s in phases:
            if not fixed:
                term(sl, scratch)
            dst[at(sl)] += term if fixed else scratch
            continue
        phases.add(sl.start % s)
        dst[at(slice(sl.stop - 1 + s, None, s))] = 0  # the phase's positions past its first offset's last
        np.copyto(dst[at(sl)], term) if fixed else term(sl, dst[at(sl)])
    for ph in set(range(s)) - phases:  # s > f: positions no window reaches
        dst[at(slice(ph, None, s))] = 0


def _window_counts(a, r, out, g: PoolGeometry, has_nan: bool, cols, rows, hit, counts, scratch):
    """Each window's count of maxima (output-sized, a new array) for
    :func:`_max_block_separable`'s ``split``: ``counts`` (the segments'
    gradient's buffer, unwritten until then) first takes each segment's count
    of maxima, f_W compares; then each window sums those of its segments
    whose maximum is its own, f_H offsets (``hit``'s first rows and
    ``scratch`` the masks and terms)."""
    for k, c in enumerate(cols):
        h = _is_max(a[:, :, c], r, hit, has_nan)
        np.copyto(counts, h) if k == 0 else np.add(counts, h, out=counts)
    window = np.empty(out.shape, dtype=counts.dtype)
    hit_out = hit[:, :g.n_H]
    for k, rw in enumerate(rows):  # each window's row of segments at offset k
        _take(_is_max(r[:, rw], out, hit_out, has_nan), counts[:, rw], window if k == 0 else scratch)
        if k:
            window += scratch
    return window


def _separable_pays(g: PoolGeometry) -> bool:
    """Whether :func:`_max_block_separable` makes fewer passes over memory
    than one offset at a time, counted in elements of one channel of a
    sample: 3 (compare, mask, add) a window offset over the output, f_H*f_W
    of them, and a zeroing of the input (a write only: half a pass);
    against 3 an offset over the output for f_H offsets less the first's
    add, plus the upstream gradient's copy, then 3 over the row segments'
    maxima (n_H_prev rows of n_W) for f_W less one add, and f_W - 1 to find
    those maxima. (At a stride above 1, where the first offset is added
    too, the count is a little low.) Measured on (64, 32, 32, 32) float64,
    one offset at a time / separable, on 2 threads (attempt 87): f 3 stride
    1 23.2 / 16.1 ms, f 4 stride 1 36.0 / 19.0, f 5 stride 1 49.7 / 22.9,
    f 2 stride 1 12.5 / 11.0, f 4 stride 2 14.3 / 12.2; f 3 stride 2, where
    the segments are twice the output, 8.5 / 9.3 (counted 6587 against
    6825). ``ties: first`` takes the same rule: two byte operations more
    an offset either way; measured, it picks the faster in the same six
    geometries (attempts 90-91; f 4 stride 2 a tie in float64). ``split``
    counts its maxima first, the passes that costs each way added: one
    offset at a time f 2 stride 1 16.5 against 17.8 ms, f 3 stride 2 10.2
    / 12.7; separable f 3 stride 1 24.9 / 32.6, f 4 stride 2 32.2 / 35.8
    (attempt 93). The count is of the passes before the stride phases
    (attempt 94: neither way zeroes its gradient now, and each writes the
    first offset of every stride phase straight into it), which took from
    both ways alike; measured again after them, float64, one offset at a
    time / separable: f 3 stride 2 5.8 / 6.9 ms, ``first`` 6.1 / 7.3,
    ``split`` 9.2 / 11.2; f 4 stride 2 10.7 / 9.3, ``first`` 11.9 / 10.2;
    f 2 stride 1 10.7 / 10.3, ``split`` 15.7 / 17.4: it still picks the
    faster (f 2 stride 1 float32: a tie)."""
    out, segments = g.n_H * g.n_W, g.n_H_prev * g.n_W
    per_offset = 3 * g.f_H * g.f_W * out + g.n_H_prev * g.n_W_prev / 2
    separable = 3 * g.f_H * out + (4 * g.f_W - 2) * segments
    if g.ties == "split":  # counting the maxima first: a compare and an add an offset, and the division
        per_offset += 2 * g.f_H * g.f_W * out + out
        separable += 2 * g.f_W * segments + 3 * g.f_H * out + 2 * out
    return separable < per_offset


def _max_block_separable(a, out, d, da, g: PoolGeometry, has_nan: bool) -> None:
    """Max backward over overlapping windows, any ties rule, in the
    forward's two separable passes: f_H + f_W window
    offsets instead of f_H*f_W. With r the maxima of each input row's
    f_W-element segments (the forward's first pass), a <= r <= out, so an
    element equals its window's maximum exactly when it equals its
    segment's maximum and that segment's maximum equals the window's: the
    gradient goes first to the segments (``gr``: over H, f_H offsets), then
    from each segment to its elements (over W, f_W offsets). The same terms
    as one offset at a time over the window, summed in another order.

    ``first``: a window's first maximum in row-major order lies in its
    first row whose segment's maximum is the window's, at that segment's
    first maximum. So each window gives its gradient to the first such
    segment only (offsets over H in order, each window's taken ones
    masked out), and each segment to its first maximum (the same over W):
    whichever windows a segment took gradient from, that element is each
    one's first maximum.

    ``split``: a window's maxima are the maxima of its segments whose
    maximum is the window's, so their count is the sum over those segments
    of each one's count of maxima (counted first, f_W offsets, then summed
    over H, f_H); each window's share, its gradient over that count, then
    goes as ``all``'s gradient does."""
    cols, rows = _offset_slices(g.f_W, g.s_W, g.n_W), _offset_slices(g.f_H, g.s_H, g.n_H)
    r = np.empty((a.shape[0], g.n_H_prev, g.n_W, g.n_C), dtype=a.dtype)
    _reduce(np.maximum, [a[:, :, c] for c in cols], r)
    # The first pass's d, no -0, lives in da (contiguous, at least as large,
    # unwritten until the second pass), not an array of its own.
    d = _no_negative_zero(d, out=da.reshape(-1)[:d.size].reshape(d.shape))

    gr = np.empty_like(r)
    # One mask and one product, the segments' size, for both passes (the
    # first's output-sized ones are views of their first n_H rows): with r
    # and gr, and first's taken, the arrays pool.SCRATCH_BLOCKS counts, none
    # freed and made again.
    hit = np.empty(r.shape, dtype=bool)
    part = np.empty(r.shape, dtype=d.dtype)
    hit_out, part_out = hit[:, :g.n_H], part[:, :g.n_H]
    # first: what each window (then each segment) has given out already
    taken = np.zeros(r.shape, dtype=bool) if g.ties == "first" else None

    def term(x, m, hit, taken):
        hit = _is_max(x, m, hit, has_nan)
        if taken is not None:
            _keep_first(hit, taken)
        return hit

    taken_out = None if taken is None else taken[:, :g.n_H]
    if g.ties == "split":  # each window's share, in place of its count (one output-sized array more)
        counts = _window_counts(a, r, out, g, has_nan, cols, rows, hit, gr, part_out)
        d = np.divide(d, counts, out=counts)
        _no_negative_zero(d, out=d)  # a tiny negative over a count can round to -0
    _place(gr, rows, lambda rw, into: _take(term(r[:, rw], out, hit_out, taken_out), d, into), part_out)
    if taken is not None:
        taken[...] = False
    _place(da, cols, lambda c, into: _take(term(a[:, :, c], r, hit, taken), gr, into), part, axis=2)
