"""Hyperparameters and arguments: normalised and checked once, at the border.

Every public layer function calls one of :func:`conv_geometry` or
:func:`pool_geometry` before computing anything. They turn the notebook's
``hparameters`` dict (ints) and convcli's extensions (pairs, quads, ``same``,
``valid``, dilation, bias mode, tie rule) into explicit per-axis values, check
them against the array shapes, and raise :class:`ValueError` naming the
argument and the shapes involved. After that the engines trust their input.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import numbers
from typing import NamedTuple

import numpy as np

CONV_KEYS = ("stride", "pad", "dilation", "bias", "f")
POOL_KEYS = ("f", "stride", "ties")
BIAS_MODES = ("once", "window")
TIE_RULES = ("all", "first", "split")
POOL_MODES = ("max", "average")
ENGINES = ("fast", "reference")


def is_int(value) -> bool:
    """An integer (a NumPy one too), but not a bool."""
    if type(value) is int:  # the common case, without the ABC check's cost
        return True
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def shown(value, limit: int = 40) -> str:
    """``repr(value)`` for a message, at most about ``limit`` characters,
    built without walking more of ``value`` than it shows.

    A config's value can be a YAML alias bomb (a list of 9 lists of 9 lists
    ..., 9**9 numbers in 400 bytes): ``repr`` would spell all of it out
    before any truncation. Here each list or mapping gets what room is left
    and stops at ``...`` (``[[[1, 1, ...], ...], ...]``), so the work is
    bounded by ``limit``, and a list that holds itself prints ``[...]`` as
    ``repr`` does."""
    text = _shown(value, max(limit, 8), set())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shown(x, room: int, active: set) -> str:
    if isinstance(x, (list, tuple, dict)):
        opening, closing = ("{", "}") if isinstance(x, dict) else ("(", ")") if isinstance(x, tuple) else ("[", "]")
        if room < 7 or id(x) in active:
            return opening + "..." + closing
        active.add(id(x))
        parts: list[str] = []
        used = 2
        items = iter(x.items()) if isinstance(x, dict) else iter(x)
        for item in items:
            if parts and used + 5 > room:  # room for ", ..." and no more
                parts.append("...")
                break
            if isinstance(x, dict):
                key = _shown(item[0], room - used - 7, active)
                text = key + ": " + _shown(item[1], room - used - 9 - len(key), active)
            else:
                text = _shown(item, room - used - 5, active)
            parts.append(text)
            used += len(text) + 2
        active.discard(id(x))
        tail = "," if isinstance(x, tuple) and len(parts) == 1 and len(x) == 1 else ""
        return opening + ", ".join(parts) + tail + closing
    if isinstance(x, str) and len(x) > room:
        x = x[: room + 1]  # repr of a long string's start, cut below
    try:
        text = repr(x)
    except ValueError:  # an int past Python's limit on digits to print
        return "an integer too long to print"
    if len(text) <= room:
        return text
    if isinstance(x, str) and room >= 8:  # 'xxxx...', the quote kept: where the string ends is not in doubt
        return text[: room - 4] + "..." + text[-1]
    return text[: max(room - 3, 1)] + "..."


def _named(name: str, what: str) -> str:
    """``name: what``, or ``what`` alone when the caller gives no name (the
    config reader, whose messages are located by key path instead)."""
    return f"{name}: {what}" if name else what


# The largest size convcli takes, of a shape's axis or of a byte count (a
# signed 64-bit integer in NumPy stays below it); more than any memory.
MAX_SIZE = 2**62


def whole_float_hint(value, config: bool = False, pad: bool = False, lengths: tuple[int, ...] = (2,)) -> str:
    """For a size given as a float with a whole value (``2.0``, or in a
    list), where an int is wanted: say how to write it (a learner's review:
    ``{"pad": (f - 1) / 2}`` read 'expected an int ..., got 1.0' and no
    more). Only where what it says to write would do: every item a whole
    number from 1 (from 0 for a ``pad``) to MAX_SIZE, a list of one of
    ``lengths`` items (two later reviews: 'write 0' for a stride of 0.0,
    the first of a list's floats only, 'write [2, 2, 2]' for a stride).
    Else ''."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if isinstance(value, (list, tuple)) and len(items) not in lengths:  # (a list of another length: not so)
        return ""
    least = 0 if pad else 1

    def whole(v) -> bool:
        return (is_int(v) or (isinstance(v, (float, np.floating)) and bool(np.isfinite(v))
                              and float(v).is_integer())) and least <= v <= MAX_SIZE

    if not all(map(whole, items)) or all(map(is_int, items)):
        return ""
    ints = [int(v) for v in items]
    written = str(ints) if isinstance(value, (list, tuple)) else str(ints[0])
    given = str([v if is_int(v) else float(v) for v in items]) if isinstance(value, (list, tuple)) else repr(
        float(value))
    if config:
        return f" (a float: write {written}, not {given})"
    return (f" (a float, though a whole one: an int is wanted, {written}; made by a division, use "
            f"//{', as (f - 1) // 2' if pad else ''})")


def per_axis(value, name: str, n: int = 2) -> tuple[int, ...]:
    """``int`` or a sequence of ``n`` ints -> a tuple of ``n`` ints."""
    if is_int(value):
        return (int(value),) * n
    if isinstance(value, (list, tuple)) and len(value) == n and all(map(is_int, value)):
        return tuple(int(v) for v in value)
    raise ValueError(f"{name}: expected an int or a list of {n} ints, got {shown(value)}"
                     f"{whole_float_hint(value, lengths=(n,))}")


PAD_FORMS = "an int, [p_H, p_W], [top, bottom, left, right]"


def pad_sides(pad, name: str = "pad", modes: bool = True) -> tuple[int, int, int, int]:
    """``pad`` as given (int, ``[p_H, p_W]`` or ``[top, bottom, left, right]``)
    -> ``(top, bottom, left, right)``. ``same``/``valid`` are resolved by
    :func:`conv_geometry`, which knows the shapes; with ``modes`` False (a
    caller that has no kernel: ``zero_pad``) the error does not offer them.
    The config reader checks ``pad`` with this too (``name=""``)."""
    if is_int(pad):
        sides = (int(pad),) * 4
    elif isinstance(pad, (list, tuple)) and len(pad) == 2 and all(map(is_int, pad)):
        sides = (int(pad[0]),) * 2 + (int(pad[1]),) * 2
    elif isinstance(pad, (list, tuple)) and len(pad) == 4 and all(map(is_int, pad)):
        sides = tuple(int(p) for p in pad)
    else:
        offered = (", 'same' or 'valid'" if modes
                   else " (sizes only: 'same' and 'valid' need a kernel, as in conv_forward's hparameters)")
        hint = did_you_mean(pad, ("same", "valid")) if modes and isinstance(pad, str) else ""  # 'SAME'
        hint = hint or whole_float_hint(pad, config=not name, pad=True, lengths=(2, 4))
        raise ValueError(_named(
            name, f"expected {PAD_FORMS}{offered}, got {shown(pad)}{hint}"
        ))
    if min(sides) < 0:
        raise ValueError(_named(name, f"padding must be >= 0, got {shown(pad)}"))
    return sides


def _at_least_one(values: tuple[int, ...], name: str, given) -> tuple[int, ...]:
    if min(values) < 1:
        raise ValueError(f"{name}: must be >= 1, got {shown(given)}")
    return values


# More elements than any array can hold: NumPy refuses sizes whose bytes pass
# the largest intp (8 bytes an element, float64).
MAX_ELEMENTS = np.iinfo(np.intp).max // 8


def _physical_memory() -> int | None:
    """This machine's memory in bytes, where the system says (POSIX)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def too_large(shape, memory: bool = False, itemsize: int = 4, dtype: str | None = None) -> str:
    """"" or why an array of ``shape`` cannot be made: more elements than an
    array can hold, or with ``memory`` (the Python API, which makes it
    whole; the CLI has --max-memory and streams), more bytes than the
    machine has in elements of ``itemsize`` bytes (a pad of 10**5 asked
    NumPy for 298 GiB, whose MemoryError named no argument, and where memory
    is overcommitted may even be granted)."""
    n = math.prod(shape)
    if n > MAX_ELEMENTS:
        return "more elements than an array can hold"
    size = n * itemsize
    memory = _physical_memory() if memory and size > 2**30 else None  # no machine has less than 1 GiB
    if memory and size > memory:
        return (f"{size / 2**30:.3g} GiB in {dtype or f'float{8 * itemsize}'}, more than this machine's memory "
                f"({memory / 2**30:.3g} GiB)")
    return ""


def check_memory(shape, itemsize: int, message: str) -> None:
    """A ValueError ``message`` + why (:func:`too_large`) when an array of
    ``shape`` in ``itemsize``-byte elements would not fit this machine's
    memory: said before NumPy's MemoryError, which names no argument."""
    why = too_large(shape, memory=True, itemsize=itemsize)
    if why:
        raise ValueError(f"{message}{why}")


def check_padded(shape, sides, name: str, memory: bool = False, itemsize: int = 4,
                 dtype: str | None = None) -> None:
    """A ValueError naming ``pad`` when ``shape`` (m, n_H, n_W, n_C) padded by
    ``sides`` (top, bottom, left, right) is too large to make
    (:func:`too_large`): NumPy's "array is too big" or MemoryError would
    name neither."""
    t, bo, l, r = sides
    padded = (shape[0], shape[1] + t + bo, shape[2] + l + r, shape[3])
    why = too_large(padded, memory, itemsize, dtype)
    if why:
        raise ValueError(f"pad: {name} {tuple(shape)} padded by {tuple(sides)} makes the padded input {padded}, "
                         f"{why}")


def choice(value, name: str, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``, else a ValueError naming ``name``."""
    if not isinstance(value, str) or value not in allowed:  # an array's `in` would be ambiguous
        hint = did_you_mean(value, allowed) if isinstance(value, str) else ""  # 'MAX', 'avg', 'Fast'
        raise ValueError(_named(name, f"expected one of {', '.join(allowed)}, got {shown(value)}{hint}"))
    return value


def check_engine(engine) -> str:
    return choice(engine, "engine", ENGINES)


def joined(names) -> str:
    """``a`` / ``a and b`` / ``a, b and c``."""
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def as_given(hyper: dict, given) -> dict:
    """A layer's resolved hyperparameters (``pad`` as the four sides, ``f``
    as two sizes, ...) with its stride and dilation as the config gives
    them. The geometry holds a stride past the (padded) input, or a dilation
    of a 1-wide kernel, at its equivalent, which is what the engines compute
    with (a stride of 2**62 would overflow a window view's byte strides);
    the user is shown what they wrote."""
    out = dict(hyper)  # (not `shown`: the module's function of that name)
    for key in ("stride", "dilation"):
        if key in out and given.get(key) is not None:
            out[key] = list(per_axis(given[key], key))
    return out


def did_you_mean(word, choices) -> str:
    """`` (did you mean 'x'?)`` or ``""``; case does not count as a difference
    (``dw`` -> ``dW``)."""
    choices = [str(c) for c in choices]
    lowered = {c.lower(): c for c in reversed(choices)}
    match = difflib.get_close_matches(str(word).lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[match[0]]!r}?)" if match else ""


def _check_hparameters(hparameters, allowed: tuple[str, ...]) -> dict:
    if not isinstance(hparameters, dict):
        raise ValueError(f"hparameters: expected a dict, got {type(hparameters).__name__}")
    unknown = sorted(set(hparameters) - set(allowed), key=repr)  # keys of mixed types sort too
    if "pad" in unknown and _no_padding(hparameters["pad"]):  # a dict shared with a conv layer's: pad 0
        unknown.remove("pad")
    if unknown:
        key = unknown[0]
        # "strides" (Keras), "padding" (PyTorch) -> stride, pad; a pool's pad has no match
        if key in ("pad", "padding") and "pad" not in allowed:
            why = ": pooling has no padding"
        elif key == "mode" and "ties" in allowed:  # a pool's
            why = ": the mode is an argument of its own, pool_forward(A_prev, hparameters, mode=...)"
        else:
            why = did_you_mean(key, allowed)
        raise ValueError(f"hparameters: unknown key {shown(key)}{why} (known: {', '.join(allowed)})")
    return hparameters


def _no_padding(pad) -> bool:
    """Whether a pool's ``pad`` says none: 0, a list of zeros, or "valid"."""
    if isinstance(pad, str):
        return pad == "valid"
    items = pad if isinstance(pad, (list, tuple)) else [pad]
    return len(items) in (1, 2, 4) and all(is_int(p) and p == 0 for p in items)


def weak(original, array: np.ndarray):
    """What :func:`compute_dtype` is given for an argument: a Python number
    as it is (NumPy promotes one weakly: float32 arrays and a bias of 0 stay
    float32, as ``x32 + 0`` does), else its array."""
    return original if type(original) in (int, float, bool) else array


def compute_dtype(*arrays) -> np.dtype:
    """The dtype a layer computes in: NumPy's promotion of the inputs' dtypes,
    so float32 stays float32, a mix with float64 gives float64, and an
    integer input joins a float32 one only where float32 holds all its
    values exactly (uint8 or int16 with float32: float32; int32 or int64 with
    float32: float64, as NumPy promotes them). All-integer or boolean inputs
    compute in float64, float16 in float32, anything wider in float64. A
    Python number (see :func:`weak`) joins as NumPy takes one: weakly."""
    dt = np.result_type(*(a.dtype if isinstance(a, np.ndarray) else a for a in arrays))
    if dt.kind != "f" or dt.itemsize > 8:
        return np.dtype(np.float64)
    if dt.itemsize < 4:
        return np.dtype(np.float32)
    return dt


class LayerCache(tuple):
    """A forward's cache: the notebook's tuple, ``(A_prev, W, b,
    hparameters)`` from ``conv_forward`` and ``(A_prev, hparameters)`` from
    ``pool_forward``, which also holds what convcli's engine keeps for its
    backward, as ``.state``, outside its items: the notebook's
    ``(A_prev, W, b, hparameters) = cache`` takes it as it is, and so does a
    backward of one's own (a review: 'too many values to unpack'). A slice or
    a copy as a plain tuple is the notebook's cache, which the backward
    takes too (it recomputes what the state held)."""

    def __new__(cls, items, state):
        self = super().__new__(cls, items)
        self.state = state
        return self

    def __reduce__(self):  # (pickle, copy: a tuple's own rebuilds it without the state)
        return type(self), (tuple(self), self.state)


def with_notebook_keys(hparameters, defaults: dict):
    """The hparameters a forward's cache holds: a copy of the caller's dict,
    with the keys the notebook's backward loops read (a conv's ``stride``
    and ``pad``, a pool's ``stride``) set to their defaults where left out
    (a notebook-style backward on convcli's cache read
    ``hparameters['stride']`` and raised KeyError, a review). Always a copy:
    a caller's dict changed after the forward (reused for the next layer)
    had changed the cache's too, whose gradient as a plain tuple then
    followed the new settings and with the engine's state the old ones (an
    engineer's review); and a deep one, for a list in it changed in place."""
    missing = {k: v for k, v in defaults.items() if k not in hparameters}
    return copy.deepcopy(dict(hparameters, **missing))  # (deep: a pad list changed in place, a review)


def cache_state(cache, n: int):
    """The engine's state of a cache: a :class:`LayerCache`'s ``.state``,
    else the item after the notebook's ``n`` (a tuple built with one, as
    convcli's caches were), else None."""
    if isinstance(cache, LayerCache):
        return cache.state
    return cache[n] if len(cache) > n else None


def a_type(x) -> str:
    """``x``'s type with its article, for a message: 'an ndarray' (said
    'en-dee-array'), 'an int', 'a dict'."""
    name = type(x).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' or name == 'ndarray' else 'a'} {name}"


def check_not_swapped(upstream, cache, backward: str, grad: str) -> None:
    """A backward called the other way round, ``backward(cache, dA)`` (a
    learner's review: relu_backward, which takes ``Z`` itself for its
    cache, read the tuple ``(Z,)`` as a 5-D dA): a ValueError that says so,
    where the upstream gradient is a forward's cache (a tuple or list of
    arrays and hyperparameters) and the cache an array."""
    if not isinstance(cache, np.ndarray) or not isinstance(upstream, (tuple, list)) or not upstream:
        return
    # (Z,) with the gradient of Z's shape as the cache (a list of one sample's gradient, [dA[0]], is a dA)
    relu = len(upstream) == 1 and isinstance(upstream[0], np.ndarray) and upstream[0].shape == cache.shape
    layer = any(isinstance(x, dict) for x in upstream)  # (A_prev, W, b, hparameters), (A_prev, hparameters)
    if relu or layer:
        kind = "tuple" if isinstance(upstream, tuple) else "list"
        # ([dA], Z) has the same make as ((Z,), dA): a wrapped gradient, not swapped arguments (a review)
        wrapped = f", or {grad} is wrapped in a {kind}" if relu and not layer else ""
        raise ValueError(f"{grad}: a {kind} of {len(upstream)}, as a forward's cache is, and the cache an array: "
                         f"the arguments look swapped{wrapped}; call {backward}({grad}, cache) with {grad} "
                         "the array itself")


def whole_return_hint(cache, backward: str) -> str:
    """For a cache that is a forward's whole return value, ``(output,
    cache)``, a learner's slip (``cache = conv_forward(...)``, a review):
    say to pass its second item, or, if it is another layer's, whose
    backward takes it. Else ''."""
    if not (isinstance(cache, (tuple, list)) and len(cache) == 2 and isinstance(cache[0], np.ndarray)
            and isinstance(inner := cache[1], tuple)):
        return ""
    if len(inner) == 1:
        forward, output = "relu", "A"
    elif len(inner) >= 4 and isinstance(inner[3], dict):
        forward, output = "conv", "Z"
    elif len(inner) >= 2 and isinstance(inner[1], dict):
        forward, output = "pool", "A"
    else:
        return ""
    said = f"; this looks like {forward}_forward's whole return value, ({output}, cache)"
    if f"{forward}_backward" != backward:
        return f"{said}, whose cache is for {forward}_backward"
    return f"{said}: pass its second item ({output}, cache = {forward}_forward(...))"


def cache_arrays(named, expected: str) -> list[np.ndarray]:
    """The arrays of a cache built by hand, as the notebook's forward
    functions build it: lists (which the forwards take too) as arrays;
    anything else a ValueError naming the item and what was ``expected``.
    ``named``: (name, item) in the cache's order."""
    out = []
    for k, (name, x) in enumerate(named, 1):
        try:
            a = np.asarray(x)
        except (ValueError, TypeError):
            a = None
        if a is None or a.dtype.kind not in "biuf":
            raise ValueError(f"cache: item {k}, {name}, is {a_type(x)}, not an array of numbers; "
                             f"expected {expected}")
        out.append(a)
    return out


def as_array(x, name: str, ndim: int | None, layout: str = "") -> np.ndarray:
    """Check that ``x`` is a real numeric array with ``ndim`` dimensions."""
    if isinstance(x, np.ma.MaskedArray):
        # The fast engine computed on its data, the reference's loops on what NumPy's masked
        # operations gave (a review: a 2x2 conv of ones with one element masked, 4 against 3).
        raise ValueError(f"{name}: a masked array (numpy.ma), which the layers have no rule for; "
                         f"pass an ordinary one: its .filled(value), or its .data to ignore the mask")
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as exc:  # ragged lists and the like
            raise ValueError(f"{name}: cannot be read as an array ({exc})") from None
    if x.dtype.kind not in "biuf":
        if x.dtype.kind == "O" and x.ndim == 0 and not isinstance(v := x.item(), numbers.Number):
            # not an array at all: a dict, None, ...
            raise ValueError(f"{name}: expected a real numeric array, got {'None' if v is None else type(v).__name__}")
        raise ValueError(
            f"{name}: expected a real numeric array, got dtype {x.dtype} (shape {x.shape})"
        )
    if ndim is not None and x.ndim != ndim:
        want = f" {layout}" if layout else ""
        raise ValueError(
            f"{name}: expected {ndim} dimensions{want}, got shape {x.shape}"
        )
    return x


def shape_view(shape) -> np.ndarray:
    """A zero-memory array of ``shape``, for checks that read shapes only."""
    return np.broadcast_to(np.zeros((), dtype=np.float64), tuple(shape))


def output_size(n_in: int, before: int, after: int, f: int, s: int, d: int = 1) -> int:
    """``floor((n_in + before + after - d*(f-1) - 1) / s) + 1`` (may be < 1)."""
    return (n_in + before + after - d * (f - 1) - 1) // s + 1


def same_padding(n_in: int, f: int, s: int, d: int) -> tuple[int, int]:
    """TensorFlow's ``same``: ``n_out = ceil(n_in / s)``; the odd unit of
    padding goes after (bottom/right)."""
    n_out = math.ceil(n_in / s)
    total = max((n_out - 1) * s + d * (f - 1) + 1 - n_in, 0)
    return total // 2, total - total // 2


class ConvGeometry(NamedTuple):
    """Everything the conv engines need to know, explicit per axis. (A
    NamedTuple: immutable, and built in a tenth of a frozen dataclass's time,
    which counts on small layers.)"""

    m: int
    n_H_prev: int
    n_W_prev: int
    n_C_prev: int
    f_H: int
    f_W: int
    n_C: int
    s_H: int
    s_W: int
    d_H: int
    d_W: int
    pad: tuple[int, int, int, int]  # top, bottom, left, right
    n_H: int
    n_W: int
    bias: str

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        return (self.m, self.n_H, self.n_W, self.n_C)

    @property
    def in_shape(self) -> tuple[int, int, int, int]:
        return (self.m, self.n_H_prev, self.n_W_prev, self.n_C_prev)

    @property
    def padded_hw(self) -> tuple[int, int]:
        t, b, l, r = self.pad
        return self.n_H_prev + t + b, self.n_W_prev + l + r


class PoolGeometry(NamedTuple):
    m: int
    n_H_prev: int
    n_W_prev: int
    n_C: int
    f_H: int
    f_W: int
    s_H: int
    s_W: int
    n_H: int
    n_W: int
    ties: str

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        return (self.m, self.n_H, self.n_W, self.n_C)

    @property
    def in_shape(self) -> tuple[int, int, int, int]:
        return (self.m, self.n_H_prev, self.n_W_prev, self.n_C)


# A stride longer than the (padded) input is the same as one as long as it:
# either way the only window starts at 0. A 1-wide kernel has nothing to
# dilate. Such values are taken at their equivalent, which is what the
# geometry holds (``convcli shapes`` shows the config's), so that a stride of 2**62
# computes like any other instead of overflowing the byte strides of a
# window view (NumPy's "Maximum allowed dimension exceeded").


def _steps(stride: tuple[int, int], extent: tuple[int, int]) -> tuple[int, int]:
    return min(stride[0], extent[0]), min(stride[1], extent[1])


def _dilations(dilation: tuple[int, int], f: tuple[int, int]) -> tuple[int, int]:
    return dilation[0] if f[0] > 1 else 1, dilation[1] if f[1] > 1 else 1


def conv_geometry(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, hparameters) -> ConvGeometry:
    """Check a conv layer's arguments and resolve its hyperparameters.

    ``A_prev`` (m, n_H_prev, n_W_prev, n_C_prev), ``W`` (f_H, f_W, n_C_prev,
    n_C), ``b`` (1, 1, 1, n_C) or (n_C,).
    """
    hp = _check_hparameters(hparameters, CONV_KEYS)
    m, n_H_prev, n_W_prev, n_C_prev = A_prev.shape
    f_H, f_W, w_C_prev, n_C = W.shape
    if min(A_prev.shape) < 1:
        raise ValueError(f"A_prev: every dimension must be >= 1, got shape {A_prev.shape}")
    if min(f_H, f_W, n_C) < 1 or w_C_prev < 1:
        raise ValueError(f"W: every dimension must be >= 1, got shape {W.shape}")
    # PyTorch's weight layout (n_C, n_C_prev, f_H, f_W), the usual mistake: its
    # input channels second, as many output channels as b has, and (nearly
    # always) a square kernel last.
    oihw = W.shape[1] == n_C_prev and b.size == W.shape[0] and W.shape[2] == W.shape[3]
    if w_C_prev != n_C_prev:
        hint = ("; it looks like PyTorch's (n_C, n_C_prev, f_H, f_W) layout: convcli's is "
                "(f_H, f_W, n_C_prev, n_C), W.transpose(2, 3, 1, 0)" if oihw else "")
        if not hint and A_prev.shape[1] == w_C_prev:  # W's channels second: perhaps an NCHW batch (or a wrong W)
            hint = ("; if A_prev is in PyTorch's (m, n_C_prev, n_H, n_W) layout (NCHW): convcli's is NHWC, "
                    "A_prev.transpose(0, 2, 3, 1)")
        raise ValueError(
            f"W: channel mismatch: A_prev has n_C_prev={n_C_prev} (shape {A_prev.shape}) "
            f"but W has {w_C_prev} input channels (shape {W.shape}){hint}"
        )
    if b.shape not in ((1, 1, 1, n_C), (n_C,)):
        # W fits A_prev as it is, so b is the one named; but W may be PyTorch's all the same, where b's
        # count is its n_C and not W's (a b of W's count, only of another shape, is reshaped: an engineer's
        # review had it told of W's layout where W.shape[0] was n_C too).
        if b.size == n_C:
            hint = f"; it has the {n_C} value{'s' * (n_C != 1)} W needs, in another shape: b.reshape({n_C})"
        else:
            hint = (f" (or, if W is in PyTorch's (n_C, n_C_prev, f_H, f_W) layout, W.transpose(2, 3, 1, 0) "
                    f"has {W.shape[0]})" if oihw else "")
        raise ValueError(f"b: expected shape (1, 1, 1, {n_C}) or ({n_C},) to match W {W.shape}, got {b.shape}{hint}")
    if "f" in hp:
        f = _at_least_one(per_axis(hp["f"], "f"), "f", hp["f"])
        if f != (f_H, f_W):
            raise ValueError(f"f: hparameters say {shown(hp['f'])} but W has shape {W.shape}")
    stride = hp.get("stride", 1)
    s_H, s_W = _at_least_one(per_axis(stride, "stride"), "stride", stride)
    dilation = hp.get("dilation", 1)
    d_H, d_W = _at_least_one(per_axis(dilation, "dilation"), "dilation", dilation)
    bias = choice(hp.get("bias", "once"), "bias", BIAS_MODES)
    pad = hp.get("pad", 0)
    if isinstance(pad, str) and pad == "valid":
        sides = (0, 0, 0, 0)
    elif isinstance(pad, str) and pad == "same":
        sides = same_padding(n_H_prev, f_H, s_H, d_H) + same_padding(n_W_prev, f_W, s_W, d_W)
    else:
        sides = pad_sides(pad)
    t, bo, l, r = sides
    n_H = output_size(n_H_prev, t, bo, f_H, s_H, d_H)
    n_W = output_size(n_W_prev, l, r, f_W, s_W, d_W)
    if n_H < 1 or n_W < 1:
        raise ValueError(
            f"output size: A_prev {A_prev.shape} with W {W.shape}, stride {(s_H, s_W)}, "
            f"pad {sides}, dilation {(d_H, d_W)} gives n_H={n_H}, n_W={n_W} (must be >= 1)"
        )
    check_padded(A_prev.shape, sides, "A_prev")
    if n_H * n_W * m * n_C > MAX_ELEMENTS:
        raise ValueError(f"output size: A_prev {A_prev.shape} with W {W.shape}, pad {sides} gives Z "
                         f"{(m, n_H, n_W, n_C)}, more elements than an array can hold")
    s_H, s_W = _steps((s_H, s_W), (n_H_prev + t + bo, n_W_prev + l + r))
    d_H, d_W = _dilations((d_H, d_W), (f_H, f_W))
    return ConvGeometry(
        m, n_H_prev, n_W_prev, n_C_prev, f_H, f_W, n_C,
        s_H, s_W, d_H, d_W, tuple(sides), n_H, n_W, bias,
    )


def pool_geometry(A_prev: np.ndarray, hparameters) -> PoolGeometry:
    """Check a pool layer's arguments; ``stride`` defaults to ``f``."""
    hp = _check_hparameters(hparameters, POOL_KEYS)
    if "f" not in hp:
        raise ValueError("f: missing from hparameters (the pooling window size)")
    f_H, f_W = _at_least_one(per_axis(hp["f"], "f"), "f", hp["f"])
    stride = hp.get("stride", (f_H, f_W))
    s_H, s_W = _at_least_one(per_axis(stride, "stride"), "stride", stride)
    ties = choice(hp.get("ties", "all"), "ties", TIE_RULES)
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    if min(A_prev.shape) < 1:
        raise ValueError(f"A_prev: every dimension must be >= 1, got shape {A_prev.shape}")
    n_H = output_size(n_H_prev, 0, 0, f_H, s_H)
    n_W = output_size(n_W_prev, 0, 0, f_W, s_W)
    if n_H < 1 or n_W < 1:
        raise ValueError(
            f"output size: A_prev {A_prev.shape} with f {(f_H, f_W)}, stride {(s_H, s_W)} "
            f"gives n_H={n_H}, n_W={n_W} (must be >= 1)"
        )
    s_H, s_W = _steps((s_H, s_W), (n_H_prev, n_W_prev))
    return PoolGeometry(m, n_H_prev, n_W_prev, n_C, f_H, f_W, s_H, s_W, n_H, n_W, ties)


def check_mode(mode) -> str:
    return choice(mode, "mode", POOL_MODES)


def check_upstream(d: np.ndarray, name: str, expected: tuple[int, ...]) -> np.ndarray:
    d = as_array(d, name, 4, "(m, n_H, n_W, n_C)")
    if d.shape != tuple(expected):
        hint = nchw_hint(d.shape, expected, name) or "; is the cache from the forward of the layer this gradient is for?"
        raise ValueError(f"{name}: shape {d.shape} does not match the layer's output shape {tuple(expected)}"
                         " (from the cache)" + hint)
    return d


def nchw_hint(shape, expected, name: str | None = None) -> str:
    """"" unless ``shape`` is NHWC ``expected`` in PyTorch's NCHW order: then
    the transpose that gives convcli's layout (of ``name``, or of a file's array)."""
    if len(shape) != 4 or len(expected) != 4 or tuple(shape) == tuple(expected):
        return ""
    m, n_H, n_W, n_C = expected
    if tuple(shape) != (m, n_C, n_H, n_W):
        return ""
    how = f"{name}.transpose(0, 2, 3, 1)" if name else "save its .transpose(0, 2, 3, 1)"
    return f"; it looks like PyTorch's NCHW layout: convcli's is NHWC, {how}"
