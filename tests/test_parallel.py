"""The fast engines' threaded and multi-block paths give the reference's numbers.

The block size is shrunk so these small arrays make many blocks, and
CONVCLI_THREADS forces several threads whatever this machine's BLAS uses; a
spy on the thread pool proves the threaded branch really ran.
"""

from __future__ import annotations

import numpy as np
import pytest

import convcli as cc
import convcli.conv as conv_module
import convcli.parallel as parallel
import convcli.pool as pool_module
from helpers import assert_rel, random_layer


@pytest.fixture
def threaded(monkeypatch):
    """Three threads, tiny blocks, padding on the threads; yields the list of
    groups run off the main thread."""
    monkeypatch.setenv("CONVCLI_THREADS", "3")
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 600)  # every pass below: at least 4 blocks
    monkeypatch.setattr(conv_module, "PAD_IN_THREADS_BYTES", 0)  # each thread pads its samples
    monkeypatch.setattr(pool_module, "CHUNK_BYTES", 500)
    submitted = []
    real_pool = parallel._pool

    class Spy:
        def __init__(self, pool):
            self.pool = pool

        def submit(self, *args):
            submitted.append(args[-1])
            return self.pool.submit(*args)

    monkeypatch.setattr(parallel, "_pool", lambda n: Spy(real_pool(n)))
    return submitted


CONV = [
    ((7, 9, 8, 3), (3, 3, 3, 4), {"pad": 1}),                               # stride 1: gather dA_prev
    ((6, 9, 7, 2), (3, 2, 2, 3), {"stride": 2, "pad": [1, 0, 2, 1]}),       # col2im dA_prev
    ((5, 8, 8, 2), (2, 2, 2, 2), {"dilation": 2, "pad": "same"}),
    ((8, 2, 3, 2), (2, 2, 2, 3), {"pad": [1, 2, 0, 1]}),  # whole samples a block: padded on the threads
    ((8, 6, 5, 2), (3, 3, 2, 3), {"pad": 1}),  # bands of rows, shared out by band: padded on the threads
]
PADDED_ON_THREADS = {(8, 2, 3, 2), (8, 6, 5, 2)}  # the inputs above that are padded on the threads


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("A_shape, W_shape, hp", CONV)
def test_conv_threaded_equals_reference(threaded, A_shape, W_shape, hp, dtype, monkeypatch):
    padded = []  # how many samples each padding on the threads took (a group's, or one sample's)
    pad_into = conv_module._pad_into
    monkeypatch.setattr(conv_module, "_pad_into",
                        lambda X, out, sides: padded.append(X.shape[0]) or pad_into(X, out, sides))
    rng = np.random.default_rng(5)
    A, W, b = random_layer(rng, A_shape, W_shape, dtype)
    Z, cache = cc.conv_forward(A, W, b, hp)
    Z_r, cache_r = cc.conv_forward(A, W, b, hp, engine="reference")
    dZ = rng.standard_normal(Z.shape).astype(dtype)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert_rel(Z, Z_r, tol, "Z")
    for name, got, want in zip(("dA_prev", "dW", "db"), cc.conv_backward(dZ, cache),
                               cc.conv_backward(dZ, cache_r)):
        assert got.dtype == dtype, name
        assert_rel(got, want, tol, name)
    assert len(threaded) >= 2, "the threaded branch did not run"
    if A_shape in PADDED_ON_THREADS:  # the passes padded in more than one range, each sample once a
        m = A_shape[0]                  # thread it runs on (bands of a sample may go to two threads)
        assert len(padded) >= 2 and all(1 <= n <= m for n in padded), padded
        assert sum(padded) >= m, padded


@pytest.mark.parametrize("mode, ties", [("max", "all"), ("max", "first"), ("max", "split"),
                                        ("average", "all")])
@pytest.mark.parametrize("hp", [{"f": 3, "stride": 1}, {"f": 2}, {"f": [2, 3], "stride": [3, 2]}])
def test_pool_threaded_equals_reference(threaded, hp, mode, ties, monkeypatch):
    # dA_prev starts as NaN: a block that a thread forgets to zero shows.
    monkeypatch.setattr(pool_module, "_gradient_buffer", lambda g, dtype: np.full(g.in_shape, np.nan, dtype))
    rng = np.random.default_rng(6)
    A = rng.integers(0, 4, (9, 8, 7, 3)).astype(float)  # small integers: ties happen
    hp = {**hp, "ties": ties}
    out, cache = cc.pool_forward(A, hp, mode=mode)
    out_r, cache_r = cc.pool_forward(A, hp, mode=mode, engine="reference")
    dA = rng.standard_normal(out.shape)
    np.testing.assert_allclose(out, out_r, rtol=1e-12)
    np.testing.assert_allclose(cc.pool_backward(dA, cache, mode=mode), cc.pool_backward(dA, cache_r, mode=mode),
                               rtol=1e-12, atol=1e-15)
    assert len(threaded) >= 2, "the threaded branch did not run"


def test_threaded_results_do_not_depend_on_timing(threaded):
    """Partial dW sums are combined in a fixed order: the same call twice gives
    bit-identical results."""
    rng = np.random.default_rng(7)
    A, W, b = rng.standard_normal((8, 9, 9, 3)), rng.standard_normal((3, 3, 3, 5)), np.zeros(5)
    Z, cache = cc.conv_forward(A, W, b, {"pad": 1})
    first = cc.conv_backward(Z, cache)
    for _ in range(3):
        for a, b_ in zip(first, cc.conv_backward(Z, cache)):
            assert np.array_equal(a, b_)


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_bad_convcli_threads_is_named(monkeypatch, value):
    monkeypatch.setenv("CONVCLI_THREADS", value)
    with pytest.raises(ValueError, match="CONVCLI_THREADS"):
        cc.conv_forward(np.ones((1, 3, 3, 1)), np.ones((2, 2, 1, 1)), np.zeros(1), {})


def test_split_is_contiguous_and_balanced():
    assert parallel.split(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert parallel.split([1], 4) == [[1]]


def test_errstate_holds_in_every_thread(threaded):
    """np.errstate is a context variable: the worker threads run in a copy of
    the caller's context, so an overflow the caller chose to ignore does not
    warn (pytest turns warnings into errors here) from another thread."""
    A = np.full((8, 6, 6, 2), 3e38, dtype=np.float32)
    W = np.ones((3, 3, 2, 2), dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        Z, cache = cc.conv_forward(A, W, np.zeros(2, np.float32), {"pad": 1})
        cc.conv_backward(Z, cache)
    assert np.isinf(Z).all()
    assert len(threaded) >= 2, "the threaded branch did not run"


def test_results_are_the_same_bits_while_another_region_runs(threaded):
    """A region that finds the lock taken (another thread of the caller's is
    running a layer) runs the same groups serially: the partial dW sums are
    grouped as on threads, so the gradients are the same bits."""
    rng = np.random.default_rng(11)
    A, W, b = rng.standard_normal((8, 9, 9, 3)), rng.standard_normal((3, 3, 3, 5)), np.zeros(5)
    dZ = rng.standard_normal((8, 9, 9, 5))
    _, cache = cc.conv_forward(A, W, b, {"pad": 1})
    alone = cc.conv_backward(dZ, cache)
    assert len(threaded) >= 2, "the threaded branch did not run"
    with parallel._lock:  # as if another thread were inside map_blocks
        busy = cc.conv_backward(dZ, cache)
    for a, b_ in zip(alone, busy):
        assert np.array_equal(a, b_)


def _layers_in_child(conn, A, W, expected) -> None:
    Z = cc.conv_forward(A, W, np.zeros(W.shape[-1]), {"pad": 1})[0]
    P = cc.pool_forward(Z, {"f": 2})[0]
    conn.send(bool(np.array_equal(P, expected)))
    conn.close()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="fork is POSIX's")
def test_a_forked_child_runs_threaded_layers_after_its_parent_did(threaded):
    """A review's repro: once the parent had run a threaded layer, a child
    forked from it (multiprocessing's default start on Linux: a grader's
    Pool) waited forever in map_blocks, its inherited pool having no
    threads. The child now makes its own, and gets the parent's numbers."""
    import multiprocessing

    rng = np.random.RandomState(0)
    A, W = rng.randn(32, 32, 32, 8), rng.randn(3, 3, 8, 16)
    Z = cc.conv_forward(A, W, np.zeros(16), {"pad": 1})[0]
    expected = cc.pool_forward(Z, {"f": 2})[0]
    assert threaded and parallel._state.get("pool") is not None  # the parent's threads ran
    ctx = multiprocessing.get_context("fork")
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=_layers_in_child, args=(theirs, A, W, expected))
    child.start()
    try:
        assert ours.poll(60), "the forked child hung"
        assert ours.recv() is True
    finally:
        child.join(5)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0


def _threads_in_child(conn) -> None:
    conn.send(parallel.threads())
    conn.close()


def _forked_child_threads() -> int:
    """parallel.threads() as a child forked now sees it."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=_threads_in_child, args=(theirs,))
    child.start()
    assert ours.poll(60), "the forked child hung"
    threads = ours.recv()
    child.join(10)
    return threads


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="fork is POSIX's")
def test_a_child_forked_while_a_region_sets_its_limit_gets_blas_s_threads_back(monkeypatch):
    """A review: a region holds BLAS to one thread before it keeps the
    limiter that the forked child restores; a child forked in between kept
    one thread for good (2 of 60 forks while streamed chunks ran). The
    region now notes BLAS's threads first: here BLAS is held and the note
    made, as in that moment, with no limiter kept."""
    monkeypatch.delenv("CONVCLI_THREADS", raising=False)
    before = parallel.threads()
    if before < 2:
        pytest.skip(f"NumPy's BLAS runs on {before} thread here: nothing to hold to one")
    with parallel._blas().limit(limits=1):  # (as a context: threadpoolctl then lets other threads set it after)
        monkeypatch.setitem(parallel._state, "blas_threads", before)
        assert parallel.threads() == 1 and "limiter" not in parallel._state
        assert _forked_child_threads() == before
    assert parallel.threads() == before


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="fork is POSIX's")
def test_a_child_forked_while_a_region_runs_gets_blas_s_threads_back(monkeypatch):
    """A review: a child forked while another thread ran a region inherited
    BLAS held to one thread, and stayed single-threaded for good."""
    import threading

    monkeypatch.delenv("CONVCLI_THREADS", raising=False)
    before = parallel.threads()
    if before < 2:
        pytest.skip(f"NumPy's BLAS runs on {before} thread here: nothing to hold to one")
    inside, release = threading.Event(), threading.Event()

    def hold(group):
        inside.set()
        release.wait(30)
        return group

    runner = threading.Thread(target=parallel.map_blocks, args=(hold, list(range(8))), kwargs={"min_blocks_per_thread": 1})
    runner.start()
    try:
        assert inside.wait(30) and parallel.threads() == 1  # the region holds BLAS to one thread
        assert _forked_child_threads() == before
    finally:
        release.set()
        runner.join(30)
    assert parallel.threads() == before
