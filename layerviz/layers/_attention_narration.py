"""Scaled dot-product attention told with its numbers: a score, a row's softmax, an output row, and the gradients
of its backward pass.

Each function returns ``(narration, question)``. The numbers have the decimals with which every step, redone from
them, gives the result shown (:func:`layerviz._format.redoable`); a question hides every step after its operands
(None where the terms are abridged with "…"). A masked score is written ``-inf``: it is never an operand of the
arithmetic checked (``redoable`` takes finite numbers), only its text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from layerviz._format import Ask, paren, redoable, vector_text
from layerviz._format import number as _number
from layerviz._format import shorten as _shorten

#: Terms a dot product (a row of weights, a sum of products) lists before it is abridged with "…"; listed, it asks.
KEEP_TERMS = 8
#: Entries of a value row an output row lists; with more, the output row is abridged.
KEEP_WIDTH = 4
#: How a masked score is written.
MINUS_INF = "-inf"


class Factor:
    """What a sum of products is multiplied by: ``/ √E`` (the default scale, exact as written) or ``× 0.50``."""

    def __init__(self, symbolic: str, value: float | None = None, root: int | None = None) -> None:
        self.symbolic, self.value, self.root = symbolic, value, root

    @classmethod
    def divided_by_root(cls, n: int) -> Factor:
        """``/ √n``: torch's default scale ``1/√E``, written so that a student divides by the root."""
        return cls(f" / √{n}", root=n)

    @classmethod
    def times(cls, value: float, symbol: str) -> Factor:
        """``× value`` (shown with the decimals the arithmetic needs), written ``× symbol`` in words."""
        return cls(f" × {symbol}", value=float(value))

    @property
    def operands(self) -> list[float]:
        return [] if self.value is None else [self.value]

    def text(self, shown: Sequence[str]) -> str:
        return f" / √({self.root})" if self.value is None else f" × {paren(shown[0])}"

    def apply(self, total, shown: np.ndarray):
        return total / math.sqrt(self.root) if self.value is None else total * shown[0]


def scaled_sum_of_products(label: str, symbolic: str, a: np.ndarray, b: np.ndarray, factor: Factor, result: float,
                           *, add: float | None = None, add_symbol: str = "", before: str = ""
                           ) -> tuple[str, Ask | None]:
    """``s[0,1] = q[0]·k[1] / √3 = (0.50×1.00 + 0.20×0.30) / √(3) = 0.56 / √(3) = 0.32`` (``+ mask``: ``add``).

    Listed in full (and asked) up to :data:`KEEP_TERMS` products; beyond, the first and last few around
    "… (n products)", then the sum shown and its scaling, which can still be redone.
    """
    n = len(a)
    extra = [] if add is None else [float(add)]
    nf = len(factor.operands)
    head = f"{label} = {symbolic}{factor.symbolic}{add_symbol}" if label else f"{symbolic}{factor.symbolic}{add_symbol}"

    def finish(total, o):
        value = factor.apply(total, o[:nf])
        return value + o[nf] if extra else value

    def tail(shown_ops: Sequence[str]) -> str:
        return factor.text(shown_ops[:nf]) + (f" + {paren(shown_ops[nf])}" if extra else "")

    total = float(np.dot(a, b)) if n else 0.0
    if n <= KEEP_TERMS:
        def redo(o, r):
            dot = o[:n] @ o[n:2 * n]
            return [dot, finish(r[0], o[2 * n:]), finish(dot, o[2 * n:])]

        shown = redoable([*a, *b, *factor.operands, *extra], [total, result, result], redo, intermediate=(0,))
        terms = " + ".join(f"{paren(x)}×{paren(y)}" for x, y in zip(shown.operands[:n], shown.operands[n:2 * n]))
        rest = tail(shown.operands[2 * n:])
        arithmetic = f"({terms}){rest}"
        text = f"{before}{head} = {arithmetic} = {paren(shown.results[0])}{rest} = {shown.results[1]}"
        return text, Ask(f"{head} = {arithmetic} = ?", shown.results[1], result)
    shown = redoable([total, *factor.operands, *extra], [result], lambda o, _: [finish(o[0], o[1:])])
    idx = [0, 1, 2, n - 2, n - 1]
    terms = [f"{paren(_number(a[i]))}×{paren(_number(b[i]))}" for i in idx]
    terms = terms[:3] + [f"… ({n} products)"] + terms[3:]
    rest = tail(shown.operands[1:])
    return (f"{before}{head} = ({' + '.join(terms)}){rest} = {paren(shown.operands[0])}{rest} = {shown.results[0]}",
            None)


def narrate_score(label: str, symbolic: str, q: np.ndarray, k: np.ndarray, factor: Factor, raw: float,
                  add: float | None, add_symbol: str, masked_why: str | None) -> tuple[str, Ask | None]:
    """A score ``s[i,j] = q_i·k_j × scale (+ attn_mask[i,j])``; a masked one is said masked first (``-inf``), then
    its dot product is shown as it would have been (``raw``), labelled so that no later step reads it as ``s``."""
    if masked_why is None:
        return scaled_sum_of_products(label, symbolic, q, k, factor, raw, add=add, add_symbol=add_symbol)
    text, _ = scaled_sum_of_products("", symbolic, q, k, factor, raw, before="before the mask, ")
    return f"masked ({masked_why}), so {label} = {MINUS_INF}, and its weight will be 0; {text}", None


def _vector(texts: Sequence[str]) -> str:
    return "[" + ", ".join(texts) + "]"


def narrate_softmax(label: str, scores_label: str, scores: np.ndarray, allowed: np.ndarray, exps: np.ndarray,
                    total: float, weights: np.ndarray, kept: np.ndarray | None, drop_scale: float,
                    dropped: np.ndarray | None, dropout_p: float) -> tuple[str, Ask | None]:
    """``a[0,:] = softmax(s[0,:]) = softmax([0.31, -inf, 1.20]): max = max(0.31, -inf, 1.20) = 1.20; e^(s − max) =
    e^([0.31, -inf, 1.20] − 1.20) = [0.41, 0.00, 1.00]; sum = 0.41 + 0.00 + 1.00 = 1.41; a[0,:] = [0.41, 0.00, 1.00]
    / 1.41 = [0.29, 0.00, 0.71]`` (then, with dropout, the weights kept and scaled). Asks for the first weight.

    A row whose every key is masked: torch's softmax gives it weights 0 (not NaN: there is no maximum to subtract),
    and so does this one, saying so.
    """
    n = len(scores)
    free = np.flatnonzero(allowed)
    drop = kept is not None
    if not len(free):
        zeros = _vector([_number(0.0)] * n) if n <= KEEP_TERMS else vector_text([_number(0.0)] * n)
        text = (f"{label} = softmax({scores_label}): every key is masked, so there is no score to take a maximum of; "
                f"as torch does, the row's weights are all 0 (not NaN), and the output row will be 0: "
                f"{label} = {zeros}")
        if drop:
            text += f"; dropout keeps them 0: ã{label[1:]} = {zeros}"
        return text, None
    if n > KEEP_TERMS:
        return _abridged_softmax(label, scores_label, scores, allowed, exps, total, weights, dropped), None
    m = len(free)
    w_at = 2 * n + 1  # results: exps (n), sum, weights (n), [dropped weights (n)], weights from the scores (n)

    def redo(o, r):
        row = np.full(n, -np.inf)
        row[free] = o[:m]
        top = row[free].max()
        e = np.where(allowed, np.exp(row - top), 0.0)
        e_shown, total_shown = r[:n], r[n]
        w_shown = r[n + 1:w_at]
        out = [*e, e_shown.sum(), *(e_shown / total_shown)]
        if drop:
            out += list(w_shown * kept * o[m])
        return out + list(e / e.sum())

    results = [*exps, total, *weights] + ([*dropped] if drop else []) + [*weights]
    intermediate = tuple(range(n + 1)) + (tuple(range(n + 1, w_at)) if drop else ())
    shown = redoable([*scores[free], *([drop_scale] if drop else [])], results, redo, intermediate=intermediate)
    score_texts = [MINUS_INF] * n
    for i, t in zip(free, shown.operands[:m]):
        score_texts[i] = t
    top_text = shown.operands[int(np.argmax(scores[free]))]
    exp_texts, total_text = shown.results[:n], shown.results[n]
    w_texts = shown.results[n + 1:w_at]
    row = _vector(score_texts)
    text = (f"{label} = softmax({scores_label}) = softmax({row}): max = max({', '.join(score_texts)}) = {top_text}; "
            f"e^(s − max) = e^({row} − {paren(top_text)}) = {_vector(exp_texts)}; "
            f"sum = {' + '.join(exp_texts)} = {total_text}; "
            f"{label} = {_vector(exp_texts)} / {total_text} = {_vector(w_texts)}")
    if drop:
        kept_text = _vector(["1" if v else "0" for v in kept])
        text += (f"; dropout (p = {dropout_p}) keeps each weight or zeroes it: ã{label[1:]} = {label} × kept × "
                 f"1/(1 − p) = {_vector(w_texts)} × {kept_text} × {shown.operands[m]} = "
                 f"{_vector(shown.results[w_at:w_at + n])}")
    first = shown.results[-n]
    return text, Ask(f"{label} = softmax({row}) = ?", first, float(weights[0]), entry=True)


def _abridged_softmax(label, scores_label, scores, allowed, exps, total, weights, dropped) -> str:
    """A row of more than :data:`KEEP_TERMS` keys: the largest score, a few exponentials and weights, the sum."""
    n = len(scores)
    top = float(scores[allowed].max())
    row = vector_text([_number(v) if a else MINUS_INF for v, a in zip(scores, allowed)])
    text = (f"{label} = softmax({scores_label}) = softmax({row}) over {n} keys: max = {_number(top)} (the largest "
            f"score); e^(s − max) = {vector_text([_number(v) for v in exps])}; sum of the {n} = {_number(total)}; "
            f"{label} = e^(s − max) / sum = {vector_text([_number(v) for v in weights])} (they add up to 1)")
    if dropped is not None:
        text += f"; after dropout ã{label[1:]} = {vector_text([_number(v) for v in dropped])}"
    return text


def narrate_output(label: str, symbolic: str, weights: np.ndarray, values: np.ndarray, result: np.ndarray,
                   note: str = "") -> tuple[str, Ask | None]:
    """``out[0,:] = Σ_j a[0,j] × v[j] = 0.29×[1.00, 2.00] + 0.71×[0.30, -0.20] = [0.50, 0.44]``: the values weighted
    and added; listed (and asked, its first entry) up to :data:`KEEP_TERMS` keys of :data:`KEEP_WIDTH` entries."""
    n, width = values.shape
    if n <= KEEP_TERMS and width <= KEEP_WIDTH:
        shown = redoable([*weights, *values.ravel()], list(result),
                         lambda o, _: o[:n] @ o[n:].reshape(n, width))
        rows = [shown.operands[n + j * width:n + (j + 1) * width] for j in range(n)]
        terms = " + ".join(f"{paren(a)}×{_vector(r)}" for a, r in zip(shown.operands[:n], rows))
        head = f"{label} = {symbolic} = {terms}"
        return f"{note}{head} = {_vector(shown.results)}", Ask(f"{head} = ?", shown.results[0], float(result[0]),
                                                               entry=True)
    terms = _shorten(range(n), 5, lambda j: f"{paren(_number(weights[j]))}×"
                                            f"{vector_text([_number(v) for v in values[j]], KEEP_WIDTH)}")
    if "…" in terms:
        terms[terms.index("…")] = f"… ({n} terms)"
    return (f"{note}{label} = {symbolic} = {' + '.join(terms)} = "
            f"{vector_text([_number(v) for v in result], KEEP_WIDTH)}", None)


def narrate_softmax_grad(label: str, a: np.ndarray, da: np.ndarray, j: int, result: float) -> tuple[str, Ask | None]:
    """``dot = a·da = 0.29×0.10 + 0.71×(-0.20) = -0.11; ds[0,1] = a × (da − dot) = 0.71 × ((-0.20) − (-0.11)) =
    -0.06``: the softmax's Jacobian-vector product, entry ``j`` of a row."""
    n = len(a)
    dot = float(a @ da)
    if n <= KEEP_TERMS:
        shown = redoable([*a, *da], [dot, result, result],
                         lambda o, r: [o[:n] @ o[n:], o[j] * (o[n + j] - r[0]), o[j] * (o[n + j] - o[:n] @ o[n:])],
                         intermediate=(0,))
        at, dt = shown.operands[:n], shown.operands[n:]
        terms = " + ".join(f"{paren(x)}×{paren(y)}" for x, y in zip(at, dt))
        text = (f"dot = a·da = {terms} = {shown.results[0]}; {label} = a × (da − dot) = "
                f"{paren(at[j])} × ({paren(dt[j])} − {paren(shown.results[0])}) = {shown.results[1]}")
        ask = Ask(f"dot = {terms}; {label} = {paren(at[j])} × ({paren(dt[j])} − dot) = ?", shown.results[1], result)
        return text, ask
    shown = redoable([a[j], da[j], dot], [result], lambda o, _: [o[0] * (o[1] - o[2])])
    at, dt, dot_t = shown.operands
    return (f"dot = a·da (sum of {n} products) = {dot_t}; {label} = a × (da − dot) = "
            f"{paren(at)} × ({paren(dt)} − {paren(dot_t)}) = {shown.results[0]}"), None
