"""One module per layer; each gives a vectorized forward and a step-by-step trace."""

from layerviz.layers.batchnorm import BatchNorm1d, BatchNorm2d, BatchNormFrame, BatchNormTrace
from layerviz.layers.conv import Conv2d, ConvFrame, ConvTrace
from layerviz.layers.dropout import Dropout, DropoutFrame, DropoutTrace
from layerviz.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

#: Every layer class; those with a ``_from_torch`` classmethod are what :func:`layerviz.from_torch` converts.
LAYERS = (Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Dropout, BatchNorm1d, BatchNorm2d)

__all__ = [
    "LAYERS",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNormFrame",
    "BatchNormTrace",
    "Conv2d",
    "ConvFrame",
    "ConvTrace",
    "Dropout",
    "DropoutFrame",
    "DropoutTrace",
    "MaxPool2d",
]
