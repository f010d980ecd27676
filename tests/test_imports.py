"""The house's imports run one way: no circles, and no room imports a room above it.

Every ``import`` and ``from … import`` under ``layerviz/`` is read with ``ast``, at module level and inside
functions and methods alike (an import hidden in a function still runs, later), and so is every
``importlib.import_module("…")`` of a literal name (the lazy attributes at the package's edge). Imports
under ``if TYPE_CHECKING:`` are left out: they never run, they only name types for annotations.

The floors, top to bottom (``FLOORS``); a module may import its own floor and the floors below it:

- the package's edge (``layerviz/__init__.py``), then the explorers and what serves them (``ui/``,
  ``classroom.py``);
- what the pages show beside a player: the toy models, the ready models, the flow of a graph, the code;
- the views: the browser player and matplotlib (``player/``, ``mpl.py``, and ``figure_store.py``, which keeps the
  pages' static figures), and the inputs (``data.py``);
- the engine: ``torch_interop.py`` (from torch), then ``graph``, ``losses.py``, then ``layers/``, then
  ``backward.py``, ``trace.py``;
- what the engine draws with and prints with: ``tensor_grid.py``, ``scene.py``, ``_format.py``, ``_checks.py``,
  and ``views.py`` (the names of a trace's views, which the package's edge fills in).

Importing a submodule runs its package's ``__init__`` first; that is Python's doing, not an arrow here. An
explicit ``import layerviz`` or ``from layerviz import Conv2d`` below the edge is one, and runs up.

The engine (``layers/``, ``trace.py``, ``backward.py``, ``graph``, ``losses.py``) also imports none of
ipywidgets, anywidget, IPython or matplotlib, and only ``torch_interop.py`` imports torch.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "layerviz"

#: Top to bottom; a module belongs to the floor of the longest prefix that names it.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("layerviz",),
    ("layerviz.ui", "layerviz.classroom", "layerviz.kernel"),
    ("layerviz.toy", "layerviz.zoo", "layerviz.flow", "layerviz.code"),
    ("layerviz.player", "layerviz.mpl", "layerviz.data", "layerviz.figure_store"),
    ("layerviz.torch_interop",),
    ("layerviz.graph", "layerviz.losses"),
    ("layerviz.layers",),
    ("layerviz.backward",),
    ("layerviz.trace",),
    ("layerviz.tensor_grid",),
    ("layerviz.scene",),
    ("layerviz._format", "layerviz._checks", "layerviz.views"),
)

ENGINE = ("layerviz.layers", "layerviz.trace", "layerviz.backward", "layerviz.graph", "layerviz.losses")
#: What the engine never imports: the widgets and the drawing libraries (a script needs none of them).
NOT_IN_THE_ENGINE = ("ipywidgets", "anywidget", "IPython", "matplotlib", "traitlets")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(name: str) -> str:
    """The layerviz module that ``name`` (a module, or a name imported from one) loads."""
    while name and name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imports_of(module: str) -> list[tuple[str, int]]:
    """``(imported name, line)`` for every import of ``module`` that runs (any depth, TYPE_CHECKING left out)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if base == "__future__":
                return
            for alias in node.names:  # `from layerviz import mpl` imports the module layerviz.mpl
                candidate = f"{base}.{alias.name}"
                found.append((candidate if candidate in MODULES else base, node.lineno))
        elif (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
              and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"):
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((arg.value, node.lineno))
            elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
                found.append((str(arg.values[0].value).rstrip("."), node.lineno))  # f"layerviz.{name}"
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return found


def internal_graph() -> dict[str, dict[str, int]]:
    """module -> {layerviz module it imports: first line}."""
    graph: dict[str, dict[str, int]] = {}
    for module in MODULES:
        edges: dict[str, int] = {}
        for name, line in imports_of(module):
            if name == "layerviz" or name.startswith("layerviz."):
                target = _resolve(name)
                if target != module:
                    edges.setdefault(target, line)
        graph[module] = edges
    return graph


def floor_of(module: str) -> int:
    best, floor = -1, None
    for i, prefixes in enumerate(FLOORS):
        for prefix in prefixes:
            inside = module.startswith(prefix + ".") and prefix != "layerviz"  # the edge is one module
            if (module == prefix or inside) and len(prefix) > best:
                best, floor = len(prefix), i
    assert floor is not None, f"{module} is on no floor: add it to FLOORS in {__file__}"
    return floor


def circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_every_module_is_read():
    assert {"layerviz", "layerviz.trace", "layerviz.backward", "layerviz.scene", "layerviz.ui"} <= set(MODULES)
    assert any(m.startswith("layerviz.layers.") for m in MODULES)


def test_the_reader_sees_imports_inside_functions_and_lazy_ones():
    source = ("from __future__ import annotations\nfrom typing import TYPE_CHECKING\nimport importlib\n"
              "if TYPE_CHECKING:\n    from layerviz import mpl\n"
              "def f():\n    from layerviz.player import Player\n"
              "def g(name):\n    return importlib.import_module(f'layerviz.{name}')\n"
              "def h():\n    return importlib.import_module('layerviz.ui')\n")
    probe = PACKAGE / "_probe_imports_test.py"
    MODULES["layerviz._probe_imports_test"] = probe
    try:
        probe.write_text(source, encoding="utf-8")
        names = [name for name, _ in imports_of("layerviz._probe_imports_test")]
    finally:
        probe.unlink()
        del MODULES["layerviz._probe_imports_test"]
    assert "layerviz.mpl" not in names  # type-only
    assert {"layerviz.player", "layerviz", "layerviz.ui"} <= set(names)


def test_the_circle_finder_finds_a_circle():
    assert circles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [["a", "b", "c"]]
    assert circles({"a": {"b": 1}, "b": {}}) == []


def test_no_import_circles():
    graph = internal_graph()
    found = circles(graph)
    detail = []
    for component in found:
        members = set(component)
        for m in component:
            detail += [f"  {m} -> {t} (line {line})" for t, line in graph[m].items() if t in members]
    assert not found, "import circles:\n" + "\n".join(detail)


def test_every_import_runs_down_the_floors():
    upward = []
    for module, edges in internal_graph().items():
        for target, line in edges.items():
            if floor_of(target) < floor_of(module):
                upward.append(f"  {MODULES[module].relative_to(PACKAGE.parent)}:{line}: {module} imports {target}, "
                              f"a floor above it")
    assert not upward, "imports that run up the floors:\n" + "\n".join(upward)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith(ENGINE)))
def test_the_engine_imports_no_widget_and_no_drawing_library(module):
    bad = [f"line {line}: {name}" for name, line in imports_of(module)
           if name.split(".")[0] in NOT_IN_THE_ENGINE]
    assert not bad, f"{module} imports {bad}"


def test_only_torch_interop_imports_torch():
    bad = [f"{m}:{line}" for m in MODULES if m != "layerviz.torch_interop"
           for name, line in imports_of(m) if name.split(".")[0] == "torch"]
    assert not bad, f"torch imported outside layerviz.torch_interop: {bad}"


def test_the_scene_imports_no_layer_and_nothing_of_the_engine():
    names = [_resolve(name) for name, _ in imports_of("layerviz.scene")]
    assert not [n for n in names if n.startswith(ENGINE)], names

