"""Shared test helpers.

PyTorch is a test-only oracle. Where it is missing, the tests that need it skip
with a visible reason; under CI (``CI`` set) a missing torch is an error, so
those tests can never be skipped silently there.
"""

from __future__ import annotations

import os

import pytest


def import_torch():
    """Return the torch module, skipping (or failing under CI) without it."""
    try:
        import torch
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("torch is required under CI (pip install torch==2.13.0)")
        pytest.skip("PyTorch not installed: pip install torch==2.13.0 to run the oracle tests")
    torch.set_default_dtype(torch.float64)
    return torch
