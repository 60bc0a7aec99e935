"""Shared helpers for the CLI tests (no tests here).

``run(args)`` invokes the Typer app in-process through CliRunner, with stdout
and stderr kept apart; ``assert_error`` checks the contract of a bad input:
exit 2, one line ``convcli: error: WHERE: WHAT`` on stderr, no traceback,
nothing on stdout.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml
from typer.testing import CliRunner

from convcli.cli import app

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
SAMPLES = ROOT / "sample_data"

SEED = """\
seed: 1
inputs:
  A_prev: {random: [10, 4, 4, 3]}
  W: {random: [2, 2, 3, 8]}
  b: {random: [1, 1, 1, 8]}
layers:
  - type: conv
    W: W
    b: b
    stride: 1
    pad: 2
    bias: window
backward:
  grad: output
expected:
  dA_prev.mean: 9.608990675868995
  dW.mean: 10.581741275547566
  db.mean: 76.37106919563735
"""

SMALL = """\
seed: 0
inputs:
  A_prev: {random: [2, 5, 5, 3]}
  W: {random: [3, 3, 3, 2]}
  b: {random: [2]}
layers:
  - {type: conv, W: W, b: b, pad: 1}
  - {type: relu}
  - {type: pool, f: 2, mode: max}
backward:
  grad: random
"""


def run(args, **kw):
    return CliRunner().invoke(app, [str(a) for a in args], **kw)


def write(tmp_path: Path, text_or_data, name: str = "cfg.yaml") -> Path:
    """Write a config (YAML text, or data to dump) into tmp_path."""
    path = tmp_path / name
    if isinstance(text_or_data, str):
        path.write_text(textwrap.dedent(text_or_data))
    else:
        path.write_text(yaml.safe_dump(text_or_data, sort_keys=False))
    return path


def seed_data() -> dict:
    return yaml.safe_load(SEED)


def small_data() -> dict:
    return yaml.safe_load(SMALL)


def alias_bomb(levels: int) -> str:
    """A YAML list of 10**levels ones in a few hundred bytes: each level
    lists the one below it 10 times, by alias."""
    value = "&a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"
    for i in range(1, levels):
        value = f"&a{i} [{value}" + f", *a{i - 1}" * 9 + "]"
    return value


def tree(path: Path) -> set[str]:
    """Every path under ``path``, hidden ones included."""
    return {str(p.relative_to(path)) for p in path.rglob("*")}


def assert_error(result, *fragments: str) -> str:
    """Exit 2, one line 'convcli: error: WHERE: WHAT' naming ``fragments``."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("convcli: error: "), line
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line
