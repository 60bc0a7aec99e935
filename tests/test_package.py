"""The package's shape: entry points, and the core's independence from the CLI."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import convcli
from test_cli_helpers import ROOT


def test_python_dash_m_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "convcli", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert convcli.__version__ in done.stdout


@pytest.mark.parametrize("where, setup", [
    ("while Python loads the CLI (typer)", "builtins.__import__ = stop_at('typer')"),
    ("before the CLI's signal handlers are in place", "signal.signal = stop_now"),
])
def test_ctrl_c_from_the_first_moment_is_one_line(where, setup):
    """A review's Ctrl-C in the first ~0.2 s of a run printed a 40-line
    traceback of the interrupted import. Made deterministic: the
    KeyboardInterrupt is raised at that point by a stand-in."""
    code = (
        "import builtins, signal, sys\n"
        "real = builtins.__import__\n"
        "def stop_at(module):\n"
        "    def imp(name, *a, **k):\n"
        "        if name == module:\n"
        "            raise KeyboardInterrupt\n"
        "        return real(name, *a, **k)\n"
        "    return imp\n"
        "def stop_now(*a):\n"
        "    raise KeyboardInterrupt\n"
        f"{setup}\n"
        "from convcli.__main__ import main\n"
        "sys.argv = ['convcli', 'shapes', 'nothing.yaml']\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr, done.stdout) == (130, "convcli: interrupted; nothing was written\n", ""), where


def test_a_stop_signal_after_the_command_ended_changes_nothing():
    """Ctrl-C while Python shut down after a finished run (joining the
    engine's threads, freeing large arrays) turned its exit code into 130
    with no line, or printed a traceback: the run was over and reported."""
    code = (
        "import atexit, os, signal, sys, time\n"
        "from convcli.__main__ import main\n"
        "def late():\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(0.05)\n"
        "atexit.register(late)\n"
        f"sys.argv = ['convcli', 'shapes', {str(ROOT / 'configs' / 'seed.yaml')!r}]\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert "conv1" in done.stdout  # the command did run


def test_importing_the_package_loads_the_api_on_first_use():
    code = ("import sys, convcli\n"
            "assert 'numpy' not in sys.modules\n"
            "assert callable(convcli.conv_forward) and 'numpy' in sys.modules\n"
            "assert set(convcli.__all__) <= set(dir(convcli))\n"
            "assert convcli.conv.conv_forward is convcli.conv_forward\n"  # a submodule, as before
            "try:\n"
            "    convcli.nope\n"
            "except AttributeError as e:\n"
            "    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "module 'convcli' has no attribute 'nope'\n"


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


def test_the_readmes_python_examples_run_and_give_the_shapes_they_say():
    """The README's Python blocks, run in order in one namespace (the second
    builds on the first), as a reader would paste them; the shapes checked
    by hand: a 'same' 2x2 conv keeps 4x4, a 2x2 pool halves it."""
    import re

    import numpy as np

    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2
    space: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), space)  # noqa: S102  the project's own docs
    assert space["P1"].shape == (10, 2, 2, 8) and space["dA_prev"].shape == (10, 4, 4, 3)
    # the pool with ties "first" passes each window's gradient to one position: 4 ones per sample and channel
    assert np.count_nonzero(space["dA1"]) == 10 * 2 * 2 * 8
