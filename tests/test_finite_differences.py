"""Every backward against central differences of its own forward, in float64.

Loss ``L = sum(out * G)`` for a fixed random ``G``, so ``dL/dout = G`` is the
upstream gradient passed to backward. The check is
``‖g - n‖ / (‖g‖ + ‖n‖) < 1e-7`` (``helpers.grad_rel_err``) with ``n`` from
``helpers.numeric_grad`` (eps 1e-6). Each layer is linear or piecewise linear,
so the central difference is exact up to rounding as long as no kink lies
within eps: max-pool inputs are a permutation (no ties), relu inputs stay at
least 0.1 away from 0.
"""

from __future__ import annotations

import numpy as np
import pytest

import convcli as cc
from helpers import grad_rel_err, numeric_grad, record

ENGINES = ["fast", "reference"]
TOL = 1e-7


def check(analytic, loss, x, what):
    numeric = numeric_grad(loss, x)
    err = record("finite differences", grad_rel_err(analytic, numeric))
    assert np.linalg.norm(numeric) > 0, f"{what}: the loss does not depend on it; vacuous check"
    assert err < TOL, f"{what}: ‖g−n‖/(‖g‖+‖n‖) = {err:.2e}"


# ----------------------------------------------------------------- conv

CONV_CASES = {
    "pad 0": ((2, 5, 4, 2), (3, 2, 2, 3), {"pad": 0}),
    "pad 2": ((1, 4, 4, 2), (2, 2, 2, 2), {"pad": 2}),
    "stride 2, pad 1": ((1, 6, 5, 2), (3, 3, 2, 2), {"stride": 2, "pad": 1}),
    "dilation 2": ((1, 6, 6, 1), (2, 3, 1, 2), {"dilation": 2, "pad": 1}),
    "asymmetric pad": ((1, 4, 5, 2), (2, 3, 2, 2), {"pad": [0, 2, 3, 1]}),
    "same, stride 2": ((1, 5, 6, 2), (3, 2, 2, 2), {"pad": "same", "stride": 2}),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("A_shape, W_shape, hp", CONV_CASES.values(), ids=CONV_CASES.keys())
def test_conv_backward_finite_differences(A_shape, W_shape, hp, engine):
    rng = np.random.default_rng(0)
    A, W, b = rng.standard_normal(A_shape), rng.standard_normal(W_shape), rng.standard_normal(
        (1, 1, 1, W_shape[3]))
    Z, cache = cc.conv_forward(A, W, b, hp, engine=engine)
    G = rng.standard_normal(Z.shape)
    dA, dW, db = cc.conv_backward(G, cache)

    def loss():  # rereads A, W, b: numeric_grad perturbs them in place
        return np.sum(cc.conv_forward(A, W, b, hp, engine=engine)[0] * G)

    check(dA, loss, A, "dA_prev")
    check(dW, loss, W, "dW")
    check(db, loss, b, "db")


@pytest.mark.parametrize("engine", ENGINES)
def test_conv_backward_finite_differences_window_bias(engine):
    """``bias: window``: dA_prev and dW are the true gradients; db is the
    notebook's standard ``sum(dZ)`` (DESIGN.md: window affects the forward
    only), which is the true gradient of that forward divided by
    f_H*f_W*n_C_prev -- checked here so the difference stays deliberate."""
    rng = np.random.default_rng(1)
    A, W, b = rng.standard_normal((1, 4, 4, 3)), rng.standard_normal((2, 2, 3, 2)), \
        rng.standard_normal((1, 1, 1, 2))
    hp = {"pad": 2, "stride": 1, "bias": "window"}
    Z, cache = cc.conv_forward(A, W, b, hp, engine=engine)
    G = rng.standard_normal(Z.shape)
    dA, dW, db = cc.conv_backward(G, cache)

    def loss():
        return np.sum(cc.conv_forward(A, W, b, hp, engine=engine)[0] * G)

    check(dA, loss, A, "dA_prev")
    check(dW, loss, W, "dW")
    K = 2 * 2 * 3
    check(db * K, loss, b, "db * f_H*f_W*n_C_prev")
    np.testing.assert_allclose(db, G.sum(axis=(0, 1, 2)).reshape(b.shape), rtol=1e-12)


# ----------------------------------------------------------------- pool

POOL_CASES = {
    "f 2": ((2, 4, 6, 2), {"f": 2}),
    "f 3 stride 1 (overlapping)": ((1, 5, 5, 2), {"f": 3, "stride": 1}),
    "f 2x3 stride 1x2": ((1, 5, 7, 1), {"f": [2, 3], "stride": [1, 2]}),
    "stride not dividing": ((1, 7, 6, 2), {"f": 2, "stride": 3}),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("mode, ties", [("max", "all"), ("max", "first"), ("max", "split"),
                                        ("average", "all")])
@pytest.mark.parametrize("shape, hp", POOL_CASES.values(), ids=POOL_CASES.keys())
def test_pool_backward_finite_differences(shape, hp, mode, ties, engine):
    rng = np.random.default_rng(2)
    # Distinct values 0.1 apart: no ties, and eps = 1e-6 cannot move a maximum.
    A_prev = rng.permutation(np.prod(shape)).reshape(shape) * 0.1
    hp = {**hp, "ties": ties}
    A, cache = cc.pool_forward(A_prev, hp, mode=mode, engine=engine)
    G = rng.standard_normal(A.shape)
    dA_prev = cc.pool_backward(G, cache, mode=mode)
    check(dA_prev, lambda: np.sum(cc.pool_forward(A_prev, hp, mode=mode, engine=engine)[0] * G),
          A_prev, f"dA_prev ({mode}, ties {ties})")


# ----------------------------------------------------------------- relu


def test_relu_backward_finite_differences():
    rng = np.random.default_rng(3)
    Z = rng.choice([-1.0, 1.0], size=(2, 3, 3, 4)) * rng.uniform(0.1, 2.0, size=(2, 3, 3, 4))
    A, cache = cc.relu_forward(Z)
    G = rng.standard_normal(A.shape)
    check(cc.relu_backward(G, cache), lambda: np.sum(cc.relu_forward(Z)[0] * G), Z, "dZ")
