"""The seed notebook and the course it follows, reproduced.

Expected values come from the seed notebook's printed output (the project's
seed, ``000_bd8738a64045b95f.txt``, which this repository does not ship), from the course's printed outputs ("Convolution model -
Step by Step", the version with ``pad 2, stride 2`` in its conv example), from
hand computations written out in the tests, or from an independent NumPy
computation (``sliding_window_view`` + ``einsum``) that shares no code with
convcli.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import convcli as cc
from helpers import assert_rel

ENGINES = ["fast", "reference"]


def seed_case():
    """The notebook's arrays: seed 1, then A_prev, W, b drawn in that order."""
    np.random.seed(1)
    A_prev = np.random.randn(10, 4, 4, 3)
    W = np.random.randn(2, 2, 3, 8)
    b = np.random.randn(1, 1, 1, 8)
    return A_prev, W, b


def einsum_conv(A_prev, W, b, pad, stride):
    """Correct ('once') convolution, built without convcli: pad by hand, take
    every f x f window, contract (window rows, cols, channels) with W."""
    f = W.shape[0]
    A_pad = np.pad(A_prev, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    # windows: (m, n_H, n_W, C_prev, f, f), one per stride-1 position
    win = sliding_window_view(A_pad, (f, f), axis=(1, 2))[:, ::stride, ::stride]
    return np.einsum("mhwcij,ijcn->mhwn", win, W) + b.reshape(1, 1, 1, -1)


def notebook_conv_backward(dZ, A_prev, W, pad, stride):
    """The seed notebook's conv_backward loops, as printed (valid for pad > 0).

    The backward does not depend on the bias mode, so this is the oracle for
    the gradients of the 'once' case, whose numbers the notebook never printed.
    """
    m, n_H_prev, n_W_prev, n_C_prev = A_prev.shape
    f, _, _, n_C = W.shape
    _, n_H, n_W, _ = dZ.shape
    dA_prev = np.zeros(A_prev.shape)
    dW = np.zeros(W.shape)
    db = np.zeros((1, 1, 1, n_C))
    A_prev_pad = np.pad(A_prev, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dA_prev_pad = np.zeros(A_prev_pad.shape)
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    vs, hs = h * stride, w * stride
                    a_slice = A_prev_pad[i, vs:vs + f, hs:hs + f, :]
                    dA_prev_pad[i, vs:vs + f, hs:hs + f, :] += W[:, :, :, c] * dZ[i, h, w, c]
                    dW[:, :, :, c] += a_slice * dZ[i, h, w, c]
                    db[:, :, :, c] += dZ[i, h, w, c]
        dA_prev[i] = dA_prev_pad[i, pad:-pad, pad:-pad, :]
    return dA_prev, dW, db


# ----------------------------------------------------------------- the seed notebook's numbers


@pytest.mark.parametrize("engine", ENGINES)
def test_seed_notebook_means_with_window_bias(engine):
    A_prev, W, b = seed_case()
    hp = {"pad": 2, "stride": 1, "bias": "window"}
    Z, cache = cc.conv_forward(A_prev, W, b, hp, engine=engine)
    dA, dW, db = cc.conv_backward(Z, cache)
    # printed by the seed notebook
    assert np.mean(dA) == pytest.approx(9.608990675868995, rel=1e-9, abs=0)
    assert np.mean(dW) == pytest.approx(10.581741275547566, rel=1e-9, abs=0)
    assert np.mean(db) == pytest.approx(76.37106919563735, rel=1e-9, abs=0)
    assert dA.shape == A_prev.shape and dW.shape == W.shape and db.shape == b.shape


@pytest.mark.parametrize("engine", ENGINES)
def test_once_bias_is_the_correct_convolution(engine):
    """Default bias 'once' == an independent convolution; it differs from the
    notebook's 'window' result by exactly b * (f*f*n_C_prev)."""
    A_prev, W, b = seed_case()
    Z_once, _ = cc.conv_forward(A_prev, W, b, {"pad": 2, "stride": 1}, engine=engine)
    Z_window, _ = cc.conv_forward(A_prev, W, b, {"pad": 2, "stride": 1, "bias": "window"},
                                  engine=engine)
    expected = einsum_conv(A_prev, W, b, pad=2, stride=1)
    assert Z_once.shape == (10, 7, 7, 8)
    assert_rel(Z_once, expected, 1e-12, "Z (bias once) vs einsum")
    K = 2 * 2 * 3  # f*f*n_C_prev
    # 'window' counts b K times where 'once' counts it once: Z_window is the
    # bias-free sum plus b*K, and Z_window - Z_once = b*(K-1), per channel.
    no_bias = einsum_conv(A_prev, W, np.zeros_like(b), pad=2, stride=1)
    assert_rel(Z_window, no_bias + b * K, 1e-12, "Z (bias window) vs einsum + b*K")
    diff = Z_window - Z_once
    assert_rel(diff, np.broadcast_to(b * (K - 1), diff.shape), 1e-12, "window - once")
    assert not np.allclose(Z_window, Z_once)


@pytest.mark.parametrize("engine", ENGINES)
def test_once_bias_gradients_match_the_notebook_backward(engine):
    """The 'once' case's gradient means (other numbers than the notebook's),
    checked against the notebook's own backward loops run on an independent Z."""
    A_prev, W, b = seed_case()
    Z, cache = cc.conv_forward(A_prev, W, b, {"pad": 2, "stride": 1}, engine=engine)
    dA, dW, db = cc.conv_backward(Z, cache)
    Z_oracle = einsum_conv(A_prev, W, b, pad=2, stride=1)
    eA, eW, eb = notebook_conv_backward(Z_oracle, A_prev, W, pad=2, stride=1)
    assert_rel(dA, eA, 1e-12, "dA_prev")
    assert_rel(dW, eW, 1e-12, "dW")
    assert_rel(db, eb, 1e-12, "db")
    # The two bias modes really give other numbers.
    assert abs(np.mean(dA) - 9.608990675868995) > 1e-3


@pytest.mark.parametrize("engine", ENGINES)
def test_course_conv_pad2_stride2(engine):
    """The course's printed conv_forward / conv_backward outputs (bias once,
    pad 2, stride 2, same arrays as the seed); printed to ~12 digits."""
    A_prev, W, b = seed_case()
    Z, cache = cc.conv_forward(A_prev, W, b, {"pad": 2, "stride": 2}, engine=engine)
    assert np.mean(Z) == pytest.approx(0.0489952035289, rel=1e-10)
    np.testing.assert_allclose(
        Z[3, 2, 1],
        [-0.61490741, -6.7439236, -2.55153897, 1.75698377,
         3.56208902, 0.53036437, 5.18531798, 8.75898442],
        rtol=0, atol=6e-9,
    )
    np.testing.assert_allclose(cache[0][1][2][3], [-0.20075807, 0.18656139, 0.41005165],
                               rtol=0, atol=6e-9)
    dA, dW, db = cc.conv_backward(Z, cache)
    assert np.mean(dA) == pytest.approx(1.45243777754, rel=1e-10)
    assert np.mean(dW) == pytest.approx(1.72699145831, rel=1e-10)
    assert np.mean(db) == pytest.approx(7.83923256462, rel=1e-10)


@pytest.mark.parametrize("engine", ENGINES)
def test_course_pool_backward(engine):
    """The course's printed pool_backward outputs (f 2, stride 1)."""
    np.random.seed(1)
    A_prev = np.random.randn(5, 5, 3, 2)
    hp = {"stride": 1, "f": 2}
    dA = np.random.randn(5, 4, 2, 2)
    assert np.mean(dA) == pytest.approx(0.145713902729, rel=1e-10)
    _, cache = cc.pool_forward(A_prev, hp, mode="max", engine=engine)
    np.testing.assert_allclose(
        cc.pool_backward(dA, cache, mode="max")[1, 1],
        [[0, 0], [5.05844394, -1.68282702], [0, 0]], rtol=0, atol=6e-9)
    # The course's own test takes the average gradient from that max pool's cache too (pool_forward's
    # default mode): correct code, so no warning (an engineer's review asked for one; pytest's
    # filterwarnings = error would fail this line if it came)
    np.testing.assert_allclose(
        cc.pool_backward(dA, cache, mode="average")[1, 1],
        [[0.08485462, 0.2787552], [1.26461098, -0.25749373], [1.17975636, -0.53624893]],
        rtol=0, atol=6e-9)
    _, cache = cc.pool_forward(A_prev, hp, mode="average", engine=engine)
    np.testing.assert_allclose(
        cc.pool_backward(dA, cache, mode="average")[1, 1],
        [[0.08485462, 0.2787552], [1.26461098, -0.25749373], [1.17975636, -0.53624893]],
        rtol=0, atol=6e-9)
    # The course's signature is pool_backward(dA, cache, mode="max"): with no
    # mode, the max gradient, whatever mode the forward ran in; after an
    # average pool, with a warning (the likely slip), never a silent one.
    with pytest.warns(UserWarning, match="this cache is an average pool's and mode is 'max'"):
        got = cc.pool_backward(dA, cache)
    np.testing.assert_allclose(got[1, 1], [[0, 0], [5.05844394, -1.68282702], [0, 0]], rtol=0, atol=6e-9)


@pytest.mark.parametrize("engine", ENGINES)
def test_notebook_style_caches(engine):
    """A cache as the notebook builds it -- (A_prev, W, b, hparameters) and
    (A_prev, hparameters), nothing after -- is enough for backward."""
    A_prev, W, b = seed_case()
    hp = {"pad": 2, "stride": 1}
    Z = einsum_conv(A_prev, W, b, pad=2, stride=1)
    got = cc.conv_backward(Z, (A_prev, W, b, hp), engine=engine)
    for name, x, y in zip(("dA_prev", "dW", "db"), got,
                          notebook_conv_backward(Z, A_prev, W, pad=2, stride=1)):
        assert_rel(x, y, 1e-12, name)
    np.random.seed(1)
    A_prev = np.random.randn(5, 5, 3, 2)
    dA = np.random.randn(5, 4, 2, 2)
    dA_prev = cc.pool_backward(dA, (A_prev, {"stride": 1, "f": 2}), mode="max", engine=engine)
    np.testing.assert_allclose(dA_prev[1, 1], [[0, 0], [5.05844394, -1.68282702], [0, 0]],
                               rtol=0, atol=6e-9)  # the course's printed values


@pytest.mark.parametrize("engine", ENGINES)
def test_the_cache_holds_the_keys_the_notebooks_loops_read(engine):
    """A review: hparameters left at their defaults ({"pad": 2}, no stride;
    a pool's {"f": 2}) were kept as given, and a notebook-style backward on
    convcli's cache, reading hparameters['stride'], raised KeyError. The
    cache holds them filled in, the caller's dict untouched; the
    notebook's own loops then make convcli's gradients."""
    A_prev, W, b = seed_case()
    hp = {"pad": 2}
    Z, cache = cc.conv_forward(A_prev, W, b, hp, engine=engine)
    (A, W_, _, hparameters) = cache
    assert hparameters == {"pad": 2, "stride": 1} and hp == {"pad": 2}
    mine = notebook_conv_backward(Z, A, W_, pad=hparameters["pad"], stride=hparameters["stride"])
    for name, x, y in zip(("dA_prev", "dW", "db"), cc.conv_backward(Z, cache), mine):
        assert_rel(x, y, 1e-12, name)
    assert cc.conv_forward(A_prev, W, b, {"stride": 2}, engine=engine)[1][3] == {"stride": 2, "pad": 0}
    given = {"stride": 1, "pad": 2}
    kept = cc.conv_forward(A_prev, W, b, given, engine=engine)[1][3]
    assert kept == given and kept is not given  # nothing left out: still a copy, which a later change leaves be
    for hp, kept in (({"f": 2}, {"f": 2, "stride": 2}), ({"f": [2, 1]}, {"f": [2, 1], "stride": [2, 1]}),
                     ({"f": 2, "stride": 1}, {"f": 2, "stride": 1})):
        assert cc.pool_forward(A_prev, hp, engine=engine)[1][1] == kept


# ----------------------------------------------------------------- the helpers


def test_zero_pad_course_example():
    np.random.seed(1)
    x = np.random.randn(4, 3, 3, 2)
    x_pad = cc.zero_pad(x, 2)
    assert x_pad.shape == (4, 7, 7, 2)
    # printed by the course
    np.testing.assert_allclose(
        x[1, 1], [[0.90085595, -0.68372786], [-0.12289023, -0.93576943],
                  [-0.26788808, 0.53035547]], rtol=0, atol=6e-9)
    assert np.array_equal(x_pad[1, 1], np.zeros((7, 2)))


@pytest.mark.parametrize(
    "pad, widths",
    [
        (0, ((0, 0), (0, 0))),
        (1, ((1, 1), (1, 1))),
        ([2, 1], ((2, 2), (1, 1))),
        ([0, 2, 3, 1], ((0, 2), (3, 1))),
    ],
)
def test_zero_pad_matches_np_pad(pad, widths):
    x = np.random.RandomState(0).randn(2, 3, 4, 2)
    got = cc.zero_pad(x, pad)
    (t, bo), (l, r) = widths
    expected = np.zeros((2, 3 + t + bo, 4 + l + r, 2))
    expected[:, t:t + 3, l:l + 4, :] = x  # the values land unchanged, zeros around
    assert got.shape == expected.shape
    assert np.array_equal(got, expected)
    assert np.array_equal(got, np.pad(x, ((0, 0), (t, bo), (l, r), (0, 0))))


def test_conv_single_step_by_hand():
    a = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(2, 2, 1)
    W = np.array([[0.5, -1.0], [2.0, 0.25]]).reshape(2, 2, 1)
    b = np.array(0.5).reshape(1, 1, 1)
    # 1*0.5 + 2*(-1) + 3*2 + 4*0.25 = 0.5 - 2 + 6 + 1 = 5.5
    assert cc.conv_single_step(a, W, b) == 5.5 + 0.5
    assert cc.conv_single_step(a, W, b, bias="once") == 6.0
    # window: b is added to each of the 4 products before summing
    assert cc.conv_single_step(a, W, b, bias="window") == 5.5 + 4 * 0.5


def test_conv_single_step_course_example():
    np.random.seed(1)
    a_slice_prev = np.random.randn(4, 4, 3)
    W = np.random.randn(4, 4, 3)
    b = np.random.randn(1, 1, 1)
    # printed by the course (bias added once)
    assert cc.conv_single_step(a_slice_prev, W, b) == pytest.approx(-6.99908945068, rel=1e-10)
    # the seed's version adds b to all 48 products
    assert cc.conv_single_step(a_slice_prev, W, b, bias="window") == pytest.approx(
        -6.99908945068 + 47 * b.item(), rel=1e-10)


def test_create_mask_from_window_course_example():
    np.random.seed(1)
    x = np.random.randn(2, 3)
    np.testing.assert_allclose(x, [[1.62434536, -0.61175641, -0.52817175],
                                   [-1.07296862, 0.86540763, -2.3015387]], rtol=0, atol=6e-9)
    mask = cc.create_mask_from_window(x)
    assert np.array_equal(mask, [[True, False, False], [False, False, False]])


@pytest.mark.parametrize(
    "ties, expected",
    [
        ("all", [[0, 1, 0], [0, 1, 1]]),
        ("first", [[0, 1, 0], [0, 0, 0]]),
        ("split", [[0, 1 / 3, 0], [0, 1 / 3, 1 / 3]]),
    ],
)
def test_create_mask_from_window_ties_by_hand(ties, expected):
    x = np.array([[1.0, 7.0, -2.0], [0.0, 7.0, 7.0]])  # the max 7 three times
    mask = cc.create_mask_from_window(x, ties=ties)
    assert mask.shape == x.shape
    np.testing.assert_array_equal(np.asarray(mask, dtype=float), expected)


@pytest.mark.parametrize("ties, expected", [("all", True), ("first", True), ("split", 1.0)])
@pytest.mark.parametrize("x", [np.float64("nan"), np.array(np.nan), np.float64(3.0), 2.5])
def test_create_mask_from_window_of_one_number(x, ties, expected):
    """A review: a 0-d NaN window raised a TypeError from inside NumPy (its
    mask's NumPy scalars take no out=), where a finite one and a 1x1 NaN
    window gave True. By hand: a window of one number is its own maximum.
    The mask is an ndarray of x's shape, as documented, for each (a review:
    a NumPy scalar for a finite one, a 0-d array for a NaN)."""
    mask = cc.create_mask_from_window(x, ties=ties)
    assert type(mask) is np.ndarray and mask.shape == np.shape(x) and mask.item() == expected
    assert mask.dtype == (np.float64 if ties == "split" else np.bool_)


def test_distribute_value_course_example():
    a = cc.distribute_value(2, (2, 2))
    np.testing.assert_array_equal(a, [[0.5, 0.5], [0.5, 0.5]])
    # a rectangular window: 3 / 6 each
    np.testing.assert_array_equal(cc.distribute_value(3.0, (2, 3)), np.full((2, 3), 0.5))


def test_conv_single_step_computes_integers_as_conv_forward_does():
    """uint8 pixels: 200 * 2 over a 2x2x3 window is 4800 by hand; in uint8 the
    products wrap around (to 1728). DESIGN section 1: inputs are cast to the
    compute dtype first, as conv_forward does."""
    a = np.full((2, 2, 3), 200, np.uint8)
    W = np.full((2, 2, 3), 2, np.uint8)
    assert cc.conv_single_step(a, W, np.zeros((1, 1, 1), np.uint8)) == 4800
    assert cc.conv_single_step(a, W, np.full((1, 1, 1), 100, np.uint8), bias="window") == 4800 + 12 * 100
    Z, _ = cc.conv_forward(a[None], W[..., None], np.zeros((1, 1, 1, 1), np.uint8), {})
    assert Z.item() == 4800


def test_zero_pad_returns_a_new_array_even_with_nothing_to_pad():
    """As np.pad (the course's zero_pad) does: writing into the result leaves X alone."""
    X = np.ones((1, 2, 2, 1))
    for pad in (0, [0, 0, 0, 0]):
        X_pad = cc.zero_pad(X, pad)
        X_pad[0, 0, 0, 0] = 99.0
        assert X[0, 0, 0, 0] == 1.0
