"""Build layerviz layers from torch.nn modules, weights included.

torch is imported only by the caller: this module reads the module's attributes
and never needs torch installed to be imported. Each layer class that has a
torch twin of the same name converts it in its ``_from_torch`` classmethod.
"""

from __future__ import annotations

from typing import Any

from layerviz import layers


def _converters() -> dict[str, Any]:
    from layerviz import losses

    classes = (*layers.LAYERS, losses.MSELoss, losses.CrossEntropyLoss)
    return {cls.__name__: cls for cls in classes if hasattr(cls, "_from_torch")}


class ConversionError(ValueError):
    """A module that cannot be converted, with its place in the model already named (not wrapped again)."""


def from_torch(module: Any):
    """Return the layerviz layer equal to a ``torch.nn`` module, with a copy of its weights.

    The layer's ``training`` flag is the module's (``model.eval()`` before converting gives layers in
    eval mode); a ``torch.nn.Sequential``'s layers are converted one by one, each with its own flag.

    Raises ``ValueError`` naming first a module layerviz cannot convert, and where it sits in the
    model (``'features.3'``, the name ``model.get_submodule`` takes), then what to do, then the
    modules it can convert.
    """
    return _convert(module, "")


def _convert(module: Any, path: str):
    """:func:`from_torch` of ``module``, found at ``path`` in the model (``''``: the model itself)."""
    kind, name = type(module), type(module).__name__
    converters = _converters()
    if kind.__module__.startswith("torch.nn") and name in converters:
        cls = converters[name]
        try:
            layer = cls._from_torch(module, path=path) if cls is layers.Sequential else cls._from_torch(module)
        except ConversionError:
            raise
        except ValueError as error:
            if not path:
                raise
            raise ConversionError(f"torch.nn.{name} at {path!r} in the model cannot be converted: {error}") from error
        layer.training = bool(module.training)
        return layer
    where = f" at {path!r} in the model" if path else ""
    supported = ", ".join(f"torch.nn.{n}" for n in sorted(converters))
    if kind.__module__.startswith("torch.nn"):
        what, advice = f"torch.nn.{name}", (f"layerviz has no {name} layer (not supported yet); replace it with one "
                                           "of the modules below, or convert the layers around it one by one")
    else:
        what, advice = (f"{kind.__module__}.{kind.__qualname__}",
                        "it is not a torch.nn layer; layerviz converts torch.nn layers and torch.nn.Sequential "
                        "models made of them: write the model as an nn.Sequential of the modules below, or convert "
                        "its layers one by one")
    raise ConversionError(f"{what}{where} cannot be converted: {advice}. Supported: {supported}")
