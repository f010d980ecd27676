"""The RNN explorer, and the recurrent notebooks' helpers.

Inputs: :func:`sequence` (a sine wave, the one-hot letters of a word, or noise). Figures (matplotlib,
shown as PNG without pyplot): :func:`hidden_heatmap` (h, and an LSTM's c, over time),
:func:`gradient_figure` (the vanishing gradient of an RNN, ``||∂h_T/∂h_t||`` against ``T - t``)
and :func:`rnn_vs_lstm_figure` (the same input through an RNN and an LSTM).

How it learns (backpropagation through time, from the engine's own backward pass,
:meth:`RecurrentTrace.backward <layerviz.layers._recurrent.RecurrentTrace.backward>`): the explorers' forward |
backward switch (:data:`EVERY_STEP`, :func:`describe_recurrent_backward`); for the lessons' worked examples
:func:`bptt_table` (the gradients of every step, newest first) and :func:`parameter_gradients`; for the vanishing
gradient :func:`last_step_backward`, :func:`gradient_travel` and :func:`gradient_travel_table` (``||dL/dh_t||``,
and an LSTM's ``||dL/dc_t||``, step after step back), on :func:`scaled_rnn_traces` or :func:`rnn_vs_lstm`.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np

from layerviz import _checks
from layerviz.figure_store import StoredFigure
from layerviz.layers import LSTM, RNN
from layerviz.layers._recurrent import RecurrentTrace, input_sensitivity
from layerviz.layers.rnn import hidden_gradient_norms
from layerviz.scene import Scene
from layerviz.ui import prose
from layerviz.ui.explorer import Explorer, Upstream

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn
    from layerviz.layers._recurrent_backward import RecurrentBackwardTrace
    from layerviz.mpl import PngFigure

INPUTS = ("sine", "word", "pulse", "random")
NONLINEARITIES = ("tanh", "relu")
#: The explorer's limits: beyond them the player has too many or too small cells to read.
MAX_LENGTH, MAX_HIDDEN, MAX_LAYERS, MAX_FEATURES = 32, 12, 3, 8
#: Period of the sine input, in time steps.
SINE_PERIOD = 8
#: The explorers' backward pass: dL/dout = 1 for every output at every step (the loss is the sum of all the h_t).
EVERY_STEP = Upstream("dL/dout = 1 for every output at every step (the loss is the sum of all the h_t)")
#: The columns of :func:`gradient_travel_table`: how many steps back from the last one.
STEPS_BACK = (0, 1, 2, 5, 10, 20, 29)


def word_letters(word: str) -> str:
    """The letters of ``word`` as the RNN reads them: lower case, spaces left out (``"Hello you"`` -> ``"helloyou"``)."""
    return "".join(ch for ch in str(word).lower() if not ch.isspace())


def one_hot_word(word: str, length: int | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """The letters of ``word`` as one-hot vectors: ``(x, alphabet)``.

    ``alphabet`` holds the distinct letters in sorted order; ``x[t, j] = 1`` when letter ``t`` is
    ``alphabet[j]``. With ``length`` the word is repeated (``'hello'``, 7 → ``'hellohe'``).

    Returns
    -------
    x : ndarray, shape (length or len(word), len(alphabet))
    alphabet : tuple of str
    """
    letters = word_letters(word)
    if not letters:
        raise ValueError(f"word must have at least one letter, got {word!r}")
    alphabet = tuple(sorted(set(letters)))
    length = len(letters) if length is None else _checks.positive_int("length", length)
    text = (letters * (length // len(letters) + 1))[:length]
    x = np.zeros((length, len(alphabet)))
    x[np.arange(length), [alphabet.index(ch) for ch in text]] = 1.0
    return x, alphabet


def sequence(kind: str = "sine", length: int = 8, input_size: int = 1, *, word: str = "hello",
             seed: int = 0) -> np.ndarray:
    """An input sequence ``(length, features)`` for a recurrent layer.

    - ``'sine'``: ``x[t, j] = sin(2π t / 8 + j π / 4)``, ``input_size`` phase-shifted waves;
    - ``'word'``: the one-hot letters of ``word`` repeated to ``length`` (features: its distinct letters,
      see :func:`one_hot_word`; ``input_size`` is not used);
    - ``'pulse'``: 1 at ``t = 0`` then 0 (every feature): what does the layer remember of one blip?
    - ``'random'``: standard normal values from ``seed``.
    """
    length = _checks.positive_int("length", length)
    input_size = _checks.positive_int("input_size", input_size)
    if kind == "sine":
        t = np.arange(length)[:, None]
        return np.sin(2 * np.pi * t / SINE_PERIOD + np.arange(input_size)[None, :] * np.pi / 4)
    if kind == "word":
        return one_hot_word(word, length)[0]
    if kind == "pulse":
        x = np.zeros((length, input_size))
        x[0] = 1.0
        return x
    if kind == "random":
        return np.random.default_rng(seed).standard_normal((length, input_size))
    raise ValueError(f"input must be one of {', '.join(INPUTS)}, got {kind!r}")


def _limits(values: dict[str, Any]) -> None:
    for name, key, limit in (("length", "length", MAX_LENGTH), ("hidden size", "hidden_size", MAX_HIDDEN),
                             ("num layers", "num_layers", MAX_LAYERS), ("input size", "input_size", MAX_FEATURES)):
        if key == "length" and values.get("input") == "word":
            continue  # a word has its own length, see explorer_input
        if key in values and isinstance(values[key], int) and values[key] > limit:
            raise ValueError(f"{key} must be <= {limit} in this explorer (the {name} you can still read), "
                             f"got {values[key]}")


def explorer_input(values: dict[str, Any]) -> np.ndarray:
    """The ``(L, H_in)`` sequence the controls ask for; a word is read once, one time step per letter
    (the sequence length is the word's: :func:`follow_word` shows it in the length control)."""
    if values["input"] == "word":
        x, _ = one_hot_word(values["word"])
        if len(x) > MAX_LENGTH:
            raise ValueError(f"word must have at most {MAX_LENGTH} letters in this explorer (one time step each), "
                             f"got {len(x)}")
        return x
    return sequence(values["input"], values["length"], values["input_size"], word=values["word"], seed=values["seed"])


def follow_word(controls: dict[str, widgets.ValueWidget]) -> None:
    """While the input is a word, the length control shows the word's number of letters and is greyed out;
    another input gets back the length it had."""
    length = controls["length"]
    before_word = [length.value]

    def sync(_change: Any = None) -> None:
        is_word = controls["input"].value == "word"
        if is_word and not length.disabled:
            before_word[0] = length.value
        if not is_word and length.disabled:
            length.value = before_word[0]
        length.disabled = is_word
        if is_word:
            n = len(word_letters(controls["word"].value))
            if 1 <= n <= MAX_LENGTH and length.value != n:
                length.value = n

    for name in ("input", "word", "length"):  # the length too: a word's length is not set from outside
        controls[name].observe(sync, names="value")
    sync()


def _with_letter(label: str, letters: str) -> str:
    """``"t=1"`` -> ``'t=1: "e"'`` (the letter read at that step); other labels unchanged."""
    found = re.search(r"t=(\d+)$", label)
    if found is None or int(found.group(1)) >= len(letters):
        return label
    return f'{label}: "{letters[int(found.group(1))]}"'


def word_scene(scene: Scene, word: str) -> Scene:
    """``scene`` with the word's letters on it: the input's title names the word and its rows' letters,
    and each step of the cell panel its letter (``t=1: "e"``)."""
    letters = word_letters(word)
    alphabet = sorted(set(letters))
    panels = []
    for grid in scene.panels:
        if grid.name == "x":
            grid = dataclasses.replace(grid, title=f'input x = "{letters}", one-hot',
                                       labels=tuple(f"rows {' '.join(alphabet)}" for _ in grid.labels))
        elif grid.name == "cell":
            grid = dataclasses.replace(grid, labels=tuple(_with_letter(label, letters) for label in grid.labels))
        panels.append(grid)
    return dataclasses.replace(scene, panels=tuple(panels))


def label_word(trace: RecurrentTrace, word: str) -> RecurrentTrace:
    """Give ``trace`` (of the one-hot letters of ``word``) a scene with the letters on it (:func:`word_scene`)."""
    plain = trace.scene
    trace.word = word_letters(word)
    trace.scene = lambda: word_scene(plain(), word)
    return trace


def build_rnn(values: dict[str, Any]) -> RecurrentTrace:
    """The trace of ``RNN(**settings)`` on the chosen sequence (one sample, unbatched)."""
    _limits(values)
    x = explorer_input(values)
    rnn = RNN(x.shape[1], values["hidden_size"], values["num_layers"], values["nonlinearity"],
              bidirectional=values["bidirectional"], rng=values["seed"])
    trace = rnn.frames(x)
    return label_word(trace, values["word"]) if values["input"] == "word" else trace


def describe_recurrent(trace: RecurrentTrace) -> str:
    """One HTML line: the layer, the shapes and the frames per step."""
    layer = trace.layer
    per_step = len(trace.stages)
    h_n = "h_n" if trace.c_n is None else "(h_n, c_n)"
    shapes = f"h_n {trace.h_n.shape}" + ("" if trace.c_n is None else f", c_n {trace.c_n.shape}")
    text = (f"<code>{layer!r}</code>: input {trace.input.shape} → output {trace.output.shape}, {shapes} "
            f"(it returns output, {h_n}); {len(trace)} frames, {per_step} per time step "
            f"({', '.join(trace.stages)}).")
    word = getattr(trace, "word", None)
    if word:
        alphabet = ", ".join(sorted(set(word)))
        text += (f" The word \"{html.escape(word)}\": {len(word)} letters, one time step each; each letter is a "
                 f"one-hot column over the word's letters {html.escape(alphabet)} (one row each).")
    return text


def recurrent_controls(**extra: widgets.ValueWidget) -> dict[str, widgets.ValueWidget]:
    """The controls the RNN and LSTM explorers share, then ``extra``."""
    style = {"description_width": "initial"}
    narrow = widgets.Layout(width="190px")
    return {
        "input": widgets.Dropdown(options=INPUTS, value="sine", description="input", style=style, layout=narrow),
        "word": widgets.Text(value="hello", description="word", style=style, layout=narrow),
        "length": widgets.IntText(value=8, description="sequence length", style=style, layout=narrow),
        "input_size": widgets.IntText(value=1, description="input size", style=style, layout=narrow),
        "hidden_size": widgets.IntText(value=3, description="hidden size", style=style, layout=narrow),
        "num_layers": widgets.IntText(value=1, description="num layers", style=style, layout=narrow),
        "bidirectional": widgets.Checkbox(value=False, description="bidirectional", indent=False,
                                          layout=widgets.Layout(width="130px")),
        "seed": widgets.BoundedIntText(value=0, min=0, max=2**31 - 1, description="seed", style=style, layout=narrow),
        **extra,
    }


def rnn_explorer(**initial: Any) -> Explorer:
    """An :class:`Explorer` of :class:`~layerviz.RNN`; keyword arguments set the controls' first values."""
    style = {"description_width": "initial"}
    controls = recurrent_controls(
        nonlinearity=widgets.Dropdown(options=NONLINEARITIES, value="tanh", description="nonlinearity", style=style,
                                      layout=widgets.Layout(width="190px")))
    for name, value in initial.items():
        controls[name].value = value
    follow_word(controls)
    layout = [["input", "word", "length", "input_size"],
              ["hidden_size", "num_layers", "nonlinearity", "bidirectional", "seed"]]
    return Explorer(controls, build_rnn, describe_recurrent, layout, backward=EVERY_STEP,
                    describe_backward=describe_recurrent_backward)


def describe_recurrent_backward(btrace: RecurrentBackwardTrace, note: str = EVERY_STEP.note) -> str:
    """One HTML line on the backward pass (BPTT) the explorer's switch shows: the layer, the upstream gradient,
    the frames (per time step, newest first, then the parameters) and the gradients' shapes."""
    forward = btrace.forward
    grads = ", ".join(f"dL/d{html.escape(name)} {tuple(value.shape)}" for name, value in btrace.grads.items())
    steps = len(btrace.stages) * forward.seq_len * forward.num_directions * forward.num_layers * forward.n_samples
    down = sum(segment.size for segment in btrace.segments if segment.kind == "down")
    if not down:
        handed = ""
    elif forward.num_directions == 2:
        handed = ", then the gradient of each layer's input, both directions' parts added, step by step"
    else:
        handed = ", then the gradient handed to the layer below through the dropout mask, step by step"
    text = (f"Backward pass of <code>{html.escape(repr(btrace.layer))}</code>, backpropagation through time, "
            f"{html.escape(note)}: {len(btrace)} frames, {len(btrace.stages)} per time step, newest step first "
            f"({', '.join(btrace.stages)}: {steps} frames), then each parameter's gradient, a sum over time{handed}. "
            f"The gradients: {grads}.")
    if forward.force:
        forced = ", ".join(f"{gate} = {value:g}" for gate, value in forward.force.items())
        text += (f" <b>Forced: {forced}</b>: a constant gate passes no gradient to its weights "
                 f"(a teaching override: not what torch's LSTM computes).")
    return text


# -- figures for the notebooks --------------------------------------------------------------------


def hidden_heatmap(trace: RecurrentTrace, sample: int = 0) -> StoredFigure:
    """Heat maps of ``h`` over time (one per layer and direction), and of ``c`` for an LSTM.

    Rows are the hidden units, columns the time steps; colours on the diverging scale of the player
    (red > 0, blue < 0), numbers printed when there is room. ``.figure`` is the matplotlib figure.
    """
    p = trace.pass_
    n_ld = trace.num_layers * trace.num_directions
    maps = [("h", p.h)] + ([("c", p.c)] if p.c is not None else [])
    wanted = 1.4 + len(maps) * (0.55 * trace.seq_len + 0.8)  # room for a number in every cell
    grids, titles = [], []
    for name, values in maps:
        for ld in range(n_ld):
            layer, d = divmod(ld, trace.num_directions)
            where = (f", layer {layer}" if trace.num_layers > 1 else "") + (", backward" if d else "")
            if trace.force:
                where += " (forced " + ", ".join(f"{q} = {v:g}" for q, v in trace.force.items()) + ")"
            grids.append(values[ld, :, sample].T)  # (units, time)
            titles.append(f"{name} over time{where}")
    return StoredFigure(_draw_heatmaps, grids=grids, titles=titles, n_rows=n_ld,
                        vmax=max(float(np.abs(g).max()) for g in grids) or 1.0,
                        numbers=wanted <= 12 and trace.hidden_size <= 12,
                        size=(min(12.0, wanted), 0.9 + 0.3 * n_ld * max(trace.hidden_size, 3)))


def _draw_heatmaps(grids: list, titles: list, n_rows: int, vmax: float, numbers: bool, size: tuple) -> PngFigure:
    """Heat maps in columns of ``n_rows`` (one column per quantity), on one colour scale ``±vmax``."""
    from layerviz.mpl import PngFigure

    fig = PngFigure(figsize=size, layout="constrained")
    axes = np.atleast_1d(fig.subplots(n_rows, len(grids) // n_rows, squeeze=False))
    for i, (grid, title) in enumerate(zip(grids, titles)):
        ax = axes[i % n_rows, i // n_rows]
        image = ax.imshow(grid, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto", interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("unit")
        ax.set_yticks(range(grid.shape[0]))
        if numbers:
            for (r, c), v in np.ndenumerate(grid):
                ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(v) > 0.6 * vmax else "black")
    for col in range(axes.shape[1]):
        axes[-1, col].set_xlabel("time step t")
    fig.colorbar(image, ax=axes, shrink=0.8, label="value")
    return fig


def scaled_rnn_traces(length: int = 30, hidden_size: int = 8, scales: Sequence[float] = (0.5, 1.0, 2.0, 4.0),
                      seed: int = 0) -> dict[str, RecurrentTrace]:
    """One tanh RNN per scale, its recurrent weights ``W_hh`` multiplied by the scale, on the same random sequence
    of ``length`` steps (``sequence('random', length, 1, seed=seed)``): ``{'W_hh × 0.5': trace, ...}``."""
    x = sequence("random", length, 1, seed=seed)
    traces = {}
    for scale in scales:
        rnn = RNN(1, hidden_size, rng=seed)
        rnn.weight_hh_l0 = rnn.weight_hh_l0 * scale
        traces[f"W_hh × {scale:g}"] = rnn.frames(x)
    return traces


def gradient_figure(length: int = 30, hidden_size: int = 8, scales=(0.5, 1.0, 2.0, 4.0), seed: int = 0) -> StoredFigure:
    """The vanishing (and exploding) gradient of an RNN, computed: ``||∂h_T/∂h_t||`` against ``T - t``.

    The RNNs of :func:`scaled_rnn_traces`, their Jacobians read off the engine's own backward pass
    (:func:`layerviz.layers.rnn.hidden_gradient_norms`). A log scale: a straight falling line is a geometric decay.
    """
    names, norms = [], []
    for name, trace in scaled_rnn_traces(length, hidden_size, scales, seed).items():
        names.append(name)
        norms.append(hidden_gradient_norms(trace.layer, trace.input))
    return StoredFigure(_draw_gradient_norms, names=names, norms=norms, hidden_size=hidden_size)


def _draw_gradient_norms(names: list, norms: list, hidden_size: int) -> PngFigure:
    from layerviz.mpl import PngFigure

    fig = PngFigure(figsize=(7.5, 3.6), layout="constrained")
    ax = fig.subplots()
    for name, norm in zip(names, norms):
        distance = np.arange(len(norm))[::-1]
        ax.semilogy(distance, np.maximum(norm, 1e-300), marker="o", markersize=3, label=name)
    ax.set_xlabel("distance T − t (time steps back)")
    ax.set_ylabel("‖∂h_T / ∂h_t‖")
    ax.set_title(f"How much h_T still depends on h_t (tanh RNN, hidden size {hidden_size})", fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9, frameon=False)
    return fig


# -- how it learns: backpropagation through time, from the engine ----------------------------------------------


def _one_sequence(trace: RecurrentTrace, what: str) -> None:
    if trace.num_layers != 1 or trace.num_directions != 1 or trace.batched:
        raise ValueError(f"{what} needs one layer, one direction and one unbatched sequence (L, H_in), got "
                         f"{trace.layer!r} on an input of shape {np.shape(trace.input)}")


def last_step_backward(trace: RecurrentTrace, grad=None) -> RecurrentBackwardTrace:
    """BPTT of a loss that reads the last step only, ``L = h_T · grad`` (``grad`` None: ones, the sum of ``h_T``'s
    values): ``trace.backward(grad_output)`` with ``grad_output`` zero but at the last step.

    Its ``grad_h[0, t, 0]`` is ``dL/dh_t``, the gradient as it travels back from ``h_T``, step after step.
    """
    _one_sequence(trace, "last_step_backward")
    g = np.zeros(np.shape(trace.output))
    g[-1] = 1.0 if grad is None else np.asarray(grad, dtype=np.float64)
    return trace.backward(g)


def gradient_travel(trace: RecurrentTrace, grad=None) -> dict[str, np.ndarray]:
    """``{'dL/dh': ||dL/dh_t||}`` for ``t = 0 .. T`` (and ``'dL/dc': ||dL/dc_t||`` for an LSTM), read off the
    engine's backward pass of ``L = h_T · grad`` (:func:`last_step_backward`): how much gradient is left ``T - t``
    steps back."""
    btrace = last_step_backward(trace, grad)
    norms = {"dL/dh": np.linalg.norm(btrace.grad_h[0, :, 0], axis=-1)}
    if btrace.grad_c is not None:
        norms["dL/dc"] = np.linalg.norm(btrace.grad_c[0, :, 0], axis=-1)
    return norms


def _short(value: float) -> str:
    """Two significant digits, small numbers in powers of ten (``2.8``, ``0.58``, ``1.7e-05``)."""
    return "0" if value == 0 else f"{value:.2g}"


def gradient_travel_table(traces: Mapping[str, RecurrentTrace], steps_back: Sequence[int] = STEPS_BACK,
                          grad=None) -> prose.Table:
    """How the gradient shrinks (or not) on its way back through time: a row per trace (two for an LSTM, its
    ``||dL/dh_t||`` and its ``||dL/dc_t||``), a column per number of steps back from the last, ``t = T - k``.

    The loss reads the last step only (:func:`last_step_backward`: ``L`` the sum of ``h_T``'s values, or
    ``h_T · grad``); every number comes from the engine's backward pass (``btrace.grad_h``, ``btrace.grad_c``).
    """
    length = min((trace.seq_len for trace in traces.values()), default=None)
    if length is not None and any(k >= length for k in steps_back):
        raise ValueError(f"steps_back must be < the sequence length {length}, got {max(steps_back)}")
    rows = []
    for name, trace in traces.items():
        norms = gradient_travel(trace, grad)
        for key, values in norms.items():
            label = f"{name}: ‖{key}_t‖" if len(norms) > 1 else name  # an RNN's one row: ‖dL/dh_t‖ (the caption)
            rows.append([label, *(_short(values[-1 - k]) for k in steps_back)])
    header = ["", *("t = T" if k == 0 else f"T − {k}" for k in steps_back)]
    caption = ("‖dL/dh_t‖ (and an LSTM's ‖dL/dc_t‖) as backpropagation through time carries the gradient back "
               "from the last step, L = the sum of h_T's values, from layerviz's backward pass")
    return prose.Table(rows, header, caption)


def bptt_table(btrace: RecurrentBackwardTrace, digits: int = 3) -> prose.Table:
    """Every step's gradients, newest step first, as BPTT computes them (one layer, one direction, one sequence).

    RNN: ``dout_t``, ``dh_t``, ``da_t``, what step ``t`` sends back to ``h_{t-1}`` (``W_hhᵀ da_t``) and ``dx_t``.
    LSTM: ``dout_t``, ``dh_t``, ``do_t``, ``dc_t``, ``di_t``, ``df_t``, ``dg_t``, what it sends back to ``c_{t-1}``
    (``f_t ⊙ dc_t``) and to ``h_{t-1}``, and ``dx_t``. A vector is listed (``0.1, -0.2``).
    """
    forward, b = btrace.forward, btrace.bptt
    if forward.kind not in ("RNN", "LSTM"):
        raise ValueError(f"bptt_table shows an RNN or an LSTM, got {forward.layer!r}")
    _one_sequence(forward, "bptt_table")
    hid, seq = forward.hidden_size, forward.seq_len
    lstm = forward.kind == "LSTM"
    rows = []
    for t in reversed(range(seq)):
        cells: list[Any] = [f"t = {t}", b.dup[0, t, 0], b.dh[0, t, 0]]
        if lstm:
            gates = [b.da[0, t, 0, j * hid:(j + 1) * hid] for j in range(4)]  # i, f, g, o
            cells += [gates[3], b.dc[0, t, 0], gates[0], gates[1], gates[2], b.dc_prev[0, t, 0]]
        else:
            cells += [b.da[0, t, 0]]
        cells += [b.dh_prev[0, t, 0], b.dx[0][t, 0]]
        rows.append(cells)
    header = ["step", "dout_t", "dh_t"]
    header += ["do_t", "dc_t", "di_t", "df_t", "dg_t", "to c[t−1]: f_t ⊙ dc_t"] if lstm else ["da_t"]
    header += ["to h[t−1]: W_hhᵀ·" + ("[di, df, dg, do]_t" if lstm else "da_t"), "dx_t"]
    caption = "BPTT, newest step first, by the engine (t = 0: back to the initial h0" + (", c0)" if lstm else ")")
    return prose.table(rows, header, caption, digits=digits, fixed=True)


def parameter_gradients(btrace: RecurrentBackwardTrace, digits: int = 3) -> prose.Table:
    """Each gradient of ``btrace`` (torch's names: ``weight_ih_l0``, ..., ``input``, ``h0``, ``c0``), its shape and
    its numbers, listed row by row."""
    rows = [[f"dL/d{name}", tuple(int(d) for d in np.shape(grad)), np.ravel(grad)]
            for name, grad in btrace.grads.items()]
    return prose.table(rows, ["gradient", "shape", "values (row by row)"],
                       "the gradients, by the engine (a weight's or a bias's: a sum over the time steps)",
                       digits=digits, fixed=True)


def rnn_vs_lstm(x, hidden_size: int = 6, seed: int = 0, forget_bias: float = 3.0) -> dict[str, RecurrentTrace]:
    """The same sequence through an RNN, an LSTM, and the same LSTM with its forget-gate biases raised.

    ``forget_bias`` is added to ``b_if`` (``bias_ih_l0[H:2H]``), so the forget gate starts near
    ``σ(3) ≈ 0.95``: a common initialisation that lets the cell state carry information far.
    Returns ``{'RNN': trace, 'LSTM': trace, 'LSTM, forget bias +3': trace}``, all layers in eval mode.
    """
    x = np.asarray(x, dtype=float)
    rnn = RNN(x.shape[1], hidden_size, rng=seed).eval()
    lstm = LSTM(x.shape[1], hidden_size, rng=seed).eval()
    biased = LSTM(x.shape[1], hidden_size, rng=seed).eval()
    bias = biased.bias_ih_l0.copy()
    bias[hidden_size:2 * hidden_size] += forget_bias
    biased.bias_ih_l0 = bias
    return {"RNN": rnn.frames(x), "LSTM": lstm.frames(x), f"LSTM, forget bias +{forget_bias:g}": biased.frames(x)}


def rnn_vs_lstm_figure(x, hidden_size: int = 6, seed: int = 0, forget_bias: float = 3.0) -> StoredFigure:
    """Side by side, on the same input: ``h`` over time for each layer of :func:`rnn_vs_lstm`, and below
    how much the last output still depends on each input step, ``||∂h_T/∂x_t||`` (log scale)."""
    traces = rnn_vs_lstm(x, hidden_size, seed, forget_bias)
    return StoredFigure(_draw_rnn_vs_lstm, names=list(traces), outputs=[t.output.T for t in traces.values()],
                        sensitivities=[input_sensitivity(t.layer, t.input) for t in traces.values()])


def _draw_rnn_vs_lstm(names: list, outputs: list, sensitivities: list) -> PngFigure:
    """``outputs[i]`` (units, time) as heat maps in a row; below, every ``sensitivities[i]`` on a log scale."""
    from layerviz.mpl import PngFigure

    fig = PngFigure(figsize=(11, 5.6), layout="constrained")
    grid = fig.add_gridspec(2, len(names), height_ratios=[1, 1.1])
    vmax = max(float(np.abs(h).max()) for h in outputs) or 1.0
    curves = fig.add_subplot(grid[1, :])
    for col, (name, h, sens) in enumerate(zip(names, outputs, sensitivities)):
        ax = fig.add_subplot(grid[0, col])
        image = ax.imshow(h, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto", interpolation="nearest")
        ax.set_title(f"{name}: h over time", fontsize=10)
        ax.set_xlabel("time step t")
        ax.set_ylabel("unit")
        curves.semilogy(np.arange(len(sens)), np.maximum(sens, 1e-12), marker="o", markersize=3, label=name)
    fig.colorbar(image, ax=[ax for ax in fig.axes if ax is not curves], shrink=0.8)
    curves.set_xlabel("input step t")
    curves.set_ylabel("‖∂h_T / ∂x_t‖")
    curves.set_title("How much the last output depends on each input step (below 1e-12: nothing left)", fontsize=11)
    curves.grid(True, alpha=0.3)
    curves.legend(fontsize=9, frameon=False)
    return fig
