"""Redo a narration's arithmetic from the numbers it shows, as a student with a calculator would.

A narration is steps (``"; "``, ``": "``) of chained segments: ``label = expression = … = result``.
Every segment that is arithmetic on shown numbers (no symbol such as ``W_ih·x[0]``, no "…") is evaluated
and must round, at the decimals shown, to the step's last number. Two consecutive segments that differ by
one part (``σ([0.41] + [-0.37]) = σ([0.04])``, ``(0.50 − 0.20) / √(0.30 + 1e-05) × 1.00 = 0.55 × 1.00``)
compare that part too: an intermediate result shown must be what its operands, as shown, give. A step's
label (``z[1]``) names its result for the steps after it (``a[1] = relu(z[1]) = ?``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

#: Notes after a result, not arithmetic.
_NOTES = re.compile(r"\s+\((?:padding|window cut|divisor_override|largest of|the dilated|eval:|num_batches_tracked|"
                    r"teaching override)[^()]*(?:\([^()]*\)[^()]*)*\)")
#: Labels of terms: "(bias)", "(channel 2)", "(sum of 27 products)".
_TERM_LABELS = re.compile(r"\s*\((?:bias|channel \d+|sum of \d+ products)\)")
_NUMBER = r"-?\d+(?:\.\d+)?"
#: The inside of a shown vector: numbers, and -inf (a masked attention score).
_VECTOR = re.compile(r"(?:[\d\s,.\-e]|inf)*")
_NAME = re.compile(r"^[a-z_]+(?:\[[\d,:]+\])?$")


class _Pad:
    """A padding cell: nothing in a sum, never the maximum."""

    def __add__(self, other):
        return other

    __radd__ = __add__


PAD = _Pad()


def _max(*values):
    return max(v for v in values if v is not PAD)


def _sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


_phi = np.vectorize(lambda v: math.exp(-v * v / 2) / math.sqrt(2 * math.pi))
_cdf = np.vectorize(lambda v: 0.5 * (1 + math.erf(v / math.sqrt(2))))
_gelu_tanh = np.vectorize(lambda v: 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3))))


def _dgelu_tanh(v):
    v = np.asarray(v, dtype=np.float64)
    t = np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3))
    return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * v * v)


#: GELU's: Φ and φ (the standard normal's distribution and density), gelu, gelu_tanh and its derivative.
_GELU = {"Phi": _cdf, "phi": _phi, "gelu": lambda v: v * _cdf(v), "gelu_tanh": _gelu_tanh, "dgelu_tanh": _dgelu_tanh}


def _softmax(v):
    """Torch's safe softmax of a row: a row masked everywhere (all -inf) gives zeros, not NaN."""
    v = np.asarray(v, dtype=np.float64)
    if not np.isfinite(v).any():
        return np.zeros_like(v)
    e = np.exp(v - v[np.isfinite(v)].max())
    return e / e.sum()


_FUNCTIONS = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, "sig": _sigmoid, "sigmoid": _sigmoid, "tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0),
              "identity": lambda v: v, "maxf": _max, "PAD": PAD, "arr": lambda *v: np.array(v, dtype=np.float64), **_GELU}
#: Attention's: its rows' safe softmax, and -inf, the score of a masked pair.
_FUNCTIONS.update(softmax=_softmax, inf=math.inf)


def decimals(text: str) -> int:
    return len(text.partition(".")[2]) if "e" not in text else 0


def literal(text: str):
    """``(values, decimals)`` of a shown number or vector (``0.50``, ``(-0.50)``, ``× 2.00``, ``[0.1, 0.20]``); None
    for anything else, or a vector cut short with "…"."""
    text = text.strip()
    if text.startswith("× "):
        text = text[2:]
    match = re.fullmatch(r"\(?(" + _NUMBER + r")\)?", text)
    if match:
        return np.array([float(match.group(1))]), np.array([decimals(match.group(1))])
    match = re.fullmatch(r"\[(.*)\]", text)
    if match and "…" not in text:
        entries = [e.strip() for e in match.group(1).split(",")]
        if all(re.fullmatch(_NUMBER, e) for e in entries):
            return np.array([float(e) for e in entries]), np.array([decimals(e) for e in entries])
    return None


def to_python(text: str, names: dict[str, str]) -> str | None:
    """The segment as a Python expression over numpy, or None if it is not arithmetic on shown numbers."""
    if "…" in text or "·" in text:
        return None
    for name, variable in names.items():
        text = text.replace(name, variable)
    text = _TERM_LABELS.sub("", text)
    text = re.sub(r"\[([^\[\]]*)\]", lambda m: f"arr({m.group(1)})" if _VECTOR.fullmatch(m.group(1)) else m.group(0),
                  text)
    for a, b in (("×", "*"), ("⊙", "*"), ("−", "-"), ("²", "**2"), ("√(", "sqrt("), ("σ(", "sig("), ("e^", "exp"),
                 ("pad", "PAD"), ("Φ(", "Phi("), ("φ(", "phi("),
                 ("gelu_tanh′(", "dgelu_tanh(")):
        text = text.replace(a, b)
    text = re.sub(r"(?<!\w)max\(", "maxf(", text)  # not softmax(
    words = set(re.findall(r"[A-Za-z_]\w*", text)) - {"e"}
    if not words <= set(_FUNCTIONS) | set(names.values()) or "[" in text:
        return None
    return text


def evaluate(text: str, names: dict[str, str], env: dict) -> object | None:
    code = to_python(text, names)
    if code is None:
        return None
    try:
        value = eval(code, {"__builtins__": {}}, {**_FUNCTIONS, **env})  # noqa: S307 - our own narrations
    except (SyntaxError, NameError, TypeError, ValueError, ZeroDivisionError):
        return None
    value = np.asarray(value, dtype=np.float64)
    return value if value.ndim else value.reshape(1)


@dataclass
class Redone:
    """What redoing a narration compared: ``(segment, shown)`` pairs, the results shown by label."""

    compared: list = field(default_factory=list)
    results: dict = field(default_factory=dict)


def rounds_to(value: np.ndarray, shown) -> bool:
    """``value`` rounds, at each shown number's decimals, to it, unambiguously (no tie)."""
    values, places = shown
    value = np.broadcast_to(value, values.shape) if value.size == 1 else value
    if value.shape != values.shape:
        return False
    half = 0.5 * 10.0 ** -places.astype(np.float64)
    return bool(np.all(np.abs(value - values) < half * (1 - 1e-9)))


def steps(narration: str) -> list[str]:
    text = _NOTES.sub("", narration)
    text = re.sub(r", forced to .*$", "", text)
    text = text.replace("e.g. ", "").replace("   ·   average ", "; ").replace(": average ", ": ")
    return [s for part in text.split("; ") for s in part.split(": ")]


def redo(narration: str) -> Redone:
    """Redo every step of ``narration``; AssertionError naming the segment that does not give what is shown."""
    done = Redone()
    names: dict[str, str] = {}
    env: dict = {}
    unbiased = re.search(r"\s+\(unbiased: (.*)\)$", narration)
    if unbiased:
        narration = narration[: unbiased.start()]
    for step in steps(narration) + ([unbiased.group(1)] if unbiased else []):
        segments = step.split(" = ")
        shown = literal(segments[-1])
        if shown is None:
            continue
        values = [evaluate(s, names, env) for s in segments[:-1]]
        for segment, value in zip(segments[:-1], values):
            if value is not None:
                assert rounds_to(value, shown), f"{segment!r} gives {value}, shown {segments[-1]!r} in {narration!r}"
                done.compared.append((segment, segments[-1]))
        # an intermediate result shown in the next segment: f(X) = f(L), or X op S = L op S
        for a, b in zip(segments[:-2], segments[1:-1]):
            inner = _differing_part(a, b)
            if inner is not None:
                x, lit = inner
                value = evaluate(x, names, env)
                if value is not None:
                    assert rounds_to(value, lit), f"{x!r} gives {value}, shown {b!r} in {narration!r}"
                    done.compared.append((x, b))
        label = segments[0].strip()
        if _NAME.match(label):
            variable = f"v{len(names)}"
            names[label] = variable
            env[variable] = shown[0] if shown[0].size > 1 else float(shown[0][0])
            done.results[label] = segments[-1]
    return done


def _differing_part(a: str, b: str):
    """``(X, literal L)`` when segment ``b`` is segment ``a`` with its part ``X`` replaced by a shown number ``L``."""
    for function in ("σ", "tanh", "relu", "sigmoid", "identity"):
        if a.startswith(function + "(") and b.startswith(function + "(") and a.endswith(")") and b.endswith(")"):
            shown = literal(b[len(function) + 1 : -1])
            return (a[len(function) + 1 : -1], shown) if shown is not None else None
    for match in re.finditer(r" [×/+] ", b):
        head, tail = b[: match.start()], b[match.start():]
        shown = literal(head)
        if shown is not None and a.endswith(tail) and len(a) > len(tail):
            return a[: -len(tail)], shown
    match = re.match(r"^(\(?-?\d+\.\d+\)? × )(.*)$", b)
    if match and a.startswith(match.group(1)) and len(a) > len(match.group(1)):  # S × X = S × L (GELU's x × Φ(x))
        shown = literal(match.group(2))
        if shown is not None:
            return a[len(match.group(1)):], shown
    return None


def answer_of(prompt: str):
    """The answer a student works out from a question's prompt (``"… = ?"``): every number it needs is in it."""
    assert prompt.endswith("?") or " = ?" in prompt, prompt
    text = re.sub(r"\s+\(unbiased: .*\)$", "", _NOTES.sub("", prompt))
    assert text.rstrip().endswith("= ?"), prompt
    text = text.rstrip()[: -len("= ?")].rstrip()
    names: dict[str, str] = {}
    env: dict = {}
    value = None
    for step in steps(text):
        segments = step.split(" = ")
        values = [evaluate(s, names, env) for s in segments]
        value = next((v for v in reversed(values) if v is not None), None)
        label = segments[0].strip()
        if _NAME.match(label) and value is not None:
            variable = f"v{len(names)}"
            names[label] = variable
            env[variable] = value if value.size > 1 else float(value[0])
    assert value is not None, f"nothing to compute from in {prompt!r}"
    return value


def is_tie(value: float, places: int) -> bool:
    scaled = abs(value) * 10**places
    return math.isclose(scaled - math.floor(scaled), 0.5, abs_tol=1e-9)
