"""BatchNorm1d and BatchNorm2d: each channel rescaled by the statistics of the batch.

For input ``x: (N, C)`` or ``(N, C, L)`` (BatchNorm1d) or ``(N, C, H, W)`` (BatchNorm2d), every
channel ``c`` is normalized with a mean and a variance taken over all axes but ``C`` (the batch and
the positions: ``n = N``, ``N·L`` or ``N·H·W`` values per channel)::

    mean[c] = sum(x[:, c]) / n
    var[c]  = sum((x[:, c] - mean[c])**2) / n                       (biased: divided by n)
    out[:, c] = (x[:, c] - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c]

``weight`` (gamma, ones) and ``bias`` (beta, zeros) exist when ``affine=True``. Which mean and
variance are used, and what is updated, depends on the mode, as in ``torch.nn``:

- training mode (``layer.train()``, the default): the batch statistics above; with
  ``track_running_stats=True`` the call also updates the buffers (``m = momentum``)::

      num_batches_tracked += 1
      running_mean[c] = (1 - m) * running_mean[c] + m * mean[c]
      running_var[c]  = (1 - m) * running_var[c]  + m * var[c] * n / (n - 1)   (unbiased variance)

  and ``momentum=None`` takes ``m = 1 / num_batches_tracked``: a cumulative average of all batches.
  With a single value per channel (``n = 1``) the batch statistics mean nothing: ValueError.
- eval mode (``layer.eval()``): ``running_mean`` and ``running_var`` replace ``mean`` and ``var``;
  nothing is updated. With ``track_running_stats=False`` there are no running statistics (the
  buffers are None) and the batch statistics are used in both modes.

Calling the layer (``layer(x)``) updates its buffers in training mode, like torch. ``layer.frames(x)``
does not: it shows the update and exposes the new values on the trace (``new_running_mean``, ...),
so stepping through a trace, or building it twice, never changes the layer.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from layerviz import _checks
from layerviz._format import Ask, paren, redoable, vector_text
from layerviz._format import number as _number
from layerviz._format import shorten as _shorten
from layerviz.layers._module import Module, Setting, check_shapes
from layerviz.scene import Grid, Highlight, Scene
from layerviz.backward import BackwardTrace, HasBackward, Section, name as grad_name, product_step, sum_of, sum_of_products
from layerviz.trace import LazyCaptions, Trace

#: Inputs of at most this many values are normalized one element per frame; larger inputs one
#: row per frame (a row: the last axis of the input, e.g. ``x[n, c, i, :]``; for an ``(N, C)``
#: input, the whole column ``x[:, c]`` of a channel).
MAX_ELEMENT_FRAMES = 512

#: The kinds of frames, in the order they come in a trace.
PHASES = ("mean", "variance", "normalize", "update")

#: Highlight origin row that puts a highlight outside its grid: it is not drawn at that frame.
_HIDDEN = -(2**30)


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


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share (parameters and attributes: see either); a subclass sets
    the input shapes it accepts."""

    _ndims: tuple[int, ...] = ()
    _shape_hint = ""

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
    def _from_torch(cls, module) -> _BatchNorm:
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

    # -- forward ------------------------------------------------------------------------------

    def _check_input(self, x) -> np.ndarray:
        """Return ``x`` as a finite float64 array of an accepted shape with ``num_features`` channels."""
        self._check_settings()
        x = _checks.finite_array("x", x, self._ndims, self._shape_hint)
        if x.shape[1] != self.num_features:
            raise ValueError(f"x must have num_features={self.num_features} channels (axis 1), "
                             f"got {x.shape[1]} (shape {x.shape})")
        if 0 in x.shape:
            raise ValueError(f"x must not be empty, got shape {x.shape}")
        if self.uses_batch_stats and x.size == self.num_features:
            when = "training" if self.training else "using batch statistics (track_running_stats=False)"
            raise ValueError(
                f"Expected more than 1 value per channel when {when}, got input size {x.shape}: the mean "
                "and variance of one value say nothing about the batch (its variance is 0 and the unbiased "
                "variance divides by 0); use a batch of at least 2, or eval() mode with running statistics"
            )
        return x

    def _compute(self, x: np.ndarray) -> _Pass:
        """The whole pass on a checked ``x``, vectorized; changes nothing."""
        c = self.num_features
        by_channel = np.moveaxis(x, 1, 0).reshape(c, -1)  # (C, n): channel-major
        count = by_channel.shape[1]
        result = _Pass(count=count)
        if self.uses_batch_stats:
            result.batch_mean = by_channel.mean(axis=1)
            result.batch_var = ((by_channel - result.batch_mean[:, None]) ** 2).mean(axis=1)
            mean, var = result.batch_mean, result.batch_var
        else:
            mean, var = self.running_mean, self.running_var
        result.mean, result.var = mean, var
        result.std = np.sqrt(var + self.eps)
        normalized = (by_channel - mean[:, None]) / result.std[:, None]
        out = normalized
        if self.weight is not None:
            out = out * self.weight[:, None]
        if self.bias is not None:
            out = out + self.bias[:, None]
        shape_c = (c, x.shape[0], *x.shape[2:])
        result.normalized = np.ascontiguousarray(np.moveaxis(normalized.reshape(shape_c), 0, 1))
        result.output = np.ascontiguousarray(np.moveaxis(out.reshape(shape_c), 0, 1))
        if self.updates_running_stats:
            batches = self.num_batches_tracked + 1
            factor = 1.0 / batches if self.momentum is None else self.momentum
            result.num_batches_tracked = batches
            result.factor = factor
            result.unbiased_var = result.batch_var * count / (count - 1)
            result.running_mean = (1 - factor) * self.running_mean + factor * result.batch_mean
            result.running_var = (1 - factor) * self.running_var + factor * result.unbiased_var
        return result

    def forward(self, x) -> np.ndarray:
        """Normalize ``x`` (shape as in the class docstring); returns an array of the same shape.

        In training mode with ``track_running_stats`` this updates ``running_mean``, ``running_var``
        and ``num_batches_tracked``, as torch does.
        """
        x = self._check_input(x)
        result = self._compute(x)
        if result.running_mean is not None:
            self._running_mean = result.running_mean
            self._running_var = result.running_var
            self._num_batches_tracked = result.num_batches_tracked
        return result.output

    __call__ = forward

    def frames(self, x, *, by_row: bool | None = None) -> BatchNormTrace:
        """The forward pass step by step; does not change the layer (see :class:`BatchNormTrace`).

        Parameters
        ----------
        x : array_like
            The input, shaped as ``forward`` accepts.
        by_row : bool, optional
            Normalize one row per frame instead of one element. Default: by row when ``x`` has
            more than :data:`MAX_ELEMENT_FRAMES` values.
        """
        return BatchNormTrace(self, x, by_row=by_row)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats})")


class BatchNorm1d(_BatchNorm):
    __doc__ = f"""Batch normalization of ``x: (N, C)`` or ``(N, C, L)``, with ``torch.nn.BatchNorm1d``'s arguments.

    Statistics per channel over ``N`` values (``(N, C)``) or ``N·L`` values (``(N, C, L)``); the
    formulas are in the module docstring.
{_PARAMETERS_DOC}
    Examples
    --------
    >>> bn = BatchNorm1d(1)
    >>> bn(np.array([[1.0], [2.0], [3.0], [4.0]])).round(4).ravel()   # mean 2.5, variance 1.25
    array([-1.3416, -0.4472,  0.4472,  1.3416])
    >>> bn.running_mean, bn.running_var.round(4), bn.num_batches_tracked
    (array([0.25]), array([1.0667]), 1)
    """

    _ndims = (2, 3)
    _shape_hint = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    __doc__ = f"""Batch normalization of ``x: (N, C, H, W)``, with ``torch.nn.BatchNorm2d``'s arguments.

    Statistics per channel over the ``N·H·W`` values of that channel in the whole batch; the
    formulas are in the module docstring.
{_PARAMETERS_DOC}
    Examples
    --------
    >>> bn = BatchNorm2d(2).eval()          # eval mode: running statistics, here the initial 0 and 1
    >>> bn(np.ones((1, 2, 2, 2)))[0, 0].round(4)
    array([[1., 1.],
           [1., 1.]])
    """

    _ndims = (4,)
    _shape_hint = "(N, C, H, W)"


@dataclass
class _Pass:
    """The numbers of one forward pass (per channel ``(C,)`` arrays; None where not computed)."""

    count: int
    batch_mean: np.ndarray | None = None
    batch_var: np.ndarray | None = None
    mean: np.ndarray | None = None
    var: np.ndarray | None = None
    std: np.ndarray | None = None
    normalized: np.ndarray | None = None
    output: np.ndarray | None = None
    factor: float | None = None
    unbiased_var: np.ndarray | None = None
    running_mean: np.ndarray | None = None
    running_var: np.ndarray | None = None
    num_batches_tracked: int | None = None


def batchnorm_naive(layer: _BatchNorm, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The definition, as plain loops: the reference the tests hold the vectorized code to.

    ``x`` already checked. Returns ``(out, new_running_mean, new_running_var)``, the running
    statistics being None when the call would not update them. Changes nothing.
    """
    n_samples, channels = x.shape[:2]
    positions = list(np.ndindex(*x.shape[2:]))
    out = np.zeros(x.shape)
    new_mean = None if not layer.updates_running_stats else np.zeros(channels)
    new_var = None if not layer.updates_running_stats else np.zeros(channels)
    for c in range(channels):
        values = [x[(n, c, *p)] for n in range(n_samples) for p in positions]
        count = len(values)
        if layer.uses_batch_stats:
            mean = sum(values) / count
            var = sum((v - mean) ** 2 for v in values) / count
        else:
            mean, var = layer.running_mean[c], layer.running_var[c]
        gamma = 1.0 if layer.weight is None else layer.weight[c]
        beta = 0.0 if layer.bias is None else layer.bias[c]
        for n in range(n_samples):
            for p in positions:
                out[(n, c, *p)] = (x[(n, c, *p)] - mean) / (var + layer.eps) ** 0.5 * gamma + beta
        if new_mean is not None:
            batches = layer.num_batches_tracked + 1
            m = 1.0 / batches if layer.momentum is None else layer.momentum
            new_mean[c] = (1 - m) * layer.running_mean[c] + m * mean
            new_var[c] = (1 - m) * layer.running_var[c] + m * var * count / (count - 1)
    return out, new_mean, new_var


# -- frames ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BatchNormFrame:
    """One step of a batch normalization: a statistic, a normalized element (or row), or an update.

    Attributes
    ----------
    index : int
        Position in the trace.
    phase : {'mean', 'variance', 'normalize', 'update'}
        What the step computes.
    channel : int
        The channel ``c`` it is about.
    cells : ndarray of int, shape (m, x.ndim)
        Indices into ``x`` of the values read: every value of the channel (``mean``, ``variance``),
        the element or row normalized (``normalize``), none (``update``: shape ``(0, x.ndim)``).
    values : ndarray, shape (m,)
        ``x`` at ``cells``.
    count : int
        ``n``, the number of values per channel.
    mean, var : float or None
        The channel's mean and (biased) variance used to normalize: the batch's, or the running
        ones in eval mode. ``var`` is None in a ``mean`` frame (not computed yet).
    total : float or None
        ``mean``: the sum of ``values``; ``variance``: the sum of ``squared_deviations``; else None.
    squared_deviations : ndarray, shape (m,), or None
        ``variance``: ``(values - mean)**2``; else None.
    eps : float
    std : float or None
        ``normalize``: ``sqrt(var + eps)``; else None.
    normalized : ndarray, shape (m,), or None
        ``normalize``: ``(values - mean) / std``; else None.
    gamma, beta : float or None
        ``normalize``: ``weight[c]`` and ``bias[c]`` (1.0 and 0.0 without them); else None.
    statistic : {'running_mean', 'running_var'} or None
        ``update``: the buffer updated; else None.
    old, observed, factor : float or None
        ``update``: the buffer's value before, the batch's value blended in (the mean, or the
        unbiased variance ``var * n / (n - 1)``) and its weight ``m``; else None.
    result : float or ndarray
        What the step computes: the mean, the variance, the output element (an ``(m,)`` array when
        the frame normalizes a row), or the buffer's new value ``(1 - m) * old + m * observed``.
    narration : str
        The arithmetic in words and numbers.
    """

    index: int
    phase: str
    channel: int
    cells: np.ndarray
    values: np.ndarray
    count: int
    mean: float | None
    var: float | None
    total: float | None
    squared_deviations: np.ndarray | None
    eps: float
    std: float | None
    normalized: np.ndarray | None
    gamma: float | None
    beta: float | None
    statistic: str | None
    old: float | None
    observed: float | None
    factor: float | None
    result: float | np.ndarray
    narration: str
    _trace: BatchNormTrace
    #: What the frame asks a student to predict (None for a statistic of values abridged with "…").
    question: Ask | None = None

    @property
    def output_so_far(self) -> np.ndarray:
        """The output, shaped like ``x``, NaN where not computed yet at this frame."""
        trace = self._trace
        return np.where(trace.output_frame <= self.index, trace.output, np.nan)

    def __repr__(self) -> str:
        return f"BatchNormFrame({self.index}, {self.phase}: {self.narration})"


def _index(cell) -> str:
    return ",".join(str(int(i)) for i in cell)


#: Values a mean (a variance) lists before abridging them with "…"; listed in full, the statistic is asked.
_STAT_TERMS, _VARIANCE_TERMS = 6, 4


def _exact(value: float) -> str:
    """A constant as short as it reads (``0.9``), with every digit when that is what it takes."""
    text = f"{value:g}"
    return text if float(text) == value else repr(float(value))


class BatchNormTrace(HasBackward, Trace):
    """The frames of a batch normalization, in four phases.

    1. ``mean``: one frame per channel, ``mean[c] = (x1 + … + xn) / n`` (batch statistics only);
    2. ``variance``: one frame per channel, ``var[c] = ((x1 − mean)² + …) / n`` (idem);
    3. ``normalize``: one frame per element, channel by channel (channel-major order: ``c``, then
       ``n``, then the positions), ``(x − mean) / √(var + eps) × gamma + beta``; one frame per row
       (the last axis of ``x``; the whole channel for an ``(N, C)`` input) when the input has more
       than :data:`MAX_ELEMENT_FRAMES` values or ``by_row=True``;
    4. ``update``: in training mode with running statistics, two frames per channel,
       ``running_mean[c]`` then ``running_var[c]``.

    In eval mode with running statistics only the ``normalize`` phase is there, with the running
    mean and variance.

    The whole pass is computed once, vectorized, when the trace is built; ``trace[k]`` finds the
    phase of frame ``k`` with a binary search over the phase offsets and builds its record from
    read-only copies. Building the trace does not change the layer: the running statistics a call
    would leave are in ``new_running_mean``, ``new_running_var`` and ``new_num_batches_tracked``.

    Attributes
    ----------
    input, output : ndarray
        ``x`` and the layer's output, same shape.
    training : bool
        The layer's mode when the trace was built.
    uses_batch_stats, updates_running_stats : bool
        Whether the batch's statistics normalize, and whether the running ones are updated.
    batch_mean, batch_var : ndarray, shape (C,), or None
        The batch statistics (biased variance); None in eval mode with running statistics.
    mean, var : ndarray, shape (C,)
        The statistics used to normalize (the batch's or the running ones).
    weight, bias : ndarray, shape (C,), or None
        Copies of the layer's parameters.
    running_mean, running_var : ndarray, shape (C,), or None
        Copies of the layer's buffers when the trace was built (before any update).
    num_batches_tracked : int or None
    factor : float or None
        The weight ``m`` of this batch in the update (``momentum``, or ``1 / new_num_batches_tracked``).
    unbiased_var : ndarray, shape (C,), or None
        ``batch_var * n / (n - 1)``, what the running variance is updated with.
    new_running_mean, new_running_var : ndarray, shape (C,), or None
        The buffers after the update the frames show; None when there is no update.
    new_num_batches_tracked : int or None
    count : int
        Values per channel, ``n``.
    by_row : bool
        True when a ``normalize`` frame covers a row rather than one element.
    phase_starts : ndarray of int, shape (4,)
        Index of the first frame of each phase of :data:`PHASES` (equal starts: an absent phase).
    output_frame : ndarray of int, shape like ``x``
        The frame at which each output element is computed.
    """

    def __init__(self, layer: _BatchNorm, x, *, by_row: bool | None = None) -> None:
        checked = layer._check_input(x)
        computed = layer._compute(checked)
        self.layer = layer
        self.training = layer.training
        self.uses_batch_stats = layer.uses_batch_stats
        self.updates_running_stats = layer.updates_running_stats
        self.eps = layer.eps
        self.momentum = layer.momentum
        self.input = checked.copy()
        self.output = computed.output
        self.normalized = computed.normalized
        self.count = computed.count
        self.batch_mean, self.batch_var = computed.batch_mean, computed.batch_var
        self.mean, self.var, self.std = computed.mean.copy(), computed.var.copy(), computed.std
        self.weight = None if layer.weight is None else layer.weight.copy()
        self.bias = None if layer.bias is None else layer.bias.copy()
        self.running_mean = None if layer.running_mean is None else layer.running_mean.copy()
        self.running_var = None if layer.running_var is None else layer.running_var.copy()
        self.num_batches_tracked = layer.num_batches_tracked
        self.factor = computed.factor
        self.unbiased_var = computed.unbiased_var
        self.new_running_mean, self.new_running_var = computed.running_mean, computed.running_var
        self.new_num_batches_tracked = computed.num_batches_tracked

        channels = layer.num_features
        self.by_channel = np.moveaxis(self.input, 1, 0).reshape(channels, -1)  # (C, n), channel-major
        self._channel_major_shape = (channels, self.input.shape[0], *self.input.shape[2:])
        if by_row is None:
            by_row = self.input.size > MAX_ELEMENT_FRAMES
        self.by_row = _flag("by_row", by_row)
        self.group = self._channel_major_shape[-1] if self.by_row else 1
        n_stats = channels if self.uses_batch_stats else 0
        n_updates = 2 * channels if self.updates_running_stats else 0
        counts = np.array([n_stats, n_stats, self.input.size // self.group, n_updates])
        self.phase_starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self._phase_ends = np.cumsum(counts)
        self.n_frames = int(counts.sum())
        # the cells of channel 0 in channel-major order; a statistic's frame sets the channel column
        self._channel_cells = self._cells(np.arange(self.count))
        # the frame of each output element: channel-major position // group, moved back to x's layout
        frame_c = self.phase_starts[2] + np.arange(self.input.size).reshape(self._channel_major_shape) // self.group
        self.output_frame = np.moveaxis(frame_c, 0, 1)
        # frames hand out views of these arrays: read-only, so a frame cannot change its trace
        for array in (self.input, self.output, self.normalized, self.batch_mean, self.batch_var, self.mean,
                      self.var, self.std, self.weight, self.bias, self.running_mean, self.running_var,
                      self.unbiased_var, self.new_running_mean, self.new_running_var, self.by_channel,
                      self.output_frame):
            if array is not None:
                array.flags.writeable = False

    # -- frames --------------------------------------------------------------------------------

    def phase_of(self, k: int) -> str:
        """The phase of frame ``k`` (non-negative)."""
        return PHASES[int(np.searchsorted(self._phase_ends, k, side="right"))]

    def _cells(self, positions: np.ndarray) -> np.ndarray:
        """Indices into ``x`` of channel-major flat ``positions``: ``(m, x.ndim)``."""
        c_index = np.unravel_index(positions, self._channel_major_shape)
        return np.stack([c_index[1], c_index[0], *c_index[2:]], axis=1)

    def _frame(self, k: int) -> BatchNormFrame:
        phase = self.phase_of(k)
        local = k - int(self.phase_starts[PHASES.index(phase)])
        empty = dict(total=None, squared_deviations=None, std=None, normalized=None, gamma=None, beta=None,
                     statistic=None, old=None, observed=None, factor=None)
        if phase in ("mean", "variance"):
            c = local
            values = self.by_channel[c]
            cells = self._channel_cells.copy()
            cells[:, 1] = c
            mean = float(self.batch_mean[c])
            if phase == "mean":
                total = float(values.sum())
                narration, question = self._narrate_mean(c, values, total, mean)
                fields = dict(empty, total=total, var=None, result=mean, narration=narration, question=question)
            else:
                squared = values - mean
                squared = squared * squared
                total = float(squared.sum())
                var = float(self.batch_var[c])
                narration, question = self._narrate_variance(c, values, mean, total, var)
                fields = dict(empty, total=total, squared_deviations=squared, var=var, result=var,
                              narration=narration, question=question)
            return BatchNormFrame(index=k, phase=phase, channel=c, cells=cells, values=values, count=self.count,
                                  mean=mean, eps=self.eps, _trace=self, **fields)
        if phase == "normalize":
            positions = local * self.group + np.arange(self.group)
            c = int(positions[0] // self.count)
            cells = self._cells(positions)
            values = self.by_channel[c, positions % self.count]
            mean, var, std = float(self.mean[c]), float(self.var[c]), float(self.std[c])
            gamma = 1.0 if self.weight is None else float(self.weight[c])
            beta = 0.0 if self.bias is None else float(self.bias[c])
            normalized = self.normalized[tuple(cells.T)]
            outputs = self.output[tuple(cells.T)]
            result = outputs if self.by_row else float(outputs[0])
            narration, question = self._narrate_normalize(c, cells, values, mean, var, normalized, gamma, beta, outputs)
            return BatchNormFrame(index=k, phase=phase, channel=c, cells=cells, values=values, count=self.count,
                                  mean=mean, var=var, eps=self.eps,
                                  **dict(empty, std=std, normalized=normalized, gamma=gamma, beta=beta),
                                  result=result, narration=narration, _trace=self, question=question)
        c, which = divmod(local, 2)
        if which == 0:
            statistic, old, observed, new = ("running_mean", self.running_mean[c], self.batch_mean[c],
                                             self.new_running_mean[c])
        else:
            statistic, old, observed, new = ("running_var", self.running_var[c], self.unbiased_var[c],
                                             self.new_running_var[c])
        old, observed, new = float(old), float(observed), float(new)
        narration, question = self._narrate_update(c, statistic, old, observed, new)
        return BatchNormFrame(index=k, phase=phase, channel=c, cells=np.zeros((0, self.input.ndim), dtype=np.intp),
                              values=np.zeros(0), count=self.count, mean=float(self.batch_mean[c]),
                              var=float(self.batch_var[c]), eps=self.eps,
                              **dict(empty, statistic=statistic, old=old, observed=observed, factor=self.factor),
                              result=new, narration=narration, _trace=self, question=question)

    # -- narration -----------------------------------------------------------------------------

    # The numbers of each narration have the decimals with which every step, redone from them, gives the
    # result shown (see layerviz._format.redoable); a question hides every step after its operands.

    @staticmethod
    def _narrate_mean(c: int, values: np.ndarray, total: float, mean: float) -> tuple[str, Ask | None]:
        """``mean[0] = (1.00 + 2.00 + 3.00 + 4.00) / 4 = 10.00 / 4 = 2.50``; the question hides the sum too."""
        n = len(values)
        if n <= _STAT_TERMS:
            shown = redoable(values, [total, mean, mean], lambda o, r: [o.sum(), r[0] / n, o.sum() / n],
                             intermediate=(0,))
            head = f"mean[{c}] = ({' + '.join(paren(t) for t in shown.operands)}) / {n}"
            question = Ask(f"{head} = ?", shown.results[1], mean)
            total_text, mean_text = shown.results[0], shown.results[1]
        else:  # abridged: the sum of the values is shown, its division can be redone
            shown = redoable([total], [mean], lambda o, _: [o[0] / n])
            head = f"mean[{c}] = ({' + '.join(_shorten(values, _STAT_TERMS, lambda v: paren(_number(v))))}) / {n}"
            question, (total_text,), (mean_text,) = None, shown.operands, shown.results
        return f"{head} = {total_text} / {n} = {mean_text}", question

    @staticmethod
    def _narrate_variance(c: int, values: np.ndarray, mean: float, total: float, var: float) -> tuple[str, Ask | None]:
        """``var[0] = ((1.00 − 2.50)² + … + (4.00 − 2.50)²) / 4 = 5.00 / 4 = 1.25``; the question hides the sum."""
        n = len(values)
        if n <= _VARIANCE_TERMS:
            def redo(o, r):
                squares = ((o[:-1] - o[-1]) ** 2).sum()
                return [squares, r[0] / n, squares / n]

            shown = redoable([*values, mean], [total, var, var], redo, intermediate=(0,))
            m = paren(shown.operands[-1])
            head = f"var[{c}] = ({' + '.join(f'({t} − {m})²' for t in shown.operands[:-1])}) / {n}"
            question = Ask(f"{head} = ?", shown.results[1], var)
            total_text, var_text = shown.results[0], shown.results[1]
        else:  # abridged: the sum of the squares is shown, its division can be redone
            shown = redoable([total], [var], lambda o, _: [o[0] / n])
            m = paren(_number(mean))
            terms = _shorten(values, _VARIANCE_TERMS, lambda v: f"({_number(v)} − {m})²")
            head = f"var[{c}] = ({' + '.join(terms)}) / {n}"
            question, (total_text,), (var_text,) = None, shown.operands, shown.results
        return f"{head} = {total_text} / {n} = {var_text}", question

    def _narrate_normalize(self, c: int, cells: np.ndarray, values: np.ndarray, mean: float, var: float,
                           normalized: np.ndarray, gamma: float, beta: float,
                           outputs: np.ndarray) -> tuple[str, Ask | None]:
        """``out[0,0] = (1.00 − 2.50) / √(1.25 + 1e-05) × 1.00 + 0.00 = (-1.34) × 1.00 + 0.00 = -1.34``.

        The question hides the normalized value: ``out[0,0] = (1.00 − 2.50) / √(1.25 + 1e-05) × 1.00 + 0.00 = ?``.
        """
        eps = _exact(self.eps)  # every digit: the student computes with it
        affine = [v for v, used in ((gamma, self.weight is not None), (beta, self.bias is not None)) if used]

        def affine_of(o_affine, z):
            """``z × γ + β`` with the affine operands given (those the layer has)."""
            i = 0
            if self.weight is not None:
                z, i = z * o_affine[i], i + 1
            if self.bias is not None:
                z = z + o_affine[i]
            return z

        def terms(shown_affine):
            i, scale, shift = 0, "", ""
            if self.weight is not None:
                scale, i = f" × {paren(shown_affine[i])}", i + 1
            if self.bias is not None:
                shift = f" + {paren(shown_affine[i])}"
            return scale + shift

        eval_note = "" if self.uses_batch_stats else f"   (eval: running_mean[{c}], running_var[{c}])"
        if self.by_row:
            m = len(values)

            def redo_row(o, _):
                return affine_of(o[m + 2:], (o[:m] - o[m]) / np.sqrt(o[m + 1] + float(eps)))

            shown = redoable([*values, mean, var, *affine], outputs, redo_row)
            target = f"out[:,{c}]" if self.input.ndim == 2 else f"out[{_index(cells[0, :-1])},:]"
            head = (f"{target} = ({vector_text(shown.operands[:m])} − {paren(shown.operands[m])}) / "
                    f"√({shown.operands[m + 1]} + {eps}){terms(shown.operands[m + 2:])}")
            # the first entry's operands are shown, even when the row is abridged
            question = Ask(f"{head} = ?{eval_note}", shown.results[0], float(outputs[0]), entry=True)
            return f"{head} = {vector_text(shown.results)}{eval_note}", question

        def redo(o, r):
            z = (o[0] - o[1]) / np.sqrt(o[2] + float(eps))
            # the normalized value; the output from it as shown (the narration's step) and as computed (the question's)
            return [z, affine_of(o[3:], r[0]), affine_of(o[3:], z)] if affine else [z]

        results = [float(normalized[0]), float(outputs[0]), float(outputs[0])] if affine else [float(outputs[0])]
        shown = redoable([values[0], mean, var, *affine], results, redo, intermediate=(0,) if affine else ())
        x, mu, v = shown.operands[:3]
        head = f"out[{_index(cells[0])}] = ({x} − {paren(mu)}) / √({v} + {eps}){terms(shown.operands[3:])}"
        text = head
        if affine:
            text += f" = {paren(shown.results[0])}{terms(shown.operands[3:])}"
        text += f" = {shown.results[-1]}{eval_note}"
        return text, Ask(f"{head} = ?{eval_note}", shown.results[-1], float(outputs[0]))

    def _narrate_update(self, c: int, statistic: str, old: float, observed: float, new: float) -> tuple[str, Ask]:
        """``running_mean[0] = 0.9 × 0.00 + 0.1 × 2.50 = 0.25``; the running variance blends the unbiased
        variance, shown with how it comes from the batch's: ``(unbiased: 1.25 × 4/3 = 1.67)``."""
        if self.momentum is None:
            t = self.new_num_batches_tracked
            keep, take = f"{t - 1}/{t}", f"1/{t}"
            keep_value, take_value = (t - 1) / t, 1 / t
        else:
            keep, take = _exact(1 - self.momentum), _exact(self.momentum)
            keep_value, take_value = float(keep), float(take)
        n = self.count
        if statistic == "running_var":
            # the unbiased variance, from the batch's as shown, is the step before
            shown = redoable([old, self.batch_var[c]], [observed, new],
                             lambda o, r: [o[1] * n / (n - 1), keep_value * o[0] + take_value * r[0]],
                             intermediate=(0,))
            (old_text, batch_var), (observed_text, new_text) = shown.operands, shown.results
            note = f"   (unbiased: {batch_var} × {n}/{n - 1} = {observed_text})"
        else:
            shown = redoable([old, observed], [new], lambda o, _: [keep_value * o[0] + take_value * o[1]])
            (old_text, observed_text), (new_text,) = shown.operands, shown.results
            note = (f"   (num_batches_tracked: {self.num_batches_tracked} → {self.new_num_batches_tracked})"
                    if c == 0 else "")
        head = f"{statistic}[{c}] = {keep} × {paren(old_text)} + {take} × {paren(observed_text)}"
        return f"{head} = {new_text}{note}", Ask(f"{head} = ?{note}", new_text, new)

    # -- scene ---------------------------------------------------------------------------------

    def _slots(self) -> tuple[np.ndarray, tuple[int, int, int], int]:
        """Where each value of ``x`` is drawn: ``(C, n, 3)`` cells in channel-major order, the grid
        shape ``(S, H, W)`` and the page size (a page holds one channel, except for ``(N, C)``)."""
        x = self.input
        channels, n_samples = x.shape[1], x.shape[0]
        index = np.indices(self._channel_major_shape, dtype=np.int32)
        if x.ndim == 2:  # one N x C table, channels as columns
            c, n = index
            slots = np.stack([np.zeros_like(c), n, c], axis=-1)
            shape, page_size = (1, n_samples, channels), 1
        elif x.ndim == 3:  # one N x L grid per channel
            slots = np.stack(index, axis=-1)
            shape, page_size = (channels, n_samples, x.shape[2]), 1
        else:  # one H x W grid per sample, the N samples of a channel on one page
            c, n, i, j = index
            slots = np.stack([c * n_samples + n, i, j], axis=-1)
            shape, page_size = (channels * n_samples, x.shape[2], x.shape[3]), n_samples
        return slots.reshape(channels, -1, 3), shape, page_size

    def _labels(self, name: str) -> tuple[str, ...]:
        x = self.input
        if x.ndim == 2:
            return ("n × c",)
        if x.ndim == 3:
            return tuple(f"{name}[:, {c}, :]" for c in range(x.shape[1]))
        return tuple(f"{name}[{n},{c}]" for c in range(x.shape[1]) for n in range(x.shape[0]))

    def scene(self) -> Scene:
        """The formula as panels: input x − mean ÷√ variance × γ + β = output, then the running statistics.

        The input and output show one channel at a time (all its samples: what a statistic is taken
        over), or one ``N × C`` table for an ``(N, C)`` input. The mean and variance (the running ones
        in eval mode), γ and β are columns with channel ``c`` on row ``c``. Highlights: the values read (window), the
        statistics computed or used (stat, "batch statistic"), γ and β (kernel, "γ, β (learned)"), the cells written
        (output). Statistics,
        outputs and updated running statistics appear as they are computed.
        """
        channels = self.input.shape[1]
        n_frames = self.n_frames
        starts = self.phase_starts
        k = np.arange(n_frames)
        phase = np.searchsorted(self._phase_ends, k, side="right")
        local = k - starts[phase]
        channel = np.select([phase < 2, phase == 2], [local, local * self.group // self.count], local // 2)
        which = local % 2  # update frames: 0 running_mean, 1 running_var
        slots, shape, page_size = self._slots()
        flat_slots = slots.reshape(-1, 3)
        page = channel.astype(np.int32) if self.input.ndim > 2 else None
        one = np.zeros((1, 3), dtype=np.int32)

        def origins(active: np.ndarray, where: np.ndarray) -> np.ndarray:
            """Per-frame anchors: ``where`` at the active frames, outside the grid (not drawn) elsewhere."""
            out = np.zeros((n_frames, 3), dtype=np.int32)
            out[:, 1] = _HIDDEN
            out[active] = where[active]
            return out

        def cell(slice_index=0) -> np.ndarray:
            """Anchor ``(slice_index, channel, 0)`` per frame: a per-channel cell."""
            return np.stack([np.broadcast_to(slice_index, channel.shape), channel, np.zeros_like(channel)], axis=1)

        def drawn(channel_major: np.ndarray) -> np.ndarray:
            values = np.zeros(shape)
            values[tuple(flat_slots.T)] = channel_major.ravel()
            return values

        def column(values: np.ndarray) -> np.ndarray:
            """Per-channel values as ``(S, C, 1)`` columns: channel ``c`` on row ``c``."""
            return np.asarray(values, dtype=np.float64).reshape(-1, channels, 1)

        is_stats, is_norm, is_update = phase < 2, phase == 2, phase == 3
        group_start = np.where(is_norm, local * self.group, 0)
        in_channel = slots[np.where(is_stats, channel, 0), 0]
        channel_stencil = slots[0] - slots[0, 0]
        group_stencil = flat_slots[: self.group] - flat_slots[0]
        reveal = np.zeros(shape, dtype=np.int32)
        reveal[tuple(flat_slots.T)] = np.moveaxis(self.output_frame, 1, 0).ravel()

        panels = [Grid("input", "input x", drawn(self.by_channel), self._labels("x"), page_size=page_size, page=page)]
        highlights = [
            Highlight("input", origins(is_stats, in_channel), channel_stencil, "window", "values read"),
            Highlight("input", origins(is_norm, flat_slots[group_start]), group_stencil, "window", "values read"),
        ]
        if self.uses_batch_stats:
            reveal_stat = np.arange(channels, dtype=np.int32).reshape(1, channels, 1)
            panels += [Grid("mean", "mean μ", column(self.batch_mean), ("batch",), reveal=reveal_stat + starts[0], op="−"),
                       Grid("var", "variance σ²", column(self.batch_var), ("batch",), reveal=reveal_stat + starts[1],
                            op="÷√")]
            mean_used = (phase <= 2) | (is_update & (which == 0))
            var_used = (phase == 1) | is_norm | (is_update & (which == 1))
        else:
            panels += [Grid("mean", "running_mean", column(self.running_mean), ("used",), op="−"),
                       Grid("var", "running_var", column(self.running_var), ("used",), op="÷√")]
            mean_used = var_used = is_norm
        stat = "batch statistic" if self.uses_batch_stats else "running statistic"
        highlights += [Highlight("mean", origins(mean_used, cell()), one, "stat", stat),
                       Highlight("var", origins(var_used, cell()), one, "stat", stat)]
        for name, title, values, op in (("gamma", "γ weight", self.weight, "×"), ("beta", "β bias", self.bias, "+")):
            if values is not None:
                panels.append(Grid(name, title, column(values), ("",), op=op))
                highlights.append(Highlight(name, origins(is_norm, cell()), one, "kernel", "γ, β (learned)"))
        panels.append(Grid("output", "output", drawn(np.moveaxis(self.output, 1, 0)), self._labels("out"),
                           reveal=reveal, page_size=page_size, page=page, op="="))
        highlights.append(Highlight("output", origins(is_norm, flat_slots[group_start]), group_stencil, "output",
                                    "output written"))
        if self.updates_running_stats:
            # two slices, running_mean and running_var: channel c on row c, the old value left, the new right
            running = np.stack([np.stack([self.running_mean, self.new_running_mean], axis=1),
                                np.stack([self.running_var, self.new_running_var], axis=1)])
            reveal_new = np.zeros((2, channels, 2), dtype=np.int32)
            reveal_new[:, :, 1] = starts[3] + 2 * np.arange(channels) + np.arange(2)[:, None]
            panels.append(Grid("running", "running", running, ("μ: old, new", "σ²: old, new"), reveal=reveal_new))
            anchor = np.stack([which, channel, np.zeros_like(channel)], axis=1)
            highlights += [Highlight("running", origins(is_update, anchor), one, "stat", "old running value"),
                           Highlight("running", origins(is_update, anchor + [0, 0, 1]), one, "output", "output written")]
        vmax = max(float(np.abs(p.values).max()) for p in panels) or 1.0
        mode = "training" if self.training else "eval"
        return Scene(f"{self.layer!r}, {mode} mode", n_frames, tuple(panels), tuple(highlights),
                     LazyCaptions(self), vmax)


# -- backward ---------------------------------------------------------------------------------------
#
# y = γ x̂ + β with x̂ = (x − mean) / std, per channel c, over the count = N·(spatial) values of the channel:
#     dβ[c] = Σ dout                 dγ[c] = Σ dout × x̂
# eval mode (running statistics, constants):   dx = dout × γ / std
# training mode (the batch's own mean and variance depend on x):
#     m1[c] = γ dβ / count  (the mean of dx̂ = dout × γ)      m2[c] = γ dγ / count  (the mean of dx̂ × x̂)
#     dx = (γ × dout − m1 − x̂ × m2) / std


def batchnorm_backward_naive(x: np.ndarray, gamma: np.ndarray, eps: float, dout: np.ndarray):
    """Training-mode gradients ``(dgamma, dbeta, dx)`` as plain loops over each channel, for ``x: (N, C, *)``."""
    channels = x.shape[1]
    dgamma, dbeta, dx = np.zeros(channels), np.zeros(channels), np.zeros(x.shape)
    for c in range(channels):
        values, grads = x[:, c].ravel(), dout[:, c].ravel()
        count = len(values)
        mean = sum(values) / count
        var = sum((v - mean) ** 2 for v in values) / count
        std = (var + eps) ** 0.5
        xhat = [(v - mean) / std for v in values]
        dbeta[c] = sum(grads)
        dgamma[c] = sum(gv * xv for gv, xv in zip(grads, xhat))
        out = [(gamma[c] * gv - gamma[c] * dbeta[c] / count - xv * gamma[c] * dgamma[c] / count) / std
               for gv, xv in zip(grads, xhat)]
        dx[:, c] = np.array(out).reshape(dx[:, c].shape)
    return dgamma, dbeta, dx


def _batchnorm_backward(self: BatchNormTrace, g: np.ndarray) -> BackwardTrace:
    x_hat, channels = self.normalized, self.input.shape[1]
    axes = tuple(a for a in range(g.ndim) if a != 1)
    per = (1, channels) + (1,) * (g.ndim - 2)
    gamma = np.ones(channels) if self.weight is None else self.weight
    std = np.asarray(self.std, dtype=np.float64)
    dbeta = g.sum(axis=axes)
    dgamma = (g * x_hat).sum(axis=axes)
    by_channel_g = np.moveaxis(g, 1, 0).reshape(channels, -1)
    by_channel_xhat = np.moveaxis(x_hat, 1, 0).reshape(channels, -1)
    affine = self.weight is not None
    names = ("dgamma", "dbeta") if affine else ("sum_dout_xhat", "sum_dout")

    def explain_beta(index):
        (c,) = index
        text, ask = sum_of(grad_name(names[1], index), by_channel_g[c], float(dbeta[c]),
                           before=f"dout summed over channel {c}: ")
        return by_channel_g[c][:9], text, ask

    def explain_gamma(index):
        (c,) = index
        text, ask = sum_of_products(grad_name(names[0], index), by_channel_g[c], by_channel_xhat[c], float(dgamma[c]),
                                    before=f"dout × x̂ summed over channel {c}: ")
        return by_channel_g[c][:9], text, ask

    sections = [Section("weight" if affine else "sum_dout_xhat", names[0], "dL/dγ = Σ dout × x̂", dgamma, explain_gamma),
                Section("bias" if affine else "sum_dout", names[1], "dL/dβ = Σ dout", dbeta, explain_beta)]
    if self.uses_batch_stats:
        count = float(self.count)
        m1, m2 = gamma * dbeta / count, gamma * dgamma / count

        def explain_m(values, source):
            def explain(index):
                (c,) = index
                ops = [float(gamma[c]), float(source[c]), count]
                text, ask = product_step(grad_name("m1" if values is m1 else "m2", index),
                                         f"γ × {names[1] if values is m1 else names[0]} / count", ops, float(values[c]),
                                         lambda o: o[0] * o[1] / o[2],
                                         lambda t: f"{paren(t[0])} × {paren(t[1])} / {int(count)}")
                return ops, text, ask
            return explain

        sections += [Section("m1", "m1", "m1 = mean of γ × dout (through the batch mean)", m1, explain_m(m1, dbeta)),
                     Section("m2", "m2", "m2 = mean of γ × dout × x̂ (through the batch variance)", m2, explain_m(m2, dgamma))]
        dx = (gamma.reshape(per) * g - m1.reshape(per) - x_hat * m2.reshape(per)) / std.reshape(per)

        def explain_x(index):
            c = index[1]
            ops = [float(gamma[c]), float(g[index]), float(m1[c]), float(x_hat[index]), float(m2[c]), float(std[c])]
            text, ask = product_step(grad_name("dx", index), "(γ × dout − m1 − x̂ × m2) / std", ops, float(dx[index]),
                                     lambda o: (o[0] * o[1] - o[2] - o[3] * o[4]) / o[5],
                                     lambda t: f"({paren(t[0])} × {paren(t[1])} − {paren(t[2])} − {paren(t[3])} × "
                                               f"{paren(t[4])}) / {t[5]}")
            return ops, text, ask

        title = "dL/dx = (γ dout − m1 − x̂ m2) / std"
    else:
        dx = g * (gamma / std).reshape(per)

        def explain_x(index):
            c = index[1]
            ops = [float(g[index]), float(gamma[c]), float(std[c])]
            text, ask = product_step(grad_name("dx", index), "dout × γ / std", ops, float(dx[index]),
                                     lambda o: o[0] * o[1] / o[2], lambda t: f"{paren(t[0])} × {paren(t[1])} / {t[2]}")
            return ops, "eval: running statistics are constants: " + text, ask

        title = "dL/dx = dout × γ / std (running statistics)"
    sections.append(Section("input", "dx", title, dx, explain_x, elementwise=True))
    grads = {"weight": dgamma, "bias": dbeta, "input": dx} if affine else {"input": dx}
    return BackwardTrace(self, g, sections, grads)


BatchNormTrace._backward = _batchnorm_backward
