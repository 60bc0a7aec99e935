"""The fast max pool backward's scratch memory against what the streaming
estimate counts for it (pool.SCRATCH_BLOCKS block-sized arrays per thread
that runs a pass), measured with tracemalloc."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import convcli as cc
import convcli.pool as pool_module
from convcli import runner, streaming
from test_cli_helpers import CONFIGS, write


def backward_scratch(x, hp):
    """``(A, cache, bytes)``: a max pool's forward over ``x``, then what its
    backward (upstream gradient of ones) allocates at its peak beside
    dA_prev, the result itself, as tracemalloc sees it."""
    A, cache = cc.pool_forward(x, hp)
    dA = np.ones_like(A)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        cc.pool_backward(dA, cache)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return A, cache, peak - x.nbytes


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("f", [(4, 2), (2, 2), (3, 3), (2, 5)])
@pytest.mark.parametrize("nan", [False, True])
@pytest.mark.parametrize("ties", ["all", "first", "split"])
def test_separable_scratch_within_scratch_blocks(dtype, f, nan, ties, monkeypatch):
    """One block (the whole input), ties: all, first or split, the separable pass forced:
    beside dA_prev, the backward allocates at most SCRATCH_BLOCKS arrays of
    the block's input size (a review measured 4.09 in float32 for f (4, 2)
    when the first pass's output-sized mask and product were still alive
    beside the second's)."""
    monkeypatch.setattr(pool_module, "_separable_pays", lambda g: True)
    monkeypatch.setattr(pool_module, "CHUNK_BYTES", 1 << 40)
    monkeypatch.setenv("CONVCLI_THREADS", "1")
    x = np.random.default_rng(0).integers(0, 3, (4, 40, 40, 8)).astype(dtype)
    if nan:
        x[:, ::7, ::5] = np.nan
    _, _, scratch = backward_scratch(x, {"f": list(f), "stride": 1, "ties": ties})
    # 16 KiB for Python's own objects (slices, views) beside the arrays
    assert scratch <= pool_module.SCRATCH_BLOCKS * x.nbytes + (16 << 10), scratch / x.nbytes
    # and the arrays themselves four blocks at most (measured 3.92 in float32 with first and a
    # NaN): SCRATCH_BLOCKS's fifth is NumPy's buffers' room, not a loosened bound (but split's
    # windows' counts, output-sized, 4.7 in float32 with a NaN)
    assert scratch <= (4.75 if ties == "split" else 4) * x.nbytes + (16 << 10), scratch / x.nbytes


def test_a_tiny_pool_run_holds_one_threads_blocks_however_many_threads(monkeypatch):
    """configs/pool_backward.yaml: 5 samples of 5x3x2, one block, so one
    thread runs the pass whatever CONVCLI_THREADS says (map_blocks gives a
    thread two blocks at least). Counted per configured thread, its
    estimate had CONVCLI_THREADS=300 refuse the run under the default
    512 MiB budget."""
    chunk = {}
    for n in ("1", "160"):
        monkeypatch.setenv("CONVCLI_THREADS", n)
        chunk[n] = streaming.estimate(runner.plan(CONFIGS / "pool_backward.yaml"), True).chunk(5)
    assert chunk["160"] == chunk["1"]


def test_a_chunk_counts_pool_scratch_on_the_threads_its_blocks_run_on(tmp_path, monkeypatch):
    """A review: 80 samples of 128x128x16 float32 (1 MiB each: a pool block
    each) through a 2x2 max pool, backward. A chunk of 6 samples is 6
    blocks, which run on 3 threads at most; its working memory by hand:
    the input and dA_prev, 1 MiB each, the output, its copy kept for the
    backward and the upstream gradient a quarter each: about 3 MiB a
    sample, under 20 MiB; the I/O buffers 8 MiB; 3 threads' scratch of 5
    blocks, 15 MiB: under 64 MiB however many threads are configured. Counted over the
    whole batch's blocks on every configured thread, CONVCLI_THREADS=40
    made it 160 MiB and refused a --memory-budget of 64 MiB."""
    data = {"dtype": "float32", "inputs": {"A_prev": {"random": [80, 128, 128, 16]}},
            "layers": [{"type": "pool", "f": 2}], "backward": {"grad": "ones"}}
    p = runner.plan(write(tmp_path, data))
    for n in ("2", "40"):
        monkeypatch.setenv("CONVCLI_THREADS", n)
        assert streaming.estimate(p, True).chunk(6) <= 64 << 20, n


@pytest.mark.parametrize("threads", ["3", "4", "8"])
def test_the_estimate_counts_every_thread_the_pool_blocks_run_on(threads, monkeypatch):
    """A review: the blocks of a pass come in a multiple of the threads they
    run on (parallel.sample_runs), which can be more blocks, so more
    threads, than m / step. By hand, 25 samples at 5 a block on 3 threads:
    5 blocks would run on 2, but 6 blocks of 4 or 5 run on 3. For every
    chunk of 1-60 samples, the estimate's pool scratch is at least the
    threads the blocks run on times SCRATCH_BLOCKS of the largest block."""
    from convcli import parallel
    from convcli.hparams import pool_geometry

    monkeypatch.setenv("CONVCLI_THREADS", threads)
    sample = 16 * 16 * 8 * 8
    monkeypatch.setattr(pool_module, "CHUNK_BYTES", 5 * sample)
    if threads == "3":
        blocks = list(pool_module._blocks(pool_geometry(np.zeros((25, 16, 16, 8)), {"f": 2}), 8))
        assert [b.stop - b.start for b in blocks] == [4, 4, 5, 4, 4, 4] and parallel.threads_for(len(blocks)) == 3
    e = streaming.Estimate(0, 0, 0, 0, pool=((pool_module.block_samples(sample), sample),))
    for m in range(1, 61):
        blocks = list(pool_module._blocks(pool_geometry(np.zeros((m, 16, 16, 8)), {"f": 2}), 8))
        largest = max(b.stop - b.start for b in blocks)
        held = parallel.threads_for(len(blocks)) * pool_module.SCRATCH_BLOCKS * largest * sample
        assert e.pool_bytes(m) >= held, (m, e.pool_bytes(m), held)


@pytest.mark.parametrize("threads", ["2", "3"])
@pytest.mark.parametrize("f, stride, ties", [(3, 2, "first"), (3, 2, "split"), (4, 2, "all"), (2, 2, "all"), (3, 1, "all")])
@pytest.mark.parametrize("chunk_samples", [5, 5 / 3])
def test_the_estimate_counts_blocks_sized_by_what_a_pass_goes_over(f, stride, ties, chunk_samples, threads, monkeypatch):
    """Over overlapping windows at stride 2, the max backward's blocks are
    sized by the output or the row segments, not the input (attempt 89),
    so they hold more samples: for every chunk of 1-60 samples, the
    estimate's pool scratch is at least the threads the blocks run on times
    SCRATCH_BLOCKS arrays the size of what the largest block goes over.
    With CHUNK_BYTES 5/3 of a sample's input, a block of input holds one
    sample (0.6 of CHUNK_BYTES) and one of f 3's output up to eight ((16 -
    3) // 2 + 1 = 7 rows and columns, 49 / 256 of the input a sample: 0.92
    of CHUNK_BYTES); the estimate counted 0.6 a block."""
    from convcli import parallel
    from convcli.hparams import pool_geometry

    monkeypatch.setenv("CONVCLI_THREADS", threads)
    sample = 16 * 16 * 8 * 8
    monkeypatch.setattr(pool_module, "CHUNK_BYTES", int(chunk_samples * sample))
    e = streaming.Estimate(0, 0, 0, 0, pool=((pool_module.block_samples(sample), sample),))
    grew = False
    for m in range(1, 61):
        g = pool_geometry(np.zeros((m, 16, 16, 8)), {"f": f, "stride": stride, "ties": ties})
        work = pool_module._max_work(g)
        blocks = list(pool_module._blocks(g, 8, work))
        largest = max(b.stop - b.start for b in blocks)
        grew |= largest > max(b.stop - b.start for b in pool_module._blocks(g, 8))
        held = parallel.threads_for(len(blocks)) * pool_module.SCRATCH_BLOCKS * largest * (work or 16 * 16) * 8 * 8
        assert e.pool_bytes(m) >= held, (m, e.pool_bytes(m), held)
    overlapping_at_stride_2 = stride == 2 and f > 2
    assert grew == overlapping_at_stride_2, "here (16x16, f up to 4) blocks grow where windows overlap at stride 2"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ties", ["all", "first", "split"])
@pytest.mark.parametrize("nan", [False, True])
def test_a_pass_one_offset_at_a_time_holds_scratch_blocks_of_the_output(dtype, ties, nan, monkeypatch):
    """f 3 stride 2, the pass one offset at a time (the separable pass
    refused): on one thread, beside dA_prev, the backward allocates at most
    SCRATCH_BLOCKS arrays the size of its largest block's output, the
    size its blocks are chosen by."""
    monkeypatch.setattr(pool_module, "_separable_pays", lambda g: False)
    monkeypatch.setenv("CONVCLI_THREADS", "1")
    x = np.random.default_rng(0).integers(0, 3, (6, 41, 41, 8)).astype(dtype)
    if nan:
        x[:, ::7, ::5] = np.nan
    A, cache, scratch = backward_scratch(x, {"f": 3, "stride": 2, "ties": ties})
    g = cache.state.geometry
    largest = max(b.stop - b.start for b in pool_module._blocks(g, x.itemsize, pool_module._max_work(g)))
    assert scratch <= pool_module.SCRATCH_BLOCKS * largest * A[0].nbytes + (16 << 10), scratch / (largest * A[0].nbytes)


@pytest.mark.parametrize("threads", ["2", "3", "4", "8"])
def test_blocks_sized_by_what_a_pass_goes_over_keep_every_thread(threads, monkeypatch):
    """A review: the larger blocks of a max backward over overlapping windows
    came as few as m / (2 threads) rounded up, which for 6 samples on 2
    threads made 3 blocks of 2, and 3 blocks run on one thread (two a
    thread at least), where the blocks of input ran on both. For every batch
    of 1-80 samples of (128, 128, 8) float64, f 3 stride 2: the pass runs on
    as many threads as with blocks of input, and never on more."""
    from convcli import parallel
    from convcli.hparams import pool_geometry

    monkeypatch.setenv("CONVCLI_THREADS", threads)
    for m in range(1, 81):
        g = pool_geometry(np.zeros((m, 128, 128, 8)), {"f": 3, "stride": 2})
        by_input = len(list(pool_module._blocks(g, 8)))
        by_work = len(list(pool_module._blocks(g, 8, pool_module._max_work(g))))
        assert parallel.threads_for(by_work) == parallel.threads_for(by_input), (m, by_input, by_work)
