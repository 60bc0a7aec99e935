"""The YAML config (DESIGN.md section 2) as typed models, read safely.

:func:`load_config` reads a file and returns a :class:`LoadedConfig`: the
validated :class:`Config` model plus what error messages need (the path as the
user wrote it, the line of every key). Every mistake becomes one
:class:`~convcli.errors.ConvcliError` whose ``where`` is the file and the key
path (``seed.yaml: layers[0].stride (line 14)``), or the line and column of a
YAML syntax error.

Safety: the loader is a :class:`yaml.SafeLoader` subclass, and any tag that
would build a Python object (``!!python/...``) or any other non-standard tag
is refused before anything is constructed.

Two YAML 1.1 traps are closed on purpose, because a config is full of
numbers: ``1e-6`` reads as a float (PyYAML would give the string "1e-6") and
``10:20`` stays a string (PyYAML would read the sexagesimal int 620, which
would turn ``slice: 10:20`` into nonsense).
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, Union

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from . import hparams
from .hparams import did_you_mean
from .errors import ConvcliError, short_path

DTYPES = ("float64", "float32")
LAYER_TYPES = ("conv", "pool", "relu")
GRAD_NAMES = ("output", "ones", "random")
SOURCE_KINDS = ("random", "zeros", "ones", "value", "file")
NPZ_SUFFIXES = (".npz", ".zip")  # an .npz is a zip of .npy files: a .zip of them reads as one
H5_SUFFIXES = (".h5", ".hdf5")
FILE_SUFFIXES = (".npy",) + NPZ_SUFFIXES + H5_SUFFIXES
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Names name files (LAYER.dA_prev.npy, its PNG): well under the 255 bytes a
# file name may have on common file systems, where a 300-letter layer name
# failed only when its outputs were written.
MAX_NAME = 100
TOO_LONG = f"a name is at most {MAX_NAME} characters (it names output files), got {{got}}"
# Lists and mappings inside one another, at most: a config needs ~10 (a 4-D
# value: under inputs); the cap keeps the recursive readers far from Python's
# recursion limit.
MAX_DEPTH = 32
MAX_SIZE = hparams.MAX_SIZE  # the largest size convcli takes (of an axis, of a byte count)


# --------------------------------------------------------------------- YAML


class _Loader(yaml.SafeLoader):
    """SafeLoader with the plain scalars of YAML 1.2's core schema (PyYAML
    reads YAML 1.1's): ``1e-6`` a float; ``010`` the integer 10, ``0o17`` 15,
    ``0x1F`` 31; ``true``/``false`` the only booleans (``yes``, ``no``, ``on``,
    ``off`` are strings, so an npz key named ``no`` needs no quotes);
    ``1_000``, ``10:20`` and ``2024-01-01`` strings. Refuses nesting deeper
    than :data:`MAX_DEPTH` while composing, before PyYAML's own recursion (a
    few frames per level) could run out of stack."""

    depth = 0
    display = ""

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            event = self.peek_event()
            if self.depth > MAX_DEPTH and isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                raise ConvcliError(
                    _at(self.display, event.start_mark),
                    f"nested too deeply: more than {MAX_DEPTH} levels of lists and mappings",
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_yaml_int(self, node):
        text = self.construct_scalar(node)
        sign, digits = (-1, text[1:]) if text[:1] == "-" else (1, text[1:] if text[:1] == "+" else text)
        base = {"0o": 8, "0x": 16}.get(digits[:2], 10)
        try:
            if not re.fullmatch(_INT_DIGITS, digits):  # an explicit !!int that is none
                raise ValueError(text)
            return sign * int(digits[2:] if base != 10 else digits, base)
        except ValueError:  # that, or more digits than Python converts (4300 by default)
            long = len(digits) > 4000
            raise ConvcliError(
                _at(self.display, node.start_mark),
                f"an integer of {len(node.value)} digits is too long to be a number" if long
                else f"!!int {text!r} is not an integer",
            ) from None

    def construct_yaml_float(self, node):
        try:
            x = super().construct_yaml_float(node)
        except (ValueError, IndexError):  # an explicit !!float that is none
            raise ConvcliError(_at(self.display, node.start_mark),
                               f"!!float {self.construct_scalar(node)!r} is not a number") from None
        text = self.construct_scalar(node)
        if math.isinf(x) and "inf" not in text.lower():  # 1e400, a mistyped exponent: not a silent infinity
            raise ConvcliError(_at(self.display, node.start_mark),
                               f"{text} is too large for a float64 number (at most 1.7976931348623157e308): "
                               "write .inf for an infinity, or quote it if it is a name")
        return x

    def construct_yaml_bool(self, node):
        text = self.construct_scalar(node)
        if text not in _TRUE + _FALSE:  # an explicit !!bool
            raise ConvcliError(_at(self.display, node.start_mark),
                               f"!!bool {text!r} is not a boolean (true or false)")
        return text in _TRUE


_TAG = "tag:yaml.org,2002:"
_INT_DIGITS = r"[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"  # the core schema's ints, unsigned
_TRUE, _FALSE = ("true", "True", "TRUE"), ("false", "False", "FALSE")
_INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("int", "float", "bool", "null"))
# The core schema's resolvers replace YAML 1.1's; dates and the '=' value key
# stay plain strings (a config has no use for them).
_DROP = (_INT, _FLOAT, _BOOL, _NULL, _TAG + "timestamp", _TAG + "value")
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# YAML 1.2.2, section 10.3.2 (the core schema's tag resolution).
_Loader.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Loader.add_implicit_resolver(_BOOL, re.compile(f"^(?:{'|'.join(_TRUE + _FALSE)})$"), list("tTfF"))
_Loader.add_implicit_resolver(
    _INT, re.compile(rf"^(?:[-+]?[0-9]+|{_INT_DIGITS})$"), list("-+0123456789")  # a sign on decimals only
)
_Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
            |[-+]?\.(?:inf|Inf|INF)
            |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+.0123456789"),
)

_Loader.add_constructor(_INT, _Loader.construct_yaml_int)
_Loader.add_constructor(_FLOAT, _Loader.construct_yaml_float)
_Loader.add_constructor(_BOOL, _Loader.construct_yaml_bool)

_PLAIN_TAGS = {
    _TAG + t for t in ("str", "int", "float", "bool", "null", "seq", "map", "merge")
}


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _mark(node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Mark(NamedTuple):
    """A place in the text, counted from 0 as PyYAML's marks are."""

    line: int
    column: int


# Where PyYAML breaks lines (its marks count them so).
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _mark_before(before: str) -> _Mark:
    """The mark of the character after ``before``, the text that precedes it,
    lines and columns counted as PyYAML counts them (characters, not bytes)."""
    breaks = list(_LINE_BREAK.finditer(before))
    return _Mark(len(breaks), len(before) - (breaks[-1].end() if breaks else 0))


def _at(display: str, mark) -> str:
    """The WHERE of an error at a YAML mark: ``seed.yaml: line 3, column 5``
    (PyYAML counts from 0, people from 1)."""
    return f"{display}: line {mark.line + 1}, column {mark.column + 1}"


def _walk(node, path: tuple, lines: dict, display: str, seen: set) -> None:
    """Record the line of every key path; refuse object-building tags and
    duplicate keys. ``seen`` stops aliases from being walked twice (a
    'billion laughs' document stays linear here)."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if node.tag not in _PLAIN_TAGS:
        raise ConvcliError(
            _at(display, node.start_mark),
            f"YAML tag {_short_tag(node.tag)!r} is refused: convcli reads plain data "
            "(mappings, lists, numbers, strings) and never builds objects from a config",
        )
    lines.setdefault(path, _mark(node))
    if isinstance(node, yaml.MappingNode):
        first: dict = {}
        for key_node, value_node in node.value:
            _walk(key_node, path + ("<key>",), {}, display, seen)
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key != "<<":
                if key in first:
                    raise ConvcliError(
                        _at(display, key_node.start_mark),
                        f"duplicate key {key!r} (first given on line {first[key]})",
                    )
                first[key] = _mark(key_node)[0]
                lines[path + (key,)] = _mark(key_node)
                _walk(value_node, path + (key,), lines, display, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = _mark(item)
            _walk(item, path + (i,), lines, display, seen)


def read_yaml(path: Path, display: str) -> tuple[Any, dict]:
    """Parse a YAML file safely -> ``(data, lines)``; ``lines`` maps key paths
    (tuples of keys and list indices) to ``(line, column)``."""
    return parse_yaml(_read_bytes(path, display), display)


# A config (or --expected file) larger than this is refused before it is
# parsed: PyYAML builds ~600 bytes of Python objects per byte of a nested
# value: list (a review's campaign: 1.8 MB took 24 s and 1 GB), and an array
# file named as the config would be read whole. 1 MiB is ~100,000 numbers.
MAX_CONFIG_BYTES = 1 << 20


def _read_bytes(path: Path, display: str, where: str | None = None, kind: str = "a config file") -> bytes:
    """The file's bytes, at most MAX_CONFIG_BYTES of them; an error names it
    as ``where`` (default: its path)."""
    where = where or short_path(display)
    # the path as given; an --expected file's display is "--expected X" (the command suggested read
    # "check CONFIG --against --expected X"), and an array goes in an expected: entry there
    config = kind == "a config file"
    named, given = ("a config's inputs", display) if config else ("an expected: entry", str(path))
    array_file = (f"is an array file, not {kind}: name it in {named} ({{file: {path.name}}}), or grade "
                  f"it with check CONFIG --against {short_path(given)}")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
        # its first bytes, whatever its name (Zcopy): what it is and, named otherwise, what to rename it to
        kind_of = next((k for k, magic in ((".npy", (b"\x93NUMPY",)), (".npz", (b"PK\x03\x04", b"PK\x05\x06")),
                                           (".h5", (b"\x89HDF\r\n\x1a\n",))) if raw.startswith(magic)), None)
        if kind_of is not None and path.suffix.lower() not in FILE_SUFFIXES:
            raise ConvcliError(where, f"is {'an' if kind_of != '.npy' else 'a'} {kind_of} file by its first bytes, "
                                      f"not {kind}: rename it {path.name}{kind_of} to read it as one (a config "
                                      "is YAML)")
        if kind_of or path.suffix.lower() in FILE_SUFFIXES and (len(raw) > MAX_CONFIG_BYTES or not _text(raw)):
            raise ConvcliError(where, array_file)  # (a learner's review: 'is this a YAML file?')
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConvcliError(where, f"is larger than the {MAX_CONFIG_BYTES >> 20} MiB {kind} may be: put large "
                                      "arrays in .npy files and name them with file: x.npy")
        return raw
    except FileNotFoundError:
        raise ConvcliError(where, "no such file") from None
    except IsADirectoryError:
        raise ConvcliError(where, f"is a folder, not {kind} (a folder of arrays is graded with check CONFIG "
                                  "--against FOLDER)") from None
    except OSError as exc:
        raise ConvcliError(where, f"cannot read: {exc.strerror or exc}") from None


def _text(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _yaml_advice(exc) -> str:
    """Plain words after the parser's own on the slips it names in its terms
    (a terminal review: "expected ',' or '}', but got '<scalar>'" for a
    brace left open two lines up; "expected <block end>" for a key indented
    one space off; "found character '\\t'")."""
    problem, context, opened = exc.problem or "", exc.context or "", exc.context_mark
    if "flow mapping" in context or "flow sequence" in context:
        brace = "{" if "mapping" in context else "["
        at = f" at line {opened.line + 1}, column {opened.column + 1}" if opened else ""
        return f"; the {brace} opened{at} is not closed, or a comma is missing before this"
    if "'\\t'" in problem:
        return ("; YAML takes no tab here: indent with spaces" if exc.problem_mark and exc.problem_mark.column == 0
                else "; YAML takes no tab here: use spaces")
    if "but found '}'" in problem or "but found ']'" in problem:
        return "; a closing " + problem[-2] + " with nothing open before it"
    if "but found '<block" in problem:
        return ("; check this line's indentation: the keys of one mapping (or the items of one list) start in "
                "the same column")
    if "but found '?'" in problem:  # a key among a list's items (or the reverse), at one indentation
        return "; a list's items (- ...) and a mapping's keys (key: ...) cannot be mixed at one indentation"
    return ""


def parse_yaml(raw: bytes, display: str) -> tuple[Any, dict]:
    """:func:`read_yaml` on bytes already read (``display`` names them)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConvcliError(_at(display, _mark_before(raw[:exc.start].decode("utf-8", errors="replace"))),
                           f"not UTF-8 text (byte {exc.start}, 0x{raw[exc.start]:02x}); is this a YAML file?") from None
    loader = None
    try:
        loader = _Loader(text)
        loader.display = display
        node = loader.get_single_node()
        lines: dict = {}
        if node is None:
            return None, lines
        _walk(node, (), lines, display, set())
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _at(display, mark) if mark else display
        what = exc.problem or "invalid YAML"
        if exc.context:
            what += f" ({exc.context})"
        raise ConvcliError(where, f"YAML syntax: {what}{_yaml_advice(exc)}") from None
    except yaml.reader.ReaderError as exc:
        raise ConvcliError(_at(display, _mark_before(text[:exc.position])),
                           f"not YAML text: {exc.reason} (character #x{exc.character:04x})") from None
    except yaml.YAMLError as exc:
        raise ConvcliError(display, "YAML: " + " ".join(str(exc).split())) from None
    finally:
        if loader is not None:
            loader.dispose()


# --------------------------------------------------------------------- models


def _fail(kind: str, message: str, **values):
    """A validation error whose text is formatted here: pydantic's own
    templates know neither ``!r`` nor ``{{``."""
    return PydanticCustomError(kind, message.format(**values) if values else message)


class _Model(BaseModel):
    """Unknown keys are errors, with the nearest valid key as a hint."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    @model_validator(mode="wrap")
    @classmethod
    def _known_keys(cls, data, handler):
        if not isinstance(data, dict):
            return handler(data)
        known = list(cls.model_fields)
        unknown = [key for key in data if key not in known]
        if not unknown:
            return handler(data)
        # One error for the mapping's unknown keys, each named with its hint (a learner's review: one a
        # run, and "(and 1 more error)" for three in two layers), then the errors of the keys it has (a
        # review: an unknown key hid a bad value beside it, and everything under it), but not what their
        # absence makes (a missing key, a source of no kind): the unknown keys say that
        first, *others = unknown
        errors = [InitErrorDetails(type=PydanticCustomError(
            "unknown_key", "unknown key",
            {"key": first if first is None or isinstance(first, bool) else str(first),  # null: the key null
             "hint": _key_hint(first, known), "known": ", ".join(known),
             "others": ", ".join(f"{_yaml_key(k)}{_key_hint(k, known, False)}" for k in others),
             "count": len(others)}), loc=(), input=data)]
        errors += [InitErrorDetails(type=PydanticCustomError(e["type"], "{msg}", {**(e.get("ctx") or {}),
                                                                                  "msg": e["msg"]}),
                                    loc=e["loc"], input=e["input"]) for e in _beside(cls, data, known, handler)]
        raise ValidationError.from_exception_data(cls.__name__, errors)


def _beside(cls, data: dict, known: list[str], handler) -> list:
    """The errors of a mapping's known keys, beside its unknown ones: those
    it makes validated without them, but not what their absence makes. A
    missing key is counted only where no unknown key is its misspelling
    (layres for layers); a mapping-wide error (a source of no kind,
    ties on an average pool) is counted where the same mapping with each
    unknown key read as the known one it is nearest (randon as random) makes
    one of its kind too, or fails on a field before such checks run (a
    review: ties on an average pool beside strid had been dropped)."""
    def errors(mapping: dict) -> list:
        try:
            made = handler(mapping)
        except ValidationError as exc:
            return exc.errors(include_url=False)
        # the model's "after" validators run outside this one (ties on an average pool): here, by hand
        for d in cls.__pydantic_decorators__.model_validators.values():
            if d.info.mode == "after":
                try:
                    d.func(made)
                except PydanticCustomError as exc:
                    return [{"type": exc.type, "loc": (), "msg": exc.message(), "input": mapping,
                             "ctx": exc.context or {}}]
                except ValidationError as exc:  # (a model it makes: Expected's Source of its file)
                    return [{**e, "loc": ()} for e in exc.errors(include_url=False)]
        return []

    kept = {k: v for k, v in data.items() if k in known}
    found = errors(kept)
    meant = {_nearest(k, known): v for k, v in data.items() if k not in known}
    # a missing key counted where no unknown key is a misspelling of it (a review: foo beside no layers: said
    # only foo); layres says that layers is missing
    fields = [e for e in found if e["loc"] and (e["type"] != "missing" or e["loc"][0] not in meant)]
    whole = [e for e in found if not e["loc"]]
    renamed = {**{k: v for k, v in meant.items() if k is not None and k not in kept}, **kept}
    if len(renamed) == len(kept):
        return fields + whole
    again = errors(renamed)
    if any(e["loc"] for e in again):  # (a field of the renamed mapping failed: its mapping-wide checks never ran)
        return fields + whole
    # of a kind the renamed mapping makes too (its own words where the kept one made none: a review had
    # "got random, zeros" dropped beside onse, and ties on an average pool beside a missing f uncounted)
    kinds = {e["type"] for e in again}
    return fields + [e for e in whole if e["type"] in kinds] + [e for e in again
                                                                if e["type"] not in {w["type"] for w in whole}]


def _nearest(key, known: list[str]) -> str | None:
    """The known key :func:`did_you_mean` names for ``key``, or None."""
    hint = did_you_mean(key, known) if isinstance(key, str) else ""
    return hint[len(" (did you mean '"):-len("'?)")] if hint else None


def _key_hint(key, known: list[str], first: bool = True) -> str:
    """What an unknown key of a mapping whose keys are ``known`` is: a
    layer's key as PyTorch names it, ``pad`` on a pool, else the nearest
    known key (``; ...`` for the first key's message, `` (...)`` beside it
    for the others')."""
    torch = TORCH_KEYS.get(key) if "type" in known and isinstance(key, str) else None  # a layer's, as PyTorch's
    said = (torch if torch else "only conv layers are padded" if key == "pad" and "type" in known
            else SOURCE_SHAPE if key in SHAPE_KEYS and "random" in known else "")
    if said:
        return f"; {said}" if first else f" ({said})"
    return did_you_mean(key, known) if isinstance(key, str) else ""


def _yaml_key(key) -> str:
    """A mapping's key as YAML writes it (null, true, 1.5, a name)."""
    return "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)


# An input's shape given under a key of its own ({shape: [2, 5, 5, 3]}): it is its kind's value (a learner's
# review: the hint was "did you mean 'scale'?", which would have made it a scale).
SHAPE_KEYS = ("shape", "size", "dims", "dim", "dimensions")
SOURCE_SHAPE = "an input's shape is the value of its kind: random: [2, 5, 5, 3] (or zeros:, ones:)"

AVERAGE_TIES = ("applies to max pools only (which of equal maxima gets the gradient); "
                "an average pool spreads the gradient evenly over its window: drop the key")

# PyTorch's bias=False (a `bias: false`, a conv with no b) has no match here.
NO_BIAS = "a conv without a bias takes one of zeros, e.g. an input b0: {zeros: [n_C]} and b: b0"


# A layer's keys as PyTorch's Conv2d / MaxPool2d / AvgPool2d name them: what
# convcli calls them, or why there is no such key (a spelling hint would mislead:
# ceil_mode is not "mode").
TORCH_KEYS = {
    "kernel_size": "PyTorch's kernel_size: a pool's is f, a conv's is W's shape (f_H, f_W, n_C_prev, n_C)",
    "padding": "PyTorch's padding is pad here (a conv's; pools have no padding)",
    "ceil_mode": "PyTorch's ceil_mode: there is none here, the output size is floor(...) + 1, "
                 "PyTorch's default ceil_mode=False; drop the key",
    "count_include_pad": "PyTorch's count_include_pad: pools have no padding here, so it changes nothing; drop it",
    "padding_mode": "PyTorch's padding_mode: convcli pads with zeros only ('zeros'); drop the key",
    "groups": "PyTorch's groups: convcli's conv is groups=1 only",
    "in_channels": "PyTorch's in_channels: here W's shape (f_H, f_W, n_C_prev, n_C) gives it",
    "out_channels": "PyTorch's out_channels: here W's shape (f_H, f_W, n_C_prev, n_C) gives it",
    "weight": "PyTorch's weight is W here, the name of an input of shape (f_H, f_W, n_C_prev, n_C)",
    "return_indices": "PyTorch's return_indices: there is none here; ties: says where a max pool's gradient goes",
}


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _number(v):
    if not _is_number(v):
        raise _fail("number", "expected a number, got {got}", got=_short(v))
    try:
        return float(v)
    except OverflowError:  # an int beyond float64's range (about 1.8e308)
        raise _fail("number", "{got} is too large for a float64 number", got=_short(v)) from None


def _finite(v):
    """A finite number: an infinity here would be blamed on the data later."""
    v = _number(v)
    if not math.isfinite(v):
        raise _fail("number", "must be a finite number, got {got}", got=_short(v))
    return v


def _short(v, limit: int = 40) -> str:
    """A user's value in a message: bounded, even for an alias bomb; true,
    false and null as the YAML they were written in (not True, None)."""
    if v is None or isinstance(v, bool):
        return {None: "null", True: "true", False: "false"}[v]
    return hparams.shown(v, limit)


def _shape(v):
    if not (isinstance(v, (list, tuple)) and v and all(isinstance(n, int) and not isinstance(n, bool) for n in v)):
        raise _fail("shape", "expected a shape: a non-empty list of ints like [10, 4, 4, 3], got {got}",
                    got=_short(v))
    if any(n < 1 for n in v):
        raise _fail("shape", "every size in a shape must be >= 1, got {got}", got=_short(v))
    if any(n > MAX_SIZE for n in v):
        raise _fail("shape", "every size in a shape must be at most 2**62, got {got}", got=_short(v))
    return tuple(v)


def _choice(allowed: tuple[str, ...]):
    """A validator: :func:`hparams.choice`'s check and message (with the
    nearest allowed value as a hint)."""

    def check(v):
        try:
            return hparams.choice(v, "", allowed)
        except ValueError as exc:
            raise _fail("choice", "{text}", text=str(exc)) from None

    return check


_SLICE = re.compile(r"^\s*((?:-?\d+)?)\s*:\s*((?:-?\d+)?)\s*(?::\s*((?:-?\d+)?)\s*)?$")  # no sign alone


def slice_text(s: slice) -> str:
    """The inverse of :func:`parse_slice`: ``slice(0, 64)`` -> ``"0:64"``
    (a step of 1 is left out)."""
    text = f"{'' if s.start is None else s.start}:{'' if s.stop is None else s.stop}"
    return text + (f":{s.step}" if s.step not in (None, 1) else "")


def parse_slice(text) -> slice:
    """``"0:64"``, ``"10:"``, ``"::2"`` -> a :class:`slice` over the first axis."""
    m = _SLICE.match(text) if isinstance(text, str) else None
    if not m:
        raise _fail("slice", "expected a slice over the first axis like '0:64', got {got}", got=_short(text))
    start, stop, step = (int(g) if g else None for g in m.groups())
    if step is not None and step < 1:
        raise _fail("slice", "the slice step must be >= 1, got {got}", got=_short(text))
    return slice(start, stop, step)


class Source(_Model):
    """Where an array comes from: exactly one of random, zeros, ones, value,
    file; ``scale`` multiplies it after the cast to the config's dtype."""

    random: tuple[int, ...] | None = None
    zeros: tuple[int, ...] | None = None
    ones: tuple[int, ...] | None = None
    value: Any = None
    file: str | None = None
    key: str | None = None
    dataset: str | None = None
    slice: Any = None
    scale: float | None = None

    @field_validator("random", "zeros", "ones", mode="before")
    @classmethod
    def _shapes(cls, v):
        return None if v is None else _shape(v)

    @field_validator("scale", mode="before")
    @classmethod
    def _scale(cls, v):
        return None if v is None else _finite(v)

    @field_validator("slice", mode="before")
    @classmethod
    def _slice(cls, v):
        return None if v is None else parse_slice(v)

    @field_validator("file", "key", "dataset", mode="before")
    @classmethod
    def _text(cls, v):
        if v is not None and not isinstance(v, str):
            # YAML reads key: 001 as the number 1 (and true, null as themselves): the name is lost.
            hint = (": a name YAML reads as a number or a boolean must be quoted, e.g. '001'"
                    if isinstance(v, (int, float, bool)) else "")
            raise _fail("text", "expected a string, got {got}{hint}", got=_short(v), hint=hint)
        return v

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, v):
        shape = None if v is None else _value_shape(v)
        if shape is not None and 0 in shape:
            raise _fail("value", "holds no numbers (shape {shape}); an array needs at least one", shape=shape)
        return v

    @model_validator(mode="after")
    def _one_kind(self):
        given = [k for k in SOURCE_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise _fail(
                "source",
                "give exactly one of random, zeros, ones, value, file "
                "(e.g. {{random: [10, 4, 4, 3]}} or {{file: x.npy}}), got {got}",
                got=", ".join(given) if given else "none",
            )
        suffix = Path(self.file).suffix.lower() if self.file else ""
        if self.file is not None and not self.file.strip():
            raise _fail("source", "file: is empty; give a path such as x.npy")
        if self.file is not None and not suffix:  # (a folder's name, often: none reads as an array)
            raise _fail("source", "file: {file} has no extension: expected an .npy, .npz (or a .zip of .npy "
                                  "files), .h5 or .hdf5 file", file=self.file)
        if self.file is not None and suffix not in FILE_SUFFIXES:
            raise _fail(
                "source", "unsupported file type {suffix!r}: expected .npy, .npz (or a .zip of .npy files), .h5 or .hdf5",
                suffix=suffix or "(none)",
            )
        if self.key is not None and suffix not in NPZ_SUFFIXES:
            raise _fail("source", "key: only an .npz file has keys (use dataset: for .h5)")
        if self.dataset is not None and suffix not in H5_SUFFIXES:
            raise _fail("source", "dataset: only an .h5 file has datasets (use key: for .npz)")
        if self.slice is not None and self.file is None:
            raise _fail("source", "slice: only arrays read from a file can be sliced")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in SOURCE_KINDS if getattr(self, k) is not None)

    def describe(self) -> str:
        """A short human description: ``random (10, 4, 4, 3)``, ``imgs.h5[images]``."""
        k = self.kind
        if k == "file":
            inner = self.key or self.dataset
            text = self.file + (f"[{inner}]" if inner else "")
            if self.slice is not None:
                text += f" rows {slice_text(self.slice)}"
        elif k == "value":
            text = "value"
        else:
            text = f"{k} {getattr(self, k)}"
        return text + (f" x {self.scale!r}" if self.scale is not None else "")  # every digit: it sets the results


def value_shape(v) -> tuple[int, ...]:
    """The shape of a ``value:``, a number or a rectangular nested list of
    numbers, read from its structure without building an array.

    A list that occurs many times (a YAML alias) is measured once, so a
    'billion laughs' value of 395 bytes is sized in microseconds and can be
    refused by ``--max-memory`` before NumPy would spend 800 MB on it. At
    most :data:`MAX_DEPTH` lists deep (data that did not come through the
    YAML reader is capped here too). Raises ``ValueError`` saying what is
    wrong."""
    memo: dict[int, tuple[int, ...]] = {}

    def shape(x, depth: int) -> tuple[int, ...]:
        if not isinstance(x, list):
            if not _is_number(x):
                raise ValueError(f"expected a number or a nested list of numbers, got {_short(x)}")
            if isinstance(x, int) and not -_FLOAT_MAX <= x <= _FLOAT_MAX:
                raise ValueError(f"{_short(x)} is too large for a float64 number")
            return ()
        known = memo.get(id(x))
        if known is None:
            if depth >= MAX_DEPTH:
                raise ValueError(f"nested too deeply: more than {MAX_DEPTH} levels of lists")
            inner = [shape(item, depth + 1) for item in x]
            if any(s != inner[0] for s in inner):
                first = next(i for i, s in enumerate(inner) if s != inner[0])
                raise ValueError(
                    f"not a rectangular array of numbers: item 0 has shape {inner[0]} but item {first} has "
                    f"shape {inner[first]}"
                )
            known = memo[id(x)] = (len(x),) + (inner[0] if inner else ())
        if depth + len(known) > MAX_DEPTH:  # met before, higher up
            raise ValueError(f"nested too deeply: more than {MAX_DEPTH} levels of lists")
        return known

    return shape(v, 0)


_FLOAT_MAX = sys.float_info.max


def _value_shape(v) -> tuple[int, ...]:
    """:func:`value_shape` for a validator."""
    try:
        return value_shape(v)
    except ValueError as exc:
        raise _fail("value", "{text}", text=str(exc)) from None


def _tolerance(v):
    if v is None:
        return None
    v = _finite(v)
    if not v >= 0:
        raise _fail("tolerance", "must be >= 0, got {got}", got=_short(v))
    return v


def _stride_like(name: str, allow_none: bool = False):
    def check(v):
        if v is None and allow_none:
            return None
        try:
            values = hparams.per_axis(v, name)
        except ValueError:
            raise _fail(
                "hparam", "expected an int >= 1 or a list of 2 ints [H, W], got {got}{hint}", got=_short(v),
                hint=hparams.whole_float_hint(v, config=True)
            ) from None
        if min(values) < 1:
            raise _fail("hparam", "must be >= 1, got {got}", got=_short(v))
        if max(values) > MAX_SIZE:  # longer than any axis can be
            raise _fail("hparam", "must be at most 2**62, got {got}", got=_short(v))
        return v

    return check


def _pad(v):
    """``pad`` as :func:`hparams.pad_sides` takes it, or ``same``/``valid``."""
    if isinstance(v, str) and v in ("same", "valid"):
        return v
    if v is None or isinstance(v, bool):  # said as written in YAML (hparams' message says Python's None)
        raise _fail("hparam", "expected {forms}, 'same' or 'valid', got {got}", forms=hparams.PAD_FORMS,
                    got=_short(v))
    try:
        sides = hparams.pad_sides(v, name="")  # its message offers same/valid for a near miss
    except ValueError as exc:
        raise _fail("hparam", "{text}", text=str(exc)) from None
    if max(sides) > MAX_SIZE:  # longer than any axis can be
        raise _fail("hparam", "padding must be at most 2**62, got {got}", got=_short(v))
    return v


def _layer_name(v):
    if v is not None and not (isinstance(v, str) and _NAME.match(v)):
        raise _fail("name", "a name is letters, digits and _ and starts with a letter or _, got {got}", got=_short(v))
    if v is not None and len(v) > MAX_NAME:
        raise _fail("name", TOO_LONG, got=len(v))
    return v


class _Layer(_Model):
    name: str | None = None
    input: str | None = None

    @field_validator("name", "input", mode="before")
    @classmethod
    def _names(cls, v):
        return _layer_name(v)


class ConvLayer(_Layer):
    type: Literal["conv"]
    W: str
    b: str
    stride: Any = 1
    pad: Any = 0
    dilation: Any = 1
    bias: str = "once"

    @field_validator("W", "b", mode="before")
    @classmethod
    def _param(cls, v, info):
        if not isinstance(v, str):
            none = f"; {NO_BIAS}" if info.field_name == "b" and v in (None, False) else ""  # PyTorch's bias=False
            raise _fail("name", "expected the name of an input (e.g. {example}), got {got}{none}", got=_short(v),
                        example=info.field_name, none=none)
        return v

    @field_validator("stride", mode="before")
    @classmethod
    def _stride(cls, v):
        return _stride_like("stride")(v)

    @field_validator("dilation", mode="before")
    @classmethod
    def _dilation(cls, v):
        return _stride_like("dilation")(v)

    @field_validator("pad", mode="before")
    @classmethod
    def _pad(cls, v):
        return _pad(v)

    @field_validator("bias", mode="before")
    @classmethod
    def _bias(cls, v):
        if v is False or v is None:  # PyTorch's bias=False: here a bias of zeros
            raise _fail("choice", f"bias: is how b is added (once or window), not whether; {NO_BIAS}")
        return _choice(hparams.BIAS_MODES)(v)


class PoolLayer(_Layer):
    type: Literal["pool"]
    f: Any
    stride: Any = None
    mode: str = "max"
    ties: str = "all"

    @field_validator("f", mode="before")
    @classmethod
    def _f(cls, v):
        return _stride_like("f")(v)

    @field_validator("stride", mode="before")
    @classmethod
    def _stride(cls, v):
        return _stride_like("stride", allow_none=True)(v)

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, v):
        return _choice(hparams.POOL_MODES)(v)

    @field_validator("ties", mode="before")
    @classmethod
    def _ties(cls, v):
        return _choice(hparams.TIE_RULES)(v)

    @model_validator(mode="after")
    def _ties_need_max(self):
        # An average pool has no maxima to share: its ties: would be accepted
        # and change nothing, which reads as if it did. (After the keys and
        # values are checked: a misspelt key is said first.)
        if self.mode == "average" and "ties" in self.model_fields_set:
            raise PydanticCustomError("not_here", "{why}", {"key": "ties", "why": AVERAGE_TIES})
        return self


class ReluLayer(_Layer):
    type: Literal["relu"]


def _layer_tag(v):
    t = v.get("type") if isinstance(v, dict) else getattr(v, "type", None)
    return f"<{t}>" if t in LAYER_TYPES else None


LayerModel = Annotated[
    Union[
        Annotated[ConvLayer, Tag("<conv>")],
        Annotated[PoolLayer, Tag("<pool>")],
        Annotated[ReluLayer, Tag("<relu>")],
    ],
    Discriminator(_layer_tag),
]


def _grad_tag(v):
    return "<name>" if isinstance(v, str) else "<source>"


def _grad_name(v):
    return _choice(GRAD_NAMES)(v)


GradModel = Annotated[
    Union[
        Annotated[str, Tag("<name>")],
        Annotated[Source, Tag("<source>")],
    ],
    Discriminator(_grad_tag),
]


class Backward(_Model):
    grad: GradModel = "output"

    @field_validator("grad", mode="after")
    @classmethod
    def _grad(cls, v):
        return _grad_name(v) if isinstance(v, str) else v


class Tolerance(_Model):
    rtol: float | None = None
    atol: float | None = None

    @field_validator("rtol", "atol", mode="before")
    @classmethod
    def _tol(cls, v):
        return _tolerance(v)


class Expected(_Model):
    """One ``expected`` entry: a number, a (nested) list, or a mapping with
    ``value`` or ``file`` (+ ``key``/``dataset``) and optional tolerances."""

    value: Any = None
    file: str | None = None
    key: str | None = None
    dataset: str | None = None
    rtol: float | None = None
    atol: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, data):
        return data if isinstance(data, dict) else {"value": data}

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, v):
        if v is not None:
            _value_shape(v)
        return v

    @field_validator("rtol", "atol", mode="before")
    @classmethod
    def _tol(cls, v):
        return _tolerance(v)

    @model_validator(mode="after")
    def _one(self):
        if (self.value is None) == (self.file is None):
            raise _fail("expected", "give either a value or a file: (e.g. {file: Z.npy})")
        if self.file is not None:
            Source(file=self.file, key=self.key, dataset=self.dataset)  # same file rules
        elif self.key is not None or self.dataset is not None:
            raise _fail("expected", "key:/dataset: go with file:")
        return self

    def as_source(self) -> Source:
        return Source(file=self.file, key=self.key, dataset=self.dataset)


class Config(_Model):
    """The whole config file (DESIGN.md section 2)."""

    version: Literal[1] = 1
    seed: int = 0
    dtype: str = "float64"
    engine: str = "fast"
    allow_nonfinite: bool = False
    inputs: dict[str, Source]
    layers: list[LayerModel] = Field(min_length=1)
    backward: Backward = Backward()
    expected: dict[str, Expected] = {}
    tolerance: Tolerance = Tolerance()

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v):
        # Literal[1] took true and 1.0 (equal to 1 in Python), as no other whole-number key does
        if not (type(v) is int and v == 1):
            raise _fail("version", "expected 1 (the only version), got {got}", got=_short(v))
        return v

    @field_validator("seed", mode="before")
    @classmethod
    def _seed(cls, v):
        if not (isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**32):
            raise _fail("seed", "expected an int from 0 to 2**32 - 1, got {got}", got=_short(v))
        return v

    @field_validator("dtype", mode="before")
    @classmethod
    def _dtype(cls, v):
        return check_dtype(v)

    @field_validator("engine", mode="before")
    @classmethod
    def _engine(cls, v):
        return _choice(hparams.ENGINES)(v)

    @field_validator("allow_nonfinite", mode="before")
    @classmethod
    def _bool(cls, v):
        if not isinstance(v, bool):
            raise _fail("bool", "expected true or false, got {got}", got=_short(v))
        return v

    @field_validator("inputs", mode="before")
    @classmethod
    def _inputs(cls, v):
        if isinstance(v, dict):
            if not v:
                raise _fail("inputs", "no inputs: name at least the first layer's input, e.g. A_prev: {random: [10, 4, 4, 3]}")
            for name in v:
                if not (isinstance(name, str) and _NAME.match(name)):
                    raise _fail(
                        "name", "input name {got}: a name is letters, digits and _ and starts with a letter or _",
                        got=_short(name),
                    )
                if len(name) > MAX_NAME:
                    raise _fail("name", "input name " + _short(name) + ": " + TOO_LONG, got=len(name))
        return v


def check_dtype(v) -> str:
    """``float64`` | ``float32`` or an error naming what is supported."""
    if v not in DTYPES:
        raise _fail(
            "dtype",
            "unsupported dtype {got}: convcli computes in float64 or float32{hint}",
            got=_short(v), hint=did_you_mean(v, DTYPES) if isinstance(v, str) else "",
        )
    return v


# --------------------------------------------------------------------- errors


def format_loc(loc) -> str:
    """``('layers', 0, 'stride')`` -> ``layers[0].stride``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif isinstance(part, str) and part.startswith("<") and part.endswith(">"):
            continue  # a union tag of ours, not a key the user wrote
        elif isinstance(part, str) and _NAME.match(part):
            text += f".{part}" if text else part
        elif part is None or isinstance(part, bool):  # a key YAML read as null, true or false
            text += f"[{_short(part)}]"
        else:
            text += f"[{str(part)!r}]"
    return text


_MESSAGES = {
    "missing": "missing (required)",
    "dict_type": "expected a mapping (key: value lines), got {input}",
    "model_type": "expected a mapping (key: value lines), got {input}",
    "model_attributes_type": "expected a mapping (key: value lines), got {input}",
    "list_type": "expected a list, got {input}",
    "tuple_type": "expected a list, got {input}",
    "string_type": "expected a string, got {input}",
    "int_type": "expected an integer, got {input}",
    "int_parsing": "expected an integer, got {input}",
    "int_from_float": "expected an integer, got {input}",
    "float_type": "expected a number, got {input}",
    "float_parsing": "expected a number, got {input}",
    "bool_type": "expected true or false, got {input}",
    "bool_parsing": "expected true or false, got {input}",
    "literal_error": "expected {expected}, got {input}",
    "too_short": "must not be empty",
    "greater_than_equal": "must be >= {ge}, got {input}",
    "greater_than": "must be > {gt}, got {input}",
}


def validation_message(err: dict) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) in
    convcli's words, e.g. ``expected an integer, got 'abc'``; the CLI says
    its bad option values with this too."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in _MESSAGES:
        return _MESSAGES[kind].format(input=_short(err.get("input")), **ctx)
    return err["msg"]


def _message(err: dict) -> tuple[tuple, str]:
    loc, kind = tuple(err["loc"]), err["type"]
    ctx = err.get("ctx") or {}
    if kind == "missing" and loc[:1] == ("layers",) and loc[-1] == "b":  # PyTorch's bias=False has no match
        return loc, f"missing (required): {NO_BIAS}"
    if kind == "unknown_key":
        hint = ctx["hint"] or f"; known keys: {ctx['known']}"
        others = f"; unknown beside it too: {ctx['others']}" if ctx.get("others") else ""
        return loc + (ctx["key"],), f"unknown key{hint}{others}"
    if kind == "not_here":
        return loc + (ctx["key"],), ctx["why"]
    if loc and loc[-1] == "[key]":  # a mapping's key that is no string (5:, null:): named by its mapping
        entry = " (an entry such as Z.mean: 1.5 or Z[0, 1]: 2)" if loc[:1] == ("expected",) else ""
        return loc[:-2], f"a key must be a name{entry}, got {_short(err.get('input'))}"
    if loc[:2] == ("backward", "grad") and kind in ("dict_type", "model_type", "model_attributes_type"):
        return loc, (f"expected {', '.join(GRAD_NAMES)} or a source such as {{file: dZ.npy}}, "
                     f"got {_short(err.get('input'))}")
    if kind in ("union_tag_invalid", "union_tag_not_found") and loc and loc[0] == "layers":
        got = err["input"].get("type") if isinstance(err["input"], dict) else None
        if not isinstance(err["input"], dict):
            return loc, f"expected a mapping with type: conv, pool or relu, got {_short(err['input'])}"
        if got is None:
            return loc + ("type",), "missing: every layer needs type: conv, pool or relu"
        return loc + ("type",), (
            f"unknown layer type {_short(got)}{did_you_mean(got, LAYER_TYPES)}; expected conv, pool or relu"
        )
    return loc, validation_message(err)


@dataclass
class LoadedConfig:
    """A validated config and what its error messages need."""

    path: Path
    display: str
    model: Config
    sha256: str
    lines: dict = field(default_factory=dict)
    layer_names: list[str] = field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        return self.path.resolve().parent

    @property
    def stem(self) -> str:
        return self.path.stem

    def files_read(self) -> list[tuple[str, Path]]:
        """Every file the config names, as (its key, its path): the inputs,
        a ``grad: {file: ...}``, the expected entries' files; the config
        itself first. (Not resolved through symlinks: the caller does.)"""
        m = self.model
        named = [(f"inputs.{k}", s) for k, s in m.inputs.items()]
        if isinstance(m.backward.grad, Source):
            named.append(("backward.grad", m.backward.grad))
        named += [(f"expected.{k}", e) for k, e in m.expected.items()]
        return [("the config", self.path)] + [(key, self.base_dir / s.file) for key, s in named if s.file]

    def where(self, *loc) -> str:
        """``seed.yaml: layers[0].stride (line 14)``; loc parts are keys and
        list indices, or already-formatted text."""
        place = self.place(*loc)
        return f"{self.display}: {place}" if place else self.display

    def place(self, *loc) -> str:
        """``layers[0].stride (line 14)``: :meth:`where` without the file."""
        text = format_loc(loc)
        # The longest prefix of loc that the YAML file has a line for.
        line = None
        for n in range(len(loc), 0, -1):
            if loc[:n] in self.lines:
                line = self.lines[loc[:n]][0]
                break
        if not text:
            return f"line {line}" if line else ""
        return f"{text} (line {line})" if line else text

    def layer_where(self, index: int, *rest) -> str:
        """``seed.yaml: layers[0] (conv1).W (line 9)``."""
        base = self.where("layers", index, *rest)
        label = f"layers[{index}]"
        return base.replace(label, f"{label} ({self.layer_names[index]})", 1)

    def error(self, loc, what: str) -> ConvcliError:
        return ConvcliError(self.where(*loc), what)


# At most this many of the other errors' places are named beside the first error.
MORE_PLACES = 3


def _first_error(exc: ValidationError, cfg: "LoadedConfig") -> tuple[tuple, str]:
    """``(loc, what)`` of a validation's first error, with how many more
    there are (a mapping's unknown keys are one error, whose message names
    them all but the ones of the mappings after it: counted) and where the
    first few of them are (a learner's review: "(and 1 more error)" named
    neither what nor where, even under --json)."""
    errors = exc.errors(include_url=False)
    loc, what = _message(errors[0])
    more = len(errors) - 1 + sum((e.get("ctx") or {}).get("count", 0) for e in errors[1:] if e["type"] == "unknown_key")
    if more:
        places = list(dict.fromkeys(cfg.place(*_message(e)[0]) + " (missing)" * (e["type"] == "missing")
                                    for e in errors[1:]))
        at = ", ".join(places[:MORE_PLACES]) + (", ..." if len(places) > MORE_PLACES else "")
        what += f" (and {more} more {'error' if more == 1 else 'errors'}: at {at})"
    return loc, what


def validate(data, lines: dict, path: Path, display: str, sha256: str = "") -> LoadedConfig:
    """Validate parsed YAML data against :class:`Config`, then check the names
    (layers, inputs) that tie its parts together."""
    stub = LoadedConfig(path, display, None, sha256, lines)  # type: ignore[arg-type]
    if data is None:
        raise ConvcliError(display, "the config is empty; see README.md for an example")
    if not isinstance(data, dict):
        raise ConvcliError(
            display,
            f"expected a mapping of keys (seed, inputs, layers, ...) at the top, got a {_yaml_kind(data)}",
        )
    try:
        model = Config.model_validate(data)
    except ValidationError as exc:
        raise stub.error(*_first_error(exc, stub)) from None
    loaded = LoadedConfig(path, display, model, sha256, lines)
    _check_names(loaded)
    return loaded


def _yaml_kind(data) -> str:
    if isinstance(data, list):
        return "list"
    if isinstance(data, str):
        return "string"
    return type(data).__name__


def load_config(path: str | Path) -> LoadedConfig:
    """Read, parse and validate a config file (or raise ConvcliError)."""
    path = Path(path)
    display = str(path)
    raw = _read_bytes(path, display)
    data, lines = parse_yaml(raw, display)
    # The hash of the very bytes parsed: summary.json ties the outputs to them.
    return validate(data, lines, path, display, hashlib.sha256(raw).hexdigest())


QUANTITY_SUFFIXES = ("Z", "A", "dA_prev", "dW", "db", "dZ", "dA")


def _check_names(cfg: LoadedConfig) -> None:
    """Default layer names, unique names, and every name a layer refers to."""
    model = cfg.model
    inputs = list(model.inputs)
    # Names that differ only in case name files that are one file on a case-insensitive file system (macOS,
    # Windows): one run's arrays would overwrite each other there, and summary.json describe a file that
    # is not (a review)
    folded: dict[str, str] = {}
    for name in inputs:
        other = folded.setdefault(name.casefold(), name)
        if other != name:
            raise cfg.error(("inputs", name), f"input name {name!r} differs from the input {other!r} only in case: "
                                              f"their files ({name}.npy, {other}.npy) are one on macOS and Windows; "
                                              "rename one")
    names: list[str] = []
    for i, layer in enumerate(model.layers):
        name = layer.name or f"{layer.type}{i + 1}"
        if name in names:
            raise cfg.error(("layers", i, "name"), f"layer name {name!r} is already used by layers[{names.index(name)}]")
        same = [k for k, n in enumerate(names) if n.casefold() == name.casefold()]
        if same:
            raise cfg.error(("layers", i, "name"), f"layer name {name!r} differs from layers[{same[0]}]'s "
                                                   f"{names[same[0]]!r} only in case: their files are one on macOS "
                                                   "and Windows; choose another name")
        if name in inputs:
            raise cfg.error(("layers", i, "name"), f"layer name {name!r} is also the name of an input")
        names.append(name)
    cfg.layer_names = names
    if len(model.layers) == 1:
        for name in inputs:
            if name in QUANTITY_SUFFIXES:
                raise cfg.error(
                    ("inputs", name),
                    f"input name {name!r} clashes with the layer quantity {name} (bare names "
                    "work in one-layer configs); rename the input",
                )
    for i, layer in enumerate(model.layers):
        if layer.input is not None and i > 0:
            raise ConvcliError(
                cfg.layer_where(i, "input"),
                "only the first layer reads an input; each later layer takes the previous layer's output",
            )
        refs = [("input", layer.input or "A_prev")] if i == 0 else []
        if isinstance(layer, ConvLayer):
            refs += [("W", layer.W), ("b", layer.b)]
        for key, ref in refs:
            if ref not in inputs:
                if key == "input" and layer.input is None:
                    raise ConvcliError(
                        cfg.layer_where(i),
                        f"the first layer reads the input 'A_prev', but inputs has no 'A_prev' "
                        f"(inputs: {', '.join(inputs)}); name one A_prev, or say input: NAME",
                    )
                raise ConvcliError(
                    cfg.layer_where(i, key),
                    f"unknown input {ref!r}{did_you_mean(ref, inputs)}; inputs: {', '.join(inputs)}",
                )


class ComputedFrom(_Model):
    """An expected.yaml's ``computed_from:``: the run that wrote it (for a
    note when a check against it fails: values from another config, or
    another dtype, are not this run's)."""

    config: str | None = None
    sha256: str | None = None
    dtype: str | None = None
    engine: str | None = None
    convcli: str | None = None


def read_expected_file(path: str | Path) -> tuple[LoadedConfig, dict, Tolerance, ComputedFrom | None]:
    """An ``--expected FILE``: a YAML mapping with ``expected:`` (required),
    ``tolerance:`` (optional), the same schema as in a config, and the
    ``computed_from:`` convcli writes into its expected.yaml (optional)."""

    class ExpectedFile(_Model):
        expected: dict[str, Expected]
        tolerance: Tolerance | None = None  # given, it stands in for the config's whole
        computed_from: ComputedFrom | None = None

    path = Path(path)
    display = f"--expected {short_path(path)}"  # every message about the file names the option
    raw = _read_bytes(path, display, display, "a YAML file of expected: entries")
    data, lines = parse_yaml(raw, display)
    stub = LoadedConfig(path, display, None, "", lines)  # type: ignore[arg-type]
    if data is None:
        raise ConvcliError(display, "the file is empty; expected a mapping with expected: entries")
    if not isinstance(data, dict):
        raise ConvcliError(display, f"expected a mapping with expected: entries, got a {_yaml_kind(data)}")
    entry = next((k for k in data if isinstance(k, str) and k not in ("expected", "tolerance", "computed_from")
                  and re.search(r"[.\[]", k)), None)
    if entry is not None:  # Z.mean: 1 at the top, as in a config's expected: block
        raise stub.error((entry,), "an expected entry at the top of the file: put it under expected:")
    try:
        parsed = ExpectedFile.model_validate(data)
    except ValidationError as exc:  # (a review: its count of more errors was missing)
        raise stub.error(*_first_error(exc, stub)) from None
    return stub, parsed.expected, parsed.tolerance, parsed.computed_from
