"""Build layerviz layers from torch.nn modules, weights included; any model of one's own as a :class:`~layerviz.Graph`.

torch is imported only by the caller: this module reads the module's attributes and never needs torch
installed to be imported (it reaches torch through the module given). Each layer class that has a torch twin of
the same name converts it in its ``_from_torch`` classmethod.

A model of one's own (an ``nn.Module`` subclass with its ``forward``) is captured with ``torch.fx``: its
forward is run once on stand-ins ("proxies") that record every call, giving the graph of its calls. The
modules it calls are ``call_module`` nodes named as in ``state_dict`` (``layer1.0.conv1``), each converted by
its ``_from_torch``; the functions and tensor methods a beginner's forward uses become graph operations (see
:data:`SUPPORTED`).

Why ``torch.fx`` rather than ``torch.export`` (torch 2.13): export lowers the model to ATen operators
(``aten.conv2d``, ``aten.lstm.input`` with its weights as separate inputs), keeps the modules only as metadata,
and fixes every size to the example input's (``view(3, 1, -1)`` for a 3-word sentence); fx keeps the modules,
with their names, so that the existing converters and torch's ``state_dict`` keys apply as they are, and records
``x.size(0)`` and ``x.shape`` as operations computed at run time. fx refuses ``len(x)``; layerviz records it too
(as ``torch.fx.wrap('len')`` at the top of the model's file would), so the tutorial's
``embeds.view(len(sentence), 1, -1)`` works for sentences of any length.
"""

from __future__ import annotations

import functools
import inspect
import operator
import os
import re
import sys
import traceback
from typing import Any, NamedTuple

import numpy as np

from layerviz import layers, losses
from layerviz.graph.model import Graph
from layerviz.graph.nodes import Item, Node, Ref, refs, resolve, value_shape
from layerviz.graph.ops.add import Add
from layerviz.graph.ops.cat import Cat
from layerviz.graph.ops.index import Index
from layerviz.graph.ops.log_softmax import LogSoftmax
from layerviz.graph.ops.mean import Mean
from layerviz.graph.ops.reshape import Permute, Reshape


def _converters() -> dict[str, Any]:
    classes = (*layers.LAYERS, layers.Embedding, layers.MultiheadAttention, losses.MSELoss, losses.CrossEntropyLoss)
    return {cls.__name__: cls for cls in classes if hasattr(cls, "_from_torch")}


class ConversionError(ValueError):
    """A module that cannot be converted, with its place in the model already named (not wrapped again)."""


#: What a forward may call besides torch.nn modules, as the error messages list it.
SUPPORTED = (
    "F.relu, F.sigmoid, F.tanh, F.softmax, F.log_softmax, F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, "
    "F.dropout, torch.relu, torch.sigmoid, torch.tanh, torch.softmax, torch.log_softmax, torch.flatten, "
    "torch.cat, torch.add, torch.mean, torch.reshape, torch.squeeze, torch.unsqueeze, torch.permute, "
    "torch.transpose; a + b (two tensors of one shape, or a tensor and a number); the tensor methods x.relu, "
    "x.sigmoid, x.tanh, x.softmax, x.log_softmax, x.view, x.reshape, x.flatten, x.squeeze, x.unsqueeze, "
    "x.permute, x.transpose, x.mean, x.add, x.contiguous, x.float, x.double; x[...] with ints and slices; "
    "an item of a layer's tuple output (lstm_out, _ = self.lstm(x)); x.size(), x.shape, x.dim(), len(x) and "
    "arithmetic on those numbers"
)


def from_torch(module: Any, example_input: Any = None):
    """Return the layerviz layer equal to a ``torch.nn`` module or model, with a copy of its weights.

    Parameters
    ----------
    module : torch.nn.Module
        A ``torch.nn`` layer layerviz knows (``nn.Conv2d``, ``nn.LSTM``, ``nn.Embedding``…) gives that layer; an
        ``nn.Sequential`` of them a :class:`~layerviz.Sequential`; any model of one's own (an ``nn.Module`` subclass
        with its ``forward``, residual connections and branches included, holding ``nn.Sequential`` of its own blocks
        or not) a :class:`~layerviz.Graph` of its forward, captured with ``torch.fx`` (see the module docstring).
    example_input : tensor, array or tuple of them, optional
        An input of the model (a tuple for a forward of several arguments). When given, the converted layer is run
        on it and must give the model's output (both in float64, on copies: neither the model nor the layer
        changes; skipped when dropout is active); a graph records each node's output shape in ``graph.shapes``.
        Shapes are otherwise computed at run time: ``x.view(x.size(0), -1)`` and ``len(x)`` need no example.

    Returns
    -------
    a layerviz layer, :class:`~layerviz.Sequential` or :class:`~layerviz.Graph`
        Each layer's ``training`` flag is the module's (``model.eval()`` before converting gives layers in eval
        mode). A graph's :meth:`~layerviz.Graph.named_parameters` are torch's ``state_dict`` names.

    Raises
    ------
    ValueError
        Naming first a module layerviz cannot convert, and where it sits in the model (``'features.3'``, the name
        ``model.get_submodule`` takes), then what to do, then the modules it can convert. For a graph: the node
        (``'sort'``), the operation (``torch.sort(x, dim=1)``), the line of the forward that calls it, and what is
        supported; a forward with ``if``/``for``/``while`` on a tensor is refused naming its line.
    """
    if _is_torch_module(module) and not _converts_directly(module):
        layer = _capture(module)
    else:
        layer = _convert(module, "")
    if example_input is not None:
        _check_example(layer, module, example_input)
    return layer


def _convert(module: Any, path: str):
    """:func:`from_torch` of ``module``, found at ``path`` in the model (``''``: the model itself)."""
    kind, name = type(module), type(module).__name__
    converters = _converters()
    if kind.__module__.startswith("torch.nn") and name in converters:
        cls = converters[name]
        try:
            layer = (cls._from_torch(module, convert=_convert, path=path) if cls is layers.Sequential
                     else cls._from_torch(module))
        except ConversionError:
            raise
        except ValueError as error:
            if not path:
                raise
            raise ConversionError(f"torch.nn.{name} at {path!r} in the model cannot be converted: {error}") from error
        layer.training = bool(module.training)
        return layer
    where = f" at {path!r} in the model" if path else ""
    supported = ", ".join(f"torch.nn.{n}" for n in sorted(converters))
    if kind.__module__.startswith("torch.nn"):
        what, advice = f"torch.nn.{name}", (f"layerviz has no {name} layer (not supported yet); replace it with one "
                                           "of the modules below, or convert the layers around it one by one")
    elif path:
        what, advice = (f"{kind.__module__}.{kind.__qualname__}",
                        "it is not a torch.nn layer; a torch.nn.Sequential converts layer by layer to a layerviz "
                        "Sequential, of torch.nn layers only: convert a model of your own that calls it in its forward "
                        "(it becomes a layerviz Graph), or convert its layers one by one")
    else:
        what, advice = (f"{kind.__module__}.{kind.__qualname__}",
                        "it is not a torch.nn layer nor a torch.nn.Module model; layerviz converts torch.nn layers, "
                        "torch.nn.Sequential models made of them, and any torch.nn.Module model (as a Graph of its "
                        "forward): pass a torch model, or convert its layers one by one")
    raise ConversionError(f"{what}{where} cannot be converted: {advice}. Supported: {supported}")


def _is_torch_module(module: Any) -> bool:
    nn = sys.modules.get("torch.nn")
    return nn is not None and isinstance(module, nn.Module)


def _is_torch_class(module: Any) -> bool:
    return type(module).__module__.startswith("torch.nn")


def _converts_directly(module: Any) -> bool:
    """True for a torch.nn class: :func:`_convert` converts it (a Sequential to a :class:`~layerviz.Sequential`) or
    refuses it. A model of one's own, and an ``nn.Sequential`` holding a block of one's own (torch runs it, so
    layerviz does too), become a Graph."""
    if not _is_torch_class(module):
        return False
    if type(module).__name__ == "Sequential":
        return all(_converts_directly(child) for child in module.children())
    return True


# -- capturing a forward ------------------------------------------------------------------------------


class _ControlFlow(Exception):
    """Raised by the tracer when the forward branches or loops on a traced value."""

    def __init__(self, node: Any, what: str) -> None:
        super().__init__(what)
        self.node = node
        self.what = what


@functools.lru_cache(maxsize=1)
def _tracer_class():
    import torch.fx

    class Tracer(torch.fx.Tracer):
        """torch.fx's tracer, recording each node's line of the forward and naming the node a forward branches on.

        The line is read from the calling frames (torch's ``record_stack_traces`` would import torch._inductor,
        seconds at the first conversion)."""

        def create_node(self, *args, **kwargs):
            node = super().create_node(*args, **kwargs)
            node.meta["layerviz_line"] = _caller_line()
            return node

        def to_bool(self, obj):
            raise _ControlFlow(obj.node, "an if (or while, and, or, not) on")

        def iter(self, obj):
            raise _ControlFlow(obj.node, "a for loop over")

    return Tracer


@functools.lru_cache(maxsize=1)
def _torch_dirs() -> tuple[str, ...]:
    import torch

    here = os.path.dirname(os.path.abspath(__file__))
    return (os.path.dirname(os.path.abspath(torch.__file__)) + os.sep, here + os.sep)


def _frame_text(filename: str, lineno: int | str, func: str, source: str) -> str:
    """``model.py, line 14, in forward (`x = self.pool(F.relu(self.conv1(x)))`)``."""
    code = f" (`{source.strip()}`)" if source.strip() else ""
    return f"{os.path.basename(filename)}, line {lineno}, in {func}{code}"


_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>[^\n]+)\n(?P<source>[^\n]*)')


def _caller_line() -> str:
    """The innermost frame of the user's code (outside torch and layerviz) calling now, as :func:`_frame_text`."""
    import linecache

    skip = _torch_dirs()
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(skip) and not filename.startswith("<frozen"):
            return _frame_text(filename, frame.f_lineno, frame.f_code.co_name,
                               linecache.getline(filename, frame.f_lineno, frame.f_globals))
        frame = frame.f_back
    return ""


def _node_line(node: Any) -> str:
    """The line of the user's forward that made an fx node (the innermost frame outside torch), or ''."""
    if node.meta.get("layerviz_line"):
        return node.meta["layerviz_line"]
    text = getattr(node, "stack_trace", None) or node.meta.get("stack_trace") or ""
    skip = _torch_dirs()
    found = [m for m in _FRAME.finditer(text) if not os.path.abspath(m["file"]).startswith(skip)]
    if not found:
        return ""
    m = found[-1]
    return _frame_text(m["file"], m["line"], m["func"].strip(), m["source"])


def _error_line(error: BaseException) -> str:
    """The innermost frame of the user's code in an error's traceback, or ''."""
    skip = _torch_dirs()
    frames = [f for f in traceback.extract_tb(error.__traceback__) if not os.path.abspath(f.filename).startswith(skip)]
    if not frames:
        return ""
    f = frames[-1]
    return _frame_text(f.filename, f.lineno, f.name, f.line or "")


def _model_name(module: Any) -> str:
    return type(module).__qualname__


def _trace(module: Any):
    """The fx graph of ``module``'s forward, ``len`` recorded; arguments with defaults fixed at their defaults."""
    import torch.fx._symbolic_trace as fx_trace

    try:
        signature = inspect.signature(module.forward)
    except (TypeError, ValueError):
        signature = None
    concrete = {}
    if signature is not None:
        for p in signature.parameters.values():
            if p.default is not inspect.Parameter.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                concrete[p.name] = p.default
    # len(proxy) becomes a graph node (as torch.fx.wrap('len') at the top of the user's file would make it)
    patch = getattr(fx_trace, "_wrapped_fns_to_patch", None)
    added = []
    if isinstance(patch, dict):
        for sub in module.modules():
            if _is_torch_class(sub):
                continue
            found = getattr(getattr(type(sub), "forward", None), "__globals__", None)
            if isinstance(found, dict) and (id(found), "len") not in patch:
                patch[(id(found), "len")] = found
                added.append((id(found), "len"))
    tracer = _tracer_class()()
    try:
        graph = tracer.trace(module, concrete_args=concrete or None)
    finally:
        for key in added:
            patch.pop(key, None)
    return graph, concrete


def _capture(module: Any):
    """The :class:`~layerviz.Graph` of a model's forward (see :func:`from_torch`)."""
    model = _model_name(module)
    try:
        fx_graph, concrete = _trace(module)
    except _ControlFlow as error:
        line = _error_line(error)
        node = error.node
        raise ConversionError(
            f"{model} cannot be converted: its forward uses {error.what} a value computed from the input, node "
            f"{node.name!r} ({_fx_code(node)})" + (f", at {line}" if line else "") + ": torch.fx records the "
            "operations of a forward, not which way an if or a loop on a tensor goes. Write the forward without "
            "if/for/while on tensors or on their sizes (an if on self.training or on a setting is fine), or convert "
            "its layers one by one") from None
    except ConversionError:
        raise
    except Exception as error:  # torch.fx could not follow the forward
        line = _error_line(error)
        hint = ""
        if "Proxy" in str(error):
            hint = (" (a loop over range(len(x)) or range(x.size(0)), or an int() of a size, depends on the input: "
                    "its value is not known while the forward is recorded)")
        raise ConversionError(
            f"{model} cannot be converted: torch.fx could not follow its forward" + (f" at {line}" if line else "")
            + f": {type(error).__name__}: {error}{hint}. layerviz follows forwards made of torch.nn modules and "
            f"{SUPPORTED}") from None
    return _build(module, fx_graph, concrete)


# -- fx nodes to graph nodes --------------------------------------------------------------------------


class _Unsupported(Exception):
    """A node that cannot be converted, and why."""


class _Made(NamedTuple):
    kind: str  # "layer", "value" or "item"
    op: Any
    args: tuple
    grad_args: tuple = ()
    sort: Any = "tensor"  # of the output: "tensor", "value", or a tuple of sorts


_ASSERTS = ("_assert_is_none", "_assert", "_assert_async")


def _build(module: Any, fx_graph: Any, concrete: dict):
    from torch.fx import Node as FxNode

    model = _model_name(module)
    nodes: list = []
    sorts: dict[str, Any] = {}
    constants: dict[str, Any] = {}
    cache: dict[str, Any] = {}
    dead = set()
    for n in reversed(list(fx_graph.nodes)):  # the checks fx adds for arguments fixed at their defaults
        if n.op == "call_function" and getattr(n.target, "__name__", "") in _ASSERTS:
            dead.add(n)
        elif n.op != "output" and n.users and all(u in dead for u in n.users):
            dead.add(n)
    output = None

    def arg(a: Any) -> Any:
        if isinstance(a, FxNode):
            if a.name in constants:
                return constants[a.name]
            return Ref(a.name)
        if isinstance(a, (tuple, list)):
            items = [arg(x) for x in a]
            return items if isinstance(a, list) and type(a) is list else tuple(items)
        if isinstance(a, slice):
            return slice(arg(a.start), arg(a.stop), arg(a.step))
        if isinstance(a, dict):
            return {k: arg(v) for k, v in a.items()}
        return a

    for n in fx_graph.nodes:
        if n in dead:
            continue
        if n.op == "placeholder":
            if n.target in concrete:
                constants[n.name] = concrete[n.target]
                continue
            nodes.append(Node(n.name, "input", code=f"{n.name}: input"))
            sorts[n.name] = "tensor"
            continue
        if n.op == "output":
            output = arg(n.args[0])
            continue
        line = _node_line(n)
        code = _fx_code(n)
        try:
            args = tuple(arg(a) for a in n.args)
            kwargs = {k: arg(v) for k, v in n.kwargs.items()}
            if n.op == "call_module":
                made, module_path = _call_module(module, n.target, args, kwargs, sorts, cache), n.target
            else:
                made, module_path = _call(n, args, kwargs, sorts), ""
        except ConversionError as error:
            raise ConversionError(f"{model}: node {n.name!r} ({code})" + (f", at {line}" if line else "")
                                  + f": {error}") from None
        except (_Unsupported, ValueError, TypeError) as error:
            raise ConversionError(
                f"{model} cannot be converted: node {n.name!r} ({code})" + (f", at {line}" if line else "")
                + f": {error}. Supported in a forward: {SUPPORTED}; and the modules "
                + ", ".join(f"torch.nn.{c}" for c in sorted(_converters())) + " (as self.name(x))") from None
        if made.kind == "item":
            op = Item(made.op)
        else:
            op = made.op
        nodes.append(Node(n.name, made.kind, op, made.args, made.grad_args, module_path, code, line))
        sorts[n.name] = made.sort
    graph = Graph(nodes, output, parameter_order=list(module.state_dict().keys()))
    graph.training = bool(module.training)
    return graph


def _fx_code(n: Any) -> str:
    """An fx node as a line of Python: ``relu = F.relu(conv1)``, ``add = bn2 + downsample_1``."""
    def text(a):
        if hasattr(a, "op") and hasattr(a, "name") and hasattr(a, "users"):
            return a.name
        if isinstance(a, (tuple, list)):
            inner = ", ".join(text(x) for x in a)
            return f"[{inner}]" if isinstance(a, list) else f"({inner}{',' if len(a) == 1 else ''})"
        if isinstance(a, slice):
            parts = [("" if v is None else text(v)) for v in (a.start, a.stop)]
            return ":".join(parts) + (f":{text(a.step)}" if a.step is not None else "")
        return repr(a)

    defaults = _defaults(n)
    kwargs = {k: v for k, v in n.kwargs.items()
              if not k.startswith("_") and not (k in defaults and _same(defaults[k], v))}
    args = [text(a) for a in n.args] + [f"{k}={text(v)}" for k, v in kwargs.items()]
    if n.op == "call_module":
        return f"{n.name} = self.{n.target}({', '.join(args)})"
    if n.op == "call_method":
        return f"{n.name} = {args[0]}.{n.target}({', '.join(args[1:])})"
    if n.op == "get_attr":
        return f"{n.name} = self.{n.target}"
    if n.op == "call_function":
        symbol = _OPERATORS.get(n.target)
        if symbol and len(n.args) == 2 and not n.kwargs:
            return f"{n.name} = {args[0]} {symbol} {args[1]}"
        if n.target is operator.getitem and len(n.args) == 2:
            key = n.args[1]
            inner = ", ".join(text(k) for k in key) if isinstance(key, tuple) else text(key)
            return f"{n.name} = {args[0]}[{inner}]"
        return f"{n.name} = {_function_name(n.target)}({', '.join(args)})"
    return f"{n.name} = {n.op} {n.target}"


def _defaults(n: Any) -> dict[str, Any]:
    """The default values of the parameters of the function an fx node calls (layerviz's maker's, as torch's)."""
    try:
        functions, methods = _tables()
        f = functions.get(n.target) if n.op == "call_function" else methods.get(n.target) if n.op == "call_method" \
            else None
        f = f or (n.target if callable(n.target) else None)
        params = inspect.signature(f).parameters.values() if f is not None else ()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001
        return False


_OPERATORS = {operator.add: "+", operator.iadd: "+=", operator.sub: "-", operator.mul: "*", operator.truediv: "/",
              operator.floordiv: "//", operator.matmul: "@", operator.pow: "**", operator.mod: "%",
              operator.gt: ">", operator.lt: "<", operator.ge: ">=", operator.le: "<=", operator.eq: "==",
              operator.ne: "!="}


def _function_name(f: Any) -> str:
    """``F.relu``, ``torch.cat``, ``len``, ``operator.neg``."""
    name = getattr(f, "__name__", repr(f))
    module = getattr(f, "__module__", None) or ""
    if module.startswith("torch.nn.functional") or module == "torch._C._nn":
        return f"F.{name}"
    if module.startswith("torch") or module == "":
        return f"torch.{name}" if name != "len" else name
    if module in ("builtins", "_operator", "operator"):
        return name if module == "builtins" else f"operator.{name}"
    return f"{module}.{name}"


# -- modules ------------------------------------------------------------------------------------------


def _tuple_sort(layer: Any) -> Any:
    found = getattr(layer, "_tuple_output", None)
    what = found() if callable(found) else None
    if not what:
        return "tensor"
    if getattr(layer, "mode", "") == "LSTM":
        return ("tensor", ("tensor", "tensor"))
    return ("tensor", "tensor")


def _call_module(module: Any, target: str, args: tuple, kwargs: dict, sorts: dict, cache: dict) -> _Made:
    if target not in cache:
        cache[target] = _convert(module.get_submodule(target), target)
    layer = cache[target]
    extra = args[1:] + tuple(kwargs.values())
    if extra and any(a is not None for a in extra):
        if hasattr(layer, "mode"):
            raise _Unsupported(f"passing a state to self.{target} is not supported: call it on the input alone (its "
                               "state then starts at zeros), as the sequence-models tutorial's tagger does")
        raise _Unsupported(f"self.{target} takes one tensor, got {len(args) + len(kwargs)} arguments")
    if not args:
        raise _Unsupported(f"self.{target} needs its input tensor")
    _need_tensor(args[0], sorts, f"self.{target}")
    return _Made("layer", layer, (args[0],), (0,), _tuple_sort(layer))


# -- functions and methods ----------------------------------------------------------------------------


def _sort_of(a: Any, sorts: dict) -> Any:
    if isinstance(a, Ref):
        return sorts.get(a.name, "value")
    if isinstance(a, (tuple, list)) and any(_sort_of(x, sorts) == "tensor" for x in a):
        return "mixed"
    return "value"


def _need_tensor(a: Any, sorts: dict, what: str) -> None:
    if _sort_of(a, sorts) != "tensor":
        raise _Unsupported(f"{what} needs a tensor computed by the forward, got {a!r}")


def _const(name: str, value: Any) -> Any:
    if refs(value):
        raise _Unsupported(f"{name} computed at run time ({value!r}) is not supported: give it as a number")
    return value


def _layer(op: Any, *args: Any, grads: tuple = (0,), sort: Any = "tensor") -> _Made:
    return _Made("layer", op, args, grads, sort)


def _relu(input, inplace=False):
    return _layer(layers.ReLU(), input)


def _sigmoid(input):
    return _layer(layers.Sigmoid(), input)


def _tanh(input):
    return _layer(layers.Tanh(), input)


def _softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _layer(layers.Softmax(_const("dim", dim)), input)


def _log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _layer(LogSoftmax(_const("dim", dim)), input)


def _stride(stride):
    return None if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else stride


def _max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    pool = layers.MaxPool2d(*_const("the pooling's settings", (kernel_size, _stride(stride), padding, dilation,
                                                                 return_indices, ceil_mode)))
    return _layer(pool, input, sort=("tensor", "tensor") if return_indices else "tensor")


def _avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None):
    return _layer(layers.AvgPool2d(*_const("the pooling's settings", (kernel_size, _stride(stride), padding, ceil_mode,
                                                                       count_include_pad, divisor_override))), input)


def _adaptive_avg_pool2d(input, output_size):
    return _layer(layers.AdaptiveAvgPool2d(_const("output_size", output_size)), input)


def _dropout(input, p=0.5, training=True, inplace=False):
    drop = layers.Dropout(_const("p", p)).train(bool(_const("training", training)))
    return _layer(drop, input)


def _flatten(input, start_dim=0, end_dim=-1):
    return _layer(layers.Flatten(_const("start_dim", start_dim), _const("end_dim", end_dim)), input)


def _cat(tensors, dim=0):
    if not isinstance(tensors, (tuple, list)) or not tensors:
        raise _Unsupported("torch.cat needs a list of tensors")
    return _layer(Cat(_const("dim", dim)), *tensors, grads=tuple(range(len(tensors))))


def _concatenate(tensors, axis=0):
    return _cat(tensors, axis)


def _mean(input, dim=None, keepdim=False, dtype=None):
    return _layer(Mean(_const("dim", dim), _const("keepdim", keepdim)), input)


def _reshape_shape(input, shape):
    return _layer(Reshape("reshape"), input, shape)


def _view(how):
    def make(input, *shape):
        return _layer(Reshape(how), input, *shape)

    return make


def _squeeze(input, dim=None):
    return _layer(Reshape("squeeze"), input, dim)


def _unsqueeze(input, dim):
    return _layer(Reshape("unsqueeze"), input, dim)


def _permute_method(input, *dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return _layer(Permute(_const("dims", dims)), input)


def _permute(input, dims):
    return _permute_method(input, dims)


def _transpose(input, dim0, dim1):
    return _layer(Permute(swap=_const("dims", (dim0, dim1))), input)


def _alias(input, *args, **kwargs):
    return _Made("item", None, (input,), (0,), "tensor")


def _value(f):
    """A maker of a value node computing ``f`` on its arguments at run time."""
    def make(*args):
        return _Made("value", f, args, (), "value")

    return make


def _shape_of(x, dim=None):
    return tuple(np.shape(x)) if dim is None else int(np.shape(x)[dim])


def _ndim(x):
    return int(np.ndim(x))


def _length(x):
    return len(x)


def _attribute(x, name):
    if name == "shape":
        return tuple(np.shape(x))
    if name == "ndim":
        return int(np.ndim(x))
    raise ValueError(f"x.{name} is not supported")


def _add(input, other, alpha=1):
    if _const("alpha", alpha) != 1:
        raise _Unsupported(f"torch.add with alpha={alpha} is not supported: use a + b")
    return input, other, Add


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[dict, dict]:
    import torch
    import torch.nn.functional as F

    functions = {
        F.relu: _relu, torch.relu: _relu, torch.relu_: _relu, F.relu_: _relu,
        F.sigmoid: _sigmoid, torch.sigmoid: _sigmoid, F.tanh: _tanh, torch.tanh: _tanh,
        F.softmax: _softmax, torch.softmax: _softmax, F.log_softmax: _log_softmax, torch.log_softmax: _log_softmax,
        F.max_pool2d: _max_pool2d, F.max_pool2d_with_indices: _max_pool2d, F.avg_pool2d: _avg_pool2d,
        F.adaptive_avg_pool2d: _adaptive_avg_pool2d, F.dropout: _dropout,
        torch.flatten: _flatten, torch.cat: _cat, torch.concat: _cat, torch.concatenate: _concatenate,
        torch.mean: _mean, torch.reshape: _reshape_shape, torch.squeeze: _squeeze, torch.unsqueeze: _unsqueeze,
        torch.permute: _permute, torch.transpose: _transpose,
    }
    methods = {
        "relu": _relu, "relu_": _relu, "sigmoid": _sigmoid, "tanh": _tanh, "softmax": _softmax,
        "log_softmax": _log_softmax, "view": _view("view"), "reshape": _view("reshape"), "flatten": _flatten,
        "squeeze": _squeeze, "unsqueeze": _unsqueeze, "permute": _permute_method, "transpose": _transpose,
        "mean": _mean, "contiguous": _alias, "float": _alias, "double": _alias,
    }
    return functions, methods


#: Operators on numbers (shapes) a forward may compute: ``x.size(0) * 2``.
_NUMBER_OPERATORS = (operator.add, operator.sub, operator.mul, operator.floordiv, operator.truediv, operator.neg,
                     operator.mod)


def _call(n: Any, args: tuple, kwargs: dict, sorts: dict) -> _Made:
    """A call_function or call_method node as a graph node."""
    target = n.target
    if n.op == "get_attr":
        raise _Unsupported(f"the forward reads self.{target} directly: layerviz converts the parameters and buffers "
                           "inside torch.nn modules (use a module, such as nn.Linear, instead of a tensor of "
                           "one's own)")
    functions, methods = _tables()
    if n.op == "call_method":
        if target in ("size",):
            return _value(_shape_of)(*args, *kwargs.values())
        if target == "dim":
            return _value(_ndim)(*args)
        if target == "add":
            return _add_node(*_bind(_add, args, kwargs, "x.add"), sorts)
        maker = methods.get(target)
        if maker is None:
            raise _Unsupported(f"the tensor method x.{target} is not supported")
        what = f"x.{target}"
    elif n.op == "call_function":
        if target is len:
            _need_tensor(args[0] if args else None, sorts, "len")
            return _value(_length)(*args)
        if target is getattr:
            if sorts.get(getattr(args[0], "name", None)) == "tensor" and args[1] in ("shape", "ndim"):
                return _value(_attribute)(*args)
            raise _Unsupported(f"reading .{args[1]} of a tensor is not supported (only .shape and .ndim)")
        if target is operator.getitem:
            return _getitem(args, sorts)
        if target in (operator.add, operator.iadd):
            return _add_node(args[0], args[1], None, sorts)
        if target is getattr(sys.modules.get("torch"), "add", None):
            return _add_node(*_bind(_add, args, kwargs, "torch.add"), sorts)
        if target in _NUMBER_OPERATORS:
            if any(_sort_of(a, sorts) not in ("value",) for a in args):
                symbol = _OPERATORS.get(target, _function_name(target))
                raise _Unsupported(f"{symbol} on tensors is not supported (only on numbers such as x.size(0)); "
                                   "a + b of two tensors is")
            return _value(target)(*args)
        maker = functions.get(target)
        if maker is None:
            raise _Unsupported(f"{_function_name(target)} is not supported")
        what = _function_name(target)
    else:
        raise _Unsupported(f"{n.op} nodes are not supported")
    made = _bind(maker, args, kwargs, what)
    for position in made.grad_args:
        _need_tensor(made.args[position], sorts, what)
    return made


def _bind(maker: Any, args: tuple, kwargs: dict, what: str) -> Any:
    try:
        inspect.signature(maker).bind(*args, **kwargs)
    except TypeError as error:
        raise _Unsupported(f"{what} called with arguments layerviz does not know: {error}") from None
    return maker(*args, **kwargs)


def _add_node(a: Any, b: Any, cls: Any, sorts: dict) -> _Made:
    tensors = tuple(i for i, v in enumerate((a, b)) if _sort_of(v, sorts) == "tensor")
    if not tensors:
        if any(_sort_of(v, sorts) != "value" for v in (a, b)):
            raise _Unsupported("+ of these operands is not supported")
        return _value(operator.add)(a, b)
    for v in (a, b):
        if _sort_of(v, sorts) not in ("tensor", "value"):
            raise _Unsupported("+ of these operands is not supported")
    return _layer(Add(), a, b, grads=tensors)


def _getitem(args: tuple, sorts: dict) -> _Made:
    value, key = args
    sort = _sort_of(value, sorts)
    if sort == "tensor":
        parts = key if isinstance(key, tuple) else (key,)
        for part in parts:
            if not (part is None or part is Ellipsis or isinstance(part, (slice, int, Ref))):
                raise _Unsupported(f"indexing a tensor with {part!r} is not supported: use ints, slices, None, ...")
            if isinstance(part, Ref) and sorts.get(part.name) != "value":
                raise _Unsupported("indexing a tensor with a tensor is not supported: use ints and slices")
        return _layer(Index(), value, key)
    if isinstance(sort, tuple):
        if isinstance(key, bool) or not isinstance(key, int) or not -len(sort) <= key < len(sort):
            raise _Unsupported(f"item {key!r} of a tuple of {len(sort)} is not supported")
        return _Made("item", key % len(sort), (value,), (0,), sort[key])
    return _value(operator.getitem)(value, key)


# -- the example input --------------------------------------------------------------------------------


def _random(layer: Any) -> bool:
    """True if the layer draws random numbers (dropout in training mode), so that torch's output differs."""
    found = []

    def visit(item):
        if isinstance(item, layers.Dropout) and item.training and item.p > 0:
            found.append(item)
        if getattr(item, "mode", None) and item.training and getattr(item, "dropout", 0) and item.num_layers > 1:
            found.append(item)
        for child in getattr(item, "layers", ()) if isinstance(item, layers.Sequential) else ():
            visit(child)
        for node in getattr(item, "nodes", ()):
            if node.kind == "layer":
                visit(node.op)

    visit(layer)
    return bool(found)


def _check_example(layer: Any, module: Any, example_input: Any) -> None:
    """Run ``layer`` (a copy) on the example input and compare with the module (a float64 copy)."""
    import copy

    import torch

    xs = example_input if isinstance(example_input, tuple) else (example_input,)
    arrays = [x.detach().cpu().numpy().copy() if isinstance(x, torch.Tensor) else np.asarray(x) for x in xs]
    twin = copy.deepcopy(layer)
    try:
        if isinstance(twin, Graph):
            values = twin._run(tuple(arrays), None)
            ours = resolve(twin.output, values)
            layer.shapes = {node.name: value_shape(values[node.name]) for node in layer.nodes if node.kind != "value"}
        else:
            ours = twin(*arrays)
    except ValueError as error:
        raise ConversionError(f"{_model_name(module)} converted, but the result cannot run on example_input: {error}") \
            from error
    if _random(layer) or not _is_torch_module(module):
        return
    try:
        reference = copy.deepcopy(module).double()
        inputs = [torch.as_tensor(a) for a in arrays]
        inputs = [t.double() if t.is_floating_point() else t for t in inputs]
        with torch.no_grad():
            theirs = reference(*inputs)
    except Exception:  # noqa: BLE001 - a model that cannot be copied or run in float64: no comparison
        return
    worst = _difference(ours, theirs)
    if worst is not None and worst > 1e-6:
        raise ConversionError(
            f"{_model_name(module)} converted, but its output on example_input differs from the model's by up to "
            f"{worst:.3g}: the forward probably depends on something torch.fx fixed while tracing (a setting read in "
            "an if, an argument's default); please report it with the model")


def _difference(ours: Any, theirs: Any) -> float | None:
    """The largest relative difference between nested outputs (None when they cannot be compared)."""
    if isinstance(theirs, (tuple, list)):
        if not isinstance(ours, tuple) or len(ours) != len(theirs):
            return None
        found = [_difference(a, b) for a, b in zip(ours, theirs)]
        return max((f for f in found if f is not None), default=None)
    if not hasattr(theirs, "detach"):
        return None
    expected = theirs.detach().cpu().double().numpy()
    got = np.asarray(ours, dtype=np.float64)
    if got.shape != expected.shape:
        return float("inf")
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    return float(np.abs(got - expected).max(initial=0.0)) / scale
