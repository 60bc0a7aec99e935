"""``convcli gradcheck`` where the old fixed absolute step and whole-loss
noise floor gave false FAILs or crashed: tied max-pool windows under
``ties: all``, inputs of 1e6 and 1e12, raw uint8 pixels in float32, a scalar.

Every expectation here comes from outside convcli: tied windows are counted
with a plain reshape, the derivative of a bias through a flat background is
worked out by hand, and what a correct gradient check must say (pass, or the
exit-2 line) follows from the maths, not from a previous run.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import convcli
from convcli import gradcheck as gc
from convcli import runner
from test_cli_helpers import SAMPLES, assert_error, run, write

# The review's case: a digit-like image, black (0) but for a 4x4 patch, and a
# positive bias. Wherever a 3x3 window sees only background, conv1.Z = b
# exactly, relu keeps it, and a 2x2 max-pool window of such outputs holds its
# maximum 4 times.
TIES = """\
inputs: {{A_prev: {{file: digits.npy}}, W: {{random: [3, 3, 1, 2]}}, b: {{file: bpos.npy}}}}
layers: [{{type: conv, W: W, b: b, pad: 1}}, {{type: relu}}, {{type: pool, f: 2, ties: {ties}}}]
backward: {{grad: random}}
"""
QUANTITIES = ["conv1.dA_prev", "conv1.dW", "conv1.db", "relu2.dA_prev", "pool3.dA_prev"]


def ties_config(tmp_path, ties="all"):
    r = np.random.RandomState(0)
    A = np.zeros((2, 8, 8, 1))
    A[:, 2:6, 2:6] = r.rand(2, 4, 4, 1)
    np.save(tmp_path / "digits.npy", A)
    np.save(tmp_path / "bpos.npy", [0.5, 0.3])
    return write(tmp_path, TIES.format(ties=ties))


def count_tied_windows(x: np.ndarray) -> int:
    """2x2, stride-2 windows of x (m, 8, 8, C) whose max appears more than once."""
    win = windows(x)
    return int(((win == win.max(axis=-1, keepdims=True)).sum(axis=-1) > 1).sum())


def gradcheck_json(args):
    result = run(["gradcheck", *args, "--json"])
    assert result.exit_code in (0, 1), result.stderr
    return result, {q["quantity"]: q for q in json.loads(result.stdout)["quantities"]}


# --------------------------------------------------------------------- ties


def test_tied_windows_under_ties_all_are_checked_against_the_convention(tmp_path):
    cfg = ties_config(tmp_path)
    results = runner.run(runner.plan(cfg))
    tied = count_tied_windows(results.quantities["relu2.A"])
    assert tied > 0  # the case really has ties

    result, by = gradcheck_json([cfg])
    assert result.exit_code == 0, result.stdout  # was: FAIL conv1.db 7.5e-02, exit 1
    assert all(q["passed"] for q in by.values())
    # db is where ties: all is not the derivative (below): checked against the convention, and said so.
    assert by["conv1.db"]["checked_against"] == "ties_all_convention"
    assert by["conv1.db"]["tied_windows"] == {"pool3": tied}
    for q in QUANTITIES:
        if q != "conv1.db":  # the derivative, ties at a kink skipped as before
            assert by[q]["checked_against"] == "derivative" and by[q]["tied_windows"] == {}, by[q]

    text = run(["gradcheck", cfg])
    assert text.exit_code == 0
    (row,) = [line for line in text.stdout.splitlines() if line.strip().startswith("conv1.db")]
    assert "2 of 2, against ties: all" in row and row.rstrip().endswith("pass")
    assert f"note: pool3: {tied} windows hold their maximum more than once" in text.stdout
    assert "conv1.db was checked against the derivative of that convention" in text.stdout
    assert "all 5 gradients agree" in text.stdout


def test_a_ties_all_gradient_that_went_to_one_maximum_fails(tmp_path, monkeypatch):
    """A review: a quantity that passed against the derivative was not
    checked against the ties: all convention, so a backward giving each
    tied window's gradient to its first maximum (ties: first's, a valid
    one-sided derivative) passed a ties: all config. Injected here into the
    run's backward, it fails, on the quantity the tie feeds and said so;
    convcli's own passes. The review's case: a flat 2x2 block of ones in
    each sample (tied windows), a conv, a max pool of f 2."""
    from convcli import network

    A = np.zeros((2, 6, 6, 2))
    A[:, :2, :2] = 1.0
    A[1, 3, 4, 1] = 2.0
    np.save(tmp_path / "flat.npy", A)
    cfg = write(tmp_path, "seed: 2\ninputs: {A_prev: {file: flat.npy}, W: {random: [3, 3, 2, 3]}, "
                          "b: {random: [3]}}\nlayers: [{type: conv, W: W, b: b, pad: 1}, {type: pool, f: 2}]\n"
                          "backward: {grad: random}\n")
    result, by = gradcheck_json([cfg, "--samples", "0"])
    assert result.exit_code == 0, result.stdout
    real = network.pool_backward

    def first(dA, cache, mode="max", engine=None):  # the tie's gradient to its first maximum only
        return real(dA, (cache[0], dict(cache[1], ties="first")), mode=mode, engine=engine)

    monkeypatch.setattr(network, "pool_backward", first)
    result, by = gradcheck_json([cfg, "--samples", "0"])
    assert result.exit_code == 1, result.stdout
    failed = [q for q in by.values() if q["status"] == "fail"]
    assert failed and all(q["checked_against"] == "ties_all_convention" for q in failed), failed
    assert any("the ties: all convention's (the config's rule) failed" in q["note"] for q in failed), failed


def test_a_right_gradient_whose_convention_check_compares_nothing_is_not_checked_not_failed(tmp_path):
    """A review of the change above: where the derivative's check failed (as
    ties: all need not meet it) and every coordinate sat at a kink of the
    convention, the derivative's FAIL was reported for convcli's right
    gradient. By hand: a 2x4 image of ones but its last column, a 1x1 conv
    of weight 1, a max pool of f 2 (two windows: four tied ones, and two
    ones beside two zeros) then one of (1, 2) with ties: first: under
    ties: all dW is 4 where the derivative is 1, and the convention's
    one-sided slopes are 4 and 2, a kink. It is 'not checked', exit 1, with
    a note saying why."""
    cfg = write(tmp_path, "inputs:\n  A_prev: {value: [[[[1], [1], [1], [0]], [[1], [1], [1], [0]]]]}\n"
                          "  W: {value: [[[[1.0]]]]}\n  b: {value: [0.0]}\nlayers:\n  - {type: conv, W: W, b: b}\n"
                          "  - {type: pool, f: 2}\n  - {type: pool, f: [1, 2], ties: first}\nbackward: {grad: ones}\n")
    result, by = gradcheck_json([cfg])
    assert result.exit_code == 1
    for q in ("conv1.dW", "conv1.db"):
        assert by[q]["status"] == "not checked", by[q]
        assert by[q]["note"].startswith("the derivative's check failed (0.6), which ties: all need not meet"), by[q]


def test_a_quantity_not_checked_is_not_labelled_with_the_convention():
    """A review: 'conv1.db 0 of 4 (4 at kinks skipped), against ties: all
    ... not checked': nothing was compared against the convention."""
    from test_cli_helpers import CONFIGS

    result, by = gradcheck_json([CONFIGS / "stack.yaml", "--eps", "0.5"])
    q = by["conv1.db"]
    assert q["status"] == "not checked" and q["checked_against"] == "derivative" and q["tied_windows"] == {}, q


def windows(x: np.ndarray) -> np.ndarray:
    """x (m, 8, 8, C) as its 2x2, stride-2 windows: (m, 4, 4, C, 4)."""
    m, H, W, C = x.shape
    return x.reshape(m, H // 2, 2, W // 2, 2, C).transpose(0, 1, 3, 5, 2, 4).reshape(m, H // 2, W // 2, C, 4)


def test_ties_all_db_is_not_the_derivative_there(tmp_path):
    """Why the old check failed: where a window's k tied maxima move together
    (a bias shifting a flat background), max moves by 1 per unit, so the
    derivative sends the window's G once, as ties: split does (G/k to each);
    ties: all sends G to each of the k. Their db differ by (k - 1) * G summed
    over the channel's tied windows (whose maxima are > 0, so relu passes)."""
    (tmp_path / "all").mkdir()
    (tmp_path / "split").mkdir()
    r_all = runner.run(runner.plan(ties_config(tmp_path / "all", "all")))
    r_split = runner.run(runner.plan(ties_config(tmp_path / "split", "split")))
    win = windows(r_all.quantities["relu2.A"])
    top = win.max(axis=-1)
    k = (win == top[..., None]).sum(axis=-1)
    expected_gap = ((k - 1) * (top > 0) * r_all.grad).sum(axis=(0, 1, 2))
    assert np.abs(expected_gap).max() > 0.1  # the case really has such windows
    gap = r_all.quantities["conv1.db"].reshape(-1) - r_split.quantities["conv1.db"].reshape(-1)
    np.testing.assert_allclose(gap, expected_gap, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ties", ["split", "first"])
def test_ties_split_and_first_are_checked_against_the_derivative(tmp_path, ties):
    result, by = gradcheck_json([ties_config(tmp_path, ties)])
    assert result.exit_code == 0, result.stdout
    for q in QUANTITIES:
        assert by[q]["passed"] and by[q]["checked_against"] == "derivative" and by[q]["tied_windows"] == {}


@pytest.mark.parametrize("factor", [1.01, 0.0])
def test_a_wrong_gradient_through_tied_windows_still_fails(tmp_path, monkeypatch, factor):
    """The convention's derivative is a second chance for the convention,
    not a free pass: a wrong db fails against it too, and says which."""
    import convcli.network as network

    real = network.conv_backward

    def broken(dZ, cache):
        dA_prev, dW, db = real(dZ, cache)
        return dA_prev, dW, db * factor

    monkeypatch.setattr(network, "conv_backward", broken)
    result, by = gradcheck_json([ties_config(tmp_path)])
    assert result.exit_code == 1
    assert [q for q, r in by.items() if not r["passed"]] == ["conv1.db"]
    assert by["conv1.db"]["checked_against"] == "ties_all_convention"
    text = run(["gradcheck", ties_config(tmp_path)]).stdout
    assert "FAIL conv1.db: error" in text and "1 of 5 gradients FAILED" in text


@pytest.mark.parametrize("ties, twice", [("all", True), ("split", False)])
def test_the_progress_counts_the_pass_against_the_convention(tmp_path, ties, twice):
    """A review: the bar stood at 100% through the second pass against ties:
    all, as long as the first. The plan holds each quantity upstream of the
    tied pool twice (all five here), and the calls reach every planned count."""
    results = runner.run(runner.plan(ties_config(tmp_path, ties)))
    plan = gc.planned_coordinates(results)
    # by hand: A_prev (2, 8, 8, 1) has 128 coordinates, 100 sampled; W 18; b 2; relu2's and pool3's inputs
    # (2, 8, 8, 2): 256, 100 sampled
    once = [("conv1.dA_prev", 100), ("conv1.dW", 18), ("conv1.db", 2), ("relu2.dA_prev", 100),
            ("pool3.dA_prev", 100)]
    assert plan == ([x for q, n in once for x in ((q, n), (q + gc.CONVENTION, n))] if twice else once)
    reached: dict[str, int] = {}
    gc.gradcheck(results, progress=lambda name, done: reached.__setitem__(name, max(done, reached.get(name, 0))))
    assert reached == dict(plan)


def test_tie_notes_name_the_layer_and_every_gradient_through_it():
    r = gc.GradResult("conv1.db", (2,), 2, 2, 0, 0.0, 1e-6, True, None, ties={"pool3": 1})
    (note,) = gc.tie_notes([r, gc.GradResult("x.dA_prev", (1,), 1, 1, 0, 0.0, 1e-6, True, None)])
    assert note.startswith("pool3: 1 window holds its maximum more than once")
    assert "conv1.db was checked against the derivative of that convention" in note
    # a gradient with every coordinate at a kink was not checked at all: not named (a review: it was, right
    # above its NOT CHECKED line); a layer with no gradient left to name gets no note
    unchecked = gc.GradResult("relu2.dA_prev", (2,), 0, 2, 2, float("nan"), 1e-6, False, None, ties={"pool3": 1})
    assert unchecked.status == "not checked"
    (note,) = gc.tie_notes([r, unchecked])
    assert "conv1.db was checked" in note and "relu2.dA_prev" not in note
    assert gc.tie_notes([unchecked]) == []


# --------------------------------------------------------------------- the step


BIG = """\
dtype: {dtype}
inputs:
  A_prev: {{random: [2, 5, 5, 3], scale: {scale}}}
  W: {{random: [3, 3, 3, 2]}}
  b: {{random: [2]}}
layers:
{layers}
backward: {{grad: random}}
"""
CONV = "  - {type: conv, W: W, b: b, pad: 1}\n"
STACK = CONV + "  - {type: relu}\n  - {type: pool, f: 2}\n"


@pytest.mark.parametrize(
    "dtype, scale, layers",
    [
        ("float64", "1.0e6", CONV),  # was: dA_prev, db FAIL ~1e-4
        ("float64", "1.0e6", STACK),
        ("float64", "1.0e12", STACK),  # was: internal error ZeroDivisionError, exit 3
        ("float32", "1.0e6", STACK),  # was: ZeroDivisionError
    ],
    ids=["conv 1e6", "stack 1e6", "stack 1e12", "float32 1e6"],
)
def test_large_inputs_need_no_eps(tmp_path, dtype, scale, layers):
    cfg = write(tmp_path, BIG.format(dtype=dtype, scale=scale, layers=layers))
    result, by = gradcheck_json([cfg])
    assert result.exit_code == 0, result.stdout
    for q in by.values():
        assert q["passed"] and q["checked"] > 0, q
    assert by["conv1.db"]["checked"] == 2  # a bias of 1 next to outputs of 1e6 is still checked


def test_raw_uint8_pixels_in_float32(tmp_path):
    """configs/stack.yaml without its scale: 0..255 pixels, float32. ReLU
    zeros tie in the pool windows; the kink test now weighs the jump against
    the noise of the outputs it touches, not of the whole loss."""
    cfg = write(tmp_path, f"""\
        seed: 0
        inputs:
          A_prev: {{file: {SAMPLES / 'images.h5'}, dataset: images, slice: "0:4"}}
          W1: {{file: {SAMPLES / 'weights.npz'}, key: W1}}
          b1: {{file: {SAMPLES / 'b1.npy'}}}
        layers:
          - {{type: conv, W: W1, b: b1, stride: 1, pad: same}}
          - {{type: relu}}
          - {{type: pool, f: 2, mode: max}}
        backward:
          grad: random
        """)
    result, by = gradcheck_json([cfg, "--dtype", "float32"])
    assert result.exit_code == 0, result.stdout  # was: pool3.dA_prev FAIL 3.1e-01
    assert all(q["passed"] for q in by.values())


def test_a_step_lost_in_rounding_is_a_usage_error(tmp_path):
    """It names the coordinate stepped: of the layer's input A_prev, not of
    the gradient conv1.dA_prev (a learner's review)."""
    cfg = write(tmp_path, BIG.format(dtype="float64", scale="1.0e6", layers=CONV))
    line = assert_error(run(["gradcheck", cfg, "--eps", "1e-30"]), "--eps: a step of 1e-30 is lost in rounding at A_prev[")
    assert "give a larger --eps" in line
    assert_error(run(["gradcheck", cfg, "--eps", "inf"]), "--eps: must be")


@pytest.mark.parametrize("option, value, fragment", [
    ("--threshold", "nan", "--threshold: must be a finite number >= 0, got nan"),
    ("--threshold", "-1e-6", "--threshold: must be a finite number >= 0, got -1e-06"),
    ("--threshold", "inf", "--threshold: must be a finite number >= 0, got inf"),
    ("--eps", "nan", "--eps: must be a number > 0 and < 1 (a step is eps times max(1, |x|)), got nan"),
    ("--eps", "0", "--eps: must be a number > 0 and < 1 (a step is eps times max(1, |x|)), got 0.0"),
    # a review: 1e306 made a weight's step inf / inf = 0 and said "give a larger --eps"
    ("--eps", "1e306", "--eps: must be a number > 0 and < 1 (a step is eps times max(1, |x|)), got 1e+306"),
    ("--eps", "1", "--eps: must be a number > 0 and < 1"),
])
def test_bad_eps_or_threshold_is_refused_before_computing(tmp_path, monkeypatch, option, value, fragment):
    """NaN or a negative threshold would fail every gradient whatever its error: a bad value, as for --eps."""
    cfg = write(tmp_path, "inputs: {A_prev: {random: [1, 2, 2, 1]}}\nlayers: [{type: relu}]\n")
    monkeypatch.setattr("convcli.runner.run", lambda *a, **k: pytest.fail("ran the layers"))
    assert_error(run(["gradcheck", cfg, option, value]), fragment)


# --------------------------------------------------------------------- shapes


@pytest.mark.parametrize("value, expected_n, skipped", [(3, 1.0, 0), (-2, 0.0, 0), (0, None, 1)])
def test_relu_on_one_number(tmp_path, value, expected_n, skipped):
    """relu of one number, a (1, 1, 1, 1) batch: the derivative is 1 above 0
    and 0 below; at 0 there is none (a kink), so that coordinate is skipped,
    and with it the only one: nothing is compared, "not checked" (exit 1)."""
    cfg = write(tmp_path, f"inputs: {{A_prev: {{value: [[[[{value}]]]]}}}}\nlayers: [{{type: relu}}]\n"
                          "backward: {grad: ones}\n")
    result, by = gradcheck_json([cfg])
    assert result.exit_code == (1 if skipped else 0), result.stdout + result.stderr  # was: internal error IndexError
    q = by["relu1.dA_prev"]
    assert q["shape"] == [1, 1, 1, 1] and q["total"] == 1 and q["skipped_at_kinks"] == skipped
    assert q["status"] == ("not checked" if skipped else "pass") and q["passed"] is not bool(skipped)
    results = runner.run(runner.plan(cfg))
    if expected_n is not None:
        assert results.quantities["relu1.dA_prev"].item() == expected_n


@pytest.mark.parametrize("value, fragment", [
    ("5", "A_prev: expected 4 dimensions (m, n_H_prev, n_W_prev, n_C_prev), got shape ()"),
    ("[1, 2, 3]", "got shape (3,)"),
])
def test_relu_needs_an_nhwc_batch(tmp_path, value, fragment):
    """Every layer is NHWC (DESIGN.md section 1), relu too; gradcheck on a
    scalar relu used to run (and on an empty batch divided by zero)."""
    cfg = write(tmp_path, f"inputs: {{A_prev: {{value: {value}}}}}\nlayers: [{{type: relu}}]\n")
    for command in ("gradcheck", "forward"):
        assert_error(run([command, cfg]), "cfg.yaml: layers[0] (relu1)", fragment)


def test_a_gradient_with_every_coordinate_at_a_kink_is_not_checked_not_passed(tmp_path):
    """A ReLU whose every input is 0 sits on its kink everywhere: no
    coordinate can be compared, and 0 compared is no agreement (it was
    reported as "pass" with error 0 and exit 0)."""
    cfg = write(tmp_path, """\
        inputs:
          A_prev: {zeros: [2, 4, 4, 3]}
        layers:
          - {type: relu}
        backward:
          grad: ones
        """)
    result = run(["gradcheck", cfg])
    assert result.exit_code == 1, result.stdout
    assert "0 of 96 (96 at kinks skipped)" in result.stdout and "not checked" in result.stdout
    assert "NOT CHECKED relu1.dA_prev: all 96 coordinates sampled were at kinks" in result.stdout
    assert "one exactly at it, as zeros into a ReLU, stays there whatever --eps" in result.stdout  # zeros: a smaller step alone cannot help
    assert "agree" not in result.stdout and "1 of 1 gradient not checked" in result.stdout
    doc = json.loads(run(["gradcheck", cfg, "--json"]).stdout)
    q = doc["quantities"][0]
    assert doc["ok"] is False and q["status"] == "not checked" and q["passed"] is False and q["checked"] == 0
    assert q["error"] is None  # not computed: null, as the README says (it was "NaN")


# ------------------------------------------------------- steps and threshold

# A review's configs: conv -> relu, correct gradients. In float32 the bias's
# step (1e-2 of the outputs it moves) crossed a ReLU kink and db ended "not
# checked" (exit 1); under bias: window the step moved every output 72 times
# as far and did the same in float64.
KINKY = """\
seed: {seed}
inputs: {{A_prev: {{random: {shape}}}, W: {{random: [3, 3, {c}, 1]}}, b: {{random: [1]}}}}
layers: [{{type: conv, W: W, b: b, pad: {pad}, stride: {stride}, bias: {bias}}}, {{type: relu}}]
backward: {{grad: ones}}
"""


@pytest.mark.parametrize("dtype, seed, shape, c, pad, stride, bias", [
    ("float32", 0, [2, 6, 6, 3], 3, "same", 1, "once"),
    ("float64", 15, [11, 41, 26, 8], 8, 1, "[1, 2]", "window"),
])
def test_a_bias_step_does_not_cross_every_relu_kink(tmp_path, dtype, seed, shape, c, pad, stride, bias):
    cfg = write(tmp_path, KINKY.format(seed=seed, shape=shape, c=c, pad=pad, stride=stride, bias=bias))
    result, by = gradcheck_json([cfg, "--dtype", dtype])
    assert by["conv1.db"]["checked"] == 1 and by["conv1.db"]["passed"], by["conv1.db"]
    assert result.exit_code == 0, result.stdout


def test_float32_threshold_fails_a_gradient_one_and_a_half_percent_off(tmp_path, monkeypatch):
    """A float32 run's gradient is compared with float64 differences at the
    same point: a correct one is within ~1e-5 (the module's measurements), so
    dA_prev made 1.5% too large must fail (the old threshold, 1e-2, passed it)."""
    from convcli import conv

    cfg = write(tmp_path, KINKY.format(seed=0, shape=[2, 6, 6, 3], c=3, pad="same", stride=1, bias="once"))
    real = conv._backward_fast

    def off(*args, **kwargs):
        dA_prev, dW, db = real(*args, **kwargs)
        return dA_prev * 1.015, dW, db

    monkeypatch.setattr(conv, "_backward_fast", off)
    result, by = gradcheck_json([cfg, "--dtype", "float32"])
    assert result.exit_code == 1
    assert not by["conv1.dA_prev"]["passed"] and by["conv1.dA_prev"]["error"] > 5e-3
    assert by["conv1.dA_prev"]["status"] == "fail"  # check's word (it was "FAIL")
    assert "FAIL" in run(["gradcheck", cfg, "--dtype", "float32"]).stdout  # the table shouts it
    assert by["conv1.dW"]["passed"] and by["conv1.db"]["passed"]


TWO_CONVS = """\
seed: {seed}
inputs:
  A_prev: {{random: {shape}}}
  W1: {{random: [3, 3, {c0}, {c1}]}}
  b1: {{random: [{c1}]}}
  W2: {{random: [3, 3, {c1}, {c2}]}}
  b2: {{random: [{c2}]}}
layers:
  - {{type: conv, W: W1, b: b1, pad: 1}}
  - {{type: relu}}
  - {{type: conv, W: W2, b: b2, pad: 1}}{tail}
backward: {{grad: random}}
"""


@pytest.mark.parametrize("seed, shape, c0, c1, c2, tail, samples, checked", [
    # a bias moves all m*n_H*n_W outputs of its channel (32768): a step of 1e-5 of their size
    # crossed a few ReLU kinks by a little each, unseen by the kink test (a review's false FAIL:
    # a correct conv1.db at 3e-5 against 1e-6)
    (2, [32, 32, 32, 4], 4, 8, 2, "", 10, {"conv1.db": 8}),
    # so does an entry of W[..., c] (98304 outputs; a second review: correct conv1.dW and
    # conv3.dW at 2.0e-4 and 2.7e-5)
    (0, [96, 32, 32, 3], 3, 4, 2, "\n  - {type: relu}", 12, {"conv1.dW": 12, "conv3.dW": 12}),
], ids=["bias", "weights"])
def test_parameters_over_many_outputs_are_checked_in_float64(tmp_path, seed, shape, c0, c1, c2, tail,
                                                             samples, checked):
    """The maths (a parameter's derivative is a sum over its channel's
    outputs) says they pass, and every coordinate sampled is compared
    (checked: the samples asked for, or all of a bias's entries)."""
    cfg = write(tmp_path, TWO_CONVS.format(seed=seed, shape=shape, c0=c0, c1=c1, c2=c2, tail=tail))
    result, by = gradcheck_json([cfg, "--samples", str(samples)])
    for q, n in checked.items():
        assert by[q]["passed"] and by[q]["checked"] == n, by[q]
    assert result.exit_code == 0


def test_an_input_of_zeros_among_large_ones_gets_a_step_of_their_size(tmp_path):
    """A ReLU's zeros feeding a conv whose other inputs are ~1e6: a step of
    1e-5 (relative to max(1, |0|)) put rounding noise in a correct
    conv3.dA_prev at 2.8e-5 (a review's). Relative to its channel's size it
    passes: the layers are linear there, by hand."""
    cfg = write(tmp_path, TWO_CONVS.format(seed=0, shape="[4, 12, 12, 3]", c0=3, c1=4, c2=2,
                                          tail="\n  - {type: relu}").replace(
        "A_prev: {random: [4, 12, 12, 3]}", "A_prev: {random: [4, 12, 12, 3], scale: 1.0e6}"))
    result, by = gradcheck_json([cfg])
    assert by["conv3.dA_prev"]["passed"] and by["conv3.dA_prev"]["checked"] == 100, by["conv3.dA_prev"]
    assert result.exit_code == 0


def test_a_lost_step_names_the_eps_given(tmp_path):
    """A bias's step is --eps times its size divided by sqrt(1024) here: at
    1e-15 the inputs' and weights' steps survive and the bias's (of ~1000) is
    lost, and the message says which --eps it came from (a review: it quoted
    the divided step alone)."""
    cfg = write(tmp_path, """\
        seed: 0
        inputs: {A_prev: {random: [1, 32, 32, 3]}, W: {random: [3, 3, 3, 2]}, b: {random: [2], scale: 1000}}
        layers: [{type: conv, W: W, b: b, pad: 1}]
        backward: {grad: ones}
        """)
    line = assert_error(run(["gradcheck", cfg, "--eps", "1e-15"]), "--eps: a step of ")
    assert "(--eps 1e-15, made smaller for a b that moves many outputs) is lost in rounding at b[" in line


def test_an_overflowed_output_as_upstream_gradient_is_named_as_such(tmp_path):
    """A review: with allow_nonfinite: true and the default grad: output, a
    float32 output that overflowed to inf stopped gradcheck at
    ``backward.grad``, a key the config does not have, saying only "the
    upstream gradient". By hand: the one window holds 2 products of 1e20 *
    1e20 = 1e40, past float32's largest number (3.4e38): inf."""
    cfg = write(tmp_path, "dtype: float32\nallow_nonfinite: true\ninputs:\n"
                          "  A_prev: {value: [[[[1.0e20, 1.0e20]]]]}\n"
                          "  W: {ones: [3, 3, 2, 1], scale: 1.0e20}\n  b: {zeros: [1]}\n"
                          "layers:\n  - {type: conv, W: W, b: b, pad: 1}\n")
    assert_error(run(["gradcheck", cfg]),
                 "backward.grad: the upstream gradient, the last layer's output (grad: output), holds NaN or Inf: "
                 "central differences need finite numbers")


def test_a_value_at_the_top_of_float64_is_refused_not_passed(tmp_path):
    """A review: a step from 1.8e308 is past float64's range, the slopes
    were inf / inf = NaN, and the NaN error was reported as 0, pass (exit
    0). By hand: 1.7976931348623157e308 + 1e-5 * itself overflows."""
    cfg = write(tmp_path, "inputs: {A_prev: {value: [[[[1.7976931348623157e308], [-1.0]], [[2.0], [-3.0]]]]}}\n"
                          "layers: [{type: relu}]\nbackward: {grad: ones}\n")
    assert_error(run(["gradcheck", cfg, "--samples", "0"]),
                 "--eps: a step of 1e-05 at A_prev[0, 0, 0, 0] = 1.7976931348623157e+308 goes past float64's "
                 "largest number")


def test_a_failure_at_a_tiny_step_says_the_step_may_be_why(monkeypatch):
    """A review: --eps 1e-10 failed stack.yaml's correct conv1.db (rounding
    noise: the default step passes it) with nothing but "against ties: all"
    to go on. Its right gradients now pass there, their gaps measured against
    the differences' noise (a later review: outputs far larger than what a
    step moves them by); a FAIL line at such a step says a step that far
    below the default can fail on rounding alone (a dW 3% off here)."""
    import convcli.network as network
    from test_cli_helpers import CONFIGS

    cfg = CONFIGS / "stack.yaml"
    assert run(["gradcheck", cfg, "--eps", "1e-10"]).exit_code == 0
    real = network.conv_backward
    monkeypatch.setattr(network, "conv_backward", lambda dZ, cache: (lambda a, w, b: (a, w * 1.03, b))(
        *real(dZ, cache)))
    result = run(["gradcheck", cfg, "--eps", "1e-10"])
    assert result.exit_code == 1, result.output
    fail = [line for line in result.output.splitlines() if line.startswith("FAIL ")]
    assert fail and all(line.endswith("a step of --eps 1e-10, far below the default 1e-05, can fail on rounding "
                                      "alone: try the default") for line in fail), fail


# --------------------------------------------------------------------- a gradient that is 0

ZERO_DB = """\
inputs: {A_prev: {file: A.npy}, W: {random: [3, 3, 3, 4]}, b: {random: [4]}}
layers: [{type: conv, W: W, b: b, pad: 1}]
backward: {grad: {file: G.npy}}
"""


def zero_db_config(tmp_path):
    """An upstream gradient whose every channel sums to 0 (to rounding):
    db = sum(dZ) over the batch and positions is 0, by hand."""
    r = np.random.RandomState(0)
    np.save(tmp_path / "A.npy", r.randn(2, 6, 6, 3))
    G = r.randn(2, 6, 6, 4)
    np.save(tmp_path / "G.npy", G - G.mean(axis=(0, 1, 2)))
    return write(tmp_path, ZERO_DB)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_gradient_that_is_zero_but_for_rounding_passes(tmp_path, dtype):
    """A review: a correct db of 0 (convcli's 4e-15, the differences' 8e-10,
    both rounding) failed in float64 at an error of 1.00, the relative
    difference of two roundings. Within the differences' own rounding noise
    of each other, they pass, and say so. (In float32 the upstream gradient,
    rounded to float32, no longer sums to 0: db is ~3e-7, measured as ever.)"""
    result, by = gradcheck_json([zero_db_config(tmp_path), "--dtype", dtype])
    assert result.exit_code == 0, by
    db = by["conv1.db"]
    assert db["passed"] and db["checked"] == 4 and db["error"] <= db["threshold"]
    assert (db["note"].startswith("a gradient of ") and "what remains of cancelling terms" in db["note"]
            and "within the rounding of both (" in db["note"]) == (dtype == "float64"), db
    # the others are far from 0: measured as ever, no note
    assert all(by[q]["note"] == "" and by[q]["passed"] for q in ("conv1.dA_prev", "conv1.dW"))
    assert "all 3 gradients agree" in run(["gradcheck", zero_db_config(tmp_path), "--dtype", dtype]).stdout


def test_a_small_right_gradient_passes_and_zero_in_its_place_fails(tmp_path, monkeypatch):
    """A review of the first fix (a tolerance of 1e3-1e4 times the real
    noise): the right db, 1e-7 of its terms' size away from 0 (an upstream
    gradient summing per channel to 1024 times 1e-7 of its mean magnitude,
    by hand), failed at 2.3e-5 while a db of 0 passed. Now the right one
    passes and 0 fails."""
    import convcli.network as network

    r = np.random.RandomState(7)
    np.save(tmp_path / "A.npy", r.randn(4, 16, 16, 3))
    G = r.randn(4, 16, 16, 4)
    G = G - G.mean(axis=(0, 1, 2)) + 1e-7 * np.abs(G).mean()
    np.save(tmp_path / "G.npy", G)
    cfg = write(tmp_path, ZERO_DB)
    result, by = gradcheck_json([cfg])
    assert result.exit_code == 0 and by["conv1.db"]["passed"], by["conv1.db"]
    real = network.conv_backward
    monkeypatch.setattr(network, "conv_backward", lambda dZ, cache: (lambda a, w, b: (a, w, b * 0))(
        *real(dZ, cache)))
    result, by = gradcheck_json([cfg])
    assert result.exit_code == 1 and by["conv1.db"]["status"] == "fail" and by["conv1.db"]["error"] == 1.0


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("off", [1e-3, -1e-2])
def test_a_wrong_gradient_where_the_right_one_is_zero_still_fails(tmp_path, monkeypatch, dtype, off):
    """The reach of rounding is no free pass: a db of `off` times the size of
    its terms (|G| summed over a channel), where the right one is 0, fails."""
    import convcli.network as network

    real = network.conv_backward
    terms = np.abs(np.load(zero_db_config(tmp_path).parent / "G.npy")).sum(axis=(0, 1, 2))

    def broken(dZ, cache):
        dA_prev, dW, db = real(dZ, cache)
        return dA_prev, dW, db + (off * terms).astype(db.dtype).reshape(db.shape)

    monkeypatch.setattr(network, "conv_backward", broken)
    result, by = gradcheck_json([zero_db_config(tmp_path), "--dtype", dtype])
    assert result.exit_code == 1
    assert [q for q, r in by.items() if not r["passed"]] == ["conv1.db"]
    assert by["conv1.db"]["error"] > 0.99 and by["conv1.db"]["note"] == ""


ZERO_DA = """\
inputs: {A_prev: {file: A.npy}, W1: {random: [3, 3, 3, 4]}, b1: {random: [4]}, W2: {file: W2.npy},
         b2: {random: [5]}}
layers: [{type: conv, W: W1, b: b1, pad: 1}, {type: relu}, {type: conv, W: W2, b: b2, pad: 1}]
backward: {grad: {file: G.npy}}
"""


def zero_da_config(tmp_path):
    """conv2's weights sum to 0 over its output channels and the upstream
    gradient is the same in every channel: by hand, conv2's dA_prev =
    sum_c W2[..., c] * G = 0, and so is every gradient before it."""
    r = np.random.RandomState(3)
    np.save(tmp_path / "A.npy", r.randn(2, 6, 6, 3))
    W2 = r.randn(3, 3, 4, 5)
    np.save(tmp_path / "W2.npy", W2 - W2.mean(axis=3, keepdims=True))
    np.save(tmp_path / "G.npy", np.repeat(r.randn(2, 6, 6, 1), 5, axis=3))
    return write(tmp_path, ZERO_DA)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradients_that_are_zero_behind_weights_summing_to_zero_pass(tmp_path, dtype):
    """Session 20's review: two convs, the second's weights summing to 0,
    failed five right gradients at an error of 1.00 (float64) and 0.4-0.7
    (float32: its own rounding, measured against the same layers in
    float64). All pass, each with its note; conv3's dW and db, of ordinary
    size, are measured as ever."""
    result, by = gradcheck_json([zero_da_config(tmp_path), "--dtype", dtype])
    assert result.exit_code == 0, by
    zero = ["conv1.dA_prev", "conv1.dW", "conv1.db", "relu2.dA_prev", "conv3.dA_prev"]
    assert all(by[q]["passed"] and "what remains of cancelling terms" in by[q]["note"] for q in zero), by
    assert all(("measured against the same layers in float64" in by[q]["note"]) == (dtype == "float32")
               for q in zero)
    assert all(by[q]["passed"] and by[q]["note"] == "" for q in ("conv3.dW", "conv3.db"))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_gradient_off_where_the_right_one_is_zero_fails_behind_such_weights(tmp_path, monkeypatch, dtype):
    import convcli.network as network

    real = network.conv_backward
    monkeypatch.setattr(network, "conv_backward", lambda dZ, cache: (lambda a, w, b: (a + 1e-3, w, b))(
        *real(dZ, cache)))
    result, by = gradcheck_json([zero_da_config(tmp_path), "--dtype", dtype])
    assert result.exit_code == 1
    assert not by["conv3.dA_prev"]["passed"] and by["conv3.dA_prev"]["error"] > 0.5


NOISY = ("seed: 7\ninputs:\n  A_prev: {random: [1, 4, 4, 3]SCALE_A}\n  W: {random: [3, 3, 3, 2]}\n"
         "  b: {random: [2]SCALE_B}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\nbackward: {grad: ones}\n")


@pytest.mark.parametrize("scale_a, scale_b", [("", ", scale: 1e6"), (", scale: 1e-6", "")])
def test_right_gradients_beside_far_larger_outputs_pass(tmp_path, scale_a, scale_b):
    """A fuzzing review: under grad: ones, dA_prev and dW do not depend on b,
    yet a bias of 1e6 (or inputs of 1e-6 beside weights of 1) made the
    outputs so much larger than what a step moves them by that the central
    differences' rounding alone put the right gradients at 1.7e-6 (1.6e-4 at
    1e8; 2e-3 at inputs of 1e-9): FAIL. Where the gap is within the slopes'
    rounding bound, it is measured against the differences' noise at other
    steps, as a gradient of cancelling terms is: they pass, and say why."""
    cfg = write(tmp_path, NOISY.replace("SCALE_A", scale_a).replace("SCALE_B", scale_b))
    result, by = gradcheck_json([cfg, "--samples", "0"])
    assert result.exit_code == 0, by
    noted = [q for q in by if by[q]["note"]]
    assert noted and all("of outputs far larger than what its steps move them by" in by[q]["note"]
                         and by[q]["passed"] for q in noted), by


@pytest.mark.parametrize("scale_a, scale_b, factor", [
    ("", ", scale: 1e8", 1.0), (", scale: 1e-12", "", 1.0),  # right, but noise of 1e-3 to 1.6 of it
    (", scale: 1e-9", ", scale: 1000", 0.0), (", scale: 1e-9", ", scale: 1000", -1.0),
    (", scale: 1e-9", ", scale: 1000", 2.0), (", scale: 1e-9", ", scale: 1000", 1.0),
])
def test_a_gradient_the_differences_cannot_resolve_fails_and_says_why(tmp_path, monkeypatch, scale_a, scale_b,
                                                                      factor):
    """A review of the noise path: beside a bias of 1e3 with inputs of 1e-9,
    the differences' noise (~1e-7) outweighed dW itself (~1e-8), so a dW of
    0, of the wrong sign or doubled passed "within the rounding of both".
    Where that noise is over 1e-3 of the gradient (float32's threshold), it
    fails, right or wrong, with a note that says why and what to do."""
    import convcli.network as network

    real = network.conv_backward
    monkeypatch.setattr(network, "conv_backward", lambda dZ, cache: (lambda a, w, b: (a, w * factor, b))(
        *real(dZ, cache)))
    cfg = write(tmp_path, NOISY.replace("SCALE_A", scale_a).replace("SCALE_B", scale_b))
    result, by = gradcheck_json([cfg, "--samples", "0"])
    assert result.exit_code == 1 and by["conv1.dW"]["status"] == "fail", by["conv1.dW"]
    assert by["conv1.dW"]["note"].startswith("the central differences' rounding noise is "), by["conv1.dW"]
    assert "more than the 1e-3 they must resolve to check it" in by["conv1.dW"]["note"], by["conv1.dW"]


@pytest.mark.parametrize("factor", [1.001, 1.03])
def test_a_wrong_gradient_beside_far_larger_outputs_still_fails(tmp_path, monkeypatch, factor):
    """No free pass from that rounding: a dW 0.1% or 3% off beside a bias of
    1e6 (where the right one passes, above) fails: its gap is far past the
    differences' noise, measured."""
    import convcli.network as network

    real = network.conv_backward
    monkeypatch.setattr(network, "conv_backward", lambda dZ, cache: (lambda a, w, b: (a, w * factor, b))(
        *real(dZ, cache)))
    cfg = write(tmp_path, NOISY.replace("SCALE_A", "").replace("SCALE_B", ", scale: 1e6"))
    result, by = gradcheck_json([cfg, "--samples", "0"])
    assert result.exit_code == 1 and by["conv1.dW"]["status"] == "fail", by["conv1.dW"]
    assert by["conv1.dW"]["note"] == "" and by["conv1.dW"]["error"] > 1e-4, by["conv1.dW"]


def test_a_right_gradient_of_1e301_is_measured_not_nan(tmp_path):
    """A fuzzing review: inputs of 3e150 and 1e150 under grad: output make
    dW = 2 * (3e150**2 + 1e150**2) = 2e301, finite and right, but the norms
    of the error squared it past float64: error NaN, FAIL. Taken at the scale
    of the largest element, it is measured (by hand, the differences are
    exact but for rounding)."""
    cfg = write(tmp_path, "inputs:\n  A_prev: {value: [[[[3.0e+150]], [[1.0e+150]]]]}\n  W: {value: [[[[2.0]]]]}\n"
                          "  b: {zeros: [1]}\nlayers:\n  - {type: conv, W: W, b: b}\nbackward: {grad: output}\n")
    result, by = gradcheck_json([cfg])
    assert result.exit_code == 0, by
    assert by["conv1.dW"]["passed"] and 0 <= by["conv1.dW"]["error"] < 1e-9, by["conv1.dW"]
