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
from test_cli_helpers import CONFIGS


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("f", [(4, 2), (2, 2), (3, 3), (2, 5)])
@pytest.mark.parametrize("nan", [False, True])
def test_separable_scratch_within_scratch_blocks(dtype, f, nan, monkeypatch):
    """One block (the whole input), ties: all, the separable pass forced:
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
    A, cache = cc.pool_forward(x, {"f": list(f), "stride": 1, "ties": "all"})
    dA = np.ones_like(A)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        cc.pool_backward(dA, cache)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    scratch = peak - x.nbytes  # dA_prev itself is the result
    # 16 KiB for Python's own objects (slices, views) beside the arrays
    assert scratch <= pool_module.SCRATCH_BLOCKS * x.nbytes + (16 << 10), scratch / x.nbytes


def test_a_tiny_pool_run_holds_one_threads_blocks_however_many_threads(monkeypatch):
    """configs/pool_backward.yaml: 5 samples of 5x3x2, one block, so one
    thread runs the pass whatever CONVCLI_THREADS says (map_blocks gives a
    thread two blocks at least). Counted per configured thread, its
    estimate had CONVCLI_THREADS=300 refuse the run under the default
    512 MiB budget (4 x 512 KiB a thread)."""
    fixed = {}
    for n in ("1", "160"):
        monkeypatch.setenv("CONVCLI_THREADS", n)
        fixed[n] = streaming.estimate(runner.plan(CONFIGS / "pool_backward.yaml"), True).fixed
    assert fixed["160"] == fixed["1"]
