"""Losses: the number a network learns to make small, and the start of every gradient.

``MSELoss``::

    loss = mean_i (x[i] − t[i])²          (reduction='sum': the sum; 'none': the squares themselves)
    dL/dx[i] = 2 (x[i] − t[i]) / N × dout  (N = x.size for 'mean', 1 for 'sum')

``CrossEntropyLoss`` on logits ``x: (N, C)`` (or ``(C,)``) and class indices ``t: (N,)`` (or a scalar)::

    loss[n] = w[t[n]] × (log Σ_c e^x[n, c] − x[n, t[n]])      (−log of the softmax's probability of the class)
    loss = Σ_n loss[n] / Σ_n w[t[n]]                         (reduction='mean'; 'sum': Σ_n loss[n])
    dL/dx[n, c] = w[t[n]] × (softmax(x[n])[c] − [c == t[n]]) / Σ_n w[t[n]] × dout

Samples whose target is ``ignore_index`` count for nothing. ``trace = loss.frames(x, target)`` gives the
forward frames, ``trace.backward()`` (``grad_output`` defaults to 1.0) the gradient, whose
``grads["input"]`` feeds a network's ``trace.backward(...)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layerviz import _checks
from layerviz._format import Ask, paren, redoable
from layerviz.backward import BackwardTrace, HasBackward, Section, name, product_step, sum_of
from layerviz.layers._module import Module, Setting
from layerviz.tensor_grid import grid_cells, tensor_grid
from layerviz.scene import Highlight, Scene
from layerviz.trace import LazyCaptions, Trace

REDUCTIONS = ("none", "mean", "sum")


def _reduction(name_: str, value: object) -> str:
    if value not in REDUCTIONS:
        raise ValueError(f"{name_} must be one of {list(REDUCTIONS)}, got {value!r}")
    return value


@dataclass(frozen=True, eq=False)
class LossFrame:
    """One step of a loss: a term (one element or one sample), or the reduction of the terms."""

    index: int
    cell: tuple[int, ...]
    result: float
    narration: str
    question: Ask | None = None

    def __repr__(self) -> str:
        return f"LossFrame({self.index}: {self.narration})"


class MSELoss(Module):
    """``torch.nn.MSELoss(reduction='mean')``: the mean of the squared differences."""

    reduction = Setting(_reduction)

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        if size_average is not None or reduce is not None:
            raise ValueError("size_average and reduce are deprecated in torch; use reduction='mean', 'sum' or 'none'")
        self.reduction = reduction

    @classmethod
    def _from_torch(cls, module) -> MSELoss:
        return cls(reduction=module.reduction)

    def _check(self, x, target) -> tuple[np.ndarray, np.ndarray]:
        x = _checks.finite_array("input", x, tuple(range(0, 9)), "(*)")
        target = _checks.finite_array("target", target, tuple(range(0, 9)), "(*)")
        if x.shape != target.shape:
            raise ValueError(f"target must have the input's shape {x.shape}, got shape {target.shape}")
        if x.size == 0:
            raise ValueError(f"input must not be empty, got shape {x.shape}")
        return x, target

    def forward(self, x, target) -> np.ndarray | float:
        x, target = self._check(x, target)
        squares = (x - target) ** 2
        if self.reduction == "none":
            return squares
        return np.float64(squares.sum() if self.reduction == "sum" else squares.mean())

    __call__ = forward

    def frames(self, x, target) -> LossTrace:
        """One frame per squared difference, then (reduction 'mean' or 'sum') one for the reduction."""
        return MSELossTrace(self, x, target)

    def __repr__(self) -> str:
        return "MSELoss()" if self.reduction == "mean" else f"MSELoss(reduction={self.reduction!r})"


class CrossEntropyLoss(Module):
    """``torch.nn.CrossEntropyLoss`` on logits and class indices: ``weight``, ``ignore_index``, ``reduction``."""

    reduction = Setting(_reduction)

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        if size_average is not None or reduce is not None:
            raise ValueError("size_average and reduce are deprecated in torch; use reduction='mean', 'sum' or 'none'")
        if label_smoothing != 0.0:
            raise ValueError(f"label_smoothing must be 0.0 (smoothing is not shown yet), got {label_smoothing!r}")
        self.weight = None if weight is None else _checks.finite_array("weight", weight, (1,), "(C,)")
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
            raise ValueError(f"ignore_index must be an integer, got {ignore_index!r}")
        self.ignore_index = int(ignore_index)
        self.reduction = reduction
        self.label_smoothing = 0.0

    @classmethod
    def _from_torch(cls, module) -> CrossEntropyLoss:
        weight = None if module.weight is None else _checks.torch_array(module.weight)
        return cls(weight, ignore_index=module.ignore_index, reduction=module.reduction,
                   label_smoothing=module.label_smoothing)

    def _check(self, x, target) -> tuple[np.ndarray, np.ndarray, bool]:
        x = _checks.finite_array("input", x, (1, 2), "(C,) or (N, C) logits")
        batched = x.ndim == 2
        x2 = x if batched else x[None]
        if 0 in x2.shape:
            raise ValueError(f"input must not be empty, got shape {x.shape}")
        raw = np.asarray(_checks.plain(target))
        if raw.dtype.kind not in "iu":
            raise ValueError(f"target must be class indices (integers), got dtype {raw.dtype}")
        t = raw.reshape(-1) if raw.ndim == 0 else raw
        if t.shape != (x2.shape[0],) or raw.ndim != (1 if batched else 0):
            raise ValueError(f"target must have shape {(x2.shape[0],) if batched else ()}, got shape {raw.shape}")
        classes = x2.shape[1]
        bad = (t != self.ignore_index) & ((t < 0) | (t >= classes))
        if bad.any():
            raise ValueError(f"target must be class indices in [0, {classes - 1}], got {int(t[bad][0])}")
        if self.weight is not None and self.weight.shape != (classes,):
            raise ValueError(f"weight must have one entry per class ({classes}), got shape {self.weight.shape}")
        return x2, t.astype(np.int64), batched

    def _terms(self, x2, t):
        top = x2.max(axis=1, keepdims=True)
        sumexp = np.exp(x2 - top).sum(axis=1)
        lse = top[:, 0] + np.log(sumexp)
        used = t != self.ignore_index
        safe = np.where(used, t, 0)
        picked = x2[np.arange(len(t)), safe]
        w = np.ones(x2.shape[1]) if self.weight is None else self.weight
        wt = np.where(used, w[safe], 0.0)
        return top[:, 0], sumexp, lse, picked, wt, used, safe

    def forward(self, x, target):
        x2, t, batched = self._check(x, target)
        _, _, lse, picked, wt, _, _ = self._terms(x2, t)
        losses = wt * (lse - picked)
        if self.reduction == "none":
            return losses if batched else losses[0]
        if self.reduction == "sum":
            return np.float64(losses.sum())
        return np.float64(losses.sum() / wt.sum())

    __call__ = forward

    def frames(self, x, target) -> LossTrace:
        """One frame per sample (its −log probability), then (reduction 'mean' or 'sum') the reduction."""
        return CrossEntropyTrace(self, x, target)

    def __repr__(self) -> str:
        return "CrossEntropyLoss()" if self.reduction == "mean" else f"CrossEntropyLoss(reduction={self.reduction!r})"


class LossTrace(HasBackward, Trace):
    """A loss's frames: ``terms`` (one per element or sample, then the reduction when there is one)."""

    terms: np.ndarray
    term_symbol = "l"

    def _finish(self) -> None:
        self.reduced = self.layer.reduction != "none"
        self.n_frames = self.terms.size + (1 if self.reduced else 0)
        self.input, self.target, self.terms, self.output = (
            np.array(a, dtype=a.dtype) for a in (self.input, self.target, self.terms, self.output))
        for array in (self.input, self.target, self.terms, self.output):
            array.flags.writeable = False

    def _frame(self, k: int) -> LossFrame:
        if k < self.terms.size:
            index = tuple(int(i) for i in np.unravel_index(k, self.terms.shape)) if self.terms.ndim else ()
            narration, question = self._term(index)
            return LossFrame(k, index, float(self.terms[index]), narration, question)
        return self._reduce_frame(k)

    def _reduce_frame(self, k: int) -> LossFrame:
        values = self.terms.ravel()
        label = "sum" if self.layer.reduction == "sum" or self._divisor() == 1 else "total"
        text, ask = sum_of(label, values, float(values.sum()))
        if self.layer.reduction == "mean":
            divisor = self._divisor()
            step = redoable([float(values.sum()), divisor], [float(self.output)], lambda o, _: [o[0] / o[1]])
            text += f"; loss = {label} / {self._divisor_text()} = {paren(step.operands[0])} / {step.operands[1]} = {step.results[0]}"
            ask = None
        else:
            text = text.replace("sum = ", "loss = ", 1) if label == "sum" else text
        return LossFrame(k, (), float(self.output), text, ask)

    def scene(self) -> Scene:
        panels = [tensor_grid("input", "input", self.input, "x"),
                  tensor_grid("target", "target", np.asarray(self.target, dtype=np.float64), "t")]
        reveal = np.arange(self.terms.size, dtype=np.int32).reshape(self.terms.shape)
        panels.append(tensor_grid("terms", "terms", self.terms, self.term_symbol, reveal=reveal, op="→"))

        origin = np.full((self.n_frames, 3), -(1 << 30), dtype=np.int32)
        origin[: self.terms.size] = grid_cells(self.terms.shape, np.arange(self.terms.size))
        highlights = [Highlight("terms", origin, np.zeros((1, 3), dtype=np.int32), "output")]
        if self.reduced:
            panels.append(tensor_grid("loss", "loss", np.asarray(self.output).reshape(()), "loss",
                                      reveal=np.full((), self.n_frames - 1), op="→"))
        arrays = [self.input, self.terms, np.asarray(self.output)]
        vmax = max(float(np.abs(a).max()) for a in arrays) or 1.0
        return Scene(repr(self.layer), self.n_frames, tuple(panels), tuple(highlights), LazyCaptions(self), vmax)


class MSELossTrace(LossTrace):
    term_symbol = "sq"

    def __init__(self, loss: MSELoss, x, target) -> None:
        self.layer = loss
        x, target = loss._check(x, target)
        self.input, self.target = x.copy(), target.copy()
        self.terms = np.asarray((x - target) ** 2)
        self.output = np.asarray(loss.forward(x, target), dtype=np.float64).copy()
        self._finish()

    def _divisor(self) -> int:
        return self.input.size

    def _divisor_text(self) -> str:
        return f"{self.input.size} elements"

    def _term(self, index):
        label = name("sq", index)
        x, t, r = float(self.input[index]), float(self.target[index]), float(self.terms[index])
        text, ask = product_step(label, "(x − t)²", [x, t], r, lambda o: (o[0] - o[1]) ** 2,
                                 lambda s: f"({paren(s[0])} − {paren(s[1])})²")
        return text, ask

    def _backward(self, g: np.ndarray) -> BackwardTrace:
        scale = 2.0 / (self.input.size if self.layer.reduction == "mean" else 1)
        diff = self.input - self.target
        dx = scale * diff * g
        divisor = self.input.size if self.layer.reduction == "mean" else 1

        def explain(index):
            gi = float(g if g.ndim == 0 else g[index])
            x, t = float(self.input[index]), float(self.target[index])
            ops = [x, t, gi]
            if divisor == 1:
                text, ask = product_step(name("dx", index), "2 × (x − t) × dout", ops, float(dx[index]),
                                         lambda o: 2 * (o[0] - o[1]) * o[2],
                                         lambda s: f"2 × ({paren(s[0])} − {paren(s[1])}) × {paren(s[2])}")
            else:
                text, ask = product_step(name("dx", index), "2 × (x − t) / N × dout", ops, float(dx[index]),
                                         lambda o: 2 * (o[0] - o[1]) / divisor * o[2],
                                         lambda s: f"2 × ({paren(s[0])} − {paren(s[1])}) / {divisor} × {paren(s[2])}")
            return ops, text, ask

        section = Section("input", "dx", "dL/dx = 2 (x − t) / N × dout", dx, explain, elementwise=True)
        return BackwardTrace(self, g, [section], {"input": dx})


class CrossEntropyTrace(LossTrace):
    term_symbol = "l"

    def __init__(self, loss: CrossEntropyLoss, x, target) -> None:
        self.layer = loss
        x2, t, batched = loss._check(x, target)
        self.batched = batched
        self.input = np.array(x2 if batched else x2[0])
        self.target = np.array(t if batched else t[0])
        self.x2, self.t = x2, t
        self.top, self.sumexp, self.lse, self.picked, self.wt, self.used, self.safe = loss._terms(x2, t)
        terms = self.wt * (self.lse - self.picked)
        self.terms = terms if batched else terms.reshape(())
        self.output = np.asarray(loss.forward(x, target), dtype=np.float64).copy()
        self._finish()

    def _divisor(self) -> float:
        return float(self.wt.sum())

    def _divisor_text(self) -> str:
        return "the number of samples counted" if self.layer.weight is None else "Σ w[t]"

    def _term(self, index):
        n = index[0] if index else 0
        label = name("l", index)
        if not self.used[n]:
            return f"target {self.ignore()} is ignore_index, so sample {n} counts for nothing: {label} = 0.00", None
        c = int(self.t[n])
        ops = [float(self.top[n]), float(self.sumexp[n]), float(self.picked[n])]
        if self.layer.weight is None:
            text, ask = product_step(label, f"max + log Σ e^(x − max) − x[{c}]", ops, float(self.terms[index]),
                                     lambda o: o[0] + np.log(o[1]) - o[2],
                                     lambda s: f"{paren(s[0])} + log({s[1]}) − {paren(s[2])}")
            return text, ask
        ops.append(float(self.wt[n]))
        return product_step(label, f"w[{c}] × (max + log Σ e^(x − max) − x[{c}])", ops, float(self.terms[index]),
                            lambda o: o[3] * (o[0] + np.log(o[1]) - o[2]),
                            lambda s: f"{s[3]} × ({paren(s[0])} + log({s[1]}) − {paren(s[2])})")

    def ignore(self) -> int:
        return self.layer.ignore_index

    def _backward(self, g: np.ndarray) -> BackwardTrace:
        x2, t = self.x2, self.t
        probs = np.exp(x2 - self.lse[:, None])
        onehot = np.zeros_like(x2)
        onehot[np.arange(len(t)), self.safe] = 1.0
        if self.layer.reduction == "none":
            scale = self.wt * (g if self.batched else g.reshape(1))
            divisor = None
        else:
            divisor = self.wt.sum() if self.layer.reduction == "mean" else 1.0
            scale = self.wt * float(g) / divisor
        dx2 = scale[:, None] * (probs - onehot)
        dx = dx2 if self.batched else dx2[0]

        def explain(index):
            n, c = (index if self.batched else (0, *index))
            label = name("dx", index)
            if not self.used[n]:
                return [], f"sample {n} is ignored (ignore_index): {label} = 0.00", None
            p, y = float(probs[n, c]), float(onehot[n, c])
            gn = float(g if g.ndim == 0 else g[n])
            w = float(self.wt[n])
            value = float(dx2[n, c])
            d = 1.0 if divisor is None else float(divisor)
            ops = [p, y, w, gn, d]
            text, ask = product_step(label, "(softmax − onehot) × w[t] / divisor × dout", ops, value,
                                     lambda o: (o[0] - o[1]) * o[2] / o[4] * o[3],
                                     lambda s: f"({s[0]} − {s[1]}) × {s[2]} / {s[4]} × {paren(s[3])}")
            return ops, text, ask

        section = Section("input", "dx", "dL/dx = (softmax − onehot) × w / divisor × dout", dx, explain)
        return BackwardTrace(self, g, [section], {"input": dx})

