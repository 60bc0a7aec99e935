"""Comparing convcli's results with expected values and with a user's arrays.

Two sources of expectations:

- ``expected`` entries (from the config or an ``--expected FILE``):
  ``Q.STAT``, ``Q[i, j, ...]``, or ``Q`` (a value, or a whole array from a
  file); a value for ``Q[...]`` or ``Q`` has the shape of what it selects,
  or is one number that stands for every element of it;
- ``--against PATH``: a user's arrays (a folder of ``Q.npy`` files, an
  ``.npz``, or an ``.h5`` with one dataset per quantity), each compared with
  convcli's result for that quantity.

Both are parsed and checked (names, indices, the shapes of values and of
stored files) by a ``collect_*`` function before anything runs, so a typo
costs no compute; an ``evaluate_*`` function then compares. An element
passes when ``|got - expected| <= atol + rtol*|expected|`` (NaN matches NaN,
an infinity matches the same infinity). For ``--against``, convcli's result
is the expected side.

:func:`grade` is the ``check`` command's whole comparison, from the entries
and arrays to a :class:`Report`; the command line validates the options and
prints the report.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import os
import re
import zipfile
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG

import numpy as np

from . import arrays, hparams, runner
from .config import (H5_SUFFIXES, NPZ_SUFFIXES, ComputedFrom, Expected, LoadedConfig, Source, slice_text,
                     value_shape)
from .conv import conv_backward, conv_forward
from .errors import ConvcliError, fmt_shape, path_error, printable, short_path
from .hparams import did_you_mean, joined
from .network import LayerSpec, Network, layer_backward, layer_forward
from .pool import pool_backward, pool_forward
from .runner import DEFAULT_TOLERANCES, Plan, Results, copied_from, in_other_dtype
from .stats import STATS, TABLE_DIGITS, stat


@dataclass(frozen=True)
class Entry:
    """One parsed ``expected`` entry."""

    key: str  # as written
    quantity: str  # full name
    stat: str | None
    index: tuple | None
    expected: object  # ndarray, or a list for shape
    rtol: float
    atol: float


# The kinds of hint a failed array of a user's can carry, in --json's "hints"
# (its note says each in words): another axis order; a bias in the other of its two layouts' sizes; the padding,
# stride or dilation that makes a wrong output size (or the formula's + 1 left out), or a dA_prev left padded;
# a "same" padding's odd row or column on the top or left; the input padded by its edges or by reflection;
# the bias added in every window (the seed notebook's), not at all, or twice; a conv's output through a ReLU;
# the kernel flipped (a true
# convolution's); a parameter's gradient per sample, not summed over them; a db summed over other axes of dZ;
# convcli's numbers in another
# shape (flattened); a parameter's gradient that is its last term alone (= for +=); windows not stepped
# by the stride; a pool of the other mode (max for average); convcli's times
# one number; another ties rule; a ReLU's gradient passed at Z = 0; a max pool's masks not multiplied by
# their gradient; a ReLU's or a max pool's backward with no mask; a pool over every channel at once; convcli's
# in some samples, zeros in the others; float32
# against a float64 run; float16; convcli's rounded to a few decimals; an integer array; differences at the
# rounding of the array's scale; NaN or infinities in yours only, NaN in convcli's only; an input of yours
# read as saved; an array of zeros; a pass that atol alone gives; and where nothing in the numbers
# themselves says more, what this one follows from that differs too: your copy of an input the config
# gives (another seed, another file), a forward output of yours, the gradient coming into its layer, or one
# of yours in another axis order (if the layers after it took it so); with --each-layer, a layer graded on
# convcli's input to it. The README lists them for a grader's script (a test holds the two equal, and
# conftest every hint any test's check gives to this tuple).
HINT_KINDS = ("axis_order", "bias_layout", "geometry", "bias_window", "no_bias", "activation", "flipped_kernel",
              "transposed_kernel", "same_split", "edge_padding", "per_sample", "sum_axes", "reshaped", "last_term",
              "stride", "pool_mode", "scale", "ties", "relu_kink", "mask_only", "no_mask", "all_channels",
              "some_samples", "float32", "float16", "decimals", "integer", "rounding", "nan_in_yours",
              "inf_in_yours", "nan_in_convcli", "inputs_as_saved", "all_zeros", "atol_dominates", "other_inputs",
              "forward_first", "gradient_first", "layout_first", "convcli_input")


@dataclass
class Outcome:
    """The result of one comparison, for the table and for --json."""

    label: str  # the entry as written, or the user's file/dataset
    quantity: str
    expected: object
    got: object
    passed: bool
    rtol: float
    atol: float
    abs_err: float | None = None
    rel_err: float | None = None
    first: list[int] | None = None  # first index (of the quantity) beyond tolerance
    note: str = ""
    array: np.ndarray | None = field(default=None, repr=False, compare=False)  # yours, if kept
    dtype: str | None = None  # of a user's array (--against)
    # --against, for a grader's script (the note says the same in words): the
    # shapes, the two values at the first index, and the kinds of hint given
    # (HINT_KINDS)
    shape: list[int] | None = None
    expected_shape: list[int] | None = None
    values_at_first: tuple[float, float] | None = None
    hints: list[str] = field(default_factory=list)
    linked_from: str | None = None  # where a user's array really is, when a link leads outside the submission
    relaid: bool = False  # yours is convcli's numbers with its axes in another order (the axis_order hint)
    saved_round: bool = False  # yours is convcli's rounded to the dtype it was saved in, within an ulp of it
    # each element's atol where float32's allowance is each one's own (atol says the largest): for pictures
    graded_atol: np.ndarray | None = field(default=None, repr=False, compare=False)
    # --against, an array that fails: how many of its elements are beyond the tolerance, and where the
    # largest difference is (one slip, or a frame of them, or all)
    n_differ: int | None = None
    worst: list[int] | None = None
    # the words of each slip hint worked out on convcli's input to the layer (all but NOT_SLIPS), to take back
    # where an array of yours upstream explains it instead (_upstream_first)
    said: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):  # as printed: an entry's key may hold a newline or a tab (errors.printable)
        self.label = printable(self.label)

    def as_json(self) -> dict:
        doc = {
            "entry": None if self.status == MISSING else self.label, "quantity": self.quantity,
            "expected": _jsonable(self.expected), "got": _jsonable(self.got),
            "abs_err": self.abs_err, "rel_err": self.rel_err,
            "rtol": self.rtol, "atol": self.atol,
            "first_index": self.first, "passed": self.passed, "status": self.status, "note": self.note,
            "dtype": self.dtype,
        }
        if self.expected_shape is not None:  # (--against's)
            doc.update({"n_differ": self.n_differ, "worst_index": self.worst})
        # the two numbers where it first differs (null where nothing numeric was compared)
        yours, ours = self.values_at_first or (None, None)
        doc.update({"got_at_first": _jsonable(yours), "expected_at_first": _jsonable(ours)})
        if self.expected_shape is not None:  # a user's array
            doc.update({"shape": self.shape, "expected_shape": self.expected_shape, "hints": list(self.hints),
                        "linked_from": self.linked_from})
        return doc

    @property
    def status(self) -> str:
        """``pass``, ``fail``, or for a user's array that could not be
        compared, ``missing`` or ``unreadable``."""
        if self.passed:
            return "pass"
        return self.got if isinstance(self.got, str) and self.got in (MISSING, UNREADABLE) else "fail"


def _jsonable(x):
    if isinstance(x, np.ndarray):
        return {"shape": list(x.shape)} if x.size > 16 else x.tolist()
    return x


# --------------------------------------------------------------------- keys

_INT = re.compile(r"^[-+]?\d+$")
# A bound is empty or a signed integer: a sign alone ("Z[-:2]") reached int() and stopped every command with
# exit 3 (a review).
_SLICE = re.compile(r"^((?:[-+]?\d+)?)\s*:\s*((?:[-+]?\d+)?)(?:\s*:\s*((?:[-+]?\d+)?))?$")


def parse_index(text: str, shape: tuple[int, ...], quantity: str, where: str) -> tuple:
    """``"1, :, 0:2"`` -> ``(1, slice(None), slice(0, 2))``, checked against
    ``shape``: NumPy basic indexing (ints, slices, one ``...``) only."""
    parts = [s.strip() for s in text.split(",")]
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()  # a trailing comma, as in Z[0,]
    items: list = []
    for part in parts:
        if part == "...":
            if Ellipsis in items:
                raise ConvcliError(where, "an index can hold only one '...'")
            items.append(Ellipsis)
        elif _INT.match(part):
            items.append(int(part))
        elif (m := _SLICE.match(part)) and part:
            start, stop, step = (int(g) if g else None for g in m.groups())
            if step == 0:
                raise ConvcliError(where, "a slice step cannot be 0")
            items.append(slice(start, stop, step))
        else:
            raise ConvcliError(
                where, f"cannot read index {part!r}: use ints, slices like 0:2, or ... (e.g. Z[0, :, 1:3])"
            )
    n = len([i for i in items if i is not Ellipsis])
    if n > len(shape):
        raise ConvcliError(where, f"too many indices ({n}) for {quantity}, which has {len(shape)} dimensions {shape}")
    if Ellipsis in items:
        k = items.index(Ellipsis)
        axes = list(range(k)) + [None] + list(range(len(shape) - (len(items) - k - 1), len(shape)))
    else:
        axes = list(range(len(items)))
    for item, axis in zip(items, axes):
        if isinstance(item, int) and not -shape[axis] <= item < shape[axis]:
            raise ConvcliError(
                where,
                f"index {item} is out of range for axis {axis} of {quantity}, whose shape is {shape}",
            )
        # An empty selection would pass vacuously (all() of nothing): refuse it.
        if isinstance(item, slice) and not len(range(*item.indices(shape[axis]))):
            raise ConvcliError(
                where,
                f"slice {slice_text(item)} selects nothing on axis {axis} of {quantity}, "
                f"which has size {shape[axis]} (shape {shape})",
            )
    return tuple(items)



_KEY = re.compile(r"^\s*(?P<q>[^\[\]]+?)\s*\[(?P<idx>[^\[\]]*)\](?:\.(?P<stat>\w+))?\s*$")


def _stat_name(name: str, where: str) -> str:
    if name not in STATS:
        raise ConvcliError(where, f"unknown stat {name!r}{did_you_mean(name, STATS)}; stats: {', '.join(STATS)}")
    return name


def parse_key(key: str, p: Plan, where: str) -> tuple[str, str | None, tuple | None]:
    """``"dA_prev.mean"`` -> ``("conv1.dA_prev", "mean", None)``;
    ``"Z[0, 1]"`` -> ``("conv1.Z", None, (0, 1))``; ``"Z[..., 0].mean"`` ->
    ``("conv1.Z", "mean", (Ellipsis, 0))``, a statistic of a selection (one
    channel's mean); ``"conv1.dW"`` -> whole."""
    m = _KEY.match(key)
    if m:
        q = p.resolve(m.group("q"), where)
        name = m.group("stat") and _stat_name(m.group("stat"), where)
        return q, name, parse_index(m.group("idx"), p.shapes[q], q, where)
    if key.count("[") != key.count("]"):
        raise ConvcliError(where, f"cannot read {key!r}: {'a [ is not closed' if key.count('[') > key.count(']') else 'a ] has no ['}; an index is written as in Z[0, 1]")
    if re.search(r"\[[^\]]*\[", key):  # Z[[0, 1]], Z[0][1]'s cousin: NumPy's fancy indexing
        raise ConvcliError(where, f"cannot read {key!r}: an index holds ints, slices like 0:2 and one ..., not "
                                  "lists (no fancy indexing): one entry per element, as in Z[0, 1] and Z[1, 1]")
    if re.search(r"\]\s*\[", key):
        raise ConvcliError(where, f"cannot read {key!r}: write one index, as in Z[0, 1] (not Z[0][1])")
    if "[" in key or "]" in key:
        raise ConvcliError(where, f"cannot read {key!r}: an index goes at the end, as in Z[0, 1]")
    try:
        return p.resolve(key, where), None, None
    except ConvcliError as whole_error:
        if "." not in key:
            raise
        head, name = key.rsplit(".", 1)
        if name in STATS:
            return p.resolve(head, where), name, None  # an error names the quantity
        try:
            q = p.resolve(head, where)
        except ConvcliError:
            raise whole_error from None
        return q, _stat_name(name, where), None


def collect_expected(p: Plan, entries: dict[str, Expected], where_cfg: LoadedConfig,
                     files: bool = True) -> list[Entry]:
    """Parse and check ``expected`` entries against the plan's quantities.

    ``where_cfg`` is the file the entries come from (the config, or an
    ``--expected FILE``): error messages and relative paths use it. An
    entry's own rtol/atol stand in for ``p.tolerance`` (which holds an
    ``--expected FILE``'s ``tolerance:``). Without ``files`` (the commands
    other than check, which only validate the entries), a ``file:`` entry
    is neither opened nor read: the run may be the one that makes it.
    """
    rtol0, atol0 = p.tolerance
    out = []
    for key, spec in entries.items():
        where = where_cfg.where("expected", key)
        q, name, index = parse_key(key, p, where)
        rtol = rtol0 if spec.rtol is None else spec.rtol
        atol = atol0 if spec.atol is None else spec.atol
        if spec.file is not None:
            if name is not None or index is not None:
                raise ConvcliError(where, "file: gives a whole array; use it with a bare quantity (e.g. conv1.Z)")
            if not files:
                continue
            src = spec.as_source()
            info = arrays.probe(src, where_cfg.base_dir, where)
            if not same_layout(p, q, info.shape, p.shapes[q]):
                raise ConvcliError(
                    where, f"{spec.file} holds shape {tuple(info.shape)} but {q} has shape {p.shapes[q]}"
                )
            value = arrays.read_file(src, where_cfg.base_dir, where, p.max_memory).astype(np.float64)
            value = value.reshape(p.shapes[q])  # a bias's (n_C,) as (1, 1, 1, n_C)
        elif name == "shape":
            if not (isinstance(spec.value, list) and all(isinstance(v, int) for v in spec.value)):
                raise ConvcliError(where, f"shape: expected a list of ints, got {hparams.shown(spec.value)}")
            value = list(spec.value)
        elif name is not None:
            if isinstance(spec.value, list):
                raise ConvcliError(where, f"{name}: expected one number, got a list")
            value = np.float64(spec.value)
        else:
            # The value's shape is checked before it is built (it may be an
            # alias bomb; the selection it must match fits --max-memory).
            shape = value_shape(spec.value)
            want = selection_shape(p.shapes[q], index)
            # One number stands for every element it covers (NumPy broadcasting,
            # but only from a scalar: a list of another shape is a mistake).
            if shape and shape != want and not (index is None and same_layout(p, q, shape, want)):
                raise ConvcliError(
                    where, f"the value has shape {shape} but {q if index is None else 'the selection'} "
                           f"has shape {want}: give {_written(want)}"
                           + (f" (or a list of its {want[-1]} numbers)" if index is None and q in p.biases()
                              and len(want) > 1 else "")
                           + ", or one number for every element",
                )
            value = np.asarray(spec.value, dtype=np.float64)
            if shape and shape != want:  # a bias's n_C numbers for its (1, 1, 1, n_C)
                value = value.reshape(want)
        out.append(Entry(key, q, name, index, value, rtol, atol))
    return out


def _written(shape: tuple[int, ...]) -> str:
    """How a value of ``shape`` is written in YAML, in words."""
    if not shape:
        return "one number"
    if len(shape) == 1:
        return f"a list of {shape[0]} number{'s' * (shape[0] != 1)}"
    return f"a nested list of shape {shape}"


# --------------------------------------------------------------------- compare


def compare(got, expected, rtol: float, atol: float | np.ndarray) -> tuple[bool, float, float, tuple | None, str]:
    """``(passed, max abs err, max rel err, first failing index, note)``.
    ``atol``: a number, or an array of the expected shape (each element's)."""
    got = np.asarray(got, dtype=np.float64)
    exp = np.asarray(expected, dtype=np.float64)
    if got.shape != exp.shape:
        return False, math.nan, math.nan, None, f"shape {got.shape}, expected {exp.shape}"
    if got.size == 0:  # parse_index refuses empty selections; never pass vacuously
        return False, math.nan, math.nan, None, "nothing to compare: no elements"
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.abs(got - exp)
        if np.isfinite(exp).all() and np.isfinite(diff).all():  # no NaN, no infinity: the usual case, in
            flat = np.broadcast_to(atol, exp.shape).reshape(-1) if np.ndim(atol) else atol
            return _compare_finite(diff, np.abs(exp), rtol, flat)  # a third of the passes over memory
        diff, ok = _within(got, exp, diff, rtol, atol)
        # off an expected inf or NaN is infinitely off (inf/inf, x/NaN would hide the others' error)
        rel = np.where(diff == 0, 0.0, np.where(np.isfinite(exp), diff / np.abs(exp), np.inf))
    abs_err = float(diff.max())
    rel_err = float(rel.max())
    if ok.all():
        return True, abs_err, rel_err, None, ""
    # (np.argwhere listed every failing index first: a wrong 400 MB array built 1.6 GB of them in 25 s)
    first = tuple(int(i) for i in np.unravel_index(int(np.argmax(~ok.reshape(-1))), ok.shape))
    return False, abs_err, rel_err, first, ""


def _compare_finite(diff: np.ndarray, size: np.ndarray, rtol: float, atol: float
                    ) -> tuple[bool, float, float, tuple | None, str]:
    """:func:`compare` of finite arrays, from ``|got - expected|`` and
    ``|expected|``. The relative error of an element that differs from an
    expected 0 is infinite, of one that does not, 0."""
    shape, diff, size = diff.shape, diff.reshape(-1), size.reshape(-1)  # (a 0-d one too: out= needs arrays)
    abs_err = float(diff.max())
    bound = size * rtol
    bound += atol
    ok = diff <= bound
    passed = bool(ok.all())
    first = None if passed else tuple(int(i) for i in np.unravel_index(int(np.argmax(~ok)), shape))
    del ok
    nonzero = diff > 0
    np.divide(diff, size, out=bound, where=nonzero)
    rel_err = float(np.max(bound, where=nonzero, initial=0.0))
    return passed, abs_err, rel_err, first, ""


def _within(got: np.ndarray, exp: np.ndarray, diff: np.ndarray, rtol: float,
            atol: float) -> tuple[np.ndarray, np.ndarray]:
    """``(diff, ok)`` of float64 arrays that may hold NaN or infinities, from
    ``diff = |got - exp|``: NaN matches NaN and an infinity the same one
    (their difference 0), NaN against a number is infinitely off."""
    with np.errstate(invalid="ignore", over="ignore"):
        same = (np.isnan(got) & np.isnan(exp)) | (np.isinf(got) & (got == exp))
        diff = np.where(same, 0.0, diff)
        diff = np.where(np.isnan(diff), np.inf, diff)  # NaN against a number
        # An infinite expected value matches only itself (rtol*inf would pass anything), and an infinity or
        # a NaN got matches no finite one (a review: where atol + rtol*|x| overflowed to inf, inf <= inf passed
        # them: 1e308 at rtol 2).
        ok = same | (np.isfinite(exp) & np.isfinite(got) & (diff <= atol + rtol * np.abs(exp)))
    return diff, ok


def _spread(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> tuple[int, tuple[int, ...]]:
    """For arrays that :func:`compare` failed: how many elements are beyond
    the tolerance (as it counts them: NaN matches NaN, an infinity only
    itself), and the index of the largest difference among them (the first
    of those)."""
    got = np.asarray(got, dtype=np.float64)
    exp = np.asarray(expected, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        diff, ok = _within(got, exp, np.abs(got - exp), rtol, atol)
    diff[ok] = -1.0  # the largest difference among those beyond the tolerance (a review: not one within it)
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape))
    return int(ok.size - np.count_nonzero(ok)), worst


def _full_index(index: tuple, ndim: int) -> tuple:
    """``index`` with its ``...`` (or the missing trailing axes) written out
    as ``:``, one item per axis."""
    items = list(index)
    if Ellipsis in items:
        k = items.index(Ellipsis)
        items[k:k + 1] = [slice(None)] * (ndim - len(items) + 1)
    return tuple(items + [slice(None)] * (ndim - len(items)))


def selection_shape(shape: tuple[int, ...], index: tuple | None) -> tuple[int, ...]:
    """The shape of ``Q[index]`` for a quantity of ``shape``, from the shape alone."""
    if index is None:
        return tuple(shape)
    return hparams.shape_view(shape)[index].shape


def _global(shape: tuple[int, ...], index: tuple | None, local: tuple) -> list[int]:
    """The index in the whole quantity of element ``local`` of ``Q[index]``:
    per axis, an int of the index is the axis' coordinate and a slice maps
    the next coordinate of ``local`` through ``start + i*step``."""
    if index is None:
        return [int(i) for i in local]
    out, rest = [], iter(local)
    for item, n in zip(_full_index(index, len(shape)), shape):
        if isinstance(item, slice):
            start, _, step = item.indices(n)
            out.append(start + int(next(rest)) * step)
        else:
            out.append(item % n)  # a negative index counts from the end
    return out


def _show(x):
    if isinstance(x, list):
        return x
    x = np.asarray(x)
    return float(x) if x.ndim == 0 else x


def evaluate_expected(entries: list[Entry], quantities: dict[str, np.ndarray]) -> list[Outcome]:
    out = []
    for e in entries:
        full = quantities[e.quantity]
        if e.stat == "shape":
            got = list(full[e.index].shape if e.index is not None else full.shape)
            passed = got == e.expected
            out.append(Outcome(e.key, e.quantity, e.expected, got, passed, e.rtol, e.atol,
                               note="" if passed else f"shape {tuple(got)}, expected {tuple(e.expected)}"))
            continue
        selected = full[e.index] if e.index is not None else full
        got = stat(selected, e.stat) if e.stat else selected
        # A scalar expected for a selection stands for each of its elements.
        expected = np.broadcast_to(e.expected, np.shape(got)) if np.ndim(e.expected) == 0 else e.expected
        passed, abs_err, rel_err, first, note = compare(got, expected, e.rtol, e.atol)
        where, values = None, None
        if not passed and np.ndim(got) == 0 and not note:
            g, x = float(got), float(e.expected)
            values = (g, x)
            if not math.isfinite(x):  # a tolerance around NaN or Inf means nothing
                note = f"got {g!r}, expected {x!r}: only {x!r} itself matches it"
            elif not math.isfinite(g):
                note = f"got {g!r}, expected {x!r}"
            else:
                allowed = e.atol + e.rtol * abs(x)
                note = f"got {g!r}, expected {x!r}: abs err {abs_err:.2e} > {allowed:.2e} allowed"
                if float(f"{g:.{TABLE_DIGITS}g}") == x:  # a value copied from a table of convcli's
                    note += (f"; {x!r} is {g!r} to the {TABLE_DIGITS} significant digits convcli's tables "
                             "show: take expected values from OUT/expected.yaml or summary.json, which keep "
                             "every digit")
        elif first is not None and e.stat is None:
            where = _global(full.shape, e.index, first)
            g = float(np.asarray(got, dtype=np.float64)[first])
            x = float(np.asarray(expected, dtype=np.float64)[first])
            note = f"first at {where}: got {g!r}, expected {x!r}"
            values = (g, x)
        out.append(Outcome(e.key, e.quantity, _show(e.expected), _show(got), passed, e.rtol, e.atol,
                           abs_err, rel_err, where, note, values_at_first=values))
    return out


# --------------------------------------------------------------------- --against


@dataclass(frozen=True)
class Submitted:
    """One of a user's arrays, found by :func:`collect_against`."""

    label: str  # file or dataset name as found, as printed (errors.printable)
    quantity: str
    source: Source
    base_dir: Path

    def __post_init__(self):
        object.__setattr__(self, "label", printable(self.label))


@dataclass(frozen=True)
class Unknown:
    """One of a user's arrays that is not graded, listed: its name is no
    quantity of the run (a scratch file, a misspelt name), or the quantity is
    one the config gives (an input, the upstream gradient: a copy of the
    hand-out earns nothing)."""

    label: str
    note: str
    quantity: str | None = None  # set for a quantity the config gives
    source: Source | None = field(default=None, compare=False)  # and then where it is
    base_dir: Path | None = field(default=None, compare=False)
    differs: str = ""  # how a copy of a given quantity is not the config's (given_copies)
    # a "copy" of a given quantity in the shape of one the run computes, and the name that would grade it
    misnamed: str = ""

    def __post_init__(self):  # a submission's name, as printed (errors.printable)
        object.__setattr__(self, "label", printable(self.label))

    def as_json(self) -> dict:
        return {"entry": self.label, "note": self.note, "given": self.quantity, "differs": self.differs or None,
                "misnamed": self.misnamed or None}


GIVEN = "given by the config, not computed"


def collect_against(path: str | Path, p: Plan, empty_ok: bool = False) -> tuple[list[Submitted], list[Unknown]]:
    """Find a user's arrays and name the quantity each one is. Arrays whose
    names are no quantity are returned apart, to be listed; none at all that
    is one is an error naming every name, unless ``empty_ok`` (``--complete``:
    a submission with nothing to grade is graded, every quantity missing). A
    folder's ``.npy`` files are graded, or its ``outputs.h5`` when there are
    none (or none is a quantity); the other is listed as not graded."""
    path = Path(path)
    where = f"--against {short_path(path)}"
    h5 = path / "outputs.h5"
    try:  # a name too long, a folder that may not be read: the user's path, not a bug
        if not path.exists():
            raise ConvcliError(where, "no such file or folder")
        is_dir = path.is_dir()
        files = _npy_files(path) if is_dir else []
        has_h5 = is_dir and h5.exists()
        for single in ([h5] if has_h5 else []) + ([] if is_dir else [path]):
            if not single.is_file():  # a named pipe: read, it would hang
                raise arrays.not_regular(where, single)
    except OSError as exc:
        raise path_error("--against", path, exc) from None
    unread = _unread(path, p) if is_dir else []

    def holds_graded(folder: Path) -> bool:  # an outputs.h5, or a .npy file of a quantity the run grades
        return (folder / "outputs.h5").is_file() or any(_graded_as(p, f.name, Source(file=f.name))
                                                         for f in _npy_files(folder))

    # the config's own .npy file names of what it gives: its inputs' and its upstream gradient's
    model = p.cfg.model
    upstream = p.network.layers[-1].upstream
    handed_out = {Path(src.file).name.lower(): q for q, src in
                  [*model.inputs.items(), *([(upstream, model.backward.grad)] if upstream else [])]
                  if isinstance(src, Source) and src.file and src.file.lower().endswith(".npy")}

    def handout(folder: Path) -> bool:  # .npy files of what the config gives alone (A_prev, W, b), no h5
        files = _npy_files(folder)

        def given(f: Path) -> bool:  # named as a quantity the config gives, and in its shape (a review: a
            # misnamed dA_prev saved as dA, the upstream gradient's name, made its folder "the hand-out")
            if _resolves(p, f.name[:-4]):
                if _graded_as(p, f.name, Source(file=f.name)) is not None:
                    return False
                q = p.resolve(f.name[:-4], "")
            else:  # or named as the config's own file: for it (x.npy of A_prev: {file: x.npy}; a later review)
                q = handed_out.get(f.name.lower())
            try:
                return q is not None and arrays.probe(Source(file=f.name), folder, where).shape == p.shapes.get(q)
            except ConvcliError:
                return False
        return bool(files) and not (folder / "outputs.h5").is_file() and all(given(f) for f in files)

    def shown(folder: Path) -> str:  # a folder inside, as named in the report: hw3/
        return printable(f"{folder.relative_to(path).as_posix()}/")

    def handouts(folders_: list[Path]) -> list[Unknown]:
        return [Unknown(shown(f), CONVCLI_OUTPUT if f in convcli_own else
                        "a folder of what the config gives (the hand-out), not graded") for f in folders_]

    convcli_own: set[Path] = set()  # of the folders inside, those convcli wrote (_convcli_wrote), once asked

    def no_rival(folder: Path) -> bool:  # the hand-out, or convcli's own output folder: neither is the work
        if handout(folder):
            return True
        if _convcli_folder(folder, p.max_memory):
            convcli_own.add(folder)
            return True
        return False

    def graded_names(rel: str, names: list[str]) -> bool:  # whether one of a folder's .npy files names a quantity
        return _names_a_quantity(p, rel, names)

    def the_one_inside() -> tuple[list[Path], list[Unknown], list[Unknown]]:
        # the folder's one folder of .npy files, unless another lies further down; of several, a folder of the
        # hand-out (inputs/: A_prev, W, b) is no rival to the work, listed (a review: hw3/ beside inputs/ was
        # refused where their zip was graded; a later one: a folder of misnamed work was dropped unsaid, so
        # only the hand-out's is). Where none is found, the folders not searched: the work may be in them
        inner, unsearched = _walk_inside(path, graded=graded_names)
        if len(inner) == 1:  # its rivals too; it stays, whatever its names (misnamed work is told so)
            every = _inner_folders(path, every=True, graded=graded_names)
            inner = every if inner[0] in every else sorted(every + inner, key=lambda f: (len(f.parts), f))
        # a folder inside one of an outputs.h5 is that run's own, listed as when the run is given itself
        # (graded_inside), not a rival to it, however deep it lies
        inner = [f for f in inner if not any(o in f.parents and (o / "outputs.h5").is_file() for o in inner)]
        work = [f for f in inner if not no_rival(f)] if len(inner) > 1 else inner
        if convcli_own and any(_convcli_summary(f) for f in work):  # two folders of convcli's (one
            # edited, or work beside a copy of its summary.json): which is the work is the user's to say (a fuzz)
            work = [f for f in inner if not handout(f)]
            convcli_own.clear()
        if not inner:
            return [], [], [Unknown(shown(f), f"not searched: {why}") for f, why in unsearched]
        return (work, handouts([f for f in inner if f not in work]), []) if work else (inner, [], [])

    def graded_inside(folder: Path, listed: list[Unknown]) -> tuple[list[Submitted], list[Unknown]]:
        # an unpacked upload (hw3/, sub/hw3/, home/alice/hw3/): its one folder of .npy files is the work, as a
        # zip's files in a folder are (an instructor's review: a class unzipped by its LMS scored 0 of 8 where
        # the zips scored 8 of 8); named as in it, hw3/conv1.Z.npy ("graded: ... as conv1.Z")
        rel = folder.relative_to(path).as_posix()
        if (folder / "outputs.h5").is_file():
            # an outputs.h5 (convcli's own --format h5 folder, uploaded): the folder read as given itself, its
            # .npy files or its outputs.h5 as there (a review: "no .npy files (and no outputs.h5)", the folder
            # inside never named; then a scratch .npy beside the h5 made it 0 of 8); named as in it, the h5's
            # arrays run/outputs.h5/conv1.Z, the folder's files run/conv1.dW.txt
            out, unknown = collect_against(folder, p, empty_ok)
            files = {printable(f.name) for f in _npy_files(folder)} | {u.label for u in _unread(folder, p)}
            files.add("outputs.h5")

            def named(x):  # (a folder of its own it lists, x/y/, is no array of the h5's: a review)
                mine = x.label in files or x.label.endswith("/")
                return dataclasses.replace(x, label=f"{printable(rel)}/{'' if mine else 'outputs.h5/'}{x.label}")
            return [named(s_) for s_ in out], [named(u) for u in unknown] + listed
        found = [(f"{rel}/{f.name}", Source(file=f"{rel}/{f.name}")) for f in _npy_files(folder)]
        out, unknown = _resolve(p, where, found, path)
        inside = [dataclasses.replace(u, label=f"{printable(rel)}/{u.label}") for u in _unread(folder, p)]
        return _some(p, out, unknown + listed + inside, where, empty_ok)

    def folders(inner: list[Path], beside: bool = False) -> list[Unknown]:  # each folder inside, what grades it
        work = {f: holds_graded(f) for f in inner}
        if beside:  # beside graded work: the outermost holding work (a review: old/attempt1/ hidden under a
            # hand-out's old/)
            inner = [f for f in inner if not any(o in f.parents and work[o] for o in inner)]
        # the hand-out's said so, and misnamed arrays' (a review: inputs/ was told "--against inputs grades
        # it", which then refused it)
        given = [f for f in inner if handout(f)]
        return handouts(given) + [
            Unknown(shown(f), f"a folder {'of .npy files' if _npy_files(f) else 'with an outputs.h5'} inside; " +
                    (f"--against {short_path(f)} grades it" if work[f] else
                     "none of its .npy files is named as a quantity this run grades"))
            for f in inner if f not in given]

    def beside_work() -> list[Unknown]:  # the folders inside, beside the top level's graded work
        return folders(_inner_folders(path, every=True, graded=graded_names), beside=True)

    def archives() -> list[Unknown]:  # the files further down that may be the work, each with what to do
        def note(f: Path) -> str:
            return _what_it_is(f, inside=True) or (
                f"a{'n' if f.suffix.lower() in ('.npz', '.h5', '.hdf5') else ''} {f.suffix.lower()} file inside; "
                f"--against {short_path(f)} grades it")
        return [Unknown(printable(f.relative_to(path).as_posix()), note(f)) for f in _archives_inside(path)]

    def several_inside(inner: list[Path], listed: list[Unknown], said: str, unsearched: list[Unknown]):
        # folders inside, at any depth (sub/hw/, home/alice/hw3/), none graded: which one is the work is the
        # user's to say; or none at all, and then the folders not searched come first: the work may be there
        listed = unsearched + listed
        if not inner:  # an .npz, a .zip or an .h5 further down: named, with what grades it
            listed += archives()
        if empty_ok:
            return [], listed + folders(inner)
        below = [shown(folder) for folder in inner]
        have = "have some" if all(_npy_files(folder) for folder in inner) else "hold work (.npy files or an outputs.h5)"
        hint = (f"; {joined(below[:5])}{' ...' if len(below) > 5 else ''} inside it {have}: --against the one "
                f"that is your work, as {short_path(inner[0])}" if inner else "")  # (one is graded, above)
        hint += "".join(f"; {u.label}: {u.note}" for u in listed[:3])
        raise ConvcliError(where, f"{said}{hint}")

    if is_dir and not files and not has_h5:
        inner, given, unsearched = the_one_inside()
        if len(inner) == 1:
            return graded_inside(inner[0], unread + given)
        return several_inside(inner, unread + given, "the folder has no .npy files (and no outputs.h5)", unsearched)
    if files:
        out, unknown = _resolve(p, where, [(f.name, Source(file=f.name)) for f in files], path)
        unknown += unread
        # work in folders inside, beside the top level's (graded): listed, not passed over unsaid (a review)
        if has_h5 and out:
            unknown.append(Unknown(h5.name, f"the folder's .npy files are graded instead; "
                                            f"--against {short_path(h5)} grades it"))
            return out, unknown + beside_work()
        if not has_h5:
            if out:
                return out, unknown + beside_work()
            inner, given, unsearched = the_one_inside()
            if len(inner) == 1:  # stray files beside it, none a quantity (a review: .scratch.npy hid hw3/)
                return graded_inside(inner[0], unknown + given)
            if inner:  # (a review: "none of its arrays is a quantity: scratch.npy, hw3/, old/")
                return several_inside(inner, unknown + given, "none of the folder's .npy files is a quantity this "
                                                              f"run computes ({', '.join(f.name for f in files)})", [])
            return _some(p, out, unknown + unsearched + archives(), where, empty_ok)
        # none of the .npy files is a quantity: the outputs.h5 beside them may be the work, read as one
        # given alone (a review: a stray notes.npy skipped its check for several submissions); the .npy
        # files listed with what is not read
        unread = unknown
    file = h5 if is_dir else path
    if is_dir:
        unread = unread + beside_work()
    try:
        found = _arrays_in(file, where, empty_ok)
    except ConvcliError as exc:
        if not empty_ok or file.suffix.lower() not in H5_SUFFIXES + NPZ_SUFFIXES and not _archive_name(file.name):
            raise
        # --complete grades a whole submission: a student's corrupt upload is every quantity missing
        # (exit 1, with the reason listed), not the grader's usage error (exit 2)
        return [], unread + [Unknown(file.name, exc.what.removeprefix(f"{file.name} ").removeprefix("is "))]
    zipped = file.suffix.lower() in NPZ_SUFFIXES
    # (an .h5's groups are its folders: one holding the same quantities in two groups graded the first
    # group's alone, and passed where the other's failed; a review)
    foldered = zipped or file.suffix.lower() in H5_SUFFIXES
    graded = [_graded_as(p, raw, src) for raw, src in found] if foldered else []  # (quantity, folder) or None
    several = _submissions(graded)
    left: list[Unknown] = []
    own, several_of_convcli = [], False
    if several and zipped:  # convcli's own output folder beside the work is no rival to it (_convcli_wrote)
        own = [f for f in several if _convcli_zipped(file, f, found, where, p.max_memory)]
        summaries = _zip_summaries(file)
        several_of_convcli = bool(own) and len(own) < len(several) and not summaries & (set(several) - set(own))
        if several_of_convcli:  # (as a folder's)
            kept = [not any(_slashed(raw).startswith(f"{f}/") for f in own)  # (its inputs' too)
                    for raw, _ in found]
            found = [x for x, k in zip(found, kept) if k]
            graded = [g for g, k in zip(graded, kept) if k]
            left += [Unknown(printable(f"{f}/"), CONVCLI_OUTPUT) for f in own]
            several = _submissions(graded)
    if several and _copies_alike(found, graded, several, file.parent, where, p.max_memory):
        several = []  # one submission saved twice (hw3/ and its copy): graded once, the copies listed
    if several:
        named = [printable(f"{folder}/") for folder in several]  # (not `shown`: the folders' own helper above)
        remedy = ("unzip it and --against the folder that is the work" if zipped else
                  "copy the group that is the work into a file of its own (h5copy) and --against that")
        if empty_ok:
            return [], unread + left + [Unknown(s_, f"one of several submissions in {printable(file.name)}; "
                                                       f"{remedy}") for s_ in named]
        raise ConvcliError(where, f"{printable(file.name)} holds the same quantities in {joined(named[:5])}"
                                  f"{' ...' if len(named) > 5 else ''}: several submissions in one; {remedy}")
    if zipped and any(g is not None and g[1] == "" for g in graded):  # (an .h5's groups are its own: graded)
        # work at a zip's top level: a folder's arrays beside it are listed, not graded, as an unpacked
        # folder's are (a review: a zip with convcli's own output folder beside the work had convcli's arrays graded
        # as the student's, for the quantities the student left out; the same tree as a folder did not)
        # (their copies of a quantity at the top level are listed one by one, as ever, in _resolve)
        top = {g[0] for g in graded if g is not None and g[1] == ""}
        beside = sorted({g[1] for g in graded if g is not None and g[1] != "" and g[0] not in top})
        if beside:
            out_of = {raw for (raw, _), g in zip(found, graded) if g is not None and g[1] in beside}
            found = [(raw, src) for raw, src in found if raw not in out_of]
            left += [Unknown(printable(f"{folder}/"), "a folder beside the work at the top level, not graded "
                                                      "(unzip it and --against the folder to grade it)")
                     for folder in beside]
    if zipped:
        # (a folder's copy of an array at the top level is one of two arrays for a quantity, as in an
        # .h5: the top level's graded where it can be read, _rank; a review: an unreadable one beat a
        # readable copy) a name held twice is read as its last copy: the others are listed, not graded unsaid
        left += [Unknown(f"{n} (an earlier copy)",
                         f"{printable(file.name)} holds {printable(n)} {'twice' if k == 2 else f'{k} times'}: the "
                         "last written is graded, as unzip leaves it")
                 for n, k in arrays.zip_repeats(file).items()]
        left += _unread_zipped(file, p, own if several_of_convcli else [])
    out, unknown = _resolve(p, where, found, file.parent)
    return _some(p, out, unknown + left + unread, where, empty_ok)


def _unread_zipped(file: Path, p: Plan, own: list[str]) -> list[Unknown]:
    """A zip's members that are not read but look like work, as a folder's
    are (:func:`_unread`): an .npz or .h5 inside it, or a quantity's name
    with another extension (a review: an outputs.h5 in a zip was not listed
    at all); not in ``own``, its folders of convcli's own output."""
    try:
        with zipfile.ZipFile(file) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/") and not n.startswith("__MACOSX/")]
    except (OSError, *arrays._ZIP_READ_ERRORS):
        return []
    out = []
    for name in names:
        folder, _, leaf = _slashed(name).rpartition("/")
        suffix = Path(leaf).suffix.lower()
        if suffix == ".npy" or leaf.startswith(".") or leaf in ("summary.json", "expected.yaml") or folder in own:
            continue
        if suffix in NPZ_SUFFIXES or suffix in H5_SUFFIXES:
            out.append(Unknown(printable(name), "not read from inside a zip; unzip it and --against the file to "
                                                "grade it"))
        elif said := _saved_otherwise(p, leaf):
            out.append(Unknown(printable(name), said))
    return out


def _arrays_in(path: Path, where: str, empty_ok: bool = False) -> list[tuple[str, Source]]:
    """The arrays of one file: (name as found, source); none in a file that
    holds none is an error, unless ``empty_ok`` (--complete grades it)."""
    suffix = path.suffix.lower()
    if suffix in H5_SUFFIXES:
        with arrays._h5_open(path, where, path.name) as f, arrays.h5_errors(where, path.name):
            names = arrays.h5_datasets(f, dangling=True)  # a link that cannot be followed: unreadable
            if not names and not empty_ok:
                raise ConvcliError(where, f"{path.name} holds no arrays{arrays.dangling_links(f)}")
        found = [(n, Source(file=path.name, dataset=n)) for n in names]
    elif suffix in NPZ_SUFFIXES:
        with arrays._open_npz(path, where, path.name) as z:
            keys, others = arrays.npz_keys(z)
        found = [(k, Source(file=path.name, key=k)) for k in keys]
        if not found and arrays.is_torch_zip(others):  # (its members' names are no help: Z/data.pkl, ...)
            raise ConvcliError(where, arrays.torch_saved_message(path.name, npz=True))
        if not found and others:  # (a zip of .txt files, of a zip; under --complete, listed)
            raise ConvcliError(where, f"{path.name} holds no .npy arrays (it holds: {arrays._names(others)})")
    elif suffix == ".npy":
        found = [(path.name, Source(file=path.name))]
    else:
        said = _what_it_is(path)
        if said and _contents(path):  # (a review: an .npz renamed results.tar)
            raise ConvcliError(where, f"{path.name} is {said}")
        raise ConvcliError(where, (f"{path.name} is {said}; " if said else "") +
                           "expected a folder of .npy files, an .npz (or a .zip of .npy files), or an .h5 file")
    if not found and not empty_ok:
        raise ConvcliError(where, f"{path.name} holds no arrays")
    return found


# Archives a student may upload that --against does not read (a .zip it does): under --complete, one
# is that student's submission, every quantity missing with the reason listed, as a corrupt .zip is (an
# instructor's review: exit 2, the grader's usage error, in the middle of a class's loop).
ARCHIVES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".rar", ".7z")
# ... and one file compressed alone (conv1.Z.npy.gz): decompressed, a file, not a folder (a review)
COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".lzma")
# A file that begins so is an array file whatever its name (an .npz named results.tar: a review).
_ARRAY_MAGIC = (b"PK", b"\x89HDF", b"\x93NUMPY")


def _archive_name(name: str) -> str:
    """``.tar.gz`` for a name of an archive of :data:`ARCHIVES` or a file of
    :data:`COMPRESSED`, else ``""``."""
    name = name.lower()
    return next((k for k in sorted(ARCHIVES + COMPRESSED, key=len, reverse=True) if name.endswith(k)), "")


def _head(path: Path) -> bytes:
    """A regular file's first 8 bytes, else ``b""`` (a named pipe is never
    opened: it would block for ever; a review)."""
    try:
        if not S_ISREG(os.stat(path).st_mode):
            return b""
        with open(path, "rb") as f:
            return f.read(8)
    except OSError:
        return b""


def _contents(path: Path) -> str:
    """What a regular file's first bytes say it is, ``.npz`` (a zip),
    ``.h5`` or ``.npy``, else ``""``."""
    head = _head(path)
    return next((kind for magic, kind in zip(_ARRAY_MAGIC, (".npz", ".h5", ".npy")) if head.startswith(magic)), "")


def _archive_kind(path: Path) -> str:
    """:func:`_archive_name` of a file whose first bytes are not an array
    file's (an .npz named results.tar: a review), else ``""``."""
    kind = _archive_name(path.name)
    return kind if kind and not _contents(path) else ""


def _what_it_is(path: Path, inside: bool = False) -> str:
    """For a file named as an archive (:func:`_archive_name`), what it is
    and what to do, "a .tar.gz archive, which convcli does not read: unpack
    it ..." or, an array file by its contents, "an .npz file by its
    contents: rename it ..." (``inside``: of a file in a folder given);
    else ``""``."""
    named = _archive_name(path.name)
    if not named:
        return ""
    if not _archive_kind(path):  # an array file by its first bytes
        kind = _contents(path)
        return (f"a{'n' if kind in ('.npz', '.h5') else ''} {kind} file by its contents"
                f"{', inside' if inside else ''}: rename it to end in {kind}")
    return (f"a{'n' if named[1] in 'aeiou' else ''} {named} {'archive' if named in ARCHIVES else 'file'}"
            f"{' inside' if inside else ''}, which convcli does not read: {_unpack(named)}")


def _unpack(kind: str) -> str:
    """What to do with a file of :func:`_archive_kind` ``kind``."""
    if kind in ARCHIVES:
        return "unpack it and give its folder"
    tool = {".gz": "gunzip", ".bz2": "bunzip2", ".xz": "unxz", ".zst": "unzstd", ".lz4": "unlz4"}.get(kind, "unlzma")
    return f"decompress it ({tool}) and give the file"


def _damaged_entry(path: Path, dataset: str) -> bool:
    """Whether ``dataset`` of the .h5 at ``path`` is listed but cannot be
    opened (arrays._damaged); False where the file cannot be read at all."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return arrays._damaged(f, dataset)
    except Exception:  # noqa: BLE001  the file as a whole is reported where it is read
        return False


# An unknown name near no quantity is offered the quantities of its shape, where at most this many are.
SHAPE_GUESSES = 3


def _of_its_shape(p: Plan, note: str, src: Source, base: Path) -> str:
    """An unknown name's note whose "did you mean" offers several quantities
    (``dA_prev.npy`` in a config of three layers): only those of the
    array's shape, where that leaves some but not all (a learner's review:
    all three were offered for a (4, 8, 8, 3) array only conv1.dA_prev is).
    One that offers none (``Z1.npy``, ``my_dW.npy``) is offered the
    quantities of its shape, those whose last word its name has first
    (at most SHAPE_GUESSES of them)."""
    m = re.search(r" \(did you mean ('[^']+'(?: or '[^']+')+)\?\)", note)
    plain = re.match(r"unknown quantity '.*?'(?=; known: )", note) if "did you mean" not in note else None
    if not m and not plain:
        return note
    try:
        shape = tuple(arrays.probe(src, base, "--against").shape)
    except ConvcliError:
        return note
    if not m:  # no name near it: the quantities of its shape, those its name has a word of first (Z1: conv1.Z)
        fits = [q for q in p.graded() if tuple(p.shapes[q]) == shape]
        named = [q for q in fits if re.search(rf"(?<![A-Za-z]){re.escape(q.rsplit('.', 1)[-1])}(?![a-z])",
                                              plain.group(0)[len("unknown quantity '"):-1])]
        # by its shape alone, no gradient where an input the config gives has that shape too: a gradient has
        # its input's shape, and a copy of the input (X.npy) was offered conv1.dA_prev (a review; not the
        # upstream gradient it gives, of the last output's shape, a later review)
        if any(tuple(p.shapes[q]) == shape for q in p.shapes if q not in p.graded() and p.roles.get(q) != "gradient"):
            fits = [q for q in fits if p.roles.get(q) != "gradient"]
        fits = named or fits
        if not fits or len(fits) > SHAPE_GUESSES:
            return note
        said = " or ".join(repr(q) for q in fits)
        return note.replace(plain.group(0), f"{plain.group(0)} (did you mean {said}, of its shape "
                                            f"{fmt_shape(shape)}?)", 1)
    offered = re.findall(r"'([^']+)'", m.group(1))
    fits = [q for q in offered if tuple(p.shapes.get(q, ())) == shape]
    if not fits or len(fits) == len(offered):
        return note
    said = " or ".join(repr(q) for q in fits)
    return note.replace(m.group(0), f" (did you mean {said}, of its shape {fmt_shape(shape)}?)")


def _resolve(p: Plan, where: str, found, base: Path) -> tuple[list[Submitted], list[Unknown]]:
    """Name the quantity of each array found; those no quantity apart."""
    out: list[Submitted] = []
    unknown: list[Unknown] = []
    seen: dict[str, str] = {}
    others: list[tuple[str, str]] = []  # (label, quantity) of an array whose quantity another one is
    rivals: dict[str, list[Submitted]] = {}  # every array of a quantity that more than one is, in order
    for raw, src in found:
        # The label as printed: a name from a submission can carry control characters
        # (errors.printable); the quantity comes from the name itself (p.unknown quotes it by repr).
        label = printable(raw)
        names = _names_of(raw, src)
        named = _named(p, names)
        q = named[0] if named else None
        if q is None and src.dataset is not None and _damaged_entry(base / src.file, src.dataset):
            # a group the file lists but HDF5 cannot open (a review: "unknown quantity 'conv1' (did you mean
            # 'conv1.Z'?)" for the damaged group holding conv1's arrays, which were then called missing)
            unknown.append(Unknown(label, f"cannot be read: {arrays.DAMAGED}; arrays under it cannot be graded"))
            continue
        if q is None:
            # the nearest quantity of the whole name, else of the name below a group (grads/dW: conv1.dW)
            # (a copy's name below a folder, hw3/db (1).npy alone, is told what to save it as in that folder: a
            # review had it "unknown quantity 'hw3/db (1)', a copy's name", where db (1).npy flat was told)
            # (not an .h5's dataset: no file to save; a later review had results/db.npy)
            notes = [re.sub(r"save it as (.*)\.npy\)$", lambda m: f"save it as {folder}{'/' * bool(folder)}"
                            f"{m.group(1)}.npy)", p.unknown(n)) if not src.dataset else p.unknown(n)
                     for n, folder in names]
            # the note that says what to save it as, else one with a nearest name (a later review:
            # hw3/conv1.db (1).npy was told the whole path's "did you mean", not "save it as hw3/conv1.db.npy")
            note = next((n for n in notes if "save it as" in n), next((n for n in notes if "did you mean" in n),
                                                                        notes[0]))
            unknown.append(Unknown(label, _of_its_shape(p, note, src, base)))
            continue
        q = p.resolve(q, f"{where}: {label}")
        if q not in p.graded():  # handed out, not computed: no credit for a copy
            unknown.append(Unknown(label, GIVEN, q, src, base))
            continue
        if q in seen:
            # Two arrays for one quantity (conv1.Z.npy and Z.npy, conv1.Z and conv1/Z): one is graded,
            # the one whose name says the quantity whole, else the first by name (a zip's order is its
            # tool's: draft/dW before or after final/dW); the others are listed, not a reason to grade
            # nothing (exit 2 cost a grading loop the whole submission).
            k = next(i for i, s_ in enumerate(out) if s_.quantity == q)
            rivals.setdefault(q, [out[k]]).append(Submitted(label, q, src, base))
            if _rank(label, q) < _rank(out[k].label, q):
                others.append((out[k].label, q))
                out[k] = Submitted(label, q, src, base)
                seen[q] = label
            else:
                others.append((label, q))
            continue
        seen[q] = label
        out.append(Submitted(label, q, src, base))
    # One that cannot be read gives way to one that can (a review: a stray bytes dataset named conv1.db
    # beside results/conv1.db cost the quantity); probed only where the choice fell on such a one, and
    # at most RIVALS_PROBED of the others (each probe of an .h5 walks the file: 400 unreadable copies
    # took 31 s).
    for q, cands in rivals.items():
        k = next(i for i, s_ in enumerate(out) if s_.quantity == q)
        if not _readable(out[k], where):
            ranked = sorted((c for c in cands if c.label != out[k].label), key=lambda c: _rank(c.label, q)[:3])
            ok = next((c for c in ranked[:RIVALS_PROBED] if _readable(c, where)), None)
            if ok is not None:
                others = [(out[k].label, q) if lab == ok.label and q_ == q else (lab, q_) for lab, q_ in others]
                out[k], seen[q] = ok, ok.label
    # said once the choice is final, and whether the copy is the graded one's numbers: which one is
    # graded can rest on names alone (draft/dW and final/dW), so a copy that differs is worth a look
    chosen = {s_.quantity: s_ for s_ in out}
    compared: dict[str, int] = {}
    graded: dict[str, np.ndarray | None] = {}  # each graded array read once, however many copies it has

    def read(s_: Submitted) -> np.ndarray | None:
        return _read_or_none(s_, where, p.max_memory)

    def differ(label: str, q: str) -> str:
        compared[q] = compared.get(q, 0) + 1
        if compared[q] > RIVALS_PROBED:
            return ""
        if q not in graded:
            graded[q] = read(chosen[q])
        x, y = graded[q], read(next(c for c in rivals[q] if c.label == label))
        if x is None or y is None:
            return ""
        return " (the same numbers)" if x.shape == y.shape and np.array_equal(x, y, equal_nan=True) else \
            ", and the two differ"

    unknown += [Unknown(label, f"also {q}: {seen[q]} is graded instead{differ(label, q)}; keep one")
                for label, q in others]
    # a copy's name (db (1).npy) beside the array it copies, which is graded: no "save it as db.npy" (a
    # review: that replaced a passing array with a wrong copy)
    sources = {printable(label): src for label, src in found}  # by label, as printed
    for k, u in enumerate(unknown):
        name = u.label[:-4] if u.label.lower().endswith(".npy") else u.label
        # its name, and the names below its folders (a review: hw3/db (1).npy, a copy's name in a folder
        # one level down, was an unknown quantity)
        parts = name.replace("\\", "/").split("/")  # (a zip's member named hw3\\db (1).npy too)
        q = None
        for below in (".".join(parts[i:]) for i in range(len(parts))):
            copied = copied_from(below)
            if copied != below and _resolves(p, copied):
                q = p.resolve(copied, "")
                break
        if u.quantity is None and q in seen and u.label in sources:
            rivals.setdefault(q, [chosen[q]]).append(Submitted(u.label, q, sources[u.label], base))
            unknown[k] = Unknown(u.label, f"a copy's name: {seen[q]} is graded as {q}{differ(u.label, q)}; "
                                          "keep one")
    return out, unknown


RIVALS_PROBED = 8


def _names_of(raw: str, src: Source) -> list[tuple[str, str]]:
    """The names an array found as ``raw`` may be a quantity by, each with
    the folder (group) it then sits in: a folder's file by its name; an
    .h5's dataset in a group of the user's (results/conv1.Z) or a .zip's
    file in a folder (hw3/conv1.Z.npy) also by the names below it, as a
    layer's group (conv1/Z) is already read as conv1.Z. A zip's member
    named with backslashes (hw3\\conv1.Z.npy, as some Windows tools write
    them) is in folders too."""
    if not (src.dataset or src.key):
        stem = raw[:-4] if raw.lower().endswith(".npy") else raw
        parts = stem.split("/")  # a file in a folder of the one given (an unpacked upload's hw3/)
        return [(stem, "")] + [(".".join(parts[k:]), "/".join(parts[:k])) for k in range(1, len(parts))]
    whole = raw.replace("\\", "/") if src.key is not None else raw
    parts = whole.split("/")
    return [(whole[:-4] if whole.lower().endswith(".npy") else whole.replace("/", "."), "")] + [
        (".".join(parts[k:]), "/".join(parts[:k])) for k in range(1, len(parts))]


def _named(p: Plan, names: list[tuple[str, str]]) -> tuple[str, str] | None:
    """Of an array's names (:func:`_names_of`), the first that is a quantity,
    with its folder; else a name with ``_`` where the quantity's has its
    ``.`` (``conv1_Z``: ``np.savez(f, conv1_Z=Z)``, whose keywords cannot
    hold a dot, a review), read as that quantity where it is exactly one
    (``conv_1_dA_prev`` is ``conv_1.dA_prev`` and nothing else); else None."""
    named = next(((n, folder) for n, folder in names if _resolves(p, n)), None)
    if named is not None:
        return named
    found = {(n[:k] + "." + n[k + 1:], folder) for n, folder in names if "." not in n
             for k in range(1, len(n) - 1) if n[k] == "_"}
    found = {(n, folder) for n, folder in found if _resolves(p, n)}
    return min(found) if len({p.resolve(n, "") for n, _ in found}) == 1 else None


def _submissions(graded: list[tuple[str, str] | None]) -> list[str]:
    """Of a zip's (an .npz's) arrays, each one's (quantity, folder) where
    the run grades it (:func:`_graded_as`): the folders below its top level
    that each hold an array of a quantity the run computes that another of
    them holds too: several submissions in one upload (a grader's zip of the class, a
    student's attempt1/ and attempt2/), whose arrays would be graded as
    one's, the first by name of each quantity winning. As for a folder
    (``_inner_folders``), which one is the work is for the user to say;
    and as for a folder, arrays at the top level are the work (the folders'
    copies of them listed, not graded), and copies of what the config gives
    are never graded, so they count for nothing. ``[]`` where each quantity
    is in one folder."""
    where: dict[str, set[str]] = {}
    for g in graded:
        if g is not None:
            where.setdefault(g[0], set()).add(g[1])
    return sorted({folder for folders in where.values() if len(folders) > 1 and "" not in folders
                   for folder in folders})


def _copies_alike(found, graded, several: list[str], base: Path, where: str, max_memory: int) -> bool:
    """Whether the folders (groups) of :func:`_submissions` would each be
    graded the same, given alone: of each quantity, the array each folder
    would have graded (its best by :func:`_rank`; a draft dW.npy beside
    conv1.dW.npy is in both copies) the same in every folder that holds
    one (a review: an .h5 saved with its results in results/ and again in
    backup/ was refused as several submissions, where grading either gives
    the same grade). The same stored bytes are alike even where they cannot
    be read as an array (a later review: identical copies of an array over
    --max-memory, or of a corrupt one, were refused); else the arrays are
    read and compared. One quantity at a time, stopping at the first that
    differs (a class's submissions differ at their first)."""
    best: dict[str, dict[str, tuple[str, Source]]] = {}  # quantity -> folder -> (name, source)
    for (raw, src), g in zip(found, graded):
        if g is not None and g[1] in several:
            q, folder = g
            held = best.setdefault(q, {}).get(folder)
            if held is None or _rank(printable(raw), q) < _rank(printable(held[0]), q):
                best[q][folder] = (raw, src)
    for by_folder in best.values():
        (_, first), *others = by_folder.values()
        read_first = None
        for _, src in others:
            if _same_stored(first, src, base, where):
                continue
            try:
                read_first = arrays.read_file(first, base, where, max_memory) if read_first is None else read_first
                x = arrays.read_file(src, base, where, max_memory)
            except ConvcliError:
                return False
            if not (x.shape == read_first.shape and x.dtype == read_first.dtype
                    and np.array_equal(x, read_first, equal_nan=True)):
                return False
    return True


def _same_stored(a: Source, b: Source, base: Path, where: str) -> bool:
    """Whether two members of one zip (.npz) are stored alike: the same
    compression, CRC and sizes, and the same stored (compressed, or
    encrypted) bytes, compared a MiB at a time as the zip holds them, never
    inflated (a review: a 2 MB upload inflating to 1 GiB took 8 s; an
    encrypted or corrupt member, identical in both copies, could not be
    compared once inflated). False for anything else, or what cannot be
    read."""
    if a.key is None or b.key is None or a.file != b.file or a.dataset or b.dataset:
        return False
    try:
        with arrays._open_npz(base / a.file, where, a.file) as z:
            ma, mb = (arrays.npz_member_file(z, arrays._npz_member(z, k, where, a.file)) for k in (a.key, b.key))
            ia, ib = z.zip.getinfo(ma), z.zip.getinfo(mb)
            if (ia.flag_bits & 1) and (ib.flag_bits & 1):  # both encrypted, each with its own random header:
                return (ia.CRC, ia.file_size) == (ib.CRC, ib.file_size)  # the zip's own check of what is inside
            if any(getattr(ia, k) != getattr(ib, k) for k in ("CRC", "file_size", "compress_size", "compress_type")) \
                    or (ia.flag_bits & 1) != (ib.flag_bits & 1):
                return False
            with open(base / a.file, "rb") as fa, open(base / a.file, "rb") as fb:
                for fp, info in ((fa, ia), (fb, ib)):  # past the member's local header, to its stored bytes
                    fp.seek(info.header_offset)
                    head = fp.read(30)
                    if len(head) < 30 or head[:4] != b"PK\x03\x04":
                        return False
                    fp.seek(int.from_bytes(head[26:28], "little") + int.from_bytes(head[28:30], "little"), 1)
                left = ia.compress_size
                while left > 0:
                    x, y = fa.read(min(left, 1 << 20)), fb.read(min(left, 1 << 20))
                    if x != y or not x:
                        return False
                    left -= len(x)
                return True
    except (ConvcliError, OSError, ValueError, KeyError, EOFError, *arrays._ZIP_READ_ERRORS):
        return False


def _graded_as(p: Plan, raw: str, src: Source) -> tuple[str, str] | None:
    """(quantity, folder) of an array found as ``raw``, where it is one the
    run grades (not a copy of what the config gives), else None."""
    named = _named(p, _names_of(raw, src))
    if named is None:
        return None
    q = p.resolve(named[0], "")
    return (q, named[1]) if q in p.graded() else None


def _read_or_none(s: Submitted, where: str, max_memory: int, shown: str | None = None) -> np.ndarray | None:
    """A user's array as stored, or None where it cannot be read (a hint's
    or a note's read: the array's own outcome says why)."""
    try:
        return arrays.read_file(s.source, s.base_dir, where, max_memory, shown=shown)
    except ConvcliError:
        return None


def _readable(s: Submitted, where: str) -> bool:
    """Whether an array of a user's can be read as one (its header: a plain
    numeric array)."""
    try:
        arrays.probe(s.source, s.base_dir, where)
    except ConvcliError:
        return False
    return True


def _rank(label: str, q: str) -> tuple[int, bool, bool, str]:
    """Of two arrays for one quantity, the graded one sorts first: the one
    in the fewest folders or groups of the user's (a layer's own group,
    conv1/dW, is none; a review: an .h5's attempt0/conv1/dW was graded over
    its top-level conv1/dW, by name), as a zip's top level goes first; then
    one in no folder named as a copy; then the one whose name says it whole
    (:func:`_says`); then by name."""
    parts = (label[:-4] if label.lower().endswith(".npy") else label).replace("\\", "/").split("/")
    folders = next((k for k in range(len(parts)) if ".".join(parts[k:]) == q), len(parts) - 1)
    # a folder named as a copy (hw3 copy/, hw3 (1)/) after the one it copies (a review: "hw3 copy/" sorts
    # before "hw3/", and the report graded the copy)
    copy = any(copied_from(part) != part for part in parts[:folders])
    return folders, copy, not _says(label, q), label


def _says(label: str, q: str) -> bool:
    """Whether an array's name says its quantity whole (conv1.Z.npy, the
    .h5 dataset conv1/Z, either in a folder or group of the user's:
    hw3/conv1.Z), not only its end (Z.npy)."""
    parts = (label[:-4] if label.lower().endswith(".npy") else label).split("/")
    return any(".".join(parts[k:]) == q for k in range(len(parts)))


def _resolves(p: Plan, name: str) -> bool:
    try:
        p.resolve(name, "")
    except ConvcliError:
        return False
    return True


def _unread(folder: Path, p: Plan) -> list[Unknown]:
    """Files in an --against folder that are not read but look like work: an
    .npz or another .h5 (graded only when named themselves), or a quantity's
    name with another extension (conv1.dW.txt from np.savetxt, a .pt)."""
    out = []
    try:
        entries = sorted(e for e in folder.iterdir() if e.is_file() and not e.name.startswith("."))
    except OSError:
        return out
    for e in entries:
        suffix = e.suffix.lower()
        if suffix == ".npy" or e.name in ("outputs.h5", "summary.json"):
            continue
        if suffix in NPZ_SUFFIXES or suffix in H5_SUFFIXES:
            out.append(Unknown(e.name, f"not read from a folder; --against {short_path(e)} grades it"))
        elif said := _saved_otherwise(p, e.name):
            out.append(Unknown(e.name, said))
    return out


def _saved_otherwise(p: Plan, name: str) -> str:
    """For a file named as a quantity with another extension than .npy
    (conv1.dW.txt from np.savetxt, a .pt), what to do; else ""."""
    suffix = Path(name).suffix
    try:
        q = p.resolve(name[: -len(suffix)] if suffix else name, "")
    except ConvcliError:
        return ""
    return f"not read: only .npy files are; save {q} with np.save"


def _npy_files(folder: Path) -> list[Path]:
    """The folder's ``.npy`` files, sorted, the extension in any case
    (``conv1.dW.NPY``, as a config's ``file:`` takes it); hidden ones too,
    as ``Path.glob`` gave them (one that is no quantity is listed as such),
    but macOS's resource forks, ``._conv1.dW.npy`` beside each file copied
    from a Mac (AppleDouble, no array; as a zip's __MACOSX/ copies are: an
    instructor's review had each listed as an unknown quantity)."""
    return sorted(e for e in folder.iterdir() if e.suffix.lower() == ".npy" and not _resource_fork(e))


def _resource_fork(path: Path) -> bool:
    """Whether ``path`` is a macOS resource fork, ``._name`` holding
    AppleDouble's magic number (a user's own array saved as ._x.npy is no
    fork: listed, as before; a review)."""
    return path.name.startswith("._") and _head(path)[:4] == arrays.APPLE_DOUBLE


def _inner_folders(path: Path, every: bool = False, graded=None) -> list[Path]:
    """The folders inside ``path`` that hold .npy files (or an outputs.h5), of the first level
    down that has any, however deep, as a zip's are read (an instructor's review: home/alice/hw3/ unpacked
    had "no .npy files" where its zip graded 8 of 8), by name: each, not the first alone (draft/ and final/:
    which one is the work is the student's to say); macOS's __MACOSX/ copies never. With ``every``, those
    of every level (a review: hw3/ graded alone beside old/attempt1/), but inside a folder of work one
    level down only: deeper ones are the work's own (its convcli-out/stack/, a venv's data)."""
    return _walk_inside(path, every, graded)[0]


def _walk_inside(path: Path, every: bool = False, graded=None) -> tuple[list[Path], list[tuple[Path, str]]]:
    """:func:`_inner_folders`, and the folders whose folders were not searched, each with why, to be
    named where none holds work: one that cannot be read, and one past the second level down that a link
    leads out of ``path``. With ``every``, the folders inside a folder of work are looked in one level
    down (hw3/x/, a rival as ever) and no deeper: those are the work's own (a review: convcli's output
    in hw3/convcli-out/stack/, or a venv's test data, refused an upload graded before and as its zip).
    Past the first two levels, where the walk had never gone, a folder of .npy files is a rival only
    where ``graded`` (a predicate on its path in ``path`` and their names) says one names a quantity of
    the run, as a zip's folders are (a review: a venv beside hw3/ made its test data a rival); and a
    folder reached again through a link is not listed twice."""
    root = Path(os.path.realpath(path))
    found: list[Path] = []
    unsearched: list[tuple[Path, str]] = []
    walked = {root}
    # each folder of a level, where it really is, and how many levels below it may be looked in (None: all)
    level: list[tuple[Path, Path, int | None]] = [(path, root, None)]
    depth = 0
    while level:
        below: list[tuple[Path, Path, int | None]] = []
        for folder, real, reach in level:
            try:
                work, inside = _scan(folder)
            except OSError:  # (one folder that cannot be read hid every folder after it)
                unsearched.append((folder, "it cannot be read"))
                continue
            if depth > 2 and real in walked:  # (reached again through a link: listed once)
                continue
            if work and depth and (depth <= 2 or not every or graded is None or work is True
                                   or graded(folder.relative_to(path).as_posix(), work)):
                found.append(folder)
                reach = 1 if reach is None else min(reach, 1)
            if reach == 0:
                continue
            # links are followed the first two levels down, as they always were; further down, the walk
            # keeps to the submission's own tree, each folder once: a link up to a folder it sits in would
            # loop, and one out of it (to /) would walk the disk
            if depth >= 2 and (real in walked or root not in real.parents):
                if inside and real != root and root not in real.parents:
                    unsearched.append((folder, "a link out of the folder"))
                continue
            walked.add(real)
            deeper = None if reach is None else reach - 1
            below += [(f, Path(os.path.realpath(f)) if link else real / f.name, deeper) for f, link in inside]
        if found and not every:
            break
        level, depth = sorted(below, key=lambda item: item[0]), depth + 1
    return found, unsearched


# _archives_inside looks in at most this many folders (a home folder given by mistake is not walked whole).
ARCHIVES_WALKED = 2000


def _archives_inside(path: Path, most: int = 5, levels: int = 3) -> list[Path]:
    """Up to ``most`` + 1 files in the folders inside ``path``, up to
    ``levels`` down, that --against reads given themselves (.npz, .zip,
    .h5) or that are archives it does not read (.tar.gz, ...): where a
    folder holds no work, the work may be one of them (an LMS's
    alice/hw3/results.npz; an instructor's review: "no .npy files", the
    file never named). The folder's own are listed as not read already.
    Links are not followed; hidden folders and macOS's __MACOSX are passed
    over."""
    found: list[Path] = []
    level, walked = [path], 0
    for depth in range(levels + 1):
        below = []
        for folder in level:
            walked += 1
            if walked > ARCHIVES_WALKED:
                return found
            try:
                with os.scandir(folder) as entries:
                    for e in sorted(entries, key=lambda e: e.name):
                        if e.name.startswith(".") or e.name == "__MACOSX":
                            continue
                        if e.is_dir(follow_symlinks=False):
                            below.append(folder / e.name)
                        elif depth and e.is_file() and (Path(e.name).suffix.lower() in NPZ_SUFFIXES + H5_SUFFIXES
                                                        or _archive_name(e.name)):
                            found.append(folder / e.name)
                            if len(found) > most:
                                return found
            except OSError:
                continue
        level = below
    return found


def _names_a_quantity(p: Plan, rel: str, names: list[str]) -> bool:
    """Whether one of the .npy files of the folder at ``rel`` names a
    quantity of the run, graded or given (a hand-out's A_prev.npy: listed
    as one), by the names grading reads it by (:func:`_names_of`: a folder
    per layer's conv1/Z.npy is conv1.Z, a review)."""
    return any(_resolves(p, name) for n in names
               for name, _ in _names_of(f"{rel}/{n}", Source(file=f"{rel}/{n}")))


def _scan(folder: Path) -> tuple[list[str] | bool, list[tuple[Path, bool]]]:
    """What a folder holds that --against grades of one: the names of its .npy files, or True for an
    outputs.h5 (else an empty list); and the folders in it that may (each with whether it is a link),
    from one listing: a walk as deep as a zip is read lists every folder of a tree (a stat of each
    file, a second listing and a Path of each name took 0.92 s for a virtualenv's 2,400 folders, 0.24 s
    so)."""
    npys: list[str] = []
    h5, inside = False, []
    with os.scandir(folder) as entries:
        for e in entries:
            # (Path(e.name).suffix, as _npy_files has it, without a Path of each file: .npy alone has none)
            if len(e.name) > 4 and e.name[-4:].lower() == ".npy" and not _resource_fork(folder / e.name):
                npys.append(e.name)
            h5 = h5 or e.name == "outputs.h5" and e.is_file()
            if not e.name.startswith(".") and e.name != "__MACOSX" and e.is_dir():
                inside.append((folder / e.name, e.is_symlink()))
    return (True if h5 else npys), inside


def _some(p: Plan, out: list[Submitted], unknown: list[Unknown], where: str,
          empty_ok: bool = False) -> tuple[list[Submitted], list[Unknown]]:
    """``(out, unknown)``, unless no array is a quantity (and not ``empty_ok``):
    an error naming them all."""
    if not out and not empty_ok:
        # each name with its nearest quantity where there is one, the known ones once
        names, known, other = [], "", ""
        for u in unknown:
            m = re.match(r"unknown quantity .*?( \(did you mean .*\?\))?(; known: .*)$", u.note)
            if m:
                names.append(u.label + (m.group(1) or ""))
                known = m.group(2)
            else:
                names.append(u.label)
                other = other or f"; {u.label}: {_misnamed(p, u) or u.note}"
        # np.savez(f, Z, dA) names them arr_0, arr_1 (a learner's review: no word of why)
        positional = all(re.fullmatch(r"arr_\d+", u.label.rsplit("[", 1)[-1].rstrip("]")) for u in unknown)
        # the config's own names (reviews: bare names fit one layer only, and a pool's output is A, not Z)
        named = ", ".join(f"{q.split('.', 1)[-1] if len(p.network) == 1 else q.replace('.', '_')}=..."
                          for q in p.graded()[:2])
        other = other or ("; np.savez names the arrays it is given without a name arr_0, arr_1, ...: name each, "
                          f"np.savez(file, {named})" if positional and unknown else "")
        raise ConvcliError(where, f"none of its arrays is a quantity this run computes: {', '.join(names)}"
                                  f"{other}{known}")
    return out, unknown


CONVCLI_OUTPUT = "convcli's own output (its summary.json describes these arrays), not graded"
WRITTEN_AFTER = 2.0  # seconds an array may be younger than its summary.json (a zip's times are to 2 s)


def _convcli_wrote(summary: bytes, held: dict[str, float], written: float,
                   read: Callable[[str], np.ndarray]) -> bool:
    """Whether a folder holding ``summary`` (its summary.json's bytes,
    written at time ``written``) and the files ``held`` (name -> time
    written: its .npy files and an outputs.h5) is one convcli wrote and left
    as it was. Each .npy file there is one the summary names (convcli writes
    no other), none was written after it, and each array the summary names
    that is there (``read(name)``: a file's, or ``outputs.h5:NAME`` a
    dataset's) has its shape and exactly its min and max, and its mean to
    1e-9 of their range; one at least. A student's upload with ``convcli
    backward``'s convcli-out/stack/ beside hw3/ was refused as two
    submissions (an instructor's review). An array of the student's saved
    over convcli's is younger than the summary (a review: a kernel turned
    has its stats to the bit). Whatever the summary holds, the answer is
    True or False, never an error (a review: a malformed one beside the work
    was exit 3)."""
    from .outputs import summary_doc
    from .stats import describe, json_number

    doc = summary_doc(summary)
    if doc is None:
        return False
    entries = [q for q in doc["quantities"].values() if q["file"].split(":", 1)[0] in held]
    named = {q["file"] for q in doc["quantities"].values()}
    if not all(name in named for name in held if name.lower().endswith(".npy")) or not entries:
        return False  # (a student's work beside a copy of convcli's summary.json is theirs)
    if any(when > written + WRITTEN_AFTER for when in held.values()):
        return False
    try:
        for entry in entries:
            a = read(entry["file"])
            if not np.issubdtype(a.dtype, np.number) or a.dtype.kind == "c":
                return False
            got = {k: json_number(v) for k, v in describe(a).items()}
            if list(got["shape"]) != entry.get("shape") or any(got[k] != entry.get(k) for k in ("min", "max")):
                return False
            mean, span = entry.get("mean"), max(abs(float(got["min"])), abs(float(got["max"])))
            if isinstance(got["mean"], float) and not (isinstance(mean, float) and math.isfinite(span)
                                                       and abs(got["mean"] - mean) <= 1e-9 * span):
                return False
    except (ConvcliError, ValueError, TypeError, OverflowError):  # (an array unreadable, a stat not a number)
        return False
    return True


def _slashed(name: str) -> str:
    """A zip member's name with backslashes for slashes (as some Windows tools write them), as _names_of reads
    it."""
    return name.replace("\\", "/")


def _summary_bytes(summary: Path) -> bytes | None:
    """A summary.json file's bytes; None where there is none, or one too large to be convcli's."""
    from .outputs import SUMMARY_MAX_BYTES

    try:
        return summary.read_bytes() if summary.is_file() and summary.stat().st_size <= SUMMARY_MAX_BYTES else None
    except OSError:
        return None


def _zipped_summary(zf: zipfile.ZipFile, info: zipfile.ZipInfo | None) -> bytes | None:
    """A zip member summary.json's bytes, as :func:`_summary_bytes`."""
    from .outputs import SUMMARY_MAX_BYTES

    return zf.read(info) if info is not None and info.file_size <= SUMMARY_MAX_BYTES else None


def _convcli_folder(folder: Path, max_memory: int) -> bool:
    """:func:`_convcli_wrote` of a folder on disk."""
    summary = folder / "summary.json"
    text = _summary_bytes(summary)
    if text is None:
        return False
    try:
        written = summary.stat().st_mtime
        held = {f.name: f.stat().st_mtime for f in _npy_files(folder)}
        if (folder / "outputs.h5").is_file():
            held["outputs.h5"] = (folder / "outputs.h5").stat().st_mtime
    except OSError:
        return False

    def read(name: str) -> np.ndarray:  # (a --format h5 run's from its outputs.h5)
        file, _, dataset = name.partition(":")
        return arrays.read_file(Source(file=file, dataset=dataset or None), folder, str(folder / file), max_memory)
    return _convcli_wrote(text, held, written, read)


def _zip_summaries(file: Path) -> set[str]:
    """The folders of a zip that hold a summary.json of convcli's (named as
    _names_of names them: backslashes for slashes)."""
    from .outputs import summary_doc

    try:
        with zipfile.ZipFile(file) as zf:
            return {_slashed(i.filename).rpartition("/")[0] for i in zf.infolist()
                    if _slashed(i.filename).rpartition("/")[2] == "summary.json"
                    and summary_doc(_zipped_summary(zf, i) or b"") is not None}
    except (OSError, *arrays._ZIP_READ_ERRORS):
        return set()


def _convcli_summary(folder: Path) -> bool:
    """Whether ``folder`` holds a summary.json of convcli's (a student's own
    notes under that name are not: a code review had them block grading)."""
    from .outputs import summary_doc

    return summary_doc(_summary_bytes(folder / "summary.json") or b"") is not None


def _convcli_zipped(file: Path, folder: str, found: list[tuple[str, Source]], where: str, max_memory: int) -> bool:
    """:func:`_convcli_wrote` of a zip's ``folder`` (its arrays among
    ``found``, as :func:`_arrays_in` lists them; members named with
    backslashes too, as _names_of reads them)."""
    import time

    try:
        with zipfile.ZipFile(file) as zf:
            infos = {_slashed(i.filename): i for i in zf.infolist()}
            info = infos.get(f"{folder}/summary.json")
            text = _zipped_summary(zf, info)
    except (OSError, *arrays._ZIP_READ_ERRORS):
        return False
    if text is None:
        return False

    def when(i) -> float:  # (a zip's times are local, to 2 s: compared with each other only)
        return time.mktime((*i.date_time, 0, 0, -1)) if i is not None else 0.0
    mine = {_slashed(raw)[len(folder) + 1:] + ".npy": src for raw, src in found
            if _slashed(raw).startswith(f"{folder}/") and "/" not in _slashed(raw)[len(folder) + 1:]}
    held = {name: when(infos.get(f"{folder}/{name}")) for name in mine}
    return _convcli_wrote(text, held, when(info), lambda name: arrays.read_file(mine[name], file.parent, where,
                                                                                 max_memory))


OWN_RESULTS = "they are convcli's own results"  # (provenance_note's words: Report.convcli_own)


def _summary_of(path: Path, p: Plan) -> tuple[str, bytes | None]:
    """The summary.json beside the arrays ``--against path`` grades, named,
    and its bytes (None: none there, or too large to be convcli's): in the
    folder, or in its one folder inside that holds the work; in a zip, beside
    its .npy files where they are all in one folder (a review: convcli's own
    output zipped passed 4 of 4, convcli_own false)."""
    summary = path / "summary.json"
    try:
        if path.is_file() and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                infos = {_slashed(i.filename).removeprefix("./"): i for i in zf.infolist()}
                folders = {n.rpartition("/")[0] for n in infos if n.lower().endswith(".npy")
                           and not n.startswith("__MACOSX/")}
                name = f"{folders.pop()}/summary.json".removeprefix("/") if len(folders) == 1 else ""
                return printable(f"{path}/{name}"), _zipped_summary(zf, infos.get(name))
        # (as collect_against: a folder's own arrays, or its outputs.h5, are graded first; stray .npy files,
        # none a quantity graded, leave its one folder inside graded: a review had the note lost beside
        # .scratch.npy)
        if (path.is_dir() and not summary.exists() and not (path / "outputs.h5").exists()
                and not any(_graded_as(p, f.name, Source(file=f.name)) for f in _npy_files(path))):
            inner = _inner_folders(path, every=True,  # graded from its one folder (collect_against)
                                   graded=lambda rel, names: _names_a_quantity(p, rel, names))
            summary = inner[0] / "summary.json" if len(inner) == 1 else summary
        return printable(str(summary)), _summary_bytes(summary)
    except (OSError, *arrays._ZIP_READ_ERRORS):
        return printable(str(summary)), None


def provenance_note(path: str | Path, p: Plan, own: tuple[bool, bool] = (True, True)) -> str:
    """If ``path`` is a folder convcli wrote for another config (its
    summary.json names another sha256), say so: its arrays will differ.
    For this config, that they are convcli's own, where ``own`` says every
    array graded passed and was convcli's exactly; or another engine's or
    dtype's run of it, where they passed."""
    from .outputs import summary_doc

    summary, data = _summary_of(Path(path), p)
    run = summary_doc(data) if data is not None else None  # (none there, or not one convcli wrote)
    theirs = run.get("config") if run is not None else None
    if not isinstance(theirs, dict) or not isinstance(theirs.get("sha256", ""), str):
        return ""
    if theirs.get("sha256") and theirs["sha256"] != p.cfg.sha256:
        return (f"{summary} says these arrays were written for "
                f"{printable(str(theirs.get('path', 'another config')))} "
                f"(sha256 {theirs['sha256'][:12]}), not for {p.cfg.display} (sha256 {p.cfg.sha256[:12]})")
    if theirs.get("sha256") and own[0]:  # convcli's own results for this config: a pass says nothing of yours
        other = [f"with the {run['engine']} engine" if run.get("engine", p.engine) != p.engine else "",
                 f"in {run['dtype']}" if run.get("dtype", p.dtype) != p.dtype else ""]
        if any(other):  # another engine's or dtype's run of it: a comparison of convcli's own, and said so
            return (f"{summary} says convcli wrote these arrays for this config, "
                    f"{' '.join(o for o in other if o)} (this run: the {p.engine} engine in {p.dtype})")
        if own[1]:
            return (f"{summary} says convcli wrote these arrays for this config: {OWN_RESULTS}, "
                    f"so they pass against themselves; give the folder of your own arrays")
    return ""


def expected_provenance_note(shown: str, came, p: Plan) -> str:
    """If an ``--expected`` file says it was computed from another config
    (``computed_from:``, as convcli's expected.yaml does) or in another
    dtype, say so: its values are another run's. ``came``: the file's
    :class:`~convcli.config.ComputedFrom`, or None."""
    if came is None:
        return ""
    other = []
    if came.sha256 and came.sha256 != p.cfg.sha256:
        other.append(f"from {came.config or 'another config'} (sha256 {came.sha256[:12]}), "
                     f"not from {p.cfg.display} (sha256 {p.cfg.sha256[:12]})")
    if came.dtype and came.dtype != p.dtype:
        other.append(f"in {came.dtype}, not in {p.dtype} as this run")
    return f"{shown} was computed {' and '.join(other)}" if other else ""


def evaluate_against(submitted: list[Submitted], p: Plan, quantities: dict[str, np.ndarray],
                     keep: bool = False, inputs: dict[str, np.ndarray] | None = None,
                     yours: dict[str, np.ndarray] | None = None,
                     other_inputs: dict[str, str] | None = None, layerwise=None,
                     rounding: Callable[[], dict[str, float]] | None = None,
                     whole: dict[str, np.ndarray] | None = None) -> list[Outcome]:
    """Compare each of a user's arrays with convcli's. With ``keep``, each
    outcome whose shape matches holds the user's array in ``.array`` (for
    ``check --plot``); otherwise it is dropped once compared. ``inputs``:
    what each layer takes (its input, its upstream gradient), for the hints
    that rerun a layer; given for ``--each-layer``, where they are the user's
    (and ``quantities`` convcli's results on them), which also needs no
    "fix the forward first". ``yours``: arrays :func:`read_yours` has read
    already, not read again. ``other_inputs``: the quantities the config
    gives whose copies among the user's arrays differ, with how
    (:func:`given_copies`), named where an array follows from them. ``layerwise``: where not
    ``--each-layer``, a function giving :func:`each_layer`'s results, asked
    only where a failed array is convcli's times one number: if it is
    what the layer makes of your own inputs, the cause is those inputs (a
    db under grad: ones whose incoming gradient differs is convcli's times
    a ratio of counts in every channel), said as such, not the scale.
    ``rounding``: :func:`float32_rounding` of the run, asked where the run is
    float32 (each array's atol then allows it) or
    a float32 array of yours fails a float64 run (for its hint). ``whole``:
    under --each-layer, the whole run's quantities, where an array of yours
    that fails may be those rounded to a few decimals (its hint)."""
    rtol, given_atol = p.tolerance
    rounding = rounding or dict
    each_layer = inputs is not None
    inputs = quantities if inputs is None else inputs
    biases = p.biases()
    weights = {f"{spec.name}.dW" for spec in p.network.layers if spec.kind == "conv"}  # (W is given: never graded)
    out = []
    zeros: set[str] = set()  # the quantities of arrays of yours all zeros where convcli's are not (_zeros_follow)
    for s in submitted:
        upstream_said: dict[str, str] = {}  # (Outcome.said)
        # "--against: sub/x.npz[conv1.dW] is ...": the file's path, and the array in it, said once.
        where, shown = "--against", short_path(s.base_dir / s.source.file)
        ours = quantities[s.quantity]
        atol = given_atol
        try:  # one unreadable array fails itself, not the whole submission (an autograder's loop goes on)
            info = arrays.probe(s.source, s.base_dir, where, shown)
        except ConvcliError as exc:
            out.append(Outcome(s.label, s.quantity, f"array {ours.shape}", UNREADABLE, False, rtol, atol,
                               note=exc.what, expected_shape=list(ours.shape)))
            continue
        shape = tuple(info.shape)
        shapes = {"shape": list(shape), "expected_shape": list(ours.shape)}
        # A bias as (n_C,) or (1, 1, 1, n_C), either way (DESIGN section 1); any other shape must be convcli's.
        if not same_layout(p, s.quantity, shape, ours.shape, biases):
            stored = functools.cache(functools.partial(_read_or_none, s, where, p.max_memory, shown))  # read once
            order, relaid = _layout_hint(shape, ours.shape), ""
            tol = _hint_tolerance(info.dtype, p.dtype, rtol, atol)
            if order and stored() is not None:  # the transpose that fixes it, where the numbers say which
                relaid = _order_hint(stored(), ours, *tol, s.quantity in weights)
                order = relaid or order
            if not order and math.prod(shape) == ours.size:  # a sample's CHW where (1, H, W, C) is convcli's
                order = relaid = _squeezed_order_hint(shape, ours, stored, *tol, s.quantity in weights)
            # one gradient a sample (m of n_C's size: never a bias's layout, m > 1), then a db summed over other
            # axes, before the layouts: (m, 1, 1, 1) where m is n_C was told the bias's (a review)
            summed = "" if relaid else _per_sample_hint(p, s, shape, ours, stored, *tol)
            axes = "" if relaid or summed else _db_axes_hint(p, s.quantity, shape, inputs, stored, *tol)
            # (the numbers say what it is, where its sizes alone had said another order: a learner's review had a
            # db summed per sample with keepdims, (8, 1, 1, 1) for (1, 1, 1, 8), told to transpose)
            order = "" if summed or axes else order
            bias = (f"; a bias or its gradient is ({ours.size},) or (1, 1, 1, {ours.size})" if not (
                order or summed or axes) and s.quantity in biases and math.prod(shape) == ours.size else "")
            fix = _reshaped_hint(shape, ours, stored, *tol) if bias else ""
            bias = f"{fix} ({bias.removeprefix('; ')})" if fix else bias  # (a learner's review: (1, 8) got no fix)
            flat = "" if order or bias or summed or axes else _reshaped_hint(shape, ours, stored, *tol)
            flat = flat or ("" if order or bias or summed or axes else
                            _one_sample_hint(s, shape, ours, stored, *tol))
            out.append(Outcome(s.label, s.quantity, f"shape {ours.shape}", f"shape {shape}", False, rtol, atol,
                               note=f"shape {shape}, expected {ours.shape}{order or bias or summed or axes or flat}",
                               dtype=info.dtype.name, **shapes,
                               hints=["axis_order"] if order else ["bias_layout"] if bias else
                               ["per_sample"] if summed else ["sum_axes"] if axes else ["reshaped"] if flat else [],
                               relaid=bool(relaid)))
            continue
        try:
            theirs = (yours or {}).get(s.quantity)
            if theirs is None:
                theirs = arrays.read_file(s.source, s.base_dir, where, p.max_memory, shown=shown).reshape(ours.shape)
        except ConvcliError as exc:
            out.append(Outcome(s.label, s.quantity, f"array {ours.shape}", UNREADABLE, False, rtol, atol,
                               note=exc.what, dtype=info.dtype.name, **shapes))
            continue
        passed, abs_err, rel_err, first, note = compare(theirs, ours, rtol, atol)
        graded_atol = atol  # what each element is allowed (an array where float32's allowance is each one's)
        allowed = rounding().get(s.quantity) if not passed and p.dtype == "float32" else None
        allowing = allowed is not None and bool(np.any(allowed))
        if allowing:
            # float32's own rounding on top of the tolerance: the sums of a float32 run are no nearer (the
            # other run measures it: only for an array that fails without it); atol says the largest
            graded_atol = given_atol + allowed
            atol = given_atol + float(np.max(allowed))
            passed, abs_err, rel_err, first, note = compare(theirs, ours, rtol, graded_atol)
        values, n_differ, worst = None, None, None
        each = np.ndim(graded_atol) > 0 and not passed  # the atol said is the largest element's
        hints = []
        run_own = False  # (layer by layer: yours is the whole run's own, below)
        # what yours holds: float64 numbers each a float32 one, where convcli's are not, were computed in float32
        # and saved from a float64 array (np.zeros' default): its hints as a float32 array's (a learner's review
        # had such a run told nothing, or to fix its forward)
        held = np.dtype(np.float32) if not passed and info.dtype.name == "float64" and _float32_held(theirs, ours) \
            else info.dtype  # (.name: a big-endian >f8 too, a review)
        if passed:
            # (where float32's allowance passed it, the allowance is what zeros would pass by: an --atol cannot
            # lift it, and the advice repeated at the --atol it gave, a review)
            said = _allowance_dominates(ours, rtol, graded_atol) if allowing else _atol_dominates(ours, rtol, atol)
            if said and not allowing and p.dtype == "float32":  # an --atol offered where float32's allowance, which
                # a smaller atol turns on, passes zeros too leads there (a review: the advice one step later)
                allowed = rounding().get(s.quantity)
                said = (_allowance_dominates(ours, rtol, allowed) if allowed is not None and np.any(allowed)
                        else "") or said
            if said:  # (a pass whatever yours holds: the gradebook must not read it as a pass of the layer)
                note = f"{note}; {said}" if note else said
                hints.append("atol_dominates")
        if first is not None:
            values = (float(theirs[first]), float(ours[first]))
            note = f"first differs at {list(first)}: got {values[0]!r}, expected {values[1]!r}"
            n_differ, worst = _spread(theirs, ours, rtol, graded_atol)
            note += f"; {n_differ} of {ours.size} element{'s' * (ours.size != 1)} differ{'s' * (n_differ == 1)}"
            if worst != first:
                note += (f", the most at {list(worst)}: got {float(theirs[worst])!r}, expected "
                         f"{float(ours[worst])!r}")
            if each:
                note += (f"; each element is allowed float32's rounding of its own terms (at {list(first)}: "
                         f"{float(np.broadcast_to(graded_atol, ours.shape)[first]):.3g}; the atol said is the "
                         "largest)")
        if not passed:
            nan = int(np.count_nonzero(np.isnan(theirs) & ~np.isnan(ours)))
            if nan:  # the errors' inf comes from these, not from an overflow
                note += f"; {nan} NaN in yours where convcli's are numbers (an infinite error each)"
                hints.append("nan_in_yours")
            inf = int(np.count_nonzero(np.isinf(theirs) & np.isfinite(ours)))
            if inf:  # an overflow of theirs (a float16 save, a sum in float32), or an inf they wrote
                note += (f"; {inf} infinit{'ies' if inf != 1 else 'y'} in yours where convcli's "
                         f"{'are numbers' if inf != 1 else 'is a number'} (an infinite error each)")
                hints.append("inf_in_yours")
            lost = int(np.count_nonzero(np.isnan(ours) & ~np.isnan(theirs)))
            if lost:  # a NaN input carried through convcli's layer, and not through yours
                note += (f"; {lost} number{'s' if lost != 1 else ''} in yours where convcli's "
                         f"{'are' if lost != 1 else 'is'} NaN (a NaN or an infinity in a layer's input gives NaN)")
                hints.append("nan_in_convcli")
            # The explanations are looked for at the precision the user's array holds: one computed in
            # float32 with a mistake in it (the bias in every window) is that mistake to float32's
            # rounding, never to the run's float64 rtol (its hints were lost, or another one given).
            # (a float32 allowance of each element's own is left out: at its largest, for every element, a dW
            # with a small channel zeroed was told to transpose two axes of length 1, a review)
            hr, ha = _hint_tolerance(held, p.dtype, rtol, atol if np.ndim(graded_atol) == 0 else given_atol)
            # An array that is convcli's at that precision has no mistake to explain (a correct float32
            # array: the float32 hint below says how to grade it); any "other answer" equal to convcli's
            # own would fit it (a zero bias's window convention, a transpose of length-1 axes).
            mistaken = hr == rtol and ha == atol or not _close(theirs, ours, hr, ha)
            # An array of NaN only matches any slip's NaN made of the same input, and explains none of them (an
            # instructor's review: an all-NaN dW was told "the last sample's dW alone", a dA_prev "the kernel
            # turned"); the NaN note says what it is.
            mistaken = mistaken and not _all_nan(theirs)
            # Layer by layer, an array that is the whole run's own (right for convcli's inputs) has no slip of
            # its layer to explain: it fails on an input of yours (a regression review: a right ReLU dA_prev
            # after a pool's masks alone, under grad: output, was told it multiplied by A)
            run_own = (whole is not None and whole.get(s.quantity) is not None
                       and whole[s.quantity].shape == theirs.shape and _close(theirs, whole[s.quantity], hr, ha))
            if run_own and mistaken:  # (said, where the note would else explain nothing: a review)
                note += ("; yours is the whole run's (convcli's on its own inputs): layer by layer it fails on an "
                         "input of yours that differs, which this layer, done right, makes otherwise")
            mistaken = mistaken and not run_own
            # An array of zeros is what a slip whose terms are all within atol of 0 makes too (the = for += of
            # a gradient that small, a review): of the hints only the one that says why zeros is asked.
            unfilled = not np.any(theirs) and bool(np.any(ours))
            if unfilled:
                zeros.add(s.quantity)
            said = _ties_hint(p, inputs, s.quantity, theirs, hr, ha) if mistaken else ""
            if said:
                note += said
                hints.append("ties")
            said = _relu_kink_hint(p, inputs, s.quantity, theirs, hr, ha) if mistaken else ""
            if said:
                note += said
                hints.append("relu_kink")
            for kind, hint in (("mask_only", _mask_only_hint), ("no_mask", _no_mask_hint),
                               ("all_channels", _pool_channels_hint), ("some_samples", _some_samples_hint)):
                # (each of the layer's input of yours, but some_samples of the right answer itself: layer by
                # layer, inputs hold yours, a review)
                said = hint(p, quantities if kind == "some_samples" else inputs, s.quantity, theirs, hr, ha) \
                    if mistaken and not hints else ""
                if said:
                    note += said
                    hints.append(kind)
                    upstream_said[kind] = said
            # One explanation of the numbers: the bias's, else the scale's, else the axes'.
            for kind, hint in (("bias_window", lambda: _bias_hint(p, quantities, s.quantity, theirs, hr, ha)),
                               ("no_bias", lambda: _no_bias_hint(p, quantities, s.quantity, theirs, hr, ha)),
                               ("activation", lambda: _activation_hint(p, quantities, s.quantity, theirs, hr, ha)),
                               ("flipped_kernel", lambda: _flip_hint(p, quantities, inputs, s.quantity, theirs,
                                                                     hr, ha)),
                               ("stride", lambda: _stride_hint(p, inputs, s.quantity, theirs, hr, ha)),
                               ("last_term", lambda: _last_term_hint(p, inputs, s.quantity, theirs, hr, ha)
                                                     or _assigned_hint(p, inputs, s.quantity, theirs, hr, ha)),
                               ("per_sample", lambda: _last_sample_hint(p, inputs, s.quantity, theirs, hr, ha)),
                               # (one number a sample, where the batch is as large as the channels: a review)
                               ("sum_axes", lambda: _db_axes_hint(p, s.quantity, theirs.shape, inputs,
                                                                  lambda: theirs, hr, ha)),
                               ("same_split", lambda: _same_split_hint(p, inputs, s.quantity, theirs, hr, ha)),
                               ("edge_padding", lambda: _edge_padding_hint(p, inputs, s.quantity, theirs, hr, ha)),
                               ("pool_mode", lambda: _mode_hint(p, inputs, s.quantity, theirs, hr, ha)),
                               ("geometry", lambda: _setting_hint(p, inputs, s.quantity, theirs)
                                                    or _pool_window_hint(p, inputs, s.quantity, theirs, hr, ha)
                                                    or _setting_gradient_hint(p, inputs, s.quantity, theirs, hr, ha)),
                               ("scale", lambda: _scale_named(p, s.quantity, _unless_yours(
                                   _scale_hint(theirs, ours, hr, ha), layerwise, s.quantity, theirs, hr, ha))),
                               ("axis_order", lambda: _order_hint(theirs, ours, hr, ha,
                                                                  s.quantity in weights)),
                               # after the axes': a dA_prev saved with H and W swapped under a dZ alike
                               # along both is that too, and the transpose is its fix (a review)
                               ("transposed_kernel", lambda: _flip_hint(p, quantities, inputs, s.quantity, theirs,
                                                                        hr, ha, transposed=True)
                                or _channels_swapped_hint(p, quantities, inputs, s.quantity, theirs, hr, ha)),
                               ("other_inputs", lambda: _draw_order_hint(p, quantities, s.quantity, theirs,
                                                                         hr, ha, other_inputs or {}))):
                if unfilled:  # last_term's own words for zeros, at the check's tolerance (a review: at the hint's
                    # looser one, zeros were told the = slip where --atol set below its term said it was not)
                    said = _last_term_hint(p, inputs, s.quantity, theirs, rtol, atol) if kind == "last_term" else ""
                else:
                    said = hint() if mistaken else ""
                if said:
                    note += said
                    hints += [kind, "all_zeros"] if unfilled else [kind]  # (zeros: either slip; an instructor's
                    # review had a script read ['last_term'] of an array never filled)
                    # a slip of this layer's, worked out on convcli's input to it: taken back where the layer,
                    # done right, makes yours of a failed input of yours (_upstream_first; a fuzz had a right
                    # conv of a relu2.A of zeros told a padding on its top and left); not what your array is
                    # whatever made it (convcli's in another axis order, times a number: a code review had a
                    # transpose's fix taken back), nor the draw order
                    if kind not in NOT_SLIPS:
                        upstream_said[kind] = said
                    break
            if unfilled and not hints:
                note += UNFILLED + _mask_nowhere(p, s.quantity)
                hints.append("all_zeros")
        if shape != ours.shape:  # (n_C,) for (1, 1, 1, n_C): the same numbers in the same order
            note = f"compared as {ours.shape} (yours: {shape})" + (f"; {note}" if note else "")
        if not passed and held.name == "float32" and p.dtype == "float64":
            said = _float32_hint(p, theirs, ours, rounding().get(s.quantity, 0.0), saved_as=info.dtype)
            if said:
                note += said
                hints.append("float32")
        elif not passed and info.dtype.name == "float16":
            r16, a16 = _HINT_TOLERANCES[2]
            if _close(theirs, ours, r16, a16):  # convcli's, to what float16 holds
                note += (f"; yours are float16 (about 3 significant digits), and convcli's to that precision: "
                         f"--rtol {r16:g} --atol {a16:g} grades them at it")
                hints.append("float16")
        elif not passed and info.dtype.kind in "iu" and not np.array_equal(ours, np.round(ours), equal_nan=True):
            note += _integer_hint(info.dtype, theirs, ours, rtol, atol)  # (convcli's whole too: not the cause)
            hints.append("integer")
        # (not an array that is the whole run's own: on a grid of decimals already, grad: ones', it is no
        # rounding of the layer's answer made of your inputs either, a regression review)
        rounded = not passed and not hints and info.dtype.kind == "f" and not run_own
        places = _decimals(theirs, ours) if rounded else None
        # layer by layer, yours is graded on your own (rounded) inputs: it may be the whole run's rounded (a
        # learner's review: 9 of 14 arrays saved with np.round(.., 4) failed with no word of why); never where
        # yours is the whole run's numbers (run_own, at the hints' looser tolerance: on a grid already, a ReLU's
        # 0/1 mask is any rounding of itself; a review had such a right array told it was rounded)
        run_places = _decimals(theirs, whole[s.quantity]) if rounded and places is None and whole else None
        if places is not None or run_places is not None:  # (an adversarial review: a Z saved to 4 decimals was
            # blamed for what followed)
            k = places if places is not None else run_places
            note += (f"; yours is convcli's{'' if places is not None else ' (the whole run, not this layer of yours)'}"
                     f" rounded to {k} "
                     f"decimal{'s' * (k != 1)} (np.round, or a text save?): save the numbers whole, as np.save "
                     "keeps them")
            hints.append("decimals")
        # (a save in fewer bits has its hints; a big-endian save is the run's dtype, a review)
        if not passed and not hints and held.name == np.dtype(p.dtype).name:
            said = _rounding_hint(theirs, ours, abs_err, info.dtype)
            if said:
                note += said
                hints.append("rounding")
        out.append(Outcome(s.label, s.quantity, f"array {ours.shape}", f"array {shape}",
                           passed, rtol, atol, abs_err, rel_err, list(first) if first else None, note,
                           array=theirs if keep else None, dtype=info.dtype.name, **shapes,
                           values_at_first=values, hints=hints, relaid="axis_order" in hints,
                           saved_round=not passed and (places is not None or _saved_round(theirs, ours, info.dtype)),
                           graded_atol=np.broadcast_to(graded_atol, ours.shape) if np.ndim(graded_atol) else None,
                           n_differ=n_differ, worst=None if worst is None else list(worst), said=upstream_said))
    by_label = {s.label: s for s in submitted}

    def read(o: Outcome) -> np.ndarray | None:
        held = (yours or {}).get(o.quantity)  # (--each-layer has read it already, as stored)
        if held is not None and list(held.shape) == o.shape:
            return held
        s = by_label.get(o.label)
        return None if s is None else _read_or_none(s, "--against", p.max_memory)

    _geometry_notes(p, out, quantities, inputs if each_layer else None, read)
    # (layer by layer, a layer of zeros in is graded on convcli's, and said there; but zeros of another shape
    # fit no layer, whose zeros then follow from them all the same)
    _zeros_follow(p, out, zeros, quantities, read, other_shapes_only=each_layer)
    if not each_layer:
        _upstream_first(p, out, quantities, read)
    _note_causes(p, out, other_inputs or {}, each_layer)
    return out


def _geometry_notes(p: Plan, outcomes: list[Outcome], quantities: dict[str, np.ndarray],
                    inputs: dict[str, np.ndarray] | None = None,
                    read: Callable[[Outcome], np.ndarray | None] = lambda o: None) -> None:
    """A conv or pool layer's output of another height or width than
    convcli's: the padding, stride, window or dilation that gives that size
    from the layer's input (an off-by-one padding is the common cause), or
    convcli's output cut short (loops that stop one early). Where ``read``
    gives the array, each geometry of that size is run on the layer's input
    and the one whose output it is, named; a size alone fits several.
    Said where that input is known: the config's, or convcli's where the
    nearest output of yours before it has convcli's shape or there is none
    (one of another shape is the cause, left to :func:`_note_causes`); with
    ``--each-layer``, ``inputs``: what each layer took (yours). A padded
    conv's ``dA_prev`` of the padded input's shape says to crop it."""
    shapes = {o.quantity: tuple(o.shape) for o in outcomes if o.shape is not None}
    layers = p.network.layers
    each_layer = inputs is not None
    inputs = quantities if inputs is None else inputs
    for o in outcomes:
        if o.hints or o.shape is None or o.status != "fail" or o.abs_err is not None:
            continue
        said = _padded_gradient_hint(p, o.quantity, tuple(o.shape))
        if said:
            o.note += said
            o.hints.append("geometry")
            continue
        i = next((i for i, spec in enumerate(layers) if spec.output == o.quantity), None)
        if i is None or layers[i].kind not in ("conv", "pool"):
            continue
        ls = p.layer_shapes[i]
        x = inputs.get(p.layer_input(i))
        if each_layer:  # the layer ran on what it took, its output the shape it made of that
            if x is None:
                continue
            made = o.expected_shape or ls.out_shape
            ls = dataclasses.replace(ls, in_shape=tuple(x.shape), out_shape=tuple(made))
        else:  # the nearest output of yours before it (convcli's chain from the config's where none)
            j = next((j for j in range(i - 1, -1, -1) if layers[j].output in shapes), None)
            if j is not None and shapes[layers[j].output] != p.layer_shapes[j].out_shape:
                continue
        said = _geometry_hint(p, i, ls, tuple(o.shape), _Remade(p, i, ls, quantities, x, functools.partial(read, o)))
        if said:
            o.note += said
            o.hints.append("geometry")


@dataclass
class _Remade:
    """Layer ``i``'s output under other settings (``ls``: its shapes and
    resolved hyperparameters as run), and the array of the user's it is
    compared with (None: not read)."""

    p: Plan
    i: int
    ls: object
    quantities: dict[str, np.ndarray]
    x: np.ndarray | None
    load: Callable[[], np.ndarray | None]  # the user's array, read only when a setting is to be rerun

    @functools.cached_property
    def theirs(self) -> np.ndarray | None:
        return None if self.x is None else self.load()

    def matches(self, change: dict | None) -> bool:
        """Whether the user's array is what the layer makes with ``change``
        to its hyperparameters (None: convcli's output cut to its size).
        Rerun and compared a few samples at a time, at most
        ``HINT_CHUNK_BYTES`` of float64 each (compare's temporaries are
        several times that): a setting whose output it is not is told by
        its first samples, and a large batch never held twice."""
        theirs, spec = self.theirs, self.p.network.layers[self.i]
        if theirs is None or theirs.ndim != 4 or self.x.ndim != 4 or theirs.shape[0] != self.x.shape[0]:
            return False
        tol = _hint_tolerance(theirs.dtype, self.p.dtype, *self.p.tolerance)
        ours = self.quantities.get(spec.output)
        n_H, n_W = theirs.shape[1:3]
        if change is None and (ours is None or ours.ndim != 4 or n_H > ours.shape[1] or n_W > ours.shape[2]):
            return False
        # the padding as resolved for the layer (pad: same resolved again under another stride or
        # dilation would not be the padding the candidate's size was worked out with)
        hp = dict(spec.hparameters, **({"pad": list(self.ls.hyper["pad"])} if spec.kind == "conv" else {}))
        k = _hint_samples(theirs)
        for n in range(0, theirs.shape[0], k):
            if change is None:
                made = ours[n:n + k, :n_H, :n_W]
            else:
                try:  # an input of yours (--each-layer) may not fit the layer
                    if spec.kind == "conv":
                        W, b = self.quantities.get(spec.W), self.quantities.get(spec.b)
                        if W is None or b is None:
                            return False
                        made, _ = conv_forward(self.x[n:n + k], W, b, dict(hp, **change), engine=self.p.engine)
                    else:
                        made, _ = pool_forward(self.x[n:n + k], dict(hp, **change), mode=spec.mode,
                                               engine=self.p.engine)
                except ValueError:
                    return False
            if made.shape != theirs[n:n + k].shape or not _close(theirs[n:n + k], made, *tol):
                return False
        return True


def _close(got, expected, rtol: float, atol: float) -> bool:
    """``compare(...)[0]`` (the hints ask only that), without its errors and
    their array-sized temporaries: within tolerance of a finite expected
    value, or the same NaN or infinity. An array that is not is most often
    told by its first elements (a hint's guess at a wrong 400 MB array took
    2.3 s whole)."""
    got = np.asarray(got)
    exp = np.asarray(expected)
    if got.shape != exp.shape or got.size == 0:  # (never passes vacuously, as compare)
        return False
    flat_got, flat_exp = got.reshape(-1), exp.reshape(-1)
    head = min(flat_got.size, CLOSE_HEAD)
    # (an atol of each element's own, float32's allowance: cut as the arrays are)
    flat_atol = np.broadcast_to(atol, exp.shape).reshape(-1) if np.ndim(atol) else None
    first, rest = (atol, atol) if flat_atol is None else (flat_atol[:head], flat_atol[head:])
    return _close_flat(flat_got[:head], flat_exp[:head], rtol, first) and (
        head == flat_got.size or _close_flat(flat_got[head:], flat_exp[head:], rtol, rest))


def _close_flat(got: np.ndarray, exp: np.ndarray, rtol: float, atol: float) -> bool:
    got, exp = got.astype(np.float64, copy=False), exp.astype(np.float64, copy=False)
    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.isfinite(exp)
        ok = (np.abs(got - exp) <= atol + rtol * np.abs(exp)) & finite
        if ok.all():
            return True
        same = (np.isnan(got) & np.isnan(exp)) | (np.isinf(got) & (got == exp))
        return bool(np.all(ok | same))


# The elements _close tries first.
CLOSE_HEAD = 1 << 16


# The float64 bytes of the user's array :class:`_Remade` compares at a time.
HINT_CHUNK_BYTES = 16 << 20


def _setting_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray) -> str:
    """For a conv or pool layer's output of convcli's shape that differs:
    the other setting of the layer (a pool's window 3 for 2 at stride 2 on 7
    rows makes 3 rows either way) whose output it is, rerun on the layer's
    input."""
    for i, spec in enumerate(p.network.layers):
        if spec.kind not in ("conv", "pool") or q != spec.output:
            continue
        x = quantities.get(p.layer_input(i))
        if x is None:
            return ""
        ls = dataclasses.replace(p.layer_shapes[i], in_shape=tuple(x.shape), out_shape=tuple(theirs.shape))
        return _geometry_hint(p, i, ls, tuple(theirs.shape), _Remade(p, i, ls, quantities, x, lambda: theirs),
                              same_size=True)
    return ""


def _setting_gradient_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
                           atol: float) -> str:
    """For a conv layer's dA_prev or dW, or a pool's dA_prev, of convcli's
    shape that differs: the other setting of the layer, of convcli's output
    size, whose gradient it is (an instructor's review: a Z of pad [2, 0, 2,
    0] for 'same' was told so, and the dA_prev and dW the same padding
    made, nothing). Rerun a few samples at a time (dW summed over them)."""
    for i, spec in enumerate(p.network.layers):
        grads = {f"{spec.name}.dA_prev": 0, f"{spec.name}.dW": 1} if spec.kind == "conv" else \
            {f"{spec.name}.dA_prev": 0} if spec.kind == "pool" else {}
        if q not in grads:
            continue
        x, g = quantities.get(p.layer_input(i)), quantities.get(p.incoming_gradient(i))
        ls = p.layer_shapes[i]
        if x is None or g is None or x.ndim != 4 or g.ndim != 4 or tuple(g.shape) != tuple(ls.out_shape) or \
                x.shape[0] != g.shape[0]:
            return ""
        hp = dict(spec.hparameters, **({"pad": list(ls.hyper["pad"])} if spec.kind == "conv" else {}))
        k = _hint_samples(x)
        for what, change, cfg, n in _settings(p, i, ls):
            if n != tuple(ls.out_shape[1:3]):
                continue
            total = None
            try:
                for n0 in range(0, x.shape[0], k):
                    if spec.kind == "conv":
                        _, cache = conv_forward(x[n0:n0 + k], quantities[spec.W], quantities[spec.b],
                                                dict(hp, **change), engine=p.engine)
                        made = conv_backward(g[n0:n0 + k], cache)[grads[q]]
                    else:
                        _, cache = pool_forward(x[n0:n0 + k], dict(hp, **change), mode=spec.mode, engine=p.engine)
                        made = pool_backward(g[n0:n0 + k], cache, mode=spec.mode)
                    if grads[q] == 0:  # a sample's dA_prev is its own: told by the first samples
                        if made.shape != theirs[n0:n0 + k].shape or not _close(theirs[n0:n0 + k], made, rtol, atol):
                            break
                    else:
                        total = made.astype(np.float64) if total is None else total + made
                else:
                    if grads[q] == 0 or (total.shape == theirs.shape and _close(theirs, total, rtol, atol)):
                        return (f"; yours is the gradient {what} makes (of {spec.name}'s input and upstream "
                                f"gradient); the config's {cfg}")
            except (ValueError, KeyError):
                continue
        return ""
    return ""


def _padded_gradient_hint(p: Plan, q: str, shape: tuple[int, ...]) -> str:
    """A padded conv layer's ``dA_prev`` of its padded input's shape: the
    padding's gradient not cropped off (the notebook's ``dA_prev_pad``).
    Or empty along H or W where that side's pad is 0: the notebook's crop
    ``dA_prev_pad[:, pad:-pad, pad:-pad, :]`` is ``[0:-0]`` there, nothing
    (DESIGN: "the pad:-pad slice breaks at pad 0")."""
    for spec, ls in zip(p.network.layers, p.layer_shapes):
        if spec.kind != "conv" or q != f"{spec.name}.dA_prev":
            continue
        t, b, l, r = ls.hyper["pad"]
        m, H, W, C = ls.in_shape
        cut = (m, 0 if b == 0 else H, 0 if r == 0 else W, C)
        if shape == cut and 0 in cut[1:3]:
            axes = " and ".join(a for a, n in zip(("H", "W"), cut[1:3]) if n == 0)
            return (f"; empty along {axes}: a crop [p:-q] with q = 0 is empty (the notebook's "
                    "dA_prev_pad[:, pad:-pad, pad:-pad, :] at pad 0); crop with [pad:pad + n_H_prev] and "
                    "[pad:pad + n_W_prev] (at pad 0, not at all)")
        if not any(ls.hyper["pad"]):
            continue
        rows, cols = f"{t}:{-b if b else ''}", f"{l}:{-r if r else ''}"
        if shape == (m, H + t + b, W + l + r, C):
            return (f"; {fmt_shape(shape)} is {spec.name}'s padded input: crop the padding off the gradient, "
                    f"dA_prev_pad[:, {rows}, {cols}, :]")
        if shape == (m, H + 2 * (t + b), W + 2 * (l + r), C):  # (zero_pad(dA_prev_pad, pad): a learner's review)
            return (f"; {fmt_shape(shape)} is the size of {spec.name}'s input padded twice (zero_pad of the padded "
                    f"gradient?): its padding is cropped off, not added again, dA_prev_pad[:, {rows}, {cols}, :]")
        if (len(shape) == 4 and (shape[0], shape[3]) == (m, C) and H <= shape[1] <= H + t + b
                and W <= shape[2] <= W + l + r and shape[1:3] != (H, W)):
            # cropped on one side only, or by less than the pad (an instructor's review: no hint at all)
            extra = " and ".join(f"{n} {what}{'s' * (n != 1)}" for n, what in
                                 ((shape[1] - H, "row"), (shape[2] - W, "column")) if n)
            return (f"; {fmt_shape(shape)} is {extra} more than {spec.name}'s input and less than its padded "
                    f"input, {fmt_shape((m, H + t + b, W + l + r, C))}: crop all of the padding off the gradient, "
                    f"each side's, dA_prev_pad[:, {rows}, {cols}, :]")
    return ""


def _hint_samples(a: np.ndarray) -> int:
    """Samples a hint reruns or compares at a time: at most HINT_CHUNK_BYTES
    of float64 each (compare's temporaries are several times that)."""
    return max(1, HINT_CHUNK_BYTES // max(1, 8 * math.prod(a.shape[1:])))


def _ceil_inside(p: Plan, spec, ours, remade: _Remade) -> bool:
    """Whether the user's pool output, of PyTorch's ceil_mode size, is
    convcli's where its windows lie inside the input (a few samples at a
    time, as _Remade.matches)."""
    theirs, mine = remade.theirs, remade.quantities.get(spec.output)
    if theirs is None or mine is None or theirs.ndim != 4 or theirs.shape[0] != mine.shape[0]:
        return False
    tol = _hint_tolerance(theirs.dtype, p.dtype, *p.tolerance)
    k = _hint_samples(theirs)
    return all(_close(theirs[n:n + k, :ours[1], :ours[2]], mine[n:n + k], *tol) for n in range(0, theirs.shape[0], k))


def _padded_pool_hint(p: Plan, spec, ls, shape: tuple[int, ...], remade: _Remade, of: str) -> tuple[str, bool]:
    """A pool's output of PyTorch's ``padding=k`` (k up to half the window,
    as PyTorch allows): said, and whether it is that output (an average
    pool's padding zeros counted in its means, count_include_pad's default;
    a max pool's -inf), or "" where no padding makes its size (an
    instructor's review: a padded pool was sent to ceil_mode "in size only");
    and whether it is."""
    _, H, W, _ = ls.in_shape
    (f_H, f_W), (s_H, s_W) = ls.hyper["f"], ls.hyper["stride"]
    for k in range(1, min(f_H, f_W) // 2 + 1):
        size = (hparams.output_size(H, k, k, f_H, s_H), hparams.output_size(W, k, k, f_W, s_W))
        if size != tuple(shape[1:3]):
            continue
        theirs, x = remade.theirs, remade.x
        readable = theirs is not None and x is not None and theirs.ndim == 4 and theirs.shape[0] == x.shape[0]
        # the average's zeros counted in each mean (count_include_pad=True, PyTorch's default) or not
        # (False: each mean over the window's elements inside the input; a review had it "in size only")
        made = {"counted": readable, "not counted": readable and spec.mode == "average"}
        if readable:
            tol = _hint_tolerance(theirs.dtype, p.dtype, *p.tolerance)
            n = _hint_samples(x)
            hp = {"f": [f_H, f_W], "stride": [s_H, s_W]}
            sides = ((0, 0), (k, k), (k, k), (0, 0))
            share = (pool_forward(np.pad(np.ones((1, *x.shape[1:])), sides), hp, mode="average")[0]
                     if spec.mode == "average" else None)  # each window's share inside the input
            for i in range(0, x.shape[0], n):
                part = x[i:i + n].astype(np.float64)
                with np.errstate(invalid="ignore", divide="ignore"):
                    out, _ = pool_forward(np.pad(part, sides, constant_values=0.0 if spec.mode == "average"
                                                 else -np.inf), hp, mode=spec.mode, engine=p.engine)
                    made = {"counted": made["counted"] and _close(theirs[i:i + n], out, *tol),
                            "not counted": made["not counted"] and _close(theirs[i:i + n], out / share, *tol)}
                if not any(made.values()):
                    break
        torch = "avg_pool2d" if spec.mode == "average" else "max_pool2d"
        said = (" (in size only: yours is not its output)" if not any(made.values())
                else " (yours is its output)" if spec.mode != "average"
                else " (yours is its output, its zeros counted in each mean)" if made["counted"]
                else " (yours is its output with count_include_pad=False, each mean over the window inside the input)")
        return (f"; {fmt_shape(shape)} is what PyTorch's {torch}(..., padding={k}) makes of {of}{said}"
                "; convcli's pools take no padding"), any(made.values())
    return "", False


def _ceil_mode_size(H: int, W: int, f, s) -> tuple[int, int]:
    """A pool's output size under PyTorch's ``ceil_mode=True`` (no padding):
    ceil((n - f) / s) + 1, less one where the last window would start past
    the input (PyTorch's pooling_output_shape)."""
    def one(n, f, s):
        out = -(-(n - f) // s) + 1
        return out - 1 if (out - 1) * s >= n else out
    return one(H, f[0], s[0]), one(W, f[1], s[1])


def _layer_setting(p: Plan, i: int, ls) -> tuple:
    """Layer ``i``'s spec, input height and width, window, stride, dilation,
    padding (4 sides), whether it is a conv and whether its stride is given
    (``ls``: its shapes and resolved hyperparameters as run)."""
    spec = p.network.layers[i]
    _, H, W, _ = ls.in_shape
    return (spec, H, W, tuple(ls.hyper["f"]), tuple(ls.hyper["stride"]), tuple(ls.hyper.get("dilation", [1, 1])),
            list(ls.hyper.get("pad", [0, 0, 0, 0])), ls.kind == "conv", "stride" in spec.hparameters)


def _settings(p: Plan, i: int, ls) -> list[tuple[str, dict, str, tuple[int, int]]]:
    """The other settings of layer ``i`` (``ls``: its shapes and resolved
    hyperparameters as run) a slip may have given it, the likeliest first:
    (what, the change to its hyperparameters, the config's, the output
    size it makes of the input)."""
    spec, H, W, (f_H, f_W), (s_H, s_W), (d_H, d_W), pad, conv, given_stride = _layer_setting(p, i, ls)

    def size(pad4=pad, s=(s_H, s_W), d=(d_H, d_W), f=(f_H, f_W)):
        t, b, l, r = pad4
        return (hparams.output_size(H, t, b, f[0], s[0], d[0]), hparams.output_size(W, l, r, f[1], s[1], d[1]))

    # (what, the change to the layer's hyperparameters, the config's, the output size), the likeliest
    # slip first: a dilated layer's its dilation, a strided one's its stride (a loop stepping by 1), a
    # stride-1 layer's its padding; a pool's window; a dilation where the config has none
    written = spec.hparameters.get("pad", 0)  # the config's as written: 1, [1, 2], same (0 for a pool: unused)
    written = (f"{written} ({pad[0] if len(set(pad)) == 1 else pad})" if isinstance(written, str)
               else written if hparams.is_int(written) else list(written))
    # the same pad on every side up to twice the kernel, then (a review: np.pad on one side made
    # "the loops ... stop short", on one axis nothing) on one side of each axis or on one axis only
    sides = {"top and left only": (1, 0, 1, 0), "bottom and right only": (0, 1, 0, 1),
             "rows only, none on the columns": (1, 1, 0, 0), "columns only, none on the rows": (0, 0, 1, 1)}
    pads = [(f"pad {k}", {"pad": k}, f"pad is {written}", size([k] * 4))
            for k in range(0, 2 * max(f_H, f_W) + 1) if conv and [k] * 4 != pad]
    pads += [(f"pad {[k * x for x in unit]} ({where})", {"pad": [k * x for x in unit]}, f"pad is {written}",
              size([k * x for x in unit])) for k in range(1, max(f_H, f_W) + 1) for where, unit in sides.items()
             if conv and [k * x for x in unit] != pad]
    strides = [(f"stride {k}", {"stride": k}, f"stride is {s_H}", size(s=(k, k)))
               for k in sorted({1, 2, 3, f_H} - {s_H}) if s_H == s_W]
    # the two swapped, {"stride": pad, "pad": stride} (a learner's review: told "pad 6 ... in size only")
    swapped = [(f"stride {pad[0]} and pad {s_H} (the two swapped)", {"stride": pad[0], "pad": s_H},
                f"stride is {s_H} and pad is {written}", size([s_H] * 4, s=(pad[0], pad[0])))
               for _ in [0] if conv and s_H == s_W and len(set(pad)) == 1 and pad[0] >= 1 and pad[0] != s_H
               and not isinstance(spec.hparameters.get("pad", 0), str)]  # (a "same" has no number to swap)
    windows = [(f"f {k}", {"f": k}, f"f is {f_H}", size(f=(k, k), s=(s_H, s_W) if given_stride else (k, k)))
               for k in range(1, max(f_H, 3) + 2) if not conv and f_H == f_W and k != f_H]
    # the dilation of the kernel's axes of more than one tap (a 1-tap axis resolves to 1 whatever is given)
    taps = {d for d, f in ((d_H, f_H), (d_W, f_W)) if f > 1} if conv else set()
    dilated = max(taps, default=1) > 1
    tried = {1, 2, 3} - taps if len(taps) == 1 else {1} if dilated else set()
    dilations = [(f"dilation {k}", {"dilation": k}, f"dilation is {spec.hparameters.get('dilation', 1)}",
                  size(d=(k, k))) for k in sorted(tried)]
    order = ((dilations if dilated else []) + swapped + (strides + pads if (s_H, s_W) != (1, 1) else pads + strides)
             + windows + ([] if dilated else dilations))
    return order


def _geometry_hint(p: Plan, i: int, ls, shape: tuple[int, ...], remade: _Remade, same_size: bool = False) -> str:
    """The settings under which layer ``i`` (``ls``: its shapes as run)
    makes an output of ``shape`` of its input, or convcli's output cut
    short, or ``""``: the one whose output the user's array is, where it is
    read; else every one of that size, the likeliest slip first. With
    ``same_size`` (an array of convcli's shape), only a setting whose output
    it is."""
    ours = ls.out_shape
    if len(shape) != 4 or (shape[0], shape[3]) != (ours[0], ours[3]) or (shape[1:3] == ours[1:3]) != same_size:
        return ""
    spec, H, W, (f_H, f_W), (s_H, s_W), (d_H, d_W), pad, conv, given_stride = _layer_setting(p, i, ls)
    order = _settings(p, i, ls)
    sized = [(what, change, cfg) for what, change, cfg, n in order if n == tuple(shape[1:3])]
    of = f"{ls.name}'s input {fmt_shape(ls.in_shape)}"
    default = " (a pool's stride is its f unless given)" if not conv and not given_stride else ""
    # the settings whose output the array is: the cause, named alone (several, where the input cannot tell
    # them apart: zeros, a constant)
    matched = [(what, change, cfg) for what, change, cfg in sized if remade.matches(change)]
    short = [a - b for a, b in zip(ours[1:3], shape[1:3])]

    def formula() -> str:  # the output size formula without its + 1
        return f"the output size is {size_formula()}, the + 1 for the first window"

    def size_formula(axis: int = 0) -> str:
        extent = "f" if (d_H, d_W) == (1, 1) else "dilation * (f - 1) - 1"
        padded = (" + pad_top + pad_bottom", " + pad_left + pad_right")[axis] if conv else ""
        return f"floor(({('n_H_prev', 'n_W_prev')[axis]}{padded} - {extent}) / stride) + 1"

    def loops() -> str:
        return ("the loops over h and w stop short of n_H and n_W" if min(short) > 0
                else "the loop over h stops short of n_H" if short[0] else "the loop over w stops short of n_W")

    def left_out(axis: int) -> list[str]:
        """What the array's size along one axis (0: rows, 1: columns) leaves out of the output size."""
        n, ours_n = shape[1 + axis], ours[1 + axis]
        padded = conv and any(pad[2 * axis:2 * axis + 2])
        bare = hparams.output_size((H, W)[axis], 0, 0, (f_H, f_W)[axis], (s_H, s_W)[axis], (d_H, d_W)[axis])
        return ([what for what, size_ in (("its + 1", ours_n - 1), ("its padding", bare),
                                          ("its + 1 and its padding", bare - 1)) if n == size_]
                if padded else ["its + 1"] if n == ours_n - 1 else [])

    def sized_wrong() -> list[str]:
        """The output size worked out without its + 1 or without the padding, or both (a review: a stride-1
        layer's n_H without its 2 * pad was told only of the loops), where either makes the array's size;
        on one axis alone where the other is whole (a later review: n_W's formula alone slipped)."""
        rows, cols = left_out(0), left_out(1)
        if short[0] and short[1]:
            # the slips that make both axes' sizes (a review: with one axis padded, its + 1 left out makes
            # the size its padding left out does, and the other axis's + 1 went unsaid)
            both = [what for what in rows if what in cols]
            if not both:
                return []
            said = "the + 1 for the first window" if both == ["its + 1"] else " or ".join(both)
            return [f"the output size is {size_formula()}, {said} left out"]
        axis = 0 if short[0] else 1
        which = (rows, cols)[axis]
        if not which:
            return []
        said = "the + 1 for the first window" if which == ["its + 1"] else " or ".join(which)
        return [f"the output {('height', 'width')[axis]} n_{'HW'[axis]} is {size_formula(axis)}, {said} left out"]

    def cut_short(causes: list[str]) -> str:
        alike = f", which {len(causes)} slips make alike" if len(causes) > 1 else ""
        return f"; yours are convcli's first {shape[1]}x{shape[2]} outputs of {fmt_shape(ours)}{alike}: " + \
            "; or ".join(causes)

    if (matched and not same_size and all(w.endswith("only)") for w, _, _ in matched) and min(short) >= 0
            and remade.matches(None)):
        # padding on one side only makes convcli's output cut short, as loops that stop short do (an
        # instructor's review: a strided layer's n_H without its + 1 was told only of the padding)
        return cut_short(sized_wrong() + [loops()] + [
            f"yours is what {' or '.join(w for w, _, _ in matched)} makes of {of} (the config's "
            f"{', '.join(dict.fromkeys(cfg for _, _, cfg in matched))})"])
    if matched:
        return (f"; {'yours' if same_size else fmt_shape(shape)} is what {' or '.join(w for w, _, _ in matched)} "
                f"makes of {of}; the config's {', '.join(dict.fromkeys(cfg for _, _, cfg in matched))}"
                + (default if any(w.startswith("stride") for w, _, _ in matched) else ""))
    if same_size:
        return ""
    padded_pool, exact = ("", False) if conv else _padded_pool_hint(p, spec, ls, shape, remade, of)
    if exact:
        return padded_pool
    ceil_mode = not conv and tuple(shape[1:3]) == _ceil_mode_size(H, W, (f_H, f_W), (s_H, s_W)) != tuple(ours[1:3])
    inside = ceil_mode and _ceil_inside(p, spec, ours, remade)
    if padded_pool and not inside:
        return padded_pool + ("; or PyTorch's ceil_mode=True makes it (in size only too)" if ceil_mode else "")
    if ceil_mode:
        # PyTorch's ceil_mode=True (a semantics review: a bare 'shape ... expected ...'): where the
        # user's windows inside the input are convcli's, said so
        return (f"; {fmt_shape(shape)} is what PyTorch's ceil_mode=True makes of {ls.name}'s input "
                f"{fmt_shape(ls.in_shape)}: its last windows hang over the edge"
                + (" (yours are convcli's outputs and those)" if inside
                   else " (in size only: the windows inside the input are not convcli's)")
                + "; convcli's output size is floor((n_H_prev - f) / stride) + 1 (ceil_mode=False)")
    cut = min(short) >= 0 and remade.matches(None)
    if cut:  # (loops that stop short make any of these too: a review had only the + 1 named)
        return cut_short(sized_wrong() + [loops()])
    slips = sized_wrong() if min(short) >= 0 and 0 in shape[1:3] else []
    if slips:  # no outputs on an axis: its size's slip (a review: a learner's n_H of 0, the + 1 left out of
        # one output row, was told nothing)
        return f"; {fmt_shape(shape)} holds no outputs: " + "; or ".join(slips)
    if short == [1, 1] and not sized:  # the output size formula without its + 1
        return f"; {fmt_shape(shape)} is a row and a column short of {fmt_shape(ours)}: {formula()}"
    if not sized:
        return ""
    checked = ("" if remade.theirs is None else " (in size only: yours is not its output)" if len(sized) == 1
               else " (in size only: yours is none of their outputs)")
    cfgs = list(dict.fromkeys(cfg for _, _, cfg in sized))
    return (f"; {fmt_shape(shape)} is what {' or '.join(w for w, _, _ in sized)} makes of {of}{checked}; "
            f"the config's {', '.join(cfgs)}" + (default if any(w.startswith("stride") for w, _, _ in sized) else ""))


def _atol_dominates(ours: np.ndarray, rtol: float, atol: float) -> str:
    """For an array that passed: whether it would have passed whatever it
    held, every |value| of convcli's within ``atol`` of 0, so that an array
    of zeros (a backward never written) passes too (an instructor's review:
    float32's default atol 1e-5 against gradients of 1e-6 passed zeros and a
    flipped sign, rel err 1.00). Says so, and the --atol at the array's
    scale (rtol of its largest value). An array of zeros (its right answer)
    is left alone, and so is one holding a NaN or an infinity (where zeros
    fail)."""
    if not ours.size or not np.isfinite(ours).all():  # (zeros fail where convcli's is NaN or infinite: a review)
        return ""
    largest = float(np.abs(ours).max())
    if largest == 0.0 or largest > atol:
        return ""
    suggest = float(f"{max(rtol, np.finfo(np.float64).eps) * largest:.0e}")
    return (f"every |value| of convcli's is within atol ({atol:g}) of 0 (the largest is {largest:.3g}), so an "
            f"array of zeros would pass too: --atol {suggest:g} grades at this array's scale")


def _allowance_dominates(ours: np.ndarray, rtol: float, graded_atol) -> str:
    """For a float32 array that passed with float32's allowance on top of
    the tolerance (:func:`float32_rounding`): whether an array of zeros would
    have passed too, every value of convcli's within its element's allowance
    of 0. No ``--atol`` lifts the allowance: a float32 run cannot grade such
    an array (its terms round by more than it holds), a float64 run can."""
    if not ours.size or not np.isfinite(ours).all() or not np.any(ours):
        return ""
    if not _close(np.zeros_like(ours), ours, rtol, graded_atol):
        return ""
    largest = float(np.abs(ours).max())
    return (f"every |value| of convcli's is within float32's rounding of its terms of 0 (the largest is "
            f"{largest:.3g}, allowed up to {float(np.max(graded_atol)):.3g}), so an array of zeros would pass "
            "too: float32 cannot grade this array (its terms round by more than it holds); a float64 array against "
            "a float64 run (--dtype float64) can be graded")


# A difference this many units of the last place of an array's largest
# magnitude is rounding: sums of a few hundred terms of that size, added in
# another order, differ by that much; a mistake moves values by their own size.
ROUNDING_ULPS = 8


def _rounding_hint(theirs: np.ndarray, ours: np.ndarray, abs_err: float, dtype: np.dtype) -> str:
    """For an array that fails only by differences at the rounding of its own
    largest values (float32 sums of large terms that cancel to small
    results, where a fixed atol is tighter than the arithmetic): say so, and
    the --atol at that scale."""
    finite = np.abs(ours[np.isfinite(ours)])
    if not finite.size or not math.isfinite(abs_err) or abs_err == 0:
        return ""
    scale = float(finite.max())
    eps = float(np.finfo(dtype).eps)
    bound = ROUNDING_ULPS * eps * scale
    if abs_err > bound:
        return ""
    # rounding goes either way: a difference of one sign across a channel (a bias left out, however
    # small) is a mistake
    with np.errstate(invalid="ignore", over="ignore"):
        diff = (np.asarray(theirs, dtype=np.float64) - ours).reshape(-1, ours.shape[-1] if ours.ndim else 1)
        diff[~np.isfinite(diff)] = 0.0  # (NaN where both are NaN: no difference)
        means = np.abs(diff.mean(axis=0))
    if means.max() > abs_err / 2:
        return ""
    suggest = float(f"{bound:.0e}")
    suggest = suggest if suggest >= bound else suggest * 2  # (rounded down: twice)
    return (f"; the differences are {np.dtype(dtype).name} rounding at this array's scale (its largest is {scale:.4g}; "
            f"{abs_err:.2g} is {abs_err / scale:.1g} of it): --atol {suggest:g} grades at that scale")


def _integer_hint(dtype: np.dtype, theirs, ours, rtol: float, atol: float) -> str:
    """A failed array of integers: whole numbers cannot hold convcli's, and
    whether it is convcli's cut or rounded to them (an ``astype(int)``, or a
    float array built with ``np.zeros(shape, dtype=int)`` and filled)."""
    with np.errstate(invalid="ignore", over="ignore"):
        for how, whole in (("cut", np.trunc), ("rounded", np.round)):
            if _close(theirs, whole(ours), rtol, atol):
                return (f"; yours are {dtype.name}: convcli's {how} to whole numbers (an array made or cast "
                        f"with an integer dtype keeps no fractions; save it as floats)")
    return f"; yours are {dtype.name}: whole numbers, which cannot hold convcli's (save it as floats)"


def _in_layout(p: Plan, q: str, source: Source, base_dir: Path, shape, shown: str | None = None) -> np.ndarray | None:
    """A user's array of quantity ``q`` in convcli's ``shape``, as stored;
    None when it cannot be read or is in another layout."""
    try:
        info = arrays.probe(source, base_dir, "--against", shown)
        if not same_layout(p, q, info.shape, shape):
            return None
        return arrays.read_file(source, base_dir, "--against", p.max_memory, shown=shown).reshape(shape)
    except ConvcliError:
        return None


def read_yours(submitted: list[Submitted], p: Plan, quantities: dict[str, np.ndarray],
               laid: dict[str, tuple[int, ...]] | None = None,
               relaid: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The user's arrays that can be read, as stored: in convcli's shape
    where they have their quantity's layout, else a layer's output or
    gradient of another 4-D shape (``--each-layer`` runs the next layer on
    it, which may take it: a conv output with the padding off by one is a
    ReLU's input all the same). Others fail on their own in
    :func:`evaluate_against`. One of convcli's numbers with its axes in
    another order (NCHW; square maps with as many channels keep their shape)
    is a layout mistake, said as one, and no input of the next layer as
    stored: its transpose goes in ``relaid`` (the numbers are yours, for the
    next layer to take); one of convcli's sizes in another order whose no
    transpose is convcli's numbers is left out, its shape put in ``laid``."""
    found = {}
    for s in submitted:
        want, ours = quantities[s.quantity].shape, quantities[s.quantity]
        maps = p.roles.get(s.quantity) in ("output", "gradient")
        a = _in_layout(p, s.quantity, s.source, s.base_dir, want)
        if a is not None and maps and a.ndim == 4 and len(set(want[1:])) < 3 and a.dtype.kind in "iuf":
            tol = _hint_tolerance(a.dtype, p.dtype, *p.tolerance)
            order = None if _close(a, ours, *tol) else _order_of(a, ours, *tol, weights=False)
            if order is not None and relaid is not None:
                relaid[s.quantity] = a.transpose(order)
        if a is None and maps:
            try:
                info = arrays.probe(s.source, s.base_dir, "--against")
                if len(info.shape) == 4 and info.dtype.kind in "iuf":
                    a = arrays.read_file(s.source, s.base_dir, "--against", p.max_memory)
                    if sorted(info.shape) == sorted(want):
                        tol = _hint_tolerance(a.dtype, p.dtype, *p.tolerance)
                        order = _order_of(a, ours, *tol, weights=False)
                        if order is not None and relaid is not None:
                            relaid[s.quantity] = a.transpose(order)
                        elif order is None and laid is not None:
                            laid[s.quantity] = tuple(info.shape)
                        a = None
            except ConvcliError:
                a = None
        if a is not None:
            found[s.quantity] = a
    return found


def each_layer(p: Plan, quantities: dict[str, np.ndarray], yours: dict[str, np.ndarray],
               backward: bool, laid: dict[str, tuple[int, ...]] | None = None,
               relaid: dict[str, np.ndarray] | None = None, given: set[str] | None = None,
               zeros_of_yours: set[str] | None = None,
               made_of_refused: dict[str, tuple[np.ndarray, str]] | None = None
               ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, str],
                          dict[str, tuple[np.ndarray, list[str]]]]:
    """``check --against --each-layer``: every layer rerun on the user's own
    input to it (their previous layer's output, where they gave it) and, for
    its gradients, their own upstream gradient (the next layer's dA_prev, or
    under grad: output their last output), as the notebook's tests check one
    function at a time. Where they gave no (readable) array, a layer takes
    what the layers around it made from theirs. What the config gives (its
    inputs, W and b, the upstream gradient) is the config's, never a copy
    among theirs: a submission made self-consistently from other inputs
    (zeros everywhere) must not pass. An array of theirs of another shape is
    taken where the layer can take it (its results then have the shapes it
    makes of it); where neither it nor what the layers before made of it
    fits, the layer takes the whole run's array, and that is said; so is
    one of theirs in another axis order (``laid``, of :func:`read_yours`).
    One of theirs that is convcli's numbers in another order (``relaid``:
    its transpose, their numbers in convcli's layout) is taken transposed,
    as the whole run grades what follows from it; where the stored array
    fits the layer too (square maps with as many channels), as stored only
    if their own result of the layer is what it makes of that and not of
    the transpose (a pipeline NCHW throughout). A layer's backward on an
    upstream gradient that is not theirs because they gave none (or one in
    ``given``, the quantities they submitted, that could not be read) says
    so on the gradients graded on it, as one refused does.
    An array of theirs that is the rerun's to the tolerance, or to its
    precision, stands for the rerun's; one that passes at the tolerance but
    is off by more than INEXACT of it (:func:`_inexact`), or into a max
    pool, not exactly it, is also run on as saved by the layer that takes
    it, and what that makes of it is the other answer its results may be (a
    learner's float32 Z, and a backward right for it; a float64 one an ulp
    off convcli's, whose max pool broke a tie otherwise).
    ``zeros_of_yours``, where given, gets the quantities graded on convcli's
    input in place of one of theirs the layer makes zeros of (zeros, or a
    Z all negative into a ReLU): an array of zeros of theirs is right for
    theirs there, no unfilled array. ``made_of_refused``, where given, gets
    per quantity graded on convcli's input in place of one of theirs that
    tests nothing, what the layer makes of theirs and its name: an array
    of theirs that is it is right for their input (a learner's review: a
    conv4.Z right for a pool3.A of zeros was told only that it was graded
    on convcli's).
    Returns ``(reference, inputs, notes, alternates)``: convcli's results layer by
    layer, what each layer took, per quantity graded on another array
    than the user's, the note that says so, and per quantity of a layer that
    took arrays of theirs as the rerun's, (what it makes of them as saved,
    their names)."""
    layers = p.network.layers
    reference, taken = dict(quantities), dict(quantities)
    notes: dict[str, str] = {}
    saved: dict[str, np.ndarray] = {}  # theirs taken as the rerun's, as stored (in the run's dtype)
    alternates: dict[str, tuple[np.ndarray, list[str]]] = {}
    # a max pool's input: an ulp makes or breaks a tie, moving a window's gradient whole (an instructor's
    # review: a float64 key and convcli's own arrays from another thread setting failed pool6.dA_prev
    # layer by layer, as their relu5.A was convcli's but for last digits, which INEXACT passes over)
    ties = tie_inputs(p, set(yours))
    origin: dict[str, list[str]] = {}  # one made of theirs as saved, into a max pool: of which of theirs

    relaid = relaid or {}

    def theirs(q: str, a: np.ndarray | None = None) -> np.ndarray:
        """Theirs (``a``, one reading of it, else as stored) in the run's
        dtype, else the layers rerun on theirs (not the whole run's: that is
        the cascade, taken only where nothing else fits). Theirs that is the
        rerun's to the check's tolerance, or to the precision it was saved at
        (float32, float16, whole numbers), is taken as the rerun's: the
        layers after it are graded on the numbers it stands for, not on its
        rounding (a float32 save passed the whole run and failed layer by
        layer)."""
        stored = a is None
        a = yours.get(q) if a is None else a
        if a is None or _as_saved(a, reference[q], p):
            # the other answer only for one that passes at the check's tolerance, as stored (not a
            # transpose), past its rounding (a review: whole numbers, float16 saves, passed the layers
            # after them; a float64 loop's last digits would rerun every layer)
            if stored and a is not None and (_inexact(a, reference[q], *p.tolerance)
                                             or (q in ties and not np.array_equal(a, reference[q]))):
                saved[q] = a.astype(reference[q].dtype, copy=False)
            return reference[q]
        return a.astype(reference[q].dtype, copy=False)

    def reading(q: str, result: str, made: Callable[[np.ndarray], np.ndarray | None],
                graded: list[str], gradient: bool = False, forward: bool = False) -> np.ndarray:
        """:func:`theirs` of ``q`` for the layer that takes it (``made``: what
        it makes of an input), which grades ``graded`` on it. One in another
        axis order is taken as its transpose (convcli's numbers): where their
        ``result`` is what the layer makes of it as stored instead (square
        maps, a pipeline NCHW throughout), that is said, not taken (the
        layer's cache would hold the stored order against gradients in
        convcli's). One that tests nothing (constant, all zeros; or NaN where
        convcli's has none) is replaced by the rerun's, and said: a layer is
        right on zeros by doing nothing (a submission of zeros passed 6 of 8
        layer by layer). A ``gradient`` into a ReLU tests nothing only where
        it is zeros: its mask shows in any other constant (an instructor's
        review: a ReLU backward right on a pool gradient of 0.25 everywhere
        failed, graded on convcli's); a pool's or a conv's routing (which
        window, which channel reads which element) does not (a later review:
        a max pool backward reading g[i, w, h, 0] passed on ones)."""
        x = theirs(q) if q not in relaid else theirs(q, relaid[q])
        if q in relaid and q in yours and result in yours:
            stored = theirs(q)
            made_stored, made_x = made(stored), made(x)
            r = yours[result]
            tol = _hint_tolerance(r.dtype, p.dtype, *p.tolerance)
            if (made_stored is not None and made_stored.shape == r.shape and _close(r, made_stored, *tol)
                    and not (made_x is not None and made_x.shape == r.shape and _close(r, made_x, *tol))):
                notes[result] = notes.get(result, "") + (
                    f"; yours is what {result.split('.')[0]} makes of your {q} as you saved it, in another axis "
                    f"order: save {q} in convcli's (NHWC) and make it again")
        if x is not reference[q] and _tests_nothing(x, reference[q], gradient):
            refused(q, x, f"tests no layer (every element {float(x.flat[0])!r})", graded)
            if zeros_of_yours is not None and not forward and x.flat[0] == 0:
                zeros_of_yours.update(graded)  # a backward makes zeros of an upstream gradient of zeros
            elif zeros_of_yours is not None and forward:  # a forward, where it does (a conv makes b of zeros; a
                kept_refused(q, x, result, made(x))  # review), and its backward: below
            return reference[q]
        return x

    def whose(q: str, a: np.ndarray) -> str:
        """Whose array ``a``, taken for ``q``, is, as a note says it."""
        if q in yours:  # (or the rerun's where it is yours to tolerance: yours all the same)
            return "yours"
        if q == layers[-1].upstream and p.grad_spec != "output":
            return "the config's"
        return f"the one the layers {'after' if p.roles.get(q) == 'gradient' else 'before'} it made of yours"

    def refused(q: str, a: np.ndarray, why: str, graded: list[str]) -> None:
        for m in graded:  # a layer's forward and backward may each say one
            notes[m] = notes.get(m, "") + f"; graded on convcli's {q}: {whose(q, a)}, {fmt_shape(a.shape)}, {why}"

    def other_order(q: str, graded: list[str]) -> None:
        if q in (laid or {}) and q not in yours:
            for m in graded:
                notes[m] = notes.get(m, "") + (f"; graded on convcli's {q}: yours, {fmt_shape(laid[q])}, has its "
                                               "axes in another order (convcli's arrays are NHWC)")

    refused_x: dict[str, np.ndarray] = {}  # an input of theirs refused as testing nothing (zeros_of_yours)

    def kept_refused(q: str, x: np.ndarray, result: str, made_x: np.ndarray | None, zeros: bool = True) -> None:
        """Their input ``q``, ``x``, refused as testing nothing, kept for its
        backward below, and what the layer made of it, ``result``: among
        zeros_of_yours where zeros (and ``zeros``: not for an input the layer
        cannot tell from another's, as before this helper, a code review),
        in made_of_refused (any input that tests nothing: a review had ones
        left out)."""
        refused_x[q] = x
        if zeros and zeros_of_yours is not None and _zeros(made_x, *p.tolerance):
            zeros_of_yours.add(result)
        if made_of_refused is not None and made_x is not None:
            made_of_refused[result] = (made_x, q)
    caches = []
    saved_caches: list = []  # per layer, its cache made of its input of theirs as saved (None: not one)
    for i, spec in enumerate(layers):
        name = p.layer_input(i)
        # what an input of theirs that tests nothing, or is in another axis order, leaves ungraded: not a conv's
        # dA_prev or db, whose numbers do not follow from it (a learner's review had a conv4.db that passed told
        # it was graded on convcli's)
        following = [spec.output, *(q for q in spec.gradients if _follows_input(p, i, q))]
        if i:
            other_order(name, following)
        # the first input is the config's
        x = (reading(name, spec.output, lambda a: _layer_output(p, spec, a, quantities),
                     following, forward=True) if i else quantities[name])
        # theirs (or what the layers before made of it), else the whole run's, which fits
        attempts: list[np.ndarray] = []
        for a in (x, reference[name], quantities[name]):
            if all(a is not b for b in attempts):
                attempts.append(a)
        for attempt in attempts:
            try:
                out, cache = _layer_forward(p, spec, attempt, quantities)
            except ValueError as exc:
                if attempt is attempts[-1]:
                    raise
                if attempt is x:  # said of the first one refused (the next refused too adds nothing): not
                    # of a conv's db (a code review), whose numbers and shape follow from no input
                    refused(name, attempt, f"is no input {spec.name} takes ({str(exc).split(': ', 1)[-1]})",
                            [q for q in (spec.output, *spec.gradients) if q != f"{spec.name}.db"])
                continue
            # an input of theirs the layer makes nothing of (a ReLU's of a Z all negative: every output 0, a
            # mask of none, whatever the ReLU does; an instructor's review passed 7 of 8 layer by layer so)
            if attempt is not attempts[-1] and attempt is not quantities[name]:
                if _makes_nothing(out, quantities[spec.output], *p.tolerance):
                    if attempt is x:
                        refused(name, attempt, f"makes every element of {spec.output} within atol of 0, where "
                                               "convcli's are not: it tests nothing", following)
                        kept_refused(name, attempt, spec.output, out)
                    continue
                # or one on which the layer does what a layer of another kind would (a ReLU of a Z with no
                # element below 0 is the identity; a max pool of zeros but one element per window a sum):
                # a wrong layer passed there (an adversarial review: 7 of 8 on a Z of zeros but one element)
                other = _cannot_tell(p, spec, attempt, out, quantities[name], quantities[spec.output])
                if other:
                    if attempt is x:
                        refused(name, attempt, f"cannot tell {spec.name} from {other}, where convcli's can: it "
                                               "tests nothing", following)
                        kept_refused(name, attempt, spec.output, out, zeros=False)
                    continue
            break
        taken[name] = attempt
        if i and attempt is x and x.shape != quantities[name].shape:  # what it expects of yours follows from it
            for m in (spec.output, *spec.gradients):  # (its gradients too: a learner's review found them passing
                notes[m] = notes.get(m, "") + (  # at another shape than convcli's with nothing said)
                    f"; {spec.name} ran on {f'your {name}' if name in yours else f'the {name} made of yours'}, "
                    f"{fmt_shape(x.shape)} (convcli's: {fmt_shape(quantities[name].shape)})")
        reference[spec.output] = out
        caches.append(cache)
        saved_caches.append(None)
        if i and attempt is reference[name] and name in saved:  # and as saved: the other answer
            try:
                made, saved_caches[i] = _layer_forward(p, spec, saved[name], quantities)
                alternates[spec.output] = (made, origin.get(name, [name]))
                if spec.output in ties and spec.output not in yours:  # a ReLU's, into a max pool: as saved too
                    saved[spec.output], origin[spec.output] = made, origin.get(name, [name])
            except ValueError:  # (defensive: an input as saved has convcli's shape, which the layer takes)
                pass  # no other answer
    if not backward:
        return reference, taken, _nan_notes(p, reference, quantities, yours, notes), alternates
    for i in range(len(layers) - 1, -1, -1):
        spec = layers[i]
        if i < len(layers) - 1:  # the next layer's dA_prev
            key = f"{layers[i + 1].name}.dA_prev"
            other_order(key, list(spec.gradients))
            g = reading(key, f"{spec.name}.dA_prev", lambda a: _layer_gradient(spec, a, caches[i]),
                        list(spec.gradients), gradient=spec.kind == "relu")
        else:  # under grad: output the last output, theirs or the rerun one; else the config's
            key = spec.upstream
            g = (reading(spec.output, f"{spec.name}.dA_prev", lambda a: _layer_gradient(spec, a, caches[i]),
                         list(spec.gradients), gradient=spec.kind == "relu") if p.grad_spec == "output"
                 else quantities[key])
        source = spec.output if i == len(layers) - 1 and p.grad_spec == "output" else key
        # convcli's in place of theirs because they gave none (the config's own upstream gradient is no one's):
        # a review found conv1.dW failing layer by layer with nothing saying its dZ was convcli's
        unseen = (source != spec.upstream and source not in yours and source not in relaid
                  and source not in (laid or {}))  # (one in another axis order: other_order said so)
        shape = reference[spec.output].shape  # this layer's output as rerun on your input to it
        if g.shape != shape and i == len(layers) - 1 and p.grad_spec == "ones":
            g = np.ones(shape, dtype=g.dtype)  # ones of the output this layer makes of your input
        elif g.shape != shape:
            refused(source, g, f"does not fit {spec.output} as {spec.name} makes it, {fmt_shape(shape)}",
                    list(spec.gradients))
            if reference[key].shape != shape:  # nor does the rerun's: this layer's gradients are the whole run's
                taken[key] = quantities[key]
                reference.update({q: quantities[q] for q in spec.gradients})
                continue
            g = reference[key]
        elif unseen:  # (refused above says whose it took already)
            why = ("is unreadable or no 4-D array of numbers" if source in (given or ())
                   else "is not among your arrays")
            for m in spec.gradients:
                notes[m] = notes.get(m, "") + f"; graded on convcli's {source}: yours {why}"
        made = _layer_gradients(spec, g, caches[i])
        # a gradient of yours whose NaN make a result NaN throughout, where convcli's has numbers, tests nothing
        # of it (a learner's review: a conv1.Z with one NaN pixel, as grad: output, made every element of dW
        # NaN, and an all-NaN dW passed, error 0): graded on the rerun's, and said
        void = [q for q in spec.gradients if _all_nan(made.get(q)) and not _all_nan(quantities.get(q))]
        # and one that makes them all within atol of 0 where convcli's are not (an instructor's review: their
        # pool3.A times 1e-12, under grad: output, passed zeros for every gradient layer by layer)
        faint = [] if void else [q for q in spec.gradients if q in made and q in quantities]
        faint = faint if faint and all(_makes_nothing(made[q], quantities[q], *p.tolerance) for q in faint) else []
        fallback = reference.get(key)
        if (void or faint) and fallback is not None and fallback is not g and fallback.shape == g.shape:
            instead = _layer_gradients(spec, fallback, caches[i])
            if void and not any(_all_nan(instead.get(q)) for q in void):  # those alone (a review: a dA_prev
                refused(source, g, f"holds NaN: every element of {' and '.join(void)} made of it is NaN, "  # right
                                   "which tests nothing", void)  # for yours failed when the rest was graded on it)
                made.update({q: instead[q] for q in void})
            elif faint and not any(_makes_nothing(instead[q], quantities[q], *p.tolerance) for q in faint):
                refused(source, g, f"makes every element of {' and '.join(faint)} within atol of 0, where "
                                   "convcli's are not: it tests nothing", faint)
                if zeros_of_yours is not None:
                    zeros_of_yours.update(faint)
                made.update({q: instead[q] for q in faint})
                g = fallback  # (every gradient of the layer graded on it: the hints' input too)
        # one on which the layer's backward does what a slip's would (a gradient 0 but in the last sample's last
        # window: = for +=), where convcli's tells them apart (an adversarial review: the = slip passed on the
        # one-hot gradient a crafted Z made under grad: output)
        hyper = p.layer_shapes[i].hyper
        other = "" if void or faint or g is quantities.get(key) else _cannot_tell_back(
            p, spec, hyper, g, taken[p.layer_input(i)], made, quantities[key], quantities[p.layer_input(i)],
            quantities)
        if other:
            for instead_g in (reference.get(key), quantities.get(key)):
                if instead_g is None or instead_g is g or instead_g.shape != g.shape:
                    continue
                instead = _layer_gradients(spec, instead_g, caches[i])
                if _cannot_tell_back(p, spec, hyper, instead_g, taken[p.layer_input(i)], instead, quantities[key],
                                     quantities[p.layer_input(i)], quantities):
                    continue
                refused(source, g, f"cannot tell {spec.name}'s backward from {other}, where convcli's can: it "
                                   "tests nothing", list(spec.gradients))
                made, g = instead, instead_g
                break
        taken[key] = g
        if zeros_of_yours is not None and p.layer_input(i) in refused_x:  # what the layer makes of theirs
            try:
                _, cache = _layer_forward(p, spec, refused_x[p.layer_input(i)], quantities)
                theirs_made = _layer_gradients(spec, g, cache)
                zeros_of_yours.update(q for q, a in theirs_made.items() if _zeros(a, *p.tolerance))
                if made_of_refused is not None:  # (not a conv's db: a review had float32's told of the input)
                    made_of_refused.update({q: (a, p.layer_input(i)) for q, a in theirs_made.items()
                                            if _follows_input(p, i, q)})
            except ValueError:  # (defensive: the refused input ran forward above; a gradient that does not fit
                pass  # it has no zeros to tell of)
        reference.update(made)
        # and on theirs as saved: their upstream gradient, the cache made of their input
        names = [n for n in (p.layer_input(i) if saved_caches[i] is not None else None,
                             source if g is reference[source] and source in saved else None) if n]
        if names:
            g_saved = saved[source] if source in names else g
            try:
                made = _layer_gradients(spec, g_saved, caches[i] if saved_caches[i] is None else saved_caches[i])
                names = list(dict.fromkeys(m for n in names for m in origin.get(n, [n])))
                alternates.update({q: (a, names) for q, a in made.items()})
            except ValueError:  # (defensive: saved arrays have convcli's shapes) no other answer
                pass
    return reference, taken, _nan_notes(p, reference, quantities, yours, notes), alternates


def _nan_notes(p: Plan, reference: dict[str, np.ndarray], quantities: dict[str, np.ndarray],
               yours: dict[str, np.ndarray], notes: dict[str, str]) -> dict[str, str]:
    """``notes``, and on each of ``yours`` that :func:`each_layer` made NaN
    in part where the whole run's are numbers (a NaN of the user's input
    carried through the layer) and yours is NaN too, how many: those
    elements match NaN for NaN and test nothing (an instructor's review: a
    dW with 27 of 108 NaN passed, error 0, nothing said). Where yours is a
    number there, it fails there, as the table says."""
    for q in p.graded():
        made, whole, theirs = reference.get(q), quantities.get(q), yours.get(q)
        if made is whole or not all(isinstance(a, np.ndarray) for a in (made, whole, theirs)) \
                or not made.shape == whole.shape == theirs.shape:
            continue
        with np.errstate(invalid="ignore"):
            k = int(np.count_nonzero(np.isnan(made) & ~np.isnan(whole) & np.isnan(theirs)))
        if k:
            one = k == 1
            notes[q] = notes.get(q, "") + (
                f"; {k} of its {made.size} elements {'is' if one else 'are'} NaN in convcli's too, made of the NaN "
                f"in the input of yours the layer took (the whole run's {'is a number' if one else 'are numbers'} "
                f"there): {'it is' if one else 'they are'} not graded")
    return notes


def _all_nan(a) -> bool:
    """Whether ``a`` is an array of NaN only (None: not)."""
    return isinstance(a, np.ndarray) and a.size > 0 and bool(np.isnan(a).all())


def tie_inputs(p: Plan, given: set[str]) -> set[str]:
    """The arrays whose last digits can move a max pool's ties: each max
    pool's input and, where that is not among ``given`` (made by the layers
    from the user's arrays), the input of the layer before it, and so on
    back (through ReLUs, and a review: through a conv or an average pool
    too, whose output an input an ulp off moves as well)."""
    layers = p.network.layers
    found = set()
    for i, spec in enumerate(layers):
        if i and spec.kind == "pool" and spec.mode == "max":
            found.add(p.layer_input(i))
            j = i - 1
            while j >= 1 and p.layer_input(j + 1) not in given:
                found.add(p.layer_input(j))
                j -= 1
    return found


def _inexact(a: np.ndarray, ref: np.ndarray, rtol: float, atol: float) -> bool:
    """Whether ``a`` is ``ref`` at the tolerance, but more than INEXACT of
    the tolerance away from it somewhere: a float32 sum (6% of it at rtol
    1e-6), not a float64 loop's last digits (1e-9 of it)."""
    if a.shape != ref.shape or not _close(a, ref, rtol, atol):
        return False
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.abs(a.astype(np.float64, copy=False) - ref) - INEXACT * (atol + rtol * np.abs(ref))
        return bool(np.any(d > 0))


def _largest(a: np.ndarray) -> float:
    """The largest finite |value| of ``a`` (0.0 for none)."""
    with np.errstate(invalid="ignore"):
        finite = np.abs(a[np.isfinite(a)]) if a.size else a
        return float(finite.max()) if finite.size else 0.0


# The share of the tolerance an array of the user's that passes must be off
# by somewhere to be graded on as saved too (:func:`each_layer`).
INEXACT = 1e-4


def _as_saved_words(p: Plan, q: str, names: list[str]) -> str:
    """What a note says of ``q`` made of the user's ``names`` as saved."""
    one = len(names) == 1
    layer = q.split(".")[0]
    # (or to their dtype's precision: _as_saved takes a float16 save, which fails the tolerance; an adversarial
    # review read "to the tolerance" of one failed in the same report)
    return (f"{' and '.join(names)} as saved ({'it is' if one else 'they are'} convcli's to the tolerance or to "
            f"the precision {'it was' if one else 'they were'} saved in, not exactly): yours is what {layer}'s "
            f"{'backward' if p.roles.get(q) == 'gradient' else 'forward'} makes of {'it' if one else 'them'}")


def _as_saved_notes(p: Plan, graded: list[Outcome], submitted: list[Submitted], rerun: Callable,
                    quantities: dict[str, np.ndarray]) -> None:
    """The whole run grades each array on convcli's arrays before it. One
    that fails with nothing else to say, and is what its layer makes of the
    user's own inputs to it as saved, which pass but are not convcli's
    exactly (a learner's float32 Z, and a backward right for it: 6 of 480
    elements of dA_prev past rtol 1e-6), says so (``rerun``: :func:`each_layer`
    on the user's arrays, asked only here)."""
    # passed, off by more than INEXACT of the tolerance (at its largest value: the rerun of every layer only
    # where it may tell something, a review: a float64 loop's last digits ran it on any failure)
    ties = tie_inputs(p, {o.quantity for o in graded})  # (any difference there may move a tie: each_layer)
    close = {o.quantity for o in graded if o.passed and o.abs_err and o.quantity in quantities
             and (o.quantity in ties or o.abs_err > INEXACT * (o.atol + o.rtol * _largest(quantities[o.quantity])))}
    layers = p.network.layers
    for o in graded:
        if o.status != "fail" or o.abs_err is None or o.hints:
            continue
        i = next((i for i, spec in enumerate(layers) if o.quantity.startswith(f"{spec.name}.")), None)
        gradient = p.roles.get(o.quantity) == "gradient"
        taken = [] if i is None else [p.layer_input(i)] + ([_gradient_in(p, i)] if gradient else [])
        if not close & set(taken):  # (the rerun of every layer only where it may say so: 30% of a check's time)
            continue
        made, names = rerun()[3].get(o.quantity, (None, None))
        s = next((s for s in submitted if s.label == o.label), None)
        theirs = None if made is None or s is None else (
            o.array if o.array is not None else _read_or_none(s, "--against", p.max_memory))
        if theirs is not None and theirs.shape == made.shape and _close(theirs, made, o.rtol, o.atol):
            o.note = (o.note + f"; yours is what {o.quantity.split('.')[0]}'s "
                      f"{'backward' if p.roles.get(o.quantity) == 'gradient' else 'forward'} makes of your "
                      f"{' and '.join(names)} as saved, which pass{'es' if len(names) == 1 else ''} but "
                      f"{'is' if len(names) == 1 else 'are'} not convcli's exactly: --each-layer grades each "
                      f"layer on your own inputs").removeprefix("; ")
            o.hints.append("inputs_as_saved")


def _layer_gradients(spec, g: np.ndarray, cache) -> dict[str, np.ndarray]:
    """Layer ``spec``'s gradients of upstream gradient ``g``, by quantity."""
    return {f"{spec.name}.{k}": v for k, v in layer_backward(spec, g, cache).items()}


# _cannot_tell looks at a layer's output of at least this many elements: of fewer, a right input of
# theirs may be one the layer cannot tell from another by chance (3 windows of a ReLU's output, each
# with one element not 0: 1 in 30), where a crafted one is the rule.
CANNOT_TELL_MIN = 16


def _cannot_tell(p: Plan, spec, x: np.ndarray, out: np.ndarray, whole_x: np.ndarray,
                 whole_out: np.ndarray) -> str:
    """What another layer makes of ``x`` just what layer ``spec`` does
    (``out``), where it makes another output of convcli's input
    (``whole_x``, ``whole_out``): a ReLU no ReLU at all (an input with no
    element below 0), a max pool an average pool or a window's sum, an
    average pool a max pool (windows of one value); or ``""``."""
    rtol, atol = p.tolerance
    if out.size < CANNOT_TELL_MIN:  # (a few windows or elements are alike by chance: a right pool of 3 windows
        return ""  # failed, a fuzz of right submissions)
    if spec.kind == "relu":
        variants = [("no ReLU at all (no element of it below 0)", lambda a: a)]
    elif spec.kind == "pool":
        f_H, f_W = hparams.per_axis(spec.hparameters["f"], "f")
        other = "average" if spec.mode == "max" else "max"

        def pooled(a: np.ndarray) -> np.ndarray:
            return pool_forward(a, dict(spec.hparameters), mode=other, engine=p.engine)[0]

        variants = [(f"{'an' if other == 'average' else 'a'} {other} pool", pooled)]
        if spec.mode == "max":
            variants.append(("a sum of each window", lambda a: pooled(a) * (f_H * f_W)))
    else:
        return ""
    with np.errstate(all="ignore"):
        for what, make in variants:
            try:
                made = make(x)
                if made.shape != out.shape or not _close(made, out, rtol, atol):
                    continue
                whole = make(whole_x)
            except (ValueError, FloatingPointError):
                continue
            if whole.shape != whole_out.shape or not _close(whole, whole_out, rtol, atol):
                return what
    return ""


def _cannot_tell_back(p: Plan, spec, hyper: dict, g: np.ndarray, x: np.ndarray, made: dict[str, np.ndarray],
                      whole_g: np.ndarray, whole_x: np.ndarray, quantities: dict[str, np.ndarray]) -> str:
    """The slip whose backward makes of upstream gradient ``g`` (the layer's
    input ``x``; ``hyper``: its resolved hyperparameters) just what layer
    ``spec``'s does (``made``), where it makes another result of convcli's
    (``whole_g``, ``whole_x``; the whole run's results in ``quantities``);
    or ``""``: a conv's = for += (its dW and db the last sample's last
    window's term alone: where ``g`` is 0 but there)."""
    rtol, atol = p.tolerance
    with np.errstate(all="ignore"):
        if spec.kind == "conv":
            dW, db = f"{spec.name}.dW", f"{spec.name}.db"

            def slipped(a: np.ndarray, grad: np.ndarray, results: dict[str, np.ndarray]) -> bool:
                if a.ndim != 4 or grad.ndim != 4 or not a.size or not grad.size or not {dW, db} <= set(results):
                    return False
                window, dz = _last_window(a, grad, hyper)
                last = window[..., None] * dz
                return (last.shape == results[dW].shape and _close(last, results[dW], rtol, atol)
                        and dz.size == results[db].size and _close(dz.reshape(results[db].shape), results[db], rtol,
                                                                   atol))

            return ("= for += (it is 0 but in the last sample's last window, whose term alone = keeps)"
                    if slipped(x, g, made) and not slipped(whole_x, whole_g, quantities) else "")
    # (not a ReLU's gradient passed through whole where g is 0 wherever Z <= 0: a max pool after a ReLU routes
    # it so wherever no window of Z is all <= 0, and a right ReLU backward failed on convcli's g, a review)
    return ""


def _zeros(a, rtol: float, atol: float) -> bool:
    """Whether ``a`` is an array every element of which is within atol of 0."""
    return isinstance(a, np.ndarray) and a.size > 0 and _close(np.zeros(a.shape), a, rtol, atol)


# hints that say what your array is, not a slip of its layer's (see upstream_said in evaluate_against)
NOT_SLIPS = ("axis_order", "scale", "other_inputs")
UNFILLED = "; yours is all zeros: was it filled? (an array made with np.zeros that no loop wrote to)"
# said after UNFILLED of a gradient made through a mask (an instructor's review: a max pool's mask made with
# > for == gives zeros, and "was it filled?" sent the student to a loop that did write)
MASK_NOWHERE = {"pool": ", or is its mask true nowhere? (a window's max is where x == np.max(x); "
                        "x > np.max(x) holds nowhere)",
                "relu": ", or is its mask true nowhere? (dZ = dA * (Z > 0))"}
# the start and end of _last_term_hint's words for zeros
LAST_TERM_ZEROS = ("; yours is all zeros, as the last term of the sum alone is here", "or yours was never filled")


def _mask_nowhere(p: Plan, q: str) -> str:
    """MASK_NOWHERE's words for ``q``, a max pool's or a ReLU's dA_prev."""
    found = _layer_of(p, q)
    spec = found[1] if found is not None and found[2] else None
    return MASK_NOWHERE[spec.kind] if spec is not None and (spec.kind == "relu" or spec.kind == "pool"
                                                             and spec.mode == "max") else ""


def _without_zeros_hint(note: str) -> str:
    """``note`` without its words for an array of zeros (UNFILLED, with any
    MASK_NOWHERE after it, or _last_term_hint's)."""
    for clause in MASK_NOWHERE.values():
        note = note.replace(UNFILLED + clause, "")
    note = note.replace(UNFILLED, "")
    start, end = LAST_TERM_ZEROS
    if start in note and end in note[note.index(start):]:
        k = note.index(start)
        note = note[:k] + note[note.index(end, k) + len(end):]
    return note


def _layer_of(p: Plan, q: str) -> tuple[int, LayerSpec, bool] | None:
    """The layer that makes ``q``: its index, spec, and whether ``q`` is
    one of its gradients; None for an input."""
    for i, spec in enumerate(p.network.layers):
        if q == spec.output or q in (f"{spec.name}.dA_prev", f"{spec.name}.dW", f"{spec.name}.db"):
            return i, spec, q != spec.output
    return None


def _gradient_in(p: Plan, i: int) -> str:
    """The gradient layer ``i``'s backward takes: under grad: output the last
    layer takes the network's output itself (yours, where you gave it: the
    notebook's conv_backward(Z, cache)), else :meth:`Plan.incoming_gradient`."""
    layers = p.network.layers
    return layers[i].output if i == len(layers) - 1 and p.grad_spec == "output" else p.incoming_gradient(i)


def _layer_inputs(p: Plan, q: str) -> list[str]:
    """What the layer that makes ``q`` takes: its input, and for a gradient
    the gradient coming into it too (:func:`_gradient_in`)."""
    found = _layer_of(p, q)
    if found is None:
        return []
    i, _, gradient = found
    return [p.layer_input(i)] + ([_gradient_in(p, i)] if gradient else [])


def _follows_input(p: Plan, i: int, q: str) -> bool:
    """Whether layer ``i``'s quantity ``q`` changes with the layer's input
    (its output does; of its gradients, a conv's dW, a ReLU's and a max
    pool's dA_prev: not a conv's dA_prev or db, nor an average pool's, nor a
    max pool's over 1x1 windows, as _note_causes traces them)."""
    spec = p.network.layers[i]
    if q == spec.output:
        return True
    if spec.kind == "conv":
        return q == f"{spec.name}.dW"
    return spec.kind == "relu" or spec.mode == "max" and math.prod(p.layer_shapes[i].hyper["f"]) > 1


def _take_back(o: Outcome) -> None:
    """``o``'s hints made of convcli's input to its layer (Outcome.said), and their words, taken back."""
    for kind, said in o.said.items():
        o.note = o.note.replace(said, "")
        if kind in o.hints:
            o.hints.remove(kind)
    o.said = {}


def _made_of_yours(p: Plan, o: Outcome, quantities: dict[str, np.ndarray], yours: dict[str, np.ndarray],
                   theirs: np.ndarray | None, memo: dict | None = None) -> bool:
    """Whether ``theirs``, your array of ``o``, is what its layer makes,
    right, of your arrays it takes (``yours``; convcli's where you gave
    none): a hint of ``o``'s made of convcli's input (Outcome.said) is then
    your input's slip, not this layer's (a fuzz: a right max pool after one
    over every channel was told it pooled over every channel, max over the
    window and over the channels being one; a right ReLU after it that it
    passed its gradient on unmasked). Not where your inputs cannot make it
    (a code review: a conv's Z without its bias, the max positions kept,
    took a pool backward's "masks alone" away). ``memo``: what each layer
    made of which of your arrays, kept between calls (one forward and
    backward gives all of a layer's arrays: a review timed a check 1.7x
    slower without it)."""
    found = _layer_of(p, o.quantity)
    if found is None or theirs is None:
        return False
    i, spec, gradient = found
    names = _layer_inputs(p, o.quantity)
    key = (i, gradient, tuple(sorted(q for q in names if q in yours)))
    if memo is None or key not in memo:
        ins = [yours.get(q, quantities[q]) for q in names]
        try:
            out, cache = _layer_forward(p, spec, ins[0], quantities)
            made = {**_layer_gradients(spec, ins[1], cache), spec.output: out} if gradient else {spec.output: out}
        except (ValueError, KeyError):  # (an input of yours of another shape: nothing it makes to compare)
            made = {}
        if memo is not None:
            memo[key] = made
    else:
        made = memo[key]
    return o.quantity in made and _is_made(p, theirs, made[o.quantity])


def _is_made(p: Plan, theirs: np.ndarray | None, made: np.ndarray) -> bool:
    """Whether ``theirs`` is ``made`` to its precision's tolerance (a bias's
    gradient as (1, 1, 1, n_C) or (n_C,) either way)."""
    if theirs is None or theirs.shape != made.shape and not (theirs.size == made.size and 1 in (theirs.ndim,
                                                                                               made.ndim)):
        return False
    return _close(theirs.reshape(made.shape), made, *_hint_tolerance(theirs.dtype, p.dtype, *p.tolerance))


def _upstream_first(p: Plan, outcomes: list[Outcome], quantities: dict[str, np.ndarray], read) -> None:
    """The hints made of convcli's input to a layer (Outcome.said) taken back
    where an array of yours that the layer takes fails too and the layer,
    right, makes yours of it (_made_of_yours). What it follows from is said
    instead (_note_causes)."""
    by = {o.quantity: o for o in outcomes}
    failed = {q for q, o in by.items() if o.status == "fail"}
    asked = [o for o in outcomes if o.said and any(q in failed for q in _layer_inputs(p, o.quantity))]
    for o, read_once, memo in _layer_by_layer(p, asked, read, by):
        yours = {q: a for q in _layer_inputs(p, o.quantity) if q in failed and (a := read_once(q)) is not None}
        if _made_of_yours(p, o, quantities, yours, read_once(o.quantity), memo):
            _take_back(o)


def _layer_by_layer(p: Plan, outcomes: list[Outcome], read, by: dict[str, Outcome]):
    """``(o, read_once, memo)`` for each of ``outcomes`` in the network's
    order, the reads and layer reruns kept for one layer's at a time (a code
    review: kept for all, a check's peak memory doubled)."""
    layer = functools.cache(lambda q: (_layer_of(p, q) or (-1,))[0])
    read_once, memo, current = None, {}, None
    for o in sorted(outcomes, key=lambda o: layer(o.quantity)):
        if layer(o.quantity) != current:
            current, memo = layer(o.quantity), {}
            read_once = functools.cache(lambda q: read(by[q]))
        yield o, read_once, memo


def _zeros_follow(p: Plan, outcomes: list[Outcome], zeros: set[str], quantities: dict[str, np.ndarray],
                  read: Callable[[Outcome], np.ndarray | None], other_shapes_only: bool = False) -> None:
    """An array of yours all zeros that its layer, done right, makes of an
    array of yours it takes that fails too (its input; a gradient's also the
    gradient coming into it): said to follow from that one, instead of "was
    it filled?" or "+=, not =" (an instructor's review: a max pool's mask
    made with > gave zeros, and every gradient before it was told it was
    never filled or summed with =; a learner's: a conv's dW of zeros made of
    a pool3.A of zeros was told "+=, not =", a ReLU's output and gradient
    of zeros made of a Z with nothing above 0, "was it filled?"). The one
    that makes them alone is named, else those that do together. Not a
    conv's Z of an input of zeros where its bias is not 0: the layer makes
    b of it (a review). ``other_shapes_only`` (--each-layer, which grades a
    layer of zeros in on convcli's input): only zeros of another shape,
    :func:`_zeros_of_another_shape`."""
    by = {o.quantity: o for o in outcomes}
    failed = {q for q, o in by.items() if o.status == "fail"}
    asked = [o for o in outcomes if o.status == "fail" and o.quantity in zeros
             and set(o.hints) <= {"all_zeros", "last_term"} and _layer_of(p, o.quantity) is not None]
    for o, read_once, memo in _layer_by_layer(p, asked, read, by):
        found = _layer_of(p, o.quantity)
        theirs = read_once(o.quantity)
        gradient_in = _gradient_in(p, found[0]) if found[2] else None
        yours = {q: a for q in _layer_inputs(p, o.quantity)
                 if q in failed and (q == gradient_in or _follows_input(p, found[0], o.quantity))
                 and (a := read_once(q)) is not None}
        named = [] if other_shapes_only else [q for q, a in yours.items()
                                              if _made_of_yours(p, o, quantities, {q: a}, theirs, memo)]
        if not named and not other_shapes_only and len(yours) > 1 \
                and _made_of_yours(p, o, quantities, yours, theirs, memo):
            named = list(yours)
        if not named:
            _zeros_of_another_shape(p, o, found, gradient_in, yours, quantities)
            continue
        words = []
        for q in named:
            took = "the gradient coming into this layer" if q == gradient_in else "this layer's input"
            none_above = found[1].kind == "relu" and q != gradient_in and not np.any(yours[q] > 0)
            words.append(f"as your {q} is, {took}" if q in zeros else f"what this layer, done right, makes of your "
                         f"{q}, {took}{' (no element of it is above 0)' if none_above else ''}")
        one = len(named) == 1
        o.note = (_without_zeros_hint(o.note) + f"; yours is all zeros, {' and '.join(words)}"
                  + (": zeros in give zeros out" if all(q in zeros for q in named) else "")
                  + f"; fix {'that one' if one else 'those'} first")
        o.hints = list(dict.fromkeys("gradient_first" if q == gradient_in else "forward_first" for q in named))


def _zeros_of_another_shape(p: Plan, o: Outcome, found, gradient_in: str | None, yours: dict[str, np.ndarray],
                            quantities: dict[str, np.ndarray]) -> None:
    """``o``, all zeros, said to follow from an array of yours its layer
    takes that is zeros or empty at another shape, which no rerun can take
    (a learner's review: a conv's dW, dA_prev and db of zeros after a
    relu2.dA_prev of zeros one row short were each told "was it filled?").
    Zeros in give zeros out for the gradient coming in, and for a ReLU's or
    a pool's input (not a conv's: it makes b of them)."""
    for q, a in yours.items():
        ours = quantities.get(q)
        if ours is None or a.shape == ours.shape or np.any(a) \
                or not (q == gradient_in or found[1].kind != "conv" and not found[2]):
            continue
        took = "the gradient coming into this layer" if q == gradient_in else "this layer's input"
        shape = f"shaped {a.shape} where convcli's is {ours.shape}"
        o.note = _without_zeros_hint(o.note) + (
            f"; yours is all zeros, and your {q}, {took}, is empty, {shape}: the layer's loops over it run over "
            "nothing" if not a.size else
            f"; yours is all zeros, as your {q} is, {took}, {shape}: zeros in give zeros out") + "; fix that one first"
        o.hints = ["gradient_first" if q == gradient_in else "forward_first"]
        return


def _makes_nothing(made: np.ndarray, ours: np.ndarray, rtol: float, atol: float) -> bool:
    """Whether a layer's result of a user's input, ``made``, is one an array
    of zeros passes (every element within atol of 0) where convcli's,
    ``ours``, is not: graded on it, a layer that does nothing passes."""
    if not isinstance(made, np.ndarray) or made.shape != ours.shape or not made.size:
        return False
    with np.errstate(invalid="ignore"):  # its finite elements (one NaN let all the rest pass, a review)
        finite = np.isfinite(made)
    if not finite.any():
        return False
    made, ours = (made, ours) if finite.all() else (made[finite], ours[finite])
    zeros = np.zeros(made.shape, dtype=made.dtype)
    return _close(zeros, made, rtol, atol) and not _close(zeros, ours, rtol, atol)


def _tests_nothing(x: np.ndarray, ours: np.ndarray, gradient: bool = False) -> bool:
    """Whether a user's input to a layer tests nothing that convcli's does:
    every element the same (zeros) or NaN, where convcli's vary; for a
    ``gradient`` coming into a backward, zeros or NaN only, where convcli's
    are not: a constant gradient of another value tests the backward's mask
    (a ReLU's Z > 0, a max pool's maxima) and an average pool's shares, the
    cache's own. (A few NaN do test a layer: whether it carries them
    through, as convcli's ReLU does and ``np.where(Z > 0, Z, 0)`` does
    not.)"""
    if x.shape != ours.shape or x.size < 2:
        return False
    same = 0.0 if gradient else x.flat[0]
    with np.errstate(invalid="ignore"):
        nothing = bool(np.isnan(x).all()) or bool(np.all(x == same))
        return nothing and not (bool(np.isnan(ours).all()) or bool(np.all(ours == (0.0 if gradient else ours.flat[0]))))


def _layer_forward(p: Plan, spec, x: np.ndarray, quantities: dict[str, np.ndarray], engine: str | None = None):
    """Layer ``spec``'s ``(output, cache)`` of ``x`` (ValueError: it takes
    no such input), on ``engine`` (default: the run's)."""
    W, b = (quantities[spec.W], quantities[spec.b]) if spec.kind == "conv" else (None, None)
    return layer_forward(spec, x, W, b, engine or p.engine)


def _layer_output(p: Plan, spec, x: np.ndarray, quantities: dict[str, np.ndarray],
                  engine: str | None = None) -> np.ndarray | None:
    """What layer ``spec`` makes of ``x`` (None: it takes no such input)."""
    try:
        return _layer_forward(p, spec, x, quantities, engine)[0]
    except ValueError:
        return None


def _layer_gradient(spec, g: np.ndarray, cache) -> np.ndarray | None:
    """The ``dA_prev`` layer ``spec`` makes of upstream gradient ``g``
    (None: not of its output's shape)."""
    try:
        return _layer_gradients(spec, g, cache)[f"{spec.name}.dA_prev"]  # (a conv's backward makes all three)
    except ValueError:
        return None


def _unless_yours(said: str, layerwise, q: str, theirs: np.ndarray, rtol: float, atol: float) -> str:
    """A hint found (``said``), unless the array is what q's layer makes of
    the user's own inputs to it (``layerwise()``: :func:`each_layer`'s
    results, a rerun of every layer, asked only once a hint is found): then
    what it follows from explains it, not the hint's factor."""
    if not said or layerwise is None:
        return said
    ours = layerwise().get(q)
    follows = ours is not None and ours.shape == theirs.shape and _close(theirs, ours, rtol, atol)
    return "" if follows else said


def _as_saved(a: np.ndarray, ref: np.ndarray, p: Plan) -> bool:
    """Whether a user's array ``a`` is ``ref`` within the check's tolerance,
    or to the precision its dtype holds: a float32 or float16 save of it,
    or it cut or rounded to whole numbers. (Not one rounded to a few
    decimals: taken as convcli's numbers, the layers after it made right of
    the rounded one failed, where the rounded one is graded on as the
    student's own: an adversarial review.)"""
    if a.shape != ref.shape:
        return False
    rtol, atol = p.tolerance
    if _close(a, ref, rtol, atol):
        return True
    if a.dtype.kind == "f":
        hr, ha = _hint_tolerance(a.dtype, p.dtype, rtol, atol)
        return (hr, ha) != (rtol, atol) and _close(a, ref, hr, ha)
    with np.errstate(invalid="ignore", over="ignore"):
        return a.dtype.kind in "iu" and any(_close(a, whole(ref), rtol, atol) for whole in (np.trunc, np.round))


def _scale_hint(theirs: np.ndarray, ours: np.ndarray, rtol: float, atol: float) -> str:
    """For an array that is convcli's times one number: say which (a dW
    divided by m, an average pool's gradient divided by f instead of f*f).
    Not for arrays within atol of zero (any factor fits those) nor for a
    factor within 1e-3 of 1 (a rounding difference, not a mistake)."""
    nonzero = ours != 0
    if (not nonzero.any() or not np.isfinite(theirs).all()
            or np.abs(theirs).max() <= atol or np.abs(ours).max() <= atol):
        return ""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        k = float(np.median(theirs[nonzero] / ours[nonzero]))
    if (not np.isfinite(k) or k == 0 or abs(k - 1) <= 1e-3
            or not _close(theirs, k * ours, rtol, atol) or not _close(theirs / k, ours, rtol, atol)):
        return ""
    sign, size = ("-" if k < 0 else ""), abs(k)
    tol = max(rtol, 1e-9)
    for prefix, whole in (("1/", 1 / size), ("", size)):  # 0.1 reads better as 1/10
        n = round(whole)
        if 1 <= n <= 1000 and abs(whole - n) <= tol * whole and (n > 1 or prefix == ""):
            return f"; yours is convcli's times {sign}{prefix}{n} everywhere"
    values = ours[nonzero]
    if (values == values.flat[0]).all():
        # one value (a one-element db, a constant map): any number of theirs is it times some k, which says
        # nothing unless k is a whole ratio, as above (a review: a db off by 0.5 read 'times 1.05291')
        return ""
    return f"; yours is convcli's times {k:.6g} everywhere"


def _scale_named(p: Plan, q: str, said: str) -> str:
    """``said`` (a scale hint, "times k everywhere"), with what k is where a
    layer's sizes name it (a learner's review: "times 12" and "times 4" said
    no more): a conv's db times f_H*f_W*n_C_prev (the window bias's own
    derivative, where the notebook keeps db = sum(dZ)); an average pool's
    output times f_H*f_W (the window's sum) and its dA_prev times f_H*f_W
    (the share not divided) or times f (divided by f alone); a gradient
    times 1/m (a mean over the samples)."""
    m = re.fullmatch(r"; yours is convcli's times (1/)?(\d+) everywhere", said)
    if not m:
        return said
    k = int(m.group(2))
    for i, spec in enumerate(p.network.layers):
        shapes = p.layer_shapes[i]
        f_H, f_W = shapes.hyper["f"] if "f" in shapes.hyper else (0, 0)
        if m.group(1) and k == shapes.in_shape[0] and k > 1 and q in spec.gradients:
            if q.endswith((".dW", ".db")):
                return said + f" (1/{k}: a mean over the {k} samples, where the gradient is their sum)"
            # a sample's own gradient (dA_prev) is no sum over samples (an instructor's review: it was told
            # of one), and its 1/m need not come from the upstream gradient (a review: dW and db right)
            return said + f" (1/{k}: one over the {k} samples)"
        if spec.kind == "conv" and q == f"{spec.name}.db" and not m.group(1) and k == f_H * f_W * shapes.in_shape[3]:
            return said + (f" ({k} = f_H*f_W*n_C_prev, the window's elements the notebook's bias is added to: "
                           "the derivative of that forward; its conv_backward, and convcli's, keep db = sum(dZ))")
        if spec.kind == "pool" and spec.mode == "average" and q == spec.output and not m.group(1) and k == f_H * f_W:
            # (a learner's review: the forward's sum said only "times 4", where its dA_prev was explained)
            return said + f" ({k} = f_H*f_W: each window's sum, where the average pool takes their mean, sum / {k})"
        if spec.kind == "pool" and spec.mode == "average" and q == spec.output and not m.group(1) \
                and f_H == f_W and k == f_H and k > 1:  # (sum / f: a learner's review, "times 2" alone)
            return said + f" ({k} = f: a window's mean is its sum / (f_H*f_W), sum / {f_H * f_W}, not sum / {k})"
        if spec.kind == "pool" and spec.mode == "average" and q == f"{spec.name}.dA_prev":
            if not m.group(1) and k == f_H * f_W:
                return said + f" ({k} = f_H*f_W: each window's dz is shared out over its {k} positions, dz / {k})"
            if not m.group(1) and f_H == f_W and k == f_H and k > 1:
                return said + f" ({k} = f: a window's share is dz / (f_H*f_W), dz / {f_H * f_W}, not dz / {k})"
    return said


# Axis orders a 4-D array is commonly saved in by mistake, by the transpose
# that brings it back to convcli's: NCHW maps, PyTorch's weight layout.
_NAMED_ORDERS = {(0, 2, 3, 1): "NCHW order (m, n_C, n_H, n_W); convcli's arrays are NHWC",
                 (2, 3, 1, 0): "PyTorch's weight layout (n_C, n_C_prev, f_H, f_W); convcli's weights are "
                               "(f_H, f_W, n_C_prev, n_C)"}


def _order_hint(theirs: np.ndarray, ours: np.ndarray, rtol: float, atol: float, weights: bool) -> str:
    """For an array that is convcli's with its axes in another order: the
    ``transpose`` that fixes it, tried for every order of the axes that
    gives convcli's shape (NCHW maps, PyTorch's weights, a dW with f_H and
    f_W swapped), whether the shape differs or not (square maps with as many
    channels keep it). The common layouts are named, each only for its own
    kind (a (3, 3, 3, 3) W transposed as NCHW is no NCHW map)."""
    q = _order_of(theirs, ours, rtol, atol, weights)
    if q is None:
        return ""
    fix = f"save yours.transpose{q}"
    if q == _named_order(weights):
        return f"; yours is convcli's in {_NAMED_ORDERS[q]}: {fix}"
    if weights and q == (1, 0, 2, 3) and theirs.ndim == 4:
        # a dW made with the kernel's rows and columns swapped: the loops' slip, which the transpose only hides
        # (a learner's review: as Z's and dA_prev's, it is told to index alike)
        fix += ", or, if your loops made it so, index the window and W alike, [h, w] (the row first)"
    return f"; yours is convcli's with its axes in another order: {fix}"


def _squeezed_order_hint(shape: tuple[int, ...], ours: np.ndarray, stored: Callable, rtol: float, atol: float,
                         weights: bool) -> str:
    """For an array that is convcli's with its axes of length 1 dropped (or
    added) and the others in another order (a single sample's (C, H, W)
    where convcli's is (1, H, W, C), a learner's review): the transpose and
    reshape that fix it."""
    kept = tuple(n for n in shape if n != 1)
    ours_kept = tuple(n for n in ours.shape if n != 1)
    if len(kept) < 2 or sorted(kept) != sorted(ours_kept) or tuple(shape) == ours.shape:
        return ""  # (the same sizes kept: the order tried still, a (4, 4, 4) CHW for (1, 4, 4, 4), a review)
    theirs = stored()
    if theirs is None:
        return ""
    q = _order_of(theirs.reshape(kept), ours.reshape(ours_kept), rtol, atol, weights and len(kept) == 4)
    if q is None:
        return ""
    lead = f".reshape{kept}" if kept != tuple(shape) else ""
    how = "dropped" if len(shape) < ours.ndim else "added" if len(shape) > ours.ndim else "moved"
    return (f"; yours is convcli's with its axes of length 1 {how} and the others in another order: save "
            f"yours{lead}.transpose{q}.reshape{tuple(ours.shape)}")


def _named_order(weights: bool) -> tuple[int, ...]:
    return (2, 3, 1, 0) if weights else (0, 2, 3, 1)


def _order_of(theirs: np.ndarray, ours: np.ndarray, rtol: float, atol: float, weights: bool) -> tuple | None:
    """The transpose of ``theirs`` (not the identity) that is ``ours`` to
    tolerance, the usual mistake tried first, or None."""
    if theirs.ndim != ours.ndim or theirs.ndim < 2 or sorted(theirs.shape) != sorted(ours.shape):
        return None
    named = _named_order(weights)
    orders = [q for q in itertools.permutations(range(ours.ndim))
              if q != tuple(range(ours.ndim)) and theirs.transpose(q).shape == ours.shape]
    return next((q for q in sorted(orders, key=lambda q: q != named)  # the usual mistake first
                 if _close(theirs.transpose(q), ours, rtol, atol)), None)


def mark_links(outcomes: list[Outcome], submitted: list[Submitted], against: Path) -> list[str]:
    """Set ``linked_from`` on each graded array that a symlink (a folder's
    .npy) or an HDF5 external link leads to outside the submission (the
    folder or file given as --against): a submission of links to the key,
    or to another student's files, passed without a word. Returns
    ``label -> target`` lines for the table."""
    import h5py

    root = Path(os.path.realpath(against))
    inside = root if root.is_dir() else root.parent
    where: dict[str, str] = {}
    with ExitStack() as stack:
        opened: dict[Path, object] = {}  # each .h5 opened once, however many datasets it holds
        for s in submitted:
            path = s.base_dir / s.source.file
            try:
                if s.source.dataset is None:
                    real = Path(os.path.realpath(path))
                    target = str(real) if real != root and inside not in real.parents else None
                else:
                    if path not in opened:
                        opened[path] = stack.enter_context(h5py.File(path, "r"))
                    target = _h5_elsewhere(opened[path], path, s.source.dataset)
            except (OSError, ValueError, RuntimeError, KeyError):
                target = None
            if target:
                where[s.label] = target
    lines = []
    for o in outcomes:
        if o.label in where:
            o.linked_from = where[o.label]
            lines.append(f"{o.label} -> {where[o.label]}")
    return lines


def _h5_elsewhere(f, path: Path, dataset: str) -> str | None:
    """``FILE:/NAME`` where the dataset of ``f``, the open .h5 at ``path``,
    really is, if in another file."""
    obj = arrays._h5_get(f, dataset)
    if obj is None:
        return None
    real = os.path.realpath(obj.file.filename)
    return None if real == os.path.realpath(path) else f"{real}:{obj.name}"


def given_copies(unknown: list[Unknown], p: Plan, quantities: dict[str, np.ndarray]
                 ) -> tuple[list[Unknown], dict[str, str]]:
    """``unknown`` with each copy of a quantity the config gives (an input,
    the upstream gradient) that is not the config's saying how
    (``Unknown.differs``): a submission made from other inputs (another
    seed, another file) fails everywhere, and that is the one thing to say.
    Not compared: a copy that cannot be read or has another shape (a layout
    matter, not other numbers), and under grad: output the upstream
    gradient, which is the user's own last output. Compared sample by
    sample, so a large input costs one sample's temporaries. Copies of
    the config's random inputs that are its draws in another order say so;
    the random inputs of which the user gave no copy but whose draws in that
    order differ are returned beside, with the same words (what the user's
    own copies of them were too)."""
    rtol, atol = p.tolerance
    own = p.network.layers[-1].upstream if p.grad_spec == "output" else None
    random = [n for n, src in p.cfg.model.inputs.items() if src.kind == "random"]
    small = sum(math.prod(p.input_info[n].shape) for n in random) <= DRAWS_KEPT
    copies: dict[str, np.ndarray] = {}  # of random inputs, kept while small: drawn in another order?
    out = []
    for u in unknown:
        misnamed = _misnamed(p, u)
        if misnamed:  # (not the given quantity's copy: nothing to compare)
            out.append(dataclasses.replace(u, misnamed=misnamed))
            continue
        ours = quantities.get(u.quantity) if u.quantity not in (None, own) and u.source is not None else None
        theirs = None if ours is None else _in_layout(p, u.quantity, u.source, u.base_dir, ours.shape, u.label)
        differs = "" if theirs is None else _first_difference(theirs, ours, rtol, atol)
        if theirs is not None and small and u.quantity in random:
            copies[u.quantity] = theirs
        del theirs  # before the next copy is read
        out.append(dataclasses.replace(u, differs=differs) if differs else u)
    normals = _seed_normals(p, random) if any(u.differs and u.quantity in copies for u in out) else None
    orders, complete = _drawn_order(p, random, copies, normals) if normals is not None else ([], False)
    implied: dict[str, str] = {}
    if orders:  # (a learner's review: A_prev drawn first, as the notebook does, where the config lists W first)
        said = _drawn_words(orders, random, copies, complete)
        out = [dataclasses.replace(u, differs=said) if u.differs and u.quantity in copies else u for u in out]
        # the inputs of which no copy was given whose draws differ in every order that fits (an instructor's
        # review: W's draw left unsaid), at the check's tolerance as copies are (a review: a b scaled by 1e-10)
        differ = set(random) - set(copies) if complete else set()
        for order in orders if differ else ():
            drawn = _draws(p, order, normals, differ)
            differ = {n for n in differ if not _close(drawn[n], quantities[n], rtol, atol)}
        implied = {n: said for n in differ}
    return out, implied


# What a copy of a random input says when it is the config's drawn in
# another order; the most elements of random inputs kept and drawn to find
# it; the most orders told apart.
DRAWN = "the config's random inputs drawn in"
DRAWS_KEPT = 1 << 22
ORDERS_KEPT = 32


def _seed_normals(p: Plan, random: list[str], most: int | None = None) -> np.ndarray | None:
    """The config's seed's stream of normals, as many as its random inputs
    draw (None: more than ``most``, default DRAWS_KEPT). An input drawn after k others' n
    elements is this stream's n-th element on, whatever the others are (the
    legacy generator's ``randn`` calls draw one stream, arrays.load), so
    every order's draws are slices of it, drawn once (a review: drawn again
    for each of 635 orders, the search ran out of its budget)."""
    total = sum(math.prod(p.input_info[n].shape) for n in random)
    if total > (DRAWS_KEPT if most is None else most):
        return None
    normals = np.random.RandomState(p.cfg.model.seed).randn(total)
    normals.flags.writeable = False
    return normals


class _Stream:
    """A RandomState's ``randn`` served from the seed's normals, from ``at`` on."""

    def __init__(self, normals: np.ndarray, at: int):
        self.normals, self.at = normals, at

    def randn(self, *shape: int) -> np.ndarray:
        n = math.prod(shape)
        self.at += n
        return self.normals[self.at - n:self.at].reshape(shape)


def _draws(p: Plan, order: Iterable[str], normals: np.ndarray, names: Iterable[str] | None = None
           ) -> dict[str, np.ndarray]:
    """The config's random inputs drawn in ``order`` (those of ``names``,
    default all), each as the config makes it (cast, scaled)."""
    out, at, inputs = {}, 0, p.cfg.model.inputs
    for n in order:
        if names is None or n in names:
            out[n] = runner.load_input(p, n, inputs[n], _Stream(normals, at))
        at += math.prod(p.input_info[n].shape)
    return out


def _drawn_order(p: Plan, random: list[str], copies: dict[str, np.ndarray], normals: np.ndarray
                 ) -> tuple[list[list[str]], bool]:
    """The orders, other than the config's, in which the config's random
    inputs drawn from its seed (``normals``, :func:`_seed_normals`) are the
    user's ``copies`` of them, and whether they are all of them (not: the
    search stopped at ORDERS_KEPT). More than one where inputs of which the
    user gave no copy may come in any order. Orders are tried draw by draw,
    an order dropped at its first draw that is not the user's copy (up to 6
    random inputs)."""
    if len(random) < 2 or len(random) > 6:
        return [], False
    rtol, atol = p.tolerance
    found: list[list[str]] = []

    def extend(order: list[str], at: int) -> None:
        if len(order) == len(random):
            if order != random:
                found.append(order)
            return
        for name in random:
            if name in order:
                continue
            if len(found) >= ORDERS_KEPT:
                raise _GiveUp
            if name in copies:
                a = runner.load_input(p, name, p.cfg.model.inputs[name], _Stream(normals, at))
                if not _close(copies[name], a, rtol, atol):
                    continue
            extend(order + [name], at + math.prod(p.input_info[name].shape))

    try:
        extend([], 0)
    except ConvcliError:
        return [], False
    except _GiveUp:  # (a review: what it had found was dropped)
        return found, False
    return found, True


def _drawn_words(orders: list[list[str]], random: list[str], copies: Iterable[str], complete: bool = True) -> str:
    """What the copies say when they are the config's random inputs drawn in
    one of ``orders`` (or an order's first inputs, as far as a layer takes
    them: :func:`_draw_order_hint`): the order where it is the only one;
    else the places of the inputs in ``copies`` (the ones the evidence
    holds), where every order has them at the same place (a review: an
    order stated where the copies could not tell it); neither where
    ``orders`` are not all the orders that fit (``complete``)."""
    listed_as = f"; it draws them as listed, {', '.join(random)}"
    if len(orders) == 1 and complete:  # (an order's first inputs: the rest draw nothing the layer takes)
        more = ", ..." if len(orders[0]) < len(random) else ""
        return f"{DRAWN} the order {', '.join(orders[0])}{more}{listed_as}"
    fixed = [n for n in random if n in copies and len({o.index(n) for o in orders}) == 1] if complete else []
    places = ", ".join(f"{n} {_ordinal(orders[0].index(n) + 1)}" for n in fixed)
    return f"{DRAWN} another order{f', {places}' if places else ''}{listed_as}"


def _ordinal(k: int) -> str:
    return f"{k}{'st' if k == 1 else 'nd' if k == 2 else 'rd' if k == 3 else 'th'}"


def _draw_order_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
                     atol: float, other: dict[str, str]) -> str:
    """For the first layer's output that differs: whether it is what the
    layer makes of the config's random inputs drawn from its seed in
    another order (an instructor's review: the notebook's order, A_prev
    first, where the config lists W first, and no copies of the inputs to
    tell it by: ``other``, the copies that differ, said otherwise where
    the layer takes one). Orders that draw the layer's own inputs alike
    are tried once, each on the first sample, on the fast engine, before
    the batch, its inputs slices of the seed's stream drawn once; every
    order is tried (up to HINT_WORK multiply-adds, else nothing is said),
    and the order is named where one alone fits,
    else the places every fitting one gives the layer's inputs (the
    inputs it does not take change only where the others start in the
    seed's stream: a review had one of several named)."""
    layers, inputs = p.network.layers, p.cfg.model.inputs
    if not layers or q != layers[0].output:
        return ""
    random = [n for n, src in inputs.items() if src.kind == "random"]
    spec, ls = layers[0], p.layer_shapes[0]
    uses = [n for n in (p.layer_input(0), *((spec.W, spec.b) if spec.kind == "conv" else ())) if n in random]
    if len(random) < 2 or len(random) > 6 or not uses or set(other) & set(uses) or theirs.ndim != 4:
        return ""
    normals = _seed_normals(p, random, HINT_DRAWS)  # (the user's copies not kept beside it: a larger stream)
    if normals is None:
        return ""
    # a sample's multiply-adds (a review: one sample of 128x128 by 7x7x3 -> 256 for each of 190 orders, 8.7 s;
    # a pool's window alone, not times its channels: a later review)
    window = math.prod(ls.hyper["f"]) if spec.kind in ("conv", "pool") else 1
    per = math.prod(ls.out_shape[1:]) * window * (ls.in_shape[3] if spec.kind == "conv" else 1)
    work_left, tried, fits = HINT_WORK, set(), []
    for order in itertools.permutations(random):
        prefix = order[:max(order.index(n) for n in uses) + 1]  # (what comes after draws nothing it takes)
        if list(order) == random or prefix in tried or prefix == tuple(random[:len(prefix)]):
            continue
        tried.add(prefix)
        work_left -= per
        if work_left < 0:
            return ""
        try:
            drawn = _draws(p, prefix, normals, uses)
        except ConvcliError:
            return ""
        given = {**quantities, **drawn}
        x = given[p.layer_input(0)]
        if x.ndim != 4 or x.shape[0] != theirs.shape[0]:
            return ""
        for part in (slice(0, 1), slice(None)):
            if part == slice(None):  # (the batch: its work counted too)
                work_left -= per * (x.shape[0] - 1)
            made = _layer_output(p, spec, x[part], given, engine="fast")
            if made is None or made.shape != theirs[part].shape or not _close(theirs[part], made, rtol, atol):
                break
        else:
            fits.append(prefix)
    return f"; yours is what {spec.name} makes of {_drawn_words(fits, random, uses)}" if fits else ""


# The most multiply-adds :func:`_draw_order_hint` spends rerunning the first
# layer (on the fast engine: a second or less on this machine), and the most
# normals it draws (128 MiB: a review had 90 images of 128x128x3 lose the
# hint at DRAWS_KEPT).
HINT_WORK = 1 << 31
HINT_DRAWS = 1 << 24


class _GiveUp(Exception):
    """:func:`_drawn_order` found ORDERS_KEPT orders."""


def _misnamed(p: Plan, u: Unknown) -> str:
    """For a user's array named as a quantity the config gives, whose shape
    is not that quantity's but exactly one computed quantity's: that it is
    likely that one, and the name that grades it. A learner's review: a
    pool's gradient saved as dA.npy (the name a conv's dA_prev goes by, after
    the notebook's conv_backward) is a one-layer pool config's upstream
    gradient: listed as given, not graded, and the check passed."""
    given = tuple(p.shapes[u.quantity]) if u.quantity in p.shapes and u.source is not None else None
    if given is None:
        return ""
    try:
        shape = tuple(arrays.probe(u.source, u.base_dir, "--against", u.label).shape)
    except ConvcliError:
        return ""
    if shape == given:
        return ""
    alike = [q for q in p.graded() if tuple(p.shapes[q]) == shape]
    if len(alike) > 1:  # the one its name begins (pool1.dA for pool1.dA_prev), if one does
        alike = [q for q in alike if q.startswith(u.quantity)] or alike
    if not alike:
        return ""
    said = f"shape {fmt_shape(shape)}, not {u.quantity}'s {fmt_shape(given)} (the config gives it)"
    if len(alike) > 1:  # (an instructor's review: four quantities of its shape, and nothing said)
        return (f"{said} but that of {joined(alike[:5])}{' ...' if len(alike) > 5 else ''}: save it under "
                "the name of the one it is to be graded")
    q = alike[0]
    name = q.split(".", 1)[1] if len(p.network) == 1 and "." in q else q
    return f"{said} but {q}'s: save it as {name}.npy to be graded"


def _first_difference(theirs: np.ndarray, ours: np.ndarray, rtol: float, atol: float) -> str:
    """Where ``theirs`` first leaves the tolerance of ``ours``, in words, or
    "": one sample (first axis) at a time, after a check of exact equality."""
    if np.array_equal(theirs, ours, equal_nan=True):
        return ""
    rows = zip(theirs, ours) if theirs.ndim > 1 else [(theirs, ours)]
    for n, (a, b) in enumerate(rows):
        passed, _, _, first, _ = compare(a, b, rtol, atol)
        if not passed:
            at = (n, *first) if theirs.ndim > 1 else first
            return f"first differs at {list(at)}: yours {float(theirs[at])!r}, the config's {float(ours[at])!r}"
    return ""


# Hints on arrays of fewer bits are looked for at their precision: float16's
# ~3 decimal digits.
_HINT_TOLERANCES = {4: DEFAULT_TOLERANCES["float32"], 2: (1e-2, 1e-3)}


def _hint_tolerance(theirs: np.dtype, run: str, rtol: float, atol: float) -> tuple[float, float]:
    """(rtol, atol) at which the hints explain a failed array: the check's,
    loosened to what a float32 (float16) array can hold, where it is one or
    the run computes in float32."""
    bits = min(np.dtype(theirs).itemsize if np.dtype(theirs).kind == "f" else 8, np.dtype(run).itemsize)
    looser = _HINT_TOLERANCES.get(bits)
    return (rtol, atol) if looser is None else (max(rtol, looser[0]), max(atol, looser[1]))


def _float32_held(theirs: np.ndarray, ours: np.ndarray) -> bool:
    """Whether float64 ``theirs`` holds float32 numbers only (each finite
    element one, some not a whole number) where convcli's ``ours`` does not:
    computed in float32, saved as float64."""
    with np.errstate(all="ignore"):
        head = theirs.reshape(-1)[::max(1, theirs.size // ULPS_HEAD)]  # (a sample first: most arrays are not)
        head = head[np.isfinite(head)]
        if not np.array_equal(head.astype(np.float32), head):
            return False
        finite = theirs[np.isfinite(theirs)]
        if not finite.size or np.all(finite == np.round(finite)):
            return False
        if not np.array_equal(finite.astype(np.float32), finite):
            return False
        kept = ours[np.isfinite(ours)]
        return bool(kept.size) and not np.array_equal(kept.astype(np.float32), kept)


def _float32_hint(p: Plan, theirs: np.ndarray, ours: np.ndarray, rounding: float | np.ndarray = 0.0,
                  saved_as: np.dtype | None = None) -> str:
    """For a user's float32 array that fails against a float64 run but is
    within float32's tolerance, and ``rounding`` (what float32 arithmetic
    moves this quantity, :func:`float32_rounding`'s: a --dtype float32 run
    allows it): how to grade it in float32. A --dtype float32 run checks at
    float32's default tolerance unless a tolerance: (the config's, an
    --expected file's) or --rtol/--atol sets one, as the float64 numbers
    written in a config often do: then the options that loosen it.
    ``saved_as`` float64: yours hold float32 numbers, saved as float64."""
    default = DEFAULT_TOLERANCES["float32"]
    if not _close(theirs, ours, default[0], default[1] + rounding):
        return ""
    rtol, atol = p.tolerance_for("float32")
    are = ("hold float32 numbers (computed in float32, saved as float64?)" if saved_as is not None
           and np.dtype(saved_as).name == "float64" else "are float32")  # (.name: big-endian >f8 too)
    if _close(theirs, ours, rtol, atol + rounding):
        return (f"; yours {are} and this run is float64: --dtype float32 computes in float32 and "
                f"checks at rtol {rtol:g}, atol {atol:g} and float32's rounding then, within which yours are "
                "this run's numbers")
    # (the tolerance set here, where it is not the one the FAIL line ends with: a config's float32 numbers)
    set_here = f" (the one set here is rtol {rtol:g}, atol {atol:g})" if (rtol, atol) != p.tolerance else ""
    return (f"; yours {are} and this run is float64: --dtype float32 --rtol {default[0]:g} --atol "
            f"{default[1]:g} grades them in float32 at float32's default tolerance{set_here}")


def _decimals(theirs: np.ndarray, ours: np.ndarray) -> int | None:
    """The places (1 to DECIMALS_MOST) to which ``theirs`` is convcli's
    ``ours`` rounded (np.round's, within 2 ulps of it), or None. Not at a
    step coarser than DECIMALS_STEP of ``ours``'s largest value: rounded so,
    any array of values that small is zeros (a code review: a pool3.A of
    zeros, an unfilled array, was "convcli's rounded to 1 decimal" where
    convcli's are under 0.05, and a wrong array after it passed)."""
    if theirs.shape != ours.shape or not theirs.size:
        return None
    largest = _largest(ours)
    # a sample spread over the whole array (its first elements may be a ReLU's zeros, on every grid: a review
    # had each place checked whole, 1.1 s a call)
    sample = slice(None, None, max(1, theirs.size // ULPS_HEAD))
    with np.errstate(all="ignore"):
        for places in range(1, DECIMALS_MOST + 1):  # (the whole rounded only where its sample is)
            if 10.0 ** -places > DECIMALS_STEP * largest:
                continue
            if _within_ulps(theirs.reshape(-1)[sample], np.round(ours.reshape(-1)[sample].astype(np.float64),
                                                                 places), 2, theirs.dtype) and \
                    _within_ulps(theirs, np.round(ours.astype(np.float64), places), 2, theirs.dtype):
                return places
    return None


# the coarsest rounding step _decimals names, as a share of the array's largest value
DECIMALS_STEP = 1e-2


# the most decimal places a saved array's rounding is looked for at (past them, float32's own digits)
DECIMALS_MOST = 8


def _saved_round(theirs: np.ndarray, ours: np.ndarray, dtype: np.dtype) -> bool:
    """Whether ``theirs``, of a float dtype narrower than float64, is
    convcli's ``ours`` rounded to it, within an ulp of that dtype (NaN for
    NaN): a save in fewer bits, no mistake."""
    if dtype.kind != "f" or dtype.itemsize >= 8 or theirs.shape != ours.shape:
        return False
    with np.errstate(all="ignore"):
        return _within_ulps(theirs, ours.astype(dtype), 1, dtype)


def _within_ulps(theirs: np.ndarray, rounded: np.ndarray, ulps: int, dtype: np.dtype) -> bool:
    """Whether ``theirs`` is ``rounded`` to within ``ulps`` units in the last
    place of ``dtype`` at it (NaN for NaN)."""
    flat_theirs, flat_rounded = np.ravel(theirs), np.ravel(rounded)
    head = min(flat_theirs.size, ULPS_HEAD)  # (most arrays that are not are told by their first elements: the
    # decimals' eight roundings of every wrong array took half of a wrong submission's check, a review)
    return all(_ulps_apart(flat_theirs[k:n], flat_rounded[k:n], ulps, dtype)
               for k, n in ((0, head), (head, flat_theirs.size)) if n > k)


# The elements _within_ulps tries first.
ULPS_HEAD = 1024


def _ulps_apart(theirs: np.ndarray, rounded: np.ndarray, ulps: int, dtype: np.dtype) -> bool:
    got, want = theirs.astype(np.float64), rounded.astype(np.float64)
    ok = np.abs(got - want) <= ulps * np.abs(np.spacing(rounded.astype(dtype))).astype(np.float64)
    return bool(np.all(ok | (np.isnan(got) & np.isnan(want))))


def _note_causes(p: Plan, outcomes: list[Outcome], other: dict[str, str], each_layer: bool = False) -> None:
    """Where a failed array has no explanation of its own (no hint), what it
    follows from that differs too: convcli's arrays follow from its own
    inputs, forward outputs and gradients, so one mistake fails every array
    after it. A layer's output follows from its input (the previous layer's
    output, or the config's input) and, for a conv, its W and b. Of its
    gradients, each follows from the gradient coming into the layer (the
    next layer's dA_prev; for the last layer the config's, or under grad:
    output the last output) and: a conv's dA_prev from W, its dW from the
    layer's input, its db from nothing else; a max pool's or a ReLU's
    dA_prev from the layer's input; an average pool's from nothing else.
    Each link is one of the user's arrays when given (it differs or it does
    not), else what that array follows from in turn. ``other``: the
    quantities the config gives whose copies among the user's arrays
    differ, with how. Worked out layer by layer (no recursion: a network may be deep).
    With ``each_layer`` every layer ran on the user's own arrays where they
    gave them: a failure follows from nothing of theirs before it, only
    from the config's inputs whose copies differ (a review: --json gave no
    other_inputs hint where the table said it)."""
    layers = p.network.layers
    index = {spec.name: i for i, spec in enumerate(layers)}
    # (an array of convcli's numbers with its axes in another order is wrong where it stands, but what
    # follows from it only if the layers after it took it in that order: said so, as a condition)
    # (and one of convcli's numbers in another shape, flattened, is right where it stands: none follows)
    # (and one that is convcli's rounded to the float16 or float32 it was saved in, within an ulp, is no
    # mistake for what follows to come from: a learner's review was told to fix a float16 Z first; not one
    # the float16 hint's looser tolerance passes, a later review's Z 0.8% off)
    status = {o.quantity: "relaid" if o.relaid else "pass" if "reshaped" in o.hints or o.saved_round
              else o.status for o in outcomes}
    shaped = {o.quantity for o in outcomes if o.status == "fail" and o.abs_err is None}  # another shape
    # a forward output of yours that is the layer's of other inputs than the config's (the random ones drawn in
    # another order: _draw_order_hint): what follows from it follows from those (a learner's review: the
    # gradients made of it were told to fix a right forward pass)
    drawn_outputs = {o.quantity for o in outcomes if o.status == "fail" and "other_inputs" in o.hints}
    Causes = frozenset  # of (kind, quantity)

    def link(q: str, follows: Causes) -> Causes:
        """q itself where the user's q differs (or, as the root, the other
        inputs it follows from), nothing where it agrees, else ``follows``."""
        if q in other:
            return Causes({("other_inputs", q)})
        if each_layer:  # theirs was the layer's input where given: nothing before it carries over
            return Causes() if q in status else follows
        if status.get(q) == "relaid":
            return Causes(c for c in follows if c[0] == "other_inputs") or Causes({("layout_first", q)})
        if status.get(q) == "fail":  # (what follows from other inputs, passed on: a review)
            return (Causes(c for c in follows if c[0] in ("other_inputs", "inputs_first"))
                    or Causes({("inputs_first" if q in drawn_outputs else "gradient_first"
                                if p.roles.get(q) == "gradient" else "forward_first", q)}))
        return Causes() if status.get(q) == "pass" else follows

    def given(*names) -> Causes:
        return Causes(("other_inputs", q) for q in names if q in other)

    def trace() -> tuple[list[Causes], list[Causes], dict[str, Causes]]:
        # forward: what layer j's input (x) and output (out) follow from
        x, out = [], []
        # the first layer's output made of the config's inputs drawn in another order: its input, W and b were
        # (what follows from them too, layer by layer: an instructor's review had its dW told nothing)
        drawn_in = Causes({("inputs_first", layers[0].output)}) if layers and layers[0].output in drawn_outputs \
            else Causes()
        for j, spec in enumerate(layers):
            x.append(link(layers[j - 1].output, out[j - 1]) if j else given(p.input_name) | drawn_in)
            out.append(x[j] | given(spec.W, spec.b) if spec.kind == "conv" else x[j])
        # backward: the gradient coming into layer j (g), and each of its own gradients
        grads: dict[str, Causes] = {}
        g: Causes = Causes()
        for j in range(len(layers) - 1, -1, -1):
            spec = layers[j]
            if j < len(layers) - 1:
                g = link(f"{layers[j + 1].name}.dA_prev", grads[f"{layers[j + 1].name}.dA_prev"])
            elif p.grad_spec == "output":
                g = link(spec.output, out[j])
            else:
                g = given(spec.upstream)
            if spec.kind == "conv":
                grads.update({f"{spec.name}.dA_prev": g | given(spec.W) | (drawn_in if j == 0 else Causes()),
                              f"{spec.name}.dW": g | x[j], f"{spec.name}.db": g})
            else:  # an average pool's, or a max pool's over 1x1 windows, route g to fixed places: not x's
                fixed = spec.kind == "pool" and (spec.mode == "average"
                                                 or math.prod(p.layer_shapes[j].hyper["f"]) == 1)
                grads[f"{spec.name}.dA_prev"] = g if fixed else g | x[j]
        return x, out, grads

    def causes_of(o: Outcome, traced) -> Causes:
        _, out, grads = traced
        layer = o.quantity.split(".", 1)[0]
        if p.roles.get(o.quantity) == "gradient":
            return grads.get(o.quantity, Causes())
        return out[index[layer]] if layer in index else Causes()

    traced = trace()
    # A copy of a given input that differs is a likely cause only where nothing made of it passed: the arrays
    # that did were made of the config's (an instructor's review: a dW off by 1 was told its A_prev copy from
    # another seed is not the config's, where the Z, relu and pool made of A_prev passed); said as a maybe
    # there, as a dW made of the copy in another cell than the forward's is (a later review). A pass that any
    # array would get (atol_dominates) shows nothing.
    used: dict[str, list[str]] = {}
    for o in outcomes:
        if o.status == "pass" and o.abs_err is not None and "atol_dominates" not in o.hints:
            for kind, q in causes_of(o, traced):
                if kind == "other_inputs":
                    used.setdefault(q, []).append(o.quantity)
    # and what each array follows from without them (a later review: the maybe hid the gradient coming in)
    given_other = other
    other = {q: how for q, how in given_other.items() if q not in used}
    without = trace() if used else traced
    other = given_other

    for o in outcomes:
        layer = o.quantity.split(".", 1)[0]
        # numbers compared, and no other explanation given (no hint but NaN counts: the note's words are
        # for people)
        if (o.status != "fail" or set(o.hints) - {"nan_in_yours", "inf_in_yours", "nan_in_convcli"}
                or layer not in index):
            continue
        gradient = p.roles.get(o.quantity) == "gradient"

        def named_causes(traced) -> dict[str, list[str]]:
            causes = causes_of(o, traced)
            if o.abs_err is None:  # a shape follows only from shapes: an array of yours of another shape
                causes = Causes(c for c in causes if c[1] in shaped)
            return {kind: sorted(q for k, q in causes if k == kind)
                    for kind in ("other_inputs", "inputs_first", "forward_first", "gradient_first", "layout_first")}

        named = named_causes(traced)
        if named["other_inputs"] and all(q in used for q in named["other_inputs"]):
            # copies something made of passed: what else it follows from, if anything, else the maybe below
            named = named_causes(without) if any(named_causes(without).values()) else named
        if named["other_inputs"]:  # the root of everything else: said alone
            # the random inputs drawn in another order apart (a review: a file's copy that differs was folded in)
            drawn = [q for q in named["other_inputs"] if other.get(q, "").startswith(DRAWN)]
            rest = [q for q in named["other_inputs"] if q not in drawn]
            said = ([f"your {listed(rest)} not the config's"] if rest else []) + (
                [f"your {listed(drawn)} not the config's ({other[drawn[0]]})"] if drawn else [])
            shown = [q for q in named["other_inputs"] if q in used]
            if len(shown) == len(named["other_inputs"]):
                made = sorted({m for q in shown for m in used[q]}, key=list(p.shapes).index)
                o.note += (f"; yours may follow from other inputs: {'; and '.join(said)}, though your "
                           f"{joined(made)}, made of {'it' if len(shown) == 1 else 'them'}, "
                           f"pass{'es' if len(made) == 1 else ''}: if this one was made of your "
                           f"{'copy' if len(shown) == 1 else 'copies'}, that is why")
                o.hints.append("other_inputs")
                continue
            o.note += f"; yours follow from other inputs: {'; and '.join(said)}"
            o.hints.append("other_inputs")
            continue
        if named["inputs_first"]:
            one = len(named["inputs_first"]) == 1
            o.note += (f"; your {joined(named['inputs_first'])} {'is' if one else 'are'} made of the config's "
                       "inputs drawn in another order (said there), and so may this one be: draw them in the "
                       "config's order first")
            o.hints.append("other_inputs")
        if each_layer:
            continue
        if named["forward_first"]:
            one = len(named["forward_first"]) == 1
            forward = f"your forward output{'' if one else 's'} {joined(named['forward_first'])} " \
                      f"differ{'s' if one else ''} too"
            o.note += (f"; {forward}, and convcli's gradients follow from its own forward pass: fix the forward "
                       "first" if gradient else
                       f"; {forward}, and this layer's input follows from {'it' if one else 'them'}: fix "
                       f"{'it' if one else 'them'} first")
        if named["gradient_first"]:
            o.note += (f"; the gradient coming into this layer, your {', '.join(named['gradient_first'])}, "
                       "differs too: fix that one first")
        if named["layout_first"]:
            one = len(named["layout_first"]) == 1
            o.note += (f"; your {joined(named['layout_first'])} {'has' if one else 'have'} convcli's numbers with "
                       f"{'its' if one else 'their'} axes in another order: if your layers after "
                       f"{'it' if one else 'them'} took {'it' if one else 'them'} so, fix that first")
        if named["forward_first"] or named["gradient_first"] or named["layout_first"]:  # said once, after all
            o.note += ", or grade each layer on your inputs with --each-layer"
        o.hints += [kind for kind in ("forward_first", "gradient_first", "layout_first") if named[kind]]


def listed(names: list[str]) -> str:
    """``A_prev is`` / ``A_prev, W and b are``."""
    return f"{joined(names)} {'is' if len(names) == 1 else 'are'}"


def _ties_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
               atol: float) -> str:
    """For a max pool's ``dA_prev`` that differs: whether it is this layer's
    gradient under another tie rule (PyTorch's max_pool2d is ``first``), which
    would explain it (a learner's mask, a framework's)."""
    layers = p.network.layers
    for i, spec in enumerate(layers):
        if spec.kind != "pool" or spec.mode != "max" or q != f"{spec.name}.dA_prev":
            continue
        x, g = quantities.get(p.layer_input(i)), quantities.get(p.incoming_gradient(i))
        used = spec.hparameters.get("ties", "all")
        if x is None or g is None:
            return ""
        for ties in hparams.TIE_RULES:
            if ties != used:
                try:  # layer by layer, an input of yours and a gradient of convcli's may not fit
                    _, cache = pool_forward(x, dict(spec.hparameters, ties=ties), mode="max")
                    other = pool_backward(g, cache)
                except ValueError:
                    return ""
                if _close(theirs, other, rtol, atol):
                    return (f"; yours is this layer's gradient with ties: {ties} (the config's is ties: {used}; "
                            "PyTorch's max_pool2d is ties: first)")
    return ""


def _mask_only_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
                    atol: float) -> str:
    """For a max pool's ``dA_prev`` that differs: whether it is the windows'
    masks alone, each not multiplied by its window's gradient
    (``dA_prev[window] += mask``; a learner's review: no hint)."""
    for i, spec in enumerate(p.network.layers):
        if spec.kind != "pool" or spec.mode != "max" or q != f"{spec.name}.dA_prev":
            continue
        x, g = quantities.get(p.layer_input(i)), quantities.get(p.incoming_gradient(i))
        if x is None or g is None or np.all(g == 1):  # a gradient of ones: the masks are the answer
            return ""
        try:  # layer by layer, an input of yours may not fit
            _, cache = pool_forward(x, dict(spec.hparameters), mode="max")
            masks = pool_backward(np.ones_like(g), cache)
        except ValueError:
            return ""
        if _close(theirs, masks, rtol, atol):
            return ("; yours is the windows' masks alone (1 at each window's maximum): each is multiplied by its "
                    "window's gradient, dA_prev[window] += mask * dA[h, w]")
    return ""


def _no_mask_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
                  atol: float) -> str:
    """For a ReLU's or a max pool's ``dA_prev`` that differs: whether it is
    the gradient coming in with no mask: a ReLU's passed on where its input
    is below 0 too (an instructor's review), a max pool's window gradient
    given to every element of its window, ``dA_prev[window] += dA[h, w]``
    (a learner's review; both had no hint)."""
    for i, spec in enumerate(p.network.layers):
        if spec.kind not in ("relu", "pool") or spec.kind == "pool" and spec.mode != "max" \
                or q != f"{spec.name}.dA_prev":
            continue
        x, g = quantities.get(p.layer_input(i)), quantities.get(p.incoming_gradient(i))
        if spec.kind == "pool":
            if x is None or g is None:
                return ""
            hp = {**spec.hparameters, "ties": "all"}
            try:  # every element of a flat input is its window's maximum: each takes the window's gradient
                _, cache = pool_forward(np.zeros_like(x), hp, mode="max")
                spread = pool_backward(g, cache)
            except ValueError:  # layer by layer, an input or a gradient of yours may not fit
                return ""
            if theirs.shape == spread.shape and _close(theirs, spread, rtol, atol):
                return ("; yours gives each window's gradient to every element of its window (no mask): a max "
                        "pool's goes to the window's maximum only, dA_prev[window] += mask * dA[h, w]")
            return ""
        if x is None or g is None or x.shape != g.shape or theirs.shape != g.shape:
            return ""
        n = int(np.count_nonzero((x < 0) & (g != 0)))
        if n and _close(theirs, g, rtol, atol):
            return (f"; yours is the gradient coming in, passed on where the ReLU's input is below 0 too ({n} "
                    f"element{'s' * (n != 1)}): dA_prev = dA * (Z > 0)")
        with np.errstate(all="ignore"):  # the mask's values taken for the mask (a learner's review: no hint)
            for by, made in (("Z", g * x), ("A", g * np.maximum(x, 0))):
                if _close(theirs, made, rtol, atol):
                    return (f"; yours is the gradient coming in times the layer's {by} itself: the mask is "
                            "1 or 0, dA_prev = dA * (Z > 0)")
    return ""


def _some_samples_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
                       atol: float) -> str:
    """For a layer's output or dA_prev that differs: whether it is
    convcli's (``quantities``: the layer's right answer) in some samples and
    zeros in all the others: a copy or a write placed after the loop over
    the samples, not in it (the last sample's alone; a learner's review, no
    hint), or a loop that misses some."""
    found = _layer_of(p, q)
    ours = quantities.get(q)
    if found is None or q.endswith((".dW", ".db")) or ours is None or ours.shape != theirs.shape \
            or ours.ndim < 2 or ours.shape[0] < 2:
        return ""
    m = ours.shape[0]
    with np.errstate(all="ignore"):
        zero = [k for k in range(m) if not np.any(theirs[k]) and np.any(ours[k])]
        right = [k for k in range(m) if k not in zero]
        # (right in some sample that is not zeros in convcli's too: an array of zeros is all_zeros', a review)
        if not zero or not any(np.any(ours[k]) for k in right) or not all(
                _close(theirs[k], ours[k], rtol, atol) for k in right):
            return ""
    said = (f"; yours is convcli's in sample{'s' * (len(right) != 1)} {_ranges(right)} and zeros in "
            f"{'all the others' if len(zero) > 1 else f'sample {zero[0]}'}")
    if [k for k in right if np.any(ours[k])] == [m - 1]:  # the last sample's alone (where convcli's has any):
        return said + ": is it written after the loop over the samples, not inside it?"  # a write after the loop
    loop = " (range(m - 1))" if zero == [m - 1] else " (range(1, m))" if zero == [0] else ""
    return said + f": does the loop over the samples miss {'them' if len(zero) > 1 else 'it'}{loop}?"


def _ranges(ks: list[int]) -> str:
    """0, 2-5, 7: sample indices as runs."""
    runs, start = [], ks[0]
    for a, b in zip(ks, ks[1:] + [None]):
        if b != a + 1:
            runs.append(f"{start}" if start == a else f"{start}-{a}")
            start = b
    return ", ".join(runs)


def _pool_channels_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
                        atol: float) -> str:
    """For a pool's output that differs: whether each window was pooled
    over every channel at once (``np.max(a_prev[i, vs:ve, hs:he, :])``, the
    same number in every channel; an instructor's review, no hint)."""
    for i, spec in enumerate(p.network.layers):
        if spec.kind != "pool" or q != spec.output:
            continue
        x = quantities.get(p.layer_input(i))
        if x is None or x.ndim != 4 or x.shape[-1] < 2:
            return ""
        try:  # layer by layer, an input of yours may not fit
            each, _ = pool_forward(x, dict(spec.hparameters), mode=spec.mode)
        except ValueError:
            return ""
        every = (each.max if spec.mode == "max" else each.mean)(axis=-1, keepdims=True)
        if theirs.shape == each.shape and not _close(each, np.broadcast_to(every, each.shape), rtol, atol) \
                and _close(theirs, np.broadcast_to(every, each.shape), rtol, atol):
            how = "np.max" if spec.mode == "max" else "np.mean"
            return (f"; yours is each window's {'max' if spec.mode == 'max' else 'mean'} over every channel at once, "
                    f"the same in each: a pool takes each channel's own, {how}(a_prev[i, vert_start:vert_end, "
                    f"horiz_start:horiz_end, c])")
    return ""


def _relu_kink_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
                    atol: float) -> str:
    """For a ReLU's ``dA_prev`` that differs: whether it passes the gradient
    where the layer's input is exactly 0 too (``Z >= 0`` for ``Z > 0``), a
    learner's mask (a grader's review: the verdict right, 'hints: []')."""
    for i, spec in enumerate(p.network.layers):
        if spec.kind != "relu" or q != f"{spec.name}.dA_prev":
            continue
        x, g = quantities.get(p.layer_input(i)), quantities.get(p.incoming_gradient(i))
        if x is None or g is None or x.shape != g.shape or not np.any(x == 0):
            return ""
        n = int(np.count_nonzero((x == 0) & (g != 0)))
        if n and _close(theirs, np.where(x >= 0, g, 0), rtol, atol):
            return (f"; yours passes the gradient where the ReLU's input is exactly 0 ({n} element"
                    f"{'s' * (n != 1)}): its derivative there is taken as 0 (Z > 0, not Z >= 0), as in the "
                    "notebook and PyTorch")
    return ""


def _last_window(x: np.ndarray, g: np.ndarray, hyper: dict) -> tuple[np.ndarray, np.ndarray]:
    """A conv layer's last sample's last window of its input ``x`` (f_H,
    f_W, C_in; zeros in the padding) and its upstream gradient ``g``'s
    there, per channel: the terms the notebook's loops with ``=`` for
    ``+=`` keep (``dW[..., c] = window * dz[c]``, ``db = dz``)."""
    (f_H, f_W), (s_H, s_W), (d_H, d_W) = hyper["f"], hyper["stride"], hyper["dilation"]
    t, _, l, _ = hyper["pad"]
    dz = g[-1, -1, -1].astype(np.float64)  # the last sample's last window's gradient, per channel
    y0, x0 = (g.shape[1] - 1) * s_H - t, (g.shape[2] - 1) * s_W - l  # in the unpadded input
    window = np.zeros((f_H, f_W, x.shape[3]))
    for a in range(f_H):
        for b in range(f_W):
            y, xx = y0 + a * d_H, x0 + b * d_W
            if 0 <= y < x.shape[1] and 0 <= xx < x.shape[2]:
                window[a, b] = x[-1, y, xx]
    return window, dz


def _last_term_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
                    atol: float) -> str:
    """For a conv layer's ``dW`` or ``db`` that differs: whether it is the
    last term of its sum alone, the notebook's loops with ``=`` for ``+=``
    (``dW[:,:,:,c] = a_slice * dZ[i, h, w, c]`` keeps the last sample's last
    window's; a learner's review: 'no hint at all')."""
    for i, spec in enumerate(p.network.layers):
        if spec.kind != "conv" or q not in (f"{spec.name}.dW", f"{spec.name}.db"):
            continue
        x, g = quantities.get(p.layer_input(i)), quantities.get(p.incoming_gradient(i))
        if x is None or g is None or g.ndim != 4 or x.ndim != 4:
            return ""
        window, dz = _last_window(x, g, p.layer_shapes[i].hyper)
        if q.endswith(".db"):
            window = None  # (a db's term has none)
            last = dz.reshape(theirs.shape) if theirs.size == dz.size else None
        else:
            last = window[..., None] * dz
        if last is None or last.shape != theirs.shape:
            return ""
        if not np.abs(last).max() > atol:
            # that term is zeros: an array of zeros fits it, and fits a dW never filled as well (the seed's
            # case: its last window lies in the padding, so the = slip gives zeros; a review: 'no hint')
            if not np.any(theirs):
                grad = q.rsplit(".", 1)[1]
                why = ("whose upstream gradient is 0" if not np.any(dz) else "which lies in the padding"
                       if window is not None and not np.any(window) else
                       f"whose term is within atol ({atol:g}) of 0")
                return (f"{LAST_TERM_ZEROS[0]} (the last sample's last window, {why}): {grad} adds up every "
                        f"window's, {grad}[...] += ..., not =; {LAST_TERM_ZEROS[1]}")
            return ""
        if _close(theirs, last, rtol, atol):
            grad = q.rsplit(".", 1)[1]
            windows = g.shape[0] * g.shape[1] * g.shape[2]
            flat = g.reshape(-1, g.shape[3])
            if grad == "db" and windows > 1 and bool((flat == flat[-1]).all()):
                # every term alike (grad: ones): the last is the windows' mean too (a review: one slip or
                # the other, the numbers cannot tell)
                return (f"; yours is convcli's divided by the number of windows ({windows}: {g.shape[0]} samples x "
                        f"{g.shape[1] * g.shape[2]} positions): their mean, or the last term alone (db[...] += ..., "
                        f"not =); db adds up every window's")
            return (f"; yours is the last term of the sum alone (the last sample's last window): {grad} adds up "
                    f"every window's, {grad}[...] += ..., not =")
    return ""


def _last_sample_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
                      atol: float) -> str:
    """For a conv's ``dW`` or ``db`` that differs, of a batch of more than one
    sample: whether it is the last sample's alone (the sum zeroed inside the
    loop over samples; a learner's review: the per-sample hint saw only a
    stack of every sample's)."""
    for i, spec in enumerate(p.network.layers):
        if spec.kind != "conv" or q not in (f"{spec.name}.dW", f"{spec.name}.db"):
            continue
        x, g = quantities.get(p.layer_input(i)), quantities.get(p.incoming_gradient(i))
        W, b = quantities.get(spec.W), quantities.get(spec.b)
        if any(a is None for a in (x, g, W, b)) or x.ndim != 4 or g.ndim != 4 or x.shape[0] < 2:
            return ""
        try:
            Z, cache = conv_forward(x[-1:], W, b, spec.hparameters, engine=p.engine)
            _, dW, db = conv_backward(g[-1:].reshape(Z.shape), cache)
        except ValueError:
            return ""
        last = dW if q.endswith(".dW") else db
        # at the last sample's own scale too: where atol holds the whole array, anything small matched it (an
        # adversarial review: a dW / m of gradients of 3e-7 was told it was the last sample's)
        scale = rtol * float(np.abs(last).max(initial=0.0))
        if last.size != theirs.size or not _close(theirs, last.reshape(theirs.shape), rtol, min(atol, scale)):
            return ""
        grad = q.rsplit(".", 1)[1]
        return (f"; yours is the last sample's {grad} alone: {grad} adds up every sample's too (zeroed inside the "
                f"loop over the samples? start it at 0 once, before)")
    return ""


def _same_split_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
                     atol: float) -> str:
    """For the ``Z`` of a conv layer padded ``same`` with an odd padding
    along an axis, that differs: whether it is the layer's output with the
    odd unit on the other side, top and left (an engineer's review: a bare
    FAIL, where a one-sided pad was named)."""
    for i, spec in enumerate(p.network.layers):
        if spec.kind != "conv" or q != spec.output:
            continue
        x, W, b = quantities.get(p.layer_input(i)), quantities.get(spec.W), quantities.get(spec.b)
        if spec.hparameters.get("pad") != "same" or x is None or W is None or b is None:
            return ""
        try:  # the split of this input's "same" (--each-layer: an input of yours, of another size maybe)
            t, bo, l, r = hparams.conv_geometry(x, W, b, spec.hparameters).pad
            if (t, l) == (bo, r):
                return ""
            other = conv_forward(x, W, b, {**spec.hparameters, "pad": [bo, t, r, l]}, engine=p.engine)[0]
        except ValueError:  # (a review: an input of yours too small for the other split, exit 3)
            return ""
        if other.shape != theirs.shape or not _close(theirs, other, rtol, atol):
            return ""
        extra = " and ".join(what for what, odd in (("row", t != bo), ("column", l != r)) if odd)
        sides = " and ".join(side for side, odd in (("top", t != bo), ("left", l != r)) if odd)
        # PyTorch's padding="same" is stride 1's only (it refuses a strided layer's)
        like = ("TensorFlow's" if hparams.per_axis(spec.hparameters.get("stride", 1), "stride") != (1, 1)
                else "PyTorch's padding=\"same\" and TensorFlow's")
        return (f"; yours is this layer's output with its \"same\" padding's extra {extra} on the {sides} "
                f"({[bo, t, r, l]}): convcli's, as {like}, is on the "
                f"{sides.replace('top', 'bottom').replace('left', 'right')} ({[t, bo, l, r]})")
    return ""


def _edge_padding_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
                       atol: float) -> str:
    """For a padded conv layer's ``Z`` that differs: whether it is the layer's
    output with its input padded by its edge values (``np.pad(...,
    mode="edge")``) or by reflection (``mode="reflect"``) instead of zeros
    (a learner's review: a bare FAIL, the frame of differences showing only
    in the picture)."""
    for i, spec in enumerate(p.network.layers):
        if spec.kind != "conv" or q != spec.output:
            continue
        x, W, b = quantities.get(p.layer_input(i)), quantities.get(spec.W), quantities.get(spec.b)
        t, bo, l, r = p.layer_shapes[i].hyper["pad"]
        if x is None or W is None or b is None or x.ndim != 4 or not any((t, bo, l, r)):
            return ""
        hp = {k: v for k, v in spec.hparameters.items() if k != "pad"}
        for mode in ("edge", "reflect"):
            try:
                xp = np.pad(x, ((0, 0), (t, bo), (l, r), (0, 0)), mode=mode)
                other = conv_forward(xp, W, b, hp, engine=p.engine)[0]
            except ValueError:  # (reflect needs an input wider than its pad)
                continue
            if other.shape == theirs.shape and _close(theirs, other, rtol, atol):
                return (f"; yours is this layer's output with its input padded by {'its edge values' if mode == 'edge' else 'reflection'} "
                        f"(np.pad(..., mode=\"{mode}\")): the padding is zeros, np.pad(..., mode=\"constant\", "
                        "constant_values=0)")
    return ""


# _assigned_hint writes each window into dA_prev in the loops' order: only up to this many windows.
ASSIGNED_MAX_WINDOWS = 1 << 14


def _assigned_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
                   atol: float) -> str:
    """For a conv's or a pool's ``dA_prev`` that differs: whether it is what
    the notebook's backward loops make with ``=`` for ``+=`` (a learner's
    review: no hint, where the same slip in dW and db had one). Written in
    the loops' order (for h, for w, for c), each window's write replaces the
    last: a conv's every position keeps the last window over it and its last
    channel's term alone, ``W[:, :, :, -1] * dZ[i, h, w, -1]``; a pool's
    (channel by channel) the last window over it, mask or share and zeros
    alike. A max pool's only under ties: all (the course's
    ``x == np.max(x)``)."""
    for i, spec in enumerate(p.network.layers):
        if spec.kind not in ("conv", "pool") or q != f"{spec.name}.dA_prev":
            continue
        x, g = quantities.get(p.layer_input(i)), quantities.get(p.incoming_gradient(i))
        if x is None or g is None or x.ndim != 4 or g.ndim != 4 or theirs.shape != x.shape:
            return ""
        if g.shape[1] * g.shape[2] > ASSIGNED_MAX_WINDOWS or 2 * 8 * x.size > BIAS_RERUN_MAX_BYTES:
            return ""  # (two float64 copies of the padded input: not for a layer past the reruns' size)
        hyper = p.layer_shapes[i].hyper
        (f_H, f_W), (s_H, s_W) = hyper["f"], hyper["stride"]
        (d_H, d_W), (t, b, l, r) = hyper.get("dilation", (1, 1)), hyper.get("pad", (0, 0, 0, 0))
        if spec.kind == "pool" and spec.mode == "max" and spec.hparameters.get("ties", "all") != "all":
            return ""
        apart = s_H >= d_H * (f_H - 1) + 1 and s_W >= d_W * (f_W - 1) + 1
        if apart and (spec.kind == "pool" or g.shape[3] == 1):
            # windows apart: = and += make the same (a review: a max pool's NaN, which the course's mask gives
            # no gradient and convcli's does, was told "= for +=")
            return ""
        m, H, W_, C = x.shape
        made = np.zeros((m, H + t + b, W_ + l + r, C))
        if spec.kind == "pool" and spec.mode == "max":  # the windows' inputs, for their masks
            xp = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))
        if spec.kind == "conv":
            Wk = quantities.get(spec.W)
            if Wk is None:
                return ""
            last = Wk[..., -1].astype(np.float64)  # (f_H, f_W, C_prev): the last channel's kernel
        for h in range(g.shape[1]):
            for w in range(g.shape[2]):
                rows = slice(h * s_H, h * s_H + d_H * (f_H - 1) + 1, d_H)
                cols = slice(w * s_W, w * s_W + d_W * (f_W - 1) + 1, d_W)
                if spec.kind == "conv":
                    made[:, rows, cols, :] = last[None] * g[:, h, w, -1].astype(np.float64)[:, None, None, None]
                elif spec.mode == "max":
                    window = xp[:, rows, cols, :]
                    hit = window == window.max(axis=(1, 2), keepdims=True)
                    made[:, rows, cols, :] = hit * g[:, h:h + 1, w:w + 1, :]
                else:
                    made[:, rows, cols, :] = g[:, h:h + 1, w:w + 1, :] / (f_H * f_W)
        made = made[:, t:t + H, l:l + W_]
        if np.allclose(made, 0) or not _close(theirs, made, rtol, atol):
            return ""
        what = ("W[:, :, :, c] * dZ[i, h, w, c] over the windows and channels (with =, each position keeps the "
                "last window's last channel's term)" if spec.kind == "conv" else
                "each window's share (with =, each position keeps the last window's)")
        return (f"; yours is what the backward loops make with = for +=: dA_prev adds up {what}; "
                f"dA_prev[...] += ..., not =")
    return ""


def _mode_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
               atol: float) -> str:
    """For a pool layer's ``A`` or ``dA_prev`` that differs: whether it is
    what the pool of the other mode makes (a max pool's window maximum for
    an average pool's mean, or the other way round: one of the course's
    common slips, the mode passed or defaulted wrongly)."""
    for i, spec in enumerate(p.network.layers):
        if spec.kind != "pool" or q not in (spec.output, f"{spec.name}.dA_prev"):
            continue
        x, g = quantities.get(p.layer_input(i)), quantities.get(p.incoming_gradient(i))
        other = "average" if spec.mode == "max" else "max"
        hp = {k: v for k, v in spec.hparameters.items() if k != "ties" or other == "max"}
        if x is None or (q != spec.output and g is None):
            return ""
        try:  # layer by layer, an input of yours and a gradient of convcli's may not fit
            out, cache = pool_forward(x, hp, mode=other, engine=p.engine)
            made = out if q == spec.output else pool_backward(g.reshape(out.shape), cache, mode=other)
        except ValueError:
            return ""
        if _close(theirs, made, rtol, atol):
            return (f"; yours is what {'an average' if other == 'average' else 'a max'} pool makes here "
                    f"(mode: {other}); the config's pool is mode: {spec.mode}")
    return ""


def _pool_window_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
                      atol: float) -> str:
    """For a pool layer's ``dA_prev`` that differs: whether it is what the
    backward loops make over dA's windows with another window or step (an
    instructor's review: the forward output's window slip had a note, the
    gradient's none). The slips of ``vert_end = vert_start + stride`` (a
    window of the stride's size), ``vert_start = h * f`` (a step of the
    window's), the two swapped, and another window at the config's step;
    each rerun on the layer's input, dA's windows the first n_H x n_W of
    that setting's (a step of 1 is :func:`_stride_hint`'s)."""
    for i, spec in enumerate(p.network.layers):
        if spec.kind != "pool" or q != f"{spec.name}.dA_prev":
            continue
        x, g = quantities.get(p.layer_input(i)), quantities.get(p.incoming_gradient(i))
        ls = p.layer_shapes[i]
        if x is None or g is None or x.ndim != 4 or g.ndim != 4 or theirs.shape != x.shape:
            return ""
        f, s = tuple(ls.hyper["f"]), tuple(ls.hyper["stride"])
        n_H, n_W = g.shape[1:3]
        # (the window, the step, what the loops did): the likeliest slip first
        tried = [(s, s, "a window ends at vert_start + stride, not + f"),
                 (f, f, "a window starts at h * f, not h * stride"),
                 (s, f, "f and stride swapped")] if f != s else []
        if f[0] == f[1] and s[0] == s[1]:
            tried += [((k, k), s, "") for k in range(1, max(f[0], 3) + 2) if k not in (f[0], s[0])]
        for f_, s_, what in tried:
            if s_ == (1, 1) and s != (1, 1):
                continue  # the stride hint's
            hp = dict(spec.hparameters, f=list(f_), stride=list(s_))
            H, W = x.shape[1:3]
            if (n_H - 1) * s_[0] >= H or (n_W - 1) * s_[1] >= W:
                continue  # a window past the input: the loops' np.max of nothing raises
            # windows that run past the input's edge, NumPy's slices cut short: a max pool's loops take the
            # maximum of what is left (an instructor's review: vert_start = h * f at f 3, stride 2), as
            # windows over -inf beyond the edge do; an average pool's f*f shares do not fit them (NumPy raises)
            ext = (max(0, (n_H - 1) * s_[0] + f_[0] - H), max(0, (n_W - 1) * s_[1] + f_[1] - W))
            if any(ext) and spec.mode != "max":
                continue
            xx = np.pad(x, ((0, 0), (0, ext[0]), (0, ext[1]), (0, 0)), constant_values=-np.inf) if any(ext) else x
            try:
                out, cache = pool_forward(xx, hp, mode=spec.mode, engine=p.engine)
                if out.shape[1] < n_H or out.shape[2] < n_W or out.shape[3] != g.shape[3]:
                    continue
                wide = np.zeros(out.shape, dtype=np.result_type(g, out))
                wide[:, :n_H, :n_W] = g
                made = pool_backward(wide, cache, mode=spec.mode)[:, :H, :W]
            except ValueError:
                continue
            if _close(theirs, made, rtol, atol):
                def fmt(t: tuple[int, int]) -> str:
                    return str(t[0]) if t[0] == t[1] else str(list(t))
                return (f"; yours is what the backward loops make with windows of f {fmt(f_)} at stride {fmt(s_)}"
                        f"{f' ({what})' if what else ''}; the config's f is {fmt(f)}, stride {fmt(s)}")
        return ""
    return ""


def _stride_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
                 atol: float) -> str:
    """For a strided conv or pool layer's output that differs: whether it is
    the layer's output at stride 1 cut to the output's size, the windows
    started at ``h`` instead of ``h * stride`` (a learner's slip in the
    loops' ``vert_start``)."""
    layers = p.network.layers
    for i, spec in enumerate(layers):
        ls = p.layer_shapes[i]
        grads = {f"{spec.name}.dA_prev": 0, f"{spec.name}.dW": 1} if spec.kind == "conv" else \
            {f"{spec.name}.dA_prev": 0}
        if spec.kind not in ("conv", "pool") or q != spec.output and q not in grads \
                or list(ls.hyper["stride"]) == [1, 1]:
            continue
        x = quantities.get(p.layer_input(i))
        g = quantities.get(p.incoming_gradient(i)) if q in grads else None
        if x is None or q in grads and g is None:
            return ""
        n_H, n_W = ls.out_shape[1:3]
        try:
            if spec.kind == "conv":
                if spec.W not in quantities or spec.b not in quantities:
                    return ""
                hp = dict(spec.hparameters, stride=1, pad=list(ls.hyper["pad"]))  # "same" keeps its padding
                out, cache = conv_forward(x, quantities[spec.W], quantities[spec.b], hp, engine=p.engine)
            else:
                out, cache = pool_forward(x, dict(spec.hparameters, stride=1), mode=spec.mode, engine=p.engine)
            if q in grads:  # the same slip in the backward loops: dZ's (h, w) taken back to the window at h
                if g.shape[:3] != out[:, :n_H, :n_W].shape[:3] or g.shape[3] != out.shape[3]:
                    return ""
                wide = np.zeros(out.shape, dtype=np.result_type(g, out))
                wide[:, :n_H, :n_W] = g
                out = conv_backward(wide, cache)[grads[q]] if spec.kind == "conv" else \
                    pool_backward(wide, cache, mode=spec.mode)
        except ValueError:
            return ""
        if _close(theirs, out if q in grads else out[:, :n_H, :n_W], rtol, atol):
            (s_H, s_W) = ls.hyper["stride"]
            # the strided axes only (a review: stride [1, 2] read "starts at h * 1 and w * 2, not at h")
            axes = [(i, s) for i, s in (("h", s_H), ("w", s_W)) if s > 1]
            step = f"h * {s_H}" if s_H == s_W else " and ".join(f"{i} * {s}" for i, s in axes)
            at = "h" if s_H == s_W else " and ".join(i for i, _ in axes)
            if q in grads:
                up = "dZ" if spec.kind == "conv" else "dA"  # (a pool's upstream gradient is the course's dA)
                return (f"; yours is this layer's gradient with each window at (h, w): {up}[h, w] goes back to "
                        f"the window that starts at {step} (the stride), not at {at}")
            return (f"; yours is this layer's output at stride 1, its first {n_H}x{n_W} windows: a window "
                    f"starts at {step} (the stride), not at {at}")
    return ""


def _bias_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
               atol: float) -> str:
    """For a conv layer's ``Z`` that differs: whether it is that layer's
    output under the other bias convention. The seed notebook adds ``b`` to
    every element of the window before the sum (``bias: window``), the most
    common slip in this assignment; frameworks add it once. The two outputs
    differ by (f_H*f_W*n_C_prev - 1) * b in every position."""
    for i, spec in enumerate(p.network.layers):
        if spec.kind != "conv" or q != spec.output or spec.b not in quantities:
            continue
        hyper = p.layer_shapes[i].hyper
        k = math.prod(hyper["f"]) * p.layer_shapes[i].in_shape[3]
        b = quantities[spec.b].reshape(-1).astype(np.float64)
        once = spec.hparameters.get("bias", "once") == "once"
        other = quantities[q] + (k - 1) * b if once else quantities[q] - (k - 1) * b
        if k > 1 and _close(theirs, other, rtol, atol):
            if once:
                return (f"; yours is this layer's output with b added to each of the window's {k} elements "
                        "(the seed notebook's np.sum(a_slice_prev * W + b)): add it once, after the sum, "
                        "or check against a config whose conv layer says bias: window")
            return "; yours is this layer's output with b added once (bias: once); the config's is bias: window"
    return ""


# _bias_convention_note runs the layers again beside the run's own results:
# only where those are at most this large.
BIAS_RERUN_MAX_BYTES = 256 << 20

# A float32 array of a user's may differ from convcli's float32 one by this many times what float32's
# rounding moved convcli's own (measured against the same layers run in float64 on the same inputs): a
# float32 computation summed in another order (a framework's, the notebook's loops) rounds otherwise.
# Measured, dW of a stride-2 3x3 conv summed over 512-8192 positions: PyTorch's float32 1.0x-3.3x of
# convcli's, the notebook's loops (one running sum) 0.9x-6.8x.
ROUNDING_FACTOR = 16
# ... but never more than this part of the array's largest magnitude: where float32's rounding flips a
# decision (which of a max pool's near-equal inputs is the maximum, a ReLU input's sign near 0), the two
# runs differ by a gradient's whole size there and in every sum it enters, not by rounding (a review:
# 16 times that passed any array). Float32 sums of 8192 terms rounded by ~1e-6 of it, measured.
ROUNDING_CAP = 2.0 ** -10
# A conv layer's db is a plain sum of dZ over the positions, which convcli adds in float64 and rounds
# once (conv._column_sums): its float32 db moves by half a unit in its last place, so ROUNDING_FACTOR
# times that is no allowance for a float32 sum. One added in float32 (PyTorch's, the notebook's loops:
# one running sum) rounds by up to about a unit roundoff (2**-24) of the sum of its terms' magnitudes,
# which where dZ cancels (a mean-subtracted upstream gradient) is far more than the sum itself: PyTorch's
# float32 db of 16384 positions was off by 0.35 of it and failed (a review: 2.7e-4 against an atol of
# 1e-5). So a db is allowed at least ROUNDING_FACTOR unit roundoffs of its largest channel's sum of |dZ|,
# whatever the cap: one term of a typical size left out is more than that up to ~1e6 positions.
SUM_ROUNDING = 2.0 ** -24
# A running sum (the notebook's loops) rounds each partial sum s_k, by up to a unit roundoff of it, either
# way: its error is about SUM_ROUNDING / sqrt(3) * sqrt(sum of s_k^2) (one standard deviation). Where the
# terms' sign follows the sample order (a batch sorted by class), the partial sums grow to the order of
# the whole before they cancel, and that is far more than ROUNDING_FACTOR units of the terms' magnitudes
# (a review: the notebook's float32 loop over 43,264 positions off by 79 of them, and failed); where it
# does not, about a unit of them. So a db and a dW are allowed RUNNING_SIGMAS of it too, their partial
# sums taken in the batch's order a block of samples at a time (RUNNING_BLOCKS): a bound that grew with
# the count of terms alone passed a dW one sample short of 200,000 (a review).
RUNNING_SIGMAS = 6
RUNNING_BLOCKS = 64
# _dw_by_row's float64 runs of samples (their windows unfolded, their dZ, their padded input row) hold at
# most this many bytes (one sample's at least); a run is up to ROW_BLOCK output positions of a row
ROW_SHARE_BYTES = 32 << 20
ROW_BLOCK = 64


def _running_sums(A: np.ndarray, W: np.ndarray, b: np.ndarray, dZ: np.ndarray,
                  hp: dict) -> tuple[np.ndarray, np.ndarray]:
    """What a running sum of a conv layer's dW and db terms rounds by in
    float32, each element's (RUNNING_SIGMAS standard deviations of
    sqrt(sum of the squared partial sums); arrays of dW's shape and of n_C),
    in the larger of two orders: the batch's (samples, then positions: the notebook's loops),
    its partial sums taken at the edges of RUNNING_BLOCKS blocks of samples,
    each block's terms counted at the larger of its edges; and the
    positions' (a loop over output positions, the batch summed at each: the
    usual half-vectorised backward), dW's partial sums taken at the edges
    of output rows (:func:`_position_sums`). In float64, the blocks'
    gradients by the fast engine's backward alone."""
    m = dZ.shape[0]
    positions = math.prod(dZ.shape[1:3])
    edges = [(k * m) // min(m, RUNNING_BLOCKS) for k in range(min(m, RUNNING_BLOCKS) + 1)]
    W64, b64 = W.astype(np.float64), np.asarray(b, dtype=np.float64)
    sum_W, sum_b = np.zeros(W.shape), np.zeros(dZ.shape[-1])
    squares_W, squares_b = np.zeros(W.shape), np.zeros(dZ.shape[-1])
    with np.errstate(all="ignore"):
        for n0, n1 in zip(edges, edges[1:]):
            # (the backward of the notebook's cache, which unfolds the block's input itself: no forward, whose Z
            # a review found taking half of the estimate's time)
            dW = conv_backward(dZ[n0:n1].astype(np.float64), (A[n0:n1].astype(np.float64), W64, b64, hp),
                               engine="fast")[1]
            new_W = sum_W + dW
            squares_W += (n1 - n0) * positions * np.maximum(np.abs(sum_W), np.abs(new_W)) ** 2
            sum_W = new_W
            # db's partial sums, every one (a review: a sum that ran up and cancelled inside one sample,
            # its gradient's sign following the rows, was not seen at the samples' edges)
            part = sum_b + np.cumsum(dZ[n0:n1].astype(np.float64).reshape(-1, dZ.shape[-1]), axis=0)
            squares_b += np.einsum("ij,ij->j", part, part)
            sum_b = part[-1]
        if m < RUNNING_BLOCKS:  # blocks of one sample: what runs up inside one, at most its share of the terms'
            squares_W += positions * _dw_terms_bound(A, dZ, W.shape) ** 2 / m  # magnitudes, over its positions
        by_position_W, by_position_b = _position_sums(A, W, dZ, hp)
        scale = RUNNING_SIGMAS * SUM_ROUNDING / math.sqrt(3)
        return (scale * np.sqrt(np.maximum(squares_W, by_position_W)),
                scale * np.sqrt(np.maximum(squares_b, by_position_b)))


def _position_sums(A: np.ndarray, W: np.ndarray, dZ: np.ndarray, hp: dict) -> tuple[np.ndarray, np.ndarray]:
    """The sums of the squared partial sums of dW and db (each element's)
    where the running sums go over the output positions in
    row-major order, the batch summed at each (``for h, w: db +=
    dZ[:, h, w].sum(0)``; a review: such a float32 loop over 64 samples of
    100x100 maps, each positive on its top half and negative below, was off
    by 0.74 against an allowance of 0.61 in the batch's order). db's are
    taken at every position; dW's at the edges of runs of up to ROW_BLOCK
    positions of a row, each run's terms counted at the larger of its edges.
    In float64; dW a run at a time (:func:`_dw_by_row`)."""
    g = hparams.conv_geometry(A, W, np.zeros(W.shape[-1]), hp)
    per_position = sum(part.sum(axis=0) for part in _float64_parts(dZ)).reshape(-1, g.n_C)
    running_b = np.cumsum(per_position, axis=0)
    squares_b = np.einsum("ij,ij->j", running_b, running_b)
    sum_W, squares_W = np.zeros(W.shape), np.zeros(W.shape)
    for positions, share in _dw_by_row(A, dZ, g):
        new_W = sum_W + share
        squares_W += positions * np.maximum(np.abs(sum_W), np.abs(new_W)) ** 2
        sum_W = new_W
    return squares_W, squares_b


def _dw_by_row(A: np.ndarray, dZ: np.ndarray, g: hparams.ConvGeometry):
    """The shares of a conv layer's dW (their terms over the batch and the
    positions they cover), in the positions' row-major order, in float64:
    ``(positions, share)`` for each run of up to ROW_BLOCK output positions
    of a row (a review: a run-up inside a 1x40000 map's one row was not
    seen at the rows' edges); the windows unfolded, one product a run, for
    up to ROW_SHARE_BYTES of its samples at a time."""
    t, _, left, right = g.pad
    K = g.f_H * g.f_W * g.n_C_prev
    width = min(g.n_W, ROW_BLOCK)
    # a sample's run: its windows unfolded, its dZ in float64 and its padded input row (a review: the
    # unfolding alone counted, a 1x1 conv to 256 channels of 4096 samples peaked at 192 MiB)
    step = max(1, ROW_SHARE_BYTES // (8 * (width * (K + g.n_C) + (g.n_W_prev + left + right) * g.n_C_prev)))
    padded = np.zeros((min(step, g.m), g.n_W_prev + left + right, g.n_C_prev))
    cols = np.empty((min(step, g.m), width, g.f_H, g.f_W, g.n_C_prev))
    for h in range(g.n_H):
        for w0 in range(0, g.n_W, width):
            w1 = min(g.n_W, w0 + width)
            span = g.s_W * (w1 - w0 - 1) + 1  # the columns one kernel column's windows reach, from its first
            share = np.zeros((K, g.n_C))
            for n0 in range(0, g.m, step):
                n = min(step, g.m - n0)
                for i in range(g.f_H):
                    r = h * g.s_H - t + i * g.d_H
                    if 0 <= r < g.n_H_prev:  # else a padding row: no terms
                        padded[:n, left:left + g.n_W_prev] = A[n0:n0 + n, r]
                    for j in range(g.f_W):
                        c = w0 * g.s_W + j * g.d_W
                        cols[:n, :w1 - w0, i, j] = padded[:n, c:c + span:g.s_W] if 0 <= r < g.n_H_prev else 0.0
                share += (cols[:n, :w1 - w0].reshape(-1, K).T
                          @ dZ[n0:n0 + n, h, w0:w1].astype(np.float64).reshape(-1, g.n_C))
            yield w1 - w0, share.reshape(g.f_H, g.f_W, g.n_C_prev, g.n_C)


def float32_rounding(p: Plan, results: Results, backward: bool) -> dict[str, float | np.ndarray]:
    """Per quantity of ``results``, what a float32 array of it may differ by
    for float32's rounding alone: ``ROUNDING_FACTOR`` times the largest
    difference, over the elements finite in both, between the run in
    float32 and the same layers in float64 (or the float64 run and the same
    layers in float32: :func:`runner.in_other_dtype`), at most
    ``ROUNDING_CAP`` of the quantity's largest finite magnitude; none where
    the run cannot be held twice (``BIAS_RERUN_MAX_BYTES``) or the other run
    fails (a layer error). A conv layer's db at least what a float32 sum
    of its terms rounds by (``SUM_ROUNDING``; a running sum's in the batch's
    order, :func:`_running_sums`), and its dW at least that
    of a bound on its terms' magnitudes (:func:`_dw_terms_bound`), even where
    the run is too large to run again (an instructor's review: a float32
    dW of 117,600 terms a element, convcli's own from another thread
    setting, failed 7 of 18,432 elements with no allowance at all). The
    floors and the running sums are each element's own: a db's and a dW's
    allowance is an array of their shape."""
    again = in_other_dtype(p, results, backward, BIAS_RERUN_MAX_BYTES) or {}
    out = {}
    for q, ours in results.quantities.items():
        theirs = again.get(q)
        if theirs is None or not isinstance(ours, np.ndarray) or theirs.shape != ours.shape:
            continue
        with np.errstate(all="ignore"):
            diff = np.abs(ours.astype(np.float64) - theirs.astype(np.float64))
        diff = diff[np.isfinite(diff)]
        size = np.abs(ours[np.isfinite(ours)])
        out[q] = min(ROUNDING_FACTOR * float(diff.max()) if diff.size else 0.0,
                     ROUNDING_CAP * float(size.max()) if size.size else 0.0)
    for i, spec in enumerate(p.network.layers):  # a db's floor: a float32 sum's rounding (SUM_ROUNDING)
        # (each element's own: an allowance the largest element's for every one passed a dW of a channel 100
        # times smaller left out, a review; the measured part too, scaled to each element's terms; and a
        # channel's NaN leaves the others theirs, a later review)
        db, dZ = f"{spec.name}.db", results.quantities.get(p.incoming_gradient(i))
        if spec.kind == "conv" and db in results.quantities and isinstance(dZ, np.ndarray) and dZ.ndim == 4:
            with np.errstate(all="ignore"):
                terms = _finite_part(np.abs(dZ.astype(np.float64)).sum(axis=(0, 1, 2)))
            terms = terms.reshape(results.quantities[db].shape)
            out[db] = np.maximum(_measured(results.quantities[db], again.get(db), terms),
                                 ROUNDING_FACTOR * SUM_ROUNDING * terms)
        dW, A = f"{spec.name}.dW", results.quantities.get(p.layer_input(i))
        if (spec.kind == "conv" and dW in results.quantities and isinstance(dZ, np.ndarray) and dZ.ndim == 4
                and isinstance(A, np.ndarray) and A.ndim == 4):
            bound = _finite_part(_dw_terms_bound(A, dZ, results.quantities[dW].shape))
            out[dW] = np.maximum(_measured(results.quantities[dW], again.get(dW), bound),
                                 ROUNDING_FACTOR * SUM_ROUNDING * bound)
            W, b = results.quantities.get(spec.W), results.quantities.get(spec.b)
            if isinstance(W, np.ndarray) and isinstance(b, np.ndarray):  # a running sum's, in either order
                running_W, running_b = _running_sums(A, W, b, dZ, dict(spec.hparameters))
                out[dW] = np.maximum(out[dW], _finite_part(running_W))
                if db in out:
                    out[db] = np.maximum(out[db], _finite_part(running_b).reshape(results.quantities[db].shape))
        # a dA_prev's, only where the run was too large to run again: its bound holds for the worst
        # element, many times the rounding measured on the others (16 float32 units of the terms of a
        # typical element, 1.2e-5 of it, against ~2e-6 measured)
        dA, W = f"{spec.name}.dA_prev", results.quantities.get(spec.W) if spec.kind == "conv" else None
        if (dA in results.quantities and dA not in again and isinstance(dZ, np.ndarray) and dZ.ndim == 4
                and isinstance(W, np.ndarray) and W.ndim == 4):
            bound = _da_terms_bound(W, dZ)
            if math.isfinite(bound):
                out[dA] = max(ROUNDING_FACTOR, math.sqrt(W.shape[0] * W.shape[1] * W.shape[3])) * SUM_ROUNDING * bound
    return out


def _at_scale(rounding: Callable[[], dict], reference: dict[str, np.ndarray],
              quantities: dict[str, np.ndarray]) -> dict[str, float | np.ndarray]:
    """``rounding()`` (the whole run's float32 allowances) for ``check
    --each-layer``, each scaled by how much smaller what the layer made of
    the user's arrays (``reference``) is than the whole run's: float32's
    rounding scales with its terms (an adversarial review: a pool gradient
    of theirs 3e-6 of convcli's made a dW of 1e-4, and the whole run's
    allowance, 9e-4, passed a dW of zeros)."""
    out = {}
    for q, allowed in rounding().items():
        made, whole = reference.get(q), quantities.get(q)
        factor = 1.0
        if made is not whole and isinstance(made, np.ndarray) and isinstance(whole, np.ndarray):
            big, small = _largest(whole), _largest(made)
            factor = min(1.0, small / big) if big > 0 and math.isfinite(big) and math.isfinite(small) else 1.0
        out[q] = allowed * factor
    return out


def _finite_part(x: np.ndarray) -> np.ndarray:
    """``x`` with its NaN and infinities as 0 (an allowance of none there)."""
    return np.where(np.isfinite(x), x, 0.0)


def _measured(ours: np.ndarray, other, terms: np.ndarray) -> np.ndarray:
    """ROUNDING_FACTOR times the float32 run's difference from the other
    dtype's (``other``: None where the run was not run again), as each
    element's share of it: the largest ratio of a difference to its
    element's terms' magnitudes (``terms``), times each element's; at most
    ROUNDING_CAP of the largest finite magnitude."""
    if not isinstance(other, np.ndarray) or other.shape != ours.shape:
        return np.zeros(terms.shape)
    with np.errstate(all="ignore"):
        diff = np.abs(ours.astype(np.float64) - other.astype(np.float64)).reshape(terms.shape)
        ratio = np.where((terms > 0) & np.isfinite(diff), diff / np.where(terms > 0, terms, 1.0), 0.0)
    size = np.abs(ours[np.isfinite(ours)])
    cap = ROUNDING_CAP * float(size.max()) if size.size else 0.0
    return np.minimum(ROUNDING_FACTOR * float(ratio.max(initial=0.0)) * terms, cap)


def _da_terms_bound(W: np.ndarray, dZ: np.ndarray) -> float:
    """A bound on the sum of the magnitudes of any conv dA_prev element's
    terms, W[i, j, c, k] dZ[position under (i, j), k] over the kernel's
    offsets and the output channels: by Cauchy-Schwarz at most the largest
    input channel's norm of W times the norm of dZ over the f_H*f_W
    positions a window covers, at most sqrt(f_H*f_W) times dZ's largest
    norm over the channels at one position (a streaming review: a float32
    run too large to run twice had no allowance for its dA_prev, and the
    streamed run's own, from smaller products, failed 45 of 4,915,200
    elements in memory, where terms cancelled)."""
    with np.errstate(all="ignore"):
        w = np.sqrt(np.einsum("ijck,ijck->c", W.astype(np.float64), W.astype(np.float64))).max()
        most = max(float(np.einsum("nhwk,nhwk->nhw", part, part).max(initial=0.0)) for part in _float64_parts(dZ))
    return float(w * math.sqrt(W.shape[0] * W.shape[1] * most))


def _float64_parts(x: np.ndarray):
    """``x`` in float64, a few samples at a time (no array-sized float64
    copy)."""
    step = max(1, (1 << 20) // max(1, x[0].size))
    for n in range(0, x.shape[0], step):
        yield x[n:n + step].astype(np.float64)


def _channel_norms(x: np.ndarray) -> np.ndarray:
    """The 2-norm of each channel (last axis) of ``x``, in float64, a few
    samples at a time (no array-sized float64 copy)."""
    sums = np.zeros(x.shape[-1])
    with np.errstate(all="ignore"):
        for part in _float64_parts(x):
            part = part.reshape(-1, x.shape[-1])
            sums += np.einsum("ij,ij->j", part, part)
    return np.sqrt(sums)


def _dw_terms_bound(A: np.ndarray, dZ: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A bound on the sum of the magnitudes of each conv dW element's terms
    (an array of dW's ``shape``), sum over positions of |A_prev[pos +
    offset, c]| |dZ[pos, c']|: by Cauchy-Schwarz at most the norm of
    A_prev's channel c times dZ's channel c' (1.6x the sum itself for
    independent random values; padding and strides only leave terms out)."""
    return np.broadcast_to(np.outer(_channel_norms(A), _channel_norms(dZ)), shape)


def _bias_convention_note(p: Plan, entries: list, outcomes: list[Outcome], backward: bool,
                          quantities: dict[str, np.ndarray]) -> None:
    """Expected values that fail, where the run with every conv layer's bias
    convention flipped (once <-> window) passes them all: said on each, as
    the ``bias_window`` hint of --against says it of an array (in the note:
    expected entries carry no hint kinds). A learner who pastes the seed
    notebook's printed means (its conv_single_step adds b to every window
    element) into a config of bias: once saw bare FAILs (a review). One
    more run of the layers, only where an entry fails, a conv layer
    exists and the run's arrays (``quantities``) are small enough to hold
    twice."""
    failed = [(e, o) for e, o in zip(entries, outcomes) if not o.passed and e.stat != "shape"]
    convs = [spec for spec in p.network.layers if spec.kind == "conv"]
    held = sum(a.nbytes for a in quantities.values() if isinstance(a, np.ndarray))
    if not failed or not convs or held > BIAS_RERUN_MAX_BYTES:
        return
    def flipped(spec: LayerSpec) -> LayerSpec:
        if spec.kind != "conv":
            return spec
        bias = "once" if spec.hparameters.get("bias", "once") == "window" else "window"
        return dataclasses.replace(spec, hparameters={**spec.hparameters, "bias": bias})

    net = p.network
    other = dataclasses.replace(p, network=Network([flipped(spec) for spec in net.layers], net.finite,
                                                   net.input_name))
    try:
        with np.errstate(all="ignore"):
            # (runner.run looked up at the call, not bound at import: a test that replaced it while
            # convcli.check was first imported left the replacement here for every later test)
            quantities = runner.run(other, backward).quantities
    except (ConvcliError, ValueError):  # (it overflows where the config's does not: no note, then)
        return
    again = evaluate_expected([e for e, _ in failed], quantities)
    if not all(o.passed for o in again):
        return
    nows = [spec.hparameters.get("bias", "once") for spec in convs]
    if len(set(nows)) > 1:  # layers of both conventions: each flipped (a review: one was advised for all)
        flips = ", ".join(f"bias: {'window' if now == 'once' else 'once'} on {spec.name}"
                          for spec, now in zip(convs, nows))
        advice = (f"every value that fails here is what each conv layer's bias convention flipped gives: set "
                  f"{flips} to reproduce them (the config says {', '.join(nows)})")
    else:
        now = nows[0]
        to = "window" if now == "once" else "once"
        said = ("the seed notebook's convention (b added to every element of the window, as its conv_single_step "
                "does)" if to == "window" else "b added once, after the window's sum")
        # (a learner's review: "the config says bias: once" of a config that says nothing, once the default)
        given = any("bias" in layer.model_fields_set for layer in p.cfg.model.layers if layer.type == "conv")
        advice = (f"every value that fails here is what {said} gives: set bias: {to} on the conv "
                  f"layer{'s' * (len(convs) > 1)} to reproduce them "
                  f"({f'the config says bias: {now}' if given else f'bias: {now}, the default: the config says none'})")
    for _, o in failed:
        o.note = (o.note + "; " + advice).lstrip("; ")


def _no_bias_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
                  atol: float) -> str:
    """For a conv layer's ``Z`` that differs: whether it is that layer's
    output without its bias (``b`` never added, or added to a copy)."""
    for i, spec in enumerate(p.network.layers):
        if spec.kind != "conv" or q != spec.output or spec.b not in quantities:
            continue
        b = quantities[spec.b].reshape(-1).astype(np.float64)
        k = math.prod(p.layer_shapes[i].hyper["f"]) * p.layer_shapes[i].in_shape[3]
        window = spec.hparameters.get("bias", "once") == "window"
        if b.any() and _close(theirs, quantities[q] - (k * b if window else b), rtol, atol):
            if window:  # the bias counted once a window element
                return (f"; yours is this layer's output without its bias: the config's bias: window adds b[c] "
                        f"to each of the window's {k} elements, {k} * b[c] to every output of channel c")
            return "; yours is this layer's output without its bias: add b[c] to every output of channel c"
        if b.any() and not window and _close(theirs, quantities[q] + b, rtol, atol):  # (a learner's review)
            return ("; yours is this layer's output with its bias added twice (conv_single_step adds b[c] already): "
                    "add it once")
    return ""


def _activation_hint(p: Plan, quantities: dict[str, np.ndarray], q: str, theirs: np.ndarray, rtol: float,
                     atol: float) -> str:
    """For a conv layer's ``Z`` that differs: whether it is that output
    through a ReLU, ``np.maximum(Z, 0)``, taken inside conv_forward (a
    learner's review: no hint, and every array after it sent to fix it)."""
    found = _layer_of(p, q)
    ours = quantities.get(q)
    if found is None or found[1].kind != "conv" or found[2] or ours is None or not np.any(ours < 0):
        return ""
    if _close(theirs, np.maximum(ours, 0), rtol, atol):
        return ("; yours is this layer's output through a ReLU, np.maximum(Z, 0): conv_forward's Z comes before "
                "the activation, which its own layer applies")
    return ""


def _flip_hint(p: Plan, quantities: dict[str, np.ndarray], inputs: dict[str, np.ndarray], q: str,
               theirs: np.ndarray, rtol: float, atol: float, transposed: bool = False) -> str:
    """For a conv layer's ``Z``, ``dW`` or ``dA_prev`` that differs: whether
    it is what the layer makes with its kernel turned by 180 degrees,
    ``W[::-1, ::-1]``: a true convolution (as in a signal-processing text or
    ``scipy.signal.convolve2d``), where CNN layers, the notebook's and the
    frameworks', take the cross-correlation ``sum(window * W)``. With
    ``transposed``, whether it is what the layer makes with the kernel's
    rows and columns swapped, ``W.transpose(1, 0, 2, 3)`` (a window indexed
    [h, w] against W indexed [w, h]: an instructor's review), for a square
    kernel that swapping changes: a Z or dA_prev (such a dW is convcli's in
    another axis order, which :func:`_order_hint` says)."""
    layers = p.network.layers
    for i, spec in enumerate(layers):
        if spec.kind != "conv" or q not in (spec.output, f"{spec.name}.dW", f"{spec.name}.dA_prev"):
            continue
        W = quantities.get(spec.W)
        if W is None or W.shape[0] * W.shape[1] == 1:
            return ""
        if transposed and (W.shape[0] != W.shape[1] or np.array_equal(W, W.transpose(1, 0, 2, 3))
                           or q == f"{spec.name}.dW"):  # (a dW so is convcli's in another axis order: that hint)
            return ""
        turn = (lambda K: K.transpose(1, 0, 2, 3)) if transposed else (lambda K: K[::-1, ::-1])
        if q == f"{spec.name}.dW":
            other = turn(quantities[q])
        else:
            x, b, g = inputs.get(p.layer_input(i)), quantities.get(spec.b), inputs.get(p.incoming_gradient(i))
            if x is None or b is None or (q != spec.output and g is None):
                return ""
            try:  # layer by layer, an input of yours and a gradient of convcli's may not fit
                Z, cache = conv_forward(x, turn(W), b, spec.hparameters, engine=p.engine)
                other = Z if q == spec.output else conv_backward(g.reshape(Z.shape), cache)[0]
            except ValueError:
                return ""
        if transposed:
            return ("; yours is what this layer makes with its kernel's rows and columns swapped, "
                    "W.transpose(1, 0, 2, 3): index the window and W alike, [h, w] (the row first)"
                    if _close(theirs, other, rtol, atol) else "")
        if _close(theirs, other, rtol, atol) and q == f"{spec.name}.dA_prev":
            # (an instructor's review: told "W as it lies", where this slip is a backward's that did not flip it)
            return ("; yours is this layer's dA_prev for its kernel turned by 180 degrees: taken as a convolution "
                    "of the padded dZ, the input gradient needs the kernel turned, W[::-1, ::-1] (a "
                    "cross-correlation's backward is a true convolution); the notebook's loops need no turn: "
                    "they add W[:, :, :, c] * dZ[i, h, w, c] into each window of dA_prev")
        if _close(theirs, other, rtol, atol):
            return ("; yours is what this layer makes with its kernel turned by 180 degrees, W[::-1, ::-1]: "
                    "a convolution in the signal-processing sense; a CNN layer takes sum(window * W[:, :, :, c]) "
                    "with W as it lies (a cross-correlation)")
    return ""


def _channels_swapped_hint(p: Plan, quantities: dict[str, np.ndarray], inputs: dict[str, np.ndarray], q: str,
                           theirs: np.ndarray, rtol: float, atol: float) -> str:
    """For a conv layer's ``Z`` that differs, where it has as many input as
    output channels: whether it is what the layer makes with the kernel's
    two channel axes swapped, ``W.transpose(0, 1, 3, 2)`` (filter c taken
    as ``W[:, :, c]`` for ``W[..., c]``: a learner's review, no hint)."""
    found = _layer_of(p, q)
    if found is None or found[1].kind != "conv" or found[2]:
        return ""
    spec = found[1]
    W, b, x = quantities.get(spec.W), quantities.get(spec.b), inputs.get(p.layer_input(found[0]))
    if W is None or b is None or x is None or W.shape[2] != W.shape[3] or np.array_equal(W, W.transpose(0, 1, 3, 2)):
        return ""
    try:  # layer by layer, an input of yours may not fit
        other, _ = conv_forward(x, W.transpose(0, 1, 3, 2), b, spec.hparameters, engine=p.engine)
    except ValueError:
        return ""
    if other.shape == theirs.shape and _close(theirs, other, rtol, atol):
        return ("; yours is what this layer makes with its kernel's input and output channels swapped, "
                "W.transpose(0, 1, 3, 2): filter c is W[:, :, :, c] (W[..., c]), not W[:, :, c]")
    return ""


def _per_sample_hint(p: Plan, s, shape: tuple[int, ...], ours: np.ndarray, stored: Callable,
                     rtol: float, atol: float) -> str:
    """For a conv layer's ``dW`` or ``db`` of another shape: whether it holds
    one gradient per sample whose sum over the samples is convcli's (the
    loop over ``i`` left out of the sum)."""
    m = p.layer_shapes[0].in_shape[0] if p.layer_shapes[0].in_shape else 0
    grads = {f"{spec.name}.{g}" for spec in p.network.layers if spec.kind == "conv" for g in ("dW", "db")}
    theirs = None if (s.quantity not in grads or m < 2 or not shape or shape[0] != m
                      or math.prod(shape) != m * ours.size) else stored()
    if theirs is None:
        return ""
    summed = theirs.reshape(m, -1).sum(axis=0, dtype=np.float64)
    if not _close(summed, ours.reshape(-1), rtol, atol):
        return ""
    return (f"; yours holds one gradient per sample ({m}), and their sum is convcli's: "
            f"{s.quantity.rsplit('.', 1)[1]} adds up over the samples too (sum over axis 0)")


def _db_axes_hint(p: Plan, q: str, shape: tuple[int, ...], quantities: dict[str, np.ndarray], stored: Callable,
                  rtol: float, atol: float) -> str:
    """For a conv layer's ``db`` of another shape: whether it is the
    gradient coming into the layer, dZ, summed over other axes than the
    samples and positions (``np.sum(dZ, axis=(1, 2, 3))``, one number a
    sample; ``np.sum(dZ)``, one in all: a learner's review, a bare shape
    error)."""
    found = _layer_of(p, q)
    if found is None or found[1].kind != "conv" or q != f"{found[1].name}.db":
        return ""
    dZ = quantities.get(_gradient_in(p, found[0]))
    if dZ is None or dZ.ndim != 4:
        return ""
    own = None
    for k in range(1, 5):  # (over no axis, dZ itself, is no sum: a review had it "summed over axes ()")
        for axes in itertools.combinations(range(4), k):
            if axes == (0, 1, 2):
                continue  # (convcli's own)
            # the sum's size first: only a sum of as many numbers as yours is taken (a review: 32 sums of dZ a
            # call), and compared in its order whatever the axes kept (keepdims, or graded as (1, 1, 1, n_C))
            if math.prod(n for a, n in enumerate(dZ.shape) if a not in axes) != math.prod(shape) \
                    or (theirs := stored()) is None:
                continue
            made = np.sum(dZ, axis=axes, dtype=np.float64).reshape(-1)
            if not _close(theirs.reshape(-1), made, rtol, atol):
                continue
            if own is None:  # (a sum that is convcli's own numbers, where an axis is of length 1 or dZ is
                own = np.sum(dZ, axis=(0, 1, 2), dtype=np.float64).reshape(-1)  # constant, is a layout question:
            if made.shape == own.shape and _close(made, own, rtol, atol):  # the reshape's, a review)
                continue
            return (f"; yours is dZ summed over {'all its axes' if k == 4 else f'axes {axes}'}: db sums "
                    f"dZ over the samples and positions, np.sum(dZ, axis=(0, 1, 2))")
    return ""


def _reshaped_hint(shape: tuple[int, ...], ours: np.ndarray, stored: Callable, rtol: float, atol: float) -> str:
    """For an array of another shape with as many elements: whether it is
    convcli's numbers in their order, another shape (a map flattened per
    sample, a bias as a column): the reshape that fixes it (an
    instructor's review: the values right, and only 'shape mismatch')."""
    theirs = stored() if math.prod(shape) == ours.size else None
    if theirs is None:
        return ""
    if not _close(theirs.reshape(ours.shape), ours, rtol, atol):
        return ""
    return f"; yours is convcli's numbers in another shape: save yours.reshape{tuple(ours.shape)}"


def _one_sample_hint(s, shape: tuple[int, ...], ours: np.ndarray, stored: Callable, rtol: float, atol: float) -> str:
    """For an array of one sample's shape where a batch's is convcli's:
    whether it is one of convcli's samples (a learner's review: dA_prev[i]
    saved from inside the loop over the samples got a bare shape error)."""
    if s.quantity.rsplit(".", 1)[-1] in ("dW", "db"):  # (their first axis is no batch: a review had dW[1] a sample)
        return ""
    if ours.ndim < 2 or ours.shape[0] < 2 or tuple(shape)[-ours.ndim + 1:] != ours.shape[1:] or \
            len(shape) not in (ours.ndim - 1, ours.ndim) or len(shape) == ours.ndim and shape[0] != 1:
        return ""  # (one sample, its batch axis dropped or kept: a review)
    theirs = stored()
    if theirs is None:
        return ""
    theirs = theirs.reshape(ours.shape[1:])
    k = next((k for k in range(ours.shape[0]) if _close(theirs, ours[k], rtol, atol)), None)
    if k is None:
        return ""
    return (f"; yours is convcli's sample {k} alone: {s.quantity} holds all {ours.shape[0]} samples, "
            f"{fmt_shape(ours.shape)}")


MISSING = "missing"
UNREADABLE = "unreadable"


def missing(quantities: list[str], p: Plan) -> list[Outcome]:
    """``check --against --complete``: a failed outcome per quantity that none
    of the user's arrays is."""
    rtol, atol = p.tolerance
    return [Outcome(f"({MISSING})", q, f"array {p.shapes[q]}", MISSING, False, rtol, atol,
                    note=f"not among your arrays (convcli's has shape {tuple(p.shapes[q])})",
                    expected_shape=list(p.shapes[q])) for q in quantities]


def same_layout(p: Plan, q: str, shape, want, biases: set[str] | None = None) -> bool:
    """Whether an array of ``shape`` holds quantity ``q`` (of shape ``want``):
    the same shape, or for a bias or its gradient (n_C,) for (1, 1, 1, n_C)
    or the other way round (DESIGN section 1), which are read as the other."""
    shape, want = tuple(shape), tuple(want)
    if shape == want:
        return True
    n = math.prod(want)
    return q in (p.biases() if biases is None else biases) and {shape, want} <= {(n,), (1, 1, 1, n)}


def _layout_hint(theirs: tuple[int, ...], ours: tuple[int, ...]) -> str:
    """For a shape that is convcli's with its axes in another order: say so,
    and what convcli's layout is (NCHW for NHWC is the common mistake)."""
    if len(theirs) != len(ours) or sorted(theirs) != sorted(ours):
        return ""
    if len(ours) == 4:
        return ("; the same sizes in another order: convcli's arrays are NHWC (m, n_H, n_W, n_C) "
                "and its weights (f_H, f_W, n_C_prev, n_C)")
    return "; the same sizes in another order"


# --------------------------------------------------------------------- grade


@dataclass
class Report:
    """What :func:`grade` found, for check's table and its --json."""

    outcomes: list[Outcome]  # the expected: entries'
    graded: list[Outcome]  # your arrays', and with --complete the missing ones
    unknown: list[Unknown]  # --against: arrays whose names are no quantity, and copies of what the config gives
    missing: list[str]  # quantities none of your arrays is
    linked: list[str]  # arrays graded through links to files outside --against (mark_links)
    note: str  # --against: a folder convcli wrote for another config (provenance_note)
    came_from: str  # the expected values', when they failed (expected_provenance_note)
    reference: dict[str, np.ndarray] = field(repr=False)  # what your arrays were graded against
    rounded: bool = False  # a float32 run's arrays were allowed float32's rounding (float32_rounding)

    @property
    def convcli_own(self) -> bool:
        """--against: the arrays are convcli's own output for this config, to the bit (a pass of nothing
        of the student's: an instructor's review had a script score it 8 of 8 from the counts)."""
        return OWN_RESULTS in self.note

    @property
    def every(self) -> list[Outcome]:
        return self.outcomes + self.graded

    @property
    def ok(self) -> bool:
        return all(o.passed for o in self.every)


def grade(p: Plan, *, entries: dict[str, Expected], source: LoadedConfig, came: ComputedFrom | None,
          run: Callable[[bool, list[str] | None], Results], expected: str | Path | None = None,
          against: str | Path | None = None, complete: bool = False, layer_by_layer: bool = False,
          plot_target: Callable[[list[tuple[str, Path]]], None] | None = None) -> Report:
    """``check``: collect the ``expected`` entries (from ``source``, the
    config or the ``--expected`` file) and the arrays ``--against`` names,
    run, and compare. ``came``: the ``--expected`` file's computed_from:
    (:func:`expected_provenance_note`), or None. ``run(backward, only)``:
    the run; ``only``, where not None, the quantities a forward-only run
    is for (it may stop at the last layer they need). ``complete``,
    ``layer_by_layer``: ``--complete``, ``--each-layer``. ``plot_target``
    (with ``--plot``): given the files the check reads (key, path) once
    they are known, before anything runs, to refuse a PNG that is one of
    them; and the outcomes keep your arrays, for the picture."""
    try:
        parsed = collect_expected(p, entries, source) if entries else []
    except ConvcliError as exc:  # an entry this config cannot have: the file's own provenance may say why
        came_from = expected_provenance_note(str(source.display), came, p) if source is not p.cfg else ""
        if came_from:  # (a review: "unknown quantity 'relu2.A'" read as a typo in the learner's file)
            raise ConvcliError(exc.where, f"{exc.what}; {came_from}") from None
        raise
    submitted, unknown = collect_against(against, p, empty_ok=complete) if against is not None else ([], [])
    if plot_target is not None:  # not onto a file this run reads: the config's, --expected and its, your arrays
        reads = p.cfg.files_read() + ([("--expected", Path(expected))] if expected is not None else [])
        reads += [(f"--expected {short_path(expected)}: expected.{k}", source.base_dir / e.file)
                  for k, e in entries.items() if e.file] if expected is not None else []
        reads += [("--against", Path(against))] + [
            ("--against", u.base_dir / u.source.file) for u in [*submitted, *unknown]
            if getattr(u, "source", None) is not None and u.base_dir is not None]
        plot_target(reads)
    # What a whole submission holds and this one does not: listed, and failed with --complete. Its
    # gradients when the config asks for them: a backward: section, or a gradient among the expected
    # entries. Not a gradient among the arrays: it is graded (a config without backward: still has grad:
    # output), but the assignment is the config's (an instructor's review: a leftover dW.npy in a forward
    # assignment's upload made every gradient required, and a complete forward scored 3 of 8).
    given = {s.quantity for s in submitted}
    gradients = p.asks_backward or p.needs_backward([e.quantity for e in parsed])
    absent = [q for q in p.graded() if q not in given and (gradients or p.roles.get(q) != "gradient")
              ] if against is not None else []
    wanted = [e.quantity for e in parsed] + sorted(given) + (absent if complete else [])
    backward = p.needs_backward(wanted)
    # expected entries alone: the layers they need (arrays of yours may have every layer rerun on them,
    # which falls back on the whole run's outputs)
    results = run(backward, wanted if against is None and not backward else None)
    outcomes = evaluate_expected(parsed, results.quantities)
    _bias_convention_note(p, parsed, outcomes, backward, results.quantities)
    reference, taken, yours = results.quantities, None, None
    unknown, implied = given_copies(unknown, p, results.quantities)
    if layer_by_layer:  # convcli's layers rerun on the user's own inputs (read once, graded below)
        laid: dict[str, tuple[int, ...]] = {}
        relaid: dict[str, np.ndarray] = {}
        yours = read_yours(submitted, p, results.quantities, laid, relaid)
        zeros_of_yours: set[str] = set()
        made_of_refused: dict[str, tuple[np.ndarray, str]] = {}
        reference, taken, instead, alternates = each_layer(p, results.quantities, yours, backward, laid, relaid,
                                                           given, zeros_of_yours, made_of_refused)
    layerwise = rerun = None
    if not layer_by_layer:  # each layer on your own inputs, made only once a hint asks (a rerun of all)
        @functools.cache
        def rerun():
            relaid: dict[str, np.ndarray] = {}
            mine = read_yours(submitted, p, results.quantities, relaid=relaid)
            return each_layer(p, results.quantities, mine, backward, relaid=relaid)

        def layerwise() -> dict[str, np.ndarray]:
            return rerun()[0]
    rounding = functools.cache(lambda: float32_rounding(p, results, backward))
    if layer_by_layer:  # float32's allowance at the scale of what each layer made of yours, never above the run's
        rounding = functools.cache(functools.partial(_at_scale, rounding, reference, results.quantities))
    other_inputs = {**implied, **{u.quantity: u.differs for u in unknown if u.differs}}
    graded = evaluate_against(submitted, p, reference, keep=plot_target is not None, inputs=taken, yours=yours,
                              other_inputs=other_inputs, layerwise=layerwise, rounding=rounding,
                              whole=results.quantities if layer_by_layer else None)
    if layer_by_layer:  # a layer that took an array of yours as convcli's may be right for it as saved
        for k, o in enumerate(graded):
            s = next((s for s in submitted if s.label == o.label), None)
            if o.status != "fail" or o.abs_err is None or o.quantity not in alternates or s is None:
                continue
            made, names = alternates[o.quantity]
            again = evaluate_against([s], p, {**reference, o.quantity: made}, keep=plot_target is not None,
                                     inputs=taken, yours=yours, other_inputs=other_inputs, rounding=rounding)[0]
            if again.passed:
                again.note = (again.note + f"; graded on your {_as_saved_words(p, o.quantity, names)}").removeprefix(
                    "; ")
                graded[k], reference = again, {**reference, o.quantity: made}
    else:
        _as_saved_notes(p, graded, submitted, rerun, results.quantities)
    if layer_by_layer:  # a layer that could not take an array of yours took convcli's: said where it did
        for o in graded:
            zero_hint = {"all_zeros", "last_term"} & set(o.hints) if LAST_TERM_ZEROS[0] in o.note or (
                "all_zeros" in o.hints) else set()
            if o.quantity in zeros_of_yours and zero_hint:  # (its zeros are the layer's of yours: no 'was it
                # filled?', an adversarial review; nor "+=, not =", an instructor's)
                o.note = (_without_zeros_hint(o.note) + "; yours is all zeros, what the layer makes of your input "
                                                        "to it (graded on convcli's instead)")
                o.hints = [h for h in o.hints if h not in zero_hint]
                o.hints.append("convcli_input")
            elif o.status == "fail" and o.quantity in made_of_refused and _is_made(
                    p, o.array if o.array is not None else (yours or {}).get(o.quantity),
                    made_of_refused[o.quantity][0]):
                o.note += (f"; yours is what the layer, done right, makes of your {made_of_refused[o.quantity][1]}"
                           ", which tests nothing (graded on convcli's instead): fix that one first")
            if "; graded on convcli's " in instead.get(o.quantity, "") and "convcli_input" not in o.hints:
                o.hints.append("convcli_input")  # (said in the note alone, a script could not sort by it: a review)
            # a hint made of convcli's input, where it replaced one of yours, is that one's slip where the layer
            # makes yours of it (a fuzz); not where yours is missing or unreadable, or makes nothing like it (a
            # later fuzz and a code review: a ReLU's "no mask" was taken away)
            theirs = o.array if o.array is not None else (yours or {}).get(o.quantity)
            if "convcli_input" in o.hints and o.said and _made_of_yours(p, o, results.quantities, yours or {}, theirs):
                _take_back(o)
            o.note = (o.note + instead.get(o.quantity, "")).removeprefix("; ")
    linked = mark_links(graded, submitted, Path(against)) if against is not None else []
    if complete:
        graded += missing(absent, p)
    # in the network's order (the order of the quantities an error lists), not the files': a note
    # "relu2.A differs too: fix it first" points up the table, and a missing one sits in its place
    order = {q: k for k, q in enumerate(p.shapes)}
    graded.sort(key=lambda o: order.get(o.quantity, len(order)))
    # (convcli's own only where every array graded is convcli's, to the last bit for this engine and dtype:
    # a learner's own arrays beside a copied summary.json are theirs, a review)
    own = (bool(graded) and all(o.passed for o in graded), bool(graded) and all(o.abs_err == 0 for o in graded))
    note = provenance_note(against, p, own) if against is not None else ""
    # where the expected values came from, when they failed: another config's, or another dtype's
    came_from = expected_provenance_note(str(source.display), came, p) if not all(
        o.passed for o in outcomes) else ""
    # (asked only where an array failed without it)
    rounded = p.dtype == "float32" and rounding.cache_info().currsize > 0 and bool(rounding())
    return Report(outcomes, graded, unknown, absent, linked, note, came_from, reference, rounded)
