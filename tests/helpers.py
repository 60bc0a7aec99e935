"""Helpers shared by the core's tests, kept in one place.

- error measures: :func:`rel_err` (max-norm, for comparing with an oracle) and
  :func:`grad_rel_err` (2-norm, for finite differences), each recorded by
  :func:`record` so the run can print its worst errors at the end;
- the numeric gradient by central differences (:func:`numeric_grad`);
- the DESIGN.md section 1 geometry rules, written out again independently of
  ``convcli.hparams`` (:func:`out_size`, :func:`resolve_pad`);
- NHWC <-> NCHW conversion and the PyTorch oracles for conv, pool and relu.

Nothing here imports torch: the oracle functions take the module as their first
argument, so a test module gets it from the ``torch`` fixture (conftest.py)
and skips cleanly without it.
"""

from __future__ import annotations

import math

import numpy as np

# Smallest positive float64: the floor of the denominator in rel_err, so that
# comparing two all-zero arrays gives 0 instead of 0/0.
TINY = np.finfo(np.float64).tiny

# Worst error seen per category in this run (printed by conftest.py).
WORST: dict[str, float] = {}


def record(category: str, value: float) -> float:
    """Remember ``value`` if it is the worst seen so far for ``category``."""
    if value > WORST.get(category, -math.inf):
        WORST[category] = value
    return value


# ----------------------------------------------------------------- error measures


def rel_err(actual, expected, scale=None) -> float:
    """Relative error in the max norm: ``max|a - e| / max(max|s|, TINY)``.

    ``s`` is ``expected`` unless ``scale`` is given. Computed in float64
    whatever the inputs' dtype. Shapes must match exactly: broadcasting would
    hide a wrong shape.

    Why ``scale``: two correct summation orders differ by about
    ``n * eps * sum|terms|``, not ``eps * |sum|``; when the terms cancel (a
    one-channel ``db`` whose ``dZ`` sums to almost 0) the error relative to
    the result itself can be anything. Passing the result of the same layer on
    absolute values (``sum|terms|``) as ``scale`` measures what summation
    order can actually guarantee.
    """
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    s = e if scale is None else np.asarray(scale, dtype=np.float64)
    assert a.shape == e.shape, f"shape {a.shape} != expected {e.shape}"
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - e)) / max(float(np.max(np.abs(s))), TINY))


def assert_rel(actual, expected, tol: float, what: str, category: str | None = None,
               scale=None) -> float:
    """Assert ``rel_err(actual, expected, scale) <= tol``; record it under ``category``."""
    err = rel_err(actual, expected, scale)
    if category:
        record(category, err)
    assert err <= tol, f"{what}: relative error {err:.3e} > {tol:.0e}"
    return err


def grad_rel_err(g, n) -> float:
    """``‖g - n‖ / (‖g‖ + ‖n‖)`` in the 2-norm; 0 when both are zero."""
    g = np.asarray(g, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    assert g.shape == n.shape, f"shape {g.shape} != {n.shape}"
    denom = np.linalg.norm(g) + np.linalg.norm(n)
    return 0.0 if denom == 0 else float(np.linalg.norm(g - n) / denom)


# ----------------------------------------------------------------- numeric gradient


def numeric_grad(loss, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar ``loss()`` with respect to ``x``.

    ``x`` is perturbed in place, one element at a time, and restored; ``loss``
    must read ``x`` afresh on every call (i.e. rerun the forward pass).
    ``(L(x + eps) - L(x - eps)) / (2 eps)`` is exact for a function that is
    linear around ``x``, up to rounding of order ``1e-16 * |L| / eps``.
    """
    assert x.dtype == np.float64, "finite differences need float64"
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        plus = loss()
        x[idx] = old - eps
        minus = loss()
        x[idx] = old
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


# ----------------------------------------------------------------- geometry (DESIGN.md section 1)


def out_size(n_in: int, before: int, after: int, f: int, s: int, d: int = 1) -> int:
    """``floor((n_in + before + after - d*(f-1) - 1) / s) + 1``."""
    return math.floor((n_in + before + after - d * (f - 1) - 1) / s) + 1


def pair(v) -> tuple[int, int]:
    """An int or a pair -> a pair."""
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def same_sides(n_in: int, f: int, s: int, d: int) -> tuple[int, int]:
    """TensorFlow's ``same`` padding for one axis: (before, after), odd unit after."""
    n_out = math.ceil(n_in / s)
    total = max((n_out - 1) * s + d * (f - 1) + 1 - n_in, 0)
    return total // 2, total - total // 2


def resolve_pad(pad, n_H_prev, n_W_prev, f, stride, dilation) -> tuple[int, int, int, int]:
    """Any ``pad`` spec -> ``(top, bottom, left, right)``."""
    (f_H, f_W), (s_H, s_W), (d_H, d_W) = pair(f), pair(stride), pair(dilation)
    if pad == "valid":
        return (0, 0, 0, 0)
    if pad == "same":
        return same_sides(n_H_prev, f_H, s_H, d_H) + same_sides(n_W_prev, f_W, s_W, d_W)
    if isinstance(pad, int):
        return (pad,) * 4
    if len(pad) == 2:
        return (pad[0], pad[0], pad[1], pad[1])
    return tuple(pad)


def conv_out_hw(A_shape, W_shape, stride=1, pad=0, dilation=1) -> tuple[int, int]:
    """(n_H, n_W) of a conv layer, by the DESIGN formula (may be < 1)."""
    _, n_H_prev, n_W_prev, _ = A_shape
    f_H, f_W = W_shape[:2]
    t, b, l, r = resolve_pad(pad, n_H_prev, n_W_prev, (f_H, f_W), stride, dilation)
    (s_H, s_W), (d_H, d_W) = pair(stride), pair(dilation)
    return (out_size(n_H_prev, t, b, f_H, s_H, d_H), out_size(n_W_prev, l, r, f_W, s_W, d_W))


# ----------------------------------------------------------------- PyTorch oracles

# Layout: convcli is NHWC with weights (f_H, f_W, C_prev, C); torch is NCHW
# with weights (C, C_prev, f_H, f_W). The oracles always compute in float64,
# so a float32 result of convcli is compared with the exact answer for its
# (float32) inputs, not with another rounding of it.


def to_torch(torch, a: np.ndarray, axes=(0, 3, 1, 2)):
    """NumPy NHWC array -> float64 leaf tensor in NCHW (or any ``axes``) with grad."""
    t = torch.tensor(np.ascontiguousarray(np.transpose(a, axes)), dtype=torch.float64)
    return t.requires_grad_(True)


def from_torch(t, axes=(0, 2, 3, 1)) -> np.ndarray:
    """Tensor in NCHW (or any layout) -> NumPy float64 in NHWC (inverse ``axes``)."""
    return np.transpose(t.detach().cpu().numpy(), axes)


W_TO_TORCH = (3, 2, 0, 1)  # (f_H, f_W, C_prev, C) -> (C, C_prev, f_H, f_W)
W_FROM_TORCH = (2, 3, 1, 0)


def torch_conv(torch, A_prev, W, b, G, stride=1, sides=(0, 0, 0, 0), dilation=1, bias="once"):
    """Conv forward and gradients by ``torch.nn.functional.conv2d`` + autograd.

    ``sides`` is (top, bottom, left, right), applied with an explicit ``F.pad``
    first so asymmetric padding is covered. ``G`` is the upstream gradient
    (NHWC); the gradients are those of ``sum(Z * G)``.

    Returns ``(Z, dA_prev, dW, db)`` as NHWC float64 arrays. For
    ``bias="window"`` the bias enters as ``b * f_H*f_W*C_prev`` (DESIGN.md),
    and ``db`` is the notebook's ``sum(G)``, the standard bias gradient that
    DESIGN.md fixes for that mode, not the derivative of that forward.
    """
    F = torch.nn.functional
    x = to_torch(torch, A_prev)
    w = to_torch(torch, W, W_TO_TORCH)
    bt = torch.tensor(np.asarray(b, dtype=np.float64).reshape(-1), requires_grad=True)
    t, bo, l, r = sides
    xp = F.pad(x, (l, r, t, bo))  # torch's order: last axis first
    K = W.shape[0] * W.shape[1] * W.shape[2]
    z = F.conv2d(xp, w, bias=bt if bias == "once" else None,
                 stride=pair(stride), dilation=pair(dilation))
    if bias == "window":
        z = z + (bt * K).detach().reshape(1, -1, 1, 1)
    gt = to_torch(torch, G).detach()
    (z * gt).sum().backward()
    db = bt.grad.numpy() if bias == "once" else np.asarray(G, np.float64).sum(axis=(0, 1, 2))
    return (from_torch(z), from_torch(x.grad), from_torch(w.grad, W_FROM_TORCH),
            db.reshape(np.shape(b)))


def torch_pool(torch, A_prev, G, f, stride, mode):
    """``F.max_pool2d`` / ``F.avg_pool2d`` forward and the gradient of ``sum(A * G)``.

    PyTorch's CPU max-pool backward sends a window's gradient to its first
    maximum in row-major order (``ties: first``).
    """
    F = torch.nn.functional
    x = to_torch(torch, A_prev)
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    a = pool(x, kernel_size=pair(f), stride=pair(stride))
    (a * to_torch(torch, G).detach()).sum().backward()
    return from_torch(a), from_torch(x.grad)


def torch_windows(torch, x_nhwc, f, stride):
    """Unfold an NHWC tensor into windows: (m, n_H, n_W, C, f_H, f_W).

    ``Tensor.unfold`` makes views, so autograd adds up the gradients of
    overlapping windows by itself.
    """
    (f_H, f_W), (s_H, s_W) = pair(f), pair(stride)
    return x_nhwc.unfold(1, f_H, s_H).unfold(2, f_W, s_W)


def torch_max_pool_ties(torch, A_prev, G, f, stride, ties):
    """Max pooling's gradient of ``sum(A * G)`` under ``ties`` ``split`` or ``all``.

    ``split``: ``torch.amax`` over each window, whose autograd shares the
    gradient equally among tied maxima. ``all``: the course's mask
    ``x == max(x)``, built here in torch, times the upstream gradient.
    Returns ``(A, dA_prev)`` in NHWC.
    """
    x = to_torch(torch, A_prev, (0, 1, 2, 3))
    win = torch_windows(torch, x, f, stride)
    g = torch.tensor(np.asarray(G, np.float64))
    a = torch.amax(win, dim=(-2, -1))
    if ties == "split":
        (a * g).sum().backward()
    elif ties == "all":
        mask = (win == a[..., None, None]).to(torch.float64).detach()
        (win * mask * g[..., None, None]).sum().backward()
    else:
        raise ValueError(ties)
    return a.detach().numpy(), x.grad.numpy()


def torch_relu(torch, Z, G):
    """``F.relu`` forward and the gradient of ``sum(A * G)`` (0 at Z == 0)."""
    z = to_torch(torch, Z, tuple(range(np.ndim(Z))))
    a = torch.nn.functional.relu(z)
    (a * torch.tensor(np.asarray(G, np.float64))).sum().backward()
    return a.detach().numpy(), z.grad.numpy()


def random_layer(rng, A_shape, W_shape, dtype) -> tuple:
    """A conv layer's ``(A, W, b)`` drawn from ``rng`` in that order, standard
    normal, in ``dtype`` (b of W's output channels)."""
    return tuple(rng.standard_normal(shape).astype(dtype) for shape in (A_shape, W_shape, W_shape[3]))


def calls(monkeypatch, module, name: str) -> list:
    """``module.name`` replaced, for the test, by a spy that calls it and
    appends 1 to the returned list each time: how often a path was taken."""
    taken = []
    real = getattr(module, name)

    def spy(*args, **kwargs):
        taken.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return taken
