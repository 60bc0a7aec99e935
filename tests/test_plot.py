"""Pictures: each kind renders to a PNG of the documented size, not blank.

Expected sizes follow the rule in convcli/plot.py's docstring (DPI 100, every
length a multiple of 1/4 inch); each test spells out the arithmetic.
"""

from __future__ import annotations

import subprocess
import sys

import math

import numpy as np
import pytest

from convcli import plot
from convcli.errors import ConvcliError
from convcli.plot import file_name, plot_difference, plot_differences, plot_quantities, plot_quantity
from conftest import require

require("matplotlib", "pip install -e '.[plot]'")
from matplotlib.image import imread  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read_png(path, width, height):
    """Check ``path`` is a PNG of width x height pixels, not one flat colour; return its RGB."""
    assert path.read_bytes()[:8] == PNG_MAGIC
    image = imread(path)
    assert image.shape[:2] == (height, width)
    rgb = image[..., :3]
    assert (rgb != rgb[0, 0]).any(), "every pixel has the same colour"
    return rgb


def count_near(rgb, color, tol=0.12):
    return int((np.abs(rgb - np.asarray(color)).max(axis=-1) < tol).sum())


def rng():
    return np.random.RandomState(0)


# ----------------------------------------------------------------- each kind renders


def test_activation_maps_gray(tmp_path):
    A = np.maximum(rng().randn(2, 6, 6, 3), 0)
    out = plot_quantity(A, "conv1.A", tmp_path / "A.png")
    assert out == tmp_path / "A.png"
    # 3 panels -> 2 cols x 2 rows of 2 in; width max(6, 2*2 + 1) = 6; height 0.25*(3 + 1) + 2*(2 + 0.25)
    # (three title lines: the head, the whole array's statistics, sample 0's range)
    rgb = read_png(out, 600, 550)
    # unsigned -> gray map: no coloured pixel outside the (black) text and frames
    assert np.abs(rgb - rgb.mean(axis=-1, keepdims=True)).max() < 0.02


def test_signed_gradient_diverging(tmp_path):
    dZ = rng().randn(2, 5, 8, 4)
    out = plot_quantity(dZ, "conv1.dZ", tmp_path / "dZ.png", sample=1)
    # 4 panels -> 2 x 2; aspect 5/8 -> panel height 1.25; height 0.25*(3 + 1) + 2*(1.25 + 0.25)
    rgb = read_png(out, 600, 400)
    red, blue = rgb[..., 0], rgb[..., 2]
    assert ((red - blue) > 0.3).any() and ((blue - red) > 0.3).any(), "RdBu_r: reds and blues"


def test_gradient_name_is_diverging_even_when_nonnegative():
    block = plot._quantity_block(np.ones((1, 2, 2, 1)), "dA_prev", None, None, None)
    assert block.cmap == "RdBu_r" and block.vmin == -block.vmax
    block = plot._quantity_block(np.ones((1, 2, 2, 1)), "data", None, None, None)
    assert block.cmap == "gray"


def test_weights_rgb_when_three_input_channels(tmp_path):
    W = rng().randn(2, 2, 3, 8)
    out = plot_quantity(W, "W", tmp_path / "W.png")
    # 8 panels -> 3 x 3; width max(6, 3*2 + 1) = 7; height 0.75 + 3*2.25
    rgb = read_png(out, 700, 750)
    saturation = rgb.max(axis=-1) - rgb.min(axis=-1)
    assert (saturation > 0.2).sum() > 1000, "kernels drawn as colour images"


def test_weights_mosaic_otherwise(tmp_path):
    W = rng().randn(3, 3, 5, 6)
    out = plot_quantity(W, "conv2.dW", tmp_path / "dW.png")
    # 6 panels -> 3 x 2; mosaic of 5 kernels: 2 x 3 tiles of 3x3 = 6x9 px, aspect 2/3 -> 1.25 in
    # width 7; height 0.75 + 2*(1.25 + 0.25)
    rgb = read_png(out, 700, 375)
    assert count_near(rgb, (0x2C / 255, 0xA0 / 255, 0x2C / 255)) > 100, "tile separators drawn"
    block = plot._quantity_block(W, "conv2.dW", None, None, None)
    assert [p.title for p in block.panels] == [f"out channel {c}" for c in range(6)]
    np.testing.assert_array_equal(block.panels[2].image[3:6, 0:3], W[:, :, 3, 2])  # tile 3: row 1, col 0


def test_weights_kind_by_keyword(tmp_path):
    block = plot._quantity_block(rng().randn(3, 3, 2, 4), "kernels", None, None, "weights")
    assert len(block.panels) == 4 and block.panels[0].tiles == (1, 2, 3, 3)


@pytest.mark.parametrize("shape", [(1, 1, 1, 8), (8,)])
def test_bias_bars(tmp_path, shape):
    b = rng().randn(*shape)
    out = plot_quantity(b, "conv1.db", tmp_path / "db.png")
    # bars: width clamp(2 + 0.25*8, 6, 16) = 6; height 0.75 + 3
    read_png(out, 600, 375)


def test_difference_border_shows_as_frame(tmp_path):
    reference = rng().randn(2, 6, 6, 3)
    yours = reference.copy()
    yours[1, [0, -1], :, :] += 0.5  # a padding mistake: the border of sample 1 is wrong
    yours[1, :, [0, -1], :] += 0.5
    out = plot_difference(yours, reference, "conv1.Z", tmp_path / "diff.png")
    # 3 panels -> 2 x 2; three title lines: height 0.25*4 + 2*2.25
    rgb = read_png(out, 600, 550)
    assert count_near(rgb, (1, 0, 0)) > 0, "first difference outlined in red"

    block = plot._difference_block(yours, reference, "conv1.Z", None, None, None, 0.0, 0.0)
    assert "sample 1" in block.title[0]  # the sample that differs, by default
    assert "first difference at [1, 0, 0, 0]" in block.title[1]
    assert "max |error| 1" in block.title[1]
    assert "60 of 216 elements differ" in block.title[2]  # 20 border pixels x 3 channels
    frame = np.ones((6, 6), bool)
    frame[1:-1, 1:-1] = False
    for panel in block.panels:
        np.testing.assert_array_equal(panel.image > 0, frame)
    assert block.panels[0].mark == (0, 0)


def test_difference_of_weights_marks_the_tile():
    W = rng().randn(3, 3, 5, 6)
    yours = W.copy()
    yours[2, 1, 4, 3] += 1.0
    block = plot._difference_block(yours, W, "conv1.dW", None, None, None, 0.0, 0.0)
    assert not block.rgb
    # input channel 4 is tile (1, 1) of a 3-wide mosaic of 3x3 tiles
    assert block.panels[3].mark == (3 + 2, 3 + 1)
    assert [p.mark for p in block.panels if p.mark] == [(5, 4)]


def test_difference_tolerance_and_shapes():
    r = np.zeros((1, 2, 2, 1))
    y = r + 1e-9
    block = plot._difference_block(y, r, "Z", None, None, None, 0.0, 1e-8)
    assert "0 of 4 elements differ" in block.title[2]
    with pytest.raises(ConvcliError, match=r"shape \(1, 2, 2, 2\) differs from the reference's \(1, 2, 2, 1\)"):
        plot._difference_block(np.zeros((1, 2, 2, 2)), r, "Z", None, None, None, 0.0, 0.0)


def test_difference_non_finite_as_check_compares():
    r = np.array([np.nan, np.inf, 1.0, 2.0, -np.inf]).reshape(1, 1, 5, 1)
    y = np.array([np.nan, np.inf, np.nan, 2.0, np.inf]).reshape(1, 1, 5, 1)
    block = plot._difference_block(y, r, "Z", None, None, None, 1e-6, 1e-8)
    # NaN == NaN and inf == inf match, as in check; NaN against 1 and inf against -inf differ
    assert "2 of 5 elements differ" in block.title[2]
    assert "first difference at [0, 0, 2, 0]" in block.title[1]
    image = block.panels[0].image
    assert image[0, 0] == 0 and image[0, 1] == 0 and np.isnan(image[0, 2]) and np.isinf(image[0, 4])
    assert not plot._differs(r[..., :2, :], y[..., :2, :], 0.0, 0.0).any()


def test_differences_stack_in_one_picture(tmp_path):
    Z = rng().randn(2, 6, 6, 3)
    W = rng().randn(2, 2, 3, 8)
    b = rng().randn(1, 1, 1, 8)
    pairs = {"conv1.Z": (Z + 1, Z), "W": (W, W), "b": (b + 0.1, b)}  # W agrees: left out
    out = plot_differences(pairs, tmp_path / "check.png")
    # Z block 6 x 6 (as above, and two lines naming the two samples that differ and the
    # largest error of the one drawn); b block 6 x (1 + 3); W leaves nothing
    read_png(out, 600, 1000)


def test_differences_none_differs(tmp_path):
    Z = rng().randn(1, 2, 2, 1)
    out = plot_differences({"Z": (Z, Z + 1e-12)}, tmp_path / "check.png", atol=1e-9)
    read_png(out, 600, 100)


def test_many_channels_capped(tmp_path):
    A = rng().rand(1, 2, 2, 70)
    block = plot._quantity_block(A, "A", None, None, None)
    assert len(block.panels) == 64 and "first 64 of 70 channels" in block.title[0]
    wide = rng().rand(1, 2, 2, 300)
    assert plot.drawn_selection(wide, "A", channels=range(256))[1] == list(range(256))
    with pytest.raises(ConvcliError, match=r"300 channels chosen; .*: choose fewer, e\.g\. 44-299,"):
        plot.drawn_selection(wide, "A", channels=[*range(100, 300), *range(100)])
    out = plot_quantity(A, "A", tmp_path / "A.png", channels=[0, 69])
    # 2 panels -> 2 x 1; height 0.25*(3 + 1) + 2.25 (a line for channels 0 and 69's range)
    read_png(out, 600, 325)


# ----------------------------------------------------------------- many files


def test_plot_quantities_one_file_each(tmp_path):
    arrays = {
        "A_prev": rng().randn(2, 4, 4, 3),
        "conv1.Z": rng().randn(2, 5, 5, 8),
        "conv1.dA_prev": rng().randn(2, 4, 4, 3),
        "conv1.dW": rng().randn(2, 2, 3, 8),
        "conv1.db": rng().randn(1, 1, 1, 8),
        "odd/name": rng().randn(2, 2, 2, 1),
        "ODD_name": rng().randn(2, 2, 2, 1),  # collides on a case-insensitive filesystem
    }
    folder = tmp_path / "out" / "plots"
    paths = plot_quantities(arrays, folder, sample=1)
    names = ["A_prev.png", "conv1.Z.png", "conv1.dA_prev.png", "conv1.dW.png", "conv1.db.png",
             "odd_name.png", "ODD_name-2.png"]
    assert [p.name for p in paths] == names
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    for p in paths:
        assert p.read_bytes()[:8] == PNG_MAGIC


def test_plot_quantities_checks_all_before_writing(tmp_path):
    arrays = {"A": rng().randn(1, 2, 2, 1), "bad": rng().randn(3, 4)}
    with pytest.raises(ConvcliError) as e:
        plot_quantities(arrays, tmp_path / "plots")
    assert e.value.where == "bad"
    assert not (tmp_path / "plots").exists()


@pytest.mark.parametrize("name, expected", [
    ("conv1.dW", "conv1.dW.png"),
    ("A_prev", "A_prev.png"),
    ("../etc/passwd", "_etc_passwd.png"),
    ("a b:c", "a_b_c.png"),
    ("...", "quantity.png"),
    ("CON", "_CON.png"),
])
def test_file_name(name, expected):
    assert file_name(name) == expected


# ----------------------------------------------------------------- errors


def test_missing_matplotlib_names_the_extra(tmp_path, monkeypatch):
    for module in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    calls = [
        lambda: plot_quantity(np.ones((1, 2, 2, 1)), "A", tmp_path / "A.png"),
        lambda: plot_difference(np.ones((1, 2, 2, 1)), np.zeros((1, 2, 2, 1)), "A", tmp_path / "d.png"),
        lambda: plot_differences({}, tmp_path / "c.png"),
        lambda: plot_quantities({"A": np.ones((1, 2, 2, 1))}, tmp_path / "plots"),
    ]
    for call in calls:
        with pytest.raises(ConvcliError) as e:
            call()
        assert e.value.where == "plot"
        assert str(e.value) == ("plot: needs matplotlib: pip install matplotlib (from convcli's clone: pip "
                                "install -e '.[plot]')")
        assert e.value.__cause__ is None and e.value.__suppress_context__
    assert list(tmp_path.iterdir()) == []


def test_require_matplotlib(monkeypatch):
    plot.require_matplotlib()  # installed here: nothing happens
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ConvcliError) as e:
        plot.require_matplotlib("--plot")
    assert str(e.value) == ("--plot: needs matplotlib: pip install matplotlib (from convcli's clone: pip "
                            "install -e '.[plot]')")


@pytest.mark.parametrize("kwargs, where, message", [
    ({"sample": 12}, "--sample", r"sample 12 out of range for A of shape \(10, 4, 4, 3\) \(samples 0\.\.9, or -10\.\.-1 from the end\)"),
    ({"sample": -11}, "--sample", r"sample -11 out of range .*\(samples 0\.\.9, or -10\.\.-1 from the end\)"),
    ({"sample": 1.5}, "--sample", r"sample must be an integer"),
    ({"channels": [0, 3]}, "--channels", r"channel 3 out of range for A of shape \(10, 4, 4, 3\) \(channels 0\.\.2\)"),
    ({"channels": []}, "--channels", r"no channel given"),
    ({"channels": ["x"]}, "--channels", r"channel must be an integer"),
    # 3 channels: only the repeats take it over; 300: a range that exists
    ({"channels": [0, 1, 2] * 86}, "--channels", r"258 channels chosen; .* drop the repeats \(3 channels in all, 0-2\)"),
])
def test_bad_sample_or_channel(tmp_path, kwargs, where, message):
    with pytest.raises(ConvcliError, match=message) as e:
        plot_quantity(np.zeros((10, 4, 4, 3)), "A", tmp_path / "A.png", **kwargs)
    assert e.value.where == where
    assert list(tmp_path.iterdir()) == []


def test_weights_have_no_samples(tmp_path):
    with pytest.raises(ConvcliError, match="not a batch") as e:
        plot_quantity(np.zeros((2, 2, 3, 8)), "W", tmp_path / "W.png", sample=2)
    assert e.value.where == "--sample"


@pytest.mark.parametrize("array, message", [
    (np.zeros((3, 4)), r"cannot draw shape \(3, 4\)"),
    (np.zeros((0, 2, 2, 1)), "empty"),
    (np.zeros((1, 2, 2, 1), complex), "dtype complex128"),
])
def test_undrawable_arrays(tmp_path, array, message):
    with pytest.raises(ConvcliError, match=message) as e:
        plot_quantity(array, "conv1.Z", tmp_path / "Z.png")
    assert e.value.where == "conv1.Z"


def test_bad_paths(tmp_path):
    with pytest.raises(ConvcliError, match=r"end(ing)? in \.png"):
        plot_quantity(np.zeros((1, 2, 2, 1)), "A", tmp_path / "A.pdf")
    with pytest.raises(ConvcliError, match="does not exist"):
        plot_quantity(np.zeros((1, 2, 2, 1)), "A", tmp_path / "missing" / "A.png")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "afile").write_text("")
    with pytest.raises(ConvcliError, match="afile is a file, not a folder"):
        plot_quantity(np.zeros((1, 2, 2, 1)), "A", tmp_path / "afile" / "A.png")


def test_non_finite_values_render(tmp_path):
    """NaN, +Inf and -Inf each in its own colour (a review: all three were
    magenta), named with their counts, and the finite range beside the
    statistics, which a NaN makes NaN."""
    A = rng().randn(1, 3, 3, 2)
    A[0, 1, 1, 0] = np.nan
    A[0, 2, 2, 1] = -np.inf
    A[0, 0, 0, 1] = np.inf
    finite = A[np.isfinite(A)]
    title = " ".join(" ".join(plot._quantity_block(A, "A", None, None, None).title).split())
    assert (f"drawn in colour: 1 NaN magenta, 1 +Inf amber, 1 -Inf green; finite min {finite.min():.4g} "
            f"max {finite.max():.4g}") in title
    path = plot_quantity(A, "A", tmp_path / "A.png")
    rgb = imread(path)[..., :3]
    for name, colour in (("NaN", (1, 0, 1)), ("+Inf", (1, 0.75, 0)), ("-Inf", (0.5, 1, 0))):
        assert count_near(rgb, colour, tol=0.05) > 100, f"{name} drawn {colour}"


def test_a_picture_with_no_finite_value_has_no_colour_scale(tmp_path):
    """A review: a dW all NaN got a colour bar from -1 to 1, a scale of nothing."""
    dW = np.full((2, 2, 1, 2), np.nan)
    block = plot._quantity_block(dW, "dW", None, None, None)
    assert not block.colorbar
    assert plot._quantity_block(np.ones((2, 2, 1, 2)), "dW", None, None, None).colorbar


# ----------------------------------------------------------------- honest pictures (a review's)


def test_a_difference_not_drawn_is_named_in_the_picture(tmp_path):
    """A submission in NCHW fails, but has nothing to draw: the picture said
    "no quantity differs (0 compared)"."""
    why = "shape (4, 4, 8, 8), expected (4, 8, 8, 4); the same sizes in another order"
    out = plot_differences({}, tmp_path / "check.png", not_drawn={"conv1.Z": why})
    blocks = []
    real = plot._render
    plot._render = lambda mpl, b, path, shown=None, overwrite=True: (blocks.extend(b()), real(mpl, b, path, shown, overwrite))
    try:
        plot_differences({}, tmp_path / "again.png", not_drawn={"conv1.Z": why})
    finally:
        plot._render = real
    assert [b.kind for b in blocks] == ["note"]
    assert " ".join(line.strip() for line in blocks[0].title) == f"conv1.Z differs, not drawn: {why}"
    assert not any("no quantity differs" in line for line in blocks[0].title)
    read_png(out, 600, 25 * (len(blocks[0].title) + 2))


def test_a_lone_element_survives_a_reduced_map():
    """600 x 600 in a ~200-pixel panel: matplotlib's own resampling dropped a
    lone 5.0 (and a lone wrong element of a difference picture)."""
    A = np.zeros((1, 600, 600, 1))
    A[0, 301, 455, 0] = 5.0
    A[0, 10, 20, 0] = -7.0
    block = plot._quantity_block(A, "A", None, None, None)
    image = block.panels[0].image
    assert image.shape == (300, 300)  # a 3-inch panel alone, a square map 1.14 of it: k = ceil(600 / 342) = 2
    assert image[301 // 2, 455 // 2] == 5.0 and image[10 // 2, 20 // 2] == -7.0
    assert np.count_nonzero(image) == 2
    assert (" ".join(line.strip() for line in block.title[1:])).startswith(
        "shown at 1/2: each 2x2 block's element farthest from the map's mean; over 99% of the elements are 0 ")
    # a difference: the element, and where it is, survive; NaN against a number too
    ref = np.zeros((2, 600, 601, 1))
    yours = ref.copy()
    yours[1, 599, 600, 0] = 0.5
    yours[1, 0, 0, 0] = np.nan
    d = plot._difference_block(yours, ref, "relu1.A", None, None, None, 0.0, 0.0)
    img = d.panels[0].image
    assert img.shape == (200, 201) and img[599 // 3, 600 // 3] == 0.5 and np.isnan(img[0, 0])  # k = 3
    assert d.panels[0].mark == (0, 0)  # the first difference, at the reduced scale
    assert d.title[2] == "max finite |error| 0.5   first difference at [1, 0, 0, 0]"
    assert d.title[4] == "1 element NaN or Inf on one side only, drawn magenta"


def test_an_error_past_float64s_range_is_not_called_nan_or_inf():
    """1.5e308 against -1.5e308: both finite, their |difference| (3e308) past
    float64's largest number. The title had counted it among the elements
    NaN or Inf on one side only, and given 0.5 as the largest finite error."""
    ref = np.zeros((2, 4, 4, 3))
    yours = ref.copy()
    yours[0, 1, 1, 0], ref[0, 1, 1, 0] = 1.5e308, -1.5e308
    yours[1, 0, 0, 1] = 0.5
    yours[1, 2, 2, 2] = np.inf
    d = plot._difference_block(yours, ref, "conv1.Z", None, None, None, 0.0, 0.0)
    title = " ".join(" ".join(d.title).split())
    assert "max |error| above 1.798e+308 first difference at [0, 1, 1, 0]" in title
    assert "3 of 96 elements differ" in title
    assert "1 element NaN or Inf on one side only, drawn magenta" in title
    # (sample 1 is drawn, two differ there: the one past float64's range is in sample 0, not drawn)
    assert "1 |error| past float64's range (both sides finite), in sample 0: not drawn (magenta where drawn)" in title


def test_a_difference_title_says_which_nan_is_drawn():
    """A pictures review: sample 0 off by 1e-3 in two elements, sample 2 a
    NaN: sample 0 is drawn (the most differ there), and the title said
    '1 element NaN or Inf on one side only, drawn magenta' of a picture
    with no magenta."""
    ref = np.zeros((3, 4, 4, 2))
    yours = ref.copy()
    yours[0, 1, 1, 0] = yours[0, 2, 2, 1] = 1e-3
    yours[2, 3, 3, 1] = np.nan
    d = plot._difference_block(yours, ref, "conv1.Z", None, None, None, 0.0, 0.0)
    title = " ".join(" ".join(d.title).split())
    assert "drawn: sample 0" in title and not np.isnan(d.panels[1].image).any()
    assert "1 element NaN or Inf on one side only, in sample 2: not drawn (magenta where drawn)" in title
    yours[0, 0, 0, 0] = np.inf  # one in the drawn sample too
    d = plot._difference_block(yours, ref, "conv1.Z", None, None, None, 0.0, 0.0)
    title = " ".join(" ".join(d.title).split())
    assert "2 elements NaN or Inf on one side only, 1 of them drawn, magenta; the others in sample 2, not drawn" in title
    # a channel not drawn (a later review: one past the 64 drawn, or one of channels= not given)
    yours = ref.copy()
    yours[0, 1, 1, 0] = 1e-3
    yours[0, 2, 2, 1] = np.nan
    d = plot._difference_block(yours, ref, "conv1.Z", None, [0], None, 0.0, 0.0)
    title = " ".join(" ".join(d.title).split())
    assert "1 element NaN or Inf on one side only, in channel 1 of sample 0: not drawn (magenta where drawn)" in title


def test_a_difference_picture_names_every_sample_that_differs():
    Z = rng().randn(5, 4, 4, 2)
    yours = Z.copy()
    yours[1, 2, 2, 0] += 1
    yours[3] += 0.5
    block = plot._difference_block(yours, Z, "conv1.Z", None, None, None, 1e-6, 1e-8)
    title = " ".join(" ".join(block.title).split())  # wrapped to the figure's width
    # the drawn sample's largest error, not the whole array's alone (a review: 0.3 over a picture whose
    # colour bar stopped at 0.1); the sample with the most elements that differ (a review: the first,
    # with 1 of them, was drawn, and the 64 of another named only in words), marked at its first
    assert title.endswith("elements that differ, sample 1: 1, sample 3: 32; drawn: sample 3 (its max |error| 0.5)")
    marked = [(k, panel.mark) for k, panel in enumerate(block.panels) if panel.mark is not None]
    assert marked == [(0, (0, 0))] and "first difference at [1, 2, 2, 0]" in title


def test_a_difference_of_many_channels_draws_those_that_differ():
    """A review: with more than 64 channels the first 64 were drawn, all
    black, where the one wrong element sat in channel 90 (dW's out channel,
    Z's channel, db's element): the picture said nothing differed. The
    channels that differ are drawn (at most 64, the first one marked)."""
    r = rng().randn(2, 5, 5, 128)
    y = r.copy()
    y[1, 3, 4, 100] += 2.0
    block = plot._difference_block(y, r, "conv1.Z", None, None, None, 1e-6, 1e-8)
    assert [p.title for p in block.panels] == ["channel 100"] and block.panels[0].mark == (3, 4)
    assert "(channel 100)" in " ".join(" ".join(block.title).split()) and block.vmax == 2.0
    dW = rng().randn(3, 3, 4, 128)
    mine = dW.copy()
    mine[1, 2, 3, 90] += 5.0
    mine[0, 0, 0, 7] += 1.0
    block = plot._difference_block(mine, dW, "conv1.dW", None, None, None, 1e-6, 1e-8)
    assert [p.title for p in block.panels] == ["out channel 7", "out channel 90"]
    db = rng().randn(128)
    wrong = db.copy()
    wrong[120] += 1.0
    block = plot._difference_block(wrong, db, "conv1.db", None, None, None, 1e-6, 1e-8)
    assert list(block.labels) == [120] and block.vmax >= 1.0
    many = r.copy()
    many[0] += 1.0  # every channel of sample 0: the first 64
    block = plot._difference_block(many, r, "conv1.Z", None, None, None, 1e-6, 1e-8)
    assert [p.title for p in block.panels] == [f"channel {c}" for c in range(64)]


def test_a_map_stretched_to_its_panel_is_reduced_along_each_axis_apart():
    """A review: a 3 x 400 map (rows +1, 0, -1), wider than its panel, was
    cut by one factor on both axes, its 3 rows merged into 2 (the 0 row
    gone); a stretched map keeps what fits of each axis."""
    image = np.repeat(np.array([[1.0], [0.0], [-1.0]]), 400, axis=1)
    A = image[None, :, :, None]
    block = plot._quantity_block(A, "A_prev", None, None, None)
    (panel,) = block.panels
    assert panel.image.shape[0] == 3 and panel.image.shape[1] < 400
    np.testing.assert_array_equal(panel.image[:, 0], [1.0, 0.0, -1.0])
    assert "shown at 1/1 x 1/" in " ".join(block.title)


def test_a_weight_gradient_with_three_input_channels_is_a_signed_mosaic():
    """Its sign is what matters: as colours (R, G, B) it could not be read."""
    dW = rng().randn(3, 3, 3, 4)
    block = plot._quantity_block(dW, "conv1.dW", None, None, "weights")
    assert not block.rgb and block.cmap == plot.SIGNED_CMAP and block.panels[0].tiles is not None
    assert plot._quantity_block(dW, "W1", None, None, "weights").rgb  # weights stay colour images


@pytest.mark.parametrize("scale", [1e-300, 1e-321, 5e-324])  # 5e-324: 10.0**-324 is 0 (ZeroDivisionError)
def test_tiny_values_get_a_power_of_ten(scale):
    """Below ~2e-287 matplotlib took the limits for singular and labelled the
    colour bar +-0.05 (0.1 at 1e-300)."""
    A = rng().randn(1, 3, 3, 1) * scale
    block = plot._in_range(plot._quantity_block(A, "A", None, None, None))
    k = int(math.floor(math.log10(np.abs(A).max())))
    assert block.colorbar_label.endswith(f"(x 1e{k})")
    assert 1 <= max(abs(block.vmin), abs(block.vmax)) < 10


# ----------------------------------------------------------------- boundaries


def test_imports_stay_light():
    code = (
        "import sys, convcli\n"
        "assert 'convcli.plot' not in sys.modules, 'the core imports plot'\n"
        "import convcli.plot\n"
        "heavy = {'matplotlib', 'typer', 'yaml', 'h5py'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8, bool])
def test_other_dtypes_render(tmp_path, dtype):
    A = (rng().rand(1, 4, 4, 1) * 200).astype(dtype)
    # 1 panel of 3 in: height 0.25 * (2 + 1) + 3.25; bool is True everywhere (no element of
    # rand * 200 is 0), a constant array, which the title says in a third line: 0.25 * 4 + 3.25
    read_png(plot_quantity(A, "A_prev", tmp_path / "A.png"), 600, 425 if dtype is bool else 400)


def test_the_title_gives_the_dtype():
    """A float32 run's picture was pixel for pixel its float64 run's."""
    A = rng().randn(1, 3, 3, 2)
    assert plot._quantity_block(A, "A", None, None, None).title[0] == "A   (1, 3, 3, 2) float64   sample 0"
    assert plot._quantity_block(A.astype(np.float32), "A", None, None, None).title[0].startswith(
        "A   (1, 3, 3, 2) float32")


def test_only_the_elements_that_differ_light_up():
    """A float32 submission: rounding everywhere, within tolerance but for two
    elements; the picture drew the rounding too, like noise all over."""
    ref = np.full((1, 4, 4, 1), 100.0)
    yours = ref + 1e-9  # within rtol 1e-6 everywhere ...
    yours[0, 1, 2, 0] += 1.0  # ... but here
    yours[0, 3, 0, 0] -= 0.5  # and here
    block = plot._difference_block(yours, ref, "Z", None, None, None, 1e-6, 1e-8)
    image = block.panels[0].image
    assert sorted(zip(*np.nonzero(image))) == [(1, 2), (3, 0)]
    assert image[1, 2] == pytest.approx(1.0 + 1e-9) and image[3, 0] == pytest.approx(0.5 - 1e-9)
    title = " ".join(" ".join(block.title).split())  # wrapped to the figure's width
    assert "2 of 16 elements differ (rtol 1e-06, atol 1e-08; the errors within them drawn black)" in title


def test_an_error_far_below_the_largest_is_still_seen(tmp_path):
    """A grader's case: one element off by 1, another by 1e-6. On a linear
    grey scale from 0 the second was drawn at 1e-6 of white, black like the
    elements that do not differ. Every element that differs is drawn from
    DIFFERENCE_FLOOR's grey up, here on a log scale (6 decades); the rest
    black."""
    ref = np.zeros((1, 4, 4, 1))
    yours = ref.copy()
    yours[0, 0, 0, 0] = 1.0
    yours[0, 3, 3, 0] = 1e-6
    block = plot._difference_block(yours, ref, "Z", None, None, None, 0.0, 0.0)
    assert block.log and (block.vmin, block.vmax) == (1e-6, 1.0)
    rgb = read_png(plot_difference(yours, ref, "Z", tmp_path / "d.png"), 600, 425)
    grey = plot.DIFFERENCE_FLOOR
    assert count_near(rgb, (grey, grey, grey), tol=0.03) > 100, "the 1e-6 cell in the floor's grey"
    assert count_near(rgb, (1.0, 1.0, 1.0), tol=0.01) > 100  # the 1.0 cell (and the page)
    assert count_near(rgb, (0.0, 0.0, 0.0), tol=0.01) > 14 * 100, "the 14 cells that do not differ: black"


def test_errors_of_one_decade_keep_a_linear_scale_from_zero():
    yours = np.zeros((1, 3, 3, 1))
    yours[0, 0, 0, 0], yours[0, 1, 1, 0] = 0.5, 0.2  # 2.5 times apart
    block = plot._difference_block(yours, np.zeros_like(yours), "Z", None, None, None, 0.0, 0.0)
    assert not block.log and (block.vmin, block.vmax) == (0.0, 0.5)


def test_bias_errors_over_decades_are_bars_on_a_log_axis(tmp_path):
    b = rng().randn(8)
    yours = b.copy()
    yours[2] += 1.0
    yours[5] += 1e-5
    block = plot._difference_block(yours, b, "conv1.db", None, None, None, 0.0, 0.0)
    assert block.kind == "bars" and block.log and block.vmin == pytest.approx(1e-5, rel=1e-6)
    read_png(plot_difference(yours, b, "conv1.db", tmp_path / "db.png"), 600, 400)


def test_a_single_panel_is_not_pushed_against_the_colour_bar(tmp_path):
    """A review: one panel sat at the right of a 6-inch figure, its left half
    blank (the colour bar anchored its axes to the right)."""
    A = rng().randn(1, 8, 8, 1)
    rgb = read_png(plot_quantity(A, "A", tmp_path / "one.png"), 600, 400)  # a 3-inch panel
    coloured = np.flatnonzero(((rgb.max(axis=-1) - rgb.min(axis=-1)) > 0.2).any(axis=0))
    assert coloured.min() < 0.35 * 600, f"the panel starts at x = {coloured.min()}"


def test_title_lines_are_wrapped_to_the_figure():
    """The tolerance line and the samples that differ ran off a 6-inch
    picture's edges (the README's own picture)."""
    Z = rng().randn(4, 8, 8, 2)
    yours = Z + 1.0
    block = plot._difference_block(yours, Z, "conv1.Z", None, None, None, 1e-6, 1e-8)
    chars = int(block.width * plot.DPI / plot.TITLE_CHAR_PX)
    assert all(len(line) <= chars for line in block.title), block.title
    # (the four samples tie at 128: the one drawn is the farthest past the tolerance, whose errors of 1
    # stand against its smallest |Z|)
    assert "sample 3: 128; drawn: sample " in " ".join(" ".join(block.title).split())


def test_a_png_that_appears_while_computing_is_kept_unless_overwrite(tmp_path):
    """A review: plot --out F.png (no --force) checked F.png before computing,
    then renamed its PNG over whatever had appeared there meanwhile: the
    user's file was lost. Now the PNG goes in by a hard link, which never
    replaces a file; with overwrite (--force) it is renamed over it."""
    from matplotlib.figure import Figure

    from convcli.errors import ConvcliError
    from convcli.plot import _save

    fig = Figure()
    fig.add_subplot().plot([0, 1])
    path = tmp_path / "race.png"
    path.write_text("MY PICTURE")
    with pytest.raises(ConvcliError, match="appeared while convcli computed; kept it: pass --force"):
        _save(fig, path, overwrite=False)
    assert path.read_text() == "MY PICTURE" and sorted(p.name for p in tmp_path.iterdir()) == ["race.png"]
    _save(fig, path, overwrite=True)
    assert path.read_bytes().startswith(b"\x89PNG")
    path.unlink()
    _save(fig, path, overwrite=False)
    assert path.read_bytes().startswith(b"\x89PNG") and sorted(p.name for p in tmp_path.iterdir()) == ["race.png"]


# ----------------------------------------------------------------- a review of the pictures (eighteenth session)


def test_the_title_says_which_numbers_are_the_whole_arrays_and_which_the_drawn_ones():
    """The statistics are the whole array's (summary.json's), the colour
    scale the drawn sample's and channels': a review read "min -2.59 max
    5.058" above a picture of sample 0, whose largest value is 0.902."""
    A = rng().randn(3, 4, 4, 5)
    A[2, 1, 1, 4] = 9.0  # in a sample and a channel not drawn
    block = plot._quantity_block(A, "A", None, [1, 2], None)
    drawn = A[0][..., [1, 2]]
    assert block.title[1].startswith("whole array: mean ") and "max 9   " not in block.title[1]
    assert block.title[1].endswith(f"max {A.max():.4g}")
    assert block.title[2] == f"drawn (sample 0, channels 1-2): min {drawn.min():.4g}   max {drawn.max():.4g}"
    assert block.vmax == pytest.approx(np.abs(drawn).max())  # signed: -m..m of what is drawn
    one = plot._quantity_block(A[:1, ..., :1], "A", None, None, None)  # all of it drawn: one line
    assert one.title[1].startswith("mean ") and len(one.title) == 2


def test_a_lone_element_survives_in_every_panel_of_a_large_grid():
    """A review: 25 channels of 190 x 190, each zero but for one 1.0: in
    panels of 1.5 inches (about 137 pixels) 12 of the 25 were black, the
    maps left whole (under 200 a side) for matplotlib to thin. Reduced to
    the panel (0.865 of 150 pixels: k = ceil(190 / 129) = 2), every panel
    keeps its 1.0; and the title says how many elements are 0 (a later
    review: a max pool's gradient, 3 in 4 zeros, looked dense at 1/2)."""
    A = np.zeros((1, 190, 190, 25))
    where = rng().randint(0, 190, size=(25, 2))
    for c, (r, col) in enumerate(where):
        A[0, r, col, c] = 1.0
    block = plot._quantity_block(A, "A", None, None, None)
    assert all(p.image.shape == (95, 95) and p.image.max() == 1.0 for p in block.panels)
    said = " ".join(line.strip() for line in block.title[1:])
    assert said.startswith("shown at 1/2: each 2x2 block's element farthest from the map's mean; over 99% of the "
                           "elements are 0 "), said
    A[0, :100] = 1.0  # 100 of 190 rows: 190 * 100 of 190 * 190 elements, 52.6%, not 0
    said = " ".join(line.strip() for line in plot._quantity_block(A, "A", None, None, None).title[1:])
    assert "; 47% of the elements are 0 " in said, said


def test_a_dark_line_survives_on_a_bright_reduced_image():
    """A review: reduced by the largest in size, a one-pixel dark line on a
    bright image (a photo's edge) vanished. A gray map keeps the element
    farthest from its mean: here the line's 0 (the mean is near 1), and on
    a dark map a bright point."""
    A = np.ones((1, 900, 900, 1))
    A[0, :, 301, 0] = 0.0
    image = plot._quantity_block(A, "A_prev", None, None, None).panels[0].image  # k = 3
    assert image.shape == (300, 300) and (image[:, 301 // 3] == 0).all() and (np.delete(image, 100, 1) == 1).all()


def test_a_map_one_element_high_is_not_a_sliver(tmp_path):
    """A review: a (1, 38) map was a strip about 5 pixels high. Stretched to
    its panel (half its width high: the aspect clamp), it is tens of pixels
    high."""
    Z = rng().randn(1, 1, 38, 2)
    rgb = read_png(plot_quantity(Z, "Z", tmp_path / "row.png"), 600, 200)  # 2 panels: 2 x 1 in; 0.75 + 1.25
    coloured_rows = np.flatnonzero(((rgb.max(axis=-1) - rgb.min(axis=-1)) > 0.2).any(axis=1))
    assert len(coloured_rows) > 40, len(coloured_rows)


def test_small_maps_get_indices_and_tiny_panels_their_values(monkeypatch, tmp_path):
    """A review: with no ticks a learner counted cells to find conv1.Z[0, 3,
    3]; a 1x1 pool output was a flat square whose value could not be read.
    Maps up to 32 a side are indexed, panels of up to 16 elements carry
    their values where they fit (never a reduced map or a colour image)."""
    assert plot._quantity_block(rng().randn(1, 8, 8, 2), "Z", None, None, None).indexed
    assert not plot._quantity_block(rng().randn(1, 33, 8, 2), "Z", None, None, None).indexed
    assert not plot._quantity_block(rng().randn(3, 3, 2, 2), "W", None, None, None).indexed
    written = []
    monkeypatch.setattr(plot, "_write_values", lambda ax, cells, rgba: written.append(cells))
    A = np.array([0.865, 1.25, 2.0, 0, 0, 0]).reshape(2, 1, 1, 3)  # configs/pool_forward.yaml's shape
    plot_quantity(A, "pool1.A", tmp_path / "A.png")
    assert written == [[(0, 0, "0.865")], [(0, 0, "1.25")], [(0, 0, "2")]]
    written.clear()
    plot_quantity(rng().randn(1, 5, 5, 1), "Z", tmp_path / "Z.png")  # 25 elements: no values
    assert written == []
    assert plot._value_text(-0.0016237) == "-0.001624" and plot._value_text(2199.4) == "2199"
    assert plot._value_text(-np.inf) == "-inf"


def test_values_are_written_only_where_they_fit_and_as_the_array_holds_them():
    """A review: 17 channels of 4x4 (panels of 1.5 in: cells ~32 pixels)
    ran their numbers together, 16 of 2 x 2 (cells ~85) did not; values
    near float64's limits, drawn scaled, were written scaled (-0.945 for
    -9.45e307); a 3x3 kernel of one input channel got no values at all."""
    A = rng().randn(1, 4, 4, 17)
    assert all(p.values is None for p in plot._quantity_block(A, "Z", None, None, None).panels)
    two = plot._quantity_block(rng().randn(1, 2, 2, 16), "Z", None, None, None)
    assert all(p.values is not None and len(p.values) == 4 for p in two.panels)
    huge = np.array([-9.45e307, 1e308, 0.5, 2.0]).reshape(1, 2, 2, 1)
    block = plot._in_range(plot._quantity_block(huge, "A", None, None, None))
    assert [t for _, _, t in block.panels[0].values] == ["-9.45e+307", "1e+308", "0.5", "2"]
    assert block.panels[0].image[0, 0] == pytest.approx(-0.945)  # drawn scaled, written as it is
    dW = plot._quantity_block(rng().randn(3, 3, 1, 4), "conv1.dW", None, None, None)
    assert all(len(p.values) == 9 for p in dW.panels)
    bars = plot._quantity_block(-0.00123 - 1e-5 * rng().rand(16), "conv1.db", None, None, None)
    assert bars.bar_text[0].startswith("-0.00123") and bars.bar_text_vertical  # 8 characters on ~25 pixels
    assert not plot._quantity_block(np.array([0.5, -0.0016]), "b", None, None, None).bar_text_vertical


def test_a_constant_array_says_so_and_bars_name_their_quantity():
    title = plot._quantity_block(np.zeros((1, 3, 3, 2)), "Z", None, None, None).title
    assert title[-1] == "constant: every element 0"
    assert plot._quantity_block(np.array([0.5, -0.0016]), "conv1.db", None, None, None).colorbar_label == "conv1.db"


def test_reduction_near_the_largest_float_and_with_nan_beside_inf(recwarn):
    """A review: a map of 1e308 with one 0 lost the 0 when reduced (the
    mean overflowed to inf, every element as far from it as another) and
    warned of the overflow; a block with +inf before a NaN showed the inf
    while the title counted the NaN."""
    A = np.full((1, 400, 400, 1), 1e308)
    A[0, 101, 101, 0] = 0.0
    image = plot._quantity_block(A, "A_prev", None, None, None).panels[0].image
    assert image.shape == (200, 200) and image.min() == 0.0 and np.count_nonzero(image == 0) == 1  # k = 2
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    B = rng().randn(1, 400, 400, 1)
    B[0, 0, 0, 0], B[0, 0, 1, 0] = np.inf, np.nan
    assert np.isnan(plot._quantity_block(B, "B", None, None, None).panels[0].image[0, 0])


def test_bars_mark_nan_and_each_infinity_in_the_titles_colours(tmp_path):
    """A review: the title named +Inf amber and -Inf green, the bars drew
    every non-finite value a magenta x."""
    b = np.array([0.5, np.inf, -np.inf, -0.2, np.nan])
    title = " ".join(plot._quantity_block(b, "b", None, None, None).title)
    assert "1 NaN magenta, 1 +Inf amber, 1 -Inf green" in title
    rgb = imread(plot_quantity(b, "b", tmp_path / "b.png"))[..., :3]
    for name, colour in (("NaN", (1, 0, 1)), ("+Inf", (1, 0.75, 0)), ("-Inf", (0.5, 1, 0))):
        assert count_near(rgb, colour, tol=0.05) > 10, f"{name} marked {colour}"


def test_errors_along_a_map_s_edge_are_not_lost_in_its_frame(tmp_path):
    """A review: a padding mistake's frame of errors on a 112 x 112 map (or a
    wrong first column of a 224 x 224 one, drawn at 1/2) was white against the
    white page under the panel's black frame, or hidden by it. A difference
    panel leaves a gap inside its frame in a colour no difference is drawn
    in (the scale runs black to white): the edge's errors sit between it and
    the black inside. Counted in the PNG: the gap's blue is there, and grey
    pixels (the errors of 1, on a scale up to the corners' 2) touch it."""
    r = rng().randn(1, 112, 112, 1)
    y = r.copy()
    y[:, [0, -1], :, :] += 1.0
    y[:, :, [0, -1], :] += 1.0
    path = plot_differences({"conv1.Z": (y, r)}, tmp_path / "frame.png", rtol=1e-6, atol=1e-8)
    import matplotlib.image as mpl  # (the module requires matplotlib: see its top)
    rgb = mpl.imread(path)[..., :3]
    gap = np.all(np.abs(rgb - np.array([0x6B, 0xAE, 0xD6]) / 255) < 0.02, axis=-1)
    grey = np.all(rgb > 0.4, axis=-1) & (np.ptp(rgb, axis=-1) < 0.05)  # (the gap's blue is not grey)
    assert gap.sum() > 500, gap.sum()
    beside = gap[:, :-1] & grey[:, 1:]  # grey just right of the gap: the left column of errors
    assert beside.sum() > 50, beside.sum()


def test_a_title_s_min_and_max_have_the_digits_that_tell_them_apart():
    """A review: a map of 1000 plus noise of 1e-3 read 'min 1000   max
    1000'. The digits grow until the two differ (4 where they do); by hand:
    999.9995 and 1000.0005 differ at the 7th digit."""
    a = np.array([999.9995, 1000.0, 1000.0005]).reshape(1, 1, 3, 1)
    (line,) = plot._value_lines(a, a[0], None)
    low, high = line.split("min ")[1].split("   max ")
    assert f"{999.9995:.4g}" == f"{1000.0005:.4g}" and low != high and float(low) < float(high), line
    b = np.array([-0.97734, 2.2409]).reshape(1, 1, 2, 1)
    assert plot._value_lines(b, b[0], None)[0].endswith("min -0.9773   max 2.241")


def test_a_stretched_difference_keeps_its_panel_and_a_bad_sample_is_named():
    """A review of the gap inside difference panels: one of max(h, w) / 40
    on both axes of a 1 x 200 map (drawn stretched to its panel) left it
    a sixth of the panel high, a sliver again; each axis takes its own.
    With more than 64 channels a sample out of range raised IndexError
    before the sample was checked; and where more than 64 channels differ
    the title says how many were left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = rng().randn(1, 1, 200, 2)
    y = r.copy()
    y[0, 0, ::7, 0] += 1.0
    block = plot._difference_block(y, r, "conv1.Z", None, None, None, 1e-6, 1e-8)
    fig = plt.figure()
    plot._draw_grid(plot._matplotlib(), fig, block)
    ax = fig.axes[0]
    low, high = sorted(ax.get_ylim())
    assert high - low < 1.2, ax.get_ylim()  # one row and a gap of 1/40 of it each side
    plt.close(fig)
    r = rng().randn(4, 6, 6, 128)
    with pytest.raises(ConvcliError, match="sample 10 out of range"):
        plot._difference_block(r + 1, r, "conv1.Z", 10, None, None, 1e-6, 1e-8)
    y = r.copy()
    y[0, 0, 0, :98] += 1.0
    block = plot._difference_block(y, r, "conv1.Z", None, None, None, 1e-6, 1e-8)
    assert len(block.panels) == 64 and "64 of the 98 channels that differ drawn" in block.title


def test_a_given_sample_is_marked_at_its_own_first_difference_and_equal_errors_are_white():
    """A review: with a sample given and more than 64 channels, the mark
    (and a forced channel) came from the first difference of another
    sample: a black panel drawn, 63 of the differing ones. And errors all
    alike (every element off by 1) were drawn on a scale to 1.5, grey."""
    r = rng().randn(3, 4, 4, 128)
    y = r.copy()
    y[0, 0, 0, 100] += 1.0
    y[1, 1, 1, :70] += 1.0
    block = plot._difference_block(y, r, "conv1.Z", 1, None, None, 1e-6, 1e-8)
    assert [p.title for p in block.panels] == [f"channel {c}" for c in range(64)]
    assert [(p.title, p.mark) for p in block.panels if p.mark is not None] == [("channel 0", (1, 1))]
    a = rng().randn(1, 1, 4, 1)
    block = plot._difference_block(a + 1.0, a, "conv1.Z", None, None, None, 1e-6, 1e-8)
    assert (block.vmin, block.vmax) == (0.0, 1.0)
    # (a later review) a given sample that holds no difference draws the first 64, black, unmarked
    z = np.zeros((2, 2, 2, 100))
    w = z.copy()
    w[0, 0, 0, 80] = 1.0
    block = plot._difference_block(w, z, "conv1.Z", 1, None, None, 1e-6, 1e-8)
    assert len(block.panels) == 64 and all(p.mark is None for p in block.panels)


def test_rgb_weights_near_float64s_limits_and_large_constants_draw(tmp_path):
    """Two reviews' cases. An RGB kernel of 1e308: its colours were a / (2m)
    with 2m overflowing (every colour grey) and its colour bar's -m..m
    overflowed matplotlib's axis (exit 3); a 1e-300 one got a bar of +-0.1.
    A constant of 1e20: its scale of +-0.5 rounded away, every cell black
    under a bar that put the value mid-scale."""
    W = np.array([1e308, 0.5, -0.5]).reshape(1, 1, 3, 1)
    block = plot._in_range(plot._quantity_block(W, "W", None, None, "weights"))
    assert block.rgb
    np.testing.assert_allclose(block.panels[0].image[0, 0], [1.0, 0.5, 0.5])  # R at the top, G and B ~0
    assert (block.vmin, block.vmax) == (-1.0, 1.0) and block.colorbar_label.endswith("(x 1e308)")
    tiny = plot._in_range(plot._quantity_block(np.array([1e-300, 5e-301, -5e-301]).reshape(W.shape), "W", None,
                                               None, "weights"))
    assert (tiny.vmin, tiny.vmax) == (-1.0, 1.0) and tiny.colorbar_label.endswith("(x 1e-300)")
    read_png(plot.plot_quantity(W, "W", tmp_path / "w.png", kind="weights"), 600, 400)
    for value in (7.0, 1e20, 3e38, np.finfo(np.float64).max):
        lo, hi = plot._limits(np.full((1, 3, 3, 1), value), signed=False)
        assert lo < value < hi or (value == np.finfo(np.float64).max and lo < value == hi), value
        assert np.isfinite(hi)
    assert plot._limits(np.full((2, 2), 7.0), signed=False) == (6.5, 7.5)  # as ever
    for value in (1e20, np.finfo(np.float64).max):
        plot.plot_quantity(np.full((1, 4, 4, 1), value), "A", tmp_path / f"c{value:.0e}.png")
    # a map of one value: its colour bar's only tick, at that value (scaled with it near float64's
    # limits); a map of two values however close keeps matplotlib's ticks (a review: 3e5 and 3e5 + 1
    # got one tick, "300000", under half-black, half-white cells)
    for value in (7.0, 1e20):
        assert plot._quantity_block(np.full((1, 4, 4, 1), value), "A", None, None, None).tick == value
    top = plot._in_range(plot._quantity_block(np.full((1, 4, 4, 1), np.finfo(np.float64).max), "A", None,
                                              None, None))
    assert top.tick == np.finfo(np.float64).max / 1e308 and top.vmin < top.tick <= top.vmax
    two = np.full((1, 4, 4, 1), 3e5)
    two[0, :, 2:, 0] += 1
    assert plot._quantity_block(two, "A", None, None, None).tick is None
    assert plot._quantity_block(-np.full((1, 4, 4, 1), 2.0), "dA", None, None, None).tick is None  # signed


def test_the_values_written_in_cells_and_on_bars_tell_them_apart():
    """A review: a map of 300000 and 300001 had every cell written 3e+05
    (four significant digits), while its title said min 300000, max 300001.
    The texts take as many digits as tell the values apart (up to 8), where
    they still fit their cells; else none (a later review: four digits
    wrote "1" in every cell of values 1 to 1.0000002 drawn black to white;
    and an 11-character label, its digits counted 6.5 px wide where
    matplotlib draws them 7, ran into its neighbours)."""
    two = np.full((1, 4, 4, 1), 3e5)
    two[0, :, 2:, 0] += 1
    cells = plot._quantity_block(two, "A", None, None, None).panels[0].values
    assert {t for _, _, t in cells} == {"300000", "300001"}
    assert {t for _, _, t in plot._quantity_block(np.full((1, 4, 4, 1), 0.5), "A", None, None, None)
            .panels[0].values} == {"0.5"}  # no digits added where none are needed
    bars = plot._quantity_block(np.array([1.00001, 1.00002, 2.0]), "b", None, None, None).bar_text
    assert bars == ["1.00001", "1.00002", "2"]
    # too wide for its cells: no numbers rather than four digits that read alike
    many = np.arange(16, dtype=float).reshape(1, 4, 4, 1) * 1e-7 + 0.123456
    assert plot._telling_digits(many.ravel()) == 7  # 0.1234560 .. 0.1234575
    wide = plot._cell_values(many[0, :, :, 0], cell_px=70)  # "0.1234561": 8 chars of 7 px, "." 4, margin 6: 59
    assert wide is not None and {t for _, _, t in wide} >= {"0.1234561", "0.1234575"}
    assert plot._cell_values(many[0, :, :, 0], cell_px=50) is None
    near = 1.0 + np.array([[0, 1], [2, 1]]) * 1e-7
    assert plot._telling_digits(near.ravel()) == 8 and plot._cell_values(near, cell_px=40) is None
    assert plot._telling_digits([1.0, 1.0 + 1e-12]) is None  # 8 digits cannot tell them apart
    # (a code review) an ulp apart among values spread wider look alike: no need to tell them apart
    ulp = plot._cell_values(np.array([[0.1 + 0.2, 0.3], [5.0, 3.0]]), cell_px=60)
    assert ulp is not None and [t for *_, t in ulp] == ["0.3", "0.3", "5", "3"]
    huge = np.array([[-1.00047e9, -1.00048e9]])  # "-1.00047e+09": 4 + 7 + 4 + 5 * 7 + 7 + 9 + 2 * 7 = 80 px
    assert plot._cell_values(huge, cell_px=85) is None and plot._cell_values(huge, cell_px=86) is not None


# ----------------------------------------------------------------- a review of the pictures (twenty-third session)


def test_maps_that_fit_their_panels_are_drawn_whole():
    """A review: a lone 256 x 256 map (a 3-inch panel, ~300 pixels) and 64
    channels of 128 x 128 (1.5-inch panels, ~150) were shown at 1/2, a
    photo blocky, though each fit (SQUARE_FILLS: the least share of its
    panel a square map was measured to get). And drawn, each panel does
    hold at least its map's pixels."""
    for shape, n in (((256, 256), 1), ((128, 128), 64)):
        block = plot._quantity_block(rng().randn(1, *shape, n), "A", None, None, None)
        assert block.panels[0].image.shape == shape and not any("shown at" in line for line in block.title), shape
        mpl = plot._matplotlib()
        fig = mpl.Figure(figsize=(block.width, block.height), dpi=plot.DPI, layout="constrained")
        mpl.FigureCanvasAgg(fig)
        plot._draw_grid(mpl, fig, block)
        fig.canvas.draw()
        box = fig.axes[0].get_window_extent()
        assert box.width >= shape[1] and box.height >= shape[0], (shape, box)


def test_a_marked_element_of_a_large_map_keeps_its_colour():
    """A review: on maps past MARK_RING_ABOVE the first difference's
    one-pixel outline (1.5 points) covered the element whole: a NaN 'drawn
    magenta' had no magenta pixel. There it gets the ring only; small maps
    keep the outline."""
    mpl = plot._matplotlib()
    for size, outlined in ((128, False), (8, True)):
        ref = np.zeros((1, size, size, 1))
        yours = ref.copy()
        yours[0, size // 2, size // 3, 0] = np.nan
        block = plot._difference_block(yours, ref, "relu2.A", None, None, None, 0.0, 0.0)
        fig = mpl.Figure(figsize=(block.width, block.height), dpi=plot.DPI, layout="constrained")
        mpl.FigureCanvasAgg(fig)
        plot._draw_grid(mpl, fig, block)
        ax = fig.axes[0]
        assert any(isinstance(p, mpl.Rectangle) and p.get_width() == 1 for p in ax.patches) is outlined, size
        assert (len(ax.lines) == 1) is not outlined, size  # the ring
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba())[..., :3]
        magenta = (rgba[..., 0] > 200) & (rgba[..., 1] < 60) & (rgba[..., 2] > 200)
        assert magenta.any(), size


def test_a_difference_picture_draws_one_sample_and_says_which_element_is_boxed(tmp_path):
    """A review: each block drew its own sample (conv1.Z sample 0, relu2.A
    sample 3), and a title said 'first difference at [0, 0, 0, 0]' over a
    box at sample 3's first. Every batch is drawn at the sample with the
    most differences over them all (3 here: 5 + 5 against 1), where it has
    some; a box elsewhere than the first difference is said to be."""
    ref = np.zeros((4, 6, 6, 2))
    Z, A = ref.copy(), ref.copy()
    Z[0, 0, 0, 0] = 1.0  # the first difference, in sample 0
    Z[3, 1:, 5, 1] = 1.0  # 5 in sample 3
    A[3, 2, :5, 0] = 1.0  # 5 in sample 3
    W = np.zeros((3, 3, 2, 2))
    dW = W.copy()
    dW[1, 1, 0, 0] = 1.0  # weights have no sample
    blocks = []
    real = plot._render
    plot_render = lambda mpl, b, path, *a, **kw: (blocks.extend(b()), real(mpl, b, path, *a, **kw))  # noqa: E731
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plot, "_render", plot_render)
        plot_differences({"conv1.Z": (Z, ref), "relu2.A": (A, ref), "conv1.dW": (dW, W)}, tmp_path / "d.png")
    z, a, w = blocks
    assert [p.mark for p in z.panels] == [None, (1, 5)] and "sample 3" in z.title[0], z.title
    said = " ".join(line.strip() for line in z.title)  # (as wrapped to the picture's width)
    assert "max |error| 1   first difference at [0, 0, 0, 0]; boxed: [3, 1, 5, 1] (sample 3's first) " in said, said
    assert [p.mark for p in a.panels] == [(2, 0), None] and "sample 3" in a.title[0]
    assert a.title[1] == "max |error| 1   first difference at [3, 2, 0, 0]"
    assert "boxed" not in " ".join(w.title)


def test_samples_with_as_many_differences_go_to_the_one_with_the_worst(tmp_path):
    """A review: sample 0 with one error of 1e-3 and sample 2 with one of 5
    drew sample 0 (the first of the tie), its colour bar topping out at
    1e-3, and the 5 that check's text called the most appeared nowhere.
    Among samples with as many differing elements, the one whose worst is
    the farthest past the tolerance is drawn: alone, and for every batch."""
    ref = np.zeros((4, 6, 6, 3))
    Z = ref.copy()
    Z[0, 3, 3, 0] += 1e-3
    Z[2, 4, 4, 2] += 5.0
    block = plot._difference_block(Z, ref, "conv1.Z", None, None, None, 1e-6, 1e-8)
    title = " ".join(" ".join(block.title).split())
    assert "drawn: sample 2 (its max |error| 5)" in title, title
    assert [p.mark for p in block.panels] == [None, None, (4, 4)] and block.vmax == 5.0
    # the common sample of several batches: the tie (two each in samples 0 and 2) goes to sample 2's 5
    A = ref.copy()
    A[0, 1, 1, 1] += 1e-3
    A[2, 1, 1, 1] += 1e-3
    blocks = []
    real = plot._render
    plot_render = lambda mpl, b, path, *a, **kw: (blocks.extend(b()), real(mpl, b, path, *a, **kw))  # noqa: E731
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plot, "_render", plot_render)
        plot_differences({"conv1.Z": (Z, ref), "relu2.A": (A, ref)}, tmp_path / "d.png")
    z, a = blocks
    assert "sample 2" in z.title[0] and [p.mark for p in z.panels] == [None, None, (4, 4)], z.title
    assert "sample 2" in a.title[0] and [p.mark for p in a.panels] == [None, (1, 1), None], a.title
    # more differences still win over a larger error (the README's rule)
    more = ref.copy()
    more[1, 0, 0, 0] = more[1, 5, 5, 0] = 1e-3
    more[3, 2, 2, 1] = 9.0
    block = plot._difference_block(more, ref, "conv1.Z", None, None, None, 1e-6, 1e-8)
    assert "drawn: sample 1" in " ".join(" ".join(block.title).split())


def test_a_narrow_block_under_a_wide_one_keeps_its_own_width():
    """A review: in a stacked picture, conv1.dA_prev's 3 panels under
    conv1.Z's 64 were spread across the whole figure's width, channel 1
    580 px right of channel 0 and the colour bar 800 px from them. A block
    narrower than the figure is drawn at its own width, at the left."""
    Z, dA = rng().randn(2, 8, 8, 64), rng().randn(2, 8, 8, 3)
    wide = plot._difference_block(Z + 1.0, Z, "conv1.Z", None, None, None, 1e-6, 1e-8)
    narrow = plot._difference_block(dA + 1.0, dA, "conv1.dA_prev", None, None, None, 1e-6, 1e-8)
    assert narrow.width < wide.width
    fig, _ = plot._figure(plot._matplotlib(), [wide, narrow])
    fig.canvas.draw()
    block = fig.subfigs[1]
    axes = block.axes + [ax for sub in block.subfigs for ax in sub.axes]  # its maps and colour bar
    right = max(ax.get_window_extent().x1 for ax in axes) / fig.bbox.width
    assert len(axes) >= 4
    assert right <= narrow.width / wide.width + 0.02, (right, narrow.width / wide.width)


def test_a_large_map_s_mark_is_said_to_be_ringed():
    """A review: over a 300x300 map, whose mark is a ring (a pixel is too
    small to outline), the title said "boxed: [2, 0, 150, 1]"."""
    for side, word in ((300, "ringed"), (plot.MARK_RING_ABOVE, "boxed")):
        ref = np.zeros((3, side, side, 2))
        Z = ref.copy()
        Z[0, 0, 0, 0] = 1.0  # the first difference, in sample 0
        Z[2, 0, 7, 1] = Z[2, 1, 7, 1] = 1.0  # two in sample 2: drawn, marked at its first
        block = plot._difference_block(Z, ref, "conv1.Z", None, None, None, 1e-6, 1e-8)
        said = " ".join(" ".join(block.title).split())
        assert f"first difference at [0, 0, 0, 0]; {word}: [2, 0, 7, 1] (sample 2's first)" in said, said


def test_a_title_is_not_wrapped_at_a_hyphen():
    """A review: '--each-layer' was cut as '--each-' / 'layer'."""
    lines = plot._fit(["x" * 60 + " use --each-layer to grade each layer on your own inputs"], plot.MIN_WIDTH)
    assert any("--each-layer" in line for line in lines), lines


def test_a_dead_channel_is_said_and_a_map_of_zeros_alone_is_black():
    """A review: a channel of a dW exactly 0 looked like a faint one (white
    on the signed scale either way), and a ReLU map of zeros drawn alone
    came out mid-grey, where beside other maps it was black. Such a panel's
    title says '(all 0)'; unsigned zeros alone take the scale's bottom."""
    A = np.abs(rng().randn(1, 5, 5, 3))
    A[..., 1] = 0.0
    block = plot._quantity_block(A, "relu2.A", None, None, None)
    assert [p.title for p in block.panels] == ["channel 0", "channel 1 (all 0)", "channel 2"]
    alone = plot._quantity_block(A, "relu2.A", None, [1], None)
    assert (alone.vmin, alone.vmax) == (0.0, 1.0) and alone.tick == 0.0
    W = rng().randn(3, 3, 2, 3)
    W[..., 2] = 0.0
    block = plot._quantity_block(W, "conv1.dW", None, None, None)
    assert [p.title for p in block.panels] == ["out channel 0", "out channel 1", "out channel 2 (all 0)"]
    # a difference's panels say nothing so: black is no difference
    ref = np.zeros((1, 4, 4, 2))
    yours = ref.copy()
    yours[0, 1, 1, 0] = 1.0
    block = plot._difference_block(yours, ref, "conv1.Z", None, None, None, 0.0, 0.0)
    assert all("all 0" not in p.title for p in block.panels)


@pytest.mark.parametrize("n, aspect, difference", [
    (1, 1.0, False), (64, 1.0, False), (64, 1.0, True), (100, 2.0, False), (121, 1.3, False), (16, 2.0, False),
    (9, 2.0, True), (4, 0.5, False), (36, 0.77, True),
])
def test_the_largest_map_left_whole_gets_a_pixel_an_element(n, aspect, difference):
    """Two reviews: a map left whole but drawn in fewer pixels than it has is
    thinned by matplotlib, which drops rows and columns: 64 channels of
    128 x 128 in a difference picture (its panels lose a gap inside their
    frame) lost the one wrong element; tall maps of 100 panels and more,
    maps 1.3 times as high as wide of 121, lost rows. The largest map each
    panel count and shape leaves whole is drawn here, and its axes measured
    after matplotlib's layout: at least one pixel an element, both ways."""
    _, panel_w, panel_h = plot._panel_size(n, (round(100 * aspect), 100))
    square = aspect == 1.0
    fill = plot._panel_fill(n, difference, square)
    most_h, most_w = math.floor(fill * panel_h * plot.DPI), math.floor(fill * panel_w * plot.DPI)
    if square:
        h = w = min(most_h, most_w)
    else:
        w = min(most_w, int(most_h / aspect))
        h = min(max(1, int(w * aspect)), most_h)
    a = rng().rand(1, h, w, n)
    block = (plot._difference_block(a + 1, a, "x", None, None, None, 0.0, 0.0) if difference
             else plot._quantity_block(a, "x", 0, None, "maps"))
    assert block.panels[0].image.shape == (h, w)  # left whole
    mpl = plot._matplotlib()
    fig = mpl.Figure(figsize=(block.width, block.height), dpi=plot.DPI, layout="constrained")
    mpl.FigureCanvasAgg(fig)
    plot._draw_grid(mpl, fig, block)
    fig.canvas.draw()
    ax = fig.axes[0]
    box = ax.get_window_extent()
    (x0, x1), (y0, y1) = ax.get_xlim(), sorted(ax.get_ylim())
    assert box.width / (x1 - x0) >= 1 and box.height / (y1 - y0) >= 1, (box, (h, w))


def test_a_box_is_said_only_where_it_is_drawn_and_rgb_kernels_of_zeros_are_said():
    """A review: with channels chosen, the title said 'boxed: [1, 0, 0, 2]'
    over panels of channels 0 and 1, none boxed; and an RGB kernel of zeros
    had no '(all 0)'."""
    r = np.zeros((2, 4, 4, 3))
    y = r.copy()
    y[0, 0, 0, 0] = 1.0
    y[1, 0, 0, 2] = 1.0
    block = plot._difference_block(y, r, "conv1.Z", 1, [0, 1], None, 0.0, 0.0)
    assert "boxed" not in " ".join(block.title) and all(p.mark is None for p in block.panels)
    W = rng().randn(3, 3, 3, 2)
    W[..., 1] = 0.0
    assert [p.title for p in plot._quantity_block(W, "W1", None, None, None).panels] == [
        "out channel 0", "out channel 1 (all 0)"]


@pytest.mark.parametrize("n, side, difference", [(3, 224, False), (4, 224, False), (4, 214, True), (1, 330, False),
                                                 (2, 300, True), (4, 420, False)])
def test_a_lone_element_is_drawn_whatever_its_panel_came_out_as(tmp_path, monkeypatch, n, side, difference):
    """A pictures review: an RGB input of 224x224 (3 or 4 channels), zeros
    but one 1.0 a channel, drawn whole on panels of ~213 pixels (estimated
    at 228): matplotlib thinned the map, and two channels' 1.0 came out
    black; a difference of 214x214 lost one of three wrong elements. The
    picture is now measured once laid out and planned again where a panel
    got fewer pixels than its map has. Checked here on the PNG's pixels:
    each panel holds a pixel unlike its background (the rows placed where
    the review's pictures dropped them)."""
    rows = [25, 44, 6, 20, 107 % side]
    a = np.zeros((1, side, side, n))
    for c in range(n):
        a[0, rows[c], (37 * c + 10) % side, c] = 1.0
    figures, laid_out = [], []
    real, real_figure = plot._save, plot._figure
    monkeypatch.setattr(plot, "_save", lambda fig, *args, **kw: (figures.append(fig), real(fig, *args, **kw)))
    monkeypatch.setattr(plot, "_figure", lambda *args: laid_out.append(1) or real_figure(*args))
    if difference:
        plot.plot_difference(a, np.zeros_like(a), "conv1.Z", tmp_path / "d.png")
    else:
        plot.plot_quantity(a, "A_prev", tmp_path / "q.png")
    (fig,) = figures
    # (a review: planned again at 2% less room, the same images were laid out three more times)
    assert len(laid_out) <= 2
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == n
    for c, ax in enumerate(panels):
        # the image's own pixels: inside the axes, and inside a difference's gap (its frame's colour)
        box, h, w = ax.get_window_extent(), *ax.images[0].get_array().shape[:2]
        (x0, x1), (y1, y0) = ax.get_xlim(), ax.get_ylim()
        left = box.x0 + (-0.5 - x0) / (x1 - x0) * box.width
        right = box.x0 + (w - 0.5 - x0) / (x1 - x0) * box.width
        low = box.y0 + (y1 - (h - 0.5)) / (y1 - y0) * box.height
        high = box.y0 + (y1 + 0.5) / (y1 - y0) * box.height
        top, bottom = pixels.shape[0] - math.ceil(high) + 2, pixels.shape[0] - math.floor(low) - 2
        inside = pixels[top:bottom, math.floor(left) + 2:math.ceil(right) - 2].reshape(-1, 3)
        colours, counts = np.unique(inside, axis=0, return_counts=True)
        background = colours[np.argmax(counts)]
        assert (np.abs(inside - background).sum(axis=1) > 60).any(), f"channel {c}: its 1.0 not drawn"


def test_a_differences_cells_within_tolerance_carry_no_number():
    """A pictures review: every element off by 3e-9 (within atol 1e-8) and
    one by 0.5; the cells within tolerance are drawn black, and were
    written "0", which they are not. Only the cell that differs is written."""
    ref = rng().randn(1, 3, 3, 1)
    yours = ref + 3e-9
    yours[0, 1, 2, 0] += 0.5
    block = plot._difference_block(yours, ref, "pool1.A", None, None, None, 1e-6, 1e-8)
    (panel,) = block.panels
    assert [(r, c) for r, c, _ in panel.values] == [(1, 2)]
    assert float(panel.values[0][2]) == pytest.approx(0.5, rel=1e-6)


def test_panel_titles_never_overlap_and_a_scale_of_nothing_is_not_drawn(tmp_path, monkeypatch):
    """A pictures review: 64 kernels of out channels 96-159, all 0, titled
    "out channel 100 (all 0)" on 1.5-inch panels: the titles ran into each
    other and the first column's was cut at the figure's edge. And a
    difference whose drawn sample differs only by a NaN had a colour bar
    of 0..1 standing for no value drawn."""
    figures = []
    real = plot._save
    monkeypatch.setattr(plot, "_save", lambda fig, *args, **kw: (figures.append(fig), real(fig, *args, **kw)))
    W = rng().randn(3, 3, 4, 256)
    W[..., 96:160] = 0
    plot.plot_quantity(W, "W", tmp_path / "w.png", channels=list(range(96, 160)))
    fig = figures[-1]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [ax.title.get_window_extent(renderer) for ax in fig.axes if ax.get_title()]
    assert len(boxes) == 64
    width = fig.bbox.width
    for i, a in enumerate(boxes):
        assert 0 <= a.x0 and a.x1 <= width, (i, a)
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)
    r = np.zeros((2, 4, 4, 2))
    y = r.copy()
    y[0, 1, 1, 0] = np.nan
    plot.plot_difference(y, r, "conv1.Z", tmp_path / "d.png")
    assert len(figures[-1].axes) == 2  # the two panels, no colour bar's axes


def test_a_differences_bars_within_tolerance_carry_no_number():
    """A review of the cells' fix: a bias's bars within tolerance (3e-9
    under atol 1e-8) were still labelled 0, and check --plot draws a db so."""
    r = rng().randn(8)
    y = r + 3e-9
    y[2] += 0.5
    block = plot._difference_block(y, r, "conv1.db", None, None, None, 1e-6, 1e-8)
    assert [t for t in block.bar_text if t] == [block.bar_text[2]]
    assert float(block.bar_text[2]) == pytest.approx(0.5, rel=1e-6)


def test_a_channel_with_a_nan_is_among_those_drawn():
    """A review: of 71 channels that differ, the first 64 were drawn and
    a NaN in channel 90 was not; channels with a NaN or an infinity are
    drawn first (then the others, up to 64, in order)."""
    ref = np.zeros((1, 4, 4, 100))
    yours = ref.copy()
    yours[0, 1, 1, :70] = 1.0
    yours[0, 2, 2, 90] = np.nan
    d = plot._difference_block(yours, ref, "relu1.A", None, None, None, 0.0, 0.0)
    titles = [panel.title for panel in d.panels]
    assert len(titles) == 64 and "channel 90" in titles and titles[:63] == [f"channel {c}" for c in range(63)]
    assert "drawn magenta" in " ".join(d.title)


def test_a_picture_of_many_quantities_draws_fewer_channels_of_each(tmp_path, monkeypatch):
    """check --plot of 12 wrong quantities of 64 channels drew 768 panels
    in 34 s (1.2 s to check): past PANELS_IN_ALL in all, each quantity of
    channels gets an equal share, at least FEWEST_EACH, of the channels
    that differ (those with a NaN first), and its title says so; fewer
    quantities still get every channel up to MAX_PANELS. (Smaller budgets
    here than the shipped 128 and 8, to draw fewer panels.)"""
    monkeypatch.setattr(plot, "PANELS_IN_ALL", 20)
    monkeypatch.setattr(plot, "FEWEST_EACH", 3)
    ref = rng().randn(2, 4, 4, 9)
    wrong = ref.copy()
    wrong[:, :, :, 1:] += 1.0  # channel 0 right: never drawn where others differ
    wrong[1, 2, 2, 8] = np.nan
    blocks = []
    real = plot._render
    monkeypatch.setattr(plot, "_render", lambda mpl, b, path, *a, **kw: (blocks.extend(b()),
                                                                         real(mpl, b, path, *a, **kw)))

    def drawn(n):
        blocks.clear()
        pairs = {f"conv{k}.Z": (wrong, ref) for k in range(1, n + 1)}
        pairs["conv1.db"] = (np.ones(5), np.zeros(5))  # bars: no share of the panels
        plot_differences(pairs, tmp_path / "d.png", overwrite=True)
        assert (tmp_path / "d.png").stat().st_size > 0
        return [b for b in blocks if b.kind == "grid"]

    grids = drawn(4)  # 20 // 4: 5 each
    assert [len(b.panels) for b in grids] == [5] * 4
    assert [p.title for p in grids[0].panels] == [f"channel {c}" for c in (1, 2, 3, 4, 8)]  # the NaN's 8 first
    said = " ".join(" ".join(grids[0].title).split())
    assert "5 of the 8 channels that differ drawn (20 panels shared among the 4 quantities of channels that " \
           "differ)" in said, said
    assert [len(b.panels) for b in drawn(10)] == [3] * 10  # FEWEST_EACH
    grids = drawn(2)  # 10 each: all 9 channels, the right one too, as before
    assert [len(b.panels) for b in grids] == [9, 9] and "channels that differ drawn" not in str(grids[0].title)
    # what a quantity of one channel leaves goes to the others (a review: 42 of 128 drawn beside two of 1)
    blocks.clear()
    one = (np.ones((2, 4, 4, 1)), np.zeros((2, 4, 4, 1)))
    plot_differences({"conv1.Z": (wrong, ref), "conv2.Z": (wrong, ref), "relu3.A": one, "relu4.A": one,
                      "relu5.A": one}, tmp_path / "d.png", overwrite=True)
    assert [len(b.panels) for b in blocks] == [8, 9, 1, 1, 1], [len(b.panels) for b in blocks]  # 17 of 20 left


def test_the_differences_in_chunks_are_the_whole_arrays(monkeypatch):
    """A review: a 64x224x224x64 check --plot took 38 s and 2.8 GB more
    than the check, in whole-array temporaries; they now go a few samples
    at a time (DIFF_CHUNK_ELEMENTS). Chunks of 7 elements against the
    definition (check.compare's: beyond atol + rtol*|r|, NaN matching NaN
    and an infinity itself) and against one chunk, with NaN, infinities and
    an atol of each element's."""
    r = rng().randn(5, 3, 4, 2)
    y = r + rng().randn(*r.shape) * 1e-3
    r[0, 0, 0, 0], y[0, 0, 0, 0] = np.nan, np.nan  # same
    r[1, 1, 1, 1], y[1, 1, 1, 1] = np.inf, np.inf  # same
    r[2, 2, 2, 0], y[2, 2, 2, 0] = np.inf, 1.0  # differs
    y[3, 0, 1, 1] = np.nan  # differs
    atol = np.abs(rng().randn(*r.shape)) * 1e-3
    with np.errstate(invalid="ignore"):
        within = np.isfinite(r) & (np.abs(y - r) <= atol + 1e-6 * np.abs(r))
    same = (np.isnan(y) & np.isnan(r)) | (np.isinf(y) & (y == r))
    expected = ~(within | same)
    assert expected.any() and not expected.all()
    whole = plot._difference_block(y, r, "conv1.Z", None, None, None, 1e-6, atol)
    monkeypatch.setattr(plot, "DIFF_CHUNK_ELEMENTS", 7)
    differs = plot._differs(y, r, 1e-6, atol)
    np.testing.assert_array_equal(differs, expected)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.nan_to_num(np.abs(y - r) / (atol + 1e-6 * np.abs(r)), nan=np.inf)
    worst = np.where(expected, ratio, 0.0).reshape(5, -1).max(axis=1)
    np.testing.assert_array_equal(plot._excess(y, r, 1e-6, atol, differs), worst)
    np.testing.assert_array_equal(plot._excess(y, r, 1e-6, atol, differs, [4, 2]), worst[[4, 2]])
    chunked = plot._difference_block(y, r, "conv1.Z", None, None, None, 1e-6, atol)
    assert chunked.title == whole.title
    for a, b in zip(chunked.panels, whole.panels):
        np.testing.assert_array_equal(a.image, b.image)
