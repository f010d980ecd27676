"""Shared oracles for the RNN / LSTM / GRU tests: random torch configurations and the formulas of
torch's documentation written out again, independently of layerviz's code."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from hypothesis import strategies as st

TORCH = {"RNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}


@dataclass
class Config:
    kind: str
    kwargs: dict
    seq: int
    batch: int | None  # None: unbatched
    with_h0: bool
    with_c0: bool
    seed: int

    @property
    def directions(self) -> int:
        return 2 if self.kwargs.get("bidirectional") else 1

    @property
    def h_out(self) -> int:
        return self.kwargs.get("proj_size", 0) or self.kwargs["hidden_size"]

    def x_shape(self) -> tuple[int, ...]:
        h_in = self.kwargs["input_size"]
        if self.batch is None:
            return (self.seq, h_in)
        return (self.batch, self.seq, h_in) if self.kwargs.get("batch_first") else (self.seq, self.batch, h_in)

    def state_shape(self, size: int) -> tuple[int, ...]:
        states = self.directions * self.kwargs["num_layers"]
        return (states, size) if self.batch is None else (states, self.batch, size)


@st.composite
def configs(draw, kind: str, max_size: int = 4, max_layers: int = 3, max_seq: int = 5, max_batch: int = 3):
    hidden = draw(st.integers(1, max_size))
    kwargs = dict(input_size=draw(st.integers(1, max_size)), hidden_size=hidden,
                  num_layers=draw(st.integers(1, max_layers)), bias=draw(st.booleans()),
                  batch_first=draw(st.booleans()), bidirectional=draw(st.booleans()),
                  dropout=draw(st.sampled_from([0.0, 0.0, 0.5])))
    if kind == "RNN":
        kwargs["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    if kind == "LSTM" and hidden > 1:
        kwargs["proj_size"] = draw(st.sampled_from([0, draw(st.integers(1, hidden - 1))]))
    return Config(kind, kwargs, seq=draw(st.integers(1, max_seq)), batch=draw(st.one_of(st.none(), st.integers(1, max_batch))),
                  with_h0=draw(st.booleans()), with_c0=kind == "LSTM" and draw(st.booleans()),
                  seed=draw(st.integers(0, 2**31 - 1)))


def torch_module(cfg: Config):
    """The torch layer of ``cfg``, float64, in eval mode (its dropout is then off, as torch documents)."""
    torch.manual_seed(cfg.seed)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about dropout with one layer
        module = TORCH[cfg.kind](**cfg.kwargs).double()
    return module.eval()


def inputs(cfg: Config):
    """``x``, ``h0`` (or None), ``c0`` (or None), as numpy."""
    rng = np.random.default_rng(cfg.seed)
    x = rng.standard_normal(cfg.x_shape())
    h0 = rng.standard_normal(cfg.state_shape(cfg.h_out)) if cfg.with_h0 else None
    c0 = rng.standard_normal(cfg.state_shape(cfg.kwargs["hidden_size"])) if cfg.with_c0 else None
    return x, h0, c0


def torch_run(module, x, h0=None, c0=None):
    """torch's ``(output, h_n, c_n)`` as numpy (``c_n`` None but for the LSTM)."""
    t = torch.from_numpy
    with torch.no_grad():
        if isinstance(module, torch.nn.LSTM):
            hx = None
            if h0 is not None or c0 is not None:
                hx = (t(h0) if h0 is not None else None, t(c0) if c0 is not None else None)
                if hx[0] is None or hx[1] is None:
                    # torch needs both: the missing one is zeros, as layerviz's default
                    like = hx[0] if hx[0] is not None else hx[1]
                    states, *rest = like.shape
                    size_h = module.proj_size or module.hidden_size
                    zeros_h = torch.zeros(states, *rest[:-1], size_h, dtype=torch.float64)
                    zeros_c = torch.zeros(states, *rest[:-1], module.hidden_size, dtype=torch.float64)
                    hx = (hx[0] if hx[0] is not None else zeros_h, hx[1] if hx[1] is not None else zeros_c)
            out, (h_n, c_n) = module(t(x), hx)
            return out.numpy(), h_n.numpy(), c_n.numpy()
        out, h_n = module(t(x), None if h0 is None else t(h0))
        return out.numpy(), h_n.numpy(), None


def close(got, expected):
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def torch_weights(module, layer: int, direction: int):
    """``W_ih, W_hh, b_ih, b_hh`` (zeros without bias) and ``W_hr`` (None) of one layer and direction."""
    s = f"_l{layer}" + ("_reverse" if direction else "")
    get = lambda name: getattr(module, name + s).detach().numpy()  # noqa: E731
    w_ih, w_hh = get("weight_ih"), get("weight_hh")
    b_ih = get("bias_ih") if module.bias else np.zeros(w_ih.shape[0])
    b_hh = get("bias_hh") if module.bias else np.zeros(w_ih.shape[0])
    w_hr = get("weight_hr") if getattr(module, "proj_size", 0) else None
    return w_ih, w_hh, b_ih, b_hh, w_hr


def check_frame_arithmetic(frame, module, force=None):
    """Recompute what ``frame`` claims from its own vectors and the torch module's weights (torch's doc formulas)."""
    force = force or {}
    v = frame.vectors
    w_ih, w_hh, b_ih, b_hh, w_hr = torch_weights(module, frame.layer, frame.direction)
    hid = module.hidden_size
    x, h = v["x"], v["h_prev"]
    kind = type(module).__name__
    order = {"RNN": "h", "LSTM": "ifgo", "GRU": "rzn"}[kind]

    def parts(gate):
        j = order.index(gate)
        rows = slice(j * hid, (j + 1) * hid)
        return w_ih[rows] @ x + b_ih[rows], w_hh[rows] @ h + b_hh[rows]

    stage = frame.stage
    if kind == "RNN":
        xp, hp = parts("h")
        act = np.tanh if module.nonlinearity == "tanh" else (lambda a: np.maximum(a, 0))
        expected = {"ih": xp, "hh": hp, "sum": xp + hp, "h": act(xp + hp)}[stage]
    elif stage in order and not (kind == "GRU" and stage == "n"):
        xp, hp = parts(stage)
        close(v["x_part"], xp)
        close(v["h_part"], hp)
        expected = np.tanh(xp + hp) if stage == "g" else sigmoid(xp + hp)
        if stage in force:
            expected = np.full(hid, force[stage])
    elif stage == "n":
        xp, hp = parts("n")
        r = sigmoid(sum(parts("r")))
        close(v["r"], r)
        expected = np.tanh(xp + r * hp)
    elif kind == "LSTM" and stage == "c":
        expected = v["f"] * v["c_prev"] + v["i"] * v["g"]
        gates = {q: (np.tanh(sum(parts(q))) if q == "g" else sigmoid(sum(parts(q)))) for q in "fig"}
        for q in "fig":
            close(v[q], np.full(hid, force[q]) if q in force else gates[q])
    elif kind == "LSTM":  # h
        o = np.full(hid, force["o"]) if "o" in force else sigmoid(sum(parts("o")))
        close(v["o"], o)
        expected = o * np.tanh(v["c"])
        if w_hr is not None:
            expected = w_hr @ expected
    else:  # GRU h
        z = sigmoid(sum(parts("z")))
        close(v["z"], z)
        expected = (1 - z) * v["n"] + z * h
    close(frame.result, expected)


def compare_with_torch(cfg: Config, naive=None, max_naive_cost: int = 3000) -> None:
    """layerviz (from_torch) against torch on ``cfg``: output, h_n (c_n); the naive loops on small
    configurations; and layerviz's own initial weights copied into torch."""
    import layerviz as lv

    module = torch_module(cfg)
    layer = lv.from_torch(module)
    assert type(layer).__name__ == cfg.kind
    assert layer.training is False
    x, h0, c0 = inputs(cfg)
    expected = torch_run(module, x, h0, c0)
    x_before = x.copy()
    if cfg.kind == "LSTM":
        hx = None if h0 is None and c0 is None else (h0, c0)
        out, (h_n, c_n) = layer(x, hx)
        close(c_n, expected[2])
    else:
        out, h_n = layer(x, h0)
    np.testing.assert_array_equal(x, x_before)
    assert out.shape == expected[0].shape
    close(out, expected[0])
    close(h_n, expected[1])

    trace = layer.frames(x, hx) if cfg.kind == "LSTM" else layer.frames(x, h0)
    close(trace.output, expected[0])
    stages = {"RNN": 4, "LSTM": 6, "GRU": 4}[cfg.kind]
    n = 1 if cfg.batch is None else cfg.batch
    assert len(trace) == n * cfg.kwargs["num_layers"] * cfg.directions * cfg.seq * stages

    if naive is not None and np.prod(expected[0].shape) * cfg.kwargs["hidden_size"] * stages <= max_naive_cost:
        x3, h3, c3, _ = layer._check_input(x, h0, c0)
        got = naive(layer, x3, h3, c3) if cfg.kind == "LSTM" else naive(layer, x3, h3)
        out3 = expected[0] if cfg.batch is not None else expected[0][:, None]
        if cfg.batch is not None and cfg.kwargs["batch_first"]:
            out3 = np.swapaxes(out3, 0, 1)
        close(got[0], out3)
        close(got[1], expected[1] if cfg.batch is not None else expected[1][:, None])

    # the other way round: layerviz's own initial weights, copied into torch
    kwargs = dict(cfg.kwargs)
    own = getattr(lv, cfg.kind)(**kwargs, rng=cfg.seed).eval()
    bound = 1 / np.sqrt(cfg.kwargs["hidden_size"])
    twin = torch_module(cfg)
    names = [name for name, _ in twin.named_parameters()]
    assert [name for name, _ in own.named_parameters()] == names
    for name, value in own.named_parameters():
        assert value.shape == tuple(getattr(twin, name).shape)
        assert np.abs(value).max() <= bound
        getattr(twin, name).data = torch.from_numpy(value.copy())
    twin_out = torch_run(twin, x, h0, c0)
    if cfg.kind == "LSTM":
        got_out, (got_h, _) = own(x, hx)
    else:
        got_out, got_h = own(x, h0)
    close(got_out, twin_out[0])
    close(got_h, twin_out[1])


def check_trace(cfg: Config, force=None) -> None:
    """Every frame: its arithmetic (torch's formulas on its own vectors), trace[k] == list(trace)[k],
    negative indices, and the scene's highlights on the cells the frame names."""
    import layerviz as lv

    module = torch_module(cfg)
    layer = lv.from_torch(module)
    x, h0, c0 = inputs(cfg)
    if cfg.kind == "LSTM":
        trace = layer.frames(x, None if h0 is None and c0 is None else (h0, c0), force=force)
    else:
        trace = layer.frames(x, h0)
    frames = list(trace)
    assert len(frames) == len(trace)
    scene = trace.scene()
    h_panel = scene.panel("h")
    cell_panel = scene.panel("cell")
    cell_out = [hl for hl in scene.highlights if hl.panel == "cell" and hl.role == "output"][0]
    # the cell view's columns, as the docstring of cell_columns names them
    columns = {"RNN": {"ih": 0, "hh": 1, "sum": 2}, "LSTM": {"f": 0, "i": 1, "g": 2, "o": 3},
               "GRU": {"r": 0, "z": 1, "n": 2}}[cfg.kind]
    n_stages = {"RNN": 4, "LSTM": 6, "GRU": 4}[cfg.kind]
    out_hl = [hl for hl in scene.highlights if hl.panel == "h" and hl.role == "output"][0]
    big_d, n_layers = cfg.directions, cfg.kwargs["num_layers"]
    seq = cfg.seq
    seen = set()
    for k, frame in enumerate(frames):
        for other in (trace[k], trace[k - len(trace)]):
            assert other.index == frame.index == k
            assert other.narration == frame.narration
            assert (other.sample, other.layer, other.direction, other.t, other.stage) == (
                frame.sample, frame.layer, frame.direction, frame.t, frame.stage)
            np.testing.assert_array_equal(other.result, frame.result)
        check_frame_arithmetic(frame, module, force)
        # time runs forward in direction 0, backward in direction 1; each (place, stage) once
        assert frame.t == (frame.step if frame.direction == 0 else seq - 1 - frame.step)
        key = (frame.sample, frame.layer, frame.direction, frame.t, frame.stage)
        assert key not in seen
        seen.add(key)
        assert frame.narration and "nan" not in frame.narration
        # the state this frame reads is the one the previous step of its direction wrote (or h0)
        if frame.step > 0:
            t_prev = frame.t - 1 if frame.direction == 0 else frame.t + 1
            ld = frame.layer * big_d + frame.direction
            np.testing.assert_array_equal(frame.vectors["h_prev"], h_panel.values[frame.sample * n_layers * big_d + ld, :, t_prev])
        step_id = k // n_stages
        assert cell_panel.page_at(k) == step_id
        lit = {tuple(c) for c in cell_out.cells(k) if c[1] >= 0}
        if frame.stage in columns:
            col = columns[frame.stage]
            assert lit == {(step_id, r, col) for r in range(cfg.kwargs["hidden_size"])}
            close(cell_panel.values[step_id, :, col], frame.result)
            assert (cell_panel.reveal[step_id, :, col] == k).all()
        else:
            assert lit == set()
        cells = out_hl.cells(k)
        if frame.stage == "h":
            ld = frame.layer * big_d + frame.direction
            slice_ = frame.sample * n_layers * big_d + ld
            assert {tuple(c) for c in cells} == {(slice_, r, frame.t) for r in range(h_panel.values.shape[1])}
            close(h_panel.values[slice_, :, frame.t], frame.result)
            assert (h_panel.reveal[slice_, :, frame.t] == k).all()
            assert h_panel.page[k] == frame.sample
        else:
            assert (cells[:, 1] < 0).all()  # not drawn
    with __import__("pytest").raises(IndexError):
        trace[len(trace)]
    with __import__("pytest").raises(IndexError):
        trace[-len(trace) - 1]
