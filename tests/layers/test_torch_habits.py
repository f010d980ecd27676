"""torch's habits (issue 12): what torch accepts, layerviz accepts and computes the same; what torch refuses,
layerviz refuses with a ValueError naming the argument and the rule.

Complex and non-numeric inputs, ``train()`` / ``eval()`` / ``training``, Softmax's implicit ``dim``,
tuples inside a Sequential, tensors that require grad, settings changed after construction, ``rng``,
``Identity``'s arguments, and the message of an unsupported module in ``from_torch``.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

import layerviz as lv
from layerviz.layers import LAYERS
from layerviz.layers._module import Module
from layerviz.layers.dropout import mean_over_masks

quick = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- every layer, with an input it takes --------------------------------------------------------

#: name -> (a fresh layer, an input of the shape it takes)
CASES = {
    "Identity": (lambda: lv.Identity(), (2, 3)),
    "ReLU": (lambda: lv.ReLU(), (2, 3)),
    "Sigmoid": (lambda: lv.Sigmoid(), (2, 3)),
    "Tanh": (lambda: lv.Tanh(), (2, 3)),
    "Softmax": (lambda: lv.Softmax(dim=-1), (2, 3)),
    "Flatten": (lambda: lv.Flatten(), (2, 3, 2)),
    "Linear": (lambda: lv.Linear(3, 2, rng=0), (2, 3)),
    "Dense": (lambda: lv.Dense(3, 2, rng=0), (2, 3)),
    "Conv2d": (lambda: lv.Conv2d(2, 2, 3, rng=0), (2, 5, 5)),
    "MaxPool2d": (lambda: lv.MaxPool2d(2), (2, 4, 4)),
    "AvgPool2d": (lambda: lv.AvgPool2d(2), (2, 4, 4)),
    "AdaptiveAvgPool2d": (lambda: lv.AdaptiveAvgPool2d(2), (2, 4, 4)),
    "Dropout": (lambda: lv.Dropout(0.5, rng=0), (2, 3)),
    "BatchNorm1d": (lambda: lv.BatchNorm1d(3), (4, 3)),
    "BatchNorm2d": (lambda: lv.BatchNorm2d(2), (2, 2, 3, 3)),
    "LayerNorm": (lambda: lv.LayerNorm(3), (2, 3)),
    "GELU": (lambda: lv.GELU(), (2, 3)),
    "RNN": (lambda: lv.RNN(3, 2, rng=0), (4, 3)),
    "LSTM": (lambda: lv.LSTM(3, 2, rng=0), (4, 3)),
    "GRU": (lambda: lv.GRU(3, 2, rng=0), (4, 3)),
    "Sequential": (lambda: lv.Sequential(lv.Linear(3, 2, rng=0), lv.ReLU()), (2, 3)),
}


def test_every_layer_class_has_a_case():
    assert {cls.__name__ for cls in LAYERS} == set(CASES)


def _calls(layer, x):
    """``forward(x)`` and ``frames(x)``: both must refuse a bad ``x`` the same way."""
    return (lambda: layer(x), lambda: layer.frames(x))


# -- 1. complex input ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
@quick
@given(data=st.data())
def test_complex_input_is_refused_not_cut_to_its_real_part(name, data):
    make, shape = CASES[name]
    real = data.draw(arrays(np.float64, shape, elements=st.floats(-5, 5)))
    imag = data.draw(arrays(np.float64, shape, elements=st.floats(-5, 5)).filter(lambda a: a.any()))
    x = real + 1j * imag
    for call in _calls(make(), x):
        with pytest.raises(ValueError, match=r"^x must hold real numbers, got complex values \(complex128\)"):
            call()
    # a complex torch tensor, and even a complex array whose imaginary parts are all 0: real numbers only
    for value in (torch.from_numpy(x), real + 0j, list(x.ravel()) if x.ndim == 1 else x.astype(np.complex64)):
        with pytest.raises(ValueError, match="^x must hold real numbers"):
            make()(value)


@pytest.mark.parametrize("make, name, shape", [
    (lambda: lv.Linear(3, 2), "weight", (2, 3)),
    (lambda: lv.Conv2d(1, 1, 2), "weight", (1, 1, 2, 2)),
    (lambda: lv.BatchNorm1d(2), "bias", (2,)),
    (lambda: lv.RNN(2, 2), "weight_hh_l0", (2, 2)),
])
def test_complex_parameters_are_refused(make, name, shape):
    with pytest.raises(ValueError, match=f"^{name} must hold real numbers"):
        setattr(make(), name, np.full(shape, 1 + 2j))


def test_complex_states_are_refused():
    with pytest.raises(ValueError, match="^h0 must hold real numbers"):
        lv.RNN(2, 2)(np.ones((3, 2)), np.ones((1, 2)) * 1j)


# -- 6 and 9. None, strings: say what was passed ----------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_none_says_none_not_nan(name):
    make, _ = CASES[name]
    for call in _calls(make(), None):
        with pytest.raises(ValueError, match=r"^x must be an array of numbers, got None$"):
            call()


@given(text=st.one_of(st.from_regex(r"\A-?[0-9]{1,3}(\.[0-9]{1,2})?\Z"), st.text(max_size=5)))
@quick
def test_strings_are_not_numbers(text):
    # torch refuses strings (relu(): argument 'input' must be Tensor, not str); "3" is not 3.0
    with pytest.raises(TypeError):
        torch.nn.ReLU()(text)
    for layer in (lv.ReLU(), lv.Softmax(), lv.Dropout(rng=0)):
        with pytest.raises(ValueError, match=r"^x must be an array of numbers, got str$"):
            layer(text)
    with pytest.raises(ValueError, match=r"^x must be an array of numbers, got list of str$"):
        lv.Linear(2, 1)([text, text])


@pytest.mark.parametrize("value, got", [([1.0, None], "None at index (1,)"), ([[1.0, "2"]], "list of str"),
                                        (np.array([1.0, "a"], dtype=object), "str at index (1,)")])
def test_a_none_or_a_string_inside_an_array_is_named(value, got):
    with pytest.raises(ValueError, match=re.escape(f"x must be an array of numbers, got {got}")):
        lv.ReLU()(value)


# -- 7. tensors that require grad -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_tensor_that_requires_grad_is_read_detached(name):
    make, shape = CASES[name]
    x = np.random.default_rng(0).standard_normal(shape)
    tensor = torch.tensor(x, requires_grad=True) * 1.0  # a torch computation's output, in the graph
    assert tensor.requires_grad
    assert _outcome(make(), tensor) == _outcome(make(), x)
    np.testing.assert_array_equal(make().frames(tensor).input, x)


def test_a_torch_layer_output_feeds_a_layerviz_layer():
    torch.manual_seed(0)
    linear = torch.nn.Linear(3, 2).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    out = linear(x)  # requires grad
    np.testing.assert_allclose(lv.ReLU()(out), torch.relu(out).detach().numpy())


@pytest.mark.parametrize("make_ours, make_theirs, names", [
    (lambda: lv.Linear(3, 2), lambda: torch.nn.Linear(3, 2), ("weight", "bias")),
    (lambda: lv.Conv2d(2, 4, 3, groups=2), lambda: torch.nn.Conv2d(2, 4, 3, groups=2), ("weight", "bias")),
    (lambda: lv.BatchNorm2d(3), lambda: torch.nn.BatchNorm2d(3), ("weight", "bias")),
    (lambda: lv.LSTM(2, 3), lambda: torch.nn.LSTM(2, 3), ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0")),
])
def test_an_nn_parameter_can_be_assigned(make_ours, make_theirs, names):
    ours, theirs = make_ours(), make_theirs()
    for name in names:
        parameter = getattr(theirs, name)
        assert isinstance(parameter, torch.nn.Parameter) and parameter.requires_grad
        setattr(ours, name, parameter)
        np.testing.assert_array_equal(getattr(ours, name), parameter.detach().double().numpy())
    before = getattr(ours, names[0]).copy()
    with torch.no_grad():
        getattr(theirs, names[0]).add_(1.0)  # a copy: torch's optimizer steps do not reach the layer
    np.testing.assert_array_equal(getattr(ours, names[0]), before)
    setattr(ours, names[0], torch.zeros(getattr(theirs, names[0]).shape, requires_grad=True))
    assert not getattr(ours, names[0]).any()


# -- 2. train(), eval(), training ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_layer_has_train_eval_and_training_as_torch(name):
    make, _ = CASES[name]
    layer = make()
    assert isinstance(layer, Module)
    assert layer.training is True  # torch's default
    assert layer.eval() is layer and layer.training is False
    assert layer.train() is layer and layer.training is True
    assert layer.train(False) is layer and layer.training is False
    assert layer.train(np.bool_(True)).training is True
    for mode in ("yes", 1, 0, None, "False"):
        with pytest.raises(ValueError, match=r"training mode is expected to be boolean: mode must be True or False"):
            layer.train(mode)
        with pytest.raises(ValueError):
            torch.nn.ReLU().train(mode)
    assert layer.training is True
    with pytest.raises(ValueError, match=r"^training must be True or False, got 'no'$"):
        layer.training = "no"


def test_sequential_passes_the_mode_to_its_layers_and_theirs():
    inner = lv.Sequential(lv.Dropout(rng=0), lv.Dense(2, 2, rng=0))
    model = lv.Sequential(lv.Linear(2, 2, rng=0), inner, lv.BatchNorm1d(2))
    modes = lambda: [model.training, inner.training, *(layer.training for layer in (*model, *inner)),  # noqa: E731
                     inner[1].linear.training, inner[1].act.training]
    assert all(modes())
    assert model.eval() is model
    assert not any(modes())
    model.train()
    assert all(modes())


def _torch_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.5), torch.nn.BatchNorm1d(4),
                               torch.nn.ReLU(), torch.nn.Linear(4, 2), torch.nn.Softmax(dim=1)).double()


def test_a_model_converted_in_training_mode_can_be_put_in_eval_mode():
    module = _torch_model()  # training mode, as torch builds it
    model = lv.from_torch(module)
    assert model.training and all(layer.training for layer in model)
    x = np.random.default_rng(0).standard_normal((5, 3))
    with torch.no_grad():
        expected = module.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.eval()(x), expected, rtol=1e-12)
    np.testing.assert_allclose(model.frames(x).output, expected, rtol=1e-12)


@pytest.mark.parametrize("module", [
    torch.nn.Identity(), torch.nn.ReLU(), torch.nn.Sigmoid(), torch.nn.Tanh(), torch.nn.Softmax(dim=0),
    torch.nn.Flatten(), torch.nn.Linear(2, 2), torch.nn.Conv2d(1, 1, 2), torch.nn.MaxPool2d(2),
    torch.nn.AvgPool2d(2), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Dropout(), torch.nn.BatchNorm1d(2),
    torch.nn.BatchNorm2d(2), torch.nn.RNN(2, 2), torch.nn.LSTM(2, 2), torch.nn.GRU(2, 2),
    torch.nn.Sequential(torch.nn.ReLU()),
], ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("training", [True, False])
def test_from_torch_copies_the_training_flag(module, training):
    module.train(training)
    assert lv.from_torch(module).training is training


def test_from_torch_copies_each_flag_not_the_parents():
    module = torch.nn.Sequential(torch.nn.Dropout(), torch.nn.Sequential(torch.nn.BatchNorm1d(2)))
    module[1].eval()  # torch lets a child differ from its parent
    model = lv.from_torch(module)
    assert [model.training, model[0].training, model[1].training, model[1][0].training] == [True, True, False, False]


# -- 3. Softmax's default dim ----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(x=arrays(np.float64, array_shapes(min_dims=0, max_dims=5, max_side=3), elements=st.floats(-20, 20)))
def test_softmax_without_dim_is_torchs_softmax_without_dim(x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: "Implicit dimension choice ... deprecated"
        expected = torch.nn.Softmax()(torch.from_numpy(x)).numpy()
        converted = lv.from_torch(torch.nn.Softmax())
    assert lv.Softmax().dim is None and converted.dim is None
    np.testing.assert_allclose(lv.Softmax()(x), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(converted.frames(x).output, expected, rtol=1e-12, atol=1e-15)


# -- 4 and 5. a tuple inside a Sequential ----------------------------------------------------------


@pytest.mark.parametrize("ours, theirs, x, what", [
    (lambda: lv.Sequential(lv.MaxPool2d(2, return_indices=True), lv.ReLU()),
     lambda: torch.nn.Sequential(torch.nn.MaxPool2d(2, return_indices=True), torch.nn.ReLU()),
     np.zeros((1, 2, 4, 4)), "layer 1/2 MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False, "
                             "return_indices=True) returns a tuple (values, indices), not an array, and layer 2/2 "
                             "ReLU() cannot take a tuple"),
    (lambda: lv.Sequential(lv.LSTM(2, 3), lv.Linear(3, 1)),
     lambda: torch.nn.Sequential(torch.nn.LSTM(2, 3), torch.nn.Linear(3, 1)),
     np.zeros((4, 2)), "layer 1/2 LSTM(2, 3) returns a tuple (output, (h_n, c_n)), not an array, and layer 2/2 "
                       "Linear(3, 1) cannot take a tuple"),
    (lambda: lv.Sequential(lv.ReLU(), lv.Sequential(lv.GRU(2, 3)), lv.Linear(3, 1)),
     lambda: torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Sequential(torch.nn.GRU(2, 3)), torch.nn.Linear(3, 1)),
     np.zeros((4, 2)), "returns a tuple (output, h_n), not an array, and layer 3/3 Linear(3, 1) cannot take a tuple"),
])
def test_a_tuple_before_the_last_layer_is_refused_alike_by_forward_and_frames(ours, theirs, x, what):
    with pytest.raises(TypeError, match="must be Tensor, not tuple"):  # torch fails there too
        theirs()(torch.from_numpy(x).float())
    model = ours()
    for call in (lambda: model(x), lambda: model.frames(x)):
        with pytest.raises(ValueError, match=re.escape(what)):
            call()


def test_a_tuple_from_the_last_layer_is_returned_as_torch_returns_it():
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    module = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.MaxPool2d(2, return_indices=True)).double()
    values, indices = lv.from_torch(module)(x)
    expected_values, expected_indices = module(torch.from_numpy(x))
    np.testing.assert_array_equal(values, expected_values.numpy())
    np.testing.assert_array_equal(indices, expected_indices.numpy())


def test_a_custom_layer_returning_a_tuple_is_named():
    class Pair:
        def __call__(self, x):
            return x, x

        def frames(self, x):  # pragma: no cover - not reached
            raise AssertionError

        def __repr__(self):
            return "Pair()"

    with pytest.raises(ValueError, match=re.escape("layer 1/2 Pair() returns a tuple of 2 items, not an array")):
        lv.Sequential(Pair(), lv.ReLU())(np.ones(2))


def test_forward_names_the_layer_that_fails_as_frames_does():
    model = lv.Sequential(lv.Linear(2, 3), lv.Linear(2, 1))
    messages = []
    for call in (lambda: model(np.ones(2)), lambda: model.frames(np.ones(2))):
        with pytest.raises(ValueError) as info:
            call()
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert messages[0].startswith("layer 2/2 Linear(2, 1): x must have in_features=2")


# -- 8. settings changed after construction --------------------------------------------------------

#: layer -> (constructor taking settings as keywords, its settings, input). A default derived from another
#: setting is given explicitly: torch fixes a pool's stride=None to the kernel size at construction, so
#: MaxPool2d(3) then kernel_size = 2 keeps stride 3, unlike MaxPool2d(2).
SETTINGS = {
    "Conv2d": (lambda **kw: lv.Conv2d(**{"in_channels": 2, "out_channels": 2, "kernel_size": 3, "rng": 0, **kw}),
               ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
                "padding_mode"), (1, 2, 6, 6)),
    "MaxPool2d": (lambda **kw: lv.MaxPool2d(**{"kernel_size": 3, "stride": 2, "padding": 1, **kw}),
                  ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"), (1, 2, 6, 6)),
    "AvgPool2d": (lambda **kw: lv.AvgPool2d(**{"kernel_size": 3, "stride": 2, "padding": 1, **kw}),
                  ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
                  (1, 2, 6, 6)),
    "AdaptiveAvgPool2d": (lambda **kw: lv.AdaptiveAvgPool2d(**{"output_size": 2, **kw}), ("output_size",),
                          (1, 2, 5, 5)),
    "Linear": (lambda **kw: lv.Linear(**{"in_features": 3, "out_features": 2, "rng": 0, **kw}),
               ("in_features", "out_features"), (2, 3)),
    "Dense": (lambda **kw: lv.Dense(**{"in_features": 3, "out_features": 2, "rng": 0, **kw}),
              ("in_features", "out_features", "activation"), (2, 3)),
    "Softmax": (lambda **kw: lv.Softmax(**kw), ("dim",), (2, 3, 2)),
    "Flatten": (lambda **kw: lv.Flatten(**kw), ("start_dim", "end_dim"), (2, 3, 2)),
    "Dropout": (lambda **kw: lv.Dropout(**{"rng": 0, **kw}), ("p", "inplace", "rng"), (2, 3)),
    "BatchNorm1d": (lambda **kw: lv.BatchNorm1d(**{"num_features": 3, **kw}),
                    ("num_features", "eps", "momentum", "affine", "track_running_stats"), (4, 3)),
    "RNN": (lambda **kw: lv.RNN(**{"input_size": 2, "hidden_size": 3, "rng": 0, **kw}),
            ("input_size", "hidden_size", "num_layers", "nonlinearity", "bias", "batch_first", "dropout",
             "bidirectional"), (4, 2)),
    "LSTM": (lambda **kw: lv.LSTM(**{"input_size": 2, "hidden_size": 3, "rng": 0, **kw}),
             ("hidden_size", "num_layers", "proj_size", "bidirectional"), (4, 2)),
    "GRU": (lambda **kw: lv.GRU(**{"input_size": 2, "hidden_size": 3, "rng": 0, **kw}),
            ("hidden_size", "num_layers", "bias"), (4, 2)),
}

small = st.integers(-2, 4)
setting_values = st.one_of(
    small, st.tuples(small, small), st.lists(small, max_size=3), st.floats(-1.5, 2.5), st.booleans(), st.none(),
    st.sampled_from(["same", "valid", "zeros", "reflect", "circular", "relu", "tanh", "sigmoid", "abc", "3"]),
)


def _arrays(layer, prefix=""):
    """Every array a layer holds (its parameters and buffers, those of the layers inside it), by path."""
    found = {}
    for key, value in vars(layer).items():
        if isinstance(value, np.ndarray):
            found[prefix + key] = value
        elif isinstance(value, Module):
            found.update(_arrays(value, f"{prefix}{key}."))
    return found


def _put(layer, path, value):
    *inner, key = path.split(".")
    for name in inner:
        layer = getattr(layer, name)
    vars(layer)[key] = value


def _outcome(layer, x):
    """What ``layer(x)`` gives: its output as nested lists, or its ValueError's message."""
    try:
        out = layer(x.clone() if isinstance(x, torch.Tensor) else np.array(x))
    except ValueError as error:
        return "ValueError: " + str(error)

    def plain(value):
        return [plain(v) for v in value] if isinstance(value, tuple) else np.asarray(value).tolist()

    return plain(out)


@pytest.mark.parametrize("layer_name, setting", [(n, s) for n, (_, names, _) in SETTINGS.items() for s in names])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=setting_values)
def test_a_setting_set_later_is_checked_and_normalised_as_the_constructor_does(layer_name, setting, value):
    make, _, shape = SETTINGS[layer_name]
    x = np.random.default_rng(1).standard_normal(shape)
    try:
        reference = make(**{setting: value})
    except ValueError as error:
        # refused: at assignment when the rule is the setting's own, else when the layer runs; the same words
        layer = make()
        with pytest.raises(ValueError, match=re.escape(str(error))):
            setattr(layer, setting, value)
            layer(x)
        return
    layer = make()
    setattr(layer, setting, value)  # torch accepts it: so do we
    if setting == "rng":
        assert isinstance(layer.rng, np.random.Generator)
    else:
        assert getattr(layer, setting) == getattr(reference, setting)  # normalised alike (conv.stride = 2 -> (2, 2))
    mine, theirs = _arrays(layer), _arrays(reference)
    refusal = r"^ValueError: \w+ must (have shape|be set|be None) .*(changed|construction)"
    if any(key not in mine or mine[key].shape != array.shape for key, array in theirs.items()):
        # the weights no longer fit the settings (kernel_size, groups, hidden_size, affine...): a clear refusal
        assert re.match(refusal, _outcome(layer, x))
        return
    for path in theirs:
        _put(reference, path, mine[path].copy())
    if setting == "rng" and value is None:
        return  # two fresh generators: different masks
    outcome = _outcome(layer, x)
    if set(mine) != set(theirs) and isinstance(outcome, str):
        # arrays the settings no longer call for (affine=False, bias=False): refused, never silently used
        assert re.match(refusal, outcome)
    else:
        assert outcome == _outcome(reference, x)


@pytest.mark.parametrize("theirs, names", [
    (lambda: torch.nn.Conv2d(2, 2, 3), ("stride", "padding", "dilation")),
    (lambda: torch.nn.MaxPool2d(3), ("kernel_size", "stride", "padding", "dilation", "ceil_mode")),
    (lambda: torch.nn.AvgPool2d(3), ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")),
])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_settings_set_later_compute_what_torch_computes(theirs, names, data):
    module = theirs().double()
    layer = lv.from_torch(module)
    for name in data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)):
        value = data.draw(st.booleans() if name in ("ceil_mode", "count_include_pad")
                          else st.one_of(st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3))))
        try:
            setattr(layer, name, value)
        except ValueError:
            # refused at once: torch refuses it when it runs
            setattr(module, name, value)
            with pytest.raises((RuntimeError, ValueError)):
                module(torch.zeros(1, 2, 7, 7, dtype=torch.float64))
            return
        setattr(module, name, value)
    x = np.random.default_rng(0).standard_normal((1, 2, 7, 7))
    try:
        with torch.no_grad():
            expected = module(torch.from_numpy(x)).numpy()
    except RuntimeError:
        with pytest.raises(ValueError):
            layer(x)
        return
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make, setting, value, message", [
    (lambda: lv.MaxPool2d(2), "stride", 0, "stride must be >= 1, got 0"),
    (lambda: lv.Conv2d(1, 1, 3), "stride", "2", "stride must be an integer, got '2'"),
    (lambda: lv.Conv2d(1, 1, 3), "padding", "full",
     "padding must be 'same', 'valid', an int or a pair of ints, got 'full'"),
    (lambda: lv.Dropout(), "p", 1.5, "dropout probability p has to be between 0 and 1, but got 1.5"),
    (lambda: lv.BatchNorm2d(2), "eps", 0, "eps must be a number > 0, got 0"),
    (lambda: lv.BatchNorm2d(2), "momentum", 2, "momentum must be None or a number in [0, 1], got 2"),
    (lambda: lv.Softmax(), "dim", 1.0, "dim must be an integer or None, got 1.0"),
    (lambda: lv.RNN(1, 1), "nonlinearity", "sigmoid", "nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"),
    (lambda: lv.LSTM(1, 1), "dropout", -0.1, "dropout must be a number in [0, 1], got -0.1"),
    (lambda: lv.Dense(2, 2), "activation", "softmax", "activation must be one of"),
])
def test_a_bad_setting_is_refused_where_it_is_set(make, setting, value, message):
    layer = make()
    with pytest.raises(ValueError, match=re.escape(message)):
        setattr(layer, setting, value)


def test_the_brief_examples():
    pool = lv.MaxPool2d(2)
    with pytest.raises(ValueError, match=r"^stride must be >= 1, got 0$"):
        pool.stride = 0
    conv = lv.Conv2d(1, 1, 3, rng=0)
    conv.stride = 2  # torch accepts an int for a pair
    assert conv.stride == (2, 2)
    assert conv(np.zeros((1, 7, 7))).shape == (1, 3, 3)
    conv = lv.Conv2d(2, 2, 3, rng=0)
    conv.groups = 2  # torch: "Given groups=2, weight of size [2, 2, 3, 3], expected input ... to have 4 channels"
    with pytest.raises(ValueError, match=re.escape("weight must have shape (2, 1, 3, 3) for the layer's out_channels, "
                                                   "in_channels, groups and kernel_size, got shape (2, 2, 3, 3)")):
        conv(np.zeros((2, 5, 5)))
    conv.weight = np.ones((2, 1, 3, 3))  # the weight of the new settings: it runs
    assert conv(np.zeros((2, 5, 5))).shape == (2, 3, 3)


def test_a_pool_stride_set_to_none_follows_the_kernel_size():
    pool = lv.MaxPool2d(2, stride=1)
    pool.stride = None
    pool.kernel_size = 3
    module = torch.nn.MaxPool2d(2, stride=1)
    module.stride, module.kernel_size = None, 3
    x = np.random.default_rng(0).standard_normal((1, 9, 9))
    np.testing.assert_array_equal(pool(x), module(torch.from_numpy(x)).numpy())


def test_rnn_nonlinearity_set_later_changes_what_it_computes():
    rnn = lv.RNN(2, 3, rng=0)
    rnn.nonlinearity = "relu"
    relu = lv.RNN(2, 3, nonlinearity="relu", rng=0)
    x = np.random.default_rng(0).standard_normal((4, 2))
    np.testing.assert_array_equal(rnn(x)[0], relu(x)[0])
    assert repr(rnn) == repr(relu)


# -- 9. rng --------------------------------------------------------------------------------------

RNG_USERS = [
    lambda rng: lv.Linear(2, 2, rng=rng), lambda rng: lv.Dense(2, 2, rng=rng), lambda rng: lv.Conv2d(1, 1, 2, rng=rng),
    lambda rng: lv.Dropout(rng=rng), lambda rng: lv.RNN(1, 1, rng=rng), lambda rng: lv.LSTM(1, 1, rng=rng),
    lambda rng: lv.GRU(1, 1, rng=rng), lambda rng: mean_over_masks(np.ones(2), 0.5, 2, rng=rng),
]


@pytest.mark.parametrize("use", RNG_USERS)
@quick
@given(rng=st.one_of(st.text(max_size=4), st.floats(allow_nan=False), st.integers(max_value=-1), st.booleans(),
                     st.lists(st.integers(0, 3), max_size=2), st.just(np.random.RandomState(0))))
def test_rng_must_be_none_a_seed_or_a_generator(use, rng):
    with pytest.raises(ValueError, match=re.escape(f"rng must be None, an int seed >= 0 or a numpy.random.Generator, "
                                                   f"got {rng!r}")):
        use(rng)


@pytest.mark.parametrize("use", RNG_USERS)
def test_rng_accepts_a_seed_a_generator_and_none(use):
    for rng in (None, 0, np.int64(3), np.random.default_rng(1)):
        use(rng)
    generator = np.random.default_rng(5)
    assert lv.Dropout(rng=generator).rng is generator  # shared, not copied


# -- 10. Identity's arguments ----------------------------------------------------------------------


@quick
@given(args=st.lists(st.one_of(st.integers(), st.text(), st.none()), max_size=3),
       kwargs=st.dictionaries(st.from_regex(r"\A[a-z]{1,5}\Z"), st.integers(), max_size=3))
def test_identity_takes_and_ignores_any_argument_as_torch(args, kwargs):
    torch.nn.Identity(*args, **kwargs)
    layer = lv.Identity(*args, **kwargs)
    np.testing.assert_array_equal(layer(np.arange(3.0)), np.arange(3.0))
    assert repr(layer) == "Identity()"


# -- 11. from_torch's message for a module it cannot convert ---------------------------------------


def test_an_unsupported_module_is_named_first_with_its_place_and_what_to_do():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2),
                                torch.nn.Sequential(torch.nn.ReLU(), torch.nn.GroupNorm(1, 2)))
    with pytest.raises(ValueError) as info:
        lv.from_torch(model)
    message = str(info.value)
    assert message.startswith("torch.nn.GroupNorm at '1.1' in the model cannot be converted: layerviz has no "
                              "GroupNorm layer (not supported yet); replace it with one of the modules below")
    assert model.get_submodule("1.1").__class__.__name__ == "GroupNorm"  # the path is torch's
    assert message.index("Supported: torch.nn.AdaptiveAvgPool2d") > message.index("GroupNorm")


def test_named_children_give_the_path():
    from collections import OrderedDict

    model = torch.nn.Sequential(OrderedDict(features=torch.nn.Sequential(torch.nn.Conv3d(1, 1, 1))))
    with pytest.raises(ValueError, match=re.escape("torch.nn.Conv3d at 'features.0' in the model cannot be converted")):
        lv.from_torch(model)
    with pytest.raises(ValueError, match=re.escape("torch.nn.Conv3d cannot be converted: layerviz has no Conv3d")):
        lv.from_torch(torch.nn.Conv3d(1, 1, 1))


def test_a_sequential_holding_a_block_of_ones_own_becomes_a_graph():
    """torch runs ``nn.Sequential(Block(), nn.Linear(…))``; so does layerviz, as a Graph of its forward."""

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(3, 3)

        def forward(self, x):
            return torch.relu(self.linear(x)) + x

    torch.manual_seed(0)
    model = torch.nn.Sequential(Block(), torch.nn.Sequential(Block(), torch.nn.Linear(3, 2)))
    x = torch.randn(4, 3)
    graph = lv.from_torch(model, x)
    assert isinstance(graph, lv.Graph)
    assert [name for name, _ in graph.named_parameters()] == list(model.state_dict())
    np.testing.assert_allclose(graph(x.numpy()), model(x).detach().numpy(), rtol=1e-5, atol=1e-6)
    # a torch.nn layer layerviz has no counterpart for is still refused, named by where it sits
    with pytest.raises(ValueError, match="Conv3d"):
        lv.from_torch(torch.nn.Sequential(Block(), torch.nn.Conv3d(1, 1, 1)))
