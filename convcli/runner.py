"""From a config to results: plan first, then run.

:func:`plan` reads and checks everything that can be checked without the
data: the config, every source's shape and stored dtype (file headers only),
every layer's shapes (the core's own checks on shapes), the upstream
gradient's shape, and that no array, input or computed, is larger than
``max_memory``. Only then does :func:`run` read the inputs (in the order
listed, from one ``RandomState(seed)``), run the layers forward and, if asked,
backward.

Given a ``memory_budget`` (forward and backward), :func:`plan` also decides
whether the run fits it in memory; one that does not is run chunk by chunk by
:func:`convcli.streaming.run_streaming` instead of :func:`run`.

Data flows one way: config -> arrays -> network -> :class:`Results`.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import arrays, hparams
from .config import DTYPES, MAX_SIZE, ConvLayer, LoadedConfig, PoolLayer, Source, load_config
from .errors import ConvcliError
from .hparams import ENGINES, did_you_mean
from .network import LayerError, LayerShapes, LayerSpec, Network

DEFAULT_TOLERANCES = {"float64": (1e-6, 1e-8), "float32": (1e-4, 1e-5)}  # (rtol, atol)


@dataclass
class Plan:
    """Everything known before any data is read."""

    cfg: LoadedConfig
    dtype: str
    engine: str
    max_memory: int
    network: Network
    input_name: str
    input_info: dict[str, arrays.ArrayInfo]
    layer_shapes: list[LayerShapes]
    shapes: dict[str, tuple[int, ...]]  # every quantity: inputs, outputs, gradients
    roles: dict[str, str]  # quantity -> input | output | gradient
    # Set when the run does not fit --memory-budget: how it streams (streaming.py).
    stream: object | None = None
    # What probe() learnt of an upstream gradient read from a file.
    grad_info: arrays.ArrayInfo | None = None
    # An --expected FILE's tolerance:, which stands in for the config's whole (check).
    tolerance_file: object | None = None
    # check's --rtol / --atol, which stand in for both.
    tolerance_given: tuple[float | None, float | None] = (None, None)
    # The batch's arrays only backward makes, left by plan to the run (check, plot), and one sample
    # of the widest batch array, (bytes, name): check_backward_sizes.
    backward_sizes: tuple = ((), (0, ""))

    @property
    def tolerance(self) -> tuple[float, float]:
        """(rtol, atol): check's --rtol/--atol, else an --expected file's,
        else the config's, else the dtype's default."""
        return self.tolerance_for(self.dtype)

    def tolerance_for(self, dtype: str) -> tuple[float, float]:
        """The tolerance a run in ``dtype`` would check with. An --expected
        file's tolerance: replaces the config's, the half it leaves out too
        (an answer key's rtol with a config's loose atol would pass what the
        key's author would fail); --rtol and --atol replace one each."""
        rtol, atol = DEFAULT_TOLERANCES[dtype]
        written = self.cfg.model.tolerance if self.tolerance_file is None else self.tolerance_file
        for r, a in [(written.rtol, written.atol), self.tolerance_given]:
            rtol = rtol if r is None else r
            atol = atol if a is None else a
        return rtol, atol

    @property
    def grad_spec(self):
        return self.cfg.model.backward.grad

    def resolve(self, name: str, where: str) -> str:
        """A quantity's full name: itself, or a bare ``Q`` in a one-layer config;
        for a conv layer, ``dA`` (``conv1.dA``, or bare in a one-layer config)
        is its ``dA_prev``, the notebook's ``dA, dW, db = conv_backward(dZ,
        cache)`` (a pool's or a ReLU's ``dA`` is its upstream gradient)."""
        if name in self.shapes:
            return name
        layer_name, _, leaf = name.rpartition(".")
        if leaf == "dA" and any(spec.kind == "conv" and spec.name == layer_name for spec in self.network.layers):
            return f"{layer_name}.dA_prev"  # conv1.dA: the notebook's name, on the layer's own
        if len(self.network) == 1:
            layer = self.network.layers[0]
            full = f"{layer.name}.{name}"
            if full in self.shapes:
                return full
            if name == "dA" and layer.kind == "conv":  # the notebook's name for conv_backward's first result
                return f"{layer.name}.dA_prev"
        raise ConvcliError(where, self.unknown(name))

    def unknown(self, name: str) -> str:
        """Why ``name`` is no quantity of this run, with the nearest ones: the
        layers' quantities of that bare name (``dA_prev`` -> ``conv1.dA_prev``
        or ``pool3.dA_prev``), else the closest spelling."""
        base = copied_from(name)
        if base != name:
            try:
                q = self.resolve(base, "")
            except ConvcliError:
                hint = self._hint(base)
                return f"unknown quantity {name!r}, a copy's name{hint}; known: {', '.join(self.shapes)}"
            if q in self.graded():
                return f"unknown quantity {name!r} (a copy's name: did you mean {q!r}? save it as {base}.npy)"
            return f"unknown quantity {name!r} (a copy's name, of {q}, which the config gives: not graded)"
        return f"unknown quantity {name!r}{self._hint(name)}; known: {', '.join(self.shapes)}"

    def _hint(self, name: str) -> str:
        """`` (did you mean ...?)`` for :meth:`unknown`, or ``""``."""
        bare = {q: q.split(".", 1)[1] for q in self.shapes if "." in q}  # a layer's quantity without the layer
        layered = [q for q, b in bare.items() if b == name]
        if not set(layered) & set(self.graded()):  # the notebook's own names: dA for conv_backward's first
            # result, dA_prev here; first where the same name is only what the config gives (a grader's
            # review: dA.npy, conv_backward's dA, was told "did you mean 'pool3.dA'?", the upstream gradient)
            prefixed = [q for q, b in bare.items() if b.startswith(f"{name}_")]
            layered = prefixed + layered
        layers = self.network.layers
        into = [(f"{layers[i + 1].name}.dA_prev", spec.name) for i, spec in enumerate(layers[:-1])
                if spec.kind == "conv"] if name == "dZ" and not layered else []
        if not layered and not into:
            layered = self._gradient_named(name) or self._parameter_named(name)
        if layered:
            hint = f" (did you mean {' or '.join(repr(q) for q in layered)}?)"
        elif into:  # the notebook's dZ of a conv layer that another layer follows: that layer's dA_prev
            hint = f" (did you mean {' or '.join(f'{q!r}, the dZ of {conv}' for q, conv in into)}?)"
        else:
            known = list(self.shapes) + (list(bare.values()) if len(self.network) == 1 else [])
            hint = did_you_mean(name, known)
        return hint

    def _gradient_named(self, name: str) -> list[str]:
        """The gradient a name in the notebook's words means, where spelling
        alone would point at a forward array or an input (``dW1`` is no
        ``W1``): ``dW1``/``db1`` for the conv layer whose W/b is W1/b1,
        ``conv1.dA`` for conv1.dA_prev (the notebook's conv_backward), a
        pool's or a ReLU's ``dA`` and a conv's ``dZ`` for the gradient at
        its output (the next layer's dA_prev), a ReLU's ``dZ`` for its
        dA_prev."""
        layers = self.network.layers
        if name[:1] == "d" and "." not in name:
            return [f"{spec.name}.d{'W' if name[1:] == spec.W else 'b'}" for spec in layers
                    if spec.kind == "conv" and name[1:] in (spec.W, spec.b)]
        layer, _, leaf = name.rpartition(".")
        k = next((k for k, spec in enumerate(layers) if spec.name == layer), None)
        if k is None:
            return []
        # the gradient at the layer's output: the next layer's dA_prev (or the upstream gradient)
        at_output = [f"{layers[k + 1].name}.dA_prev" if k + 1 < len(layers) else layers[k].upstream]
        if leaf == "dA":  # a pool's or a ReLU's dA is its output's (a conv's, the notebook's name for its
            return at_output if layers[k].kind != "conv" else []  # dA_prev, is resolved before this is asked)
        if leaf == "dZ":  # a conv's Z is its output, a ReLU's its input
            return [f"{layer}.dA_prev"] if layers[k].kind == "relu" else at_output if layers[k].kind == "conv" else []
        return []

    def _parameter_named(self, name: str) -> list[str]:
        """A conv layer's weights or bias named under the layer (``conv1.W``,
        ``conv1.W1``): the input the config gives them as (``W1``), where
        spelling alone pointed at the gradient ``conv1.dW`` (a review)."""
        layer, _, leaf = name.rpartition(".")
        spec = next((s for s in self.network.layers if s.name == layer and s.kind == "conv"), None)
        if spec is None:
            return []
        return [q for q, short in ((spec.W, "W"), (spec.b, "b")) if leaf in (q, short)]

    def layer_input(self, i: int) -> str:
        """What layer ``i`` takes: the previous layer's output, or the input."""
        return self.network.layers[i - 1].output if i else self.input_name

    def incoming_gradient(self, i: int) -> str:
        """The gradient coming into layer ``i``: the next layer's ``dA_prev``,
        or for the last layer its upstream gradient."""
        layers = self.network.layers
        return layers[i].upstream if i == len(layers) - 1 else f"{layers[i + 1].name}.dA_prev"

    def biases(self) -> set[str]:
        """The conv layers' biases and their gradients: the quantities that may
        be (n_C,) or (1, 1, 1, n_C) (DESIGN section 1)."""
        return {q for spec in self.network.layers if spec.kind == "conv" for q in (spec.b, f"{spec.name}.db")}

    def graded(self) -> list[str]:
        """The quantities a complete ``check --against`` submission holds:
        every one of the run but its inputs and the upstream gradient, which
        the config gives."""
        given = self.network.layers[-1].upstream
        return [q for q in self.shapes if self.roles.get(q) != "input" and q != given]

    @property
    def asks_backward(self) -> bool:
        """Whether the config has a ``backward:`` section: then a complete
        submission holds the gradients too (a forward assignment's config has
        none; check also asks for them when an expected entry or a submitted
        array is a gradient)."""
        return "backward" in self.cfg.model.model_fields_set

    def needs_backward(self, quantities) -> bool:
        return any(self.roles.get(q) == "gradient" for q in quantities)


def layer_specs(cfg: LoadedConfig) -> list[LayerSpec]:
    specs = []
    for name, layer in zip(cfg.layer_names, cfg.model.layers):
        if isinstance(layer, ConvLayer):
            hp = {"stride": layer.stride, "pad": layer.pad, "dilation": layer.dilation, "bias": layer.bias}
            specs.append(LayerSpec("conv", name, hp, W=layer.W, b=layer.b))
        elif isinstance(layer, PoolLayer):
            hp = {"f": layer.f, "ties": layer.ties}
            if layer.stride is not None:
                hp["stride"] = layer.stride
            specs.append(LayerSpec("pool", name, hp, mode=layer.mode))
        else:
            specs.append(LayerSpec("relu", name))
    return specs


# A copy's name, as a browser ("db (1)"), Windows ("dW - Copy", "dW - Copy (2)"),
# macOS ("db copy", "db copy 2") or GNOME ("db (copy)") makes it.
_COPY = re.compile(r"(.+?)\s*(?:\((?:\d+|[Cc]opy)\)|-\s*[Cc]opy(?:\s*\(\d+\))?|\s[Cc]opy(?:\s+\d+)?)")


def copied_from(name: str) -> str:
    """``name`` without the marks of a copy (``db (1)`` -> ``db``; a copy of a
    copy too); ``name`` itself if it has none."""
    while (copied := _COPY.fullmatch(name)) is not None:
        name = copied[1]
    return name


def layer_error(cfg: LoadedConfig, exc: LayerError) -> ConvcliError:
    """The core's complaint about a layer, with the config file and line."""
    return ConvcliError(cfg.layer_where(exc.index), exc.what)


def _fewer_samples(one: int, name: str, max_memory: int, how: str, backward: tuple[int, str] | None = None) -> str:
    """How the batch would fit ``max_memory`` when one sample of its widest
    array, ``name``, takes ``one`` bytes: `` (raise --max-memory, or ...)``,
    ``how`` formatted with the k samples that fit (and ``s``, an "s" unless
    k is 1); only the first where one sample is already too large.
    ``backward``: one sample of the widest array a backward pass adds, for
    a run that may go backward (check, plot): its k too, where smaller (a
    review: plot of a gradient, told 400 samples, then refused 400 for the
    padded upstream gradient, which allowed 354)."""
    k = max_memory // one if one else 0
    if k < 1:
        return f" (raise --max-memory to {arrays.size_arg(one)} or more: one sample of {name} needs that)"

    def samples(n: int) -> str:
        return how.format(k=n, s="" if n == 1 else "s")

    fewer = samples(k)
    k_back = max_memory // backward[0] if backward and backward[0] > one else k
    if k_back < k:
        fewer += (f"; to compute gradients, {samples(k_back)} (the backward pass holds {backward[1]})"
                  if k_back >= 1 else
                  f"; to compute gradients, raise --max-memory to {arrays.size_arg(backward[0])} or more (the "
                  f"backward pass holds {backward[1]})")
    return f" (raise --max-memory, or {fewer})"


def plan(config: str | Path | LoadedConfig, *, dtype: str | None = None, engine: str | None = None,
         max_memory: int = arrays.DEFAULT_MAX_MEMORY, memory_budget: int | None = None,
         backward: bool | None = True) -> Plan:
    """Check everything that can be checked before reading the data.

    ``backward``: whether the run goes backward; None where it is not known
    yet (check, plot), whose arrays only backward makes :func:`run` then
    sizes. With ``memory_budget`` (forward and backward), also decide whether the
    run (``backward`` or forward only) fits it in memory; if not,
    ``Plan.stream`` says how it streams in chunks (:mod:`convcli.streaming`).
    ``max_memory`` caps every array the run holds whole. Where the batch is
    read from a file, a streamed run holds it (the input, every layer's
    output, a gradient file) a chunk at a time, never whole: there it caps a
    chunk's, and a run whose batch arrays it would refuse whole streams
    (forward and backward), so an input larger than memory runs without
    raising it. A made-up batch (``random``, ``zeros``, ``ones``) stays
    capped whole with everything the layers make of it: a typo in a shape or
    a padding would otherwise fill a disk before anyone noticed.
    """
    cfg = config if isinstance(config, LoadedConfig) else load_config(config)
    model = cfg.model
    if dtype is not None and dtype not in DTYPES:  # (config.check_dtype's words, named for the option)
        raise ConvcliError("--dtype", f"unsupported dtype {dtype!r}: convcli computes in {' or '.join(DTYPES)}"
                                      f"{did_you_mean(dtype, DTYPES) if isinstance(dtype, str) else ''}")
    if engine is not None and engine not in ENGINES:
        raise ConvcliError("--engine",
                           f"expected {' or '.join(ENGINES)}, got {engine!r}{did_you_mean(engine, ENGINES)}")
    dtype = dtype or model.dtype
    engine = engine or model.engine
    itemsize = np.dtype(dtype).itemsize

    first = model.layers[0].input or "A_prev"
    # The batch's arrays (samples first: the input, the layers' outputs, ...) are checked once all
    # are known, so that "read at most k samples" counts the widest; and where the batch is read
    # from a file, once it is known whether the run streams (forward, backward), a streamed run
    # holding them a chunk at a time (_check_batch). Every other array is checked whole at once, and
    # every size first against the largest size there is, before shapes are worked out from it
    # (NumPy's broadcasting of a 10**21-element shape: "iterator is too large").
    from_file = memory_budget is not None and first in model.inputs and model.inputs[first].kind == "file"
    batch: list[_Sized] = []
    # backward's own arrays: sized where the run goes backward; for check and plot (backward None),
    # once the run knows it does (check_backward_sizes)
    grads = backward is not False

    def size(shape, itemsize: int, where: str, what: str, hint: str, streams: bool, name: str = "",
             later: bool = False) -> None:
        """``hint``: what would make it fit, or for the batch's arrays a
        :func:`_fewer_samples` ``how`` (with ``{k}``); ``name``: the
        array, as that hint names it; ``later``: backward's, sized by run."""
        arrays.check_size(shape, itemsize, where, MAX_SIZE, what)
        if streams:
            batch.append(_Sized(tuple(shape), itemsize, where, what, hint, name, later))
        else:
            arrays.check_size(shape, itemsize, where, max_memory, what, hint)

    info = {}
    grad_file = isinstance(model.backward.grad, Source) and grads
    for name, src in model.inputs.items():
        where = cfg.where("inputs", name)
        info[name] = arrays.probe(src, cfg.base_dir, where)
        itemsize_of = max(info[name].dtype.itemsize, itemsize)
        # what would make it fit: a batch from a file can be cut to fewer samples, a made-up array made smaller
        if name == first and src.kind == "file":
            fit = 'read at most {k} sample{s}: slice: "0:{k}"' + (", and the same on backward.grad" if grad_file else "")
        elif src.kind in ("random", "zeros", "ones"):
            fit = " (raise --max-memory, or give it a smaller shape)"
        else:
            fit = " (raise --max-memory)"
        size(info[name].shape, itemsize_of, where, "array", fit, name == first and src.kind != "value", name)

    network = Network(layer_specs(cfg), finite=not model.allow_nonfinite, input_name=first)
    try:
        layer_shapes = network.infer(info[first].shape, {k: v.shape for k, v in info.items()})
    except LayerError as exc:
        raise layer_error(cfg, exc) from None

    shapes: dict[str, tuple[int, ...]] = {name: i.shape for name, i in info.items()}
    roles = {name: "input" for name in info}
    for spec, ls in zip(network.layers, layer_shapes):
        shapes[spec.output] = ls.out_shape
        roles[spec.output] = "output"
        where = cfg.layer_where(ls.index)
        m, H, W, C = ls.in_shape
        t, b, l, r = ls.hyper.get("pad", (0, 0, 0, 0))
        # a padding larger than the maps it pads is what makes such arrays large: said, as a typo's likely
        # cause (pad: 100000 for 10 in a config of 5x5 maps asked for a terabyte "of output")
        padded = f" (pad {spec.hparameters['pad']} around {H}x{W} maps)" if t + b > H or l + r > W else ""
        grown = padded if ls.out_shape[1] > H or ls.out_shape[2] > W else ""  # (not pad: same's)
        size(ls.out_shape, itemsize, where, f"output {spec.output}{grown}", RUN_FEWER, True, spec.output)
        if spec.kind == "conv" and any(ls.hyper["pad"]):
            # The engines pad a copy of their input, the batch (a chunk when streamed): pad: same with a
            # dilation of 2**62 has an output of 1 row but a padding of 2**61, a pad of 100 with a
            # stride of 300 an output of 1 row of a padded input 400 times the input.
            size((m, H + t + b, W + l + r, C), itemsize, where, f"padded input of {spec.name}{padded}", RUN_FEWER,
                 True, f"{spec.name}'s padded input")
        if spec.kind == "conv" and grads and ls.hyper["stride"] == [1, 1]:
            # a stride-1 input gradient gathers from dZ padded by d*(f-1) less the padding, at most
            # (m, H + d_H*(f_H-1), W + d_W*(f_W-1), n_C): a dilation of 63 pads dZ 8 times the input
            m, H, W, _ = ls.in_shape
            (f_H, f_W), (d_H, d_W) = ls.hyper["f"], ls.hyper["dilation"]
            grown = (m, H + d_H * (f_H - 1), W + d_W * (f_W - 1), ls.out_shape[-1])
            if grown[1:3] != ls.out_shape[1:3]:
                size(grown, itemsize, where, f"padded upstream gradient of {spec.name}", RUN_FEWER, True,
                     f"{spec.name}'s padded upstream gradient", backward is None)
    last = network.layers[-1]
    shapes[last.upstream] = layer_shapes[-1].out_shape
    roles[last.upstream] = "gradient"
    for spec, ls in zip(network.layers, layer_shapes):
        shapes[f"{spec.name}.dA_prev"] = ls.in_shape
        if spec.kind == "conv":
            shapes[f"{spec.name}.dW"] = info[spec.W].shape
            shapes[f"{spec.name}.db"] = info[spec.b].shape
        for g in spec.gradients:
            roles[g] = "gradient"

    p = Plan(cfg, dtype, engine, max_memory, network, first, info, layer_shapes, shapes, roles)
    # forward never reads backward.grad (a review had it refused for a file not there yet), nor do
    # check and plot where they do not go backward: theirs is read by check_backward_sizes
    if backward:
        _check_grad_shape(p, lambda *a: size(*a, name="backward.grad"))
    elif backward is None and isinstance(p.grad_spec, Source):
        # check, plot: sized now where it can be read, for the advice's count of samples backward
        # allows (a review: "to compute gradients, read at most 27 samples" was lost), refused only
        # once they go backward (check_backward_sizes)
        try:
            _check_grad_shape(p, lambda *a: size(*a, name="backward.grad", later=True))
        except ConvcliError:
            p.grad_info = None
    if grads and p.grad_spec == "random":  # drawn in float64 (RandomState.randn), then cast
        size(layer_shapes[-1].out_shape, 8, cfg.where("backward", "grad"), "random upstream gradient (float64 as drawn)",
             RUN_FEWER, True, "the random upstream gradient", backward is None)

    now = [e for e in batch if not e.later]
    widest = _widest(now)  # what the run makes for sure; with backward's arrays once it goes backward
    p.backward_sizes = ([e for e in batch if e.later], _widest(batch))
    if from_file and now:  # one sample beyond the cap (its widest array's): refused whether or not it streams
        e = max(now, key=lambda e: e.one)
        if e.one > max_memory:
            arrays.check_size((1, *e.shape[1:]), e.itemsize, e.where, max_memory,
                              f"{e.what}, one sample of a streamed chunk,",
                              f" (raise --max-memory to {arrays.size_arg(e.one)} or more)")
    else:  # held whole, streamed or not: a made-up batch (a typo in a shape must not fill a disk), or check's
        _check_whole(now, max_memory, widest, _widest(batch) if backward is None else None)
        now = []
    if memory_budget is not None:
        from .streaming import choose

        # a batch array --max-memory refuses whole streams, whatever the budget
        whole = max((math.prod(e.shape) * e.itemsize for e in now), default=0)
        p.stream = choose(p, memory_budget, backward, too_large=whole if whole > max_memory else 0)
    _check_batch(p, now, widest)
    return p


# What makes a batch array fit: fewer samples (of the widest of them, _fewer_samples)
RUN_FEWER = "run at most {k} sample{s}"


class _Sized(NamedTuple):
    """A batch array for --max-memory (plan's ``size``)."""

    shape: tuple[int, ...]
    itemsize: int
    where: str
    what: str
    hint: str  # what would make it fit, or a _fewer_samples ``how`` (with {k})
    name: str  # the array, as that hint names it
    later: bool  # backward's, sized by run (check, plot)

    @property
    def one(self) -> int:
        """One sample's bytes."""
        return math.prod(self.shape[1:]) * self.itemsize


def _widest(batch: list[_Sized]) -> tuple[int, str]:
    """One sample of the widest array of ``batch``: (bytes, name)."""
    return max(((e.one, e.name) for e in batch), default=(0, ""))


def _check_whole(batch: list[_Sized], max_memory: int, widest: tuple[int, str],
                 backward: tuple[int, str] | None = None) -> None:
    """The batch's arrays, each whole; "at most k samples" counts
    ``widest``, one sample of the widest of them (bytes, name), and says
    the k of ``backward`` too (:func:`_fewer_samples`)."""
    for e in batch:
        # backward's k only in the advice to slice the input, which the user writes into the config; an
        # array the run makes, refused, keeps its "run at most k" (a forward-only check's: test_streaming)
        back = backward if "slice:" in e.hint else None
        hint = _fewer_samples(*widest, max_memory, e.hint, back) if "{k}" in e.hint else e.hint
        arrays.check_size(e.shape, e.itemsize, e.where, max_memory, e.what, hint)


def check_backward_sizes(p: Plan) -> None:
    """Before a run of check or plot goes backward: an upstream gradient
    file's shape (:func:`_check_grad_shape`), and --max-memory over the
    arrays only backward makes, which their plan left to the run."""
    later, widest = p.backward_sizes
    if p.grad_info is None and isinstance(p.grad_spec, Source):
        later = list(later)

        def size(shape, itemsize: int, where: str, what: str, hint: str, streams: bool) -> None:
            arrays.check_size(shape, itemsize, where, MAX_SIZE, what)
            later.append(_Sized(tuple(shape), itemsize, where, what, hint, "backward.grad", True))

        _check_grad_shape(p, size)
        widest = max(widest, _widest(later))
    _check_whole(later, p.max_memory, widest)


def _check_batch(p: Plan, batch: list[_Sized], widest: tuple[int, str]) -> None:
    """``--max-memory`` over the arrays of a batch read from a file (plan's
    ``size``): each whole in memory; streamed, a chunk of each, which takes
    no more samples than it allows (one sample fits: plan)."""
    if p.stream is None:
        _check_whole(batch, p.max_memory, widest)
        return
    rows = min(p.stream.rows, p.max_memory // max(widest[0], 1))
    if rows < p.stream.rows:
        group = p.stream.group  # a multiple of the product group still (a review: chunks of 6 for groups of 4)
        p.stream = replace(p.stream, rows=rows - rows % group if rows >= group else rows, max_memory_rows=True)


def _check_grad_shape(p: Plan, size) -> None:
    """An upstream gradient read from a file: its shape, and ``size`` it
    (plan's: a batch array, streamed from its file as the input is)."""
    spec = p.grad_spec
    if not isinstance(spec, Source):
        return
    where = p.cfg.where("backward", "grad")
    p.grad_info = arrays.probe(spec, p.cfg.base_dir, where)
    got = p.grad_info.shape
    want = p.layer_shapes[-1].out_shape
    batch = p.cfg.model.inputs.get(p.input_name)
    sliced = batch is not None and batch.kind == "file" and batch.slice is not None
    if tuple(got) != tuple(want):
        raise ConvcliError(
            where,
            f"upstream gradient of shape {tuple(got)} does not match the last layer's output "
            f"{p.network.layers[-1].output} {tuple(want)}{hparams.nchw_hint(got, want)}"
            + ("; its samples are the batch's: give it the same slice: as the input"
               if sliced and len(got) == len(want) and got[0] > want[0] and tuple(got[1:]) == tuple(want[1:])
               else ""),
        )
    size(got, max(p.grad_info.dtype.itemsize, np.dtype(p.dtype).itemsize), where, "array", RUN_FEWER, True)


@dataclass
class Results:
    """What a run produced, by quantity name, in a stable order: inputs,
    layer outputs, then (backward) the upstream gradient and every layer's
    gradients."""

    plan: Plan
    quantities: dict[str, np.ndarray]
    inputs: dict[str, np.ndarray]
    trace: list
    grad: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)


def load_input(p: Plan, name: str, src, rng: np.random.RandomState) -> np.ndarray:
    """Input ``name`` of the plan, whole (a random one from ``rng``)."""
    return arrays.load(src, p.cfg.base_dir, p.cfg.where("inputs", name), dtype=p.dtype, rng=rng,
                       max_memory=p.max_memory, allow_nonfinite=p.cfg.model.allow_nonfinite)


def load_inputs(p: Plan, rng: np.random.RandomState) -> dict[str, np.ndarray]:
    """Every input, in the order listed (random ones from ``rng``)."""
    return {name: load_input(p, name, src, rng) for name, src in p.cfg.model.inputs.items()}


def upstream_gradient(p: Plan, output: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """``output`` (the notebook's ``conv_backward(Z, cache)``), ``ones``,
    ``random`` (drawn after the inputs) or a source."""
    spec = p.grad_spec
    dtype = np.dtype(p.dtype)
    if spec == "output":
        return output.copy()
    if spec == "ones":
        return np.ones(output.shape, dtype=dtype)
    if spec == "random":
        return rng.randn(*output.shape).astype(dtype, copy=False)
    return arrays.load(
        spec, p.cfg.base_dir, p.cfg.where("backward", "grad"), dtype=dtype, rng=rng,
        max_memory=p.max_memory, allow_nonfinite=p.cfg.model.allow_nonfinite,
    )


def run(p: Plan, backward: bool = True, progress=None, layers_needed: int | None = None) -> Results:
    """Read the inputs, run forward and (if ``backward``) backward.

    ``progress(done, total, step)`` is called before each step (reading the
    inputs, then each layer's forward, then each layer's backward) with the
    steps done so far and what runs next, and once at the end.
    ``layers_needed``: forward only, through that many layers (0: the
    inputs alone; ``plot`` of an input or an early output)."""
    if backward:
        check_backward_sizes(p)
    layers = p.network.layers
    if layers_needed is not None and not backward:
        layers = layers[:layers_needed]
    steps = ["reading inputs"] + [f"{layer.name} forward" for layer in layers]
    if backward:
        steps += [f"{layer.name} backward" for layer in reversed(layers)]
    tick = (lambda done: progress(done, len(steps), steps[done] if done < len(steps) else "done")
            ) if progress is not None else (lambda done: None)
    timings = {}
    t0 = time.perf_counter()
    tick(0)
    rng = np.random.RandomState(p.cfg.model.seed)
    inputs = load_inputs(p, rng)
    timings["load"] = time.perf_counter() - t0

    t = time.perf_counter()
    trace = []
    tick(1)
    try:
        forward = p.network.iter_forward(inputs[p.input_name], inputs, engine=p.engine)
        for i, out, cache in itertools.islice(forward, len(layers)):
            trace.append((out, cache))
            tick(2 + i)
    except LayerError as exc:
        raise layer_error(p.cfg, exc) from None
    timings["forward"] = time.perf_counter() - t
    quantities = dict(inputs)
    quantities.update(p.network.outputs(trace))  # the layers run (zip stops at a shorter trace)
    results = Results(p, quantities, inputs, trace, timings=timings)
    if backward:
        t = time.perf_counter()
        grad = upstream_gradient(p, trace[-1][0], rng)
        grads = [{} for _ in layers]
        try:
            for i, g in p.network.iter_backward(trace, grad):
                grads[i] = g
                tick(1 + 2 * len(layers) - i)
        except LayerError as exc:
            raise layer_error(p.cfg, exc) from None
        results.grad = grad
        quantities.update(p.network.gradients(grads, grad))
        timings["backward"] = time.perf_counter() - t
    return results


def in_other_dtype(p: Plan, results: Results, backward: bool, max_bytes: int,
                   same_grad: bool = False) -> dict[str, np.ndarray] | None:
    """The run's quantities computed again in the other dtype (float64 for a
    float32 run, float32 for a float64 one) from the same inputs (the
    float32 run's, cast up, or the float64 run's rounded to float32), its
    backward on the run's own caches, cast (so a max pool's maxima and a
    ReLU's mask are the run's: where float32's rounding made two maxima of a
    window one, the runs differed by a gradient's whole size, a review).
    Under ``grad: output`` the upstream gradient is the other run's last
    output, or with ``same_grad`` the run's own, cast. None where the run's
    arrays exceed ``max_bytes``, one of them twice as large exceeds
    --max-memory, or the other run fails (a layer error)."""
    held = [a.nbytes for a in results.quantities.values() if isinstance(a, np.ndarray)]
    other = np.float64 if p.dtype == "float32" else np.float32
    # (twice as large in float64: each within --max-memory too)
    if sum(held) > max_bytes or max(held, default=0) * (2 if p.dtype == "float32" else 1) > p.max_memory:
        return None
    net = p.network
    inputs = {k: v.astype(np.float32).astype(other) for k, v in results.inputs.items()}
    try:
        with np.errstate(all="ignore"):
            trace = [(out, cache) for _, out, cache in itertools.islice(
                net.iter_forward(inputs[p.input_name], inputs, engine=p.engine), len(results.trace))]
            again = dict(inputs)
            again.update(net.outputs(trace))
            if backward and results.grad is not None and len(trace) == len(net.layers):
                grad = (trace[-1][0].copy() if p.grad_spec == "output" and not same_grad
                        else results.grad.astype(np.float32).astype(other))
                # the run's caches (its decisions), as the notebook's plain tuples in the other dtype
                taken = [(None, tuple(x.astype(other) if isinstance(x, np.ndarray) else x for x in cache))
                         for _, cache in results.trace]
                del trace
                grads: list[dict] = [{} for _ in net.layers]
                for i, g in net.iter_backward(taken, grad):
                    grads[i] = g
                again.update(net.gradients(grads, grad))
    except (ConvcliError, ValueError):
        return None
    return again
