"""The plan of the house holds: layers without cycles, small modules, the edges hold Flask."""

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "flows", "workers", "sandbox")
MAX_LINES = 400
# The edges may reach for the request's app: the web endpoints, the command line,
# the workers' job entry points and the sandbox (a set of Flask apps of its own).
EDGES = ("app/__init__.py", "app/web/", "app/cli/", "workers/", "sandbox/")


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


def named(name: str, path: Path, known: dict) -> set[str]:
    """Return every module a module imports, anywhere in its body, ours or not."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                # A submodule by name, or a name the module itself defines.
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
    return found


def imports(name: str, path: Path, known: dict) -> set[str]:
    """Return the modules of ours that a module imports, anywhere in its body."""
    ours = set()
    for module in named(name, path, known):
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


# Each layer of app/ and what it may import of app/, besides itself (README, "What runs").
INFRA = ("app.infra",)
DOMAIN = (*INFRA, "app.training", "app.cases", "app.messaging", "app.people", "app.content",
          "app.voice")  # fmt: skip
BELOW = {
    "app.infra": INFRA,
    "app.voice": DOMAIN,
    "app.training": DOMAIN,
    "app.cases": DOMAIN,
    "app.messaging": DOMAIN,
    "app.people": DOMAIN,
    "app.content": DOMAIN,
    "app.conversation": (*DOMAIN, "app.conversation"),
}


def test_each_layer_imports_only_the_layers_below_it():
    """Infrastructure imports no domain package; no service imports the conversation or a
    web or command-line module."""
    wrong = {}
    for name, deps in graph().items():
        layer = next((top for top in BELOW if name == top or name.startswith(top + ".")), None)
        if layer is None:
            continue
        allowed = BELOW[layer]
        bad = sorted(d for d in deps if d.startswith("app")
                     and not any(d == a or d.startswith(a + ".") for a in allowed))  # fmt: skip
        if bad:
            wrong[name] = bad
    assert wrong == {}


def test_every_import_of_ours_resolves():
    """Imports inside functions (the command line's) fail only when run: check them all."""
    broken = []
    for name, path in sources().items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if base.split(".")[0] not in PACKAGES:
                continue
            module = importlib.import_module(base)
            for alias in node.names:
                if not hasattr(module, alias.name) and not _submodule(f"{base}.{alias.name}"):
                    broken.append(f"{name}:{node.lineno} from {base} import {alias.name}")
    assert broken == []


def _submodule(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        return False
    return True


def test_no_module_is_over_400_lines():
    long = {str(path.relative_to(ROOT)): n for path in sources().values()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}  # fmt: skip
    assert long == {}


def test_flask_stays_at_the_edges():
    """Below the edges, services take their dependencies as arguments: no Flask at all."""
    known = sources()
    below = {name: path for name, path in known.items()
             if not str(path.relative_to(ROOT)).startswith(EDGES)}  # fmt: skip
    reaching = {
        str(path.relative_to(ROOT))
        for name, path in below.items()
        if "current_app" in path.read_text()
        or any(m.split(".")[0] == "flask" for m in named(name, path, known))
    }
    assert reaching == set()
