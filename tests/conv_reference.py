"""Convolution facts written out from torch's documentation, independently of layerviz."""

MODES = ("zeros", "reflect", "replicate", "circular")


def pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def expected_pads(kernel_size, dilation, padding):
    """(top, bottom, left, right) as torch pads: 'same' puts the odd cell at the bottom/right."""
    (kh, kw), (dh, dw) = pair(kernel_size), pair(dilation)
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        th, tw = dh * (kh - 1), dw * (kw - 1)
        return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
    ph, pw = pair(padding)
    return (ph, ph, pw, pw)
