"""The plan of the house holds: layers without cycles, small modules, the edges hold Flask."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "flows", "workers", "sandbox")
MAX_LINES = 400
# The edges may reach for the request's app: the web endpoints, the command line,
# the workers' job entry points and the sandbox (a set of Flask apps of its own).
EDGES = ("app/__init__.py", "app/web/", "app/cli/", "workers/", "sandbox/")
# Still reading current_app below the edges: each is to take its dependencies as
# arguments (issue 14). The list may only shrink.
NOT_YET = {
    "app/cases/__init__.py",
    "app/cases/alerts.py",
    "app/conversation/context.py",
    "app/conversation/effects.py",
    "app/conversation/hop.py",
    "app/conversation/needs.py",
    "app/infra/db.py",
    "app/messaging/delivery.py",
    "app/messaging/notify.py",
    "app/messaging/outbox.py",
    "app/training/__init__.py",
}


def sources() -> dict[str, Path]:
    """Return every module of the packages by dotted name, migrations aside."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or ".venv" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict) -> set[str]:
    """Return the modules of ours that a module imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    named = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                # A submodule by name, or a name the module itself defines.
                full = f"{base}.{alias.name}"
                named.add(full if full in known else base)
    ours = set()
    for module in named:
        while module and module not in known:
            module = module.rpartition(".")[0]
        if module and module != name:
            ours.add(module)
    return ours


def graph() -> dict[str, set[str]]:
    known = sources()
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on.add(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                other = stack.pop()
                on.discard(other)
                group.append(other)
                if other == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_another_that_imports_it_back():
    assert cycles(graph()) == []


def test_cycles_finds_a_loop():
    """The check itself: a loop of three is one group, a chain is none."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_production_package_needs_neither_the_sandbox_nor_the_workers():
    leaks = {
        name: sorted(d for d in deps if d.split(".")[0] in ("sandbox", "workers"))
        for name, deps in graph().items()
        if name.split(".")[0] == "app"
    }
    assert {name: deps for name, deps in leaks.items() if deps} == {}


def test_no_module_is_over_400_lines():
    long = {str(path.relative_to(ROOT)): n for path in sources().values()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}  # fmt: skip
    assert long == {}


def test_current_app_stays_at_the_edges():
    reaching = {
        str(path.relative_to(ROOT))
        for path in sources().values()
        if "current_app" in path.read_text() and not str(path.relative_to(ROOT)).startswith(EDGES)
    }
    assert reaching <= NOT_YET, sorted(reaching - NOT_YET)
