"""Package names loaded on first use (PEP 562), so importing one module of a package does
not load its siblings.

Every Metaflow task process imports BaseFlow's modules again (a tick is three Python
processes), so a package ``__init__`` that imported all of its modules made each task load
flowproject modules it never used. A package writes its imports once, for the type checker,
and lets them run only when a name is asked for::

    if TYPE_CHECKING:
        from .publishing import publish

    __getattr__, __dir__ = exports(__name__)

A public name must not be the name of one of the package's modules: importing that module
rebinds it (``tests/test_layout.py`` checks every name resolves to what it imports).
"""

from __future__ import annotations

import ast
import os
import sys
from importlib import import_module
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple


def type_checking_imports(path: Path) -> Dict[str, Tuple[str, str]]:
    """``name -> (module, attribute)`` of the ``from ... import`` lines under a top-level
    ``if TYPE_CHECKING:`` in the file at ``path`` (modules relative, as written)."""
    found: Dict[str, Tuple[str, str]] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for imp in node.body:
                if isinstance(imp, ast.ImportFrom):
                    for alias in imp.names:
                        found[alias.asname or alias.name] = ("." * imp.level + (imp.module or ""), alias.name)
    return found


def _is_submodule(module: str, name: str) -> bool:
    for folder in getattr(sys.modules[module], "__path__", ()):
        if os.path.isfile(os.path.join(folder, name + ".py")) or os.path.isdir(os.path.join(folder, name)):
            return True
    return False


def exports(module: str) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """``__getattr__`` and ``__dir__`` for the package or module ``module``, serving the
    names its ``if TYPE_CHECKING:`` block imports (read on the first name asked for)."""
    names: Dict[str, Tuple[str, str]] = {}

    def _names() -> Dict[str, Tuple[str, str]]:
        if not names:
            names.update(type_checking_imports(Path(str(sys.modules[module].__file__))))
        return names

    def __getattr__(name: str) -> Any:
        # `from package import submodule` and dunder probes ask here first: answer them
        # without reading the source (a stat per folder of the package's __path__).
        where = None if name.startswith("__") or _is_submodule(module, name) else _names().get(name)
        if where is None:
            raise AttributeError("module %r has no attribute %r" % (module, name))
        source, attribute = where
        value = getattr(import_module(source, sys.modules[module].__package__), attribute)
        setattr(sys.modules[module], name, value)  # later lookups skip __getattr__
        return value

    def __dir__() -> List[str]:
        return sorted(set(vars(sys.modules[module])) | set(_names()))

    return __getattr__, __dir__
