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

from dataclasses import dataclass

import numpy as np

from layerviz import _checks
from layerviz._format import Ask, paren
from layerviz.backward import BackwardTrace, HasBackward, Section, name as grad_name, product_step, sum_of, sum_of_products
from layerviz.layers._batchnorm_narration import narrate_mean, narrate_normalize, narrate_update, narrate_variance
from layerviz.layers._batchnorm_scene import batchnorm_scene
from layerviz.layers._batchnorm_state import _PARAMETERS_DOC, _BatchNormState, _flag
from layerviz.scene import Scene
from layerviz.trace import Trace

#: Inputs of at most this many values are normalized one element per frame; larger inputs one
#: row per frame (a row: the last axis of the input, e.g. ``x[n, c, i, :]``; for an ``(N, C)``
#: input, the whole column ``x[:, c]`` of a channel).
MAX_ELEMENT_FRAMES = 512

#: The kinds of frames, in the order they come in a trace.
PHASES = ("mean", "variance", "normalize", "update")


class _BatchNorm(_BatchNormState):
    """The pass of BatchNorm1d and BatchNorm2d (what they hold: :class:`~layerviz.layers._batchnorm_state.
    _BatchNormState`); a subclass sets the input shapes it accepts."""

    _ndims: tuple[int, ...] = ()
    _shape_hint = ""

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
        by_channel = np.moveaxis(x, 1, 0).reshape(self.num_features, -1)  # (C, n): channel-major
        result = _Pass(count=by_channel.shape[1])
        self._statistics(by_channel, result)
        self._normalize(x, by_channel, result)
        if self.updates_running_stats:
            self._update(result)
        return result

    def _statistics(self, by_channel: np.ndarray, result: _Pass) -> None:
        """The mean and variance to normalize with: the batch's (biased variance), or the running ones."""
        if self.uses_batch_stats:
            result.batch_mean = by_channel.mean(axis=1)
            result.batch_var = ((by_channel - result.batch_mean[:, None]) ** 2).mean(axis=1)
            mean, var = result.batch_mean, result.batch_var
        else:
            mean, var = self.running_mean, self.running_var
        result.mean, result.var = mean, var
        result.std = np.sqrt(var + self.eps)

    def _normalize(self, x: np.ndarray, by_channel: np.ndarray, result: _Pass) -> None:
        """``x̂ = (x − mean) / std`` and the output ``x̂ × γ + β``, back in ``x``'s layout."""
        normalized = (by_channel - result.mean[:, None]) / result.std[:, None]
        out = normalized
        if self.weight is not None:
            out = out * self.weight[:, None]
        if self.bias is not None:
            out = out + self.bias[:, None]
        shape_c = (self.num_features, x.shape[0], *x.shape[2:])
        result.normalized = np.ascontiguousarray(np.moveaxis(normalized.reshape(shape_c), 0, 1))
        result.output = np.ascontiguousarray(np.moveaxis(out.reshape(shape_c), 0, 1))

    def _update(self, result: _Pass) -> None:
        """The running statistics after this batch (the momentum's blend, with the unbiased variance)."""
        batches = self.num_batches_tracked + 1
        factor = 1.0 / batches if self.momentum is None else self.momentum
        result.num_batches_tracked = batches
        result.factor = factor
        result.unbiased_var = result.batch_var * result.count / (result.count - 1)
        result.running_mean = (1 - factor) * self.running_mean + factor * result.batch_mean
        result.running_var = (1 - factor) * self.running_var + factor * result.unbiased_var

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



#: The fields of a frame that its phase leaves unset.
_UNSET = dict(total=None, squared_deviations=None, std=None, normalized=None, gamma=None, beta=None, statistic=None,
              old=None, observed=None, factor=None)


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
        self._keep(layer, checked, layer._compute(checked))
        self._lay_out_phases(layer.num_features, by_row)
        self._freeze()

    def _keep(self, layer: _BatchNorm, checked: np.ndarray, computed: _Pass) -> None:
        """The layer's mode, settings, parameters and buffers (copies: the layer may change later) and the pass."""
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

    def _lay_out_phases(self, channels: int, by_row: bool | None) -> None:
        """How many frames each phase has, where each starts, and the frame that computes each output element."""
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

    def _freeze(self) -> None:
        """Frames hand out views of these arrays: read-only, so a frame cannot change its trace."""
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
        if phase in ("mean", "variance"):
            return self._statistic_frame(k, phase, local)
        if phase == "normalize":
            return self._normalize_frame(k, local)
        return self._update_frame(k, local)

    def _statistic_frame(self, k: int, phase: str, c: int) -> BatchNormFrame:
        """The mean or the variance of channel ``c``: every value of the channel read."""
        values = self.by_channel[c]
        cells = self._channel_cells.copy()
        cells[:, 1] = c
        mean = float(self.batch_mean[c])
        if phase == "mean":
            total = float(values.sum())
            narration, question = narrate_mean(c, values, total, mean)
            fields = dict(_UNSET, total=total, var=None, result=mean, narration=narration, question=question)
        else:
            squared = values - mean
            squared = squared * squared
            total = float(squared.sum())
            var = float(self.batch_var[c])
            narration, question = narrate_variance(c, values, mean, total, var)
            fields = dict(_UNSET, total=total, squared_deviations=squared, var=var, result=var,
                          narration=narration, question=question)
        return BatchNormFrame(index=k, phase=phase, channel=c, cells=cells, values=values, count=self.count,
                              mean=mean, eps=self.eps, _trace=self, **fields)

    def _normalize_frame(self, k: int, local: int) -> BatchNormFrame:
        """Normalize frame ``local``: one element, or one row (``by_row``), in channel-major order."""
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
        narration, question = narrate_normalize(self, c, cells, values, mean, var, normalized, gamma, beta, outputs)
        return BatchNormFrame(index=k, phase="normalize", channel=c, cells=cells, values=values, count=self.count,
                              mean=mean, var=var, eps=self.eps,
                              **dict(_UNSET, std=std, normalized=normalized, gamma=gamma, beta=beta),
                              result=result, narration=narration, _trace=self, question=question)

    def _update_frame(self, k: int, local: int) -> BatchNormFrame:
        """Update frame ``local``: channel ``local // 2``'s running mean (even), then its running variance (odd)."""
        c, which = divmod(local, 2)
        if which == 0:
            statistic, old, observed, new = ("running_mean", self.running_mean[c], self.batch_mean[c],
                                             self.new_running_mean[c])
        else:
            statistic, old, observed, new = ("running_var", self.running_var[c], self.unbiased_var[c],
                                             self.new_running_var[c])
        old, observed, new = float(old), float(observed), float(new)
        narration, question = narrate_update(self, c, statistic, old, observed, new)
        return BatchNormFrame(index=k, phase="update", channel=c, cells=np.zeros((0, self.input.ndim), dtype=np.intp),
                              values=np.zeros(0), count=self.count, mean=float(self.batch_mean[c]),
                              var=float(self.batch_var[c]), eps=self.eps,
                              **dict(_UNSET, statistic=statistic, old=old, observed=observed, factor=self.factor),
                              result=new, narration=narration, _trace=self, question=question)

    def scene(self) -> Scene:
        """The formula as panels: input x − mean ÷√ variance × γ + β = output, then the running statistics.

        The input and output show one channel at a time (all its samples: what a statistic is taken
        over), or one ``N × C`` table for an ``(N, C)`` input. The mean and variance (the running ones
        in eval mode), γ and β are columns with channel ``c`` on row ``c``. Highlights: the values read (window), the
        statistics computed or used (stat, "batch statistic"), γ and β (kernel, "γ, β (learned)"), the cells written
        (output). Statistics, outputs and updated running statistics appear as they are computed (see
        :mod:`~layerviz.layers._batchnorm_scene`).
        """
        return batchnorm_scene(self)


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



@dataclass
class _Upstream:
    """What every gradient of batch norm's backward reads, per channel ``c``: ``dbeta[c] = Σ dout``,
    ``dgamma[c] = Σ dout × x̂`` (the sums over ``by_channel_g``, ``by_channel_xhat``, each ``(C, count)``), γ (ones
    without a weight), std, and the names of the two sums (``dgamma``, ``dbeta``; other names without γ and β)."""

    g: np.ndarray
    x_hat: np.ndarray
    per: tuple[int, ...]  # the shape that broadcasts a (C,) array against x
    gamma: np.ndarray
    std: np.ndarray
    dbeta: np.ndarray
    dgamma: np.ndarray
    by_channel_g: np.ndarray
    by_channel_xhat: np.ndarray
    affine: bool
    names: tuple[str, str]


def _upstream(trace: BatchNormTrace, g: np.ndarray) -> _Upstream:
    x_hat, channels = trace.normalized, trace.input.shape[1]
    axes = tuple(a for a in range(g.ndim) if a != 1)
    affine = trace.weight is not None
    return _Upstream(g=g, x_hat=x_hat, per=(1, channels) + (1,) * (g.ndim - 2),
                     gamma=np.ones(channels) if trace.weight is None else trace.weight,
                     std=np.asarray(trace.std, dtype=np.float64), dbeta=g.sum(axis=axes),
                     dgamma=(g * x_hat).sum(axis=axes), by_channel_g=np.moveaxis(g, 1, 0).reshape(channels, -1),
                     by_channel_xhat=np.moveaxis(x_hat, 1, 0).reshape(channels, -1), affine=affine,
                     names=("dgamma", "dbeta") if affine else ("sum_dout_xhat", "sum_dout"))


def _parameter_sections(u: _Upstream) -> list[Section]:
    """``dγ = Σ dout × x̂`` and ``dβ = Σ dout`` per channel (the sums the input's gradient needs, without γ, β)."""

    def explain_beta(index):
        (c,) = index
        text, ask = sum_of(grad_name(u.names[1], index), u.by_channel_g[c], float(u.dbeta[c]),
                           before=f"dout summed over channel {c}: ")
        return u.by_channel_g[c][:9], text, ask

    def explain_gamma(index):
        (c,) = index
        text, ask = sum_of_products(grad_name(u.names[0], index), u.by_channel_g[c], u.by_channel_xhat[c],
                                    float(u.dgamma[c]), before=f"dout × x̂ summed over channel {c}: ")
        return u.by_channel_g[c][:9], text, ask

    return [Section("weight" if u.affine else "sum_dout_xhat", u.names[0], "dL/dγ = Σ dout × x̂", u.dgamma,
                    explain_gamma),
            Section("bias" if u.affine else "sum_dout", u.names[1], "dL/dβ = Σ dout", u.dbeta, explain_beta)]


def _through_batch_statistics(trace: BatchNormTrace, u: _Upstream) -> tuple[list[Section], np.ndarray, Section]:
    """Training mode: ``m1``, ``m2`` (the gradient through the batch's mean and variance) and
    ``dx = (γ dout − m1 − x̂ m2) / std``; returns the two sections, ``dx`` and its section."""
    count = float(trace.count)
    m1, m2 = u.gamma * u.dbeta / count, u.gamma * u.dgamma / count

    def explain_m(symbol: str, source_name: str, values: np.ndarray, source: np.ndarray):
        def explain(index):
            (c,) = index
            ops = [float(u.gamma[c]), float(source[c]), count]
            text, ask = product_step(grad_name(symbol, index), f"γ × {source_name} / count", ops, float(values[c]),
                                     lambda o: o[0] * o[1] / o[2],
                                     lambda t: f"{paren(t[0])} × {paren(t[1])} / {int(count)}")
            return ops, text, ask
        return explain

    sections = [Section("m1", "m1", "m1 = mean of γ × dout (through the batch mean)", m1,
                        explain_m("m1", u.names[1], m1, u.dbeta)),
                Section("m2", "m2", "m2 = mean of γ × dout × x̂ (through the batch variance)", m2,
                        explain_m("m2", u.names[0], m2, u.dgamma))]
    g, x_hat, std = u.g, u.x_hat, u.std
    dx = (u.gamma.reshape(u.per) * g - m1.reshape(u.per) - x_hat * m2.reshape(u.per)) / std.reshape(u.per)

    def explain_x(index):
        c = index[1]
        ops = [float(u.gamma[c]), float(g[index]), float(m1[c]), float(x_hat[index]), float(m2[c]), float(std[c])]
        text, ask = product_step(grad_name("dx", index), "(γ × dout − m1 − x̂ × m2) / std", ops, float(dx[index]),
                                 lambda o: (o[0] * o[1] - o[2] - o[3] * o[4]) / o[5],
                                 lambda t: f"({paren(t[0])} × {paren(t[1])} − {paren(t[2])} − {paren(t[3])} × "
                                           f"{paren(t[4])}) / {t[5]}")
        return ops, text, ask

    dx_section = Section("input", "dx", "dL/dx = (γ dout − m1 − x̂ m2) / std", dx, explain_x, elementwise=True)
    return sections, dx, dx_section


def _through_running_statistics(u: _Upstream) -> tuple[np.ndarray, Section]:
    """Eval mode: the running statistics are constants, ``dx = dout × γ / std``; returns ``dx`` and its section."""
    g, gamma, std = u.g, u.gamma, u.std
    dx = g * (gamma / std).reshape(u.per)

    def explain_x(index):
        c = index[1]
        ops = [float(g[index]), float(gamma[c]), float(std[c])]
        text, ask = product_step(grad_name("dx", index), "dout × γ / std", ops, float(dx[index]),
                                 lambda o: o[0] * o[1] / o[2], lambda t: f"{paren(t[0])} × {paren(t[1])} / {t[2]}")
        return ops, "eval: running statistics are constants: " + text, ask

    return dx, Section("input", "dx", "dL/dx = dout × γ / std (running statistics)", dx, explain_x, elementwise=True)


def _batchnorm_backward(self: BatchNormTrace, g: np.ndarray) -> BackwardTrace:
    u = _upstream(self, g)
    sections = _parameter_sections(u)
    if self.uses_batch_stats:
        statistic_sections, dx, dx_section = _through_batch_statistics(self, u)
        sections += statistic_sections
    else:
        dx, dx_section = _through_running_statistics(u)
    sections.append(dx_section)
    grads = {"weight": u.dgamma, "bias": u.dbeta, "input": dx} if u.affine else {"input": dx}
    return BackwardTrace(self, g, sections, grads)


BatchNormTrace._backward = _batchnorm_backward
