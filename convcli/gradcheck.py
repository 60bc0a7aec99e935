"""Central-difference check of every gradient of a run.

The loss is ``L = sum(output * G)`` where ``G`` is the run's upstream
gradient, held fixed (so ``grad: output`` checks the gradient the run
actually used). For every layer, its ``dA_prev`` is checked by perturbing
that layer's input, and a conv layer's ``dW``/``db`` by perturbing that
layer's own copy of the weights; only the layers from the perturbed one on
are re-run, and for a layer input only the sample that holds the coordinate
(the layers act on each sample alone). Per quantity the error is
``||g - n|| / (||g|| + ||n||)`` over the coordinates checked; where that
fails for a gradient that is a small remainder of cancelling terms (0 but
for rounding) within ``NOISE_MARGIN`` times the differences' own rounding
noise, it is measured against that noise instead (see
:meth:`_Quantity._remainder`).

Large arrays are checked on a random subset of ``samples`` coordinates
(chosen with a fixed seed, so a run is repeatable); the report says how many.

The numeric side
----------------
It runs in float64 whatever the run's dtype: a float32 run's gradient is
compared with the derivative of the same layers at the same (float32) point,
computed without float32's rounding, which would otherwise swamp a difference
taken over a small step. Coordinate ``x`` is moved by a relative step
``h = eps * max(1, |x|)``, so an input of 1e6 gets a step it can feel (a
layer input by at least eps times its channel's root mean square: a ReLU's 0
among inputs of 1e6 gets one too); the
denominator is the representable ``(x + h) - (x - h)``, and a step that
rounds away entirely is a usage error (raise ``--eps``). Each difference is
summed over the output elements, ``sum((out(x+h) - out(x-h)) * G)``: the
elements the perturbation does not reach are bit-identical in both runs and
add exactly 0, so the rounding noise is that of the outputs it touches, not
of the whole loss.

A ``b`` is added to every output of its channel, so its step is relative to
those outputs (``max(1, |b|, rms(Z[..., c]))``): next to outputs of 1e6 a
step of 1e-5 would be lost in their rounding. It is also divided by the
square root of their number N: moving all N at once, a step of eps crossed
~N*eps ReLU kinks, each by too little for the kink test to see. A weight's,
by ``sqrt(N*eps/DW_CROSSINGS)`` where that is above 1: an entry of
``W[..., c]`` moves every output of channel c too, by its input's share.

Kinks
-----
conv, pool and relu are all piecewise linear, so away from a kink the central
difference is exact but for rounding. At a kink (a ReLU input within ``h`` of
0, two maxima of a pool window that cross within ``h``) the function has no
derivative and the two one-sided differences disagree, by more than their
rounding noise; such coordinates are skipped and counted rather than failed.

Ties
----
``ties: all`` (the default, the course's ``create_mask_from_window``) gives
every maximum of a window that holds it more than once the whole gradient.
That is a convention, not the derivative of max: where the k tied maxima move
together (a bias shifting a flat background, say) max moves by 1 per unit
while ``ties: all`` counts k, and no kink shows, since the tie never breaks.
So a quantity that fails against the derivative, and flows through a
max-pool layer with ``ties: all`` whose forward pass has tied windows, is
checked again against the derivative of the convention itself: the numeric
side then runs a stand-in for each such layer, whose windows keep the tied
positions of the run's point and output the sum of their values (shifted to
equal the max there), so its derivative is 1 at every tied maximum. A
gradient that passes that is reported as checked against the convention
(``GradResult.ties``: the layer and its number of tied windows), not as the
derivative; a wrong one still fails. ``ties: first`` and ``split`` need no
stand-in: they are the derivative wherever one exists, and the rest are kinks.
Ties that do not change a derivative (ReLU zeros tied in a window, common
and harmless) leave the report as it was: kinks, skipped.

``bias: window``
----------------
The seed notebook's forward adds ``b`` K = f_H*f_W*n_C_prev times, while its
backward is, by contract, the standard ``db = sum(dZ)`` (DESIGN.md section 1).
So for such a layer ``db`` is checked against ``(dL/db) / K``: exactly the
contract, and a wrong ``db`` still fails.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .errors import ConvcliError
from .network import LayerError, Network
from .runner import Results, in_other_dtype, layer_error
from .stats import all_finite

# (relative step, pass threshold) per dtype. The layers are piecewise linear:
# a larger step costs no truncation error, only a higher chance of crossing a
# kink, and a kink crossed by a little shifts the slopes too little to be
# told from noise: the error of a correct gradient grows with the step.
# float32 takes a larger one than float64: the float32 run's kinks (a ReLU
# input it rounded to the other side of 0, ~1e-7 of its terms' size away)
# must lie within the step. Measured, float32, correct gradients: over 120
# random configs (612 quantities) the worst error was 1.7e-5 at a step of
# 1e-2, 3.8e-6 at 1e-3 or 1e-4, and at 1e-2 a bias's step (relative to the
# outputs it moves) crossed a ReLU kink for every coordinate in 9 of 98
# conv -> relu configs (db "not checked", exit 1); two conv layers of 64
# channels with a relu between: conv1.db 1.4e-3 (FAIL) / 1.7e-4 / 1.8e-5 at
# 1e-2 / 1e-3 / 1e-4. The threshold fails a gradient 1% off (1e-2 passed one
# 1.5% off).
DEFAULTS = {"float64": (1e-5, 1e-6), "float32": (1e-4, 1e-3)}
DEFAULT_SAMPLES = 100
# How far a weight's step is made smaller (see gradcheck()): divided by
# sqrt(n_out * eps / DW_CROSSINGS), at least 1. Its error grew with the ReLU
# kinks crossed (correct conv1.dW over 131072 and 98304 outputs a channel
# failed at 8.9e-5 and 2.0e-4 in float64), and with a smaller step, the
# rounding noise (a conv1.dW over 100 outputs of dark inputs: 1.3e-8
# undivided, 7.2e-8 at this setting, 1.9e-7 divided by sqrt(100)). 1e-2 left
# the 98304-output case failing at 6.4e-6.
DW_CROSSINGS = 1e-4
# Rounding noise of a float64 output, per unit of its magnitude: generous, a
# kink's jump is many orders above it.
_EPS64 = float(np.finfo(np.float64).eps)
_EPS32 = float(np.finfo(np.float32).eps)
_NOISE = 64 * _EPS64
# How far a gradient may differ from its central differences for their rounding noise alone (where the
# relative error cannot tell, see _Quantity._remainder): this many times that noise's measure.
NOISE_MARGIN = 4.0
# The parts of the step the differences are taken again at, to measure their noise.
NOISE_STEPS = (0.7, 0.45, 1.6)
# The run's own rounding of a gradient: this many float64 epsilons per unit of the size of its terms.
RUN_ROUNDING = 4.0
# A float32 run's gradients are computed again in float64 (for its rounding's measure) up to this size.
OTHER_DTYPE_MAX_BYTES = 256 << 20
# A gradient whose differences' rounding bound (the slopes' noise) is over this part of it, and holds the gap,
# is measured against the differences' noise too (_Quantity._remainder): the differences cannot certify what
# the default float64 threshold asks there (a bias of 1e6, inputs of 1e-9 beside weights of 1). Under it,
# the relative error is measured as ever, at whatever --threshold asks (1.4e-300 fails a right gradient).
NOISY = DEFAULTS["float64"][1]
# ... but passes there only where that noise is at most this part of the gradient (float32's threshold): a
# noise near its size could not tell it from 0 or from its negative (a review: both passed).
NOISE_RESOLVES = DEFAULTS["float32"][1]
# A gradient under this part of its terms' size is their cancelling remainder, which may be measured against
# the rounding noise (_Quantity._remainder): at the default steps and thresholds a right one fails its relative
# error from ~1e-5 of its terms in float64 (the differences' noise).
CANCELLED = 1e-3
# Two one-sided differences closer than this (relative) are one slope.
_KINK = 1e-3


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
    # Set when the gradient was checked against the ties: all convention (it
    # failed against the derivative): those max-pool layers -> tied windows.
    ties: dict[str, int] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """``pass``, ``fail`` (check's words, in JSON too), or ``not checked``:
        every coordinate sampled was at a kink, so nothing was compared (which
        is no pass either)."""
        return "pass" if self.passed else "not checked" if self.checked == 0 else "fail"

    def as_json(self) -> dict:
        return {
            "note": self.note,
            "quantity": self.quantity, "shape": list(self.shape), "checked": self.checked,
            "total": self.total, "skipped_at_kinks": self.skipped,
            "error": None if math.isnan(self.error) else self.error,  # not computed: null, as in check
            "threshold": self.threshold, "passed": self.passed, "status": self.status, "worst_index": self.worst,
            "checked_against": "ties_all_convention" if self.ties else "derivative",
            "tied_windows": dict(self.ties),
        }


# --------------------------------------------------------------------- ties


def _windows(x: np.ndarray, f: tuple[int, int], s: tuple[int, int]) -> np.ndarray:
    """Every pool window of ``x`` (m, n_H_prev, n_W_prev, C) as a view of
    shape (m, n_H, n_W, C, f_H, f_W)."""
    return sliding_window_view(x, f, axis=(1, 2))[:, ::s[0], ::s[1]]


@dataclass
class _TiedPool:
    """Stand-in for a ``ties: all`` max-pool layer with tied windows: each
    window outputs the sum of its positions that held the maximum at the
    run's point, minus ``(k - 1) * max`` so it equals the max there. Its
    derivative is ``create_mask_from_window``'s: 1 at every tied maximum."""

    f: tuple[int, int]
    stride: tuple[int, int]
    mask: np.ndarray  # (m, n_H, n_W, C, f_H, f_W) float64: 1 at each window's maxima
    offset: np.ndarray  # (m, n_H, n_W, C) float64
    tied: int  # windows holding their max more than once

    def __call__(self, x: np.ndarray, sample: int | None) -> np.ndarray:
        mask, offset = self.mask, self.offset
        if sample is not None:
            mask, offset = mask[sample:sample + 1], offset[sample:sample + 1]
        # ...ij,...ij -> ...: each window's chosen positions, summed
        return np.einsum("...ij,...ij->...", _windows(x, self.f, self.stride), mask) - offset


def tied_pools(results: Results) -> dict[int, _TiedPool]:
    """Layer index -> stand-in, for every max-pool layer with ``ties: all``
    whose forward pass (in the run's dtype, as its backward saw it) has a
    window holding its maximum more than once."""
    p = results.plan
    out = {}
    for j, layer in enumerate(p.network.layers):
        hyper = p.layer_shapes[j].hyper
        if layer.kind != "pool" or layer.mode != "max" or hyper.get("ties") != "all":
            continue
        x = results.inputs[p.input_name] if j == 0 else results.trace[j - 1][0]
        f, s = tuple(hyper["f"]), tuple(hyper["stride"])
        win = _windows(x, f, s)
        top = win.max(axis=(-2, -1))
        is_max = win == top[..., None, None]
        k = is_max.sum(axis=(-2, -1))
        tied = int(np.count_nonzero(k > 1))
        if tied:
            top = top.astype(np.float64)
            out[j] = _TiedPool(f, s, is_max.astype(np.float64), (k - 1) * top, tied)
    return out


# --------------------------------------------------------------------- the numeric side


class _Forward:
    """The layers from ``start`` on, in float64, with the stand-ins in place
    of their layers; returns the last output."""

    def __init__(self, results: Results, params: dict[str, np.ndarray], stand_ins: dict[int, _TiedPool]):
        p = results.plan
        self.p, self.params, self.stand_ins = p, params, stand_ins
        layers = p.network.layers
        # Each run of ordinary layers is a Network of its own, keyed by its first index.
        self.runs: dict[int, tuple[int, Network]] = {}
        for k in range(len(layers)):
            if k not in stand_ins:
                stop = next((j for j in range(k + 1, len(layers)) if j in stand_ins), len(layers))
                self.runs[k] = (stop, Network(layers[k:stop]))

    def __call__(self, x: np.ndarray, start: int, sample: int | None = None,
                 override: dict[str, np.ndarray] | None = None) -> np.ndarray:
        k, n = start, len(self.p.network.layers)
        while k < n:
            if k in self.stand_ins:
                x = self.stand_ins[k](x, sample)
                k += 1
                continue
            stop, net = self.runs[k]
            try:
                x = net.forward(x, self.params, engine=self.p.engine,
                                overrides={0: override} if override and k == start else None)[-1][0]
            except LayerError as exc:
                raise layer_error(self.p.cfg, LayerError(k + exc.index, exc.name, exc.what)) from None
            k = stop
        return x


def _f64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _check_finite(results: Results) -> None:
    p = results.plan
    for name, a in results.inputs.items():
        if not all_finite(a):
            raise ConvcliError(p.cfg.where("inputs", name),
                               "holds NaN or Inf (allow_nonfinite: true): central differences need finite numbers")
    if not all_finite(results.grad):
        # grad: output (the default, with no backward: key) is the last layer's output: it overflowed
        what = ("the upstream gradient, the last layer's output (grad: output)," if p.grad_spec == "output"
                else "the upstream gradient")
        raise ConvcliError(p.cfg.where("backward", "grad"),
                           f"{what} holds NaN or Inf: central differences need finite numbers")


def check_options(eps: float | None, threshold: float | None) -> None:
    """``eps`` a finite number > 0, ``threshold`` a finite number >= 0
    (None: the dtype's default); the CLI asks before it computes anything."""
    if eps is not None and not (math.isfinite(eps) and 0 < eps < 1):
        # a step of at least the value itself is no derivative; larger ones overflowed into wrong advice
        raise ConvcliError("--eps", f"must be a number > 0 and < 1 (a step is eps times max(1, |x|)), got {eps}")
    if threshold is not None and not (math.isfinite(threshold) and threshold >= 0):
        raise ConvcliError("--threshold", f"must be a finite number >= 0, got {threshold}")


def gradcheck(results: Results, *, samples: int = DEFAULT_SAMPLES, eps: float | None = None,
              threshold: float | None = None, seed: int = 0,
              progress: Callable[[str, int], None] | None = None) -> list[GradResult]:
    """Check every gradient in ``results`` (a backward run).

    ``samples``: coordinates per quantity at most (0: all). ``eps``: the
    relative step (default per dtype, :data:`DEFAULTS`). ``progress`` is
    called with (quantity, coordinates done) after each coordinate.
    """
    p = results.plan
    if results.grad is None:
        raise ValueError("gradcheck needs a backward run (runner.run(plan, backward=True))")
    _check_finite(results)
    check_options(eps, threshold)
    h0, thr0 = DEFAULTS[p.dtype]
    eps = h0 if eps is None else eps
    threshold = thr0 if threshold is None else threshold
    network, trace = p.network, results.trace
    params = {name: _f64(a) for name, a in results.inputs.items()}
    G = _f64(results.grad)
    stand_ins = tied_pools(results)
    real = _Forward(results, params, {})
    conventional = _Forward(results, params, stand_ins) if stand_ins else None
    rng = np.random.RandomState(seed)
    report = []
    # A float32 run's gradients computed again in float64 from its inputs and caches (same code, same
    # upstream gradient): what float32's rounding alone made of each, asked only for a cancelling remainder
    # that fails (_Quantity._remainder); none for a float64 run, or one too large to hold twice.
    again = functools.cache(lambda: in_other_dtype(p, results, True, OTHER_DTYPE_MAX_BYTES, same_grad=True)
                            if p.dtype == "float32" else None)
    for i, layer in enumerate(network.layers):
        x_i = params[p.input_name] if i == 0 else _f64(trace[i - 1][0])
        ties = {network.layers[j].name: t.tied for j, t in stand_ins.items() if j >= i}
        targets = [("dA_prev", x_i, p.layer_input(i))]
        if layer.kind == "conv":
            targets += [("dW", params[layer.W], layer.W), ("db", params[layer.b], layer.b)]
        bases: dict = {}  # unperturbed outputs, shared by the layer's quantities
        for key, base, stepped in targets:
            name = f"{layer.name}.{key}"
            n = base.size
            coords = np.arange(n) if not samples or n <= samples else np.sort(rng.choice(n, samples, replace=False))
            scale, note = 1.0, ""
            if key == "db" and layer.hparameters.get("bias") == "window":
                hyper = p.layer_shapes[i].hyper
                scale = float(np.prod(hyper["f"]) * p.layer_shapes[i].in_shape[3])
                note = f"bias: window: db checked as (dL/db) / {scale:g}, the notebook's convention"
            # A window bias moves each output by `scale` steps: its step is
            # that much smaller, so that the outputs move as far as under
            # bias: once (and cross as few ReLU kinks). And a bias moves
            # every output of its channel, N of them: a step of eps (of their
            # size) crossed ~N*eps ReLU kinks, each by a little, which the
            # kink test does not see (a correct conv1.db of a 128x32x32 layer
            # failed at 3.1e-4 in float64). Divided by sqrt(N), the crossings
            # fall to ~sqrt(N)*eps and the rounding noise stays ~1e-16*sqrt(N)/eps.
            step = eps / scale
            n_out = max(1, trace[i][0].size // trace[i][0].shape[-1])  # outputs of a channel
            if key == "db":
                step /= math.sqrt(n_out)
            elif key == "dW":
                # An entry of W[..., c] moves every output of channel c too, but by
                # its input's share: where inputs are small (dark pixels) a smaller
                # step only adds rounding noise. So only as far as the kinks need.
                step /= math.sqrt(max(1.0, n_out * eps / DW_CROSSINGS))
            q = _Quantity(name, key, i, x_i, base, stepped, G, results.quantities[name].reshape(-1), step,
                          _step_floor(key, trace[i][0], x_i), bases, eps,
                          lambda name=name: None if again() is None or name not in again()
                          else again()[name].reshape(-1))
            result = q.check(real, coords, scale, threshold, progress)
            said = ""
            if ties and conventional is not None:
                # ties: all is not the derivative at a tie: check against the convention's instead. And one
                # that passes the derivative must pass the convention too, which the config asks for (a
                # review: a backward giving a tie's gradient to one maximum, as ties: first does, passed).
                other = q.check(conventional, coords, scale, threshold,
                                (lambda _, done: progress(name + CONVENTION, done)) if progress else None)
                other.ties = ties
                # (one that compared nothing replaces nothing: a review's 'not checked, against ties: all')
                if other.checked and (not result.passed or not other.passed):
                    if result.passed:
                        said = ("the derivative's check passed, the ties: all convention's (the config's rule) "
                                "failed: the gradient of a tied window went to fewer than all its maxima")
                    result = other
                elif not result.passed and result.checked:  # ... but a failed derivative is no verdict here
                    # (a review: the derivative's FAIL of a right gradient was reported)
                    said = (f"the derivative's check failed ({result.error:.2g}), which ties: all need not meet, "
                            "and every coordinate sampled sits at a kink of the convention")
                    result = other
            result.note = "; ".join(filter(None, [note, said, result.note]))
            report.append(result)
    return report


@dataclass
class _Quantity:
    """One gradient to check: ``base`` (a layer input, or a conv's ``W`` or
    ``b``) is perturbed coordinate by coordinate; ``g`` is convcli's gradient."""

    name: str
    key: str  # dA_prev | dW | db
    layer: int
    x: np.ndarray  # the layer's input, float64
    base: np.ndarray
    stepped: str  # what base is: the layer's input (A_prev, relu2.A), W or b
    G: np.ndarray
    g: np.ndarray  # flat
    eps: float
    floor: np.ndarray | None  # per coordinate, a magnitude its step is relative to as well
    bases: dict  # (forward, sample) -> the unperturbed output
    given: float  # --eps, which ``eps`` is (a weight's or bias's: made smaller)
    # for a float32 run: the gradient computed again in float64 by the same code (flat), or None
    in_float64: Callable[[], np.ndarray | None] = lambda: None

    def _slopes(self, forward: _Forward, j: int, part: float = 1.0):
        """Coordinate ``j`` moved by ``part`` of its step each way: ``(d_plus,
        d_minus, h_up, h_down, out0, out_plus, out_minus, G)``, the one-sided
        slopes of the loss ``sum(out * G)`` and what they came from; None
        where another ``part`` of the step is lost in rounding or goes past
        float64's largest number."""
        base, x_i, i = self.base, self.x, self.layer
        # A layer input is perturbed one sample at a time when it has a batch axis.
        batched = self.key == "dA_prev" and x_i.ndim >= 1 and x_i.shape[0] > 0  # (an empty batch: no coords)
        if batched:
            s, k = divmod(int(j), base.size // x_i.shape[0])
            array, G = base[s:s + 1], self.G[s:s + 1]
        else:
            s, k, array, G = None, int(j), base, self.G
        work = array.copy()
        flat = work.reshape(-1)
        x = float(flat[k])
        h = part * self.eps * max(1.0, abs(x), 0.0 if self.floor is None else float(self.floor[k]))
        x_plus, x_minus = x + h, x - h  # float64, as work holds them
        finite = math.isfinite(x_plus) and math.isfinite(x_minus)
        if not (finite and x_minus < x < x_plus):
            if part != 1:  # (a step for the noise's measure only: none there)
                return None
            where = f"{self.stepped}{[int(v) for v in np.unravel_index(int(j), base.shape)]}"
            if not finite:
                # past float64's largest number: the slopes were inf / inf, NaN, which passed as an error of 0
                raise ConvcliError("--eps", f"a step of {self.eps:g} at {where} = {x!r} goes past float64's "
                                            "largest number: central differences need room on both sides; scale "
                                            "the inputs down")
            made = (f" (--eps {self.given:g}, made smaller for a {self.key[1:]} that moves many outputs)"
                    if self.eps != self.given else "")
            raise ConvcliError("--eps", f"a step of {self.eps:g}{made} is lost in rounding at {where} = {x!r}; "
                                        "give a larger --eps")
        if (id(forward), s) not in self.bases:
            self.bases[id(forward), s] = forward(x_i if s is None else x_i[s:s + 1], i, sample=s)
        out0 = self.bases[id(forward), s]

        def run(value: float) -> np.ndarray:
            flat[k] = value
            if self.key == "dA_prev":
                return forward(work, i, sample=s)
            return forward(x_i, i, override={self.key[1:]: work})

        out_plus, out_minus = run(x_plus), run(x_minus)
        h_up, h_down = x_plus - x, x - x_minus
        # Each side's slope as (change / step) . G: the change times G first overflowed float64 for
        # values near its limit (1e303 * 1e308), and inf / inf made the slope NaN (a review).
        d_plus = float(np.vdot((out_plus - out0) / h_up, G))
        d_minus = float(np.vdot((out0 - out_minus) / h_down, G))
        return d_plus, d_minus, h_up, h_down, out0, out_plus, out_minus, G

    @staticmethod
    def _central(d_plus: float, d_minus: float, h_up: float, h_down: float) -> float:
        """The central difference: the two slopes weighted by their steps (equal but for rounding)."""
        return d_plus * (h_up / (h_up + h_down)) + d_minus * (h_down / (h_up + h_down))

    def check(self, forward: _Forward, coords, scale: float, threshold: float, progress) -> GradResult:
        g_list, n_list, term_list, noise_list, kept = [], [], [], [], []
        skipped = 0
        for done, j in enumerate(coords, 1):
            d_plus, d_minus, h_up, h_down, out0, out_plus, out_minus, G = self._slopes(forward, j)
            # Rounding noise of those slopes: the outputs the step reached, and only those.
            touched = (out_plus != out0) | (out_minus != out0)
            size = np.abs(out0[touched]) + np.abs(out_plus[touched]) + np.abs(out_minus[touched])
            noise = _NOISE * float(np.vdot(size / min(h_up, h_down), np.abs(G[touched])))
            if abs(d_plus - d_minus) > _KINK * max(abs(d_plus), abs(d_minus)) + noise:
                skipped += 1
            else:
                g_list.append(float(self.g[j]))
                n_list.append(self._central(d_plus, d_minus, h_up, h_down) / scale)
                # the size of the gradient's terms: its slope with no cancellation
                term_list.append(float(np.vdot(np.abs(out_plus - out_minus) / (h_up + h_down), np.abs(G))) / scale)
                noise_list.append(noise / scale)
                kept.append(int(j))
            if progress:
                progress(self.name, done)
        g, num = np.array(g_list), np.array(n_list)
        # the norms of both taken at the scale of their largest element: squares of a gradient of 2e301, right
        # and finite, overflowed to inf and made the error NaN, a FAIL (a review)
        big = max(float(np.abs(g).max()), float(np.abs(num).max())) if kept else 0.0
        unit = big if math.isfinite(big) and big > 0 else 1.0
        denom = np.linalg.norm(g / unit) + np.linalg.norm(num / unit)
        # Nothing compared (every coordinate at a kink) is no agreement: NaN, and not passed; nor is a
        # slope that is no number (an output past float64's range): NaN failed `denom > 0` and passed as 0.
        if kept and denom > 0:
            error = float(np.linalg.norm((g - num) / unit) / denom)
        else:
            error = 0.0 if kept and denom == 0 else math.nan
        note = ""
        terms = np.array(term_list)
        # where the relative error cannot tell rounding from a mistake, it is measured against the differences'
        # rounding noise (_remainder): a gradient that is what remains of terms that cancel, or one whose
        # differences' rounding (outputs far larger than what the step moves them by: a bias of 1e6, inputs of
        # 1e-9 beside weights of 1; a review saw right gradients FAIL there) may be as large as the gap
        if threshold > 0 and math.isfinite(error) and error > threshold:
            cancelling = denom * unit < CANCELLED * float(np.linalg.norm(terms))
            bound = float(np.linalg.norm(noise_list))
            noisy = bound > NOISY * float(np.linalg.norm(g)) and float(np.linalg.norm(g - num)) <= bound
            if cancelling or noisy:
                error, note = self._remainder(forward, kept, g, num, terms, scale, threshold, error, cancelling)
        worst = None
        if kept:
            worst = [int(v) for v in np.unravel_index(kept[int(np.argmax(np.abs(g - num)))], self.base.shape)]
        return GradResult(self.name, tuple(self.base.shape), len(kept), self.base.size, skipped, error, threshold,
                          bool(kept) and error <= threshold, worst, note)

    def _remainder(self, forward: _Forward, kept: list[int], g: np.ndarray, num: np.ndarray, terms: np.ndarray,
                   scale: float, threshold: float, error: float, cancelling: bool = True) -> tuple[float, str]:
        """``(error, note)`` of a gradient that failed its relative error and
        is what remains of terms that cancel (0 but for rounding: a db under
        an upstream gradient summing to 0 over each channel FAILed at ~1, its
        relative error two roundings against each other). The differences
        are taken again at other parts of the step (NOISE_STEPS): the layers
        are linear there but for rounding, so each agrees with the first but
        for their noise, which the median of their gaps measures. Parts that
        are not powers of two: steps of 1/2, 1/4, 2 rounded alike, their
        gaps 0 by a right db of 0 the differences missed by 1e-11 of its
        terms, and one half-step alone inflated the noise 4000-fold past a
        wrong db another time (reviews; the one-sided slopes' gap carries
        the unperturbed output's rounding, which the central difference
        cancels, and bounds on the outputs' rounding overstated it up to
        1e6, passing a db of 0 the differences told apart). Within
        NOISE_MARGIN times that noise and the run's own rounding (in float64
        by a bound, in float32 as measured against the same layers in
        float64), convcli's and the differences cannot be told apart: error =
        threshold * |g - n| / tol, at most the threshold. Otherwise the
        relative error stands."""
        sigma = []
        for j, n in zip(kept, num):
            # |n_1 - n_k| has a spread of sqrt(1 + 1/k^2) times the step's own noise (the noise grows as the
            # step shrinks): each scaled to that, and the median of the three
            found = []
            for part in NOISE_STEPS:
                slopes = self._slopes(forward, j, part)
                if slopes is not None:
                    found.append(abs(n - self._central(*slopes[:4]) / scale) / math.sqrt(1 + part ** -2))
            sigma.append(float(np.median(found)) if found else 0.0)
        # the run's own rounding of the gradient's terms: in float64, RUN_ROUNDING units per unit of their size;
        # a float32 run's as measured, its gradient against the same code's in float64, at most one float32
        # unit per unit of their size (a fixed allowance of 4 passed wrong float32 db the differences told
        # apart by 560x: a float32 run's db is summed in float64; where the measure is refused, none)
        rounding = RUN_ROUNDING * _EPS64 * terms
        in_float64 = self.in_float64()  # (None but for a float32 run)
        if in_float64 is not None:
            with np.errstate(invalid="ignore"):
                measured = np.abs(g - in_float64[kept].astype(np.float64))
            rounding = rounding + np.minimum(np.nan_to_num(measured, nan=0.0), _EPS32 * terms)
        tol = NOISE_MARGIN * float(np.linalg.norm(np.array(sigma) + rounding))
        diff = float(np.linalg.norm(g - num))
        size = max(float(np.linalg.norm(g)), float(np.linalg.norm(num)))
        if not cancelling and not tol <= NOISE_RESOLVES * size:
            # the differences cannot tell this gradient from one 0.1% off, or from 0 (a review: a dW of 0, or of
            # the wrong sign, passed beside a bias of 1e3 with inputs of 1e-9): it fails, and says why
            return error, (f"the central differences' rounding noise is {tol / size if size else math.inf:.2g} of "
                           "this gradient, more than the 1e-3 they must resolve to check it (outputs far larger than "
                           "what the steps move them by): scale the config's inputs, weights and biases alike, or "
                           "give a larger --eps")
        if not diff <= tol:
            return error, ""
        what = (f"what remains of cancelling terms of size {float(np.linalg.norm(terms)):.2g}" if cancelling
                else "of outputs far larger than what its steps move them by")
        return threshold * diff / tol, (
            f"a gradient of {float(np.linalg.norm(g)):.2g}, {what}: convcli's and the central differences differ "
            f"by {diff:.2g}, "
            f"within the rounding of both ({tol:.2g}: the differences' noise, measured against differences at "
            "other steps, and the run's own" + (", measured against the same layers in float64"
                                                  if in_float64 is not None else "")
            + "), which its relative error cannot see past: the error is measured against that rounding")


def _step_floor(key: str, out: np.ndarray, x: np.ndarray) -> np.ndarray | None:
    """Per coordinate, the magnitude its step is relative to besides its own:
    for ``b``, the root mean square of its channel of the conv output ``out``,
    since ``b`` is added to each of those values; for a layer input ``x``,
    the root mean square of its channel (a 0 of a ReLU among inputs of 1e6
    got a step of 1e-5: rounding noise put a correct conv3.dA_prev at 2.8e-5);
    none for a weight (its step is relative to itself, its inputs' size
    reaching the outputs through it)."""
    if key == "dW":
        return None
    a = _f64(out if key == "db" else x)
    a = a.reshape(-1, a.shape[-1])
    # of a divided by its largest magnitude, then scaled back: squares of 1e308s overflowed to an inf
    # root mean square, an inf step, and slopes inf / inf, NaN (a review)
    top = np.max(np.abs(a), axis=0, initial=0.0)
    unit = np.where(np.isfinite(top) & (top > 0), top, 1.0)
    with np.errstate(invalid="ignore"):
        rms = unit * np.sqrt(np.mean((a / unit) ** 2, axis=0))
    if key == "db":
        return rms
    # per coordinate of one sample (a layer input is perturbed a sample at a time): its channel's
    return np.broadcast_to(rms, x.shape[1:]).reshape(-1)


def tie_notes(report: list[GradResult]) -> list[str]:
    """One line per max-pool layer a gradient was checked through with the
    ``ties: all`` stand-in: what that means, for the report."""
    notes = []
    for layer, tied in {k: v for r in report for k, v in r.ties.items()}.items():
        # not the quantities nothing was compared for (every coordinate at a kink): they were not checked
        through = [r.quantity for r in report if layer in r.ties and r.status != "not checked"]
        if not through:
            continue
        were, they = ("were", "they") if len(through) > 1 else ("was", "it")
        notes.append(
            f"{layer}: {tied} window{'s hold their' if tied != 1 else ' holds its'} maximum more than once, and "
            "ties: all gives each of those maxima the whole gradient (the course's create_mask_from_window): "
            f"a convention, not the derivative of max. {', '.join(through)} {were} checked against the "
            f"derivative of that convention ('against ties: all'); under ties: split or first {they} would be "
            "checked against the derivative itself."
        )
    return notes


# What :func:`gradcheck` appends to a quantity's name for its progress over
# the second pass, against the ties: all convention.
CONVENTION = " (ties: all)"


def planned_coordinates(results: Results, samples: int = DEFAULT_SAMPLES) -> list[tuple[str, int]]:
    """(quantity, coordinates to perturb) in the order :func:`gradcheck` goes,
    for a progress bar; a quantity checked again against the ``ties: all``
    convention twice, the second as ``quantity + CONVENTION`` (the bar stood
    at 100% through that pass, as long as the first)."""
    p = results.plan
    tied = tied_pools(results)
    out = []
    for i, layer in enumerate(p.network.layers):
        sizes = [("dA_prev", math.prod(p.layer_shapes[i].in_shape))]
        if layer.kind == "conv":
            sizes += [("dW", results.inputs[layer.W].size), ("db", results.inputs[layer.b].size)]
        for key, n in sizes:
            n = n if not samples or n <= samples else samples
            out.append((f"{layer.name}.{key}", n))
            if any(j >= i for j in tied):
                out.append((f"{layer.name}.{key}{CONVENTION}", n))
    return out
