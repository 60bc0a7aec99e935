"""The package's shape: entry points, and the core's independence from the CLI."""

from __future__ import annotations

import inspect
import subprocess
import sys

import convcli


def test_python_dash_m_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "convcli", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert convcli.__version__ in done.stdout


def test_the_numpy_core_imports_no_cli_yaml_or_hdf5_code():
    # A fresh interpreter: what importing the library API pulls in.
    code = (
        "import sys, convcli, convcli.conv, convcli.pool, convcli.relu, convcli.hparams, convcli.parallel\n"
        "import numpy as np\n"
        "Z, c = convcli.conv_forward(np.ones((2, 9, 9, 3)), np.ones((3, 3, 3, 4)), np.zeros(4), {'pad': 1})\n"
        "convcli.conv_backward(Z, c)\n"
        "A, c = convcli.pool_forward(Z, {'f': 2})\n"
        "convcli.pool_backward(A, c)\n"
        "bad = sorted(m for m in ('typer', 'click', 'rich', 'yaml', 'h5py', 'pydantic', 'matplotlib')"
        " if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"the core imported {done.stdout.strip()}"


def test_the_public_api_is_the_notebooks():
    for name in ("zero_pad", "conv_single_step", "conv_forward", "conv_backward", "pool_forward",
                 "pool_backward", "create_mask_from_window", "distribute_value",
                 "relu_forward", "relu_backward"):
        assert callable(getattr(convcli, name)), name
        assert name in convcli.__all__


def test_the_signatures_are_the_notebooks():
    """DESIGN.md section 5: the course's parameters and defaults, with convcli's
    ``engine=`` after them."""
    def params(f):
        return [(p.name, p.default) for p in inspect.signature(f).parameters.values()]
    empty = inspect.Parameter.empty
    assert params(convcli.conv_forward)[:4] == [("A_prev", empty), ("W", empty), ("b", empty),
                                                 ("hparameters", empty)]
    assert params(convcli.conv_backward)[:2] == [("dZ", empty), ("cache", empty)]
    assert params(convcli.pool_forward)[:3] == [("A_prev", empty), ("hparameters", empty), ("mode", "max")]
    assert params(convcli.pool_backward)[:3] == [("dA", empty), ("cache", empty), ("mode", "max")]
    for f in (convcli.conv_forward, convcli.conv_backward, convcli.pool_forward, convcli.pool_backward):
        assert "engine" in inspect.signature(f).parameters, f.__name__
