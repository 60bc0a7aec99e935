"""convcli: 2-D convolution and pooling layers, forward and backward, on NumPy.

The notebook-compatible API (NHWC layout, the course's signatures)::

    from convcli import conv_forward, conv_backward
    Z, cache = conv_forward(A_prev, W, b, {"stride": 1, "pad": 2})
    dA_prev, dW, db = conv_backward(dZ, cache)

The conv and pool functions take ``engine="fast"`` (vectorised, the
default) or ``engine="reference"`` (the notebook's loops).
"""

__version__ = "0.1.0"

from .conv import conv_backward, conv_forward, conv_single_step, zero_pad
from .pool import create_mask_from_window, distribute_value, pool_backward, pool_forward
from .relu import relu_backward, relu_forward

__all__ = [
    "__version__",
    "zero_pad",
    "conv_single_step",
    "conv_forward",
    "conv_backward",
    "pool_forward",
    "pool_backward",
    "create_mask_from_window",
    "distribute_value",
    "relu_forward",
    "relu_backward",
]
