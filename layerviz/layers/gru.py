"""GRU: a gated recurrent layer with a reset gate and an update gate, no separate cell state.

At every time step ``t``, for every layer (``σ`` the logistic sigmoid, ``⊙`` the element-wise product)::

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)              reset gate
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)              update gate
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))   new gate (candidate state)
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

As in ``torch.nn.GRU`` the gates' weights are stacked in the order r, z, n: ``weight_ih_l0: (3H, H_in)``,
``weight_hh_l0: (3H, H)``, ``bias_ih_l0, bias_hh_l0: (3H,)``. Returns ``(output, h_n)`` like torch;
the shapes are in :mod:`layerviz.layers._recurrent`.

Frames: four per time step: the reset, update and new gates, then ``h_t``.
"""

from __future__ import annotations

import numpy as np

from layerviz.layers._recurrent import RecurrentFrame, RecurrentTrace, _Recurrent
from layerviz.layers._recurrent_gates import sigmoid

__all__ = ["GRU", "RecurrentFrame", "RecurrentTrace", "gru_naive"]


class GRU(_Recurrent):
    """A gated recurrent unit layer with ``torch.nn.GRU``'s arguments, parameter names and shapes.

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int, default 1
    bias : bool, default True
    batch_first : bool, default False
    dropout : float, default 0.0
        Dropout on the outputs of every layer but the last, in training mode only; masks from ``rng``.
    bidirectional : bool, default False
    rng : numpy.random.Generator or int, optional
        Initial weights uniform on ``[-1/sqrt(H), 1/sqrt(H)]`` (like torch), and dropout masks.

    Attributes
    ----------
    weight_ih_l{k}[_reverse] : ndarray, shape (3H, H_in) for k = 0, else (3H, D*H)
    weight_hh_l{k}[_reverse] : ndarray, shape (3H, H)
    bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse] : ndarray, shape (3H,)

    Examples
    --------
    >>> gru = GRU(1, 1, bias=False)
    >>> gru.weight_ih_l0 = [[0.0], [0.0], [1.0]]   # r = z = σ(0) = 0.5, n = tanh(x)
    >>> gru.weight_hh_l0 = [[0.0]] * 3
    >>> gru(np.array([[2.0]]))[1].round(4)        # 0.5 * tanh(2) + 0.5 * 0
    array([[0.482]])
    """

    _kind = "GRU"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 *, rng: np.random.Generator | int | None = None) -> None:
        self._setup("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0, rng)

    @classmethod
    def _from_torch(cls, module, *, rng: np.random.Generator | int | None = None) -> GRU:
        """The layer equal to a ``torch.nn.GRU``, with a copy of its weights and its training flag
        (see :func:`layerviz.from_torch`); torch's random state is not copied: dropout masks come from ``rng``."""
        layer = cls(module.input_size, module.hidden_size, module.num_layers, module.bias, module.batch_first,
                    float(module.dropout), module.bidirectional, rng=rng)
        return cls._copy_torch_parameters(layer, module)

    def forward(self, x, hx=None) -> tuple[np.ndarray, np.ndarray]:
        """Run the sequence ``x``; returns ``(output, h_n)`` shaped like torch's; ``hx`` is ``h0``."""
        x3, h0, _, batched = self._check_input(x, hx)
        output, h_n, _ = self._shape_output(self._compute(x3, h0, None), batched)
        return output, h_n

    def frames(self, x, hx=None) -> RecurrentTrace:
        """The forward pass, four frames per time step (gates r, z, n, then ``h_t``)."""
        return RecurrentTrace(self, x, hx)


def gru_naive(gru: GRU, x3: np.ndarray, h0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The definition, as plain loops (eval mode): ``x3: (L, N, H_in)``, ``h0: (D*num_layers, N, H)``;
    returns ``(output (L, N, D*H), h_n)``."""
    seq, n_samples = x3.shape[:2]
    big_d, hid = gru.num_directions, gru.hidden_size

    def sig(v):
        return float(sigmoid(np.array(v)))

    layer_in = [[list(x3[t, n]) for n in range(n_samples)] for t in range(seq)]
    h_n = np.zeros((gru.num_layers * big_d, n_samples, hid))
    for layer in range(gru.num_layers):
        out = [[[] for _ in range(n_samples)] for _ in range(seq)]
        for d in range(big_d):
            w_ih, w_hh, b_ih, b_hh, _ = gru._weights(layer, d)
            for n in range(n_samples):
                h = list(h0[layer * big_d + d, n])
                for t in (range(seq) if d == 0 else range(seq - 1, -1, -1)):
                    x = layer_in[t][n]

                    def part(w, b, v, row):
                        return (0.0 if b is None else b[row]) + sum(w[row, q] * v[q] for q in range(len(v)))

                    new = []
                    for j in range(hid):
                        r = sig(part(w_ih, b_ih, x, j) + part(w_hh, b_hh, h, j))
                        z = sig(part(w_ih, b_ih, x, hid + j) + part(w_hh, b_hh, h, hid + j))
                        nn = float(np.tanh(part(w_ih, b_ih, x, 2 * hid + j) + r * part(w_hh, b_hh, h, 2 * hid + j)))
                        new.append((1 - z) * nn + z * h[j])
                    h = new
                    out[t][n].append(h)
                h_n[layer * big_d + d, n] = h
        layer_in = [[[v for piece in out[t][n] for v in piece] for n in range(n_samples)] for t in range(seq)]
    return np.array(layer_in), h_n
