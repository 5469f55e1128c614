"""Package names loaded on first use (PEP 562), so importing one module of a package does
not load its siblings.

Every Metaflow task process imports BaseFlow's modules again (a tick is three Python
processes), so a package ``__init__`` that imported all of its modules made each task load
flowproject modules it never used. A package lists its public names instead::

    __getattr__, __dir__ = exports(__name__, {"publish": ".publishing", ...})

with the same imports under ``TYPE_CHECKING`` for the type checker
(``tests/test_layout.py`` checks that both name the same objects). A public name must not
be the name of one of the package's modules: importing that module rebinds it.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any, Callable, Dict, List, Tuple


def exports(module: str, names: Dict[str, str]) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """``__getattr__`` and ``__dir__`` for the package or module ``module``: ``names`` maps
    a public name to the module that defines it (relative, as an import in ``module`` would
    write it: ``".publishing"``), or to ``".publishing:attribute"`` when it is exported
    under another name."""

    def __getattr__(name: str) -> Any:
        where = names.get(name)
        if where is None:
            raise AttributeError("module %r has no attribute %r" % (module, name))
        source, _, attribute = where.partition(":")
        value = getattr(import_module(source, sys.modules[module].__package__), attribute or name)
        setattr(sys.modules[module], name, value)  # later lookups skip __getattr__
        return value

    def __dir__() -> List[str]:
        return sorted(set(vars(sys.modules[module])) | set(names))

    return __getattr__, __dir__
