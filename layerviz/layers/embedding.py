"""Embedding: a table of vectors, one row per token id; the layer looks rows up.

``Embedding(num_embeddings, embedding_dim)`` holds ``weight: (num_embeddings, embedding_dim)``, as
``torch.nn.Embedding``. For token ids ``x`` of any shape ``(*)`` (integers in ``[0, num_embeddings)``)::

    out[*i, :] = weight[x[*i], :]            out: (*, embedding_dim)

No arithmetic happens: each token *picks* a row. ``padding_idx`` names a row kept at zero (torch
initializes it to zeros) whose gradient is always 0: the padding vector never learns.

Frames: one per token, in row-major order of ``x`` (``out[2] = weight[5] = [0.12, -0.40, …]``).

Backward: the gradient of ``out[*i, :]`` goes to row ``x[*i]`` of the table, and the rows looked up
several times add their gradients up; rows no token picked get 0, and so does ``padding_idx``::

    dw[r, j] = sum over the tokens t with x[t] = r of dout[t, j]       (0 for r = padding_idx)

The token ids themselves are not numbers one can nudge: ``grads["input"]`` is zeros (torch gives them no
gradient). The backward frames cover the rows looked up only (one frame per entry of each such row).
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from layerviz import _checks
from layerviz._format import number as _number
from layerviz._format import paren, redoable
from layerviz._format import Ask
from layerviz.backward import BackwardTrace, GradFrame, HasBackward, Section, name as grad_name
from layerviz.layers._module import Module, Setting
from layerviz.scene import Grid, Highlight, Scene
from layerviz.trace import LazyCaptions, Trace

#: Entries of a row listed in a narration before "…".
_KEEP = 6

#: Highlight row that puts a highlight off its grid: it is not drawn at that frame.
_OFF = -(1 << 20)


def _row_text(values: np.ndarray) -> str:
    """``[0.12, -0.40, …, 0.33]``: a row of the table, at most :data:`_KEEP` entries shown."""
    values = np.ravel(values)
    if len(values) <= _KEEP:
        return "[" + ", ".join(_number(v) for v in values) + "]"
    shown = [*(_number(v) for v in values[: _KEEP - 2]), "…", *(_number(v) for v in values[-2:])]
    return "[" + ", ".join(shown) + "]"


class Embedding(Module):
    """``torch.nn.Embedding``: a lookup table of ``num_embeddings`` vectors of ``embedding_dim`` numbers.

    Parameters
    ----------
    num_embeddings : int
        Rows of the table (the vocabulary size).
    embedding_dim : int
        Numbers per row.
    padding_idx : int, optional
        A row kept at zero whose gradient is always 0 (negative: counted from the end, stored as
        ``num_embeddings + padding_idx``, as torch stores it).
    rng : numpy.random.Generator or int, optional
        Source of the initial table, drawn as torch's: standard normal (the ``padding_idx`` row zero).

    Attributes
    ----------
    weight : ndarray, shape (num_embeddings, embedding_dim)

    Examples
    --------
    >>> emb = Embedding(4, 2)
    >>> emb.weight = [[0.0, 0.0], [1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    >>> emb(np.array([3, 1, 1]))
    array([[5., 6.],
           [1., 2.],
           [1., 2.]])
    """

    num_embeddings = Setting(_checks.positive_int)
    embedding_dim = Setting(_checks.positive_int)

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, *,
                 rng: np.random.Generator | int | None = None) -> None:
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        weight = _checks.generator("rng", rng).standard_normal((self.num_embeddings, self.embedding_dim))
        if self.padding_idx is not None:
            weight[self.padding_idx] = 0.0
        self.weight = weight

    @classmethod
    def _from_torch(cls, module) -> Embedding:
        """The layer equal to a ``torch.nn.Embedding``, with a copy of its table (see :func:`layerviz.from_torch`).

        ``max_norm`` (which rescales rows of the table during the forward) and ``scale_grad_by_freq`` are refused.
        """
        if module.max_norm is not None:
            raise ValueError(f"max_norm={module.max_norm} is not supported: torch rescales the rows of the table "
                             "in place during the forward; use max_norm=None")
        if module.scale_grad_by_freq:
            raise ValueError("scale_grad_by_freq=True is not supported: use scale_grad_by_freq=False")
        layer = cls(module.num_embeddings, module.embedding_dim, padding_idx=module.padding_idx)
        layer.weight = _checks.torch_array(module.weight)
        return layer

    @property
    def padding_idx(self) -> int | None:
        """The padding row (non-negative), or None."""
        return self._padding_idx

    @padding_idx.setter
    def padding_idx(self, value: int | None) -> None:
        if value is None:
            self._padding_idx = None
            return
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"padding_idx must be an integer or None, got {value!r}")
        n = self.num_embeddings
        if not -n <= value < n:
            raise ValueError(f"padding_idx must be within num_embeddings: in [{-n}, {n - 1}], got {value}")
        self._padding_idx = int(value) % n

    @property
    def weight(self) -> np.ndarray:
        return self._weight

    @weight.setter
    def weight(self, value: ArrayLike) -> None:
        self._weight = _checks.parameter("weight", value, (self.num_embeddings, self.embedding_dim))

    def _check_input(self, x: ArrayLike) -> np.ndarray:
        """``x`` as an int64 array of token ids in ``[0, num_embeddings)`` (any shape, not empty)."""
        if self.weight.shape != (self.num_embeddings, self.embedding_dim):
            raise ValueError(f"weight must have shape {(self.num_embeddings, self.embedding_dim)} for the layer's "
                             f"num_embeddings and embedding_dim, got shape {self.weight.shape}: a setting changed "
                             "after weight was set; assign a new weight")
        value = _checks.plain(x)
        if value is None:
            raise ValueError("x must be an array of integer token ids, got None")
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as error:
            raise ValueError(f"x must be an array of integer token ids, got {type(value).__name__}") from error
        if array.dtype.kind not in "iu":
            raise ValueError(f"x must hold integer token ids (torch wants a LongTensor or IntTensor), got dtype "
                             f"{array.dtype}: pass x.astype(int) if the numbers are ids")
        if array.size == 0:
            raise ValueError(f"x must not be empty, got shape {array.shape}")
        bad = (array < 0) | (array >= self.num_embeddings)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"x must hold token ids in [0, {self.num_embeddings - 1}] (index out of range in the "
                             f"table of {self.num_embeddings} rows), got {int(array[where])} at index {where}")
        return array.astype(np.int64)

    def forward(self, x: ArrayLike) -> np.ndarray:
        """``weight[x]``: ``x: (*)`` integer ids; returns ``(*, embedding_dim)``."""
        return self.weight[self._check_input(x)]

    __call__ = forward

    def frames(self, x: ArrayLike) -> EmbeddingTrace:
        """One frame per token of ``x``: the row it picks."""
        return EmbeddingTrace(self, x)

    def __repr__(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"Embedding({self.num_embeddings}, {self.embedding_dim}{pad})"


@dataclass(frozen=True, eq=False)
class EmbeddingFrame:
    """One token and the row of the table it picks.

    Attributes
    ----------
    index : int
        Position in the trace.
    where : tuple of int
        The token's index in ``x``.
    token : int
        ``x[where]``: the row looked up.
    result : ndarray, shape (embedding_dim,)
        ``weight[token]``, written to ``out[where]``.
    narration : str
    """

    index: int
    where: tuple[int, ...]
    token: int
    result: np.ndarray
    narration: str
    question: Ask | None = None

    def __repr__(self) -> str:
        return f"EmbeddingFrame({self.index}: {self.narration})"


def _index(prefix: str, where: tuple) -> str:
    return f"{prefix}[{','.join(str(i) for i in where)}]" if where else prefix


class EmbeddingTrace(HasBackward, Trace):
    """The frames of an embedding lookup: one per token, row-major in ``x``.

    Attributes
    ----------
    input : ndarray of int64, shape (*)
        The token ids.
    weight : ndarray, shape (num_embeddings, embedding_dim)
        A copy of the table when the trace was built.
    output : ndarray, shape (*, embedding_dim)
    """

    def __init__(self, layer: Embedding, x: ArrayLike) -> None:
        self.layer = layer
        self.input = layer._check_input(x).copy()
        self.weight = layer.weight.copy()
        self.output = self.weight[self.input]
        self.n_frames = int(self.input.size)
        for array in (self.input, self.weight, self.output):
            array.flags.writeable = False

    def _frame(self, k: int) -> EmbeddingFrame:
        where = tuple(int(i) for i in np.unravel_index(k, self.input.shape)) if self.input.ndim else ()
        token = int(self.input[where])
        row = self.output[where]
        v, d = self.weight.shape
        pad = (f"; row {token} is padding_idx: zeros, it never learns" if token == self.layer.padding_idx
               else "")
        narration = (f"{_index('out', where)} = weight[{token}] = {_row_text(row)}: token {token} picks row {token} "
                     f"of the {v}×{d} table (a lookup: no arithmetic){pad}")
        return EmbeddingFrame(k, where, token, row, narration)

    def element_frames(self) -> np.ndarray:
        """The frame at which each output element is written (the token's frame), shaped like the output."""
        frames = np.arange(self.n_frames, dtype=np.int64).reshape(self.input.shape)
        return np.broadcast_to(frames[..., None], self.output.shape)

    def scene(self) -> Scene:
        """The token ids, the table with the row looked up lit, and the output filling up row by row."""
        n, (v, d) = self.n_frames, self.weight.shape
        ids = self.input.reshape(1, n, 1).astype(np.float64)
        out = self.output.reshape(1, n, d)
        reveal = np.broadcast_to(np.arange(n, dtype=np.int32)[None, :, None], out.shape)
        frames = np.arange(n, dtype=np.int32)
        zero = np.zeros(n, dtype=np.int32)
        row = np.zeros((d, 3), dtype=np.int32)
        row[:, 2] = np.arange(d)
        one = np.zeros((1, 3), dtype=np.int32)
        panels = (Grid("input", "token ids x", ids, ("",), vmax=float(max(v - 1, 1))),
                  Grid("weight", f"weight ({v}×{d})", self.weight[None], (f"{v}×{d}",), op="→"),
                  Grid("output", "output: the rows picked", out, ("",), reveal=np.array(reveal), op="→"))
        highlights = (Highlight("input", np.stack([zero, frames, zero], axis=1), one, "window", "token"),
                      Highlight("weight", np.stack([zero, self.input.ravel().astype(np.int32), zero], axis=1), row,
                                "kernel", "row looked up"),
                      Highlight("output", np.stack([zero, frames, zero], axis=1), row, "output", "row written"))
        vmax = float(np.abs(self.weight).max()) or 1.0
        return Scene(repr(self.layer), n, panels, highlights, LazyCaptions(self), vmax)


# -- backward ---------------------------------------------------------------------------------------


class EmbeddingBackwardTrace(BackwardTrace):
    """The backward of an embedding: the rows looked up, entry by entry (``cell`` is the entry's index in the
    whole table ``(row, j)``); ``grads["weight"]`` is the whole table's gradient, zero in rows no token picked."""

    rows: np.ndarray

    def _frame(self, k: int) -> GradFrame:
        frame = super()._frame(k)
        i, j = frame.cell
        return dataclasses.replace(frame, cell=(int(self.rows[i]), j))

    def scene(self) -> Scene:
        scene = super().scene()
        labels = tuple(f"row {int(r)}" for r in self.rows)
        panels = tuple(dataclasses.replace(p, row_labels=labels) if p.name == "g0" and p.values.shape[1] == len(labels)
                       else p for p in scene.panels)
        return dataclasses.replace(scene, panels=panels)


def _embedding_backward(self: EmbeddingTrace, g: np.ndarray) -> BackwardTrace:
    v, d = self.weight.shape
    ids = self.input.ravel()
    g2 = g.reshape(len(ids), d)
    dw = np.zeros((v, d))
    np.add.at(dw, ids, g2)
    pad = self.layer.padding_idx
    if pad is not None:
        dw[pad] = 0.0
    rows = np.unique(ids)
    order = np.argsort(ids, kind="stable")
    counts = np.bincount(ids, minlength=v)[rows]
    positions = np.split(order, np.cumsum(counts)[:-1])  # the tokens that picked each row, in order
    shape = self.input.shape

    def token_name(t: int) -> str:
        where = tuple(int(i) for i in np.unravel_index(t, shape)) if len(shape) else ()
        return _index("x", where)

    def explain(index):
        i, j = index
        r = int(rows[i])
        label = grad_name("dw", (r, j))
        picked = positions[i]
        tokens = ", ".join(token_name(int(t)) for t in picked[:4]) + (", …" if len(picked) > 4 else "")
        if r == pad:
            return [], (f"row {r} is padding_idx (picked by {tokens}): torch keeps its gradient at 0, the padding "
                        f"vector never learns: {label} = {_number(0.0)}"), None
        values = g2[picked, j]
        result = float(dw[r, j])
        outs = [grad_name("dout", (*np.unravel_index(int(t), shape), j)) if len(shape) else grad_name("dout", (j,))
                for t in picked]
        if len(picked) == 1:
            shown = redoable([values[0]], [result], lambda o, _: [o[0]])
            return values, (f"row {r} was picked by {tokens} only: its gradient is that token's: "
                            f"{label} = {outs[0]} = {shown.results[0]}"), None
        if len(picked) <= 9:
            shown = redoable(list(values), [result], lambda o, _: [o.sum()])
            terms = " + ".join(paren(t) for t in shown.operands)
            head = f"{label} = {' + '.join(outs)} = {terms}"
            return values, (f"row {r} was picked by {len(picked)} tokens ({tokens}): their gradients add up: "
                            f"{head} = {shown.results[0]}"), Ask(f"{label} = {terms} = ?", shown.results[0], result)
        terms = [paren(_number(values[t])) for t in (0, 1, 2, len(values) - 2, len(values) - 1)]
        terms = terms[:3] + [f"… ({len(values)} terms)"] + terms[3:]
        return values, (f"row {r} was picked by {len(picked)} tokens ({tokens}): their gradients add up: "
                        f"{label} = {' + '.join(terms)} = {_number(result)}"), None

    listed = ", ".join(str(int(r)) for r in rows[:8]) + (", …" if len(rows) > 8 else "")
    section = Section("weight", "dw", f"dL/dW, the {len(rows)} row(s) looked up ({listed}); the others stay 0",
                      dw[rows], explain)
    grads = {"weight": dw, "input": np.zeros(shape)}
    trace = EmbeddingBackwardTrace(self, g, [section], grads)
    trace.rows = rows
    rows.flags.writeable = False
    return trace


EmbeddingTrace._backward = _embedding_backward
