"""Build layerviz layers from torch.nn modules, weights included.

torch is imported only by the caller: this module reads the module's attributes
and never needs torch installed to be imported.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from layerviz.layers import Conv2d


def _numpy(tensor: Any) -> np.ndarray:
    return tensor.detach().cpu().double().numpy().copy()


def _conv2d(module: Any) -> Conv2d:
    conv = Conv2d(
        module.in_channels,
        module.out_channels,
        module.kernel_size,
        stride=module.stride,
        padding=module.padding,
        dilation=module.dilation,
        groups=module.groups,
        bias=module.bias is not None,
        padding_mode=module.padding_mode,
    )
    conv.weight = _numpy(module.weight)
    if module.bias is not None:
        conv.bias = _numpy(module.bias)
    return conv


_CONVERTERS = {"Conv2d": _conv2d}


def from_torch(module: Any):
    """Return the layerviz layer equal to a ``torch.nn`` module, with a copy of its weights.

    Supported: ``nn.Conv2d``. Raises ``ValueError`` naming any other module type.
    """
    name = type(module).__name__
    if type(module).__module__.startswith("torch.nn") and name in _CONVERTERS:
        return _CONVERTERS[name](module)
    raise ValueError(f"module must be one of torch.nn.{', torch.nn.'.join(_CONVERTERS)}; got {name} (not supported yet)")
