"""Every forward output and every gradient against PyTorch (the test-only oracle).

Conv: ``F.conv2d`` on NCHW tensors with weights (C, C_prev, f_H, f_W), padding
applied first with an explicit ``F.pad`` (asymmetric pads, ``same`` resolved
by the TensorFlow rule written out in ``helpers.resolve_pad``). Pool:
``F.max_pool2d`` (PyTorch's tie rule is ``first``), ``F.avg_pool2d``, and
``torch.amax`` over unfolded windows for ``split``. Gradients by autograd of
``sum(out * G)`` with a random upstream gradient ``G``.

The oracle computes in float64 on the very values convcli received, so a
float32 result is compared with the exact answer for its inputs.
Error measure: ``rel_err(a, b) = max|a - b| / max(max|b|, tiny)`` (max norm,
``helpers.rel_err``); at most 1e-10 in float64 and 1e-4 in float32.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import convcli as cc
import convcli.conv as conv_module
from helpers import (
    assert_rel,
    calls,
    conv_out_hw,
    pair,
    resolve_pad,
    torch_conv,
    torch_max_pool_ties,
    torch_pool,
    torch_relu,
)

pytestmark = pytest.mark.torch

TOL = {np.float64: 1e-10, np.float32: 1e-4}
DTYPES = [np.float64, np.float32]
ENGINES = ["fast", "reference"]


def close(actual, expected, dtype, what):
    assert actual.dtype == dtype, f"{what}: dtype {actual.dtype}, expected {np.dtype(dtype)}"
    assert_rel(actual, expected, TOL[dtype], what, f"vs torch, {np.dtype(dtype).name}")


# ----------------------------------------------------------------- conv

CONV_SHAPES = {
    "square 3x3": ((2, 5, 5, 3), (3, 3, 3, 4)),
    "rect 2x3": ((1, 7, 6, 2), (2, 3, 2, 3)),
    "rect 1x2": ((2, 6, 7, 1), (1, 2, 1, 2)),
}
STRIDES = [1, 2, (3, 2)]
PADS = [0, 1, (2, 1), (0, 2, 1, 0), "same", "valid"]
DILATIONS = [1, (2, 1)]


def conv_grid():
    """Every valid (shape, stride, pad, dilation) combination, by the DESIGN
    output-size formula; invalid ones are covered by test_arguments.py."""
    for (name, (A_shape, W_shape)), stride, pad, dilation in itertools.product(
            CONV_SHAPES.items(), STRIDES, PADS, DILATIONS):
        if min(conv_out_hw(A_shape, W_shape, stride, pad, dilation)) >= 1:
            yield pytest.param(A_shape, W_shape, stride, pad, dilation,
                               id=f"{name}-s{stride}-p{pad}-d{dilation}".replace(" ", ""))


CONV_GRID = list(conv_grid())


def test_conv_grid_covers_the_hard_cases():
    """The grid really holds pad 0 and strides that do not divide the padded size."""
    def divides(p):
        A_shape, W_shape, stride, pad, dilation = p.values
        n_H, n_W = conv_out_hw(A_shape, W_shape, stride, pad, dilation)
        t, b, l, r = resolve_pad(pad, A_shape[1], A_shape[2], W_shape[:2], stride, dilation)
        (s_H, s_W), (d_H, d_W) = pair(stride), pair(dilation)
        return ((A_shape[1] + t + b - d_H * (W_shape[0] - 1) - 1) % s_H == 0
                and (A_shape[2] + l + r - d_W * (W_shape[1] - 1) - 1) % s_W == 0)
    assert any(p.values[3] == 0 for p in CONV_GRID)
    assert sum(not divides(p) for p in CONV_GRID) >= 10
    assert len(CONV_GRID) >= 80


def run_conv(torch, A_prev, W, b, hp, dtype, engine, seed=0):
    """convcli vs torch on one conv layer: Z, dA_prev, dW, db."""
    A_prev, W, b = (x.astype(dtype) for x in (A_prev, W, b))
    Z, cache = cc.conv_forward(A_prev, W, b, hp, engine=engine)
    G = np.random.default_rng(seed).standard_normal(Z.shape).astype(dtype)
    grads = cc.conv_backward(G, cache)
    sides = resolve_pad(hp.get("pad", 0), A_prev.shape[1], A_prev.shape[2], W.shape[:2],
                        hp.get("stride", 1), hp.get("dilation", 1))
    return (Z,) + grads, torch_conv(
        torch, A_prev, W, b, G, stride=hp.get("stride", 1), sides=sides,
        dilation=hp.get("dilation", 1), bias=hp.get("bias", "once"))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("A_shape, W_shape, stride, pad, dilation", CONV_GRID)
def test_conv_vs_torch(A_shape, W_shape, stride, pad, dilation, dtype, engine, torch):
    rng = np.random.default_rng(0)
    A, W, b = (rng.standard_normal(A_shape), rng.standard_normal(W_shape),
               rng.standard_normal((1, 1, 1, W_shape[3])))
    hp = {"stride": stride, "pad": pad, "dilation": dilation}
    ours, theirs = run_conv(torch, A, W, b, hp, dtype, engine)
    for name, x, y in zip(("Z", "dA_prev", "dW", "db"), ours, theirs):
        close(x, y, dtype, name)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("bias", ["once", "window"])
def test_conv_bias_modes_vs_torch(bias, dtype, engine, torch):
    """The seed case: 'window' is conv2d + b*f*f*n_C_prev forward; its db is
    the standard sum of the upstream gradient (DESIGN.md)."""
    np.random.seed(1)
    A, W, b = np.random.randn(10, 4, 4, 3), np.random.randn(2, 2, 3, 8), np.random.randn(1, 1, 1, 8)
    ours, theirs = run_conv(torch, A, W, b, {"pad": 2, "stride": 1, "bias": bias}, dtype, engine)
    for name, x, y in zip(("Z", "dA_prev", "dW", "db"), ours, theirs):
        close(x, y, dtype, name)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("A_shape, W_shape, hp", [
    ((8, 16, 16, 1), (3, 3, 1, 16), {"pad": 1}),                 # grayscale images, one block
    ((6, 32, 30, 1), (2, 2, 1, 12), {"stride": 2}),              # col2im for dA_prev
    ((40, 24, 24, 1), (5, 4, 1, 10), {"pad": [2, 1, 0, 3]}),      # several blocks
    ((16, 20, 20, 9), (3, 3, 9, 1), {"pad": 1, "dilation": 2}),   # one output channel: dA_prev's pass has one in
])
def test_conv_one_channel_unfolded_per_offset_vs_torch(A_shape, W_shape, hp, dtype, torch, monkeypatch):
    """A pass with one input channel and a kernel 2-5 wide unfolds its blocks
    one kernel offset at a time (conv._unfold); these layers take that path
    at the default sizes, against torch."""
    calls = []
    real = conv_module._unfold
    monkeypatch.setattr(conv_module, "_unfold", lambda dest, src, rows, C_in: calls.append(
        C_in == 1 and rows >= conv_module.UNFOLD_PER_OFFSET_ROWS * src.shape[3] * src.shape[4]
        and 1 < src.shape[4] <= conv_module.UNFOLD_PER_OFFSET_MAX_WIDTH) or real(dest, src, rows, C_in))
    rng = np.random.default_rng(5)
    A, W, b = rng.standard_normal(A_shape), rng.standard_normal(W_shape), rng.standard_normal(W_shape[3])
    ours, theirs = run_conv(torch, A, W, b, hp, dtype, "fast")
    for name, x, y in zip(("Z", "dA_prev", "dW", "db"), ours, theirs):
        close(x, y, dtype, name)
    assert any(calls), calls


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("A_shape, W_shape, hp, col2im", [
    ((8, 16, 16, 1), (3, 3, 1, 16), {"pad": 1}, True),                     # one input channel
    ((6, 20, 18, 1), (5, 4, 1, 12), {"pad": [2, 1, 0, 3], "dilation": [1, 2]}, True),
    ((4, 24, 24, 3), (3, 3, 3, 16), {"pad": "same"}, "float64"),           # 3 channels, the gather untiled
    ((4, 24, 24, 4), (3, 3, 4, 16), {"pad": 1}, "float64"),                # 4 -> 16: 4 times, untiled
    ((4, 24, 24, 6), (3, 3, 6, 16), {"pad": 1}, False),                    # 6 -> 16: the gather
    ((4, 28, 28, 1), (5, 5, 1, 6), {"pad": 2}, False),                     # 6 output channels: the gather
    ((4, 16, 16, 3), (3, 3, 3, 64), {"pad": 1}, True),                     # 64+ output channels: tiled too
    ((2, 12, 12, 2), (5, 3, 2, 96), {"pad": [2, 1, 0, 3]}, True),
    ((4, 16, 16, 4), (3, 3, 4, 64), {"pad": 1}, True),                     # 16 times wider: tiled too
    ((2, 10, 10, 16), (3, 3, 16, 64), {"pad": 1}, False),                  # 16 -> 64: the gather
])
def test_conv_stride1_input_gradient_by_col2im_vs_torch(A_shape, W_shape, hp, col2im, dtype, torch, monkeypatch):
    """At stride 1, the input gradient of a layer with one input channel (or
    up to 3 where the gather runs untiled: float64 here) and at least 8
    output channels, or one that widens its channels 4 times (untiled) or 8
    times (tiled, or 9-16 input channels: attempt 105), goes through col2im
    instead of the gather, against torch."""
    taken = calls(monkeypatch, conv_module, "_input_grad_col2im")
    rng = np.random.default_rng(9)
    A, W, b = rng.standard_normal(A_shape), rng.standard_normal(W_shape), rng.standard_normal(W_shape[3])
    ours, theirs = run_conv(torch, A, W, b, hp, dtype, "fast")
    for name, x, y in zip(("Z", "dA_prev", "dW", "db"), ours, theirs):
        close(x, y, dtype, name)
    assert bool(taken) == (col2im is True or col2im == np.dtype(dtype).name), taken


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize(
    "A_shape, W_shape",
    [((6, 40, 33, 16), (3, 3, 16, 8)),  # several samples per ~MiB block
     ((1, 64, 64, 64), (3, 3, 64, 8))],  # one sample split into bands of rows
    ids=["sample-blocks", "row-bands"])
def test_conv_many_blocks_vs_torch(A_shape, W_shape, stride, dtype, torch, monkeypatch):
    """Shapes big enough that the fast engine splits its unfolded input into
    several blocks at its default block size, and each block's product into
    slices of rows (conv.SMALL_GEMM_MNK, as with OpenBLAS's small kernels,
    whatever this machine's BLAS has), against torch."""
    monkeypatch.setattr(conv_module, "SMALL_GEMM_MNK", 100 ** 3)
    K, N = W_shape[0] * W_shape[1] * W_shape[2] + 1, W_shape[3]
    block_rows = conv_module.CHUNK_BYTES // (K * 8)  # rows of a float64 block (float32: twice)
    assert conv_module._gemm_rows(K, N, block_rows, np.dtype(dtype).itemsize) < block_rows
    rng = np.random.default_rng(7)
    A, W, b = rng.standard_normal(A_shape), rng.standard_normal(W_shape), rng.standard_normal(W_shape[3])
    ours, theirs = run_conv(torch, A, W, b, {"pad": 1, "stride": stride}, dtype, "fast")
    for name, x, y in zip(("Z", "dA_prev", "dW", "db"), ours, theirs):
        close(x, y, dtype, name)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("W_shape, wide_passes", [((3, 3, 20, 72), 1), ((3, 3, 72, 80), 2)],
                         ids=["wide-out", "wide-both"])
def test_conv_wide_products_in_blocks_of_wide_min_rows_vs_torch(W_shape, wide_passes, threads, dtype, torch,
                                                                 monkeypatch):
    """Products wider than SMALL_GEMM_MAX_N columns take blocks of at least
    WIDE_MIN_ROWS rows (conv._pass_blocks), as a deep layer does: made to
    happen on a small layer by a tiny CHUNK_BYTES, under which a block would
    hold one output row. The passes with a wide product (the forward, 72 or
    80 output channels; at stride 1 the backward's pass over the unfolded dZ
    when the layer has 72 input channels) are checked to run in several
    blocks of about 40 rows (30: bands of 3 output rows), then the results
    against torch: the forward, the input gradient and the weight gradient
    summed over those blocks, on one thread and on two."""
    monkeypatch.setenv("CONVCLI_THREADS", threads)
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(conv_module, "WIDE_MIN_ROWS", 40)
    seen = []  # (the product's columns, the rows of each block the pass ran)
    real = conv_module._pass_blocks

    def pass_blocks(m, n_H, row_bytes, K_bytes, N, plan_m=None, group=1):
        out = real(m, n_H, row_bytes, K_bytes, N, plan_m, group)
        seen.append((N, [(n1 - n0) * (h1 - h0) * 10 for n0, n1, h0, h1 in out]))
        return out

    monkeypatch.setattr(conv_module, "_pass_blocks", pass_blocks)
    rng = np.random.default_rng(5)
    A = rng.standard_normal((6, 9, 10, W_shape[2]))
    W, b = rng.standard_normal(W_shape), rng.standard_normal(W_shape[3])
    ours, theirs = run_conv(torch, A, W, b, {"pad": 1}, dtype, "fast")
    for name, x, y in zip(("Z", "dA_prev", "dW", "db"), ours, theirs):
        close(x, y, dtype, name)
    # 40 rows are 4 output rows of 10 columns: 9 output rows go in near-equal bands of at most 4, so 3
    # bands of 3 (30 rows) a sample; a block of CHUNK_BYTES holds one output row (10 rows)
    wide = [rows for N, rows in seen if N > conv_module.SMALL_GEMM_MAX_N]
    assert len(wide) == wide_passes and all(len(r) == 18 and set(r) == {30} for r in wide), seen
    assert all(set(r) == {10} for N, r in seen if N <= conv_module.SMALL_GEMM_MAX_N), seen


# Layers narrow enough for the fast engine to unfold in tiles of several output
# columns (conv._tile_width): (A_shape, W_shape, hparameters, which passes tile).
TILED = {
    "rgb-in": ((3, 9, 12, 3), (3, 3, 3, 8), {"pad": 1}),
    "rgb-in-s2": ((2, 9, 12, 3), (3, 3, 3, 8), {"pad": 1, "stride": 2}),
    "rgb-in-d2": ((2, 9, 12, 3), (3, 3, 3, 8), {"pad": 1, "dilation": 2}),
    "narrow-grad": ((2, 7, 12, 6), (3, 3, 6, 4), {"pad": [1, 0, 2, 1]}),
    "f4-pad2-blocks": ((5, 30, 29, 3), (4, 4, 3, 8), {"pad": 2}),
    # float64 tiles a pass with more than 4 input channels only for an odd
    # number of output channels: the forward here (6 -> 5), not dA_prev (5 -> 6).
    "odd-out": ((2, 8, 10, 6), (3, 3, 6, 5), {"pad": 1}),
}


@pytest.fixture
def tile_small(monkeypatch):
    """Tiles for layers of any size (the engine keeps tiny ones on plain im2col)."""
    import convcli.conv as conv_module

    monkeypatch.setattr(conv_module, "TILE_MIN_BYTES", 0)


def tiles(A_shape, W_shape, hp, dtype):
    """The tile widths the fast engine picks: (forward and dW, dA_prev)."""
    import convcli.conv as conv_module
    from convcli.hparams import conv_geometry

    g = conv_geometry(np.empty(A_shape), np.empty(W_shape), np.empty(W_shape[3]), hp)
    dA = conv_module._input_grad_tile(g, dtype) if (g.s_H, g.s_W) == (1, 1) else 1
    return conv_module._forward_tile(g, dtype), dA


def test_tiled_cases_take_the_tiled_path(tile_small):
    """Without this the next test could pass on plain im2col alone."""
    picked = {(name, np.dtype(dt).name): tiles(*case, dt) for name, case in TILED.items() for dt in DTYPES}
    assert all(fwd > 1 for (name, _), (fwd, _) in picked.items() if name != "narrow-grad"), picked
    assert picked["narrow-grad", "float64"][1] > 1 and picked["rgb-in", "float32"][1] > 1, picked
    assert picked["rgb-in-s2", "float64"][0] > 1 and picked["rgb-in-d2", "float64"][0] > 1, picked
    # odd-out's forward: the largest divisor T of 10 with a span T + 2 <= 2*3.
    assert picked["odd-out", "float64"] == (2, 1) and picked["rgb-in", "float64"][1] > 1, picked  # 8 -> 3


@pytest.mark.parametrize("chunk_bytes", [None, 2000], ids=["one-block", "many-blocks"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("A_shape, W_shape, hp", TILED.values(), ids=TILED.keys())
def test_conv_tiled_vs_torch(A_shape, W_shape, hp, dtype, chunk_bytes, torch, monkeypatch, tile_small):
    """Tiles of output columns (banded weights, gradients folded back) against
    torch, in one block and in many (then the forward keeps no unfolded input
    and the weight gradient is summed over blocks)."""
    import convcli.conv as conv_module

    if chunk_bytes is not None:
        monkeypatch.setattr(conv_module, "CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(11)
    A, W, b = rng.standard_normal(A_shape), rng.standard_normal(W_shape), rng.standard_normal(W_shape[3])
    for bias in ("once", "window"):
        ours, theirs = run_conv(torch, A, W, b, {**hp, "bias": bias}, dtype, "fast")
        for name, x, y in zip(("Z", "dA_prev", "dW", "db"), ours, theirs):
            close(x, y, dtype, f"{name} ({bias})")


# ----------------------------------------------------------------- pool

POOL_SHAPES = [(2, 6, 7, 3), (1, 5, 5, 2)]
POOL_F = [2, 3, (2, 3)]
POOL_STRIDES = [None, 1, 2, (1, 2)]  # None: the default, stride = f


def pool_grid():
    for shape, f, stride in itertools.product(POOL_SHAPES, POOL_F, POOL_STRIDES):
        (f_H, f_W), (s_H, s_W) = pair(f), pair(stride if stride is not None else f)
        if (shape[1] - f_H) // s_H + 1 >= 1 and (shape[2] - f_W) // s_W + 1 >= 1:
            yield pytest.param(shape, f, stride, id=f"{shape}-f{f}-s{stride}".replace(" ", ""))


def pool_hp(f, stride, ties="all"):
    """Pool hparameters; ``stride`` None leaves it out (defaults to f)."""
    hp = {"f": f, "ties": ties}
    if stride is not None:
        hp["stride"] = stride
    return hp


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("shape, f, stride", list(pool_grid()))
def test_pool_vs_torch(shape, f, stride, mode, dtype, engine, torch):
    """Random normal inputs (no ties): every tie rule gives the same answer."""
    rng = np.random.default_rng(11)
    A_prev = rng.standard_normal(shape).astype(dtype)
    hp = pool_hp(f, stride, ties="first")
    A, cache = cc.pool_forward(A_prev, hp, mode=mode, engine=engine)
    G = rng.standard_normal(A.shape).astype(dtype)
    tA, tdA = torch_pool(torch, A_prev, G, f, stride if stride is not None else f, mode)
    close(A, tA, dtype, "A")
    close(cc.pool_backward(G, cache, mode=mode), tdA, dtype, "dA_prev")


TIE_CASES = [((2, 6, 6, 2), 2, None), ((1, 5, 6, 2), 2, 1), ((2, 7, 7, 1), 3, 2),
             ((1, 6, 7, 3), (2, 3), (1, 2))]


def tied_input(shape, dtype, seed=5):
    """Integer values in 0..2: most windows hold their max more than once."""
    return np.random.default_rng(seed).integers(0, 3, size=shape).astype(dtype)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("shape, f, stride", TIE_CASES)
def test_max_pool_ties_first_is_torch_max_pool2d(shape, f, stride, dtype, engine, torch):
    A_prev = tied_input(shape, dtype)
    A, cache = cc.pool_forward(A_prev, pool_hp(f, stride, "first"), engine=engine)
    G = np.random.default_rng(6).standard_normal(A.shape).astype(dtype)
    tA, tdA = torch_pool(torch, A_prev, G, f, stride if stride is not None else f, "max")
    close(A, tA, dtype, "A")
    dA_prev = cc.pool_backward(G, cache)
    close(dA_prev, tdA, dtype, "dA_prev (ties first)")
    # Not vacuous: under 'all' the tied positions get more than torch gives.
    _, cache_all = cc.pool_forward(A_prev, pool_hp(f, stride, "all"), engine=engine)
    assert not np.allclose(cc.pool_backward(G, cache_all), tdA)


@pytest.mark.parametrize("p", [0, 1])  # (PyTorch takes at most half the kernel: 1 for f 3)
def test_the_readmes_max_pool_with_padding_is_torch_max_pool2d(p, torch):
    """README ("The same layers in PyTorch"): F.max_pool2d(padding=p) is a
    pool of the input padded with -inf, ties first, its gradient cropped
    to the input, [:, p:p + H, p:p + W] (an engineer's review: the recipe's
    [:, p:-p, p:-p] is empty at p = 0). Tied values, so the ties matter."""
    A_prev = tied_input((2, 7, 6, 3), np.float64)
    H, W = A_prev.shape[1:3]
    padded = np.pad(A_prev, ((0, 0), (p, p), (p, p), (0, 0)), constant_values=-np.inf)
    A, cache = cc.pool_forward(padded, {"f": 3, "stride": 2, "ties": "first"})
    G = np.random.default_rng(7).standard_normal(A.shape)
    dA_prev = cc.pool_backward(G, cache)[:, p:p + H, p:p + W]
    x = torch.tensor(A_prev.transpose(0, 3, 1, 2), requires_grad=True)
    out = torch.nn.functional.max_pool2d(x, 3, 2, padding=p)
    out.backward(torch.tensor(G.transpose(0, 3, 1, 2)))
    np.testing.assert_array_equal(A, out.detach().numpy().transpose(0, 2, 3, 1))
    np.testing.assert_allclose(dA_prev, x.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-15, atol=0)


@pytest.mark.parametrize("engine", ENGINES)
def test_max_pool_ties_first_with_nan_vs_torch_max_pool2d(engine, torch):
    """What the README and pool.py say of NaN windows under ``first``: one NaN
    takes the gradient, as in PyTorch; of several, convcli's rule picks the
    first in row-major order where PyTorch's max_pool2d picks the last."""
    nan = np.nan
    A_prev = np.array([[nan, 1.0, 4.0, 4.0],  # window 0: one NaN
                       [2.0, 3.0, 4.0, 4.0],  # window 1: a finite tie (4 four times)
                       [nan, 1.0, 0.0, nan],  # window 2: NaN at (0, 0) and (1, 0)
                       [nan, 2.0, nan, 7.0]]  # window 3: NaN at (0, 1) and (1, 0)
                      ).reshape(1, 4, 4, 1)
    G = np.array([10.0, 20.0, 30.0, 40.0]).reshape(1, 2, 2, 1)
    A, cache = cc.pool_forward(A_prev, pool_hp(2, None, "first"), engine=engine)
    ours = cc.pool_backward(G, cache)[0, :, :, 0]
    _, tdA = torch_pool(torch, A_prev, G, 2, 2, "max")
    theirs = tdA[0, :, :, 0]
    one_nan_or_finite = (slice(0, 2), slice(0, 4))  # windows 0 and 1
    assert np.array_equal(ours[one_nan_or_finite], theirs[one_nan_or_finite])
    assert ours[0, 0] == 10.0 and ours[0, 2] == 20.0  # by hand: the NaN; the first 4
    # several NaNs: by hand, convcli the first in row-major order, torch the last
    assert (ours[2, 0], ours[3, 0]) == (30.0, 0.0) and (theirs[2, 0], theirs[3, 0]) == (0.0, 30.0)
    assert (ours[2, 3], ours[3, 2]) == (40.0, 0.0) and (theirs[2, 3], theirs[3, 2]) == (0.0, 40.0)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("ties", ["split", "all"])
@pytest.mark.parametrize("shape, f, stride", TIE_CASES)
def test_max_pool_ties_split_and_all_vs_torch_amax(shape, f, stride, ties, dtype, engine, torch):
    """'split' is torch.amax's gradient over unfolded windows; 'all' is the
    course's mask (x == max) built in torch. Overlapping windows included."""
    A_prev = tied_input(shape, dtype)
    A, cache = cc.pool_forward(A_prev, pool_hp(f, stride, ties), engine=engine)
    G = np.random.default_rng(6).standard_normal(A.shape).astype(dtype)
    tA, tdA = torch_max_pool_ties(torch, A_prev, G, f, stride if stride is not None else f, ties)
    close(A, tA, dtype, "A")
    close(cc.pool_backward(G, cache), tdA, dtype, f"dA_prev (ties {ties})")


# ----------------------------------------------------------------- relu


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_relu_vs_torch(dtype, torch):
    rng = np.random.default_rng(9)
    Z = rng.standard_normal((2, 3, 4, 5)).astype(dtype)
    Z[0, 0, :2, :] = 0.0  # the kink: both must pass no gradient at exactly 0
    A, cache = cc.relu_forward(Z)
    G = rng.standard_normal(Z.shape).astype(dtype)
    tA, tdZ = torch_relu(torch, Z, G)
    close(A, tA, dtype, "A")
    close(cc.relu_backward(G, cache), tdZ, dtype, "dZ")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("A_shape, W_shape, hp, knobs", [
    # the benchmark's m32 layer, smaller: several samples a block, padded on the threads
    ((12, 16, 16, 3), (4, 4, 3, 8), {"pad": 2}, {"PAD_IN_THREADS_BYTES": 0, "ROWS_CHUNK_BYTES": 1 << 16}),
    # bands of rows of one sample, each thread its own padded sample
    ((9, 14, 12, 3), (5, 4, 3, 8), {"pad": (0, 2, 1, 0)},
     {"ROWS_CHUNK_BYTES": 1 << 11, "PAD_IN_THREADS_BYTES": 0, "MIN_SAMPLES_TO_SHARE": 1}),
    # a 4x3 kernel, padding on one side of each axis only (float64 tiles the input gradient of an odd number
    # of channels from up to 8: a stem of 3 -> 8 is the class in both dtypes)
    ((5, 11, 16, 3), (4, 3, 3, 8), {"pad": (0, 3, 2, 0)}, {"ROWS_CHUNK_BYTES": 1 << 12}),
    # a 7x7 kernel, one block
    ((2, 9, 9, 3), (7, 7, 3, 8), {"pad": 3}, {}),
], ids=["blocks", "bands", "one-sided", "one-block"])
@pytest.mark.parametrize("threads", ["1", "2"])
def test_conv_weight_gradient_by_rows_vs_torch(A_shape, W_shape, hp, knobs, threads, dtype, torch, monkeypatch):
    """Attempt 99: a stem's weight gradient (2-3 input channels, a kernel of
    4+ rows, stride and dilation 1) from its input unfolded along W only
    (straight from the input, its padding written as zeros), each kernel
    row's share a product over shifted rows; every gradient against
    PyTorch's autograd, the pass seen to run (and nothing kept from the
    forward, which would take the forward's unfolding instead)."""
    monkeypatch.setenv("CONVCLI_THREADS", threads)
    # (both passes by rows or neither, attempt 102: the input gradient in tiles, whatever its size)
    for name, value in {"CHUNK_BYTES": 1 << 12, "INPUT_GRAD_TILE_MIN_BYTES": 0, "ROWS_MIN_SAMPLES": 1,
                        **knobs}.items():
        monkeypatch.setattr(conv_module, name, value)
    ran = []
    real = conv_module._weight_grad_rows
    monkeypatch.setattr(conv_module, "_weight_grad_rows", lambda *a: ran.append(1) or real(*a))
    rng = np.random.default_rng(9)
    A, W, b = rng.standard_normal(A_shape), rng.standard_normal(W_shape), rng.standard_normal(W_shape[3])
    ours, theirs = run_conv(torch, A, W, b, hp, dtype, "fast")
    assert ran == [1]
    for name, x, y in zip(("Z", "dA_prev", "dW", "db"), ours, theirs):
        close(x, y, dtype, name)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("A_shape, W_shape, pad, knobs", [
    # the benchmark's m32 layer, smaller: a sample a block, dZ's column sums (db) on the threads
    ((6, 16, 16, 3), (4, 4, 3, 8), 2, {"INPUT_ROWS_CHUNK_BYTES": 1 << 13}),
    # bands of input rows (db summed after), tiles at both edges of dZ's columns, asymmetric padding
    ((3, 13, 20, 3), (5, 4, 3, 8), (1, 4, 3, 0), {"INPUT_ROWS_CHUNK_BYTES": 1 << 11}),
    # no padding: dZ's own zeros only, its rows and columns beyond the kernel's extent
    ((4, 12, 12, 3), (4, 5, 3, 8), 0, {}),
], ids=["samples", "bands", "unpadded"])
@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_conv_input_gradient_by_rows_vs_torch(A_shape, W_shape, pad, knobs, threads, order, dtype, torch,
                                              monkeypatch):
    """Attempt 100: a stem's stride-1 input gradient in tiles, dZ unfolded
    along W only and straight from dZ (its padding written into the
    unfolding as zeros), each kernel row's band a product over rows shifted
    by it; against PyTorch's autograd, the pass seen to run, with dZ in C or
    Fortran order (whose column sums the threads do not take)."""
    monkeypatch.setenv("CONVCLI_THREADS", threads)
    for name, value in {"CHUNK_BYTES": 1 << 12, "INPUT_GRAD_TILE_MIN_BYTES": 0, "ROWS_MIN_SAMPLES": 1,
                        **knobs}.items():
        monkeypatch.setattr(conv_module, name, value)
    ran = []
    real = conv_module._input_grad_rows
    monkeypatch.setattr(conv_module, "_input_grad_rows", lambda *a: ran.append(a[3]) or real(*a))
    rng = np.random.default_rng(4)
    A, W, b = rng.standard_normal(A_shape), rng.standard_normal(W_shape), rng.standard_normal(W_shape[3])
    A, W, b = (x.astype(dtype) for x in (A, W, b))
    Z, cache = cc.conv_forward(A, W, b, {"pad": pad})
    G = np.asarray(rng.standard_normal(Z.shape).astype(dtype), order=order)
    dA_prev, dW, db = cc.conv_backward(G, cache)
    assert len(ran) == 1 and ran[0] > 1, ran  # in tiles
    sides = resolve_pad(pad, A.shape[1], A.shape[2], W.shape[:2], 1, 1)
    theirs = torch_conv(torch, A, W, b, G, stride=1, sides=sides, dilation=1, bias="once")
    for name, x, y in zip(("Z", "dA_prev", "dW", "db"), (Z, dA_prev, dW, db), theirs):
        close(x, y, dtype, name)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_conv_by_rows_takes_an_unpadded_view_of_nchw_data(dtype, torch, monkeypatch):
    """A review: a stem's weight gradient by rows viewed the padded input
    through np.ndarray(buffer=...), and with pad 0 that input is A_prev
    itself: an NHWC view of NCHW data (what the library's own shape hint
    says to pass, A.transpose(0, 2, 3, 1)) raised "ndarray is not
    contiguous", in the forward's cache and in a notebook-style tuple cache
    alike. Against PyTorch, both ways."""
    monkeypatch.setattr(conv_module, "ROWS_MIN_SAMPLES", 1)  # (the tuple cache's batch of 16 is one too)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((16, 3, 40, 40)).astype(dtype).transpose(0, 2, 3, 1)
    W, b = rng.standard_normal((4, 4, 3, 8)).astype(dtype), rng.standard_normal(8).astype(dtype)
    assert not A.flags.c_contiguous and not A.flags.f_contiguous
    Z, cache = cc.conv_forward(A, W, b, {"pad": 0})
    assert cache.state.cols is None and conv_module.weight_grad_by_rows((1, 1), (1, 1), 4, 3, 8)
    G = rng.standard_normal(Z.shape).astype(dtype)
    theirs = torch_conv(torch, A, W, b, G, stride=1, sides=(0, 0, 0, 0), dilation=1, bias="once")
    for grads in (cc.conv_backward(G, cache), cc.conv_backward(G, (A, W, b, {"pad": 0}))):
        for name, x, y in zip(("dA_prev", "dW", "db"), grads, theirs[1:]):
            close(x, y, dtype, name)


def _readme_pytorch_cells() -> dict[str, list[str]]:
    """The README's "The same layers in PyTorch" table: convcli cell -> the
    PyTorch cell's code spans."""
    import re
    from pathlib import Path

    text = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    table = text.split("### The same layers in PyTorch", 1)[1].split("\n\n|", 1)[1].split("\n\n", 1)[0]
    cells = {}
    for line in ("|" + table).splitlines():
        parts = [p.strip() for p in line.strip("|").split("|")]
        code = re.findall(r"`([^`]*)`", parts[1]) if len(parts) == 2 else []
        if code:
            cells[parts[0]] = code
    return cells


@pytest.mark.parametrize("n_C_prev, n_C", [(3, 1), (1, 1), (3, 4)])
def test_the_readmes_pytorch_lines_run_and_agree(torch, n_C_prev, n_C):
    """The README's translation, its lines run as written: with one output
    channel and several input ones, `torch.tensor(W.transpose(3, 2, 0, 1))`
    (a transposed view) made PyTorch's backward raise `slow_conv2d:
    grad_weight must be contiguous` (a review)."""
    cells = _readme_pytorch_cells()
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    A_prev = rng.standard_normal((2, 6, 5, n_C_prev))
    W = rng.standard_normal((3, 3, n_C_prev, n_C))
    b = rng.standard_normal((1, 1, 1, n_C))
    Z, cache = cc.conv_forward(A_prev, W, b, {"pad": 1, "stride": 1})
    dZ = rng.standard_normal(Z.shape)
    dA_prev, dW, db = cc.conv_backward(dZ, cache)
    scope = {"np": np, "torch": torch, "F": F, "A_prev": A_prev, "W": W, "b": b, "dZ": dZ}
    for key in ("`A_prev` `(m, n_H, n_W, n_C)` (NHWC)", "`W` `(f_H, f_W, n_C_prev, n_C)`",
                "`b` `(1, 1, 1, n_C)` or `(n_C,)`"):
        exec(cells[key][0], scope)
    scope["z"] = F.conv2d(scope["x"], scope["weight"], scope["bias"], padding=1)
    exec(cells["`conv_backward(dZ, cache)`"][0], scope)
    grads = [eval(code, scope).detach().numpy() for code in cells["`dA_prev`, `dW`, `db`"] if ".grad" in code]
    assert len(grads) == 3
    assert_rel(scope["z"].detach().numpy().transpose(0, 2, 3, 1), Z, 1e-12, "Z")
    for name, got, want in zip(["dA_prev", "dW", "db"], [dA_prev, dW, db.reshape(-1)], grads):
        assert got.shape == want.shape, name
        assert_rel(got, want, 1e-12, name)
