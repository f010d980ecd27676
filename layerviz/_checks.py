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


def finite_array(name: str, value: object, ndims: tuple[int, ...], shape_hint: str) -> np.ndarray:
    """Return ``value`` as a float64 array with one of ``ndims`` dimensions and no NaN or inf."""
    try:
        array = np.asarray(value, dtype=np.float64)
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
