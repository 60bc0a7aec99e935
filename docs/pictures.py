"""Make the README's picture: a padding mistake, as ``check --plot`` draws it.

A learner pads the input of configs/stack.yaml's conv layer by repeating its
edge (``np.pad(mode="edge")``) instead of with zeros. Their ``conv1.Z`` is then
right inside and wrong on the border, and ``convcli check --against --plot``
shows that as a frame.

    make pictures        # or: .venv/bin/python docs/pictures.py

writes docs/check-padding.png (exit status 0 when the picture was written).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from convcli import conv_forward

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "stack.yaml"
PICTURE = ROOT / "docs" / "check-padding.png"


def convcli(*args: str) -> int:
    return subprocess.run([sys.executable, "-m", "convcli", *args]).returncode


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        ours, mine = Path(tmp) / "ours", Path(tmp) / "mine"
        if convcli("forward", str(CONFIG), "--out", str(ours)) != 0:
            return 2
        A_prev, W1, b1 = (np.load(ours / f"{q}.npy") for q in ("A_prev", "W1", "b1"))
        # the mistake: "same" padding for f=3 is one pixel, filled with the edge instead of 0
        padded = np.pad(A_prev, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
        Z, _ = conv_forward(padded, W1, b1, {"stride": 1, "pad": 0})
        mine.mkdir()
        np.save(mine / "conv1.Z.npy", Z)
        code = convcli("check", str(CONFIG), "--against", str(mine), "--plot", str(PICTURE), "--force")
    # check exits 1: the arrays differ, which is the point
    return 0 if code == 1 and PICTURE.is_file() else 2


if __name__ == "__main__":
    sys.exit(main())
