"""What every layer shares with ``torch.nn.Module``: training and eval modes, and settings checked when set.

``layer.train()`` / ``layer.eval()`` set ``layer.training`` (True by default, as in torch) on the layer
and on the layers inside it (a :class:`~layerviz.Sequential`'s), and return the layer. Dropout and batch
normalization read it; the other layers compute the same in both modes.

A :class:`Setting` is an attribute checked and normalised on every assignment by the rule the
constructor applies: ``pool.stride = 0`` raises ``ValueError: stride must be >= 1, got 0`` there and
then, and ``conv.stride = 2`` stores ``(2, 2)`` as ``Conv2d(..., stride=2)`` does. Rules between two
settings (``in_channels`` divisible by ``groups``, a weight of the shape the settings give) are checked
when the layer runs, since the settings may be changed one at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import numpy as np

from layerviz import _checks

_MISSING = object()

_M = TypeVar("_M", bound="Module")


class Setting:
    """A layer attribute checked and normalised on every assignment.

    Parameters
    ----------
    check : callable
        ``check(name, value)`` returns the value to store, or raises ``ValueError`` naming ``name``
        and the rule (the ``layerviz._checks`` functions have this form).
    default : optional
        What the attribute reads before it is first set (otherwise: AttributeError).
    doc : str, optional
    """

    def __init__(self, check: Callable[[str, Any], Any], default: Any = _MISSING, doc: str = "") -> None:
        self.check = check
        self.default = default
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, layer: Any, owner: type | None = None) -> Any:
        if layer is None:
            return self
        try:
            return layer.__dict__[self.name]
        except KeyError:
            if self.default is not _MISSING:
                return self.default
            raise AttributeError(f"{type(layer).__name__!r} object has no attribute {self.name!r}") from None

    def __set__(self, layer: Any, value: Any) -> None:
        layer.__dict__[self.name] = self.check(self.name, value)


class Module:
    """The base of every layerviz layer: ``training``, ``train()`` and ``eval()`` as in ``torch.nn.Module``.

    Attributes
    ----------
    training : bool
        True (the default) in training mode, False in eval mode. Only :class:`~layerviz.Dropout`,
        the batch norms and the recurrent layers' dropout between layers behave differently.
    """

    training = Setting(_checks.flag, default=True, doc="True in training mode (the default), False in eval mode.")

    def _children(self) -> Iterable[Module]:
        """The layers inside this one, which :meth:`train` and :meth:`eval` also set."""
        return ()

    def train(self: _M, mode: bool = True) -> _M:
        """Set training mode (``mode=False``: eval mode) on this layer and the layers inside it.

        Returns the layer itself, like torch. ``mode`` must be a bool: torch refuses ``'yes'`` and 1 too.
        """
        if not isinstance(mode, (bool, np.bool_)):
            raise ValueError(f"training mode is expected to be boolean: mode must be True or False, got {mode!r}")
        self.training = bool(mode)
        for child in self._children():
            train = getattr(child, "train", None)  # a layer of one's own may have no modes
            if callable(train):
                train(mode)
        return self

    def eval(self: _M) -> _M:
        """Set eval mode, ``train(False)``; returns the layer itself, like torch."""
        return self.train(False)

    def _tuple_output(self) -> tuple[str, str] | None:
        """``(what, advice)`` when ``forward`` returns a tuple rather than one array (``'(values, indices)'``,
        and how to pass an array on instead); None when it returns an array."""
        return None


def pair_of(minimum: int) -> Callable[[str, Any], tuple[int, int]]:
    """The check of an ``(h, w)`` setting: an int (used for both) or a pair of ints, each ``>= minimum``."""

    def check(name: str, value: Any) -> tuple[int, int]:
        return _checks.int_pair(name, value, minimum)

    return check


def check_shapes(layer: Any, expected: dict[str, tuple[int, ...]], settings: str) -> None:
    """Raise ValueError if a parameter of ``layer`` (None is skipped) no longer has the shape its settings give.

    Parameters are checked when assigned; this catches a setting changed afterwards (``conv.kernel_size = 5``
    with the 3x3 weight still in place), before the layer computes with it.
    """
    for name, shape in expected.items():
        value = getattr(layer, name)
        if value is not None and value.shape != shape:
            raise ValueError(f"{name} must have shape {shape} for the layer's {settings}, got shape {value.shape}: "
                             f"a setting changed after {name} was set; assign a new {name} of shape {shape}")
