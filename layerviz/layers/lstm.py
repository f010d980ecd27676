"""LSTM: a recurrent layer whose gates decide what to forget, what to write and what to show.

At every time step ``t``, for every layer (``σ`` the logistic sigmoid, ``⊙`` the element-wise product)::

    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate: how much of c_{t-1} to keep
    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate: how much of the candidate to write
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)   candidate values
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate: how much of the cell to show
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                     the cell state, a conveyor belt
    h_t = o_t ⊙ tanh(c_t)                               (h_t = W_hr (o_t ⊙ tanh(c_t)) with proj_size)

As in ``torch.nn.LSTM`` the four gates' weights are stacked in the order i, f, g, o:
``weight_ih_l0: (4H, H_in)``, ``weight_hh_l0: (4H, H_out)``, ``bias_ih_l0, bias_hh_l0: (4H,)``,
``weight_hr_l0: (proj_size, H)``. Returns ``(output, (h_n, c_n))`` like torch; the shapes are in
:mod:`layerviz.layers._recurrent`.

Frames: six per time step: the forget, input, candidate and output gates (each with its
pre-activation and activation), then ``c_t`` and ``h_t``.

Forcing a gate (``frames(x, force={'f': 1.0})``) pins a gate's activation to a value at every step:
a teaching device to see what the gate does (``f = 1``: the cell never forgets; ``f = 0``: it
forgets everything each step). It departs from torch; without ``force`` the layer is torch's.
"""

from __future__ import annotations

import numpy as np

from layerviz.layers._recurrent import RecurrentFrame, RecurrentTrace, _Recurrent
from layerviz.layers._recurrent_gates import sigmoid

__all__ = ["LSTM", "RecurrentFrame", "RecurrentTrace", "lstm_naive"]


class LSTM(_Recurrent):
    """A long short-term memory layer with ``torch.nn.LSTM``'s arguments, parameter names and shapes.

    Parameters
    ----------
    input_size, hidden_size : int
        ``H_in`` and ``H`` (size of ``c_t``, and of ``h_t`` without projection).
    num_layers : int, default 1
    bias : bool, default True
    batch_first : bool, default False
    dropout : float, default 0.0
        Dropout on the outputs of every layer but the last, in training mode only (the default, as in
        torch); masks from ``rng``. ``layer.eval()`` turns it off.
    bidirectional : bool, default False
    proj_size : int, default 0
        If > 0, ``h_t = W_hr (o_t ⊙ tanh(c_t))`` has ``proj_size`` features; must be < ``hidden_size``.
    rng : numpy.random.Generator or int, optional
        Initial weights uniform on ``[-1/sqrt(H), 1/sqrt(H)]`` (like torch), and dropout masks.

    Attributes
    ----------
    weight_ih_l{k}[_reverse] : ndarray, shape (4H, H_in) for k = 0, else (4H, D*H_out)
    weight_hh_l{k}[_reverse] : ndarray, shape (4H, H_out)
    bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse] : ndarray, shape (4H,)
    weight_hr_l{k}[_reverse] : ndarray, shape (proj_size, H)   (only with ``proj_size > 0``)

    Examples
    --------
    >>> lstm = LSTM(1, 1, bias=False)
    >>> lstm.weight_ih_l0 = [[0.0], [0.0], [1.0], [0.0]]   # i = f = o = σ(0) = 0.5, g = tanh(x)
    >>> lstm.weight_hh_l0 = [[0.0]] * 4
    >>> output, (h_n, c_n) = lstm(np.array([[2.0]]))
    >>> c_n.round(4)                                        # 0.5 * 0 + 0.5 * tanh(2)
    array([[0.482]])
    """

    _kind = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 *, rng: np.random.Generator | int | None = None) -> None:
        self._setup("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                    proj_size, rng)

    @classmethod
    def _from_torch(cls, module, *, rng: np.random.Generator | int | None = None) -> LSTM:
        """The layer equal to a ``torch.nn.LSTM``, with a copy of its weights and its training flag
        (see :func:`layerviz.from_torch`); torch's random state is not copied: dropout masks come from ``rng``."""
        layer = cls(module.input_size, module.hidden_size, module.num_layers, module.bias, module.batch_first,
                    float(module.dropout), module.bidirectional, module.proj_size, rng=rng)
        return cls._copy_torch_parameters(layer, module)

    def _states(self, hx):
        if hx is None:
            return None, None
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise ValueError(f"hx must be a pair (h0, c0), like torch's, got {type(hx).__name__}")
        return hx

    def forward(self, x, hx=None, *, force: dict[str, float] | None = None
                ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Run the sequence ``x``; returns ``(output, (h_n, c_n))`` shaped like torch's.

        ``hx = (h0, c0)``: ``h0: (D*num_layers, [N,] H_out)``, ``c0: (D*num_layers, [N,] H)``.
        ``force`` pins gate activations (a teaching device, see the module docstring).
        """
        force = self._check_force(force)
        x3, h0, c0, batched = self._check_input(x, *self._states(hx))
        output, h_n, c_n = self._shape_output(self._compute(x3, h0, c0, force), batched)
        return output, (h_n, c_n)

    def frames(self, x, hx=None, *, force: dict[str, float] | None = None) -> RecurrentTrace:
        """The forward pass, six frames per time step (gates f, i, g, o, then ``c_t``, ``h_t``).

        ``force={'f': 1.0}`` pins the forget gate to 1 at every step, etc. (keys ``'i'``, ``'f'``,
        ``'o'`` take values in [0, 1], ``'g'`` in [-1, 1]): a teaching device that departs from torch.
        """
        return RecurrentTrace(self, x, *self._states(hx), force=force)


def lstm_naive(lstm: LSTM, x3: np.ndarray, h0: np.ndarray, c0: np.ndarray):
    """The definition, as plain loops (eval mode, no forcing): the reference the tests hold the engine to.

    ``x3: (L, N, H_in)``, ``h0: (D*num_layers, N, H_out)``, ``c0: (D*num_layers, N, H)``;
    returns ``(output (L, N, D*H_out), h_n, c_n)``.
    """
    seq, n_samples = x3.shape[:2]
    big_d, hid, h_out = lstm.num_directions, lstm.hidden_size, lstm.output_hidden

    def sig(v):
        return float(sigmoid(np.array(v)))

    layer_in = [[list(x3[t, n]) for n in range(n_samples)] for t in range(seq)]
    h_n = np.zeros((lstm.num_layers * big_d, n_samples, h_out))
    c_n = np.zeros((lstm.num_layers * big_d, n_samples, hid))
    for layer in range(lstm.num_layers):
        out = [[[] for _ in range(n_samples)] for _ in range(seq)]
        for d in range(big_d):
            w_ih, w_hh, b_ih, b_hh, w_hr = lstm._weights(layer, d)
            for n in range(n_samples):
                h, c = list(h0[layer * big_d + d, n]), list(c0[layer * big_d + d, n])
                for t in (range(seq) if d == 0 else range(seq - 1, -1, -1)):
                    x = layer_in[t][n]

                    def pre(row):
                        total = 0.0 if b_ih is None else b_ih[row] + b_hh[row]
                        total += sum(w_ih[row, q] * x[q] for q in range(len(x)))
                        return total + sum(w_hh[row, q] * h[q] for q in range(h_out))

                    new_c, cell_out = [], []
                    for j in range(hid):
                        i, f = sig(pre(j)), sig(pre(hid + j))
                        g, o = float(np.tanh(pre(2 * hid + j))), sig(pre(3 * hid + j))
                        new_c.append(f * c[j] + i * g)
                        cell_out.append(o * float(np.tanh(new_c[j])))
                    c = new_c
                    if w_hr is None:
                        h = cell_out
                    else:
                        h = [sum(w_hr[p, j] * cell_out[j] for j in range(hid)) for p in range(h_out)]
                    out[t][n].append(h)
                h_n[layer * big_d + d, n], c_n[layer * big_d + d, n] = h, c
        layer_in = [[[v for piece in out[t][n] for v in piece] for n in range(n_samples)] for t in range(seq)]
    return np.array(layer_in), h_n, c_n
