"""Pictures through the command line: ``plot``, ``forward/backward --plot``,
``check --against --plot``, and the one line a user without matplotlib gets.

Expected PNG sizes follow the rule in convcli/plot.py's docstring (DPI 100,
every length a multiple of 1/4 inch; two title lines, a third for the
range of the sample drawn of a batch of several, three for a difference);
the arithmetic is spelled out once, in SIZES.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import convcli
from convcli.plot import file_name
from conftest import require
from test_cli_helpers import CONFIGS, assert_error, run, tree, write

require("matplotlib", "pip install -e '.[plot]'")
from matplotlib.image import imread  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# The weights are called "kernels": only their role in the conv layer makes
# them weights (by name alone they would be drawn as a batch of maps).
CONFIG = """\
seed: 0
inputs:
  A_prev: {random: [2, 6, 6, 2]}
  kernels: {random: [3, 3, 2, 6]}
  bias: {random: [6]}
layers:
  - {type: conv, W: kernels, b: bias, pad: 1}
  - {type: relu}
  - {type: pool, f: 2}
backward:
  grad: random
"""

# Maps of 2 samples: three title lines, 0.25 * (3 + 1) = 1 in.
MAPS_2 = (600, 325)  # 2 channels: 2 x 1 panels of 2 in; width max(6, 2*2 + 1); height 1 + 2.25
MAPS_6 = (700, 550)  # 6 channels: 3 x 2 panels; width 3*2 + 1; height 1 + 2*(2 + 0.25)
# 6 output channels: 3 x 2 panels, each a mosaic of 2 input channels = 1 x 2 tiles of 3x3
# (3 x 6 pixels, aspect 1/2 -> 1 in high); height 0.75 + 2*(1 + 0.25)
WEIGHTS = (700, 325)
BARS = (600, 375)  # 6 bars: width clamp(2 + 0.25*6, 6, 16); height 0.75 + 3

SIZES = {
    "A_prev": MAPS_2, "kernels": WEIGHTS, "bias": BARS,
    "conv1.Z": MAPS_6, "relu2.A": MAPS_6, "pool3.A": MAPS_6, "pool3.dA": MAPS_6,
    "conv1.dA_prev": MAPS_2, "conv1.dW": WEIGHTS, "conv1.db": BARS,
    "relu2.dA_prev": MAPS_6, "pool3.dA_prev": MAPS_6,
}
FORWARD = ["A_prev", "kernels", "bias", "conv1.Z", "relu2.A", "pool3.A"]


def read_png(path, size):
    """Check ``path`` is a PNG of ``size`` (width, height), not one flat colour; return its RGB."""
    assert path.read_bytes()[:8] == PNG_MAGIC, path
    image = imread(path)
    width, height = size
    assert image.shape[:2] == (height, width), (path.name, image.shape)
    rgb = image[..., :3]
    assert (rgb != rgb[0, 0]).any(), f"{path.name}: every pixel has the same colour"
    return rgb


@pytest.fixture
def cfg(tmp_path):
    return write(tmp_path, CONFIG)


def no_compute(monkeypatch):
    """Fail the test if a command gets as far as running the layers."""
    monkeypatch.setattr("convcli.runner.run", lambda *a, **k: pytest.fail("ran the layers"))


# --------------------------------------------------------------------- plot


@pytest.mark.parametrize("quantity, args, size", [
    ("A_prev", [], MAPS_2),
    ("kernels", [], WEIGHTS),  # an input used as a conv's W: weights, whatever its name
    ("bias", [], BARS),
    ("conv1.Z", ["--sample", "1"], MAPS_6),
    ("conv1.dW", [], WEIGHTS),
    ("conv1.db", [], BARS),
    ("pool3.dA_prev", ["--channels", "0,2-3"], (600, 550)),  # 3 panels: 2 x 2
])
def test_plot_each_kind(tmp_path, cfg, quantity, args, size):
    png = tmp_path / "q.png"
    result = run(["plot", cfg, "--quantity", quantity, "--out", png, *args])
    assert result.exit_code == 0, result.stderr
    assert f"wrote {png}: {quantity}" in result.stdout
    read_png(png, size)


def test_plot_gradient_is_diverging_and_rgb_weights(tmp_path):
    stack = CONFIGS / "stack.yaml"
    png = tmp_path / "dA_prev.png"
    assert run(["plot", stack, "-q", "conv1.dA_prev", "-o", png]).exit_code == 0
    rgb = read_png(png, (600, 550))  # 3 channels: 2 x 2 panels of 8x8; 3 title lines (4 samples)
    red, blue = rgb[..., 0], rgb[..., 2]
    assert ((red - blue) > 0.3).any() and ((blue - red) > 0.3).any(), "blue-white-red centred on 0"

    png = tmp_path / "W1.png"
    assert run(["plot", stack, "-q", "W1", "-o", png]).exit_code == 0
    rgb = read_png(png, (600, 525))  # 4 output channels of 3x3x3: colour images, 2 x 2
    saturation = rgb.max(axis=-1) - rgb.min(axis=-1)
    assert (saturation > 0.2).sum() > 1000, "kernels over 3 input channels drawn as colour images"


def test_plot_json_and_nested_out(tmp_path, cfg):
    png = tmp_path / "a" / "b" / "Z.png"
    result = run(["plot", cfg, "-q", "conv1.Z", "--out", png, "--json", "--channels", "1"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    sha = hashlib.sha256(Path(cfg).read_bytes()).hexdigest()  # the config's, as a grader's log keys it
    assert doc == {"ok": True, "config": str(cfg), "convcli": convcli.__version__, "config_sha256": sha,
                   "out": str(png),
                   "quantity": "conv1.Z", "shape": [2, 6, 6, 6], "sample": 0, "channels": [1]}
    read_png(png, (600, 425))  # one panel of 3 in: 1 + 3.25 (the third line: the range drawn)
    # what was drawn, not what was asked (it said null for the sample and the channels)
    doc = json.loads(run(["plot", cfg, "-q", "conv1.Z", "--out", png, "--json", "--force"]).stdout)
    assert (doc["sample"], doc["channels"]) == (0, [0, 1, 2, 3, 4, 5])
    doc = json.loads(run(["plot", cfg, "-q", "conv1.dW", "--out", png, "--json", "--force"]).stdout)
    assert (doc["sample"], doc["channels"]) == (None, [0, 1, 2, 3, 4, 5])  # weights: no batch
    # (a learner's review) -1 is the last sample, as NumPy counts, and a channel given twice is drawn once
    doc = json.loads(run(["plot", cfg, "-q", "conv1.Z", "--out", png, "--json", "--force", "--sample", "-1",
                          "--channels", "1,0-2,1"]).stdout)
    assert (doc["sample"], doc["channels"]) == (1, [1, 0, 2])


def test_plot_failure_removes_the_folders_it_made(tmp_path, cfg):
    before = tree(tmp_path)
    result = run(["plot", cfg, "-q", "conv1.Z", "--out", tmp_path / "a" / "b" / "Z.png", "--sample", "2"])
    assert_error(result, "--sample: sample 2 out of range")
    assert tree(tmp_path) == before


def test_plot_refuses_before_computing(tmp_path, cfg, monkeypatch):
    no_compute(monkeypatch)
    assert_error(run(["plot", cfg, "-q", "conv1.Z", "--out", tmp_path / "Z.pdf"]), "Z.pdf", "end", ".png")
    (tmp_path / "Z.png").write_bytes(b"mine")
    assert_error(run(["plot", cfg, "-q", "conv1.Z", "--out", tmp_path / "Z.png"]), "already exists", "--force")
    assert (tmp_path / "Z.png").read_bytes() == b"mine"
    # a folder is said to be one, named .png or not (it was "pictures are PNG" for out/)
    (tmp_path / "pics").mkdir()
    for folder in (tmp_path / "pics", tmp_path / "pics.png"):
        folder.mkdir(exist_ok=True)
        assert_error(run(["plot", cfg, "-q", "conv1.Z", "--out", folder]), "is a folder; give a file name ending in .png")


@pytest.mark.parametrize("channels, fragment", [
    # 3 million channels were listed before their range was checked (the review's 0-300000000: 12 GB)
    ("0-3000000", "--channels: channel 3000000 out of range for conv1.Z of shape (2, 6, 6, 6) (channels 0..5)"),
    ("6", "channel 6 out of range for conv1.Z"),
    ("3-1", "--channels: the range 3-1 is reversed; write 1-3"),
    ("1,x", "--channels: expected channels like 0,1,5-7, got '1,x'"),
    # (1024 panels took 40 s to draw, each too small to read: plot_quantity's own test counts repeats; the
    # command draws each channel once)
])
def test_plot_channels_are_checked_before_computing(tmp_path, cfg, monkeypatch, channels, fragment):
    no_compute(monkeypatch)
    before = tree(tmp_path)
    assert_error(run(["plot", cfg, "-q", "conv1.Z", "--out", tmp_path / "Z.png", "--channels", channels]), fragment)
    assert tree(tmp_path) == before


def test_plot_channels_of_a_one_number_quantity_are_refused_before_they_are_listed(tmp_path, monkeypatch):
    """One number has no channel axis to bound --channels 0-3000000: the
    quantity is refused as undrawable before the range is written out (3
    million ints, 100 MB) and before anything is computed."""
    import tracemalloc

    no_compute(monkeypatch)
    cfg = write(tmp_path, "inputs:\n  A_prev: {random: [1, 4, 4, 3]}\n  s: {value: 5}\nlayers: [{type: relu}]\n")
    before = tree(tmp_path)
    tracemalloc.start()
    try:
        result = run(["plot", cfg, "-q", "s", "--out", tmp_path / "s.png", "--channels", "0-3000000"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_error(result, "s: cannot draw shape (): expected NHWC maps")
    assert peak < 10 << 20, peak
    assert tree(tmp_path) == before


# --------------------------------------------------------------------- forward / backward --plot


def test_backward_plot_writes_one_png_per_quantity(tmp_path, cfg):
    out = tmp_path / "out"
    result = run(["backward", cfg, "--out", out, "--plot"])
    assert result.exit_code == 0, result.stderr
    assert "wrote 12 arrays (npy), 12 pictures in plots/, summary.json and expected.yaml" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["quantities"]) == list(SIZES)
    assert sorted(p.name for p in (out / "plots").iterdir()) == sorted(file_name(q) for q in SIZES)
    for q, size in SIZES.items():
        assert summary["quantities"][q]["plot"] == f"plots/{file_name(q)}"
        read_png(out / "plots" / file_name(q), size)
    assert "plot" in summary["timings"]
    assert not [p for p in tree(tmp_path) if p.startswith(".")], "staging folder left behind"


def test_forward_plot_json_h5(tmp_path, cfg):
    out = tmp_path / "out"
    result = run(["forward", cfg, "--out", out, "--plot", "--json", "--format", "h5"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert {q: d["plot"] for q, d in doc["quantities"].items()} == {q: f"plots/{q}.png" for q in FORWARD}
    assert sorted(p.name for p in (out / "plots").iterdir()) == sorted(f"{q}.png" for q in FORWARD)
    assert sorted(p.name for p in out.iterdir()) == ["expected.yaml", "outputs.h5", "plots", "summary.json"]


def test_forward_plot_draws_every_quantity_it_can_and_names_the_rest(tmp_path):
    """A review: an input no layer uses, of a shape no picture draws (2, 2),
    failed the whole --plot run (exit 2, nothing written, its WHERE no file
    or key). The rest are drawn; it is named, with why, in the report and
    summary.json (and a run that reloads the folder sees it as convcli's)."""
    cfg = write(tmp_path, "inputs:\n  A_prev: {random: [1, 3, 3, 1]}\n  K: {random: [2, 2]}\n"
                          "layers:\n  - {type: relu}\n")
    out = tmp_path / "out"
    result = run(["forward", cfg, "--out", out, "--plot"])
    assert result.exit_code == 0, result.stderr
    assert "2 pictures in plots/ (not drawn: K: cannot draw shape (2, 2): expected NHWC maps" in result.stdout
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["A_prev.png", "relu1.A.png"]
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["plot_not_drawn"]) == ["K"] and "plot" not in summary["quantities"]["K"]
    assert run(["forward", cfg, "--out", out, "--plot", "--force"]).exit_code == 0  # its own folder, replaced


def test_backward_without_plot_draws_nothing(tmp_path, cfg):
    out = tmp_path / "out"
    assert run(["backward", cfg, "--out", out]).exit_code == 0
    assert not (out / "plots").exists()
    assert "plot" not in json.loads((out / "summary.json").read_text())["quantities"]["conv1.Z"]


def test_backward_plot_failure_leaves_nothing(tmp_path, cfg, monkeypatch):
    from convcli import plot
    from convcli.errors import ConvcliError

    calls = []

    def failing_save(fig, path, shown=None, overwrite=True):
        calls.append(path)
        if len(calls) == 3:
            raise ConvcliError(str(path), "cannot write: No space left on device")
        real_save(fig, path, shown)

    real_save = plot._save
    monkeypatch.setattr(plot, "_save", failing_save)
    before = tree(tmp_path)
    result = run(["backward", cfg, "--out", tmp_path / "new" / "out", "--plot"])
    assert_error(result, "No space left on device")
    assert len(calls) == 3
    assert tree(tmp_path) == before


def test_backward_plot_write_error_names_the_png_under_out(tmp_path, cfg, monkeypatch):
    """A PNG that cannot be written (ulimit -f, a full disk) is named where
    the user asked for it, under --out, not in the staging folder that is
    removed with the failure."""
    import errno

    from matplotlib.figure import Figure

    def too_large(self, *args, **kwargs):
        raise OSError(errno.EFBIG, "File too large")

    monkeypatch.setattr(Figure, "savefig", too_large)
    out = tmp_path / "out"
    before = tree(tmp_path)
    line = assert_error(run(["backward", cfg, "--out", out, "--plot"]), "cannot write: File too large")
    first = next(iter(json.loads(run(["shapes", cfg, "--json"]).stdout)["inputs"]))  # the first quantity drawn
    assert line == f"convcli: error: {out}/plots/{first}.png: cannot write: File too large"
    assert tree(tmp_path) == before


# --------------------------------------------------------------------- check --against --plot


def _mine(tmp_path, cfg) -> tuple:
    """convcli's own arrays, and a folder for 'yours' to start from."""
    ours = tmp_path / "ours"
    assert run(["backward", cfg, "--out", ours]).exit_code == 0
    mine = tmp_path / "mine"
    mine.mkdir()
    return ours, mine


def test_check_plot_draws_the_quantities_that_differ(tmp_path, cfg):
    ours, mine = _mine(tmp_path, cfg)
    Z = np.load(ours / "conv1.Z.npy")
    Z[:, [0, -1], :, :] += 1.0  # a border mistake (padding): a frame
    Z[:, 1:-1, [0, -1], :] += 1.0
    np.save(mine / "conv1.Z.npy", Z)
    dW = np.load(ours / "conv1.dW.npy")
    dW[2, 1, 1, 4] += 0.5
    np.save(mine / "conv1.dW.npy", dW)
    shutil.copy(ours / "conv1.db.npy", mine)  # right: not drawn
    np.save(mine / "pool3.A.npy", np.zeros((2, 2, 2, 6)))  # wrong shape: cannot be drawn

    png = tmp_path / "diff.png"
    result = run(["check", cfg, "--against", mine, "--plot", png])
    assert result.exit_code == 1, result.stderr
    assert (f"wrote {png}: |yours - convcli's| of conv1.Z, conv1.dW "
            "(not drawn, their shapes differ: pool3.A)") in result.stdout
    # on top a note of one line naming pool3.A, not drawn (0.25*(1 + 2) in); then one block
    # below the other, each with three title lines (0.25*4 in), conv1.Z's with a fourth naming
    # the samples that differ: conv1.Z 6 channels: 1.25 + 2*(2 + 0.25); conv1.dW mosaics (as
    # WEIGHTS): 1 + 2*(1 + 0.25), and check's note on it (fix the forward first) in three lines;
    # each block's count line ("... the errors within them drawn black") wrapped in two at
    # 7 inches (82 characters), and conv1.dW's head (its tiles, 2 a row) too; pool3.A's note says
    # the stride or window that makes its shape, not its numbers, three lines more (check's count of
    # the elements that differ is left out of its notes: the title's lines count them)
    rgb = read_png(png, (700, 75 + 575 + 350 + 75 + 3 * 25 + 3 * 25 + 25))  # + the drawn sample's max error
    assert (np.abs(rgb - (1, 0, 0)).max(axis=-1) < 0.12).any(), "first difference outlined in red"

    result = run(["check", cfg, "--against", mine, "--plot", png, "--force", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["plot"] == {"out": str(png), "drawn": ["conv1.Z", "conv1.dW"],
                                                 "not_drawn": ["pool3.A"]}


def test_check_plot_when_nothing_differs(tmp_path, cfg):
    ours, mine = _mine(tmp_path, cfg)
    for q in ("conv1.Z", "conv1.dW"):
        shutil.copy(ours / f"{q}.npy", mine)
    png = tmp_path / "same" / "diff.png"  # a missing folder is made
    result = run(["check", cfg, "--against", mine, "--plot", png])
    assert result.exit_code == 0, result.stderr
    assert f"wrote {png}: no array differs" in result.stdout
    read_png(png, (600, 100))  # a one-line note


def test_check_plot_needs_against(tmp_path, cfg, monkeypatch):
    no_compute(monkeypatch)
    before = tree(tmp_path)
    assert_error(run(["check", cfg, "--plot", tmp_path / "d.png"]), "--plot:", "--against PATH")
    assert tree(tmp_path) == before


def test_check_plot_refuses_bad_or_existing_file(tmp_path, cfg, monkeypatch):
    ours, mine = _mine(tmp_path, cfg)
    shutil.copy(ours / "conv1.Z.npy", mine)
    no_compute(monkeypatch)
    assert_error(run(["check", cfg, "--against", mine, "--plot", tmp_path / "d.jpg"]),
                 f"--plot {tmp_path / 'd.jpg'}: ", ".png")
    (tmp_path / "d.png").write_bytes(b"mine")
    assert_error(run(["check", cfg, "--against", mine, "--plot", tmp_path / "d.png"]),
                 f"--plot {tmp_path / 'd.png'}: already exists", "--force")
    assert (tmp_path / "d.png").read_bytes() == b"mine"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.parametrize("through_a_link", [False, True])
def test_a_png_path_that_is_a_fifo_or_links_to_one_is_refused_with_force(tmp_path, cfg, monkeypatch, through_a_link):
    """A review: ``plot --force`` through a link to /dev/null made /dev/null a
    PNG (the picture is renamed over whatever the path names). A device, a
    FIFO or a socket is refused, --force or not, before any computing; the
    FIFO stands for them all here (making a device needs root)."""
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    target = fifo
    if through_a_link:
        target = tmp_path / "link.png"
        target.symlink_to(fifo)
    ours, mine = _mine(tmp_path, cfg)
    shutil.copy(ours / "conv1.Z.npy", mine)
    no_compute(monkeypatch)
    for args, option in ((["plot", cfg, "-q", "conv1.Z", "--out", target], "--out"),
                         (["check", cfg, "--against", mine, "--plot", target], "--plot")):
        assert_error(run([*args, "--force"]), f"{option} {target}: is not a regular file (a device, a FIFO or a socket)")
    assert fifo.is_fifo() and (not through_a_link or target.is_symlink())
    # the library, called directly, refuses it too (and again just before it renames the PNG into place)
    from convcli import plot as plots
    from convcli.errors import ConvcliError

    with pytest.raises(ConvcliError, match="is not a regular file"):
        plots.plot_quantity(np.ones((1, 3, 3, 1)), "A", target)
    assert fifo.is_fifo()


@pytest.mark.parametrize("below", ["x.png", "sub/x.png"])
@pytest.mark.parametrize("place", ["a file", "a folder it may not write"])
def test_plot_out_it_cannot_write_is_refused_before_computing(tmp_path, cfg, monkeypatch, below, place):
    """It used to compute, then say the folder "does not exist" (under a
    file), or (a review's campaign, as a user without write access) name the
    bare path. Tests run as root, who may write anywhere, so the folder's
    access is what the OS would say to a user: os.access denies it."""
    if place == "a file":
        (tmp_path / "afile").write_text("mine")
        above, why = tmp_path / "afile", f"cannot create it: {tmp_path / 'afile'} is a file, not a folder"
    else:
        (tmp_path / "ro").mkdir()
        real = os.access
        monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path) != tmp_path / "ro" and real(path, mode))
        above, why = tmp_path / "ro", f"cannot write in {tmp_path / 'ro'}: permission denied"
    no_compute(monkeypatch)
    before = tree(tmp_path)
    out = above / below
    assert_error(run(["plot", cfg, "-q", "conv1.Z", "--out", out]), f"--out {out}: {why}")
    assert tree(tmp_path) == before


LONG = "a" * 300  # one name longer than any file system's 255 bytes: ENAMETOOLONG


@pytest.mark.parametrize("command, option", [
    (["plot", "{cfg}", "-q", "conv1.Z", "--out", "{tmp}/" + LONG + ".png"], "--out"),
    (["plot", "{cfg}", "-q", "conv1.Z", "--out", "{tmp}/" + LONG + "/Z.png"], "--out"),
    (["check", "{cfg}", "--against", "{tmp}/mine", "--plot", "{tmp}/" + LONG + ".png"], "--plot"),
])
def test_a_png_name_too_long_is_a_user_error(tmp_path, cfg, monkeypatch, command, option):
    """Path.exists() raises OSError for a name the OS refuses (Python 3.11)."""
    (tmp_path / "mine").mkdir()
    np.save(tmp_path / "mine" / "conv1.Z.npy", np.zeros((2, 6, 6, 6)))
    no_compute(monkeypatch)
    before = tree(tmp_path)
    args = [a.format(cfg=cfg, tmp=tmp_path) for a in command]
    line = assert_error(run(args), f"{option}: {str(tmp_path)[:10]}", "...aaaa", ": File name too long")
    assert len(line) < 200, line
    assert tree(tmp_path) == before


# --------------------------------------------------------------------- without matplotlib

HINT = "needs matplotlib: pip install matplotlib (from convcli's clone: pip install -e '.[plot]')"


@pytest.fixture
def no_matplotlib(monkeypatch):
    """As if the plot extra were not installed: importing matplotlib fails."""
    for module in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


@pytest.mark.parametrize("command", [
    ["plot", "{cfg}", "-q", "conv1.Z", "--out", "{tmp}/Z.png"],
    ["plot", "{cfg}", "-q", "conv1.Z"],
    ["backward", "{cfg}", "--out", "{tmp}/out", "--plot"],
    ["forward", "{cfg}", "--out", "{tmp}/out", "--plot"],
    ["check", "{cfg}", "--against", "{tmp}/mine", "--plot", "{tmp}/d.png"],
])
def test_missing_extra_one_line(tmp_path, cfg, monkeypatch, no_matplotlib, command):
    (tmp_path / "mine").mkdir()
    np.save(tmp_path / "mine" / "conv1.Z.npy", np.zeros((2, 6, 6, 6)))
    monkeypatch.chdir(tmp_path)
    no_compute(monkeypatch)
    before = tree(tmp_path)
    args = [a.format(cfg=cfg, tmp=tmp_path) for a in command]
    line = assert_error(run(args), HINT)
    assert line in (f"convcli: error: plot: {HINT}", f"convcli: error: --plot: {HINT}")
    assert tree(tmp_path) == before


def test_without_matplotlib_the_rest_works(tmp_path, cfg, no_matplotlib):
    result = run(["backward", cfg, "--out", tmp_path / "out"])
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("command", ["plot", "forward", "backward", "check"])
def test_help_names_the_extra(command):
    # convcli is not on PyPI, so not `pip install 'convcli[plot]'` (a review): matplotlib itself
    result = run([command, "--help"], env={"COLUMNS": "240", "TERMINAL_WIDTH": "240"})
    assert result.exit_code == 0
    assert "needs matplotlib: pip install matplotlib" in result.stdout
    assert "convcli[plot]" not in result.stdout and "'convcli'" not in result.stdout


def test_values_near_the_largest_float_are_drawn(tmp_path):
    """Finite values of ~1e308 (garbage from np.empty, an overflow about to
    happen): matplotlib's scale of -m..m overflowed (exit 3, "Axis limits
    cannot be NaN or Inf"). Drawn as multiples of 1e308, the colour bar says
    so, and a submitted array holding one still fails check with exit 1."""
    big = np.clip(np.random.default_rng(0).standard_normal((1, 4, 4, 2)), -1.5, 1.5) * 1e308
    np.save(tmp_path / "big.npy", big)
    np.save(tmp_path / "b.npy", np.array([1.5e308, -1.2e308, 3.0]))
    cfg = write(tmp_path, """\
        inputs:
          A_prev: {file: big.npy}
          W: {random: [1, 1, 2, 3]}
          b: {file: b.npy}
        layers:
          - {type: conv, W: W, b: b}
        allow_nonfinite: true
        """)
    for q, size in [("A_prev", (600, 300)), ("b", (600, 375))]:  # one sample: two title lines
        result = run(["plot", cfg, "-q", q, "--out", tmp_path / f"{q}.png"])
        assert result.exit_code == 0, result.stderr
        read_png(tmp_path / f"{q}.png", size)
    seed = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 5, 5, 3]}\n  W: {random: [2, 2, 3, 4]}\n"
                           "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b}\n", "seed.yaml")
    assert run(["forward", seed, "--out", tmp_path / "ref"]).exit_code == 0
    mine = tmp_path / "mine"
    mine.mkdir()
    Z = np.load(tmp_path / "ref" / "conv1.Z.npy")
    Z[0, 0, 0, 0] = 1.7e308
    np.save(mine / "conv1.Z.npy", Z)
    result = run(["check", seed, "--against", mine, "--plot", tmp_path / "diff.png"])
    assert result.exit_code == 1 and result.stderr == "", result.stderr
    assert "got 1.7e+308" in result.stdout and (tmp_path / "diff.png").read_bytes()[:8] == PNG_MAGIC


def test_check_plot_does_not_call_an_unreadable_array_another_shape(tmp_path):
    """An array that cannot be read has nothing to draw: it is not "not
    drawn, their shapes differ", and a failed check is not "no array differs"."""
    seed = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 5, 5, 3]}\n  W: {random: [2, 2, 3, 4]}\n"
                           "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b}\n", "seed.yaml")
    mine = tmp_path / "mine"
    mine.mkdir()
    assert run(["forward", seed, "--out", tmp_path / "ref"]).exit_code == 0
    raw = (tmp_path / "ref" / "conv1.Z.npy").read_bytes()
    (mine / "conv1.Z.npy").write_bytes(raw[: len(raw) // 2])  # its header intact, half its data
    result = run(["check", seed, "--against", mine, "--plot", tmp_path / "d.png", "--json"])
    assert result.exit_code == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["against"][0]["status"] == "unreadable"
    assert doc["plot"]["not_drawn"] == [] and doc["plot"]["drawn"] == []
    table = run(["check", seed, "--against", mine, "--plot", tmp_path / "d.png", "--force"]).stdout
    assert "no array to draw" in table and "shapes differ" not in table and "no array differs" not in table


def test_check_plot_names_what_failed_with_nothing_to_draw(tmp_path, monkeypatch):
    """A failed check whose only failures were an unreadable array and one
    missing under --complete drew a picture saying "no quantity differs":
    kept apart from the report, it read as a pass. Its note names them now."""
    import convcli.plot as plot

    seed = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 5, 5, 3]}\n  W: {random: [2, 2, 3, 4]}\n"
                           "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b}\n"
                           "backward: {grad: output}\n", "seed.yaml")  # (the gradients asked: --complete's)
    assert run(["backward", seed, "--out", tmp_path / "ref"]).exit_code == 0
    mine = tmp_path / "mine"
    mine.mkdir()
    shutil.copy(tmp_path / "ref" / "conv1.Z.npy", mine)  # right
    np.save(mine / "conv1.dW.npy", np.array([object()], dtype=object), allow_pickle=True)  # unreadable
    titles = []
    real = plot._render
    monkeypatch.setattr(plot, "_render", lambda mpl, blocks, path, shown=None, overwrite=True: (
        titles.extend(" ".join(line.strip() for line in b.title) for b in blocks()), real(mpl, blocks, path, shown)))
    result = run(["check", seed, "--against", mine, "--complete", "--plot", tmp_path / "d.png", "--json"])
    assert result.exit_code == 1, result.stderr
    status = {o["quantity"]: o["status"] for o in json.loads(result.stdout)["against"]}
    assert status["conv1.dW"] == "unreadable" and status["conv1.db"] == "missing" and status["conv1.Z"] == "pass"
    text = " ".join(titles)
    assert "no quantity differs" not in text
    for name in ("conv1.dW", "conv1.db", "conv1.dA_prev"):
        assert f"{name} fails, nothing to draw: " in text, text


def test_matplotlibs_own_warnings_stay_off_stderr(tmp_path):
    """A review's campaign: with a HOME matplotlib cannot make its cache in
    (here: under a file; as another user, a HOME not theirs), plot printed
    matplotlib's two warnings about it around convcli's own line."""
    import subprocess

    (tmp_path / "afile").write_text("not a folder")
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    env["HOME"] = str(tmp_path / "afile")
    result = subprocess.run([sys.executable, "-m", "convcli", "plot", str(CONFIGS / "stack.yaml"), "-q", "conv1.Z",
                             "--out", str(tmp_path / "z.png")], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert (tmp_path / "z.png").is_file()


def test_a_picture_never_replaces_a_file_the_run_reads(tmp_path, cfg):
    """A robustness review: --force wrote the PNG through a symlink onto the
    config, an input, an --expected file or a submitted array (exit 0, the
    file gone), or straight onto a config named c.png. Refused as --out
    refuses a folder holding what the run reads, --force or not, before
    anything is computed; the files are intact."""
    ours, mine = _mine(tmp_path, cfg)
    shutil.copy(ours / "conv1.dW.npy", mine)
    (tmp_path / "e.png").write_text("expected:\n  conv1.Z.shape: [2, 6, 6, 6]\n")
    for name, target in (("a.png", cfg), ("b.png", mine / "conv1.dW.npy"), ("e2.png", tmp_path / "e.png")):
        (tmp_path / name).symlink_to(target)
    before = {p: p.read_bytes() for p in (cfg, mine / "conv1.dW.npy", tmp_path / "e.png")}
    cases = [
        (["plot", cfg, "--quantity", "conv1.Z", "--out", tmp_path / "a.png", "--force"], "the config"),
        (["check", cfg, "--against", mine, "--plot", tmp_path / "b.png", "--force"], "--against"),
        (["check", cfg, "--against", mine, "--plot", tmp_path / "a.png", "--force"], "the config"),
        (["check", cfg, "--against", mine, "--expected", tmp_path / "e.png", "--plot", tmp_path / "e.png",
          "--force"], "--expected"),
        (["check", cfg, "--against", mine, "--expected", tmp_path / "e.png", "--plot", tmp_path / "e2.png",
          "--force"], "--expected"),
    ]
    for args, key in cases:
        result = run(args)
        assert_error(result, f"which this run reads ({key}): the picture would replace it; give it another name")
    # (a later review) the arrays an --expected file names are read too
    np.save(tmp_path / "key_Z.npy", np.load(ours / "conv1.Z.npy"))
    (tmp_path / "ans.yaml").write_text("expected:\n  conv1.Z: {file: key_Z.npy}\n")
    (tmp_path / "z.png").symlink_to(tmp_path / "key_Z.npy")
    key_bytes = (tmp_path / "key_Z.npy").read_bytes()
    assert_error(run(["check", cfg, "--against", mine, "--expected", tmp_path / "ans.yaml", "--plot",
                      tmp_path / "z.png", "--force"]), "expected.conv1.Z): the picture would replace it")
    assert (tmp_path / "key_Z.npy").read_bytes() == key_bytes
    png_config = tmp_path / "c.png"
    shutil.copy(cfg, png_config)
    assert_error(run(["plot", png_config, "--quantity", "conv1.Z", "--out", png_config, "--force"]),
                 "which this run reads (the config)")
    assert {p: p.read_bytes() for p in before} == before
    assert png_config.read_bytes() == cfg.read_bytes()


def test_plot_runs_only_the_layers_the_quantity_needs(tmp_path, monkeypatch):
    """A streaming review: plotting A_prev of a large config held 1.2 GB,
    running every layer forward and backward first. An input needs no layer;
    a layer's output the layers up to it; a gradient all of them."""
    from convcli.network import Network

    real, ran = Network.iter_forward, []

    def counted(self, *a, **kw):
        for i, out, cache in real(self, *a, **kw):
            ran.append(self.layers[i].name)
            yield i, out, cache

    monkeypatch.setattr(Network, "iter_forward", counted)
    cfg = CONFIGS / "stack.yaml"  # conv1, relu2, pool3
    for quantity, layers in (("A_prev", []), ("relu2.A", ["conv1", "relu2"]),
                             ("conv1.dW", ["conv1", "relu2", "pool3"])):
        ran.clear()
        result = run(["plot", cfg, "--quantity", quantity, "--out", tmp_path / f"{quantity}.png"])
        assert result.exit_code == 0, result.stderr
        assert ran == layers, (quantity, ran)
    # check too, where it goes forward only: an expected entry of conv1.Z's needs conv1 alone
    (tmp_path / "z.yaml").write_text("expected:\n  conv1.Z.shape: [4, 8, 8, 4]\n")
    ran.clear()
    result = run(["check", cfg, "--expected", tmp_path / "z.yaml"])
    assert result.exit_code == 0, result.stdout
    assert ran == ["conv1"]


def test_a_refused_default_picture_path_is_said_to_be_the_default(tmp_path, monkeypatch):
    """A review: with no --out, an error about the PNG named the path bare,
    where forward's says ``--out PATH (the default)``: a user who gave no
    path was left to guess where it came from."""
    cfg = write(tmp_path, CONFIG, "net.yaml")
    monkeypatch.chdir(tmp_path)
    assert run(["plot", cfg, "--quantity", "conv1.Z"]).exit_code == 0
    assert_error(run(["plot", cfg, "--quantity", "conv1.Z"]),
                 "--out convcli-out/net.conv1.Z.png (the default): already exists; pass --force to replace it")
