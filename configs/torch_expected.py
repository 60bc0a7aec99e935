"""Expected values for the shipped configs, computed with PyTorch, not convcli.

    python configs/torch_expected.py        # prints them as YAML

convcli's own output is never pasted into a config: these numbers come from
``torch.nn.functional`` (conv2d, relu, max_pool2d, avg_pool2d) and autograd,
in float64, on the same inputs. The inputs are made the way convcli makes
them (README, "The config": one ``numpy.random.RandomState(seed)``: the random
inputs in the order listed, then a random upstream gradient) or read with
h5py/NumPy from sample_data/. tests/test_cli_configs.py runs these functions
and compares with what the configs say.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
SCALE = 0.00392156862745098  # 1/255, exactly as written in stack.yaml


def _nchw(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64).permute(0, 3, 1, 2)


def _nhwc(t: torch.Tensor) -> np.ndarray:
    return t.detach().permute(0, 2, 3, 1).numpy()


def _weights(W: np.ndarray) -> torch.Tensor:
    """(f_H, f_W, n_C_prev, n_C) -> PyTorch's (n_C, n_C_prev, f_H, f_W)."""
    return torch.tensor(W, dtype=torch.float64).permute(3, 2, 0, 1)


def seed_case(bias: str) -> dict:
    """The seed notebook's case: RandomState(1), A_prev (10,4,4,3), W (2,2,3,8),
    b (1,1,1,8), pad 2, stride 1, upstream gradient = Z."""
    rng = np.random.RandomState(1)
    A, W, b = rng.randn(10, 4, 4, 3), rng.randn(2, 2, 3, 8), rng.randn(1, 1, 1, 8)
    x = _nchw(A).requires_grad_()
    w = _weights(W).requires_grad_()
    bb = torch.tensor(b.reshape(-1), dtype=torch.float64).requires_grad_()
    # bias: window adds b to each of the f_H*f_W*n_C_prev window elements.
    k = 2 * 2 * 3 if bias == "window" else 1
    z = F.conv2d(x, w, padding=2) + k * bb.view(1, -1, 1, 1)
    dZ = z.detach()
    z.backward(dZ)  # the notebook's conv_backward(Z, cache)
    db = dZ.sum(dim=(0, 2, 3)).numpy()  # db = sum(dZ) in both bias modes (README: the notebook's bias)
    Z = _nhwc(z)
    return {
        "Z.shape": list(Z.shape),
        "Z[0, 3, 3]": Z[0, 3, 3].tolist(),
        "dA_prev.mean": float(_nhwc(x.grad).mean()),
        "dW.mean": float(w.grad.permute(2, 3, 1, 0).numpy().mean()),
        "db.mean": float(db.mean()),
    }


def stack_case() -> dict:
    """configs/stack.yaml: conv (pad same) -> relu -> max pool 2, on 4 images."""
    with h5py.File(ROOT / "sample_data" / "images.h5", "r") as f:
        images = f["images"][0:4]
    A = images.astype(np.float64) * SCALE
    with np.load(ROOT / "sample_data" / "weights.npz", allow_pickle=False) as z:
        W = z["W1"]
    b = np.load(ROOT / "sample_data" / "b1.npy", allow_pickle=False)
    grad = np.random.RandomState(0).randn(4, 4, 4, 4)  # grad: random, the stream's first draw

    x = _nchw(A).requires_grad_()
    w = _weights(W).requires_grad_()
    bb = torch.tensor(b, dtype=torch.float64).requires_grad_()
    z = F.conv2d(x, w, bb, padding=1)  # 'same' for f=3, stride 1
    z.retain_grad()
    a = F.relu(z)
    p = F.max_pool2d(a, 2, 2)
    p.backward(_nchw(grad))
    Z, P = _nhwc(z), _nhwc(p)
    dW = w.grad.permute(2, 3, 1, 0).numpy()
    return {
        "conv1.Z[0, 0, 0]": Z[0, 0, 0].tolist(),
        "relu2.A.mean": float(_nhwc(a).mean()),
        "pool3.A.shape": list(P.shape),
        "pool3.A.mean": float(P.mean()),
        "pool3.A.max": float(P.max()),
        "pool3.A[1, :, :, 0]": P[1, :, :, 0].tolist(),
        # relu2.dA_prev is the gradient at the conv's output; it does not
        # depend on how max pooling breaks ties (tied maxima here are ReLU
        # zeros, where the ReLU stops the gradient anyway).
        "relu2.dA_prev.sum": float(_nhwc(z.grad).sum()),
        "conv1.dA_prev.norm": float(np.linalg.norm(_nhwc(x.grad))),
        "conv1.dW.mean": float(dW.mean()),
        "conv1.dW[1, 1, :, 0]": dW[1, 1, :, 0].tolist(),
        "conv1.db": bb.grad.numpy().tolist(),
    }


def course_case() -> dict:
    """configs/course.yaml: conv (f 3, stride 2, pad 1) -> relu -> average
    pool (f 2, stride 1) -> conv (f 2, pad 1) -> max pool (f 2, stride 2),
    random upstream gradient; RandomState(3) draws the five inputs in the
    order listed, then the gradient."""
    rng = np.random.RandomState(3)
    A, W1, b1 = rng.randn(4, 9, 9, 3), rng.randn(3, 3, 3, 4), rng.randn(4)
    W4, b4 = rng.randn(2, 2, 4, 6), rng.randn(6)
    grad = rng.randn(4, 2, 2, 6)

    x = _nchw(A).requires_grad_()
    w1, w4 = _weights(W1).requires_grad_(), _weights(W4).requires_grad_()
    c1 = torch.tensor(b1, dtype=torch.float64).requires_grad_()
    c4 = torch.tensor(b4, dtype=torch.float64).requires_grad_()
    z1 = F.conv2d(x, w1, c1, stride=2, padding=1)
    a2 = F.relu(z1)
    a3 = F.avg_pool2d(a2, 2, 1)
    z4 = F.conv2d(a3, w4, c4, padding=1)
    a5 = F.max_pool2d(z4, 2, 2)  # (no ReLU before it: no tied maxima)
    for t in (z1, a2, a3, z4):
        t.retain_grad()
    a5.backward(_nchw(grad))

    def dW(w):
        return w.grad.permute(2, 3, 1, 0).numpy()
    Z1, A3, Z4, A5 = _nhwc(z1), _nhwc(a3), _nhwc(z4), _nhwc(a5)
    return {
        "conv1.Z.shape": list(Z1.shape),
        "conv1.Z[0, 2, 2]": Z1[0, 2, 2].tolist(),
        "relu2.A.mean": float(_nhwc(a2).mean()),
        "pool3.A.mean": float(A3.mean()),
        "pool3.A[1, :, :, 0]": A3[1, :, :, 0].tolist(),
        "conv4.Z.shape": list(Z4.shape),
        "conv4.Z.norm": float(np.linalg.norm(Z4)),
        "pool5.A[0, :, :, 3]": A5[0, :, :, 3].tolist(),
        "pool5.A.mean": float(A5.mean()),
        "pool5.dA_prev.sum": float(_nhwc(z4.grad).sum()),
        "pool5.dA_prev[0, :, :, 0]": _nhwc(z4.grad)[0, :, :, 0].tolist(),
        "conv4.dA_prev.norm": float(np.linalg.norm(_nhwc(a3.grad))),
        "conv4.dW.mean": float(dW(w4).mean()),
        "conv4.db": c4.grad.numpy().tolist(),
        "pool3.dA_prev.sum": float(_nhwc(a2.grad).sum()),
        "pool3.dA_prev[2, :, :, 1]": _nhwc(a2.grad)[2, :, :, 1].tolist(),
        "relu2.dA_prev.norm": float(np.linalg.norm(_nhwc(z1.grad))),
        "conv1.dA_prev.norm": float(np.linalg.norm(_nhwc(x.grad))),
        "conv1.dA_prev[3, 1, :, 2]": _nhwc(x.grad)[3, 1, :, 2].tolist(),
        "conv1.dW.mean": float(dW(w1).mean()),
        "conv1.dW[:, :, 0, 1]": dW(w1)[:, :, 0, 1].tolist(),
        "conv1.db": c1.grad.numpy().tolist(),
    }


def pool_forward_case(mode: str) -> dict:
    """The course's pool_forward test: RandomState(1), A_prev (2,4,4,3), f 3, stride 2."""
    A = np.random.RandomState(1).randn(2, 4, 4, 3)
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    return {"A": _nhwc(pool(_nchw(A), 3, 2)).tolist()}


def pool_backward_case(mode: str) -> dict:
    """The course's pool_backward test: RandomState(1), A_prev (5,5,3,2),
    f 2, stride 1, then dA = randn(5,4,2,2)."""
    rng = np.random.RandomState(1)
    A, dA = rng.randn(5, 5, 3, 2), rng.randn(5, 4, 2, 2)
    x = _nchw(A).requires_grad_()
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    pool(x, 2, 1).backward(_nchw(dA))
    return {"dA.mean": float(dA.mean()), "dA_prev[1, 1]": _nhwc(x.grad)[1, 1].tolist()}


CASES = {
    "seed.yaml": lambda: seed_case("window"),
    "seed_once.yaml": lambda: seed_case("once"),
    "stack.yaml": stack_case,
    "course.yaml": course_case,
    "pool_forward.yaml": lambda: pool_forward_case("max"),
    "pool_forward_average.yaml": lambda: pool_forward_case("average"),
    "pool_backward.yaml": lambda: pool_backward_case("max"),
    "pool_backward_average.yaml": lambda: pool_backward_case("average"),
}


def main() -> None:
    for name, case in CASES.items():
        print(f"# {name}")
        for key, value in case().items():
            print(f"  {key}: {value!r}")


if __name__ == "__main__":
    main()
