"""Show me the code: the ``torch.nn`` call and the plain numpy loops that compute what a trace shows.

:func:`program` writes one runnable Python script for a trace: its input and weights as literals, the
equivalent ``torch.nn`` construction and call (``out_torch``), and the definition as plain loops over
numpy arrays (``out_numpy``). The tests run these scripts and compare both results with the engine, so
the code a student copies is code that works.

Each kind of layer has its writer, a module of this package (``conv``, ``pooling``, ``recurrent``, ...) imported
the first time a trace of that kind asks for its code.
"""

from __future__ import annotations

import importlib
import textwrap
from types import ModuleType
from typing import Any

from layerviz.code._literal import LINE_WIDTH, literal

__all__ = ["LINE_WIDTH", "literal", "problem", "program", "supports"]

#: For each layer class (by name): its writer's module, the writer in it, and the function its loops define.
_WRITERS = {
    "Conv2d": ("conv", "write", "conv2d"),
    "MaxPool2d": ("pooling", "write", "pool2d"),
    "AvgPool2d": ("pooling", "write", "pool2d"),
    "AdaptiveAvgPool2d": ("pooling", "write_adaptive", "pool2d"),
    "Dropout": ("dropout", "write", "dropout"),
    "BatchNorm1d": ("batchnorm", "write", "batchnorm"),
    "BatchNorm2d": ("batchnorm", "write", "batchnorm"),
    "Linear": ("linear", "write", "linear"),
    "Dense": ("linear", "write", "dense"),
    "RNN": ("recurrent", "write", "recurrent"),
    "LSTM": ("recurrent", "write", "recurrent"),
    "GRU": ("recurrent", "write", "recurrent"),
    "Sequential": ("sequential", "write", "model"),
}

#: Layers whose loops take one sample ``(C, H, W)``; a batch is looped over.
_PER_SAMPLE = ("Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d")
_RECURRENT = ("RNN", "LSTM", "GRU")


def _kind(layer: Any) -> str | None:
    """The layer's class name if a writer knows it (a layerviz layer, not a class of one's own), else None."""
    cls = type(layer)
    return cls.__name__ if cls.__name__ in _WRITERS and cls.__module__.startswith("layerviz.layers.") else None


def _writer(kind: str) -> ModuleType:
    return importlib.import_module(f"layerviz.code.{_WRITERS[kind][0]}")


def _title(layer: Any) -> str:
    return f"Sequential: {layer.short_repr()}" if _kind(layer) == "Sequential" else repr(layer)


def problem(trace: Any) -> str | None:
    """Why :func:`program` cannot write the code of ``trace``, as a sentence for the page; None when it can.

    Not for a recurrent trace with gates forced open or shut (torch has no such thing), dropout drawn
    between layers (torch draws its own), or non-zero initial states; not for a Sequential holding a layer
    it has no loops for.
    """
    layer = getattr(trace, "layer", None)
    if isinstance(layer, tuple) and all(_kind(part) for part in layer):
        return "the code is written for one layer at a time: choose one of these layers to see its code"
    kind = _kind(layer)
    if kind is None:
        return f"layer must be one of {', '.join(_WRITERS)}, got {type(layer).__name__}"
    check = getattr(_writer(kind), "problem", None)
    return None if check is None else check(trace)


def supports(trace: Any) -> bool:
    """Whether :func:`program` can write the code of ``trace``: a layer it knows, computed as torch would
    (see :func:`problem`)."""
    return problem(trace) is None


def program(trace: Any) -> str:
    """A runnable script computing ``trace.output`` twice: with ``torch.nn`` (``out_torch``) and with loops (``out_numpy``).

    Raises ValueError for a layer it cannot write (see :func:`problem`).
    """
    reason = problem(trace)
    if reason is not None:
        raise ValueError(reason)
    kind = _kind(trace.layer)
    _, write, function = _WRITERS[kind]
    writer = _writer(kind)
    data, torch_part, numpy_part = getattr(writer, write)(trace)
    batched_model = kind == "Sequential" and trace.input.ndim == writer.sample_ndim(trace.layer) + 1
    if (kind in _PER_SAMPLE and trace.input.ndim == 4) or batched_model:
        call = f"out_numpy = np.stack([{function}(sample) for sample in x])"
    elif kind in _RECURRENT and trace.input.ndim == 3:
        call = (f"out_numpy = np.stack([{function}(sequence) for sequence in x])" if trace.layer.batch_first else
                f"out_numpy = np.stack([{function}(x[:, n]) for n in range(x.shape[1])], axis=1)")
    else:
        call = f"out_numpy = {function}(x)"
    shape = f"x: {tuple(trace.input.shape)}"
    title = f"{_title(trace.layer)} on an input of shape {tuple(trace.input.shape)}, as the page shows it"
    return "\n".join([
        "import numpy as np",
        "import torch",
        "",
        *textwrap.wrap(title, LINE_WIDTH, initial_indent="# ", subsequent_indent="# "),
        literal("x", trace.input) + f"   # {shape}",
        *data,
        "",
        "# 1. with torch.nn",
        torch_part,
        "",
        "# 2. with plain loops over numpy arrays: the definition",
        numpy_part,
        "",
        "",
        call,
        "print(np.abs(out_torch - out_numpy).max())   # 0 up to rounding",
    ]) + "\n"
