"""The package's source holds together: its modules import one another without a cycle, counting the imports
inside functions too (a cycle hidden by a function-level import still ties its modules into one knot that cannot be
read or tested apart), and every public function says the type of each parameter."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "minireason"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The package modules that ``path`` imports anywhere in its body; ``from a import b`` counts as ``a.b``
    when ``b`` is a module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                      for alias in node.names}
    return {name for name in found if name in modules and name != module_name(path)}


def import_graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in files}
    return {module_name(path): imports(path, modules) for path in files}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as the list of its modules (the first repeated at the end), or None.

    >>> find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}})
    ['a', 'b', 'c', 'a']
    >>> find_cycle({"a": {"b"}, "b": set()}) is None
    True
    """
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node], _ = "open", path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node], _ = "done", path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_graph_sees_function_level_imports():
    graph = import_graph()
    # scaling imports torch only inside a function, and evaluation at the top: both kinds are read.
    assert "minireason.evaluation" in graph["minireason.scaling"]
    assert len(graph) > 30 and sum(len(edges) for edges in graph.values()) > 60


def untyped_parameters(path: Path) -> list[str]:
    """``module:line function(params)`` for each public function or method of ``path`` with a parameter left
    without a type (``self`` and ``cls`` aside)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            params = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            missing = [arg.arg for arg in params if arg.annotation is None and arg.arg not in ("self", "cls")]
            if missing:
                found.append(f"{module_name(path)}:{node.lineno} {node.name}({', '.join(missing)})")
    return found


def test_every_public_parameter_has_a_type():
    untyped = [entry for path in sorted(PACKAGE.rglob("*.py")) for entry in untyped_parameters(path)]
    assert untyped == [], "parameters without a type: " + "; ".join(untyped)


def test_benchmarks_import_the_installed_package_and_nothing_else():
    """Benchmarks are thin scripts over the package: no path surgery, no test helpers."""
    for script in sorted((PACKAGE.parent / "benchmarks").glob("*.py")):
        text = script.read_text()
        for forbidden in ("sys.path", "importlib", "from tests", "import tests"):
            assert forbidden not in text, f"{script.name} uses {forbidden}"
