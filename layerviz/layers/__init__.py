"""One module per layer; each gives a vectorized forward and a step-by-step trace."""

from layerviz.layers.conv import Conv2d, ConvFrame, ConvTrace

__all__ = ["Conv2d", "ConvFrame", "ConvTrace"]
