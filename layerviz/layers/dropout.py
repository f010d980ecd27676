"""Dropout: in training, zero each value with probability ``p`` and scale the rest by ``1/(1 - p)``.

For an input ``x`` of any shape ``(*)`` and a mask ``m`` of the same shape whose elements are
independent draws, ``m = 1`` (kept) with probability ``1 - p`` and ``m = 0`` (dropped) with probability ``p``::

    training:  out = x * m * scale,   scale = 1 / (1 - p)   (scale = 0 when p = 1, as in torch)
    eval:      out = x                (the identity: no mask, no scaling)

This is *inverted* dropout, torch's: scaling at training time keeps every value's expected value,
``E[out] = x * (1 - p) / (1 - p) = x``, so nothing has to change at evaluation time.
The output has the shape of the input. Kept values are ``x * scale``, computed as torch computes
them; dropped values are +0.0 (torch's are -0.0 where ``x < 0``: equal numbers, but ``-0`` reads oddly).

The mask comes only from an explicit ``numpy.random.Generator`` (``rng=`` a Generator or an int
seed): the same seed gives the same masks in the same order, so a whole class sees the same mask.
Element ``i`` is kept when the generator's uniform draw ``u_i`` in ``[0, 1)`` is ``>= p``.

Frames
------
In training mode the trace first draws the mask, then scales:

- inputs of at most :data:`ELEMENTWISE_LIMIT` (256) elements: one frame per element, in row-major
  order (``x[0,3] = 0.42 → dropped (0)``);
- larger inputs: one frame per row of the last axis (``x[0,3,:]``, all its elements at once);
- then one scaling frame (``kept values × 1/(1 − p) = × 2.00``) that shows the output.

A batched input ``(N, C, H, W)`` (any input of 4 or more dimensions) is traced one sample at a time:
the mask frames of sample 0, its scaling frame, then sample 1, and so on. In eval mode there is one
frame per sample (one frame for an unbatched input) saying that dropout is the identity.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from layerviz import _checks, _format
from layerviz._format import Ask, redoable
from layerviz._format import number as _number
from layerviz.layers._module import Module, Setting
from layerviz.scene import Grid, Highlight, Scene
from layerviz.backward import BackwardTrace, HasBackward, Section, name as grad_name, product_step
from layerviz.trace import LazyCaptions, Trace

#: Inputs with at most this many elements get one mask frame per element; larger ones one per row.
ELEMENTWISE_LIMIT = 256

#: Dropped values listed by name in a row frame's narration before "… (k more)".
_ROW_LISTED = 4

#: Row of a highlight's anchor in frames where it is absent: off every grid, so no view draws it
#: (both the browser player and matplotlib skip cells outside a grid).
_OFF_GRID = -(1 << 20)

#: Numpy accepts at most 64 dimensions; dropout takes any of them.
_ANY_NDIM = tuple(range(65))


def _check_p(p: object) -> float | int:
    """Return ``p`` if it is a number in ``[0, 1]``; otherwise raise ValueError naming it (torch's message)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise ValueError(f"dropout probability p must be a number, got {p!r}")
    if not 0 <= p <= 1:  # also refuses NaN
        raise ValueError(f"dropout probability p has to be between 0 and 1, but got {p}")
    return int(p) if isinstance(p, numbers.Integral) else float(p)


def _scale(p: float) -> float:
    """``1 / (1 - p)``, and 0 for ``p = 1`` (every value is dropped), as torch's kernels do."""
    return 0.0 if p == 1 else 1.0 / (1.0 - p)


def _check_x(x: ArrayLike) -> np.ndarray:
    """Return ``x`` as a finite float64 array of any shape."""
    return _checks.finite_array("x", x, _ANY_NDIM, "(*)")


def _check_mask(mask: ArrayLike, shape: tuple[int, ...]) -> np.ndarray:
    """Return ``mask`` as a bool array of exactly ``shape``; its values must be 0/1 or False/True."""
    try:
        array = np.asarray(mask)
    except ValueError as error:
        raise ValueError(f"mask must be an array of 0 and 1, got {type(mask).__name__}") from error
    if array.shape != shape:
        raise ValueError(f"mask must have the shape of x {shape}, got shape {array.shape}")
    if array.dtype == bool:
        return array.copy()
    if array.dtype.kind not in "iuf":
        raise ValueError(f"mask must hold only 0 and 1 (or False and True), got dtype {array.dtype}")
    bad = (array != 0) & (array != 1)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"mask must hold only 0 and 1 (or False and True), got {array[where]} at index {where}")
    return np.asarray(array == 1)


def _apply(x: np.ndarray, mask: np.ndarray, scale: float) -> np.ndarray:
    """``x * mask * scale``, with dropped values exactly +0.0 (not -0.0 for negative ``x``, which reads oddly)."""
    if scale == 0:
        return np.zeros(x.shape)
    return np.asarray(np.where(mask, x * scale, 0.0))


def _draw_mask(rng: np.random.Generator, p: float, shape: tuple[int, ...]) -> np.ndarray:
    """Keep (True) each element with probability ``1 - p``: the uniform draw ``u`` is ``>= p``."""
    return np.asarray(rng.random(shape) >= p)


class Dropout(Module):
    """Dropout with ``torch.nn.Dropout``'s arguments, training / eval modes and inverted scaling.

    Parameters
    ----------
    p : float, default 0.5
        Probability of an element to be zeroed, in ``[0, 1]``. ``p = 0`` keeps everything,
        ``p = 1`` gives all zeros in training (like torch).
    inplace : bool, default False
        As torch's: ``forward`` writes the result into ``x`` when ``x`` is a writable float64
        ndarray (otherwise it returns a new array). Traces never change their input.
    rng : numpy.random.Generator or int, optional
        Source of the masks: each training forward (or trace) without an explicit mask draws the
        next mask from it. A seed gives the same masks in the same order every time.

    Attributes
    ----------
    training : bool
        True after ``train()`` (the default, like a fresh torch module), False after ``eval()``.
    rng : numpy.random.Generator

    Examples
    --------
    >>> drop = Dropout(p=0.5)
    >>> drop(np.array([[1.0, 2.0, 3.0]]), mask=[[1, 0, 1]])
    array([[2., 0., 6.]])
    >>> drop.eval()(np.array([1.0, 2.0]))
    array([1., 2.])
    """

    inplace = Setting(_checks.flag)
    rng = Setting(_checks.generator, doc="The generator the masks are drawn from (a seed set here makes one).")

    def __init__(self, p: float = 0.5, inplace: bool = False, *, rng: np.random.Generator | int | None = None) -> None:
        self.p = p
        self.inplace = inplace
        self.training = True
        self.rng = rng

    @classmethod
    def _from_torch(cls, module, *, rng: np.random.Generator | int | None = None) -> Dropout:
        """The layer equal to a ``torch.nn.Dropout``: its ``p``, ``inplace`` and training state
        (see :func:`layerviz.from_torch`). torch's random state is not copied: masks come from ``rng``."""
        return cls(module.p, module.inplace, rng=rng).train(bool(module.training))

    # -- settings ---------------------------------------------------------------------------

    @property
    def p(self) -> float | int:
        """Probability of an element to be zeroed, in ``[0, 1]``."""
        return self._p

    @p.setter
    def p(self, value: float) -> None:
        self._p = _check_p(value)

    @property
    def scale(self) -> float:
        """The factor kept values are multiplied by in training: ``1 / (1 - p)``, or 0 when ``p = 1``."""
        return _scale(self.p)

    def sample_mask(self, shape: int | tuple[int, ...]) -> np.ndarray:
        """Draw the next mask of ``shape`` from the layer's generator (True = kept), whatever the mode.

        Returns
        -------
        ndarray of bool, shape ``shape``
        """
        dims = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
        return _draw_mask(self.rng, self.p, tuple(_checks.positive_int("shape", d, 0) for d in dims))

    # -- forward ----------------------------------------------------------------------------

    def _mask_for(self, x: np.ndarray, mask: ArrayLike | None) -> np.ndarray | None:
        """The mask to use on checked ``x``: None in eval mode, ``mask`` checked, or a fresh draw."""
        if not self.training:
            if mask is not None:
                raise ValueError("mask is only used in training mode; this Dropout is in eval mode (call .train() first)")
            return None
        return _draw_mask(self.rng, self.p, x.shape) if mask is None else _check_mask(mask, x.shape)

    def forward(self, x: ArrayLike, mask: ArrayLike | None = None) -> np.ndarray:
        """Apply dropout to ``x`` of any shape ``(*)``; returns an array of the same shape.

        Parameters
        ----------
        x : array_like, shape (*)
            Finite numbers.
        mask : array_like of bool or 0/1, shape (*), optional
            Training mode only: the elements to keep (1) and drop (0). Default: the next mask
            drawn from the layer's generator.

        Returns
        -------
        ndarray, shape (*)
            ``x * mask * scale`` in training, ``x`` in eval mode.
        """
        checked = _check_x(x)
        keep = self._mask_for(checked, mask)
        out = checked.copy() if keep is None else _apply(checked, keep, self.scale)
        if self.inplace and isinstance(x, np.ndarray) and x.dtype == np.float64 and x.flags.writeable:
            x[...] = out
            return x
        return out

    __call__ = forward

    def frames(self, x: ArrayLike, mask: ArrayLike | None = None) -> DropoutTrace:
        """The forward pass step by step: the mask (element by element, or row by row for more than
        :data:`ELEMENTWISE_LIMIT` elements), then the scaling; one identity frame per sample in eval mode.

        ``mask`` as in :meth:`forward`; without it, the trace draws the next mask from the generator.
        """
        return DropoutTrace(self, x, mask)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p}, inplace={self.inplace})"


def dropout_naive(x: np.ndarray, p: float, training: bool, mask: np.ndarray | None = None) -> np.ndarray:
    """The definition, as a plain loop over the elements: the reference the tests hold ``forward`` to.

    ``x: (*)`` finite; ``mask: (*)`` of 0/1, required in training. Returns ``(*)``.
    """
    out = np.zeros(np.shape(x))
    for index in np.ndindex(*np.shape(x)):
        if not training:
            out[index] = x[index]
        elif mask[index]:
            out[index] = 0.0 if p == 1 else x[index] / (1.0 - p)
        else:
            out[index] = 0.0
    return out


def mean_over_masks(x: ArrayLike, p: float, n_masks: int = 1000, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """The mean of ``n_masks`` training outputs of dropout on ``x``, each with a new mask.

    It approaches ``x`` as ``n_masks`` grows (for ``p < 1``): inverted dropout keeps the expected value.
    The masks are the ones ``Dropout(p, rng=rng)`` would draw on ``n_masks`` successive calls.

    Parameters
    ----------
    x : array_like, shape (*)
    p : float in [0, 1]
    n_masks : int >= 1
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    ndarray, shape (*)
        ``x * (scale * (number of masks keeping the element) / n_masks)``.
    """
    x = _check_x(x)
    p = _check_p(p)
    n_masks = _checks.positive_int("n_masks", n_masks)
    rng = _checks.generator("rng", rng)
    kept = np.zeros(x.shape, dtype=np.int64)
    chunk = max(1, (1 << 22) // max(x.size, 1))  # ~32 MB of uniform draws at a time
    for start in range(0, n_masks, chunk):
        kept += _draw_mask(rng, p, (min(chunk, n_masks - start), *x.shape)).sum(axis=0)
    return x * (_scale(p) * kept / n_masks)


@dataclass(frozen=True, eq=False)
class DropoutFrame:
    """One step of dropout: a mask element (or row) drawn, a sample scaled, or the identity.

    Attributes
    ----------
    index : int
        Position in the trace.
    stage : {'mask', 'scale', 'identity'}
        ``'mask'``: the mask of ``x[where]`` is drawn; ``'scale'``: the kept values of ``x[where]``
        are scaled, giving the output; ``'identity'``: eval mode, ``out[where] = x[where]``.
    where : tuple of int
        Leading index of the elements this frame is about, ``x[where]``: a whole index (one element),
        all but the last axis (one row), the sample ``(n,)`` of a batched input, or ``()`` (everything).
    x : ndarray
        ``input[where]`` (0-d for one element).
    mask : ndarray of bool or None
        ``mask[where]``, True = kept; None in eval mode.
    scale : float
        ``1/(1 - p)`` (0 for ``p = 1``) in training, 1.0 in eval mode.
    result : ndarray
        ``output[where] = x * mask * scale`` (``x`` in eval mode).
    kept : int
        Elements of ``x[where]`` kept (all of them in eval mode).
    narration : str
        The step in words and numbers.
    """

    index: int
    stage: str
    where: tuple[int, ...]
    x: np.ndarray
    mask: np.ndarray | None
    scale: float
    result: np.ndarray
    kept: int
    narration: str
    _trace: DropoutTrace
    #: What the frame asks a student to predict: a scaling frame's example (a mask is drawn, not computed).
    question: Ask | None = None

    @property
    def mask_so_far(self) -> np.ndarray | None:
        """The mask of this frame's sample (``(C, H, W)`` of ``(N, C, H, W)``; all of ``x`` if unbatched),
        as 1.0 / 0.0 where drawn by this frame and NaN where not drawn yet; None in eval mode."""
        trace = self._trace
        if trace.mask is None:
            return None
        sample = self.index // trace.frames_per_sample
        step = self.index % trace.frames_per_sample
        unit = np.arange(trace.elements_per_sample) // trace.unit_size
        drawn = (unit <= step).reshape(trace.sample_shape)
        return np.where(drawn, trace.sample(trace.mask, sample), np.nan)

    def __repr__(self) -> str:
        return f"DropoutFrame({self.index}: {self.narration})"


def _name(prefix: str, index: tuple[int, ...], row: bool = False) -> str:
    """``x[0,3]``, ``x[0,3,:]`` (a row), ``x[:]`` (a vector), or ``x`` (a scalar or all of it)."""
    parts = [str(i) for i in index] + ([":"] if row else [])
    return f"{prefix}[{','.join(parts)}]" if parts else prefix


class DropoutTrace(HasBackward, Trace):
    """The frames of ``dropout(x)``; see the module docstring for their order.

    The mask and the output are computed once, vectorized, when the trace is built; ``trace[k]``
    reads frame ``k``'s elements out of them, so any frame costs the same.

    Attributes
    ----------
    input : ndarray, shape (*)
        A read-only copy of ``x``.
    mask : ndarray of bool, shape (*), or None
        True = kept; None in eval mode.
    output : ndarray, shape (*)
    p, scale : float
        The layer's ``p`` and ``1/(1-p)`` when the trace was built (scale 1.0 in eval mode).
    training : bool
        The layer's mode when the trace was built.
    elementwise : bool
        True for one mask frame per element (at most :data:`ELEMENTWISE_LIMIT` elements),
        False for one per row of the last axis.
    n_samples : int
        ``N`` of an input of 4 or more dimensions, else 1; each sample has ``frames_per_sample`` frames.
    """

    def __init__(self, layer: Dropout, x: ArrayLike, mask: ArrayLike | None = None) -> None:
        self.input = _check_x(x).copy()
        if self.input.size == 0:
            raise ValueError(f"x must not be empty, got shape {self.input.shape}")
        self.layer = layer
        self.title = f"{layer!r} in {'training' if layer.training else 'eval'} mode"
        self.p = layer.p
        self.training = layer.training
        self.mask = layer._mask_for(self.input, mask)
        self.scale = layer.scale if self.training else 1.0
        self.output = self.input.copy() if self.mask is None else _apply(self.input, self.mask, self.scale)

        shape = self.input.shape
        self.batched = self.input.ndim >= 4
        self.n_samples = shape[0] if self.batched else 1
        self.sample_shape = shape[1:] if self.batched else shape
        self.elements_per_sample = self.input.size // self.n_samples
        self.row_length = shape[-1] if shape else 1
        self.elementwise = self.input.size <= ELEMENTWISE_LIMIT
        self.unit_size = 1 if self.elementwise else self.row_length
        #: mask frames of one sample (0 in eval mode); its last frame scales it (or shows the identity)
        self.units_per_sample = 0 if self.mask is None else self.elements_per_sample // self.unit_size
        self.frames_per_sample = self.units_per_sample + 1
        self.n_frames = self.n_samples * self.frames_per_sample
        if self.mask is not None:
            per_sample = self.mask.reshape(self.n_samples, -1)
            self.kept_per_sample = per_sample.sum(axis=1)
            # the example a scaling frame narrates: the kept value of largest magnitude of the sample
            magnitude = np.where(per_sample, np.abs(self.input.reshape(self.n_samples, -1)), -1.0)
            self.example = np.where(self.kept_per_sample > 0, magnitude.argmax(axis=1), -1)
        else:
            self.kept_per_sample = np.full(self.n_samples, self.elements_per_sample)
            self.example = np.zeros(self.n_samples, dtype=np.int64)
        # frames hand out views of these arrays: read-only, so a frame cannot change its trace
        for array in (self.input, self.mask, self.output):
            if array is not None:
                array.flags.writeable = False

    def sample(self, array: np.ndarray, n: int) -> np.ndarray:
        """Sample ``n`` of ``array`` (``array[n]`` if batched, else all of it)."""
        return array[n] if self.batched else array

    def resample(self) -> DropoutTrace:
        """The same input through the same layer with the next mask from its generator
        (the layer's current ``p`` and mode), to compare two masks."""
        return DropoutTrace(self.layer, self.input)

    # -- frames ---------------------------------------------------------------------------------

    def _frame(self, k: int) -> DropoutFrame:
        n, step = divmod(k, self.frames_per_sample)
        shape = self.input.shape
        if step < self.units_per_sample:
            stage = "mask"
            flat = n * self.elements_per_sample + step * self.unit_size
            if self.elementwise:
                where = tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()
            else:
                where = tuple(int(i) for i in np.unravel_index(flat // self.row_length, shape[:-1])) if shape[:-1] else ()
        else:
            stage = "scale" if self.mask is not None else "identity"
            where = (n,) if self.batched else ()
        values = self.input[where + (Ellipsis,)]
        mask = None if self.mask is None else self.mask[where + (Ellipsis,)]
        kept = int(self.kept_per_sample[n]) if stage != "mask" else int(mask.sum())
        result = self.output[where + (Ellipsis,)]
        narration, question = self._narrate(n, stage, where, values, mask, kept)
        return DropoutFrame(index=k, stage=stage, where=where, x=values, mask=mask, scale=self.scale, result=result,
                            kept=kept, narration=narration, _trace=self, question=question)

    def _narrate(self, n: int, stage: str, where: tuple[int, ...], x: np.ndarray, mask: np.ndarray | None,
                 kept: int) -> tuple[str, Ask | None]:
        """The narration of a frame of sample ``n`` about ``x = input[where]``, and its question (a scaling
        frame asks for its example: ``out = x × scale``; a mask is drawn, not computed: it asks nothing)."""
        if stage == "scale":
            return self._narrate_scaling(n, where, x, kept)
        return self._narrate_mask(n, stage, where, x, mask, kept), None

    def _narrate_mask(self, n: int, stage: str, where: tuple[int, ...], x: np.ndarray, mask: np.ndarray | None,
                      kept: int) -> str:
        sample = f"sample {n}: " if self.batched else ""
        if stage == "identity":
            return (f"{sample}eval mode: dropout is the identity, {_name('out', where)} = {_name('x', where)} "
                    f"(no mask, no scaling)")
        if stage == "mask" and x.ndim == 0:
            verdict = "kept (1)" if mask else "dropped (0)"
            return f"{_name('x', where)} = {_number(float(x))} → {verdict}"
        row, size = _name("x", where, row=True), x.size
        if kept == size:
            return f"{row} ({size} values): all kept (1)"
        if kept == 0:
            return f"{row} ({size} values): all dropped (0)"
        dropped = np.flatnonzero(~mask)
        listed = ", ".join(f"{_name('x', (*where, int(j)))} = {_number(float(x[j]))}"
                           for j in dropped[:_ROW_LISTED])
        more = f", … ({len(dropped) - _ROW_LISTED} more)" if len(dropped) > _ROW_LISTED else ""
        return f"{row} ({size} values): {kept} kept (1), {len(dropped)} dropped (0): {listed}{more}"

    def _narrate_scaling(self, n: int, where: tuple[int, ...], x: np.ndarray, kept: int) -> tuple[str, Ask | None]:
        """The scaling step of sample ``n``: ``kept values × 1/(1 − p) = … e.g. out[0,2] = 0.57 × 2.00 = 1.14``."""
        sample = f"sample {n}: " if self.batched else ""
        total = x.size
        p_text = repr(float(self.p))  # every digit: the scale is redone from it
        if self.p == 1:
            return (f"{sample}p = 1: every value is dropped, so the output is all 0 "
                    f"(torch scales by 0 instead of 1/(1 − 1))"), None
        if kept == 0:
            return (f"{sample}kept values × 1/(1 − p) = 1/(1 − {p_text}) = × {_number(self.scale)}: "
                    "no value was kept, the output is all 0"), None
        flat = int(self.example[n])
        element = tuple(int(i) for i in np.unravel_index(flat, x.shape)) if x.ndim else ()
        out = float(self.output[where + element])
        # the example's input and the scale with the decimals that make the product, redone, give the output
        # shown; the scale (an intermediate) also comes out of 1/(1 − p) as p is shown
        p_shown = float(p_text)
        shown = redoable([float(x[element])], [self.scale, out],
                         lambda o, r: [1 / (1 - p_shown), o[0] * r[0]], intermediate=(0,))
        (value,), (scale, result) = shown.operands, shown.results
        head = f"{sample}kept values × 1/(1 − p) = 1/(1 − {p_text}) = × {scale}"
        name = _name("out", (*where, *element))
        dropped = f"the {total - kept} dropped values stay 0" if kept < total else "nothing was dropped"
        question = Ask(f"{sample}kept values × {scale}: {name} = {value} × {scale} = ?", result, out)
        return f"{head}: {kept} of {total} kept, e.g. {name} = {value} × {scale} = {result}; {dropped}", question

    # -- scene ----------------------------------------------------------------------------------

    def _grid_shape(self) -> tuple[int, int, int]:
        """How the input is drawn: ``(S, H, W)``; a vector is one row, a scalar one cell."""
        shape = self.input.shape
        if len(shape) >= 2:
            return (int(np.prod(shape[:-2], dtype=np.int64)), shape[-2], shape[-1])
        return (1, 1, shape[0] if shape else 1)

    def _labels(self, prefix: str) -> tuple[str, ...]:
        leading = self.input.shape[:-2]
        if not leading:
            return (prefix,)
        return tuple(_name(prefix, index) for index in np.ndindex(*leading))

    def scene(self) -> Scene:
        """Input ⊙ mask × 1/(1 − p) = output, with the mask and then the output revealed frame by frame;
        in eval mode, input = output."""
        s, h, w = self._grid_shape()
        page_size = s // self.n_samples
        frames = np.arange(self.n_frames, dtype=np.int64)
        page = (frames // self.frames_per_sample).astype(np.int32) if self.batched else None
        x3, out3 = self.input.reshape(s, h, w), self.output.reshape(s, h, w)
        vmax = max(float(np.abs(x3).max()), float(np.abs(out3).max()), 1.0 if self.mask is not None else 0.0,
                   self.scale) or 1.0
        if self.mask is None:
            panels = (
                Grid("input", "input", x3, self._labels("x"), page_size=page_size, page=page),
                Grid("output", "output = input (eval mode)", out3, self._labels("out"), page_size=page_size, page=page,
                     op="="),
            )
            return Scene(self.title, self.n_frames, panels, (), LazyCaptions(self), vmax)

        # the frame at which each element's mask is drawn, and its sample's scaling frame
        flat = np.arange(self.input.size, dtype=np.int64)
        sample, within = np.divmod(flat, self.elements_per_sample)
        mask_frame = sample * self.frames_per_sample + within // self.unit_size
        scale_frame = sample * self.frames_per_sample + self.units_per_sample
        panels = (
            Grid("input", "input", x3, self._labels("x"), page_size=page_size, page=page),
            Grid("mask", "mask (1 = kept, 0 = dropped)" if w >= 8 else "mask", self.mask.reshape(s, h, w).astype(np.float64),
                 self._labels("mask"), reveal=mask_frame.reshape(s, h, w).astype(np.int32), page_size=page_size,
                 page=page, op="⊙"),
            Grid("scale", "1/(1−p)", np.array([[[self.scale]]]), ("",),
                 reveal=np.full((1, 1, 1), self.units_per_sample, dtype=np.int32), op="×"),
            Grid("output", "output", out3, self._labels("out"), reveal=scale_frame.reshape(s, h, w).astype(np.int32),
                 page_size=page_size, page=page, op="="),
        )
        # anchors: the first element of each mask frame's element or row; off the grid in scaling frames
        sample_k, step = np.divmod(frames, self.frames_per_sample)
        is_mask = step < self.units_per_sample
        first = sample_k * self.elements_per_sample + step * self.unit_size
        anchor = np.stack([first // (h * w), np.where(is_mask, (first // w) % h, _OFF_GRID), first % w], axis=1)
        stencil = np.zeros((self.unit_size, 3), dtype=np.int32)
        stencil[:, 2] = np.arange(self.unit_size)
        scale_anchor = np.zeros((self.n_frames, 3), dtype=np.int64)
        scale_anchor[is_mask, 1] = _OFF_GRID
        highlights = (
            Highlight("input", anchor.astype(np.int32), stencil, "window", "input value"),
            Highlight("mask", anchor.astype(np.int32), stencil, "output", "mask entry drawn"),
            Highlight("scale", scale_anchor.astype(np.int32), np.zeros((1, 3), dtype=np.int32), "stat",
                      "scaling 1/(1−p)"),
        )
        return Scene(self.title, self.n_frames, panels, highlights, LazyCaptions(self), vmax)


# -- backward ---------------------------------------------------------------------------------------


def _dropout_backward(self: DropoutTrace, g: np.ndarray) -> BackwardTrace:
    """dL/dx = dout × mask / (1 − p) with the forward's own mask (training); dout unchanged in eval mode."""
    if self.mask is None:
        dx = g.copy()

        def explain(index):
            return [float(g[index])], (f"eval mode, dropout passes everything: {grad_name('dx', index)} = "
                                        f"{grad_name('dout', index)} = {_format.number(float(g[index]))}"), None

        title = "dL/dx = dout (eval mode)"
    else:
        dx = g * self.mask * self.scale

        def explain(index):
            kept = bool(self.mask[index])
            ops = [float(g[index]), 1.0 if kept else 0.0, float(self.scale)]
            why = "kept" if kept else "dropped"
            text, ask = product_step(grad_name("dx", index), "dout × mask × 1/(1 − p)", ops, float(dx[index]),
                                     lambda o: o[0] * o[1] * o[2],
                                     lambda t: f"{_format.paren(t[0])} × {int(ops[1])} × {t[2]}")
            return ops, f"x was {why} in the forward: " + text, ask

        title = "dL/dx = dout × mask / (1 − p)"
    return BackwardTrace(self, g, [Section("input", "dx", title, dx, explain, elementwise=True)], {"input": dx})


DropoutTrace._backward = _dropout_backward
