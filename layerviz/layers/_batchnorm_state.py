"""What a batch norm holds, as torch names it: its settings, its parameters and buffers, and its modes.

``weight`` (gamma) and ``bias`` (beta) are there with ``affine=True``; ``running_mean``, ``running_var`` and
``num_batches_tracked`` with ``track_running_stats=True``. Each is checked when it is set, against the
settings and ``num_features``; the agreement of a setting changed later with what it calls for is checked
when the layer runs. The pass itself (the statistics, the normalization, the update) is in
:mod:`~layerviz.layers.batchnorm`.
"""

from __future__ import annotations

import numbers

import numpy as np

from layerviz import _checks
from layerviz.layers._module import Module, Setting, check_shapes

_PARAMETERS_DOC = """
    Parameters
    ----------
    num_features : int
        ``C``, the number of channels (axis 1 of the input).
    eps : float, default 1e-5
        Added to the variance before the square root; must be > 0.
    momentum : float or None, default 0.1
        Weight of the new batch in the running statistics, in ``[0, 1]``; None means a cumulative
        average (``1 / num_batches_tracked``).
    affine : bool, default True
        Learnable ``weight`` (gamma) and ``bias`` (beta) per channel.
    track_running_stats : bool, default True
        Keep ``running_mean``, ``running_var`` and ``num_batches_tracked``; without them the batch
        statistics are used in eval mode too.
    bias : bool, default True
        Keyword-only, as in torch: with ``affine=True`` and ``bias=False`` there is a weight but no bias.

    Attributes
    ----------
    weight : ndarray, shape (C,), or None
        Gamma, ones at first; None without ``affine``.
    bias : ndarray, shape (C,), or None
        Beta, zeros at first; None without ``affine`` (or with ``bias=False``).
    running_mean : ndarray, shape (C,), or None
        Zeros at first; None without ``track_running_stats``.
    running_var : ndarray, shape (C,), or None
        Ones at first; None without ``track_running_stats``.
    num_batches_tracked : int or None
        Batches seen in training mode; None without ``track_running_stats``.
    training : bool
        True in training mode (the default); set with :meth:`train` and :meth:`eval`.
"""


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _eps(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return float(value)


def _momentum(name: str, value: object) -> float | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1):
        raise ValueError(f"{name} must be None or a number in [0, 1], got {value!r}")
    return None if value is None else float(value)


class _BatchNormState(Module):
    """What BatchNorm1d and BatchNorm2d hold (parameters and attributes: see either): the settings, the
    parameters and buffers they call for, and the modes."""

    # checked whenever set, as the constructor checks them; their agreement with the parameters and
    # buffers is checked when the layer runs
    num_features = Setting(_checks.positive_int)
    eps = Setting(_eps)
    momentum = Setting(_momentum)
    affine = Setting(_flag)
    track_running_stats = Setting(_flag)

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        bias: bool = True,
    ) -> None:
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        use_bias = _flag("bias", bias)
        self.training = True
        c = self.num_features
        self._weight = np.ones(c) if self.affine else None
        self._bias = np.zeros(c) if self.affine and use_bias else None
        self._running_mean = np.zeros(c) if self.track_running_stats else None
        self._running_var = np.ones(c) if self.track_running_stats else None
        self._num_batches_tracked = 0 if self.track_running_stats else None

    @classmethod
    def _from_torch(cls, module) -> _BatchNormState:
        """The layer equal to a ``torch.nn.BatchNorm1d`` / ``BatchNorm2d``: its arguments, a copy of its
        parameters and buffers, and its training flag (see :func:`layerviz.from_torch`)."""
        layer = cls(module.num_features, eps=module.eps, momentum=module.momentum, affine=module.affine,
                    track_running_stats=module.track_running_stats,
                    bias=not module.affine or module.bias is not None)
        if module.affine:
            layer.weight = _checks.torch_array(module.weight)
            if module.bias is not None:
                layer.bias = _checks.torch_array(module.bias)
        if module.track_running_stats:
            layer.running_mean = _checks.torch_array(module.running_mean)
            layer.running_var = _checks.torch_array(module.running_var)
            layer.num_batches_tracked = int(module.num_batches_tracked)
        layer.train(bool(module.training))
        return layer

    # -- parameters and buffers ---------------------------------------------------------------

    def _per_channel(self, name: str, value, present: bool, why: str) -> np.ndarray | None:
        if not present:
            if value is not None:
                raise ValueError(f"{name} must be None when {why}, got {type(value).__name__}")
            return None
        if value is None:
            raise ValueError(f"{name} must be an array of shape ({self.num_features},), got None")
        return _checks.parameter(name, value, (self.num_features,))

    @property
    def weight(self) -> np.ndarray | None:
        return self._weight

    @weight.setter
    def weight(self, value) -> None:
        self._weight = self._per_channel("weight", value, self.affine, "affine=False")

    @property
    def bias(self) -> np.ndarray | None:
        return self._bias

    @bias.setter
    def bias(self, value) -> None:
        present = self.affine and self._bias is not None
        self._bias = self._per_channel("bias", value, present, "affine=False or bias=False")

    @property
    def running_mean(self) -> np.ndarray | None:
        return self._running_mean

    @running_mean.setter
    def running_mean(self, value) -> None:
        self._running_mean = self._per_channel("running_mean", value, self.track_running_stats,
                                               "track_running_stats=False")

    @property
    def running_var(self) -> np.ndarray | None:
        return self._running_var

    @running_var.setter
    def running_var(self, value) -> None:
        array = self._per_channel("running_var", value, self.track_running_stats, "track_running_stats=False")
        if array is not None and (array < 0).any():
            bad = int(np.argmax(array < 0))
            raise ValueError(f"running_var must be >= 0, got {array[bad]} at index ({bad},)")
        self._running_var = array

    @property
    def num_batches_tracked(self) -> int | None:
        return self._num_batches_tracked

    @num_batches_tracked.setter
    def num_batches_tracked(self, value) -> None:
        if not self.track_running_stats:
            if value is not None:
                raise ValueError(f"num_batches_tracked must be None when track_running_stats=False, got {value!r}")
            self._num_batches_tracked = None
            return
        self._num_batches_tracked = _checks.positive_int("num_batches_tracked", value, 0)

    def _check_settings(self) -> None:
        """The parameters and buffers agree with ``affine``, ``track_running_stats`` and ``num_features``
        (a setting changed after construction must come with them)."""
        for flag, names in (("affine", ("weight",)), ("track_running_stats",
                                                      ("running_mean", "running_var", "num_batches_tracked"))):
            on = getattr(self, flag)
            for name in names:
                value = getattr(self, name)
                if on and value is None:
                    raise ValueError(f"{name} must be set when {flag}=True, got None: {flag} was changed after "
                                     f"construction; assign {name} too, or build a new {type(self).__name__}")
                if not on and value is not None:
                    raise ValueError(f"{name} must be None when {flag}=False, got {type(value).__name__}: "
                                     f"{flag} was changed after construction; set {name} = None too")
        if not self.affine and self.bias is not None:
            raise ValueError("bias must be None when affine=False, got ndarray: affine was changed after "
                             "construction; set bias = None too")
        c = (self.num_features,)
        check_shapes(self, {"weight": c, "bias": c, "running_mean": c, "running_var": c}, "num_features")

    # -- modes (train() and eval() come from Module) --------------------------------------------

    @property
    def uses_batch_stats(self) -> bool:
        """True when a call normalizes with the batch's statistics (training mode, or no running stats)."""
        return self.training or not self.track_running_stats

    @property
    def updates_running_stats(self) -> bool:
        """True when a call updates the running statistics (training mode with running stats)."""
        return self.training and self.track_running_stats

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats})")
