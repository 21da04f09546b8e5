"""The modules' import graph, as a newcomer reads it: no module imports itself back
through others (type-only imports and imports inside functions count too), every layer
imports only the layers below it, and the simulated systems import nothing of the
gateway."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "resolvers", "adapters", "legacy", "geodata")
#: what each package may import of the others (DESIGN's layers; geodata is shared data)
MAY_IMPORT = {
    "gateway": {"resolvers", "adapters", "geodata"},
    "resolvers": {"adapters", "geodata"},
    "adapters": set(),
    "legacy": {"geodata"},
    "geodata": set(),
}
#: the command line starts the simulated systems (`mosaic legacy`, `mosaic demo`)
STARTS_THE_SIMULATORS = {"gateway.cli"}


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imported(module: str, path: Path) -> Iterator[str]:
    """Every module name an import statement anywhere in the file names, as written
    (``from a import b`` names ``a`` and ``a.b``, which may be a module)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, *([node.module] if node.module else [])])
            yield name
            yield from (f"{name}.{alias.name}" for alias in node.names)


def graph() -> dict[str, set[str]]:
    """Module -> the project's modules it imports."""
    known = modules()

    def owner(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {m: set() for m in known}
    for module, path in known.items():
        for name in _imported(module, path):
            target = owner(name)
            if target is not None and target != module:
                edges[module].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_type_only_cycle_and_nothing_else() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [frozenset({"a", "b", "c"})]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_counts_type_only_and_deferred_imports() -> None:
    edges = graph()
    # resolvers/graphql/schema.py imports the engine inside build_schema only
    assert "resolvers.engine" in edges["resolvers.graphql.schema"]
    # resolvers/graphql/context.py imports the saga engine for type checkers only
    assert "resolvers.commerce.sagas" in edges["resolvers.graphql.context"]


def test_no_module_imports_itself_back_through_others() -> None:
    """None at all: GraphQL's types refer to each other both ways (a customer lists their
    orders, an order names who placed it), but a module does not; a back reference goes
    by the schema's lazy name and a Protocol the context carries
    (resolvers/graphql/types/order.py: ``customer``), or the two types share one module
    (an order and its returns)."""
    assert cycles(graph()) == []


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if (mine := module.split(".")[0]) != (theirs := target.split(".")[0])
        and theirs not in MAY_IMPORT[mine]
        and not (module in STARTS_THE_SIMULATORS and theirs == "legacy")
    )
    assert wrong == []


def test_the_simulated_systems_import_nothing_of_the_gateway() -> None:
    imported = {t.split(".")[0] for m, ts in graph().items() if m.startswith("legacy") for t in ts}
    assert imported <= {"legacy", "geodata"}
