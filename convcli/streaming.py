"""Streaming a batch too large for ``--memory-budget`` in chunks of samples.

``forward`` and ``backward`` run in memory when the whole run fits the budget.
When it does not, the first layer's input (``A_prev``, or its ``input:``) is
read a chunk of samples at a time (:class:`~convcli.arrays.Rows`), every
layer runs on the chunk, and each batch-shaped quantity (the input, every
layer's output, the upstream gradient, every ``dA_prev``) is written into
its place in the output files and dropped; ``dW`` and ``db`` add up over the
chunks in float64, rounded to the config's dtype once at the end. Parameters
and any other input are read whole.

The results are an in-memory run's: the same numbers for every input and
upstream gradient (a ``random`` one included: its chunks come from the
config's one ``RandomState`` in row order), the same outputs, and ``dW``/``db``
equal up to the rounding of summing per chunk.

How big a chunk: :func:`estimate` adds up, per sample, what a chunk holds at
its fullest (the input as read and cast, every layer output the backward pass
needs, the upstream gradient, a layer's gradients and its scratch arrays:
padded copies, masks), plus what does not grow with the chunk (parameters,
``dW``/``db``, the fast engine's few-MiB blocks, I/O and statistics buffers,
HDF5's chunk cache for an ``.h5`` source stored in compressed chunks).
``tests/test_streaming.py`` checks this against tracemalloc's peak.

Data flows as everywhere else: plan (the chunk size is known before any data
is read) -> arrays -> network -> outputs.
"""

from __future__ import annotations

import math
import os
import shlex
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import arrays, parallel
from . import conv as conv_engine
from . import pool as pool_engine
from .config import Source
from .errors import ConvcliError, printable
from .network import LayerError
from .outputs import H5_NAME, H5Output, write_quantity, writing
from .stats import STATS_BLOCK, RunningStats

# A chunk's working memory is at most this, however large the budget: chunks
# of 4 to 256 MiB ran at the same speed per sample within noise, 16 MiB at or
# near the best in every sweep, and 1 MiB ones ~1.4x slower (per-chunk costs;
# benchmarks/streaming.py, part 3). A larger chunk would only raise the peak.
CHUNK_TARGET = 16 << 20
# Buffers that do not grow with the chunk: statistics blocks, the random
# generator's skip blocks, a zip member's reads (arrays.READ_PIECE), HDF5's
# chunk cache and sieve buffers.
IO_BUFFERS = 8 << 20


# ----------------------------------------------------------------- the estimate


@dataclass(frozen=True)
class Estimate:
    """Working memory in bytes: ``resident + fixed + m * per_sample`` for a
    chunk of ``m`` samples, plus what the conv layers' caches keep; ``whole``
    per sample for an in-memory run."""

    per_sample: int
    whole: int
    fixed: int
    resident: int
    # Per conv layer (its forward block, its unfolded input per sample): a
    # cache keeps the unfolded chunk when one block holds it, so at most the
    # smaller of the two (a fixed block per layer counted 3 MiB for each of
    # 300 tiny layers and refused a run of kilobytes).
    kept: tuple[tuple[int, int], ...] = ()
    # Per fast pool layer (samples per block, bytes of input per sample): a
    # pass's scratch, pool.SCRATCH_BLOCKS arrays of a block's size on each
    # thread that runs it, as many as m samples' blocks run on (counted for
    # every configured thread, CONVCLI_THREADS=40 refused a stream of
    # 6-block chunks; from the blocks the engine makes, parallel.sample_runs,
    # which may be more than m / step: more threads).
    pool: tuple[tuple[int, int], ...] = ()
    # Of resident: the inputs held whole beside the streamed batch (name, bytes), largest first, and the
    # batch itself where the config writes it out (value:); the rest is the conv layers' weights and
    # their gradients' sums (for the errors that say what resident holds).
    held: tuple[tuple[str, int], ...] = ()
    value: int = 0

    def kept_bytes(self, m: int) -> int:
        return sum(min(block, m * unfolded) for block, unfolded in self.kept)

    def pool_bytes(self, m: int) -> int:
        # A max backward whose operations go over less than the input (the
        # output or the row segments of overlapping windows, mostly at a
        # stride above 1) takes blocks of up to CHUNK_BYTES of those, which
        # may hold more samples than step, no more than give each thread two:
        # on at most as many threads, each holding SCRATCH_BLOCKS arrays of
        # at most CHUNK_BYTES (or of the whole chunk's input, if smaller).
        # Counted for every fast pool layer: safe, if loose, for those whose
        # blocks do not grow (average pools, windows apart).
        return max([0] + [_engine_threads(_sample_blocks(m, step)) * pool_engine.SCRATCH_BLOCKS
                          * max(min(step, m) * sample, min(pool_engine.CHUNK_BYTES, m * sample))
                          for step, sample in self.pool])

    def chunk(self, m: int) -> int:
        return self.resident + self.fixed + m * self.per_sample + self.kept_bytes(m) + self.pool_bytes(m)

    def in_memory(self, m: int) -> int:
        return self.resident + self.fixed + m * self.whole + self.kept_bytes(m) + self.pool_bytes(m)


def _per_sample(shape) -> int:
    return math.prod(shape[1:])


def _load_bytes(src, stored: np.dtype, e: int, s: int, nonfinite: bool) -> int:
    """Bytes per sample of reading ``e`` elements of ``src`` as a chunk:
    the stored rows, the cast copy, the finite check's mask."""
    mask = 0 if nonfinite else e
    kind = src.kind
    if kind == "value":
        return e * s + mask  # a scaled copy of the rows of the whole
    raw = 8 if kind == "random" else s if kind in ("zeros", "ones") else stored.itemsize
    cast = 0 if (kind == "random" and s == 8) or kind in ("zeros", "ones") or stored == np.dtype(f"f{s}") else s
    return e * (raw + cast) + mask


def _conv_terms(ls, s: int, engine: str, backward: bool = True):
    """A conv layer's scratch arrays: per sample, (forward, backward: a
    padded input, a padded gradient); (the forward's block buffer and its
    unfolded input per sample: its cache keeps the smaller of the block and
    a chunk's unfolding); fixed, (the largest block buffer of a pass that unfolds
    into a thread's kept scratch; the col2im pass's block, which does not;
    what one engine thread holds while it sums the weight gradient,
    conv.grad_sum_bytes, over the forward's unfolded input or at stride 1
    over dZ's, whose rows hold n_C channels and whose gradient has C columns;
    or by rows, conv.rows_bytes).
    The reference engine's loops have no blocks, but its backward holds the
    padded input and the padded gradient at once (conv._backward_reference),
    and its weight gradient's sums are three W-sized arrays. Last, the bytes
    the layer's whole batch unfolds to (its widest pass), which no block
    exceeds: the block terms above are capped at it (a small layer's one
    block), and it bounds how many blocks, so threads, a pass has."""
    _, H, W, C = ls.in_shape
    _, n_H, n_W, n_C = ls.out_shape
    (f_H, f_W), (s_H, s_W) = ls.hyper["f"], ls.hyper["stride"]
    t, b, l, r = ls.hyper["pad"]
    d_H, d_W = ls.hyper["dilation"]
    K = f_H * f_W * C
    dtype = np.dtype(f"f{s}")
    padded = (H + t + b) * (W + l + r) * C * s
    pad_copy = padded if any((t, b, l, r)) else 0
    if engine == "reference":
        return pad_copy, pad_copy + padded, (0, 0), 0, 0, 3 * (K + 1) * n_C * s, 0
    # Kept in the cache when one block holds the chunk.
    forward_block = conv_engine.block_bytes(n_W, C, n_C, f_H, f_W, s_W, d_W, dtype)
    grad_sum = conv_engine.grad_sum_bytes(n_W, C, n_C, f_H, f_W, s_W, d_W, dtype)
    if (s_H, s_W) == (1, 1):
        eH, eW = d_H * (f_H - 1), d_W * (f_W - 1)
        sides = (eH - t, eH - b, eW - l, eW - r)
        # dZ padded by these sides, a negative one cropping
        h, w = n_H + sides[0] + sides[1], n_W + sides[2] + sides[3]
        grad_scratch = h * w * n_C * s if any(x > 0 for x in sides) else 0
        scratch_block = max(forward_block, conv_engine.block_bytes(W, n_C, C, f_H, f_W, 1, d_W, dtype))
        grad_sum = max(grad_sum, conv_engine.grad_sum_bytes(W, n_C, C, f_H, f_W, 1, d_W, dtype))
        # a layer of few input channels, or one that widens them, may take it too
        col2im = conv_engine.stride1_col2im(C, n_C, None, conv_engine.positions_ratio((H, W), (n_H, n_W)))
    else:
        # col2im's padded gradient (below); in NHWC by stride phase, up to s - 1 rows and columns more
        phase_extent = conv_engine.phase_extent
        grad_scratch = phase_extent(n_H, f_H, s_H, d_H, t + H) * phase_extent(n_W, f_W, s_W, d_W, l + W) * C * s
        scratch_block = forward_block
        col2im = True
    rows_products = 0
    if conv_engine.weight_grad_by_rows((s_H, s_W), (d_H, d_W), f_H, C, n_C):  # (a stem's gradients, by rows)
        rows_block, rows_sum = conv_engine.rows_bytes(n_H, n_W, C, n_C, f_H, f_W, dtype)
        scratch_block, grad_sum = max(scratch_block, rows_block), max(grad_sum, rows_sum)
        # its input gradient too, at any tile width it may take: its rows in the kept scratch, its products
        # beside it (as col2im's block: a review found them counted only by a max with the scratch)
        for T in (T for T in range(2, W + 1) if W % T == 0):
            spans, products = conv_engine.input_rows_bytes(H, W, C, n_C, f_H, f_W, T, dtype)
            scratch_block, rows_products = max(scratch_block, spans), max(rows_products, products)
    # col2im: a padded gradient, then a cropped copy (the dA_prev itself); dZ @ W.T, one block
    if col2im:
        grad_scratch = max(grad_scratch, padded)
    col2im_block = conv_engine.block_max_bytes(n_H * n_W * K * s) if col2im else 0
    # per sample, with the bias's column of ones; a tile of T >= 2 output columns holds f_H rows of a span
    # of at most TILE_GROWTH kernel widths, so at most TILE_GROWTH / 2 times that per column
    growth = max(1.0, conv_engine.TILE_GROWTH / 2)
    unfolded = math.ceil(n_H * n_W * (K + 1) * s * growth)
    if not backward:  # the backward's blocks and sums are never made (a 1x2048 kernel: 576 MiB a thread)
        scratch_block, col2im_block, grad_sum = forward_block, 0, 0
    # No block holds more than its pass's whole batch unfolds to (a small layer's one block): the
    # forward's and weight gradient's, the stride-1 input gradient's (n_C channels over the input's
    # positions), col2im's product
    m = ls.in_shape[0]
    whole = m * max(unfolded, math.ceil(H * W * (f_H * f_W * n_C + 1) * s * growth) if backward else 0)
    scratch_block, col2im_block = min(scratch_block, whole), min(col2im_block, m * n_H * n_W * K * s)
    if backward:  # (the stem's input gradient's products, beside its kept scratch)
        col2im_block = max(col2im_block, rows_products)
    # The cache keeps the forward's unfolding only when one block of at most block_max_bytes() held it
    kept = min(forward_block, whole, conv_engine.block_max_bytes())
    return (pad_copy, max(pad_copy, grad_scratch), (kept, unfolded), scratch_block,
            col2im_block, grad_sum, whole)


def _inflating(p, backward: bool) -> list[tuple[str, Source, arrays.ArrayInfo, int]]:
    """The streamed sources stored in compressed HDF5 chunks, each with what
    HDF5 holds to read it row after row (see :func:`arrays._with_chunk_cache`):
    its chunk cache, whose chunks gzip's filter inflated into buffers of up
    to twice their size, and, while the next chunk is inflated, its
    compressed bytes and its growing buffer. Measured: 3.9x one chunk's bytes
    for a cache of one chunk of incompressible float32, 2.8x of smooth data;
    counted as 2x the cache plus 2x a chunk."""
    found = [(p.input_name, p.cfg.model.inputs[p.input_name], p.input_info[p.input_name])]
    if backward and isinstance(p.grad_spec, Source):
        found.append(("backward.grad", p.grad_spec, p.grad_info))
    held = []
    for name, src, info in found:
        if info is not None and info.h5_chunks is not None:
            _, cache = info.h5_chunks.cache(info.shape, info.dtype.itemsize)
            chunk = math.prod(info.h5_chunks.chunks) * info.dtype.itemsize
            held.append((name, src, info, 2 * cache + 2 * chunk))
    return held


def _sample_blocks(m: int, step: int) -> int:
    """How many blocks a pass over m samples, at most ``step`` a block,
    makes (parallel.sample_runs); for a bad CONVCLI_THREADS (see
    :func:`_engine_threads`), m / step."""
    try:
        return len(parallel.sample_runs(m, step))
    except ValueError:
        return -(-m // step)


def _engine_threads(blocks: int) -> int:
    """The threads a pass of that many blocks runs on (parallel.threads_for);
    1 for a bad CONVCLI_THREADS, which the first layer to run reports,
    located, as a user error."""
    try:
        return parallel.threads_for(blocks)
    except ValueError:
        return 1


def estimate(p, backward: bool) -> Estimate:
    """Working memory of a run of plan ``p``, per sample and fixed (see the
    module's docstring). Conservative: it counts what may be alive at once."""
    s = np.dtype(p.dtype).itemsize
    model = p.cfg.model
    nonfinite = model.allow_nonfinite
    shapes = p.layer_shapes
    layers = p.network.layers
    X = _per_sample(shapes[0].in_shape) * s
    ins = [_per_sample(ls.in_shape) * s for ls in shapes]
    outs = [_per_sample(ls.out_shape) * s for ls in shapes]
    src = model.inputs[p.input_name]
    load = _load_bytes(src, p.input_info[p.input_name].dtype, X // s, s, nonfinite)

    fwd_scratch, bwd_scratch, kept, scratch_blocks, col2im_blocks, pool_blocks = [], [], [], [0], [0], []
    grad_sums = 0
    blocks = 1  # the most blocks a conv pass splits into, which bounds the threads that hold buffers
    for ls, layer in zip(shapes, layers):
        if layer.kind == "conv":
            f, b, fwd_kept, scratch_block, col2im_block, grad_sum, whole = _conv_terms(ls, s, p.engine, backward)
            # blocks hold over a quarter of the target (_blocks rounds to the nearest; near-equal bands)
            blocks = max(blocks, -(-4 * whole // conv_engine.CHUNK_BYTES) + 1)
            kept.append(fwd_kept)
            grad_sums += grad_sum
            scratch_blocks.append(scratch_block)
            col2im_blocks.append(col2im_block)
        elif layer.kind == "pool":
            f, b = 0, (_per_sample(ls.out_shape) * s if layer.mode == "average" else 0)
            if p.engine == "fast":  # the reference engine's loops have no blocks
                sample = _per_sample(ls.in_shape) * s
                pool_blocks.append((pool_engine.block_samples(sample), sample))
        else:
            f, b = 0, _per_sample(ls.in_shape)  # relu backward: a boolean mask
        fwd_scratch.append(f)
        bwd_scratch.append(b)
    # Upstream gradient per sample (a stream uses the last output itself for
    # grad: output; an in-memory run copies it).
    spec = p.grad_spec
    last = outs[-1]
    if spec == "output":
        grad_stream, grad_whole = 0, last
    elif spec == "ones":
        grad_stream = grad_whole = last
    elif spec == "random":
        grad_stream = grad_whole = last * 8 // s + (last if s != 8 else 0)
    else:  # a source; its stored dtype taken as the widest, float64
        grad_stream = grad_whole = _load_bytes(spec, np.dtype(np.float64), last // s, s, nonfinite)

    if backward:
        phases = [load]
        held = X
        for i, o in enumerate(outs):
            phases.append(held + o + fwd_scratch[i])
            held += o
        phases.append(held + grad_stream)
        for i in range(len(layers) - 1, -1, -1):
            before = X + sum(outs[:i])
            own = outs[i] if layers[i].kind == "pool" else 0  # max pool keeps its output
            phases.append(before + own + outs[i] + ins[i] + bwd_scratch[i])
        per_sample = max(phases)
    else:  # a forward stream keeps one layer's input and output
        per_sample = max([load] + [ins[i] + outs[i] + fwd_scratch[i] for i in range(len(layers))])

    # An in-memory run keeps everything, and its statistics work on float64
    # copies: the float64 cast (float32 only), the centred copy, its square.
    held = X + sum(outs) + (grad_whole + sum(ins) if backward else 0)
    scratch = max(fwd_scratch + (bwd_scratch if backward else []))
    stats = max(ins + outs) * ((8 // s - 1) + 2 * 8 // s)
    whole_load = load + (X if src.scale is not None else 0) + X // s
    whole = max(whole_load, held + max(scratch, stats))

    held = sorted(((name, math.prod(info.shape) * s) for name, info in p.input_info.items()
                   if name != p.input_name), key=lambda x: -x[1])
    resident = sum(n for _, n in held)
    # Per conv layer, arrays the size of W (and b): the running sums over
    # chunks, and inside a chunk's backward the flipped kernel (or the summed
    # weight gradient); beside them what each engine thread holds while it
    # sums a weight gradient (conv.grad_sum_bytes: partial sums and a stack
    # of slice products, of the forward's unfolding or, at stride 1, of dZ's).
    # parallel.map_blocks gives a thread two blocks at least: a run of small layers runs on one
    # (CONVCLI_THREADS=160 had a 4 KiB run ask for 528 MiB of per-thread buffers)
    threads = _engine_threads(blocks)
    resident += threads * grad_sums
    for layer in layers:
        if layer.kind == "conv":
            params = math.prod(p.input_info[layer.W].shape) + math.prod(p.input_info[layer.b].shape)
            resident += 2 * params * s
    value = math.prod(p.input_info[p.input_name].shape) * s if src.kind == "value" else 0
    resident += value
    # Each engine thread keeps its conv block buffer between calls (conv.py's
    # scratch, up to SCRATCH_KEEP_BYTES), alive through every phase; a pass
    # that does not unfold into it (col2im, or a block too large to keep)
    # works beside it.
    keep = conv_engine.SCRATCH_KEEP_BYTES
    kept_scratch = min(max(scratch_blocks), keep)
    beside = max(col2im_blocks + [b for b in scratch_blocks if b > keep])
    per_thread = max(max(scratch_blocks), kept_scratch + beside)
    inflating = sum(held for *_, held in _inflating(p, backward))
    fixed = threads * per_thread + IO_BUFFERS + inflating
    return Estimate(per_sample, whole, fixed, resident, tuple(k for k in kept if k[0]), tuple(pool_blocks),
                    tuple(held), value)


@dataclass(frozen=True)
class StreamPlan:
    """How a run streams: ``rows`` samples per chunk, ``chunks`` chunks."""

    budget: int
    samples: int
    rows: int
    estimate: Estimate
    # the bytes of a batch array --max-memory refuses whole, which made the run stream (0: the budget did)
    too_large: int = 0
    # the samples of a conv layer's forward product (product_group): chunks of a multiple of it make the
    # in-memory run's forward outputs bit for bit
    group: int = 1
    # whether --max-memory, not the budget, set the chunks' size (runner._check_batch)
    max_memory_rows: bool = False

    @property
    def chunks(self) -> int:
        return -(-self.samples // self.rows)

    @property
    def in_memory(self) -> str:
        """The ``--memory-budget`` under which the whole run would fit in
        memory, for the errors that refuse what only streaming cannot do."""
        return _in_memory(self.estimate.in_memory(self.samples), self.too_large)

    def as_json(self) -> dict:
        e = self.estimate
        return {
            "memory_budget": self.budget,
            "samples": self.samples,
            "chunk_rows": self.rows,
            "chunks": self.chunks,
            # chunks of a multiple of it make the in-memory run's forward outputs bit for bit (fewer: the
            # budget holds fewer samples than a conv layer's forward product, which may round otherwise)
            "product_group": self.group,
            "estimated_peak": e.chunk(self.rows),
            "per_sample": e.per_sample,
            "fixed": e.fixed + e.resident,
            # what the conv layers' caches keep of a chunk's unfolded input (at most a block each)
            "cache_kept": e.kept_bytes(self.rows),
            # a pool pass's scratch on the threads a chunk's blocks run on (the largest layer's)
            "pool_scratch": e.pool_bytes(self.rows),
            # why it streams: the run does not fit the budget, --max-memory refuses a batch array whole, or both
            "streams_for": [why for why, so in (("memory_budget", e.in_memory(self.samples) > self.budget),
                                                ("max_memory", self.too_large > 0)) if so],
        }


def budget_arg(need: int) -> str:
    """``need`` bytes as a ``--memory-budget`` value, in whole MiB rounded up."""
    return f"{math.ceil(need / 2**20)}MiB"


def _in_memory(need: int, too_large: int) -> str:
    """The options under which a run would fit in memory, as an error's
    ``use --memory-budget X or more``: the budget, and --max-memory where
    it refused a batch array whole."""
    return budget_arg(need) + (f" --max-memory {budget_arg(too_large)}" if too_large else "")


def choose(p, budget: int, backward: bool, too_large: int = 0) -> StreamPlan | None:
    """None if the whole run fits ``budget``; else the chunk size, or a
    :class:`ConvcliError` if even one sample does not fit. ``too_large``:
    the bytes of a batch array (read from a file) that --max-memory refuses
    whole, which streams the run whatever the budget (0: none)."""
    e = estimate(p, backward)
    in_shape = p.layer_shapes[0].in_shape
    if not in_shape:  # a single number (a relu-only config): nothing to stream
        return None
    n = in_shape[0]
    if e.in_memory(n) <= budget and not too_large:
        return None
    src = p.cfg.model.inputs[p.input_name]
    # why it streams, as the errors below say it
    why = "--max-memory refuses its batch whole" if too_large else "it does not fit the budget whole"
    _check_streamable(p, _in_memory(e.in_memory(n), too_large),
                      "--max-memory refuses the run's batch whole" if too_large else "the run does not fit --memory-budget")
    group = product_group(p, n)
    if e.chunk(1) > budget:
        need = e.chunk(1)
        inflating = _inflating(p, backward)
        if inflating and need - sum(held for *_, held in inflating) <= budget:
            raise _chunks_too_large(budget, need, inflating, why, p.cfg.base_dir)
        what = "a forward and backward pass" if backward else "a forward pass"
        # the reference engine's loops keep no block buffers
        buffers = "the I/O buffers" if p.engine == "reference" else \
            "the engine's per-thread block buffers and the I/O buffers"
        resident = _resident_parts(p, e, backward)
        raise ConvcliError(
            "--memory-budget",
            f"{arrays.format_size(budget)} is too small for this run: {why}, so it "
            f"streams {p.input_name} ({src.describe()}) in chunks, and {what} of one sample through the "
            f"{len(p.network)} layer{'s' * (len(p.network) != 1)} needs about "
            f"{arrays.format_size(need - e.resident - e.fixed)}{_sample_parts(e)}, plus {arrays.format_size(e.resident + e.fixed)} that any "
            f"chunk needs ({', '.join([f'{arrays.format_size(e.fixed)} for {buffers}', *resident])}); "
            f"use --memory-budget {budget_arg(need)} or more{_group_budget(e, min(group, n))}",
        )
    # the most samples under the budget (chunk() grows with them), at most CHUNK_TARGET's worth or one product
    # group (a review: samples of 12 MiB went one a chunk under a budget of 600 MiB, so not bit for bit)
    target = max(1, CHUNK_TARGET // max(e.per_sample, 1))
    # (past the target only to hold a whole group: chunks of 3 for a group of 4 gain nothing by it, a review)
    lo, hi = 1, min(n, max(target, group if e.chunk(group) <= budget else 1))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if e.chunk(mid) <= budget else (lo, mid - 1)
    if lo >= group:  # chunks at multiples of the layers' product groups: the batch's own products
        lo -= lo % group
    return StreamPlan(budget, n, lo, e, too_large, group)


def _group_budget(e: Estimate, group: int) -> str:
    """For an error's ``use --memory-budget X or more``: the budget whose
    chunks hold a product group, where that is more (an instructor's review:
    the budget the error named streamed chunks of one, whose small maps
    were not the in-memory run's to the last bit, and the run then said so)."""
    if group < 2 or budget_arg(e.chunk(group)) == budget_arg(e.chunk(1)):
        return ""
    return (f" ({budget_arg(e.chunk(group))} or more for chunks of {group}, whose outputs are the in-memory run's "
            "to the last bit)")


def product_group(p, n: int) -> int:
    """The most samples one product of a conv layer's forward pass takes in
    a batch of n (conv.stream_group; a power of two): a chunk that starts
    at a multiple of it makes the in-memory run's products, so its forward
    outputs bit for bit. 1 for the reference engine (its loops add up each
    output element alone)."""
    if p.engine != "fast":
        return 1
    most = 1
    for ls in p.layer_shapes:
        if ls.kind == "conv":
            (f_H, f_W), (_, s_W), (_, d_W) = ls.hyper["f"], ls.hyper["stride"], ls.hyper["dilation"]
            _, n_H, n_W, n_C = ls.out_shape
            most = max(most, conv_engine.stream_group(n, n_H, n_W, f_H, f_W, ls.in_shape[3], n_C, s_W, d_W,
                                                      p.dtype))
    return most


def _sample_parts(e: Estimate) -> str:
    """What one sample's working memory holds, in parts, for an error, where
    it holds more than its arrays: the conv layers' caches of its unfolded
    input and a pool pass's scratch (``summary.json``'s ``streaming`` gives
    the same parts for a chunk: ``per_sample``, ``cache_kept``,
    ``pool_scratch``)."""
    kept, scratch = e.kept_bytes(1), e.pool_bytes(1)
    if not kept and not scratch:
        return ""
    parts = [f"{arrays.format_size(e.per_sample)} for its arrays"]
    if kept:
        parts.append(f"{arrays.format_size(kept)} for what the conv layers' caches keep of its unfolded input")
    if scratch:
        parts.append(f"{arrays.format_size(scratch)} for a pool pass's scratch")
    return f" ({', '.join(parts)})"


def _resident_parts(p, e: Estimate, backward: bool) -> list[str]:
    """What ``e.resident`` holds, in parts, for an error: the inputs held
    whole beside the streamed batch (by name, largest first: an input that
    no layer uses is held too), the batch itself where the config writes it
    out (``value:``), and the rest: what the conv layers hold of their
    weights (and in a backward pass their gradients' sums, per engine thread
    and over the chunks)."""
    whole = sum(n for _, n in e.held)
    parts = []
    if e.held:
        names = ", ".join(f"{name} {arrays.format_size(n)}" for name, n in e.held[:3])
        names += ", ..." if len(e.held) > 3 else ""
        parts.append(f"{arrays.format_size(whole)} for the inputs held whole beside {p.input_name} ({names})")
    if e.value:
        parts.append(f"{arrays.format_size(e.value)} for {p.input_name} itself, a value: written in the config, "
                     "held whole")
    rest = e.resident - whole - e.value
    if rest:
        what = "the conv layers' weights and their gradients' sums" if backward else "the conv layers' weights"
        parts.append(f"{arrays.format_size(rest)} for {what}")
    return parts


def _chunks_too_large(budget: int, need: int, inflating, why: str, base: Path) -> ConvcliError:
    """The run would fit ``budget`` but for what HDF5 holds to inflate the
    compressed chunks of the streamed sources. The h5repack command names
    the file from where the user is (the config's ``file:`` is relative to
    the config's folder: a review found it pointing elsewhere)."""
    name, src, info, held = max(inflating, key=lambda x: x[3])
    try:
        where = os.path.relpath(base / src.file)
    except ValueError:  # another drive (Windows): the whole path
        where = str(base / src.file)
    chunks = info.h5_chunks.chunks
    chunk = math.prod(chunks) * info.dtype.itemsize
    # one whole sample a chunk: HDF5 then inflates each chunk once, for the one sample it holds (a review: the
    # chunk's tile, 1x8x8x3 for 8x8 tiles of 32x32 images, made thousands of tiny chunks)
    smaller = "x".join(str(n) for n in (1,) + tuple(info.shape[1:]))
    # Chunks of one sample already: fewer samples a chunk is no help (a review: the command
    # offered the layout the file had), and smaller ones still all sit in the cache for a sample;
    # stored uncompressed, nothing is inflated.
    rechunk = (f", or store it uncompressed (h5repack -f NONE {shlex.quote(printable(where))} NEW.h5)"
               if chunks[0] == 1 else
               f", or store it in chunks of fewer samples "
               f"(h5repack -l {shlex.quote(info.h5_chunks.dataset.lstrip('/') + ':CHUNK=' + smaller)} "
               f"{shlex.quote(printable(where))} NEW.h5)")
    return ConvcliError(
        "--memory-budget",
        f"{arrays.format_size(budget)} is too small for this run: {why}, so it streams "
        f"{name} ({src.describe()}) in chunks of samples, and that dataset is stored compressed in HDF5 chunks "
        f"of shape {chunks} ({arrays.format_size(chunk)} each), and HDF5 inflates a whole chunk to read any "
        f"sample of it, which takes about {arrays.format_size(held)}; use --memory-budget "
        f"{budget_arg(need)} or more{rechunk}",
    )


def _check_streamable(p, in_memory: str, why: str) -> None:
    name = p.input_name
    for i, layer in enumerate(p.network.layers):
        if layer.kind == "conv" and name in (layer.W, layer.b):
            raise ConvcliError(
                p.cfg.layer_where(i),
                f"{name} is streamed in chunks of samples ({why}), "
                f"so it cannot also be this layer's {'W' if layer.W == name else 'b'}; use --memory-budget "
                f"{in_memory} or more to run it in memory",
            )


# ----------------------------------------------------------------- streamed quantities


@dataclass
class Streamed:
    """A quantity written chunk by chunk: never whole in memory. Stands in
    for its array in :class:`StreamResults` ``.quantities``."""

    shape: tuple[int, ...]
    dtype: np.dtype
    stats: RunningStats = field(default_factory=RunningStats)

    def describe(self) -> dict:
        """What :func:`convcli.stats.describe` gives for an array, plus ``streamed``."""
        return {"shape": list(self.shape), "dtype": str(self.dtype), **self.stats.result(), "streamed": True}


# ----------------------------------------------------------------- writing


class ChunkWriter:
    """The output files of a streamed run, filled chunk by chunk.

    ``h5``: ``outputs.h5`` (an :class:`~convcli.outputs.H5Output`: a failed
    write is a clean error, never a crash) with a dataset of the full shape
    per quantity, kept open for the run and written a hyperslab at a time.
    ``npy``: ``numpy.lib.format.open_memmap`` creates each ``Q.npy`` (header
    and full size, sparse on disk); the rows are then written at their offset
    with ordinary writes, not through the map: a write to a full disk is an
    ``OSError`` (through a map it would be a SIGBUS that kills the process
    before it can clean up), and the pages written do not count in the
    process's resident memory.

    ``where`` names the output in an error: the user's ``--out``.
    """

    def __init__(self, folder: Path, fmt: str, where: str | None = None):
        self.folder = folder
        self.fmt = fmt
        self.where = where or f"--out {folder}"
        self.placed: dict[str, str] = {}
        self._files: dict[str, tuple] = {}
        self._datasets: dict = {}
        self._h5 = H5Output(folder / H5_NAME, self.where) if fmt == "h5" else None

    def _guard(self, name: str):
        """Where a write of quantity ``name`` may fail: a failure is "cannot
        write FILE" (exit 2)."""
        return self._h5.guard() if self._h5 is not None else writing(self.where, f"{name}.npy")

    def create(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        with self._guard(name):
            if self._h5 is not None:
                self._datasets[name] = self._h5.file.create_dataset(name, shape=shape, dtype=dtype)
                self.placed[name] = f"{H5_NAME}:{name}"
                return
            path = self.folder / f"{name}.npy"
            made = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
            offset = made.offset
            del made
            fp = open(path, "r+b")
            self._files[name] = (fp, offset, _per_sample(shape) * np.dtype(dtype).itemsize)
            self.placed[name] = f"{name}.npy"

    def rows(self, name: str, r0: int, array: np.ndarray) -> None:
        """Write ``array`` as rows ``r0:r0 + len(array)`` of quantity ``name``."""
        array = np.ascontiguousarray(array)
        with self._guard(name):
            if self._h5 is not None:
                self._datasets[name][r0:r0 + len(array)] = array
                return
            fp, offset, row_bytes = self._files[name]
            fp.seek(offset + r0 * row_bytes)
            fp.write(array.reshape(-1).view(np.uint8))

    def whole(self, name: str, array: np.ndarray) -> None:
        """Write quantity ``name`` at once, as an in-memory run does."""
        self.placed[name] = write_quantity(self.folder, name, array, self._h5, self.where)

    def close(self) -> None:
        """Close every file; a write that fails on the way is "cannot write"."""
        self._datasets = {}
        while self._files:
            name, (fp, *_) = self._files.popitem()
            with writing(self.where, f"{name}.npy"):
                fp.close()
        if self._h5 is not None:
            self._h5.close()

    def abort(self) -> None:
        """Close after an error, raising nothing: the error is the one to report."""
        self._datasets = {}
        while self._files:
            try:
                self._files.popitem()[1][0].close()
            except OSError:
                pass
        if self._h5 is not None:
            self._h5.abort()


# ----------------------------------------------------------------- running


@dataclass
class StreamResults:
    """What a streamed run produced, shaped like :class:`convcli.runner.Results`
    for :func:`convcli.outputs.summary`: ``quantities`` in the same order,
    with :class:`Streamed` in place of the arrays that were never whole."""

    plan: object
    quantities: dict
    inputs: dict[str, np.ndarray]
    grad: Streamed | None
    streaming: dict
    timings: dict[str, float] = field(default_factory=dict)
    trace: list | None = None


def _draws_after(p, index: int, backward: bool) -> bool:
    """Does anything after input ``index`` draw from the random stream?"""
    later = list(p.cfg.model.inputs.values())[index + 1:]
    if any(src.kind == "random" for src in later):
        return True
    spec = p.grad_spec
    return backward and (spec == "random" or (isinstance(spec, Source) and spec.kind == "random"))


def _skip_normals(rng: np.random.RandomState, count: int) -> None:
    """Advance ``rng`` past ``count`` normals (as ``rng.randn(count)`` would),
    a block at a time."""
    while count:
        k = min(count, STATS_BLOCK)
        rng.randn(k)
        count -= k


def _grad_rows(p, rng, stack: ExitStack):
    """The upstream gradient, a chunk at a time: None for ``grad: output``
    (the last layer's output is used as it is), else a :class:`arrays.Rows`."""
    spec = p.grad_spec
    shape = tuple(p.layer_shapes[-1].out_shape)
    if spec == "output":
        return None
    if spec in ("ones", "random"):
        src, nonfinite = Source(**{spec: list(shape)}), True
    else:
        src, nonfinite = spec, p.cfg.model.allow_nonfinite
    return stack.enter_context(arrays.Rows(src, p.cfg.base_dir, p.cfg.where("backward", "grad"),
                                           dtype=p.dtype, rng=rng, allow_nonfinite=nonfinite,
                                           in_memory=p.stream.in_memory))


def run_streaming(p, backward: bool, folder: Path, fmt: str, progress=None,
                  where: str | None = None) -> tuple[StreamResults, dict[str, str]]:
    """Run plan ``p`` (``p.stream`` set) chunk by chunk, writing into ``folder``.

    ``progress(done, total)`` is called after each chunk with the samples done.
    ``where`` names the output in an error (the user's ``--out``; default
    ``--out FOLDER``).
    Returns the results (for the summary) and where each quantity went.
    """
    from .runner import layer_error, load_input

    sp: StreamPlan = p.stream
    model = p.cfg.model
    dtype = np.dtype(p.dtype)
    network = p.network
    # An in-memory run's timings, in its order: no backward for forward.
    steps = ("load", "forward", "backward", "write") if backward else ("load", "forward", "write")
    timings = dict.fromkeys(steps, 0.0)
    clock = time.perf_counter

    with ExitStack() as stack:
        t = clock()
        rng = np.random.RandomState(model.seed)
        resident: dict[str, np.ndarray] = {}
        rows = None
        for k, (name, src) in enumerate(model.inputs.items()):
            at = p.cfg.where("inputs", name)
            if name != p.input_name:
                resident[name] = load_input(p, name, src, rng)
                continue
            cursor = rng
            if src.kind == "random" and _draws_after(p, k, backward):
                # The input's numbers come from a copy of the stream at this
                # point; the stream itself moves on past them for what follows.
                cursor = np.random.RandomState()
                cursor.set_state(rng.get_state())
                _skip_normals(rng, math.prod(src.random))
            rows = stack.enter_context(arrays.Rows(src, p.cfg.base_dir, at, dtype=dtype, rng=cursor,
                                                   allow_nonfinite=model.allow_nonfinite,
                                                   in_memory=sp.in_memory))
        grad_rows = _grad_rows(p, rng, stack) if backward else None
        timings["load"] += clock() - t

        last = network.layers[-1]
        # The batch-shaped quantities, written a chunk at a time. The rest of
        # the plan's (the other inputs, read whole; the parameters' gradients,
        # summed over the chunks) is written whole at the end.
        streamed = {p.input_name: p.shapes[p.input_name]}
        for layer in network.layers:
            streamed[layer.output] = p.shapes[layer.output]
        if backward:
            streamed[last.upstream] = p.shapes[last.upstream]
            for layer in network.layers:
                streamed[f"{layer.name}.dA_prev"] = p.shapes[f"{layer.name}.dA_prev"]
        t = clock()
        writer = ChunkWriter(folder, fmt, where)
        stack.callback(writer.abort)
        for name, shape in streamed.items():
            writer.create(name, tuple(shape), dtype)
        timings["write"] += clock() - t
        found = {name: Streamed(tuple(shape), dtype) for name, shape in streamed.items()}

        def put(name: str, r0: int, array: np.ndarray) -> None:
            t = clock()
            writer.rows(name, r0, array)
            found[name].stats.update(array)
            timings["write"] += clock() - t

        sums: dict[str, np.ndarray] = {}
        r0 = r1 = 0
        # each chunk's rows the bits the whole batch's would be in memory (see planned_for)
        stack.enter_context(conv_engine.planned_for(sp.samples))
        try:
            for r0 in range(0, sp.samples, sp.rows):
                r1 = min(r0 + sp.rows, sp.samples)
                t = clock()
                x = rows.read(r0, r1)
                timings["load"] += clock() - t
                put(p.input_name, r0, x)
                t, w = clock(), timings["write"]
                if not backward:
                    steps = network.iter_forward(x, resident, engine=p.engine)
                    del x
                    for i, out, cache in steps:
                        del cache
                        put(network.layers[i].output, r0, out)
                        del out
                    timings["forward"] += clock() - t - (timings["write"] - w)
                else:
                    trace = network.forward(x, resident, engine=p.engine)
                    del x
                    for i, layer in enumerate(network.layers):
                        put(layer.output, r0, trace[i][0])  # no name left holding an output or cache
                    timings["forward"] += clock() - t - (timings["write"] - w)
                    t, w = clock(), timings["write"]
                    if grad_rows is None:  # grad: output, the last output itself
                        grad = trace[-1][0]
                        t_w = clock()
                        writer.rows(last.upstream, r0, grad)  # its statistics are the output's
                        timings["write"] += clock() - t_w
                    else:
                        grad = grad_rows.read(r0, r1)
                        put(last.upstream, r0, grad)
                    steps = network.iter_backward(trace, grad, release=True)
                    del grad
                    for i, g in steps:
                        for key in g:  # dA_prev is streamed, dW and db add up
                            name = f"{network.layers[i].name}.{key}"
                            if name in found:
                                put(name, r0, g[key])
                            elif name in sums:  # in float64, rounded once at the end: a float32 run's
                                sums[name] += g[key]  # chunks' sums past float32's largest number before
                            else:  # the whole batch's is (a review: refused, where in memory it ran)
                                sums[name] = g[key].astype(np.float64)
                        del g
                    del trace, steps
                    timings["backward"] += clock() - t - (timings["write"] - w)
                if progress is not None:
                    progress(r1, sp.samples)
        except LayerError as exc:  # its counts are the chunk's: say which
            exc.what = f"in the chunk of samples {r0}:{r1}: {exc.what}"
            raise layer_error(p.cfg, exc) from None
        with np.errstate(over="ignore"):  # (an overflow is refused just below)
            sums = {name: total.astype(dtype, copy=False) for name, total in sums.items()}
        try:  # each chunk's dW and db were finite; their sums may not be (an in-memory run's are refused)
            for i, layer in enumerate(network.layers):
                mine = {key: sums[f"{layer.name}.{key}"] for key in ("dW", "db") if f"{layer.name}.{key}" in sums}
                network.check_sums(i, mine, f" summed over the {sp.chunks} chunks")
        except LayerError as exc:
            raise layer_error(p.cfg, exc) from None
        if backward and grad_rows is None:
            found[last.upstream].stats = found[last.output].stats

        # The plan's quantities (runner.plan), in its order, an in-memory
        # run's; a forward run has no gradients.
        t = clock()
        computed = {**resident, **sums, **found}
        quantities = {name: computed[name] for name, role in p.roles.items()
                      if backward or role != "gradient"}
        for name, value in quantities.items():
            if isinstance(value, np.ndarray):
                writer.whole(name, value)
        writer.close()
        timings["write"] += clock() - t
        placed = {name: writer.placed[name] for name in quantities}

    results = StreamResults(
        p, quantities, resident, found.get(last.upstream) if backward else None,
        sp.as_json(), timings=timings,
    )
    return results, placed
