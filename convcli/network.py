"""A stack of layers: forward, then backward through the caches.

Knows nothing about configs or files: a :class:`Network` is a list of
:class:`LayerSpec` and runs on arrays it is handed. Parameters (``W``, ``b``)
are looked up by name in a ``params`` mapping; the batch ``x`` is separate, so
the same network runs on any slice of a batch (for the streaming of a large
batch in chunks, ``dW``/``db`` from the chunks add up; :meth:`iter_forward`
and :meth:`iter_backward` let a stream drop each array once written).

Quantity names (DESIGN.md section 2): a layer's output is ``NAME.Z`` (conv) or
``NAME.A`` (pool, relu); its gradients are ``NAME.dA_prev`` and, for conv,
``NAME.dW``, ``NAME.db``; the upstream gradient fed to the last layer is
``NAME.dZ`` (conv) or ``NAME.dA`` (pool, relu).

The core raises ``ValueError``; here it becomes a :class:`LayerError` that
names the layer (``layers[0] (conv1)``). Callers add the config file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from . import hparams
from .conv import conv_backward, conv_forward
from .errors import ConvcliError
from .pool import pool_backward, pool_forward
from .relu import relu_backward, relu_forward
from .stats import all_finite

OUTPUT = {"conv": "Z", "pool": "A", "relu": "A"}
UPSTREAM = {"conv": "dZ", "pool": "dA", "relu": "dA"}
GRADIENTS = {"conv": ("dA_prev", "dW", "db"), "pool": ("dA_prev",), "relu": ("dA_prev",)}


class LayerError(ConvcliError):
    """A layer refused its arguments; ``where`` is ``layers[i] (name)``."""

    def __init__(self, index: int, name: str, what: str):
        super().__init__(f"layers[{index}] ({name})", what)
        self.index = index
        self.name = name


@dataclass(frozen=True)
class LayerSpec:
    """One layer. ``W``/``b`` name entries of the ``params`` mapping."""

    kind: str  # conv | pool | relu
    name: str
    hparameters: Mapping = field(default_factory=dict)
    mode: str = "max"  # pool only
    W: str | None = None  # conv only
    b: str | None = None

    @property
    def output(self) -> str:
        return f"{self.name}.{OUTPUT[self.kind]}"

    @property
    def upstream(self) -> str:
        return f"{self.name}.{UPSTREAM[self.kind]}"

    @property
    def gradients(self) -> tuple[str, ...]:
        return tuple(f"{self.name}.{g}" for g in GRADIENTS[self.kind])


# How LayerShapes.flops counts (the sums in Network._infer_one), as shapes says it.
# The bias counts 1 an output under bias: window too (the notebook's adds are its bug).
FLOPS_COUNTED = "forward; multiply-add 2, bias 1 per output, pool 1 per window element, relu 1 per element"


@dataclass(frozen=True)
class LayerShapes:
    """What ``convcli shapes`` reports for a layer."""

    index: int
    name: str
    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int
    flops: int  # as FLOPS_COUNTED says
    hyper: dict


def pool_layer_forward(x: np.ndarray, layer: LayerSpec, engine: str):
    """A pool layer's forward, ``(A, cache)``. An average pool whose window
    sums overflowed though their inputs are finite (1e38s in float32; the
    means fit) is taken again of ``x`` divided by a power of two at least the
    window's size, then multiplied back: both scalings are exact (short of
    subnormal numbers), so the means are those of an unbounded sum. Taken
    element by element, where the first output is not finite: a window
    holding an infinity or a NaN gives the same either way, and one sample's
    mean does not depend on the others' (it did: a streamed run, whose chunk
    held no infinity, gave 2e38 where the whole batch's gave inf). The
    cache keeps ``x`` itself."""
    out, cache = pool_forward(x, dict(layer.hparameters), mode=layer.mode, engine=engine)
    if layer.mode == "average" and not all_finite(out):
        f_H, f_W = hparams.per_axis(layer.hparameters["f"], "f")
        k = 2.0 ** math.ceil(math.log2(f_H * f_W))
        with np.errstate(over="ignore", invalid="ignore"):
            again, cache = pool_forward(x / k, dict(layer.hparameters), mode="average", engine=engine)
            again *= k
        out = np.where(np.isfinite(out), out, again)
        cache = hparams.LayerCache((x, *cache[1:]), cache.state)
    return out, cache


def layer_forward(layer: LayerSpec, x: np.ndarray, W=None, b=None, engine: str = "fast"):
    """Layer ``layer``'s ``(output, cache)`` of ``x``: a conv's with ``W``
    and ``b``, a pool's (:func:`pool_layer_forward`), a ReLU's."""
    if layer.kind == "conv":
        return conv_forward(x, W, b, dict(layer.hparameters), engine=engine)
    if layer.kind == "pool":
        return pool_layer_forward(x, layer, engine)
    return relu_forward(x)


def layer_backward(layer: LayerSpec, d: np.ndarray, cache) -> dict[str, np.ndarray]:
    """Layer ``layer``'s gradients of the gradient ``d`` coming into it:
    ``{"dA_prev": ...}``, and a conv's ``dW`` and ``db``."""
    if layer.kind == "conv":
        return dict(zip(("dA_prev", "dW", "db"), conv_backward(d, cache)))
    if layer.kind == "pool":
        return {"dA_prev": pool_backward(d, cache, mode=layer.mode)}
    return {"dA_prev": relu_backward(d, cache)}


class Network:
    """A stack of conv / pool / relu layers applied in order."""

    def __init__(self, layers: Sequence[LayerSpec], finite: bool = True, input_name: str = "A_prev"):
        """``finite``: a layer whose inputs are finite but whose result is not
        (float32 overflows at 3.4e38) is an error naming it, instead of NumPy's
        RuntimeWarnings and Inf/NaN statistics; off for ``allow_nonfinite``.
        ``input_name``: what the first layer's input is called (in errors)."""
        if not layers:
            raise ValueError("layers: a network needs at least one layer")
        self.layers = list(layers)
        self.finite = finite
        self.input_name = input_name

    def _error(self, i: int, exc: ValueError) -> LayerError:
        """The core's ValueError for layer ``i``, which names the Python
        arguments (A_prev, W, b): said what they are in this network, e.g.
        "(here A_prev is conv1.Z, W is W2)", where they differ."""
        layer = self.layers[i]
        text = str(exc)
        names = {"A_prev": self.layers[i - 1].output if i else self.input_name}
        if layer.kind == "conv":
            names.update(W=layer.W, b=layer.b)
        said = [f"{arg} is {name}" for arg, name in names.items()
                if name and name != arg and re.search(rf"(?<![\w.]){arg}(?![\w.])", text)]
        return LayerError(i, layer.name, text + (f" (here {', '.join(said)})" if said else ""))

    def __len__(self) -> int:
        return len(self.layers)

    # ------------------------------------------------------------ shapes

    def infer(self, in_shape, param_shapes: Mapping[str, tuple]) -> list[LayerShapes]:
        """Every layer's shapes, parameters and FLOPs from shapes alone, with
        the core's own argument checks (nothing is allocated)."""
        out: list[LayerShapes] = []
        shape = tuple(in_shape)
        for i, layer in enumerate(self.layers):
            try:
                out.append(self._infer_one(i, layer, shape, param_shapes))
            except ValueError as exc:
                raise self._error(i, exc) from None
            shape = out[-1].out_shape
        return out

    def _infer_one(self, i, layer: LayerSpec, shape, param_shapes) -> LayerShapes:
        # Every layer is NHWC (DESIGN.md section 1), relu included, and never empty.
        A = hparams.as_array(hparams.shape_view(shape), "A_prev", 4, "(m, n_H_prev, n_W_prev, n_C_prev)")
        if layer.kind == "relu":
            if min(shape) < 1:
                raise ValueError(f"A_prev: every dimension must be >= 1, got shape {shape}")
            return LayerShapes(i, layer.name, "relu", shape, shape, 0, math.prod(shape), {})
        if layer.kind == "pool":
            hparams.check_mode(layer.mode)
            g = hparams.pool_geometry(A, dict(layer.hparameters))
            hyper = {"f": [g.f_H, g.f_W], "stride": [g.s_H, g.s_W], "mode": layer.mode}
            if layer.mode == "max":  # where a max pool's gradient goes; an average pool has no ties
                hyper["ties"] = g.ties
            flops = math.prod(g.out_shape) * g.f_H * g.f_W
            return LayerShapes(i, layer.name, "pool", shape, g.out_shape, 0, flops, hyper)
        W = hparams.as_array(hparams.shape_view(param_shapes[layer.W]), "W", 4, "(f_H, f_W, n_C_prev, n_C)")
        b = hparams.as_array(hparams.shape_view(param_shapes[layer.b]), "b", None)
        g = hparams.conv_geometry(A, W, b, dict(layer.hparameters))
        K = g.f_H * g.f_W * g.n_C_prev
        n_out = math.prod(g.out_shape)
        hyper = {
            "f": [g.f_H, g.f_W], "stride": [g.s_H, g.s_W], "pad": list(g.pad),
            "dilation": [g.d_H, g.d_W], "bias": g.bias,
        }
        return LayerShapes(i, layer.name, "conv", shape, g.out_shape, W.size + b.size, 2 * K * n_out + n_out, hyper)

    # ------------------------------------------------------------ running

    def forward(self, x, params: Mapping[str, np.ndarray], engine: str = "fast",
                overrides: Mapping[int, Mapping[str, np.ndarray]] | None = None):
        """Run the layers on ``x``, the network's input.

        Returns the trace: one ``(output, cache)`` per layer. ``overrides``
        maps a layer index to ``{"W": ..., "b": ...}`` used by that layer only
        (gradcheck perturbs one layer's copy of a shared parameter).
        """
        return [(out, cache) for _, out, cache in self.iter_forward(x, params, engine, overrides)]

    def iter_forward(self, x, params: Mapping[str, np.ndarray], engine: str = "fast",
                     overrides: Mapping[int, Mapping[str, np.ndarray]] | None = None):
        """:meth:`forward` one layer at a time: yields ``(index, output, cache)``.

        Holds nothing but the current output between layers, so a caller that
        drops each output and cache once used (a forward-only stream) keeps
        one layer's input and output alive, not the whole trace.
        """
        for i, layer in enumerate(self.layers):
            local = (overrides or {}).get(i, {})
            sources = [x]
            W = b = None
            if layer.kind == "conv":
                W, b = local.get("W", params[layer.W]), local.get("b", params[layer.b])
                sources += [W, b]
            try:
                with np.errstate(over="ignore", invalid="ignore"):  # _check_finite says it once
                    out, cache = layer_forward(layer, x, W, b, engine)
            except ValueError as exc:
                raise self._error(i, exc) from None
            self._check_finite(i, {layer.output.split(".")[-1]: out}, sources)
            x = out
            yield i, out, cache
            del out, cache

    def iter_backward(self, trace, grad, release: bool = False):
        """Backward through a full trace from :meth:`forward`, ``grad`` the
        gradient of the loss with respect to the last output, one layer at a
        time, last layer first: yields ``(index, {"dA_prev": ...})``, with a
        conv's ``dW`` and ``db`` too.

        With ``release``, ``trace[i]`` is set to None as soon as layer ``i``
        has taken its cache, so a caller that writes each gradient and drops
        it holds only what the layers still to run need (a stream's chunk).
        """
        d = grad
        del grad
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            cache = trace[i][1]
            if release:
                trace[i] = None
            sources = [d, cache[0]] + ([cache[1]] if layer.kind == "conv" else [])
            try:
                with np.errstate(over="ignore", invalid="ignore"):  # _check_finite says it once
                    g = layer_backward(layer, d, cache)
                    d = g["dA_prev"]
            except ValueError as exc:
                raise self._error(i, exc) from None
            self._check_finite(i, g, sources)
            del cache, sources
            yield i, g
            del g

    def _check_finite(self, i: int, produced: Mapping[str, np.ndarray], sources, how: str = "") -> None:
        """Raise if a layer made Inf/NaN out of finite arrays (an overflow).
        ``how``: said after "overflowed DTYPE" (a streamed run's sums)."""
        if not self.finite:
            return
        for name, arr in produced.items():
            if all_finite(arr) or not all(all_finite(s) for s in sources):
                continue
            bad = arr.size - int(np.count_nonzero(np.isfinite(arr)))
            fix = "use dtype float64, or scale the inputs down" if arr.dtype != np.float64 else "scale the inputs down"
            raise LayerError(
                i, self.layers[i].name,
                f"{name}: {bad:,} of {arr.size:,} values overflowed {arr.dtype}{how} (its inputs are finite); {fix}",
            )

    def check_sums(self, i: int, sums: Mapping[str, np.ndarray], how: str) -> None:
        """Raise if layer ``i``'s gradients summed over a streamed run's
        chunks (dW, db), each finite, overflowed as a whole."""
        self._check_finite(i, sums, (), how)

    # ------------------------------------------------------------ names

    def outputs(self, trace) -> dict[str, np.ndarray]:
        """``{"conv1.Z": ..., "relu2.A": ...}`` from a trace of the first
        layers (all of them, or fewer: a run that stops where it has what it
        needs)."""
        return {layer.output: out for layer, (out, _) in zip(self.layers, trace)}

    def gradients(self, grads, grad) -> dict[str, np.ndarray]:
        """The upstream gradient, then every layer's gradients, by name."""
        named = {self.layers[-1].upstream: grad}
        for layer, g in zip(self.layers, grads):
            for key, value in g.items():
                named[f"{layer.name}.{key}"] = value
        return named
