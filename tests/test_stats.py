"""Statistics and their JSON form (convcli/stats.py)."""

from __future__ import annotations

import math

import numpy as np


def test_json_numbers_have_one_rule():
    """The CLI's JSON and summary.json say NaN and infinities the same way."""
    from convcli.cli import _clean
    from convcli.stats import json_number

    doc = {"a": np.float32("nan"), "b": [np.inf, -np.inf, 1.5], "c": np.arange(2), 3: (np.int64(4),)}
    assert _clean(doc) == {"a": "NaN", "b": ["Infinity", "-Infinity", 1.5], "c": [0, 1], "3": [4]}
    assert [json_number(x) for x in (math.nan, math.inf, -math.inf, 2.0, "x")] == [
        "NaN", "Infinity", "-Infinity", 2.0, "x"]
