"""from_torch: a torch.nn.Conv2d becomes a layerviz Conv2d with the same arguments and a copy of its weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import layerviz
from layerviz import Conv2d, from_torch

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((1, 1, 3), {}),
        ((3, 8, (2, 5)), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 3))),
        ((4, 6, 3), dict(groups=2, bias=False)),
        ((2, 2, 4), dict(padding="same", padding_mode="reflect", dilation=2)),
        ((2, 4, 3), dict(padding="valid", padding_mode="circular", stride=3)),
        ((6, 6, 1), dict(groups=6, padding=2, padding_mode="replicate")),
        ((3, 3, (3, 2)), dict(padding="same", bias=False)),
    ],
)
@pytest.mark.parametrize("double", [False, True])
def test_from_torch_copies_every_argument_and_the_weights(args, kwargs, double):
    torch.manual_seed(0)
    module = torch.nn.Conv2d(*args, **kwargs)
    if double:
        module = module.double()
    conv = from_torch(module)
    assert isinstance(conv, Conv2d)

    in_channels, out_channels, kernel_size = args
    padding = kwargs.get("padding", 0)
    assert conv.in_channels == in_channels
    assert conv.out_channels == out_channels
    assert conv.kernel_size == _pair(kernel_size)
    assert conv.stride == _pair(kwargs.get("stride", 1))
    assert conv.padding == (padding if isinstance(padding, str) else _pair(padding))
    assert conv.dilation == _pair(kwargs.get("dilation", 1))
    assert conv.groups == kwargs.get("groups", 1)
    assert conv.padding_mode == kwargs.get("padding_mode", "zeros")

    assert conv.weight.dtype == np.float64
    assert conv.weight.shape == tuple(module.weight.shape)
    np.testing.assert_array_equal(conv.weight, module.weight.detach().double().numpy())
    if kwargs.get("bias", True):
        assert conv.bias.dtype == np.float64
        np.testing.assert_array_equal(conv.bias, module.bias.detach().double().numpy())
    else:
        assert conv.bias is None

    # and the layer computes what the module computes
    h = w = 9
    x = np.random.default_rng(0).standard_normal((2, in_channels, h, w))
    with torch.no_grad():
        expected = module.double()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(conv(x), expected, rtol=1e-10, atol=1e-12)


def test_from_torch_float32_weights_are_the_same_numbers():
    module = torch.nn.Conv2d(2, 3, 3)
    conv = from_torch(module)
    np.testing.assert_array_equal(conv.weight.astype(np.float32), module.weight.detach().numpy())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_from_torch_weights_are_independent_of_the_module(dtype):
    module = torch.nn.Conv2d(2, 3, 3).to(dtype)
    conv = from_torch(module)
    before_w, before_b = conv.weight.copy(), conv.bias.copy()
    with torch.no_grad():
        module.weight.add_(1.0)
        module.bias.add_(1.0)
    np.testing.assert_array_equal(conv.weight, before_w)
    np.testing.assert_array_equal(conv.bias, before_b)


def test_from_torch_is_exported_at_top_level():
    assert layerviz.from_torch is from_torch


@pytest.mark.parametrize(
    "module, name",
    [
        (torch.nn.SiLU(), "SiLU"),
        (torch.nn.Conv1d(1, 1, 3), "Conv1d"),
        (torch.nn.ConvTranspose2d(1, 1, 3), "ConvTranspose2d"),
        (torch.nn.Bilinear(2, 2, 3), "Bilinear"),
        (torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3), torch.nn.GroupNorm(1, 2)), "GroupNorm"),
        (object(), "object"),
        ("Conv2d", "str"),
        (None, "NoneType"),
    ],
)
def test_from_torch_unsupported_raises_naming_it(module, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        from_torch(module)


def test_from_torch_refuses_a_lookalike_that_is_not_torch():
    class Conv2d:  # same name, not torch's
        in_channels = out_channels = 1
        kernel_size = (1, 1)

    with pytest.raises(ValueError):
        from_torch(Conv2d())


def test_from_torch_refuses_a_layerviz_layer():
    with pytest.raises(ValueError):
        from_torch(Conv2d(1, 1, 3))


@pytest.mark.parametrize(
    "module",
    [
        torch.nn.MaxPool2d(3, stride=2, padding=1),
        torch.nn.MaxPool2d((2, 3), dilation=2, ceil_mode=True),
        torch.nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        torch.nn.AvgPool2d(2, ceil_mode=True, divisor_override=3),
        torch.nn.AdaptiveAvgPool2d((3, 2)),
        torch.nn.Dropout(0.3).eval(),
        torch.nn.BatchNorm2d(3, momentum=0.3).eval(),
    ],
    ids=repr,
)
def test_from_torch_finds_every_registered_layer(module):
    module = module.double()
    layer = from_torch(module)
    assert type(layer).__name__ == type(module).__name__
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 8))
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-12)
