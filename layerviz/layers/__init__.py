"""One module per layer; each gives a vectorized forward and a step-by-step trace."""

from layerviz.layers.conv import Conv2d, ConvFrame, ConvTrace

#: Every layer class; those with a ``_from_torch`` classmethod are what :func:`layerviz.from_torch` converts.
LAYERS = (Conv2d,)

__all__ = ["LAYERS", "Conv2d", "ConvFrame", "ConvTrace"]
