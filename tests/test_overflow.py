"""A layer that overflows its dtype is one clear error, not NumPy's warnings.

float32 holds values up to 3.4e38: a conv of four 1e30 * 1e30 products
overflows to Inf (a hand computation), so the run stops with exit 2 naming the
layer and the quantity, writes nothing, and prints no RuntimeWarning; in
float64 the same config runs. ``allow_nonfinite: true`` keeps the Inf.
"""

from __future__ import annotations

import json

import numpy as np

from test_cli_helpers import run, write
from test_cli_errors import backward_fails

OVERFLOW = """\
dtype: float32
{extra}inputs:
  A_prev: {{ones: [1, 3, 3, 2], scale: 1.0e30}}
  W: {{ones: [2, 2, 2, 1], scale: 1.0e30}}
  b: {{zeros: [1]}}
layers:
  - {{type: conv, W: W, b: b}}
"""


def test_forward_overflow_is_an_error_naming_the_layer(tmp_path):
    cfg = write(tmp_path, OVERFLOW.format(extra=""))
    line = backward_fails(tmp_path, cfg, "conv1", "Z: 4 of 4 values overflowed float32", "float64")
    assert "RuntimeWarning" not in line


def test_backward_overflow_is_an_error_naming_the_gradient(tmp_path):
    # Forward fits float32 (4 * 1e18 * 1e18 = 4e36), but with grad: output the
    # weight gradient is a sum of 4e36 * 1e18 = 4e54 terms: past float32.
    cfg = write(tmp_path, OVERFLOW.format(extra="").replace("1.0e30", "1.0e18")
                + "backward: {grad: output}\n")
    backward_fails(tmp_path, cfg, "conv1", "overflowed float32")


def test_the_same_config_runs_in_float64(tmp_path):
    cfg = write(tmp_path, OVERFLOW.format(extra=""))
    result = run(["forward", cfg, "--out", tmp_path / "o", "--dtype", "float64", "--json"])
    assert result.exit_code == 0, result.output
    z = json.loads(result.stdout)
    stats = z["quantities"]["conv1.Z"] if "quantities" in z else None
    arr = np.load(tmp_path / "o" / "conv1.Z.npy")
    assert np.allclose(arr, 8e60, rtol=1e-12)  # 2*2*2 products of 1e30*1e30
    assert stats is None or np.isclose(stats["max"], 8e60, rtol=1e-12)


def test_allow_nonfinite_keeps_the_inf(tmp_path):
    cfg = write(tmp_path, OVERFLOW.format(extra="allow_nonfinite: true\n"))
    result = run(["forward", cfg, "--out", tmp_path / "o"])
    assert result.exit_code == 0, result.output
    assert np.isinf(np.load(tmp_path / "o" / "conv1.Z.npy")).all()


def test_a_float64_overflow_does_not_suggest_float64(tmp_path):
    """8 products of 1e160 * 1e160 = 8e320, past float64's 1.8e308 (by hand)."""
    cfg = write(tmp_path, OVERFLOW.format(extra="").replace("float32", "float64").replace("1.0e30", "1.0e160"))
    line = backward_fails(tmp_path, cfg, "conv1", "Z: 4 of 4 values overflowed float64 (its inputs are finite); "
                                                  "scale the inputs down")
    assert "use dtype float64" not in line


def test_an_average_whose_sum_overflows_but_whose_mean_fits_is_computed(tmp_path):
    """A review's campaign: an average pool of 1e38s in float32 (the window's
    sum 4e38 is past float32's 3.4e38; its mean 1e38 is not) was refused as
    an overflow by both engines. By hand: the mean of four 1e38 is 1e38; of
    1e308, 1e308, 1e308 and -1e308 in float64, 5e307. Its backward (a
    quarter of the upstream gradient each) was never at risk."""
    for engine in ("fast", "reference"):
        cfg = write(tmp_path, "dtype: float32\ninputs:\n  A_prev: {ones: [1, 2, 2, 1], scale: 1.0e38}\n"
                              "layers:\n  - {type: pool, f: 2, mode: average}\nbackward: {grad: ones}\n")
        out = tmp_path / f"f32-{engine}"
        result = run(["backward", cfg, "--out", out, "--engine", engine])
        assert result.exit_code == 0, result.stderr
        A = np.load(out / "pool1.A.npy")
        assert A.dtype == np.float32 and A.ravel().tolist() == [np.float32(1e38)]
        # check --each-layer reruns the layer the same way (a review: it expected inf there)
        assert run(["check", cfg, "--against", out, "--each-layer", "--engine", engine]).exit_code == 0
        assert np.load(out / "pool1.dA_prev.npy").ravel().tolist() == [0.25] * 4
        cfg = write(tmp_path, "inputs:\n  A_prev: {value: [[[[1.0e308], [1.0e308]], [[1.0e308], [-1.0e308]]]]}\n"
                              "layers:\n  - {type: pool, f: 2, mode: average}\n", "f64.yaml")
        out = tmp_path / f"f64-{engine}"
        assert run(["forward", cfg, "--out", out, "--engine", engine]).exit_code == 0
        assert np.load(out / "pool1.A.npy").ravel().tolist() == [5e307]
    # a true overflow is still one: a conv's sum has no mean to fit in
    cfg = write(tmp_path, OVERFLOW.format(extra=""), "conv.yaml")
    backward_fails(tmp_path, cfg, "conv1", "overflowed float32")


def test_an_average_s_overflow_fix_is_taken_sample_by_sample(tmp_path):
    """A streaming review: with allow_nonfinite: true, a sample whose window
    of 2e38s overflowed float32 (its mean, 2e38, fits) was given its mean
    only when no other sample of the batch held an infinity, so a streamed
    run (a chunk a sample) gave [inf, 2e38] and the whole batch in memory
    [inf, inf]. By hand: sample 0's window holds inf, its mean is inf;
    sample 1's four 2e38 average to 2e38."""
    import convcli.network as network

    x = np.full((2, 2, 2, 1), 2e38, dtype=np.float32)
    x[0, 0, 0, 0] = np.inf
    for engine in ("fast", "reference"):
        layer = network.LayerSpec("pool", "pool1", {"f": 2, "stride": 2}, mode="average")
        with np.errstate(over="ignore", invalid="ignore"):  # (as the CLI runs the layers)
            out, _ = network.pool_layer_forward(x, layer, engine)
            alone, _ = network.pool_layer_forward(x[1:], layer, engine)
        assert out.dtype == np.float32 and out.ravel().tolist() == [np.inf, np.float32(2e38)], engine
        np.testing.assert_array_equal(alone, out[1:])
    # the same through the CLI, the whole batch in memory
    np.save(tmp_path / "x.npy", x)
    cfg = write(tmp_path, "dtype: float32\nallow_nonfinite: true\ninputs:\n  A_prev: {file: x.npy}\n"
                          "layers:\n  - {type: pool, f: 2, mode: average}\n")
    assert run(["forward", cfg, "--out", tmp_path / "mem"]).exit_code == 0
    assert np.load(tmp_path / "mem" / "pool1.A.npy").ravel().tolist() == [np.inf, np.float32(2e38)]
