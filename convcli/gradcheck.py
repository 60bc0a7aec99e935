"""Central-difference check of every gradient of a run.

The loss is ``L = sum(output * G)`` where ``G`` is the run's upstream
gradient, held fixed (so ``grad: output`` checks the gradient the run
actually used). For every layer, its ``dA_prev`` is checked by perturbing
that layer's input, and a conv layer's ``dW``/``db`` by perturbing that
layer's own copy of the weights; only the layers from the perturbed one on
are re-run, and for a layer input only the sample that holds the coordinate
(the layers act on each sample alone). Each coordinate gives
``n = (L(x+h) - L(x-h)) / 2h``; per quantity the error is ``||g - n|| / (||g|| + ||n||)`` over the coordinates checked.

Large arrays are checked on a random subset of ``samples`` coordinates
(chosen with a fixed seed, so a run is repeatable); the report says how many.

conv, pool and relu are all piecewise linear, so away from a kink the central
difference is exact but for rounding. At a kink (a ReLU input within ``h`` of
0, tied maxima in a max-pool window) the function has no derivative and the
two one-sided differences disagree; such coordinates are skipped and counted
rather than failed: convcli's choice of subgradient there is a convention
(``ties``), not a bug.

``bias: window`` (the seed notebook's forward) adds ``b`` K = f_H*f_W*n_C_prev
times, while its backward is, by contract, the standard ``db = sum(dZ)``
(DESIGN.md section 1). So for such a layer ``db`` is checked against
``(dL/db) / K``: exactly the contract, and a wrong ``db`` still fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .network import LayerError
from .runner import Results, layer_error

# (step h, pass threshold) per dtype
# The layers are piecewise linear: a larger step costs no truncation error and
# divides the rounding noise of L (float64: ~1e-16 * sum|out*G|) by more.
DEFAULTS = {"float64": (1e-5, 1e-6), "float32": (1e-2, 1e-2)}
DEFAULT_SAMPLES = 100


@dataclass
class GradResult:
    quantity: str
    shape: tuple[int, ...]
    checked: int
    total: int
    skipped: int  # coordinates at a kink
    error: float
    threshold: float
    passed: bool
    worst: list[int] | None  # index of the largest |g - n| among those checked
    note: str = ""

    def as_json(self) -> dict:
        return {
            "note": self.note,
            "quantity": self.quantity, "shape": list(self.shape), "checked": self.checked,
            "total": self.total, "skipped_at_kinks": self.skipped, "error": self.error,
            "threshold": self.threshold, "passed": self.passed, "worst_index": self.worst,
        }


def _loss(out: np.ndarray, G: np.ndarray) -> float:
    return float(np.dot(out.astype(np.float64, copy=False).ravel(), G))


def gradcheck(results: Results, *, samples: int = DEFAULT_SAMPLES, eps: float | None = None,
              threshold: float | None = None, seed: int = 0,
              progress: Callable[[str, int], None] | None = None) -> list[GradResult]:
    """Check every gradient in ``results`` (a backward run).

    ``samples``: coordinates per quantity at most (0: all). ``progress`` is
    called with (quantity, coordinates done) after each coordinate.
    """
    p = results.plan
    if results.grad is None:
        raise ValueError("gradcheck needs a backward run (runner.run(plan, backward=True))")
    h0, thr0 = DEFAULTS[p.dtype]
    eps = h0 if eps is None else eps
    threshold = thr0 if threshold is None else threshold
    network, params, trace = p.network, results.inputs, results.trace
    dtype = np.dtype(p.dtype)
    out0 = trace[-1][0]
    m = out0.shape[0]
    # Per sample: G_s, and L_s = sum(out[s] * G[s]). Layers act on each sample
    # alone, so a perturbed layer input re-runs one sample, not the batch.
    G = results.grad.astype(np.float64).reshape(m, -1)
    L_s = np.einsum("sk,sk->s", out0.astype(np.float64).reshape(m, -1), G)
    L0 = float(L_s.sum())
    # Rounding noise of L, as a derivative: what a one-sided difference can be off by.
    noise = 64 * np.finfo(dtype).eps * float(np.abs(out0.astype(np.float64).ravel()) @ np.abs(G.ravel())) / eps
    rng = np.random.RandomState(seed)
    report = []
    for i, layer in enumerate(network.layers):
        x_i = params[p.input_name] if i == 0 else trace[i - 1][0]
        targets = [("dA_prev", x_i)]
        if layer.kind == "conv":
            targets += [("dW", params[layer.W]), ("db", params[layer.b])]
        for key, base in targets:
            name = f"{layer.name}.{key}"
            g_flat = results.quantities[name].reshape(-1)
            scale, note = 1.0, ""
            if key == "db" and layer.hparameters.get("bias") == "window":
                hyper = p.layer_shapes[i].hyper
                scale = float(np.prod(hyper["f"]) * p.layer_shapes[i].in_shape[3])
                note = f"bias: window: db checked as (dL/db) / {scale:g}, the notebook's convention"
            n = base.size
            coords = np.arange(n) if not samples or n <= samples else np.sort(rng.choice(n, samples, replace=False))
            per_sample = n // m

            def loss_at(work: np.ndarray, s: int | None) -> float:
                """L with ``work`` in place of the perturbed array; ``s``: the
                one sample ``work`` holds (a layer input), else None."""
                try:
                    if s is not None:
                        out = network.forward(work, params, engine=p.engine, start=i)[-1][0]
                        return float(np.dot(out.astype(np.float64).ravel(), G[s]))
                    out = network.forward(x_i, params, engine=p.engine, start=i,
                                          overrides={i: {key[1:]: work}})[-1][0]
                    return _loss(out, G.ravel())
                except LayerError as exc:
                    raise layer_error(p.cfg, exc) from None

            g_list, n_list, kept = [], [], []
            skipped = 0
            for done, j in enumerate(coords, 1):
                if key == "dA_prev":
                    s, k = divmod(int(j), per_sample)
                    work, base_loss = base[s:s + 1].copy(), float(L_s[s])
                else:
                    s, k = None, int(j)
                    work, base_loss = base.copy(), L0
                flat = work.reshape(-1)
                x = flat[k]
                flat[k] = x + dtype.type(eps)
                h_plus = float(flat[k]) - float(x)
                f_plus = loss_at(work, s)
                flat[k] = x - dtype.type(eps)
                h_minus = float(x) - float(flat[k])
                f_minus = loss_at(work, s)
                d_plus, d_minus = (f_plus - base_loss) / h_plus, (base_loss - f_minus) / h_minus
                if abs(d_plus - d_minus) > 1e-3 * max(abs(d_plus), abs(d_minus)) + noise:
                    skipped += 1
                else:
                    g_list.append(float(g_flat[j]))
                    n_list.append((f_plus - f_minus) / (h_plus + h_minus) / scale)
                    kept.append(int(j))
                if progress:
                    progress(name, done)
            g, num = np.array(g_list), np.array(n_list)
            denom = np.linalg.norm(g) + np.linalg.norm(num)
            error = float(np.linalg.norm(g - num) / denom) if denom > 0 else 0.0
            worst = None
            if kept:
                worst_k = int(np.argmax(np.abs(g - num)))
                worst = [int(v) for v in np.unravel_index(kept[worst_k], base.shape)]
            report.append(GradResult(name, tuple(base.shape), len(kept), n, skipped, error, threshold,
                                     error <= threshold, worst, note))
    return report


def planned_coordinates(results: Results, samples: int = DEFAULT_SAMPLES) -> list[tuple[str, int]]:
    """(quantity, coordinates to perturb) in the order :func:`gradcheck` goes,
    for a progress bar."""
    p = results.plan
    out = []
    for i, layer in enumerate(p.network.layers):
        sizes = [("dA_prev", int(np.prod(p.layer_shapes[i].in_shape)))]
        if layer.kind == "conv":
            sizes += [("dW", results.inputs[layer.W].size), ("db", results.inputs[layer.b].size)]
        for key, n in sizes:
            out.append((f"{layer.name}.{key}", n if not samples else min(n, samples)))
    return out
