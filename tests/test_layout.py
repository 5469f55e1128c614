"""The package's shape: one folder per concept, imports flowing one way, no cycles.

Every import counts, including the lazy ones inside functions: a cycle hidden in a
function is still a cycle a reader has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

import flowproject

PACKAGE = Path(flowproject.__file__).parent
# Bottom to top: a folder may import itself and the folders before it, never after.
LAYERS = [
    "errors",
    "secrets",
    "_moved",
    "_lazy",
    "_distribution",
    "config",
    "sources",
    "getters",
    "events",
    "flow",
    "sensor",
    "deploy",
    "project",
    "testing",
    "cli",
]
MAX_MODULE_LINES = 300


def _modules() -> Dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path, modules: Dict[str, Path]) -> Set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "flowproject")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "flowproject":
                continue
            subs = [mod + "." + a.name for a in node.names if mod + "." + a.name in modules]
            out.update(subs if subs and len(subs) == len(node.names) else [mod, *subs])
    return {m for m in out if m != name}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "<root>"


def _graph() -> Dict[str, Set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_every_module_lives_in_a_known_layer():
    unknown = sorted({_layer(m) for m in _modules()} - set(LAYERS) - {"<root>"})
    assert not unknown, "add these folders to LAYERS (bottom to top): %s" % unknown


def test_imports_flow_one_way_between_concept_folders():
    upward = []
    for module, targets in _graph().items():
        if module == "flowproject":
            continue  # the public API re-exports from every folder
        for target in targets:
            if target == "flowproject":
                upward.append("%s imports the package root" % module)
            elif LAYERS.index(_layer(target)) > LAYERS.index(_layer(module)):
                upward.append("%s -> %s" % (module, target))
    assert not upward, "imports that run upward:\n" + "\n".join(sorted(upward))


def _cycle(graph: Dict[str, Set[str]]) -> List[str]:
    # Packages count as importing their __init__'s imports; a module importing a
    # sibling's package (flowproject.config) imports that package's __init__.
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(node: str) -> List[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return []


def test_no_import_cycles():
    graph = _graph()
    graph.pop("flowproject")  # the root imports everything and nothing imports it
    # A package's __init__ importing its own modules is how it exports them, and those
    # modules import siblings by path (which runs the __init__ first): that is not a
    # cycle a reader follows, so only edges between real modules and into other packages count.
    for package in [m for m in graph if (PACKAGE.parent / m.replace(".", "/") / "__init__.py").exists()]:
        graph[package] = {t for t in graph[package] if not t.startswith(package + ".")}
    cycle = _cycle(graph)
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_modules_stay_small():
    big = {n: len(p.read_text().splitlines()) for n, p in _modules().items()}
    big = {n: c for n, c in big.items() if c > MAX_MODULE_LINES}
    assert not big, "split these modules by concept: %s" % big


def test_lazy_exports_give_what_the_type_checker_is_told():
    # A package that loads its names on first use (flowproject._lazy) serves what its
    # TYPE_CHECKING block imports; each must be that object (not a same-named submodule).
    import importlib

    from flowproject._lazy import type_checking_imports

    checked = 0
    for name, path in sorted(_modules().items()):
        if "exports(" not in path.read_text() or name == "flowproject._lazy":
            continue
        module = importlib.import_module(name)
        told = type_checking_imports(path)
        missing = [n for n in getattr(module, "__all__", ()) if not hasattr(module, n)]
        assert not missing, "%s: __all__ names what it cannot give: %s" % (name, missing)
        for public, (source, attribute) in told.items():
            expected = getattr(importlib.import_module(source, module.__package__), attribute)
            assert getattr(module, public) is expected, "%s.%s" % (name, public)
            checked += 1
    assert checked > 30, checked
