"""convcli: 2-D convolution and pooling layers, forward and backward, on NumPy.

The notebook-compatible API (NHWC layout, the course's signatures)::

    from convcli import conv_forward, conv_backward
    Z, cache = conv_forward(A_prev, W, b, {"stride": 1, "pad": 2})
    dA_prev, dW, db = conv_backward(dZ, cache)

The conv and pool functions take ``engine="fast"`` (vectorised, the
default) or ``engine="reference"`` (the notebook's loops).

The functions are loaded on first use (PEP 562): ``import convcli`` itself
imports nothing heavy, so that the ``convcli`` command can answer a stop
signal from its first moment (see ``convcli.__main__``).
"""

from __future__ import annotations

import importlib
import importlib.util

__version__ = "0.1.0"

# The public API and the module each function lives in.
_API = {
    "zero_pad": "conv",
    "conv_single_step": "conv",
    "conv_forward": "conv",
    "conv_backward": "conv",
    "pool_forward": "pool",
    "pool_backward": "pool",
    "create_mask_from_window": "pool",
    "distribute_value": "pool",
    "relu_forward": "relu",
    "relu_backward": "relu",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        # a submodule, as ``import convcli; convcli.conv`` found it when this file imported them
        if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
            return importlib.import_module(f".{name}", __name__)
        raise AttributeError(f"module 'convcli' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # once: the next look-up is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({k for k in globals() if k.startswith("__")} | set(__all__))
