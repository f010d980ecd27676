"""Argument checks that raise ``ValueError`` naming the parameter and the rule."""

from __future__ import annotations

import numbers

import numpy as np


def positive_int(name: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise if it is not an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def int_pair(name: str, value: object, minimum: int) -> tuple[int, int]:
    """Return an ``(h, w)`` pair from an int or a pair of ints, each ``>= minimum``."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        return positive_int(name, value[0], minimum), positive_int(name, value[1], minimum)
    number = positive_int(name, value, minimum)
    return number, number


def flag(name: str, value: object) -> bool:
    """Return ``value`` as a bool, or raise if it is not True or False (``1`` and ``'yes'`` are refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def generator(name: str, value: object) -> np.random.Generator:
    """``value`` as a ``numpy.random.Generator``: None (fresh entropy), an int seed >= 0, or a Generator
    (returned as is, so two layers can share one). numpy's ``BitGenerator`` and ``SeedSequence`` are
    accepted too, as ``numpy.random.default_rng`` accepts them; anything else raises ValueError."""
    rule = f"{name} must be None, an int seed >= 0 or a numpy.random.Generator, got {value!r}"
    if value is None or isinstance(value, (np.random.Generator, np.random.BitGenerator, np.random.SeedSequence)):
        return np.random.default_rng(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(rule)
    return np.random.default_rng(int(value))


def plain(value: object) -> object:
    """A torch tensor as a numpy copy, detached (one that requires grad, an ``nn.Parameter``, on any
    device; never sharing the tensor's memory); anything else unchanged. torch itself is never imported here."""
    if type(value).__module__.partition(".")[0] == "torch" and callable(getattr(value, "detach", None)):
        tensor = value.detach().cpu()
        if str(tensor.dtype) == "torch.bfloat16":  # numpy has no bfloat16
            tensor = tensor.float()
        return tensor.resolve_conj().resolve_neg().numpy().copy()
    return value


def _what(value: object, array: np.ndarray) -> str:
    """``str``, ``list of str``: what a caller passed, for an error message."""
    kind = type(value).__name__
    if array.dtype.kind in "US" and not isinstance(value, (str, bytes, np.str_, np.bytes_)):
        return f"{kind} of {'str' if array.dtype.kind == 'U' else 'bytes'}"
    return kind


def finite_array(name: str, value: object, ndims: tuple[int, ...], shape_hint: str) -> np.ndarray:
    """Return ``value`` as a float64 array with one of ``ndims`` dimensions and no NaN or inf.

    Numbers only, as torch's real layers take: None, strings (even ``"3"``) and complex numbers are
    refused (a complex value is never cut to its real part); a torch tensor is read detached.
    """
    value = plain(value)
    if value is None:
        raise ValueError(f"{name} must be an array of numbers, got None")
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be an array of numbers, got {type(value).__name__}") from error
    if raw.dtype.kind == "O":
        for index in np.ndindex(*raw.shape):
            item = raw[index]
            where = f" at index {index}" if raw.ndim else ""
            if item is None or isinstance(item, (str, bytes)):
                got = "None" if item is None else type(item).__name__
                raise ValueError(f"{name} must be an array of numbers, got {got}{where}")
            if isinstance(item, numbers.Complex) and not isinstance(item, numbers.Real):
                raw = np.asarray(complex(item))
                break
    if raw.dtype.kind == "c":
        raise ValueError(f"{name} must hold real numbers, got complex values ({raw.dtype}): they are not cut to "
                         f"their real part; pass {name}.real or abs({name}) if that is what you mean")
    if raw.dtype.kind not in "biufO":
        raise ValueError(f"{name} must be an array of numbers, got {_what(value, raw)}")
    try:
        array = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be an array of numbers, got {type(value).__name__}") from error
    if array.ndim not in ndims:
        raise ValueError(f"{name} must have shape {shape_hint}, got shape {array.shape}")
    if not np.isfinite(array).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{name} must be finite, got {array[bad]} at index {bad}")
    return array


def parameter(name: str, value: object, shape: tuple[int, ...]) -> np.ndarray:
    """Return a weight-like ``value`` as a finite float64 array of exactly ``shape``."""
    array = finite_array(name, value, (len(shape),), str(shape))
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got shape {array.shape}")
    return array


def torch_array(tensor) -> np.ndarray:
    """A float64 numpy copy of a torch tensor (never sharing its memory)."""
    return tensor.detach().cpu().double().numpy().copy()
