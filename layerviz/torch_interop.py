"""Build layerviz layers from torch.nn modules, weights included.

torch is imported only by the caller: this module reads the module's attributes
and never needs torch installed to be imported. Each layer class that has a
torch twin of the same name converts it in its ``_from_torch`` classmethod.
"""

from __future__ import annotations

from typing import Any

from layerviz import layers


def _converters() -> dict[str, Any]:
    return {cls.__name__: cls for cls in layers.LAYERS if hasattr(cls, "_from_torch")}


def from_torch(module: Any):
    """Return the layerviz layer equal to a ``torch.nn`` module, with a copy of its weights.

    Raises ``ValueError`` naming any module type layerviz does not have.
    """
    name = type(module).__name__
    converters = _converters()
    if type(module).__module__.startswith("torch.nn") and name in converters:
        return converters[name]._from_torch(module)
    supported = ", ".join(f"torch.nn.{n}" for n in sorted(converters))
    raise ValueError(f"module must be one of {supported}; got {name} (not supported yet)")
