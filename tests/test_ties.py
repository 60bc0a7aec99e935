"""Max-pool backward when a window holds its maximum more than once.

Every expected dA_prev below is worked out by hand in the comments:
``all`` gives every tied maximum the full gradient, ``first`` only the first
in row-major window order, ``split`` an equal share; overlapping windows add.
"""

from __future__ import annotations

import numpy as np
import pytest

import convcli as cc

ENGINES = ["fast", "reference"]


def nhwc(rows):
    """A 2-D list -> one sample, one channel: shape (1, n_H, n_W, 1)."""
    return np.array(rows, dtype=np.float64)[None, :, :, None]


def pool_grad(x, dA, hp, ties, engine):
    A, cache = cc.pool_forward(nhwc(x), {**hp, "ties": ties}, mode="max", engine=engine)
    return A[0, :, :, 0], cc.pool_backward(nhwc(dA), cache, mode="max")[0, :, :, 0]


# One 2x2 window, max 3 twice (top-left, bottom-left), upstream gradient 2.
TWO_TIED = ([[3, 1],
             [3, 0]], [[2]])
# One 2x2 window, max 5 three times, upstream gradient 3.
THREE_TIED = ([[5, 5],
               [1, 5]], [[3]])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "case, ties, expected",
    [
        (TWO_TIED, "all", [[2, 0], [2, 0]]),  # both 3s get the full 2
        (TWO_TIED, "first", [[2, 0], [0, 0]]),  # (0,0) comes first row-major
        (TWO_TIED, "split", [[1, 0], [1, 0]]),  # 2 / 2 each
        (THREE_TIED, "all", [[3, 3], [0, 3]]),
        (THREE_TIED, "first", [[3, 0], [0, 0]]),
        (THREE_TIED, "split", [[1, 1], [0, 1]]),  # 3 / 3 each
    ],
    ids=["2-all", "2-first", "2-split", "3-all", "3-first", "3-split"],
)
def test_single_window(case, ties, expected, engine):
    x, dA = case
    A, dA_prev = pool_grad(x, dA, {"f": 2}, ties, engine)
    assert A.tolist() == [[max(map(max, x))]]
    np.testing.assert_array_equal(dA_prev, expected)


# Overlapping windows, f 2, stride 1, over a 2x3 input:
#   x = [[1, 4, 4],      window 0 (columns 0-1): [[1, 4], [4, 0]], max 4 at (0,1) and (1,0)
#        [4, 0, 2]]      window 1 (columns 1-2): [[4, 4], [0, 2]], max 4 at (0,1) and (0,2)
# Upstream dA = [[1, 10]] (distinct, to see whose share lands where). (0,1) is
# a maximum of both windows, so it collects from both.
OVERLAP_X = [[1, 4, 4],
             [4, 0, 2]]
OVERLAP_DA = [[1, 10]]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "ties, expected",
    [
        # all:   window 0 -> (0,1) += 1, (1,0) += 1; window 1 -> (0,1) += 10, (0,2) += 10
        ("all", [[0, 11, 10], [1, 0, 0]]),
        # first: window 0 -> (0,1) += 1; window 1 -> (0,1) += 10
        ("first", [[0, 11, 0], [0, 0, 0]]),
        # split: window 0 -> (0,1), (1,0) += 0.5; window 1 -> (0,1), (0,2) += 5
        ("split", [[0, 5.5, 5], [0.5, 0, 0]]),
    ],
)
def test_overlapping_windows_add_up(ties, expected, engine):
    A, dA_prev = pool_grad(OVERLAP_X, OVERLAP_DA, {"f": 2, "stride": 1}, ties, engine)
    np.testing.assert_array_equal(A, [[4, 4]])
    np.testing.assert_array_equal(dA_prev, expected)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("ties", ["all", "first", "split"])
def test_centre_is_the_max_of_four_windows(ties, engine):
    """f 2, stride 1 on 3x3 with a unique maximum in the centre: it is the max
    of all four windows and collects 1 + 2 + 3 + 4 = 10 under every rule."""
    x = [[0, 1, 0],
         [2, 9, 3],
         [0, 4, 0]]
    A, dA_prev = pool_grad(x, [[1, 2], [3, 4]], {"f": 2, "stride": 1}, ties, engine)
    np.testing.assert_array_equal(A, [[9, 9], [9, 9]])
    np.testing.assert_array_equal(dA_prev, [[0, 0, 0], [0, 10, 0], [0, 0, 0]])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("ties", ["all", "first", "split"])
@pytest.mark.parametrize("stride", [1, 2])
def test_an_infinite_or_nan_gradient_goes_only_where_the_mask_is(ties, stride, engine):
    """A review against PyTorch: with inf or NaN in dA, max pool's backward
    gave NaN at every element of the window that is not its maximum (the
    mask's 0 times inf); PyTorch's max_pool2d gives those 0. By hand, the
    same windows as test_overlapping_windows_add_up: the unique maximum of
    window 0 ((0, 0) here) takes its gradient, nothing else in it."""
    x = [[9, 4, 4],
         [4, 0, 2]]
    for bad in (np.inf, -np.inf, np.nan):
        dA = [[bad, 10]] if stride == 1 else [[bad]]
        _, dA_prev = pool_grad(x, dA, {"f": 2, "stride": stride}, ties, engine)
        # window 1 (stride 1): 4, 4 tied at (0,1), (0,2) of [[4, 4], [0, 2]]
        second = {"all": [10, 10], "first": [10, 0], "split": [5, 5]}[ties] if stride == 1 else [0, 0]
        np.testing.assert_array_equal(dA_prev, [[bad, *second], [0, 0, 0]])


@pytest.mark.parametrize("engine", ENGINES)
def test_ties_per_channel_and_sample(engine):
    """Each (sample, channel) has its own windows: channel 0 ties, channel 1
    does not; sample 1 ties elsewhere. f 2, one window each, dA = 4."""
    x = np.zeros((2, 2, 2, 2))
    x[0, :, :, 0] = [[7, 7], [0, 0]]  # tie at (0,0), (0,1)
    x[0, :, :, 1] = [[0, 1], [2, 0]]  # unique max at (1,0)
    x[1, :, :, 0] = [[0, 6], [0, 6]]  # tie at (0,1), (1,1)
    x[1, :, :, 1] = [[-1, -1], [-1, -1]]  # all four tied
    dA = np.full((2, 1, 1, 2), 4.0)
    expected = {
        "all": ([[4, 4], [0, 0]], [[0, 0], [4, 0]], [[0, 4], [0, 4]], [[4, 4], [4, 4]]),
        "first": ([[4, 0], [0, 0]], [[0, 0], [4, 0]], [[0, 4], [0, 0]], [[4, 0], [0, 0]]),
        "split": ([[2, 2], [0, 0]], [[0, 0], [4, 0]], [[0, 2], [0, 2]], [[1, 1], [1, 1]]),
    }
    for ties, (e00, e01, e10, e11) in expected.items():
        _, cache = cc.pool_forward(x, {"f": 2, "ties": ties}, engine=engine)
        dA_prev = cc.pool_backward(dA, cache)
        np.testing.assert_array_equal(dA_prev[0, :, :, 0], e00, err_msg=ties)
        np.testing.assert_array_equal(dA_prev[0, :, :, 1], e01, err_msg=ties)
        np.testing.assert_array_equal(dA_prev[1, :, :, 0], e10, err_msg=ties)
        np.testing.assert_array_equal(dA_prev[1, :, :, 1], e11, err_msg=ties)


@pytest.mark.parametrize("engine", ENGINES)
def test_average_ignores_ties(engine):
    """Average pooling has no maximum: each of the 4 cells gets dA / 4 whatever
    the values, and overlapping shares add (f 2, stride 1 on 2x3)."""
    _, cache = cc.pool_forward(nhwc(OVERLAP_X), {"f": 2, "stride": 1, "ties": "first"},
                               mode="average", engine=engine)
    dA_prev = cc.pool_backward(nhwc(OVERLAP_DA), cache, mode="average")[0, :, :, 0]
    # columns: 0 gets 1/4, 1 gets 1/4 + 10/4, 2 gets 10/4, in both rows
    np.testing.assert_array_equal(dA_prev, [[0.25, 2.75, 2.5], [0.25, 2.75, 2.5]])


@pytest.mark.parametrize("f, stride", [(2, 2), ((3, 2), (3, 2)), (2, 3), ((2, 3), (4, 3))])
def test_first_in_windows_apart_matches_the_reference_loops(f, stride):
    """The fast engine's ties: first over windows that do not overlap cuts
    the compare mask to each window's first maximum in one pass of byte
    operations per offset (it took 3.3x ties: all's time): on small
    integers (ties everywhere, NaN in one window) it must give exactly the
    reference engine's loops, the notebook's create_mask_from_window."""
    rng = np.random.RandomState(3)
    x = rng.randint(0, 3, size=(3, 12, 12, 4)).astype(float)
    x[1, 0, 1, 2] = np.nan
    hp = {"f": f, "stride": stride, "ties": "first"}
    A, fast = cc.pool_forward(x, hp)
    dA = rng.randn(*A.shape)
    _, ref = cc.pool_forward(x, hp, engine="reference")
    np.testing.assert_array_equal(cc.pool_backward(dA, fast), cc.pool_backward(dA, ref))


@pytest.fixture(params=[True, False], ids=["separable", "per-offset"])
def separable(request, monkeypatch):
    """The fast engine's two ways to run ties: all and first over
    overlapping windows: two separable passes or one window offset at a
    time (split: always the latter); its own rule
    (pool._separable_pays, by passes over memory) picks one per layer."""
    import convcli.pool as pool_module

    monkeypatch.setattr(pool_module, "_separable_pays", lambda g: request.param)
    return request.param


@pytest.mark.parametrize("engine", ENGINES)
def test_ties_all_over_overlapping_3x3_windows(engine, separable):
    """f 3, stride 1 on 4x4: four windows (origins (0,0), (0,1), (1,0),
    (1,1)). By hand: the 5s at (1,1) and (1,2) lie in all four windows and
    are each window's maximum, so each collects 1 + 10 + 100 + 1000 = 1111;
    the 5 at (3,3) lies only in window (1,1), whose maximum it ties, and
    takes its 1000. The 3 at (2,0) and the 4 at (3,1) are the largest of
    their rows' segments but no window's maximum: 0. (The fast engine may
    take such windows in two separable passes: rows' segments, then
    windows.)"""
    x = [[1, 2, 0, 0],
         [0, 5, 5, 0],
         [3, 0, 1, 2],
         [0, 4, 0, 5]]
    A, dA_prev = pool_grad(x, [[1, 10], [100, 1000]], {"f": 3, "stride": 1}, "all", engine)
    np.testing.assert_array_equal(A, [[5, 5], [5, 5]])
    np.testing.assert_array_equal(dA_prev, [[0, 0, 0, 0],
                                            [0, 1111, 1111, 0],
                                            [0, 0, 0, 0],
                                            [0, 0, 0, 1000]])


@pytest.mark.parametrize("f, stride, size", [
    (3, 1, (9, 9)), (3, 2, (8, 9)), ((3, 4), (1, 2), (7, 10)), (4, 3, (11, 8)), ((4, 3), (2, 1), (9, 6)),
])
@pytest.mark.parametrize("ties", ["all", "first"])
def test_all_over_overlapping_windows_matches_the_reference_loops(f, stride, size, ties, separable):
    """Overlapping windows with ties: all or first, which the fast engine may run in
    two separable passes (rows' segments, then windows), must give exactly the reference engine's loops on small integers: ties
    everywhere, rows or columns no window covers (8 rows, f 3, stride 2),
    NaN in the input (a window holding one has it as its maximum), and an
    infinity and a NaN in dA (each only where the mask is). dA holds small
    integers, so every sum is exact in any order."""
    rng = np.random.RandomState(5)
    x = rng.randint(0, 3, size=(3, *size, 4)).astype(float)
    x[0, 2, 3, 1] = np.nan
    x[2, 4, 4, 0] = np.nan
    hp = {"f": f, "stride": stride, "ties": ties}
    A, fast = cc.pool_forward(x, hp)
    _, ref = cc.pool_forward(x, hp, engine="reference")
    dA = rng.randint(-3, 4, size=A.shape).astype(float)
    np.testing.assert_array_equal(cc.pool_backward(dA, fast), cc.pool_backward(dA, ref))
    dA[1, 0, 1, 2], dA[2, 1, 0, 3] = np.inf, np.nan
    np.testing.assert_array_equal(cc.pool_backward(dA, fast), cc.pool_backward(dA, ref))


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e308), (np.float32, 3e38)])
def test_a_segment_gradient_that_overflows_goes_only_where_the_mask_is(dtype, big, separable):
    """A review of the separable pass: f (2, 3), stride 1 on 3x4. Windows
    (0,0) and (1,0) (columns 0-2) have their maximum 5 at (1,0); windows
    (0,1) and (1,1) (columns 1-3) at (1,3). dA = [[big, -big], [big, -big]]
    sums to 0, finite, so the gradient is spread by multiplying; (1,0)
    collects big + big = inf and (1,3) -inf, as in the reference's loops.
    In the separable pass that inf is the gradient of row 1's segment over
    columns 0-2, whose 0s at (1,1) and (1,2) must get 0, not 0 * inf = NaN."""
    x = np.zeros((1, 3, 4, 1), dtype)
    x[0, 1, 0] = x[0, 1, 3] = 5
    dA = np.array([[big, -big], [big, -big]], dtype)[None, :, :, None]
    hp = {"f": [2, 3], "stride": 1, "ties": "all"}
    expected = np.zeros((3, 4), dtype)
    expected[1, 0], expected[1, 3] = np.inf, -np.inf
    for engine in ENGINES:
        _, cache = cc.pool_forward(x, hp, engine=engine)
        with np.errstate(over="ignore"):
            np.testing.assert_array_equal(cc.pool_backward(dA, cache)[0, :, :, 0], expected, err_msg=engine)


@pytest.mark.parametrize("ties", ["all", "first"])
def test_all_over_overlapping_windows_in_blocks_on_two_threads(ties, separable, monkeypatch):
    """The same on 8 samples with a block a sample (CHUNK_BYTES 1) on two
    threads: each block's pass writes its own samples of dA_prev."""
    import convcli.pool as pool_module

    monkeypatch.setattr(pool_module, "CHUNK_BYTES", 1)
    monkeypatch.setenv("CONVCLI_THREADS", "2")
    rng = np.random.RandomState(7)
    x = rng.randint(0, 3, size=(8, 9, 10, 3)).astype(float)
    x[5, 1, 2, 0] = np.nan
    hp = {"f": 3, "stride": 1, "ties": ties}
    A, fast = cc.pool_forward(x, hp)
    _, ref = cc.pool_forward(x, hp, engine="reference")
    dA = rng.randint(-3, 4, size=A.shape).astype(float)
    np.testing.assert_array_equal(cc.pool_backward(dA, fast), cc.pool_backward(dA, ref))


@pytest.mark.parametrize("mode, ties", [("max", "all"), ("max", "first"), ("max", "split"), ("average", "all")])
@pytest.mark.parametrize("f, stride", [(2, 2), (3, 3), (2, 1), (3, 1), (3, 2)])
def test_a_gradient_holds_no_negative_zero(f, stride, mode, ties, separable):
    """dA_prev starts from 0 and takes its terms by adding (the reference's
    loops, PyTorch's max_pool2d and avg_pool2d), and in IEEE arithmetic 0 +
    -0 is 0: so no element of it is -0, which NumPy prints as ``-0.``.
    The fast engine wrote 0 * dA (-0 where dA < 0) into every element a
    window of f 2 stride 2 did not take, and dA / 4 (-0 for a -0 of dA)
    straight into an average's. dA below: negative numbers, -0 (what
    a ReLU's backward passes on where its input was negative) and the
    smallest negative number, which split among a window's tied maxima
    (or averaged) rounds to -0 (a review)."""
    rng = np.random.RandomState(11)
    x = rng.randint(0, 4, size=(2, 9, 9, 3)).astype(float)
    dA_shape = cc.pool_forward(x, {"f": f, "stride": stride}, mode)[0].shape
    dA = -rng.randint(1, 4, size=dA_shape).astype(float)
    dA[:, ::2] = -0.0
    dA[:, 1::4] = -np.nextafter(0.0, 1.0)
    for engine in ENGINES:
        _, cache = cc.pool_forward(x, {"f": f, "stride": stride, "ties": ties}, mode, engine=engine)
        dA_prev = cc.pool_backward(dA, cache, mode)
        zeros = dA_prev == 0
        assert zeros.any() and not np.signbit(dA_prev[zeros]).any(), engine


def test_a_cache_holding_a_big_endian_input_gives_the_gradient_not_its_bytes():
    """A review: the mask ANDs the gradient's bits into dA_prev's, so both
    must be of one dtype; a cache whose A_prev was swapped for a big-endian
    copy (the state still there) gave 2.8e-319 where 0.5 belongs. By hand:
    one 2x2 window, maximum 4 at (1, 0), dA 0.5."""
    x = np.array([[1.0, 2.0], [4.0, 3.0]])[None, :, :, None]
    A, cache = cc.pool_forward(x, {"f": 2})
    (_, hp), state = cache, cache.state
    for ties in ("all", "split"):
        hp = {**hp, "ties": ties}
        dA_prev = cc.pool_backward(np.full(A.shape, 0.5), (x.astype(">f8"), hp, state))
        np.testing.assert_array_equal(dA_prev[0, :, :, 0], [[0, 0], [0.5, 0]])


@pytest.mark.parametrize("f, stride, size", [
    (3, 1, (9, 9)), (3, 2, (8, 9)), ((3, 4), (1, 2), (7, 10)), (4, 3, (11, 8)), ((4, 3), (2, 1), (9, 6)),
])
def test_split_over_overlapping_windows_matches_the_reference_loops(f, stride, size, separable):
    """ties: split, which the fast engine may run in the two separable passes
    too (each window's count of maxima the sum of its segments' that hold
    its maximum), against the reference engine's loops, on small integers
    with ties everywhere and NaN in the input, an infinity and a NaN in dA:
    the same values but for rounding (the reference multiplies by 1 / count,
    the fast engine divides), NaN and infinities in the same places."""
    rng = np.random.RandomState(9)
    x = rng.randint(0, 3, size=(3, *size, 4)).astype(float)
    x[0, 2, 3, 1] = np.nan
    hp = {"f": f, "stride": stride, "ties": "split"}
    A, fast = cc.pool_forward(x, hp)
    _, ref = cc.pool_forward(x, hp, engine="reference")
    dA = rng.randint(-3, 4, size=A.shape).astype(float)
    for bad in (None, np.inf, np.nan):
        if bad is not None:
            dA[1, 0, 1, 2] = bad
        np.testing.assert_allclose(cc.pool_backward(dA, fast), cc.pool_backward(dA, ref), rtol=1e-12, atol=1e-12)
