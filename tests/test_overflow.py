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
