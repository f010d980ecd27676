"""RNN: an Elman recurrent layer, one hidden state carried from step to step.

For input ``x: (L, H_in)`` (or ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first``), at every
time step ``t`` and for every layer::

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)          (relu instead of tanh if asked)

with ``W_ih: (H, H_in)``, ``W_hh: (H, H)``, ``b_ih, b_hh: (H,)`` and ``h_{-1} = h0`` (zeros by
default). Returns ``(output, h_n)`` like ``torch.nn.RNN``: ``output: (L, D*H)`` holds the last
layer's ``h_t`` at every step, ``h_n: (D*num_layers, H)`` the last state of every layer and
direction. The shapes, the stacking of layers and the backward direction are described in
:mod:`layerviz.layers._recurrent`.

Frames: four per time step (and per sample, layer and direction): ``W_ih x_t + b_ih``,
``W_hh h_{t-1} + b_hh``, their sum ``a_t``, and ``h_t = tanh(a_t)``. One frame per stage
reads better in the player than one per step: each frame lights only what it uses.
"""

from __future__ import annotations

import numpy as np

from layerviz.layers._recurrent import RecurrentFrame, RecurrentTrace, _Recurrent

__all__ = ["RNN", "RecurrentFrame", "RecurrentTrace", "hidden_gradient_norms", "rnn_naive"]


class RNN(_Recurrent):
    """An Elman RNN with ``torch.nn.RNN``'s arguments, parameter names and shapes.

    Parameters
    ----------
    input_size : int
        ``H_in``, features of ``x_t``.
    hidden_size : int
        ``H``, size of the hidden state ``h_t``.
    num_layers : int, default 1
        Stacked layers; layer ``l > 0`` reads the ``h_t`` of layer ``l - 1``.
    nonlinearity : {'tanh', 'relu'}, default 'tanh'
    bias : bool, default True
    batch_first : bool, default False
        Batched input and output as ``(N, L, ·)`` instead of ``(L, N, ·)``.
    dropout : float, default 0.0
        Dropout on the outputs of every layer but the last, in training mode only (``layer.train()``,
        the default, as in torch); the masks come from ``rng``. ``layer.eval()`` turns it off.
    bidirectional : bool, default False
        A second direction reads the sequence backwards; outputs are concatenated.
    rng : numpy.random.Generator or int, optional
        Source of the initial weights (uniform on ``[-1/sqrt(H), 1/sqrt(H)]``, like torch) and of
        the dropout masks.

    Attributes
    ----------
    weight_ih_l{k}[_reverse] : ndarray, shape (H, H_in) for k = 0, else (H, D*H)
    weight_hh_l{k}[_reverse] : ndarray, shape (H, H)
    bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse] : ndarray, shape (H,)  (absent with ``bias=False``)

    Examples
    --------
    >>> rnn = RNN(1, 1, bias=False)
    >>> rnn.weight_ih_l0, rnn.weight_hh_l0 = [[1.0]], [[0.5]]
    >>> output, h_n = rnn(np.array([[1.0], [0.0]]))
    >>> output.round(4)                     # tanh(1) = 0.7616, tanh(0.5 * 0.7616) = 0.3635
    array([[0.7616],
           [0.3635]])
    """

    _kind = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 *, rng: np.random.Generator | int | None = None) -> None:
        self.nonlinearity = nonlinearity
        self._setup(self.mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0, rng)

    @property
    def nonlinearity(self) -> str:
        """``'tanh'`` or ``'relu'``; setting it changes the function the layer computes (and its ``mode``)."""
        return "tanh" if self.mode == "RNN_TANH" else "relu"

    @nonlinearity.setter
    def nonlinearity(self, value: str) -> None:
        if not isinstance(value, str) or value not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {value!r}")
        self.mode = "RNN_TANH" if value == "tanh" else "RNN_RELU"

    @classmethod
    def _from_torch(cls, module, *, rng: np.random.Generator | int | None = None) -> RNN:
        """The layer equal to a ``torch.nn.RNN``, with a copy of its weights and its training flag
        (see :func:`layerviz.from_torch`); torch's random state is not copied: dropout masks come from ``rng``."""
        layer = cls(module.input_size, module.hidden_size, module.num_layers, module.nonlinearity, module.bias,
                    module.batch_first, float(module.dropout), module.bidirectional, rng=rng)
        return cls._copy_torch_parameters(layer, module)

    def forward(self, x, hx=None) -> tuple[np.ndarray, np.ndarray]:
        """Run the sequence ``x``; returns ``(output, h_n)`` shaped like torch's (see the module docstring).

        ``hx`` is ``h0``: ``(D*num_layers, H)`` for an unbatched ``x``, else ``(D*num_layers, N, H)``.
        """
        x3, h0, _, batched = self._check_input(x, hx)
        output, h_n, _ = self._shape_output(self._compute(x3, h0, None), batched)
        return output, h_n

    def frames(self, x, hx=None) -> RecurrentTrace:
        """The forward pass, four frames per time step (see :class:`~layerviz.layers._recurrent.RecurrentTrace`)."""
        return RecurrentTrace(self, x, hx)


def rnn_naive(rnn: RNN, x3: np.ndarray, h0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The definition, as plain loops (eval mode: no dropout): the reference the tests hold the engine to.

    ``x3: (L, N, H_in)`` time-major, ``h0: (D*num_layers, N, H)``; returns ``(output (L, N, D*H), h_n)``.
    """
    seq, n_samples = x3.shape[:2]
    big_d, hid = rnn.num_directions, rnn.hidden_size
    act = np.tanh if rnn.nonlinearity == "tanh" else (lambda v: max(v, 0.0))
    layer_in = [[list(x3[t, n]) for n in range(n_samples)] for t in range(seq)]
    h_n = np.zeros((rnn.num_layers * big_d, n_samples, hid))
    for layer in range(rnn.num_layers):
        out = [[[] for _ in range(n_samples)] for _ in range(seq)]
        for d in range(big_d):
            w_ih, w_hh, b_ih, b_hh, _ = rnn._weights(layer, d)
            for n in range(n_samples):
                h = list(h0[layer * big_d + d, n])
                for t in (range(seq) if d == 0 else range(seq - 1, -1, -1)):
                    new = []
                    for j in range(hid):
                        total = 0.0 if b_ih is None else b_ih[j] + b_hh[j]
                        total += sum(w_ih[j, i] * layer_in[t][n][i] for i in range(len(layer_in[t][n])))
                        total += sum(w_hh[j, i] * h[i] for i in range(hid))
                        new.append(float(act(total)))
                    h = new
                    out[t][n].append(h)
                h_n[layer * big_d + d, n] = h
        layer_in = [[[v for piece in out[t][n] for v in piece] for n in range(n_samples)] for t in range(seq)]
    return np.array(layer_in), h_n


def hidden_gradient_norms(rnn: RNN, x, h0=None, grad=None) -> np.ndarray:
    """How much the last state depends on each earlier one, from backpropagation through time.

    For a one-layer, one-direction RNN on an unbatched ``x: (L, H_in)`` (``T = L - 1``). By the chain
    rule ``∂h_T/∂h_t = J_T J_{T-1} … J_{t+1}`` with ``J_s = diag(φ'(a_s)) W_hh`` (``φ' = 1 - h_s²`` for
    tanh, ``1[a_s > 0]`` for relu). When the ``J_s`` shrink vectors, the product shrinks geometrically
    with ``T - t``: the *vanishing gradient* that keeps an RNN from learning long-range dependencies.

    Both are read off the engine's own backward pass (:meth:`RecurrentTrace.backward
    <layerviz.layers._recurrent.RecurrentTrace.backward>`), never multiplied out by hand:

    - ``grad=None``: ``||∂h_T / ∂h_t||_2``, the spectral norm of the Jacobian. Its row ``i`` is ``dL/dh_t``
      for ``L = h_T[i]``: one backward pass over ``H`` copies of the sequence as a batch, copy ``i`` seeded
      with ``grad_output[T] = e_i``.
    - ``grad`` of shape ``(H,)``: ``||dL/dh_t||`` for ``L = h_T · grad``, the gradient itself as BPTT carries it
      back step by step (``btrace.grad_h``).

    Parameters
    ----------
    rnn : RNN
    x : array_like, shape (L, H_in)
    h0 : array_like, shape (1, H), optional
    grad : array_like, shape (H,), optional

    Returns
    -------
    ndarray, shape (L,)
        The norms for ``t = 0 .. T``; with ``grad=None`` the last one (``t = T``) is 1.
    """
    if rnn.num_layers != 1 or rnn.bidirectional:
        raise ValueError("hidden_gradient_norms needs num_layers=1 and bidirectional=False")
    if np.ndim(x) != 2:
        raise ValueError(f"x must be one unbatched sequence (L, H_in), got shape {np.shape(x)}")
    if grad is not None:
        trace = rnn.frames(x, h0)
        g = np.zeros(trace.output.shape)
        g[-1] = grad  # torch's broadcasting rules: (H,)
        return np.linalg.norm(trace.backward(g).grad_h[0, :, 0], axis=1)
    hid = rnn.hidden_size
    x = np.asarray(x, dtype=np.float64)
    seq = x.shape[0]
    batch = np.repeat(x[:, None, :], hid, axis=1)  # (L, H copies, H_in)
    h0_batch = None if h0 is None else np.repeat(np.asarray(h0, dtype=np.float64)[:, None, :], hid, axis=1)
    g = np.zeros((seq, hid, hid))
    g[-1] = np.eye(hid)  # copy i: L = h_T[i]
    if rnn.batch_first:
        batch, g = np.swapaxes(batch, 0, 1), np.swapaxes(g, 0, 1)
    jacobians = rnn.frames(batch, h0_batch).backward(g).grad_h[0]  # (L, i, H): row i of ∂h_T/∂h_t
    return np.linalg.norm(jacobians, 2, axis=(1, 2))
