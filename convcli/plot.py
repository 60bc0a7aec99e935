"""Pictures of quantities as PNG files: feature maps, filters, biases, differences.

The functions take NumPy arrays and write one PNG each. They know nothing
about configs or the command line. matplotlib is an optional extra
(``pip install matplotlib``, or from convcli's clone ``pip install -e
'.[plot]'``); it is imported when a picture is drawn, and without it every
function raises :class:`~convcli.errors.ConvcliError` ``plot: needs
matplotlib: pip install matplotlib (from convcli's clone: pip install -e
'.[plot]')``. Figures are drawn with
``matplotlib.figure.Figure`` on an Agg canvas: no pyplot, no screen, no global
figure registry, nothing to close.

API
---
``plot_quantity(array, name, path, *, sample=None, channels=None, kind=None) -> Path``
    One quantity, one PNG at ``path``.
``plot_difference(yours, reference, name, path, *, sample=None, channels=None, kind=None, rtol=0.0, atol=0.0) -> Path``
    ``|yours - convcli's|`` of one quantity, one PNG.
``plot_differences(pairs, path, *, rtol=0.0, atol=0.0, not_drawn=None, notes=None) -> Path``
    ``pairs`` maps a name to ``(yours, reference)``; the quantities that
    differ (beyond ``atol + rtol*|reference|``) are drawn one below the other
    in one PNG, each with its own scale; if none differs the PNG says so.
``plot_quantities(arrays, folder, *, sample=None, kinds=None) -> list[Path]``
    One PNG per quantity in ``folder`` (created if needed), named
    ``file_name(name)``, e.g. ``conv1.dW`` -> ``conv1.dW.png``.
``file_name(name) -> str``
    The filesystem-safe PNG file name used for a quantity.
``drawn_selection(array, name, *, sample=None, channels=None, kind=None) -> (sample, channels)``
    The sample (None for weights and biases) and channels ``plot_quantity`` draws.
``require_matplotlib(where="plot") -> None``
    Raise the install hint now, before any computing, if matplotlib is missing.

How the CLI uses them (each command calls ``require_matplotlib()`` first, so a
missing extra fails before any computing)::

    convcli plot CONFIG --quantity Q [--sample i] [--channels LIST] --out F.png
        plot_quantity(results[Q], Q, F, sample=i, channels=LIST, kind=kinds.get(Q))
    convcli forward|backward CONFIG --plot
        plot_quantities(results, staging_out / "plots", kinds=kinds)
    convcli check CONFIG --against PATH --plot F.png
        plot_differences({q: (yours[q], ours[q]) for q in compared}, F,
                         rtol=rtol, atol=atol)

    # kinds, from the layers' roles: a conv layer's W input and LAYER.dW
    # "weights" (whatever the input's name), its b and LAYER.db "vector", what
    # flows between layers "maps"

Kinds of picture (``kind=None`` chooses from the name and the shape):

``"maps"`` (a 4-D NHWC array ``(m, n_H, n_W, n_C)``: inputs, outputs, gradients)
    A grid of panels, one per channel of sample ``sample`` (default 0), each
    titled ``channel k``; ``ceil(sqrt(n))`` columns. Without ``channels`` at
    most the first 64 channels are drawn and the title says so; ``channels``
    may choose up to 256.
``"weights"`` (names ``W``, ``dW``, ``W1``, ``conv1.dW``, ...: ``(f_H, f_W, n_C_prev, n_C)``)
    One panel per output channel, titled ``out channel k``. Where
    ``n_C_prev == 3`` (and the name is not a gradient's: a ``dW``'s sign is
    what matters) each panel is one colour image, the input channels as
    R, G, B, every component mapped by the same linear scale from
    ``[-max|W|, max|W|]`` to ``[0, 1]`` (0 is mid-grey). Otherwise each panel is
    a mosaic of its ``n_C_prev`` kernels (``f_H x f_W`` tiles, row-major,
    ``ceil(sqrt(n_C_prev))`` tiles a row, separated by thin green lines).
``"vector"`` (shape ``(n_C,)`` or ``(1, 1, 1, n_C)``: biases ``b``, ``db``)
    A bar chart, one bar per channel.

Colours: one colour scale shared by all panels of a picture (its limits come
from the panels drawn), with a colorbar (none where nothing drawn is
finite), nearest interpolation. Signed quantities (a gradient name such as ``dZ``,
``dA_prev``, ``dW``, ``db``, or any negative value) use the diverging map
``RdBu_r`` centred on 0 (symmetric limits); others use ``gray`` (an
unsigned map of zeros alone black, at the scale's bottom, as beside others;
a panel whose map or kernels are all exactly 0 is titled "(all 0)"). Differences
``|yours - reference|`` are black where nothing differs (the errors within
the tolerance given count as none, so that only the elements that differ
light up) and each element that differs ``gray`` from
``DIFFERENCE_FLOOR`` (0.3) up to white at the largest error: linear from
0, or logarithmic from the smallest error where the errors that differ
span more than ``LOG_SPAN`` (10) times (a bar chart then takes a log
axis), so that an error far below the largest is not drawn black (the
colour bar ends in a black triangle: nothing differs); the
first differing element outlined in red (ringed instead where the map is
more than 40 pixels a side, where an outline would cover it). NaN is drawn
magenta, +Inf amber,
-Inf green (in a difference every non-finite error magenta), and the title
counts them. A map larger than the share of its panel's pixels it is sure
to get (``PANEL_FILLS``, by the number of panels; a difference's less)
is reduced by a whole factor k first, each pixel the element of its k x k
block farthest from the map's mean (a difference's: the largest error; NaN
and Inf first), and says so in a title
line, with the share of its elements that are 0 where that is a tenth or
more (a max pool's gradient, 3 in 4 zeros, looks dense reduced): matplotlib's own
resampling to the panel's pixels kept one element
in k*k and could hide a lone extreme or a lone wrong element. A map more
elongated than ``MAX_ASPECT`` (4) is stretched to its panel. Maps up to
``INDEXED`` (32) a side get row and column indices on the left and bottom
panels; panels of up to ``CELL_VALUES`` (16) elements get each value
written in its cell where it fits, and bar charts of that many bars a
value on each (turned where wider than its bar), in as many significant
digits (4 to 8) as tell the values apart.

Titles: the figure title gives the quantity, its shape, the sample, and the
mean/std/min/max of the whole array (all samples), and where less is drawn
(one sample of several, some channels) the min and max of what is (the
colour scale's); the finite min and max beside the non-finite counts, and
"constant" for an array of one value; a difference picture gives
the largest error, the first differing index (C order, as ``check`` reports
it) and how many elements differ, and names the samples that differ when
there are several. The sample drawn is the one with the most elements that
differ, in ``plot_differences`` over all the batches drawn (one sample for
them all, where it holds differences of each), its first difference the one
marked, and said where it is not the first difference of all.
``plot_differences(..., not_drawn={name: why})`` opens with a note naming
the quantities that differ but cannot be drawn (another shape).

Size: ``DPI`` 100 and every length a multiple of 1/4 inch, so the PNG size is
exact: width ``max(6, cols*panel + 1)`` inches, height
``title + rows*(panel_h + 0.25)``, where ``panel`` is 2 (3 for one panel
alone, 1.5 above 4 columns),
``panel_h`` is ``panel * n_H/n_W`` clamped to [0.5, 2] times ``panel`` and
rounded to 1/4, and ``title`` is ``0.25*(lines + 1)`` (two lines, three with
the range of what is drawn; three for a difference). Bar charts are ``clamp(2 + 0.25*n, 6, 16)`` by ``title + 3``.
Several difference blocks stack: widest width, summed heights.

Errors: a bad ``sample`` or ``channels`` raises ``ConvcliError`` with where
``--sample`` / ``--channels``; an array that is not a picturable shape, an
empty or complex one, raises it with the quantity's name as where; a path not
ending in ``.png``, or in a folder that does not exist, with the path as where.
The PNG is written to a temporary file beside ``path`` and renamed into place,
so a failure leaves nothing behind.
"""

from __future__ import annotations

import contextvars
import dataclasses
import math
import operator
import os
import re
import stat
import textwrap
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from .errors import ConvcliError
from .hparams import shape_view
from .stats import describe

__all__ = [
    "plot_quantity",
    "plot_difference",
    "plot_differences",
    "plot_quantities",
    "file_name",
    "drawn_selection",
    "require_matplotlib",
    "INSTALL_HINT",
]

# convcli is not on PyPI: `pip install 'convcli[plot]'` finds nothing (a review).
INSTALL_HINT = "needs matplotlib: pip install matplotlib (from convcli's clone: pip install -e '.[plot]')"

DPI = 100
MAX_PANELS = 64  # channels drawn when the caller does not choose them
# A check's picture of many quantities that differ draws about this many channels in all, at least
# FEWEST_EACH a quantity: each panel costs matplotlib's layout ~40 ms (12 quantities of 64 channels
# took 34 s to draw, 1.2 s to check).
PANELS_IN_ALL = 128
FEWEST_EACH = 8
# Channels a caller may choose for one picture: 256 panels, 16 a row, are
# ~150 pixels wide and take ~6 s to draw; 1024 took 40 s for panels no one
# could read.
MAX_CHOSEN = 256
MIN_WIDTH = 6.0  # inches; room for the title lines
# Width of a title character, on average, in pixels (11-point DejaVu Sans at DPI 100).
TITLE_CHAR_PX = 8.5
SAMPLES_LISTED = 8  # a difference picture names at most this many samples that differ
# A map larger than its panel's pixels is shown reduced, each pixel the
# element of its k x k block farthest from the map's mean (a difference's:
# the largest error; NaN first, then Inf):
# matplotlib's own resampling picked one element in k*k, hiding a lone
# maximum or a lone wrong element. A panel's image gets at least this share
# of the panel's nominal size, by how many panels there are (measured in the
# twenty-third session over 1-256 panels of maps 0.25-4 times as high as
# wide, the least share for each count: 1.09-1.18 up to 4 panels, 0.90 up to
# 9, 0.88 up to 16, 0.84 beyond; less about 2% here), a square map's more
# (1.17, 0.94, 0.92, 0.88): one share for all (0.85) halved a lone 256x256
# map and 64 channels of 128x128, which fit, and a later one (0.86) let a
# tall map of many panels be thinned by matplotlib (two reviews).
PANEL_FILLS = ((4, 1.06), (9, 0.88), (16, 0.86), (None, 0.82))
SQUARE_FILLS = ((4, 1.14), (9, 0.92), (16, 0.90), (None, 0.865))
# A difference's panels lose a gap inside their frame (1/40 of the map's
# longer side, each side) besides: their share is this much of the above
# (measured: 0.762 against 0.839 beyond 16 panels, a square map's 0.837
# against 0.883), so that a lone wrong element is never thinned away (a
# review: 64 channels of 128x128, one element wrong, and no pixel of it lit).
DIFFERENCE_FILL, SQUARE_DIFFERENCE_FILL = 0.9, 0.94
PANEL_FILL = PANEL_FILLS[-1][1]  # (the least: a bar chart's estimate)


# The shares above are estimates; the picture is laid out, each map's panel
# measured, and where one holds fewer pixels than the (reduced) map has
# elements, the picture is made again with the shares scaled down by what
# was missing (a review: one RGB image of 224x224, 3 panels of ~213 pixels
# estimated at 228, a lone 1.0 in two channels not drawn).
_FILL_SCALE: contextvars.ContextVar[float] = contextvars.ContextVar("convcli_plot_fill_scale", default=1.0)
RENDER_TRIES = 3


def _panel_fill(n_panels: int, difference: bool = False, square: bool = False) -> float:
    """The share of its nominal size a panel's image is sure to get (see
    PANEL_FILLS), scaled by a render's measurement (_FILL_SCALE)."""
    fills = SQUARE_FILLS if square else PANEL_FILLS
    fill = next(f for most, f in fills if most is None or n_panels <= most)
    if difference:
        fill *= SQUARE_DIFFERENCE_FILL if square else DIFFERENCE_FILL
    return fill * _FILL_SCALE.get()


# Maps at most this many elements a side get their row and column indices
# on the left and bottom panels; panels of at most CELL_VALUES elements get
# each element's value written in its cell (and bar charts of at most that
# many bars a value on each bar).
INDEXED = 32
CELL_VALUES = 16
# A value is written only where it fits: its characters at their widths in
# pixels (8-point DejaVu Sans at DPI 100, as matplotlib measures them: a
# review found digits of 7 px where 6.5 were counted, and an 11-character
# label run into its neighbour and the row index, a positive value read as
# negative) and a margin.
VALUE_CHAR_PX = 7.0
VALUE_CHAR_PX_OF = {".": 4.0, "-": 4.0, "+": 9.0, "i": 3.0, "f": 4.0}
VALUE_MARGIN_PX = 6
# Values this share of a panel's span apart or closer take colours that look alike (a colour map has 256).
VISIBLE_STEP = 1 / 512
# An image more elongated than this is stretched to its panel (cells no
# longer square) instead of drawn as a sliver.
MAX_ASPECT = 4.0
# The first difference gets a ring of fixed size too where the image is this
# many pixels a side or more: its one-pixel outline is too small to find.
MARK_RING_ABOVE = 40
COLORBAR_WIDTH = 1.0
PANEL_TITLE = 0.25
BAR_HEIGHT = 3.0
MAX_BAR_WIDTH = 16.0

# A difference is drawn black where nothing differs, and each element that
# differs in grey from this level up to white at its largest error (the
# level is an error of 0 on a linear scale, the smallest error on a log
# one): a linear scale from black drew an error 1000 times below the
# largest black, as if it did not differ. Where the errors that differ
# span more than LOG_SPAN times, the scale is logarithmic.
DIFFERENCE_FLOOR = 0.3
LOG_SPAN = 10.0

SIGNED_CMAP = "RdBu_r"
UNSIGNED_CMAP = "gray"
BAD_COLOR = "magenta"  # NaN; and any non-finite |error| of a difference
POS_INF_COLOR = "#ffbf00"  # amber
NEG_INF_COLOR = "#7fff00"  # green (chartreuse)
SEPARATOR_COLOR = "#2ca02c"
# Around a difference's panel, between its frame and its edge elements: on no difference scale (black
# to white), so errors along a map's edge (a padding mistake's frame) stand out from the frame and the page.
DIFFERENCE_GAP_COLOR = "#6baed6"  # blue
EMPTY_COLOR = "0.6"  # hatching on mosaic tiles that hold no kernel
MARK_COLOR = "red"

KINDS = ("maps", "weights", "vector")

_WEIGHT_NAME = re.compile(r"d?W\d*")
_GRADIENT_NAME = re.compile(r"d(?:[A-Z]|b(?:\d|_|$))")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}


# ----------------------------------------------------------------- public API


def plot_quantity(array, name: str, path, *, sample: int | None = None,
                  channels: Sequence[int] | None = None, kind: str | None = None,
                  overwrite: bool = True) -> Path:
    """Draw one quantity as a PNG.

    Parameters
    ----------
    array : ndarray
        ``(m, n_H, n_W, n_C)`` for maps, ``(f_H, f_W, n_C_prev, n_C)`` for
        weights, ``(n_C,)`` or ``(1, 1, 1, n_C)`` for a bias.
    name : str
        The quantity's name (``conv1.Z``, ``dW``); it chooses the kind and the
        colour map and titles the picture.
    path : str or Path
        The PNG to write (``.png``; its folder must exist).
    sample : int, optional
        The sample drawn for maps (default 0). Weights and biases have none:
        only ``None`` or 0 is accepted for them.
    channels : sequence of int, optional
        Channels to draw (output channels for weights). Default: all, at most
        the first 64.
    kind : {"maps", "weights", "vector"}, optional
        Overrides the choice made from the name and shape.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ConvcliError
        matplotlib missing, bad sample or channel, an array that cannot be
        drawn, a bad path.
    """
    mpl = _matplotlib()
    path = _check_path(path)
    a = _as_float(array, name)
    _render(mpl, lambda: [_quantity_block(a, name, sample, channels, kind)], path, overwrite=overwrite)
    return path


def plot_difference(yours, reference, name: str, path, *, sample: int | None = None,
                    channels: Sequence[int] | None = None, kind: str | None = None,
                    rtol: float = 0.0, atol: float = 0.0) -> Path:
    """Draw ``|yours - reference|`` of one quantity as a PNG.

    Laid out as :func:`plot_quantity` lays out ``reference`` (weights as
    mosaics, never RGB), in ``gray`` from 0 to the largest error. The title
    gives the largest error, the first index where
    ``|yours - reference| > atol + rtol*|reference|`` and how many elements
    differ; that element is outlined in red. As in ``convcli check``, NaN
    matches NaN and an infinity matches the same infinity (their error is
    drawn as 0); NaN against a number differs, and its error is drawn magenta.
    ``sample`` defaults to the sample with the most elements that differ.

    Raises
    ------
    ConvcliError
        As :func:`plot_quantity`; also when the shapes differ.
    """
    mpl = _matplotlib()
    path = _check_path(path)
    _render(mpl, lambda: [_difference_block(yours, reference, name, sample, channels, kind, rtol, atol)], path)
    return path


def plot_differences(pairs: Mapping[str, tuple], path, *, rtol: float = 0.0,
                     atol: float = 0.0, not_drawn: Mapping[str, str] | None = None,
                     notes: Mapping[str, str] | None = None,
                     nothing_to_draw: Mapping[str, str] | None = None, overwrite: bool = True,
                     atols: Mapping[str, float | np.ndarray] | None = None) -> Path:
    """Draw every quantity that differs in one PNG, one block below the other.

    Parameters
    ----------
    pairs : mapping of name -> (yours, reference)
        Every quantity compared; those within ``atol + rtol*|reference|``
        everywhere are left out.
    path : str or Path
        The PNG to write.
    not_drawn : mapping of name -> why, optional
        Quantities that differ but cannot be drawn (another shape): a note
        at the top names each and why, so the picture never reads as if
        nothing differed.
    notes : mapping of name -> text, optional
        What ``check`` says of a quantity that differs ("yours is convcli's
        times 1/4 everywhere"): wrapped into its block's title, so that a
        picture kept apart from the report keeps it.
    nothing_to_draw : mapping of name -> why, optional
        Quantities that failed with no array of the user's to draw (missing,
        unreadable): named in the note at the top too, so that a failed
        check's picture never says that no quantity differs.
    atols : mapping of name -> atol, optional
        A quantity's own atol where it is not ``atol`` (a float32 check's
        allowance for float32's rounding): a number, or an array of each
        element's.

    Returns
    -------
    Path
        ``path``. If no quantity differs the PNG is a short note saying so.
    """
    mpl = _matplotlib()
    path = _check_path(path)
    said = [f"{name} differs, not drawn: {why}" for name, why in (not_drawn or {}).items()]
    said += [f"{name} fails, nothing to draw: {why}" for name, why in (nothing_to_draw or {}).items()]
    differing = {}
    for name, (yours, reference) in pairs.items():
        y, r = _difference_arrays(yours, reference, name)
        tol = (atols or {}).get(name, atol)
        if np.ndim(tol):  # each element's own (a float32 check's allowance): as the arrays are laid out
            tol = np.asarray(tol, dtype=np.float64).reshape(r.shape)
        differs = _differs(y, r, rtol, tol)
        if differs.any():
            differing[name] = (y, r, tol, differs, _choose_kind(r, name, None))
    shares = _shares({name: d for name, (*_, d, kind) in differing.items() if kind != "vector"})
    shared = (f"{PANELS_IN_ALL} panels shared among the {len(shares)} quantities of channels that differ"
              if any(most < MAX_PANELS for most in shares.values()) else "")
    # One sample for every batch of maps, the one with the most elements that differ over them all, where
    # it holds some of a quantity's (a review: conv1.Z drawn at sample 0, relu2.A at 3, pool3.A at 0)
    maps = [(y, r, tol, d) for y, r, tol, d, kind in differing.values() if kind == "maps"]
    per_sample = [d.reshape(d.shape[0], -1).sum(axis=1) for *_, d in maps]
    common = (_busiest(np.sum(per_sample, axis=0),
                       lambda tied: np.max([_excess(y, r, rtol, tol, d, tied) for y, r, tol, d in maps], axis=0))
              if per_sample and len({len(c) for c in per_sample}) == 1 else None)

    def make() -> list[_Block]:
        blocks = []
        if said:
            lines = _fit(said, MIN_WIDTH)
            blocks.append(_Block(kind="note", title=lines, width=MIN_WIDTH, height=0.25 * (len(lines) + 2)))
        for name, (y, r, tol, differs, kind) in differing.items():
            extra = [notes[name]] if notes and notes.get(name) else []  # wrapped with the title
            sample = common if kind == "maps" and common is not None and differs[common].any() else None
            blocks.append(_difference_block(y, r, name, sample, None, None, rtol, tol, extra,
                                            shares.get(name, MAX_PANELS), shared, differs))
        return blocks or [_Block(kind="note", title=[f"no quantity differs ({len(pairs)} compared, "
                                                     f"rtol {rtol:g}, atol {atol:g})"],
                                 width=MIN_WIDTH, height=1.0)]

    _render(mpl, make, path, overwrite=overwrite)
    return path


def _shares(differs: Mapping[str, np.ndarray]) -> dict[str, int]:
    """The channels each quantity (name -> where it differs, channels last)
    may draw: PANELS_IN_ALL among them, at least FEWEST_EACH and at most
    MAX_PANELS each, those that need fewer (all their channels, or those
    that differ of more than MAX_PANELS) leaving the rest to the others (a
    review: 128 channels beside two of 1 drew 42 of them and 44 panels in
    all)."""
    need = {}
    for name, d in differs.items():
        n = d.shape[-1] if d.ndim else 1
        need[name] = n if n <= MAX_PANELS else min(MAX_PANELS, int(d.reshape(-1, n).any(axis=0).sum()))
    shares, left = {}, PANELS_IN_ALL
    for k, name in enumerate(sorted(need, key=need.get)):  # the fewest first: what they leave goes on
        shares[name] = min(MAX_PANELS, max(FEWEST_EACH, left // (len(need) - k)), max(need[name], FEWEST_EACH))
        left -= min(shares[name], need[name])
    return shares


def plot_quantities(arrays: Mapping[str, np.ndarray], folder, *, sample: int | None = None,
                    kinds: Mapping[str, str] | None = None, shown_as=None) -> list[Path]:
    """Write one PNG per quantity into ``folder``; return the paths in order.

    ``sample`` is the sample drawn for maps (weights and biases have none).
    ``kinds`` optionally maps a name to its kind (see :func:`plot_quantity`).
    File names come from :func:`file_name`; two names that would collide
    (also on a case-insensitive filesystem) get ``-2``, ``-3``, ... suffixes.
    Every quantity is checked before any file is written. ``shown_as`` is
    the folder as a failed write names it, when ``folder`` is a staging
    place the user never named (default: ``folder``).
    """
    mpl = _matplotlib()
    kinds = kinds or {}
    planned = []  # every quantity checked (its block made once) before any file is written
    for name, array in arrays.items():
        a = _as_float(array, name)
        kind = _choose_kind(a, name, kinds.get(name))
        planned.append((a, kind, _quantity_block(a, name, sample if kind == "maps" else None, None, kind)))
    folder = Path(folder)
    shown = Path(shown_as) if shown_as is not None else folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConvcliError(str(shown), f"cannot create it: {e.strerror or e}") from None
    paths, taken = [], set()
    for name, (a, kind, block) in zip(arrays, planned):
        stem = file_name(name)[: -len(".png")]
        candidate, k = stem, 1
        while candidate.casefold() in taken:
            k += 1
            candidate = f"{stem}-{k}"
        taken.add(candidate.casefold())
        path = folder / f"{candidate}.png"
        _render(mpl, lambda a=a, name=name, kind=kind, block=block: (
            [block] if _FILL_SCALE.get() == 1.0 else [_quantity_block(a, name, sample if kind == "maps" else None,
                                                                     None, kind)]), path, shown / path.name)
        paths.append(path)
    return paths


def drawn_selection(array, name: str, *, sample: int | None = None,
                    channels: Sequence[int] | None = None, kind: str | None = None) -> tuple[int | None, list[int]]:
    """What :func:`plot_quantity` draws of ``array`` with these arguments:
    ``(sample, channels)``, the sample None where the quantity is no batch
    (weights, a bias). Raises as :func:`plot_quantity` does."""
    a = _as_float(array, name)
    kind = _choose_kind(a, name, kind)
    i = _check_sample(sample, a, name, kind)
    chosen, _ = _check_channels(channels, a.shape[-1], a, name)
    return (i if kind == "maps" else None), chosen


def file_name(name: str) -> str:
    """The PNG file name for a quantity: ``conv1.dW`` -> ``conv1.dW.png``.

    Runs of characters other than letters, digits, ``.``, ``_`` and ``-``
    become ``_``; leading dots are dropped (no hidden files, no ``..``).
    """
    stem = _UNSAFE.sub("_", str(name)).lstrip(".") or "quantity"
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem = "_" + stem
    return f"{stem}.png"


def require_matplotlib(where: str = "plot") -> None:
    """Raise ``ConvcliError(where, INSTALL_HINT)`` unless matplotlib can be imported.

    The CLI calls this before reading any data, so a missing extra costs no
    compute and leaves nothing on disk.
    """
    try:
        _matplotlib()
    except ConvcliError:
        raise ConvcliError(where, INSTALL_HINT) from None


# ----------------------------------------------------------------- matplotlib


@dataclass(frozen=True)
class _Mpl:
    Figure: type
    FigureCanvasAgg: type
    Normalize: type
    LogNorm: type
    ListedColormap: type
    ScalarMappable: type
    Rectangle: type
    colormaps: object
    to_rgba: object


def _matplotlib() -> _Mpl:
    """Import the pieces of matplotlib used here, or say how to install it."""
    try:
        from matplotlib import colormaps
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import ListedColormap, LogNorm, Normalize, to_rgba
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle
    except ImportError:
        raise ConvcliError("plot", INSTALL_HINT) from None
    return _Mpl(Figure, FigureCanvasAgg, Normalize, LogNorm, ListedColormap, ScalarMappable, Rectangle, colormaps,
                to_rgba)


# ----------------------------------------------------------------- validation


def _check_path(path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ConvcliError(str(path), "pictures are PNG: give a file name ending in .png")
    if not path.parent.is_dir():
        if path.parent.exists():
            raise ConvcliError(str(path), f"{path.parent} is a file, not a folder")
        raise ConvcliError(str(path), f"folder {path.parent} does not exist")
    _refuse_special(path, path)
    return path


NOT_REGULAR = ("is not a regular file (a device, a FIFO or a socket); a picture is written only to a new file "
               "or over a regular one")


def _refuse_special(path: Path, shown: Path) -> None:
    """Refuse a path that is (or links to) something other than a regular
    file: a PNG renamed over a device or a FIFO replaces it (a review's
    ``plot --force`` through a link to /dev/null made /dev/null a PNG)."""
    try:
        mode = os.stat(path).st_mode  # through a link: what it names
    except OSError:  # nothing there (or a dangling link): a new file
        return
    if stat.S_ISDIR(mode):
        raise ConvcliError(str(shown), "is a folder; give a file name ending in .png")
    if not stat.S_ISREG(mode):
        raise ConvcliError(str(shown), NOT_REGULAR)


def _as_float(array, name: str) -> np.ndarray:
    a = np.asarray(array)
    if a.dtype.kind not in "biuf":
        raise ConvcliError(name, f"cannot draw an array of dtype {a.dtype}")
    if a.size == 0:
        raise ConvcliError(name, f"cannot draw an empty array of shape {_shape(a)}")
    # float16/32 stay as they are (no doubled memory for a big float32 batch)
    return a if a.dtype.kind == "f" else a.astype(np.float64)


def _shape(a: np.ndarray) -> tuple[int, ...]:
    return tuple(int(n) for n in a.shape)


def _leaf(name: str) -> str:
    """The quantity part of a name: ``conv1.dW`` -> ``dW``."""
    return str(name).rsplit(".", 1)[-1]


def check_drawable(shape: tuple[int, ...], name: str, kind: str | None = None) -> str:
    """How :func:`plot_quantity` draws a quantity of ``shape``, or the
    ConvcliError it would raise: from the shape alone, so that the CLI refuses
    (say) a one-number quantity before computing, or before writing out a
    --channels range that no channel axis bounds."""
    return _choose_kind(shape_view(shape), name, kind)


def _choose_kind(a: np.ndarray, name: str, kind: str | None) -> str:
    shape_help = ("expected NHWC maps (m, n_H, n_W, n_C), weights (f_H, f_W, n_C_prev, n_C) "
                  "or a bias (n_C,) / (1, 1, 1, n_C)")
    if kind is not None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if kind == "vector" and (a.ndim == 1 or (a.ndim == 4 and a.shape[:3] == (1, 1, 1))):
            return kind
        if kind != "vector" and a.ndim == 4:
            return kind
        raise ConvcliError(name, f"cannot draw shape {_shape(a)} as {kind}: {shape_help}")
    if a.ndim == 4 and _WEIGHT_NAME.fullmatch(_leaf(name)):
        return "weights"
    if a.ndim == 1 or (a.ndim == 4 and a.shape[:3] == (1, 1, 1)):
        return "vector"
    if a.ndim == 4:
        return "maps"
    raise ConvcliError(name, f"cannot draw shape {_shape(a)}: {shape_help}")


def _integer(value, where: str, what: str) -> int:
    """``value`` as an int (NumPy integers too, never a bool), else a ConvcliError."""
    try:
        if isinstance(value, bool):
            raise TypeError
        return operator.index(value)
    except TypeError:
        raise ConvcliError(where, f"{what} must be an integer, not {value!r}") from None


def _check_sample(sample, a: np.ndarray, name: str, kind: str) -> int:
    if kind != "maps":
        if sample not in (None, 0):
            raise ConvcliError("--sample", f"{name} of shape {_shape(a)} is not a batch: it has no samples")
        return 0
    if sample is None:
        return 0
    i = _integer(sample, "--sample", "sample")
    if not -a.shape[0] <= i < a.shape[0]:  # (-1: the last, as NumPy counts)
        samples = (f"samples 0..{a.shape[0] - 1}, or -{a.shape[0]}..-1 from the end" if a.shape[0]
                   else "it has no samples")
        raise ConvcliError("--sample", f"sample {i} out of range for {name} of shape {_shape(a)} ({samples})")
    return i % a.shape[0]


def _check_channels(channels, n: int, a: np.ndarray, name: str) -> tuple[list[int], str]:
    """The channels to draw and a note for the title."""
    if channels is None:
        if n > MAX_PANELS:
            return list(range(MAX_PANELS)), f"first {MAX_PANELS} of {n} channels"
        return list(range(n)), ""
    if isinstance(channels, (str, bytes)):
        raise ConvcliError("--channels", f"channels must be a list of integers, not {channels!r}")
    chosen = []
    for c in channels:
        k = _integer(c, "--channels", "channel")
        if not 0 <= k < n:
            raise channel_out_of_range(k, name, _shape(a))
        chosen.append(k)
    if not chosen:
        raise ConvcliError("--channels", "no channel given")
    check_channel_count(chosen, n)
    return chosen, f"channel{'s' * (len(chosen) > 1)} {_ranges(chosen)}" if len(chosen) < n else ""


def check_channel_count(chosen: list[int], n: int) -> None:
    """Refuse more channels (panels: a repeat draws one more) than one picture
    can show readably; ``n`` is how many the quantity has."""
    if len(chosen) <= MAX_CHOSEN:
        return
    head = f"{len(chosen)} channels chosen; one picture draws at most {MAX_CHOSEN} (smaller panels cannot be read)"
    if n <= MAX_CHOSEN:  # only repeats take it over
        raise ConvcliError("--channels", f"{head}, and each repeat is one more panel: drop the repeats "
                                         f"({n} channels in all, 0-{n - 1})")
    first = min(chosen[0], n - MAX_CHOSEN)
    raise ConvcliError("--channels", f"{head}: choose fewer, e.g. {first}-{first + MAX_CHOSEN - 1}, "
                                     "and draw the rest in another picture")


def channel_out_of_range(k: int, name: str, shape: tuple[int, ...]) -> ConvcliError:
    """The error for channel ``k`` of a quantity of ``shape`` (channels on the last axis)."""
    return ConvcliError("--channels", f"channel {k} out of range for {name} of shape {tuple(shape)} "
                                      f"(channels 0..{shape[-1] - 1})")


def _ranges(ks: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``0-2,5``."""
    parts, start = [], 0
    for i in range(1, len(ks) + 1):
        if i == len(ks) or ks[i] != ks[i - 1] + 1:
            parts.append(str(ks[start]) if i - start == 1 else f"{ks[start]}-{ks[i - 1]}")
            start = i
    return ",".join(parts)


# ----------------------------------------------------------------- planning
#
# A picture is planned as _Blocks of pure NumPy (validated, laid out, sized),
# then drawn by _render; several blocks stack in one figure.


@dataclass
class _Panel:
    image: np.ndarray  # 2-D scalar image, or (h, w, 3) RGB in [0, 1]
    title: str
    tiles: tuple[int, int, int, int] | None = None  # rows, cols, f_H, f_W of a kernel mosaic
    filled: int = 0  # tiles in use (the last row may be short)
    mark: tuple[int, int] | None = None  # (row, col) pixel to outline
    values: list[tuple[int, int, str]] | None = None  # (row, col, text) written in cells, as the array holds them


@dataclass
class _Block:
    kind: str  # "grid", "bars" or "note"
    title: list[str]
    width: float
    height: float
    panels: list[_Panel] = field(default_factory=list)
    values: np.ndarray | None = None  # bars
    labels: list[int] = field(default_factory=list)  # bars
    cmap: str = UNSIGNED_CMAP
    vmin: float = 0.0
    vmax: float = 1.0
    rgb: bool = False
    colorbar_label: str = ""
    colorbar: bool = True  # none where nothing drawn is finite: its scale would mean nothing
    # |error|: 0 black, the errors that differ from DIFFERENCE_FLOOR's grey up, every non-finite one
    # magenta (elsewhere NaN, +Inf, -Inf each its own colour)
    difference: bool = False
    log: bool = False  # a difference's scale logarithmic, from vmin (its smallest error) to vmax
    indexed: bool = False  # row and column indices on the left and bottom panels
    bar_text: list[str] | None = None  # a value on each bar, as the array holds it
    bar_text_vertical: bool = False  # turned, where it is wider than its bar
    tick: float | None = None  # a map of one value: its colour bar's only tick, at that value


def _digits(low: float, high: float) -> int:
    """Significant digits that tell ``low`` from ``high`` (4, or up to 17:
    a review's map of 1000 + 1e-3 * noise read 'min 1000   max 1000')."""
    for digits in range(4, 18):
        if low == high or f"{low:.{digits}g}" != f"{high:.{digits}g}":
            return digits
    return 17


def _stats(a: np.ndarray) -> str:
    # summary.json's statistics (convcli.stats): the mean of finite 1e308s is finite there, not inf
    values = describe(a)
    k = _digits(values["min"], values["max"]) if all(np.isfinite([values["min"], values["max"]])) else 4
    return (f"mean {values['mean']:.{k}g}   std {values['std']:.4g}   min {values['min']:.{k}g}   "
            f"max {values['max']:.{k}g}")


def _range(values: np.ndarray, finite_word: bool = False) -> str:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return "no finite value"
    low, high = float(finite.min()), float(finite.max())
    k = _digits(low, high)
    return f"{'finite ' * finite_word}min {low:.{k}g}   max {high:.{k}g}"


def _non_finite(x: np.ndarray) -> tuple[int, int, int]:
    n_nan, n_pos = int(np.isnan(x).sum()), int(np.isposinf(x).sum())
    return n_nan, n_pos, int(np.isneginf(x).sum())


def _value_lines(a: np.ndarray, shown: np.ndarray, drawn: str | None) -> list[str]:
    """The title's lines on the values: the whole array's statistics (as
    summary.json gives them); where fewer elements are drawn (one sample of
    several, some channels), the range of those, which the colour scale
    spans; the non-finite values drawn, by colour (and the whole array's,
    where it holds others), with the finite range; a constant array said so
    (its picture is one flat colour)."""
    lines = [("whole array: " if drawn else "") + _stats(a)]
    if drawn:
        lines.append(f"drawn ({drawn}): {_range(shown)}")
    if not np.isfinite(a).all():
        here, whole = _non_finite(shown), _non_finite(a)
        named = [(n, what, colour) for n, what, colour in zip(here, ("NaN", "+Inf", "-Inf"), ("magenta", "amber", "green"))
                 if n]
        line = ("drawn in colour: " + ", ".join(f"{n} {what} {colour}" for n, what, colour in named)
                if named else "no NaN or Inf drawn")
        if drawn:  # the statistics above read nan: the whole array's finite range, and its counts if others
            counts = [f"{n} {what}" for n, what in zip(whole, ("NaN", "+Inf", "-Inf")) if n] if here != whole else []
            line += "; whole array: " + ", ".join(counts + [_range(a, finite_word=True)])
        else:
            line += f";   {_range(a, finite_word=True)}"
        lines.append(line)
    elif a.size > 1 and bool((a == a.flat[0]).all()):
        lines.append(f"constant: every element {a.flat[0]:.4g}")
    return lines


def _within(image: np.ndarray, difference: bool) -> np.ndarray | None:
    """A difference's cells drawn black (nothing differs there beyond the
    tolerance), which get no number: a review found errors of 3e-9 written
    "0" in them; else None."""
    return image == 0 if difference else None


def _cell_values(image: np.ndarray, cell_px: float, skip: np.ndarray | None = None) -> list | None:
    """``(row, col, text)`` for each element of a panel of at most
    CELL_VALUES, or None where one of them would not fit its cell (a
    review: 17 channels of 4x4 ran their numbers together)."""
    if image.size > 4 * CELL_VALUES:
        return None
    at = [(r, c) for (r, c), _ in np.ndenumerate(image) if skip is None or not skip[r, c]]
    if len(at) > CELL_VALUES:
        return None
    values = [image[r, c] for r, c in at]
    # as many digits as tell the values apart, where they fit; else none (a review: 4 digits, where 8 did not fit,
    # wrote "1" in every cell of values 1 to 1.0000002 drawn black to white)
    digits = _telling_digits(values)
    if digits is None:
        return None
    cells = [(r, c, _value_text(v, digits)) for (r, c), v in zip(at, values)]
    widest = max((_text_px(t) for _, _, t in cells), default=0.0)
    return cells if widest + VALUE_MARGIN_PX <= cell_px and cell_px >= 14 else None


def _text_px(text: str) -> float:
    """The width of a value's text as written in its cell (VALUE_CHAR_PX_OF)."""
    return sum(VALUE_CHAR_PX_OF.get(ch, VALUE_CHAR_PX) for ch in text)


def _telling_digits(values, most: int = 8, visible: float = VISIBLE_STEP) -> int | None:
    """The fewest significant digits, 4 to ``most``, whose texts tell apart
    the finite ``values`` whose colours differ (a review: 300000 and 300001
    were both written 3e+05 in their cells, while the title said min
    300000, max 300001; they are the two ends of the colour scale); None
    where ``most`` do not. Values closer than ``visible`` of their span
    look alike and need not be told apart (a code review: 0.1 + 0.2 beside
    0.3, 5 and 3 left a panel with no numbers); a bar's text is its only
    reading, and tells every value apart (0)."""
    distinct = sorted({float(v) for v in values if np.isfinite(v)})
    step = (distinct[-1] - distinct[0]) * visible if distinct else 0.0
    apart = [(a, b) for k, a in enumerate(distinct) for b in distinct[k + 1:] if b - a > step]
    for digits in range(4, most + 1):
        if all(f"{a:.{digits}g}" != f"{b:.{digits}g}" for a, b in apart):
            return digits
    return None


def _signed(a: np.ndarray, name: str) -> bool:
    return bool(_GRADIENT_NAME.match(_leaf(name))) or bool((a < 0).any())


def _limits(a: np.ndarray, signed: bool) -> tuple[float, float]:
    finite = a[np.isfinite(a)]
    if signed:
        m = float(np.abs(finite).max()) if finite.size else 0.0
        return (-m, m) if m > 0 else (-1.0, 1.0)
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi > lo:
        return lo, hi
    if lo == 0:  # no activation at all: black, as where other maps are drawn beside it (a review: mid-grey)
        return 0.0, 1.0
    # a constant, drawn mid-scale: +-0.5 around it, or a millionth of it where 0.5 rounds away (above
    # ~1e16 the scale had collapsed to one value, its cells black under a colour bar that put it
    # mid-scale: a review), on one side only at float64's edge
    d = max(0.5, abs(lo) * 1e-6)
    below, above = lo - d, hi + d
    if not math.isfinite(above):
        below, above = lo - 2 * d, hi
    elif not math.isfinite(below):
        below, above = lo, hi + 2 * d
    return below, above


def _quarter(x: float) -> float:
    """Round to a multiple of 1/4 inch (exact in binary: the PNG size is exact)."""
    return max(0.25, round(x * 4) / 4)


def _panel_size(n_panels: int, image_shape: tuple[int, ...]) -> tuple[int, float, float]:
    """``(cols, panel, panel_h)``: panels a row, a panel's width and height
    in inches (one panel alone 3, up to 4 a row 2, else 1.5; the height by
    the image's aspect, clamped to [0.5, 2] times the width)."""
    cols = math.ceil(math.sqrt(n_panels))
    panel = 3.0 if n_panels == 1 else 2.0 if cols <= 4 else 1.5
    aspect = min(max(image_shape[0] / image_shape[1], 0.5), 2.0)
    return cols, panel, _quarter(panel * aspect)


def _grid_size(n_panels: int, image_shape: tuple[int, ...], title_lines: int) -> tuple[float, float, int]:
    cols, panel, panel_h = _panel_size(n_panels, image_shape)
    rows = math.ceil(n_panels / cols)
    width = max(MIN_WIDTH, cols * panel + COLORBAR_WIDTH)
    height = 0.25 * (title_lines + 1) + rows * (panel_h + PANEL_TITLE)
    return width, height, cols


def _mosaic(kernels: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """(f_H, f_W, k) kernels -> one image of ceil(sqrt(k)) tiles a row."""
    f_H, f_W, k = kernels.shape
    cols = math.ceil(math.sqrt(k))
    rows = math.ceil(k / cols)
    image = np.full((rows * f_H, cols * f_W), np.nan)
    for i in range(k):
        r, c = divmod(i, cols)
        image[r * f_H:(r + 1) * f_H, c * f_W:(c + 1) * f_W] = kernels[:, :, i]
    return image, (rows, cols, f_H, f_W)


def _fit(lines: list[str], width: float) -> list[str]:
    """Title lines wrapped to a figure ``width`` inches wide (the longest
    ones, the tolerance and the samples that differ, ran off a 6-inch
    picture's edges)."""
    chars = max(20, int(width * DPI / TITLE_CHAR_PX))
    # (not at a hyphen: '--each-layer' was cut in two, a review)
    return [part for line in lines
            for part in (textwrap.wrap(line, chars, subsequent_indent="  ", break_on_hyphens=False) or [line])]


def _all_zero(panel: np.ndarray, difference: bool) -> str:
    """' (all 0)' for a panel title whose map or kernels are exactly 0 (a
    dead channel looked like a faint one on a signed scale, white either
    way: a review); '' otherwise, and in a difference (black says it)."""
    return " (all 0)" if not difference and panel.size and not np.any(panel) else ""


def _percent(share: float) -> str:
    """``0.75`` -> ``'75%'``; ``'over 99%'`` for a share that rounds to a
    whole it is not."""
    text = f"{share * 100:.0f}%"
    return "over 99%" if text == "100%" and share < 1 else text


def _mean(image: np.ndarray) -> float:
    """The finite elements' mean, taken scaled: finite 1e308s overflowed
    to inf, every element then as far from it as any other."""
    finite = image[np.isfinite(image)]
    if not finite.size:
        return 0.0
    scale = float(np.abs(finite).max()) or 1.0
    return float((finite / scale).mean()) * scale


def _stretched(h: int, w: int) -> bool:
    """Whether a map of h x w is drawn stretched to its panel's shape (more
    than MAX_ASPECT times as wide as high, or as high as wide)."""
    return max(h / w, w / h) > MAX_ASPECT


def _reduced(image: np.ndarray, most: tuple[int, int], centre: float = 0.0,
             each_axis: bool = False) -> tuple[np.ndarray, tuple[int, int]]:
    """``image`` at most ``most`` = (rows, columns) pixels: ``(image, (kh,
    kw))``, each pixel of the result the element farthest from ``centre``
    (a NaN first, then an infinity) of a kh x kw block: of largest magnitude
    for the default 0; (1, 1) leaves it as it is. kh = kw (the map keeps its
    shape), unless ``each_axis`` (a map stretched to its panel: a 3 x 400
    map's 3 rows were merged into 2 as its columns were halved). Blocks at
    the edge are completed with ``centre``, which never wins over another
    element."""
    h, w = image.shape
    kh, kw = math.ceil(h / most[0]), math.ceil(w / most[1])
    if not each_axis:
        kh = kw = max(kh, kw)
    kh, kw = max(kh, 1), max(kw, 1)
    if kh == kw == 1:
        return image, (1, 1)
    H, W = -(-h // kh) * kh, -(-w // kw) * kw
    padded = np.full((H, W), centre, dtype=image.dtype)
    padded[:h, :w] = image
    blocks = padded.reshape(H // kh, kh, W // kw, kw).transpose(0, 2, 1, 3).reshape(H // kh, W // kw, kh * kw)
    finite = np.isfinite(blocks)
    scale = float(np.abs(blocks[finite]).max()) if finite.any() else 1.0
    with np.errstate(over="ignore", invalid="ignore"):  # scaled: +-1.5e308 less a centre is within range
        size = np.abs(blocks / (scale or 1.0) - centre / (scale or 1.0))
    # Above every distance (at most 2, scaled): an infinity, and above it a
    # NaN, so a block's NaN shows whatever else it holds.
    size[np.isinf(blocks)] = 4.0
    size[np.isnan(blocks)] = 8.0
    pick = np.argmax(size, axis=-1)[..., None]
    return np.take_along_axis(blocks, pick, axis=-1)[..., 0], (kh, kw)


def _quantity_block(a: np.ndarray, name: str, sample, channels, kind, *, difference: bool = False,
                    title: list[str] | None = None, mark: tuple[int, ...] | None = None) -> _Block:
    """Plan one quantity. With ``difference``, ``a`` is |yours - reference|."""
    kind = _choose_kind(a, name, kind)
    i = _check_sample(sample, a, name, kind)
    n = a.shape[-1]
    chosen, note = _check_channels(channels, n, a, name)
    signed = not difference and _signed(a, name)
    cmap = SIGNED_CMAP if signed else UNSIGNED_CMAP
    head = f"{name}   {_shape(a)}" + ("" if difference else f" {a.dtype}")
    if difference:
        head = f"|yours \N{MINUS SIGN} convcli's|   {head}"
    some = f"{'channel' if kind != 'weights' else 'out channel'}{'s' * (len(chosen) > 1)} {_ranges(chosen)}"
    if kind == "maps":
        shown = a[i][..., chosen]
        drawn = ", ".join(([f"sample {i}"] if a.shape[0] > 1 else []) + ([some] if len(chosen) < n else []))
    else:
        shown = a.reshape(-1)[chosen] if kind == "vector" else a[..., chosen]
        drawn = some if len(chosen) < n else ""
    if title is None:
        title = _value_lines(a, shown, drawn or None)
    # (a difference's scale needs a finite error that is not 0 among those drawn: where only NaN or
    # infinities differ there, a bar of 0..1 meant nothing, a review)
    finite = bool((np.isfinite(shown) & (shown != 0)).any()) if difference else bool(np.isfinite(shown).any())

    if kind == "vector":
        vmin, vmax, log = _difference_scale(shown) if difference else (*_limits(shown, signed), False)
        width = min(max(_quarter(2 + 0.25 * len(chosen)), MIN_WIDTH), MAX_BAR_WIDTH)
        lines = _fit([head + (f"   ({note})" if note else "")] + title, width)
        # (a difference's bars within tolerance are 0 and get no text: a review found errors of 3e-9 written 0)
        # (bars of values 8 digits cannot tell apart are alike: 8)
        digits = (_telling_digits(shown, visible=0.0) or 8) if len(chosen) <= CELL_VALUES else None
        text = ([("" if difference and v == 0 else _value_text(v, digits)) for v in shown]
                if digits is not None else None)
        bar_px = PANEL_FILL * width * DPI / len(chosen) * 0.8  # matplotlib's bars: 0.8 of a slot
        vertical = bool(text) and max(map(_text_px, text)) + VALUE_MARGIN_PX > bar_px
        return _Block(kind="bars", title=lines, width=width, height=0.25 * (len(lines) + 1) + BAR_HEIGHT,
                      values=shown, labels=chosen, cmap=cmap, vmin=vmin, vmax=vmax,
                      colorbar_label="|error|" if difference else name, bar_text=text, bar_text_vertical=vertical,
                      difference=difference, log=log)

    panels: list[_Panel] = []
    rgb = False
    reduced = None
    indexed = False
    if kind == "maps":
        head += f"   sample {i}"
        _, panel_w, panel_h = _panel_size(len(chosen), a.shape[1:3])
        fill = _panel_fill(len(chosen), difference, square=a.shape[1] == a.shape[2])
        most = (math.floor(fill * panel_h * DPI), math.floor(fill * panel_w * DPI))
        h, w = a.shape[1:3]
        stretched = _stretched(h, w)
        cell_px = (most[1] / w) if stretched else min(most[0] / h, most[1] / w)
        for c in chosen:
            # A map's extremes both ways (an error's: the largest): a dark line
            # on a bright image vanished when the largest in size was kept.
            image, (kh, kw) = _reduced(a[i, :, :, c], most, 0.0 if difference else _mean(a[i, :, :, c]),
                                       each_axis=stretched)
            at = mark[1:3] if mark is not None and mark[0] == i and mark[3] == c else None
            panels.append(_Panel(image, f"channel {c}{_all_zero(a[i, :, :, c], difference)}",
                                 mark=None if at is None else (at[0] // kh, at[1] // kw),
                                 values=_cell_values(image, cell_px, skip=_within(image, difference))))
        if (kh, kw) != (1, 1):
            by = f"1/{kh}" if kh == kw else f"1/{kh} x 1/{kw}"
            reduced = (f"shown at {by}: each {kh}x{kw} block's largest error" if difference
                       else f"shown at {by}: each {kh}x{kw} block's element farthest from the map's mean")
            zeros = float(np.mean(a[i][..., chosen] == 0)) if not difference else 0.0
            if zeros >= 0.1:  # (a review: a max pool's gradient, 3 in 4 zeros, looked dense at 1/2)
                reduced += f"; {_percent(zeros)} of the elements are 0"
        indexed = (kh, kw) == (1, 1) and max(a.shape[1:3]) <= INDEXED
        colorbar_label = f"|error|, sample {i}" if difference else f"{name}, sample {i}"
    else:
        f_H, f_W, n_prev, _ = a.shape
        # A gradient's sign is what matters: its kernels are mosaics in the signed map, never colours.
        rgb = (n_prev == 3 and not difference and not _GRADIENT_NAME.match(_leaf(name))
               and bool(np.isfinite(shown).all()))
        if rgb:
            head += "   RGB = input channels 0, 1, 2"
            m = float(np.abs(shown).max()) or 1.0
            for c in chosen:
                # (a / m first: 2 * m of a 1e308 overflowed, and every colour came out grey)
                panels.append(_Panel(np.clip(a[..., c] / m * 0.5 + 0.5, 0.0, 1.0),
                                     f"out channel {c}{_all_zero(a[..., c], difference)}"))
            vmin, vmax = -m, m
            cmap = UNSIGNED_CMAP
            colorbar_label = "each of R, G, B"
        else:
            head += ("   one input channel" if n_prev == 1 else
                     f"   tiles: {n_prev} input channels, {math.ceil(math.sqrt(n_prev))} a row, row-major")
            for c in chosen:
                image, tiles = _mosaic(a[..., c])
                at = None
                if mark is not None and mark[3] == c:
                    r, col = divmod(mark[2], tiles[1])
                    at = (r * f_H + mark[0], col * f_W + mark[1])
                panel = _Panel(image, f"out channel {c}{_all_zero(a[..., c], difference)}", tiles=tiles,
                               filled=n_prev, mark=at)
                _, panel_w, panel_h = _panel_size(len(chosen), image.shape)
                fit = _panel_fill(len(chosen), difference, square=image.shape[0] == image.shape[1]) * DPI * min(
                    panel_h / image.shape[0], panel_w / image.shape[1])
                within = _within(image, difference)
                panel.values = _cell_values(image, fit, skip=_empty_tiles(panel) | (False if within is None else within))
                panels.append(panel)
            colorbar_label = "|error|" if difference else name
    log = False
    if difference:
        vmin, vmax, log = _difference_scale(shown)
    elif not rgb:
        vmin, vmax = _limits(shown, signed)
    tick = None
    if not difference and not rgb and not signed:
        drawn = shown[np.isfinite(shown)]
        if drawn.size and drawn.min() == drawn.max():  # one value: one tick (a large one's scale
            tick = float(drawn.min())  # is too narrow for matplotlib's, which wrote an offset)
    if note:
        head += f"   ({note})"
    lines = [head] + ([reduced] if reduced else []) + title
    width, _, _ = _grid_size(len(panels), panels[0].image.shape, len(lines))
    lines = _fit(lines, width)  # (the width does not depend on the lines; the height does)
    _, height, _ = _grid_size(len(panels), panels[0].image.shape, len(lines))
    return _Block(kind="grid", title=lines, width=width, height=height, panels=panels,
                  cmap=cmap, vmin=vmin, vmax=vmax, rgb=rgb, colorbar_label=colorbar_label,
                  colorbar=finite or rgb, indexed=indexed, difference=difference, log=log, tick=tick)


def _difference_scale(errors: np.ndarray) -> tuple[float, float, bool]:
    """``(vmin, vmax, log)`` of a difference's colour scale: from 0 to its
    largest finite error, or logarithmic from its smallest non-zero one
    where they span more than LOG_SPAN times."""
    differ = errors[np.isfinite(errors) & (errors > 0)]
    if differ.size and differ.max() > LOG_SPAN * differ.min():
        return float(differ.min()), float(differ.max()), True
    if differ.size:  # the largest error white, also where every one is alike (a review: 0..1.5, grey)
        return 0.0, float(differ.max()), False
    return 0.0, _limits(errors, False)[1], False


def _difference_arrays(yours, reference, name: str) -> tuple[np.ndarray, np.ndarray]:
    # in float64, as check.compare: the same elements differ in the picture and the table
    y = _as_float(yours, name).astype(np.float64, copy=False)
    r = _as_float(reference, name).astype(np.float64, copy=False)
    if y.shape != r.shape:
        raise ConvcliError(name, f"shape {_shape(y)} differs from the reference's {_shape(r)}")
    return y, r


def _same(y: np.ndarray, r: np.ndarray) -> np.ndarray:
    """NaN against NaN, an infinity against itself: equal, as check.compare says."""
    return (np.isnan(y) & np.isnan(r)) | (np.isinf(y) & (y == r))


def _excess(y: np.ndarray, r: np.ndarray, rtol: float, atol, differs: np.ndarray, samples=None) -> np.ndarray:
    """Per sample (axis 0) of ``samples`` (default: all), the largest error
    of the elements that differ, in tolerances (``|y - r| / (atol +
    rtol*|r|)``, comparable across quantities; as it is where the tolerance
    is 0; inf for a non-finite one), 0 where none differs. A sample at a
    time (a review: 3-4 s of whole-array temporaries for 51M elements)."""
    samples = range(len(r)) if samples is None else samples
    out = np.zeros(len(samples))
    for k, n in enumerate(samples):
        d = differs[n]
        if not d.any():
            continue
        a = atol[n][d] if np.ndim(atol) else atol
        with np.errstate(all="ignore"):
            rn = r[n][d]
            error, tol = np.abs(y[n][d] - rn), a + rtol * np.abs(rn)
            each = np.where(tol > 0, error / np.where(tol > 0, tol, 1.0), error)
        out[k] = np.nan_to_num(each, nan=np.inf).max()
    return out


def _busiest(counts: np.ndarray, excess: Callable[[list[int]], np.ndarray]) -> int:
    """The sample with the most elements that differ, and of those, the one
    whose worst is the farthest out (a review: a tie went to the first
    sample, drawing an error of 1e-3 where another sample held one of 5):
    ``excess(samples)`` asked of those tied only."""
    most = np.flatnonzero(counts == counts.max())
    return int(most[0]) if len(most) == 1 else int(most[np.argmax(excess(most.tolist()))])


# _differs and _difference_block's errors go over about this many elements at a time (whole samples, or a
# sample's rows): their temporaries stay small where a whole 224x224x64 batch's took gigabytes.
DIFF_CHUNK_ELEMENTS = 1 << 21


def _differs(y: np.ndarray, r: np.ndarray, rtol: float, atol) -> np.ndarray:
    """Beyond ``atol + rtol*|r|``, with check.compare's rules for non-finite
    values: an infinite reference matches only itself. In chunks along the
    first axis (DIFF_CHUNK_ELEMENTS)."""
    out = np.empty(r.shape, dtype=bool)
    for part in _chunks(r):
        a = atol[part] if np.ndim(atol) else atol
        yp, rp = y[part], r[part]
        with np.errstate(all="ignore"):
            within = np.isfinite(rp) & (np.abs(yp - rp) <= a + rtol * np.abs(rp))
        np.logical_not(within | _same(yp, rp), out=out[part])
    return out


def _chunks(r: np.ndarray) -> list:
    """Slices of ``r``'s first axis of about DIFF_CHUNK_ELEMENTS elements each."""
    if r.ndim == 0:
        return [...]
    step = max(1, DIFF_CHUNK_ELEMENTS // max(1, r[0].size))
    return [slice(k, k + step) for k in range(0, len(r), step)]


def _drawn_magenta(mask: np.ndarray, sample: int | None, channels) -> str:
    """Where the elements of ``mask`` are drawn: all of them ("drawn
    magenta"), or those in the drawn ``sample`` (of a batch's maps) and
    ``channels`` (None: all), the others named (a review: the title said
    "drawn magenta" of a NaN in another sample, then of one in a channel
    past the 64 drawn, and no pixel was)."""
    inside = mask if sample is None else mask[sample]
    chans = range(mask.shape[-1]) if channels is None else sorted(set(channels))
    mine = int(inside[..., list(chans)].sum())
    if mine == int(mask.sum()):
        return "drawn magenta"
    where = []
    if sample is not None:
        per = mask.reshape(mask.shape[0], -1).sum(axis=1)
        others = [int(n) for n in np.flatnonzero(per) if n != sample]
        where += [f"sample {n}" for n in others[:SAMPLES_LISTED]] + (["..."] if len(others) > SAMPLES_LISTED else [])
    hidden = [int(c) for c in np.flatnonzero(inside.reshape(-1, mask.shape[-1]).any(axis=0)) if c not in chans]
    if hidden:
        of = f" of sample {sample}" if sample is not None else ""
        where.append(f"channel{'s' * (len(hidden) > 1)} {_ranges(hidden)}{of}")
    if not mine:
        return f"in {', '.join(where)}: not drawn (magenta where drawn)"
    return f"{mine} of them drawn, magenta; the others in {', '.join(where)}, not drawn"


def _difference_block(yours, reference, name, sample, channels, kind, rtol, atol,
                      extra: Sequence[str] = (), most: int = MAX_PANELS, why_most: str = "",
                      differs: np.ndarray | None = None) -> _Block:
    """The block of |yours - reference|; where the caller chooses no
    channels and there are more than ``most``, up to ``most`` of those that
    differ (``why_most``, if any, saying why so few in the title).
    ``differs``: :func:`_differs` of the two, where the caller has it."""
    y, r = _difference_arrays(yours, reference, name)
    error = np.empty(r.shape)
    for part in _chunks(r):  # (in chunks: a whole batch's temporaries took gigabytes, a review)
        with np.errstate(all="ignore"):
            np.subtract(y[part], r[part], out=error[part])
            np.abs(error[part], out=error[part])
            error[part][_same(y[part], r[part])] = 0.0
    differs = _differs(y, r, rtol, atol) if differs is None else differs
    count = int(differs.sum())
    kind = _choose_kind(r, name, kind)
    first = mark = None
    title_more = ""
    if count:
        first = tuple(int(k) for k in np.unravel_index(int(np.argmax(differs)), r.shape))  # (the first True)
        mark = first
        if kind == "maps" and sample is not None:
            sample = _check_sample(sample, r, name, kind)
        if kind == "maps" and sample is None:  # the sample with the most (a review: the first had 1 of 65)
            sample = _busiest(differs.reshape(differs.shape[0], -1).sum(axis=1),
                              lambda tied: _excess(y, r, rtol, atol, differs, tied))
        if kind == "maps":  # marked at the drawn sample's first difference (none: no mark)
            at = int(np.argmax(differs[sample]))  # (its first True, if any)
            mark = ((sample, *(int(k) for k in np.unravel_index(at, r.shape[1:])))
                    if differs[sample].flat[at] else None)
        if channels is None and r.shape[-1] > most:  # those that differ (a review: 90 of 128 not drawn)
            within = differs[sample] if kind == "maps" else differs
            which = np.flatnonzero(within.reshape(-1, r.shape[-1]).any(axis=0)).tolist()
            # those with a NaN or an infinity first, drawn magenta (a review: one past the 64 drawn)
            errs = error[sample] if kind == "maps" else error
            bad = set(np.flatnonzero((within & ~np.isfinite(errs)).reshape(-1, r.shape[-1]).any(axis=0)).tolist())
            channels = sorted(([c for c in which if c in bad] + [c for c in which if c not in bad])[:most]) \
                or None  # (a sample given that holds none: the first 64)
            if channels is not None and mark is not None and mark[-1] not in channels:  # the marked one among them
                channels = sorted(channels[:-1] + [mark[-1]])
            if len(which) > most:
                title_more = f"{most} of the {len(which)} channels that differ drawn" + (
                    f" ({why_most})" if why_most else "")
    n_finite, finite_max = 0, -np.inf
    for part in _chunks(r):
        ok = np.isfinite(error[part])
        n_finite += int(np.count_nonzero(ok))
        if ok.any():
            finite_max = max(finite_max, float(np.max(error[part], where=ok, initial=-np.inf)))
    # two finite numbers whose |difference| passes float64's largest (1e308 against -1e308): an
    # error too large to hold, not a NaN or an infinity on one side (as the title said before)
    n_over = int(np.count_nonzero(np.isinf(error) & np.isfinite(y) & np.isfinite(r))) if n_finite < error.size else 0
    n_bad = error.size - n_finite - n_over  # NaN or an infinity on one side only: no number measures it
    largest = (f"max |error| above {np.finfo(np.float64).max:.4g}" if n_over
               else f"max {'finite ' if n_bad else ''}|error| {finite_max:.4g}" if n_finite
               else "no finite |error|")
    shown_atol = float(np.max(atol))  # (each element's own, where float32's allowance is: the largest said)
    tolerance = (f"   (rtol {rtol:g}, atol {'up to ' * bool(np.ndim(atol))}{shown_atol:g}; the errors within "
                 "them drawn black)" if rtol or shown_atol else "")
    # a large map's mark is a ring (_draw_grid: a pixel is too small to outline; a review: "boxed" over a ring)
    marked = "ringed" if kind == "maps" and max(r.shape[1:3]) > MARK_RING_ABOVE else "boxed"
    boxed = (f"; {marked}: {list(mark)} (sample {mark[0]}'s first)"
             if first and mark is not None and kind == "maps" and tuple(mark) != first
             and (channels is None or mark[-1] in channels) else "")  # (a box drawn: its channel is)
    title = [f"{largest}   first difference at {list(first) if first else 'none'}{boxed}",
             f"{count} of {error.size} elements differ{tolerance}"]
    if title_more:
        title.append(title_more)
    over = np.isinf(error) & np.isfinite(y) & np.isfinite(r) if n_over or n_bad else None
    if n_bad:
        title.append(f"{n_bad} element{'s' * (n_bad > 1)} NaN or Inf on one side only, "
                     + _drawn_magenta(~np.isfinite(error) & ~over, sample if kind == "maps" else None, channels))
    if n_over:
        title.append(f"{n_over} |error|{'s' * (n_over > 1)} past float64's range (both sides finite), "
                     + _drawn_magenta(over, sample if kind == "maps" else None, channels))
    if kind == "maps" and count:
        per = differs.reshape(differs.shape[0], -1).sum(axis=1)
        where = np.flatnonzero(per)
        if len(where) > 1:
            listed = ", ".join(f"sample {int(n)}: {int(per[n])}" for n in where[:SAMPLES_LISTED])
            more = f", ... ({len(where)} samples)" if len(where) > SAMPLES_LISTED else ""
            mine = error[sample][differs[sample] & np.isfinite(error[sample])]
            at_most = f" (its max |error| {mine.max():.4g})" if mine.size else ""
            title.append(f"elements that differ, {listed}{more}; drawn: sample {sample}{at_most}")
    title += extra
    mark = mark if kind != "vector" else None
    # Only the elements that differ light up: a float32 submission's rounding, within
    # tolerance everywhere but a few elements, looked like noise all over.
    np.copyto(error, 0.0, where=~differs)  # (in place: what is drawn)
    return _quantity_block(error, name, sample, channels, kind, difference=True, title=title, mark=mark)


# ----------------------------------------------------------------- drawing


def _render(mpl: _Mpl, make, path: Path, shown: Path | None = None, overwrite: bool = True) -> None:
    """Lay out the blocks ``make()`` plans, and save them as ``path``;
    where a map's panel came out with fewer pixels than the map it shows
    has elements (matplotlib would drop some), plan them again at the
    shares that panel got (_FILL_SCALE), up to RENDER_TRIES times."""
    scale, renders, planned, fig = 1.0, 0, None, None
    for _ in range(PLANS):
        token = _FILL_SCALE.set(scale)
        try:
            blocks = make()
        finally:
            _FILL_SCALE.reset(token)
        shapes = [panel.image.shape for block in blocks for panel in block.panels]
        if fig is not None and shapes == planned:  # the same images: less room still, no render
            scale *= ROOM_MARGIN
            continue
        fig, maps = _figure(mpl, blocks)
        planned, renders = shapes, renders + 1
        room = _room(fig, maps)
        if room >= 1.0 or renders == RENDER_TRIES:
            break
        scale *= room * ROOM_MARGIN
    _save(fig, path, shown, overwrite)


# A panel planned again gets this much less than it was measured to lack
# (a smaller image shrinks its tick labels' and title's room too, not the
# panel's), and again by as much where that plans the same images (a
# review: a 214-row map measured at 0.996 of a pixel a row was planned
# whole three times more). At most PLANS plans, RENDER_TRIES of them laid out.
ROOM_MARGIN = 0.98
PLANS = 16


# Maps within this share of their panel's nominal pixels both ways fit
# whatever the layout (the least share measured is 0.76: PANEL_FILLS): the
# layout is not run for them (64 panels: +0.8 s a picture).
SURE_FILL = 0.6


def _room(fig, maps: list) -> float:
    """The fewest pixels an element of any map gets along either axis, once
    ``fig`` is laid out (its constrained layout run, nothing rendered); 1 or
    more: none dropped. ``maps``: (axes, rows, columns, nominal panel
    height and width in pixels), rows and columns the units the axes show
    (an aspect-equal image's scale the lesser of the two, as matplotlib
    fits it; a stretched one's each axis's own)."""
    if all(rows <= SURE_FILL * ph and cols <= SURE_FILL * pw for _, rows, cols, ph, pw in maps):
        return math.inf
    fig.get_layout_engine().execute(fig)
    room = math.inf
    for ax, rows, cols, _, _ in maps:
        box = ax.get_window_extent()
        room = min(room, box.width / cols, box.height / rows)
    return room


def _figure(mpl: _Mpl, blocks: list[_Block]):
    """The figure of ``blocks``, and its maps' axes (see :func:`_room`)."""
    width = max(b.width for b in blocks)
    height = sum(b.height for b in blocks)
    fig = mpl.Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    mpl.FigureCanvasAgg(fig)
    if len(blocks) == 1:
        containers = [fig]
    else:
        containers = list(np.ravel(fig.subfigures(len(blocks), 1, height_ratios=[b.height for b in blocks])))
    maps: list = []
    for container, block in zip(containers, blocks):
        block = _in_range(block)
        if len(blocks) > 1 and block.kind != "note" and block.width < width:
            # its own width, at the left (a review: a block of 3 panels under one of 64 was spread across
            # the figure's width, its colour bar 800 px from its maps)
            container = container.subfigures(1, 2, width_ratios=[block.width, width - block.width])[0]
        if block.kind == "note":
            container.text(0.5, 0.5, "\n".join(block.title), ha="center", va="center", fontsize=11)
            continue
        container.suptitle("\n".join(block.title), fontsize=11)
        if block.kind == "grid":
            _draw_grid(mpl, container, block, maps)
        elif block.kind == "bars":
            _draw_bars(mpl, container, block)
    return fig, maps


# Past this magnitude matplotlib's colour scale and ticks overflow (vmax -
# vmin of +-1e308 is inf): values are drawn divided by a power of ten. Below
# the smallest, matplotlib takes the limits for singular and draws +-0.05
# (from ~2e-287 down): multiplied by a power of ten then.
LARGEST_DRAWN = 1e300
SMALLEST_DRAWN = 1e-280


def _in_range(block: _Block) -> _Block:
    """``block`` with values near float64's limits (huge, or tiny and not
    zero) drawn as multiples of a power of ten, which the colour bar's label
    (or the bars' axis) names."""
    if block.kind == "note":
        return block
    top = max(abs(block.vmin), abs(block.vmax))
    if block.kind == "bars" and block.values is not None and np.isfinite(block.values).any():
        top = max(top, float(np.abs(block.values[np.isfinite(block.values)]).max()))
    if not (top > LARGEST_DRAWN or 0 < top < SMALLEST_DRAWN):
        return block
    k = int(math.floor(math.log10(top)))

    def down(x):  # x / 10**k, in two steps where 10**k is below float64's range (5e-324: 1e-324 is 0)
        return x / 10.0 ** k if k >= -300 else x * 1e300 * 10.0 ** (-k - 300)

    # an RGB block's images are colours already (0..1): only its colour bar's range is scaled (a
    # review: its -m..m of 1e308 overflowed matplotlib's axis, exit 3)
    return dataclasses.replace(
        block, vmin=down(block.vmin), vmax=down(block.vmax),
        panels=block.panels if block.rgb else [dataclasses.replace(panel, image=down(panel.image))
                                               for panel in block.panels],
        values=None if block.values is None else down(block.values),
        tick=None if block.tick is None else down(block.tick),
        colorbar_label=f"{block.colorbar_label} (x 1e{k})".strip(),
    )


def _colour_scale(mpl: _Mpl, block: _Block):
    """``(norm, cmap)`` of a block; a difference's cmap starts at
    DIFFERENCE_FLOOR's grey (its zeros are painted black after it)."""
    cmap = mpl.colormaps[block.cmap]
    if not block.difference:
        return mpl.Normalize(block.vmin, block.vmax), cmap.with_extremes(bad=BAD_COLOR)
    cmap = mpl.ListedColormap(cmap(np.linspace(DIFFERENCE_FLOOR, 1.0, 256)), name="difference")
    norm = mpl.LogNorm(block.vmin, block.vmax) if block.log else mpl.Normalize(block.vmin, block.vmax)
    return norm, cmap.with_extremes(bad=BAD_COLOR, under="black")  # under: the colour bar's "no difference"


def _draw_grid(mpl: _Mpl, container, block: _Block, maps: list | None = None) -> None:
    """Draw a grid block's panels; each map's axes (reducible: no kernel
    mosaic, no RGB) go into ``maps`` as :func:`_room` measures them."""
    norm, cmap = _colour_scale(mpl, block)
    _, _, cols = _grid_size(len(block.panels), block.panels[0].image.shape, len(block.title))
    _, panel_w, panel_h = _panel_size(len(block.panels), block.panels[0].image.shape)
    rows = math.ceil(len(block.panels) / cols)
    axes = container.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[len(block.panels):]:
        ax.set_axis_off()
    used = list(axes.flat[:len(block.panels)])
    for p, (ax, panel) in enumerate(zip(used, block.panels)):
        if block.rgb:
            rgba = panel.image
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                rgba = cmap(norm(np.ma.masked_invalid(panel.image)))
            if block.difference:  # nothing differs there (a log scale had masked it as bad)
                rgba[panel.image == 0] = (0.0, 0.0, 0.0, 1.0)
            if not block.difference:
                rgba[np.isposinf(panel.image)] = mpl.to_rgba(POS_INF_COLOR)
                rgba[np.isneginf(panel.image)] = mpl.to_rgba(NEG_INF_COLOR)
            if panel.tiles is not None:
                rgba[_empty_tiles(panel)] = (0, 0, 0, 0)
        h, w = panel.image.shape[:2]
        # A map one element high (or wide) was a sliver a few pixels across.
        stretched = _stretched(h, w)
        ax.imshow(rgba, interpolation="nearest", aspect="auto" if stretched else None)
        if block.difference and panel.tiles is None:  # a gap inside the frame (a review: the frame hid an edge)
            # (drawn to the panel's shape where stretched: a gap of each axis's own)
            gap_y, gap_x = (h / 40, w / 40) if stretched else (max(h, w) / 40,) * 2
            ax.set_facecolor(DIFFERENCE_GAP_COLOR)
            ax.set_xlim(-0.5 - gap_x, w - 0.5 + gap_x)
            ax.set_ylim(h - 0.5 + gap_y, -0.5 - gap_y)
        if maps is not None and panel.tiles is None and not block.rgb:
            (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
            maps.append((ax, abs(y1 - y0), abs(x1 - x0), panel_h * DPI, panel_w * DPI))
        if panel.values:
            _write_values(ax, panel.values, rgba)
        if panel.tiles is not None:
            _draw_separators(mpl, ax, panel)
        if panel.mark is not None:
            row, col = panel.mark
            if max(panel.image.shape) > MARK_RING_ABOVE:
                # a ring where a pixel is too small to see, and no outline: 1.5 points of it covered the
                # element whole, its colour (a NaN's magenta) gone (a review)
                ax.plot([col], [row], marker="o", markersize=12, markerfacecolor="none",
                        markeredgecolor=MARK_COLOR, markeredgewidth=1.5, clip_on=False, zorder=5)
            else:  # its outline, above the axes' frame (an element on the border kept only two sides)
                ax.add_patch(mpl.Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor=MARK_COLOR,
                                           linewidth=1.5, clip_on=False, zorder=5))
        ax.set_title(panel.title, fontsize=_title_size(panel.title, panel_w))
        ax.set_xticks([])
        ax.set_yticks([])
        if block.indexed:  # to find an element check names, e.g. [2, 3, 5, 1]: rows at the left, columns below
            if p % cols == 0:
                ax.set_yticks(_indices(h))
            if p + cols >= len(block.panels):
                ax.set_xticks(_indices(w))
            ax.tick_params(labelsize=7, length=2, pad=1)
    if not block.colorbar:
        return
    mappable = mpl.ScalarMappable(norm=norm, cmap=cmap if not block.rgb else mpl.colormaps["gray"])
    # A difference's bar ends in a black triangle below its grey: nothing differs.
    bar = container.colorbar(mappable, ax=used, shrink=0.9, panchor=False,
                             extend="min" if block.difference else "neither")
    bar.ax.tick_params(labelsize=8)
    if block.tick is not None:  # a map of one value (_limits widened its scale around it)
        bar.set_ticks([block.tick], labels=[f"{block.tick:.6g}"])
    bar.set_label(block.colorbar_label, fontsize=9)


# A panel's title: 9 points, smaller (down to 6) where it would be wider
# than its panel: "out channel 100 (all 0)" ran into its neighbours' on
# 1.5-inch panels (a review). A character of DejaVu Sans is ~0.6 em wide.
PANEL_TITLE_POINTS = (9, 6)


def _title_size(text: str, panel_w: float) -> float:
    """The font size, in points, that fits ``text`` in a panel ``panel_w`` inches wide."""
    most, least = PANEL_TITLE_POINTS
    fits = 0.9 * panel_w * 72 / (0.6 * max(len(text), 1))
    return max(least, min(most, math.floor(fits * 2) / 2))


def _indices(n: int) -> list[int]:
    """Tick positions along an axis of n elements: every one up to 8, then
    every 2nd, 4th."""
    return list(range(0, n, 1 if n <= 8 else 2 if n <= 16 else 4))


def _value_text(v: float, digits: int = 4) -> str:
    return f"{v:.{digits}g}" if np.isfinite(v) else ("nan" if np.isnan(v) else "inf" if v > 0 else "-inf")


def _write_values(ax, cells: list, rgba: np.ndarray) -> None:
    """Each element's value in its cell (a panel of at most CELL_VALUES:
    the course's printed numbers read off the picture), black on light
    cells, white on dark; the text made from the array's values, not from
    the drawn ones (scaled near float64's limits: _in_range)."""
    for r, c, text in cells:
        light = float(np.dot(rgba[r, c, :3], (0.299, 0.587, 0.114))) > 0.5
        ax.text(c, r, text, ha="center", va="center", fontsize=8, color="black" if light else "white")


def _empty_tiles(panel: _Panel) -> np.ndarray:
    """True on the pixels of mosaic tiles that hold no kernel."""
    rows, cols, f_H, f_W = panel.tiles
    empty = np.zeros((rows, cols), dtype=bool)
    empty.flat[panel.filled:] = True
    return np.kron(empty, np.ones((f_H, f_W), dtype=bool))


def _draw_separators(mpl: _Mpl, ax, panel: _Panel) -> None:
    """Lines between the tiles of a kernel mosaic; unused tiles hatched."""
    rows, cols, f_H, f_W = panel.tiles
    for i in range(panel.filled, rows * cols):
        r, c = divmod(i, cols)
        ax.add_patch(mpl.Rectangle((c * f_W - 0.5, r * f_H - 0.5), f_W, f_H, facecolor="none",
                                   edgecolor=EMPTY_COLOR, hatch="//", linewidth=0))
    if cols > 1:
        ax.vlines([c * f_W - 0.5 for c in range(1, cols)], -0.5, rows * f_H - 0.5,
                  colors=SEPARATOR_COLOR, linewidth=1.0)
    if rows > 1:
        ax.hlines([r * f_H - 0.5 for r in range(1, rows)], -0.5, cols * f_W - 0.5,
                  colors=SEPARATOR_COLOR, linewidth=1.0)


def _draw_bars(mpl: _Mpl, container, block: _Block) -> None:
    ax = container.subplots()
    n = len(block.values)
    x = np.arange(n)
    if block.cmap == SIGNED_CMAP:
        colors = mpl.colormaps[block.cmap](mpl.Normalize(block.vmin, block.vmax)(block.values))
    else:
        colors = "0.45"
    heights = np.where(np.isfinite(block.values), block.values, 0.0)
    bars = ax.bar(x, heights, color=colors, edgecolor="0.2", linewidth=0.5)
    if block.bar_text:  # a bias of a few channels: its values, as printed (a -0.0016 showed as no bar)
        ax.bar_label(bars, block.bar_text, fontsize=7, padding=2, rotation=90 if block.bar_text_vertical else 0)
        ax.margins(y=0.35 if block.bar_text_vertical else 0.15)
    # At 0, marked: NaN a magenta x, +Inf an amber and -Inf a green triangle
    # (as the title names them; a difference's non-finite errors all magenta).
    v = block.values
    marks = ([(np.isnan(v), "x", BAD_COLOR), (np.isposinf(v), "^", POS_INF_COLOR), (np.isneginf(v), "v", NEG_INF_COLOR)]
             if not block.difference else [(~np.isfinite(v), "x", BAD_COLOR)])
    for where, marker, colour in marks:
        if where.any():
            ax.plot(x[where], np.zeros(int(where.sum())), marker, color=colour, markersize=8)
    if block.log:  # a difference's errors over decades: each one that differs a visible bar
        ax.set_yscale("log")
        ax.set_ylim(bottom=block.vmin / 3 or block.vmin)  # (a third of the smallest subnormal is 0)
    else:
        ax.axhline(0.0, color="0.3", linewidth=0.8)
    if block.colorbar_label:  # the quantity, and a scale (_in_range)
        ax.set_ylabel(block.colorbar_label, fontsize=9)
    step = max(1, math.ceil(n / 32))
    ax.set_xticks(x[::step], [str(c) for c in block.labels[::step]], fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_xlabel("channel", fontsize=9)


# Around a PNG's rename into place, the caller's context (the CLI's: it
# holds its stop signals over the rename and its note that the picture is
# in place, cli._placing_png); none in library use.
placing: contextvars.ContextVar = contextvars.ContextVar("placing", default=None)


def _save(fig, path: Path, shown: Path | None = None, overwrite: bool = True) -> None:
    """Write beside ``path``, then rename: never a half-written PNG. An
    error names ``shown`` (the path the user knows), else ``path``. Without
    ``overwrite``, a file that appeared at ``path`` meanwhile (the CLI's
    check that there was none came before the computing) is kept: the PNG
    goes in by a hard link, which never replaces one."""
    from .outputs import short_name

    shown = shown or path
    _refuse_special(path, shown)  # (again: it may have changed while convcli computed)
    if path.is_symlink():  # the file the link names is replaced, and the link kept
        path = Path(os.path.realpath(path))
    tmp = path.with_name(f".{short_name(path.name)}.{os.getpid()}.tmp")
    try:
        fig.savefig(tmp, format="png", dpi=DPI)
        around = placing.get()
        with around() if around is not None else nullcontext():
            if overwrite:
                os.replace(tmp, path)
            else:
                _put_new(tmp, path, shown)
    except OSError as e:
        raise ConvcliError(str(shown or path), f"cannot write: {e.strerror or e}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _put_new(tmp: Path, path: Path, shown: Path) -> None:
    """``tmp`` renamed to ``path`` unless ``path`` exists by then."""
    try:
        os.link(tmp, path)  # fails if path exists: no window between a look and the rename
    except FileExistsError:
        raise ConvcliError(str(shown), "appeared while convcli computed; kept it: pass --force to "
                                       "replace it") from None
    except OSError:  # a file system without hard links: look, then rename
        if os.path.lexists(path):
            raise ConvcliError(str(shown), "appeared while convcli computed; kept it: pass --force to "
                                           "replace it") from None
        os.replace(tmp, path)
