"""Finding a project's flow files and the flow class each defines, without importing them.

Importing a flow file runs its module code (and Metaflow's CLI when it is run as a
script), so ``./deploy``, ``events serve`` and config checks read the files with ``ast``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Set

from ..errors import FlowprojectError
from .paths import display_path

FLOW_GLOB = "**/*.flow.py"
FLOWS_DIR = "flows"


class FlowFileError(FlowprojectError):
    headline = "Flow file error"

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class FlowTarget:
    """One flow file and its flow class (``error`` says why the class was not found)."""

    file: Path
    flow: str
    error: Optional[str] = None


def flow_files(root: Path) -> List[Path]:
    """``<root>/flows/**/*.flow.py``, sorted."""
    return sorted((root / FLOWS_DIR).glob(FLOW_GLOB))


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        return _base_name(node.value)
    return ""


def _is_main_guard(test: ast.expr) -> bool:
    # `if __name__ == "__main__":` written either way round.
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
    has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    return has_name and has_main


def find_flow_class(source: str, filename: str = "<flow>") -> str:
    """The name of the flow class defined in a flow file's source.

    The class instantiated under ``if __name__ == "__main__":`` wins (that is the one
    Metaflow runs); otherwise the single top-level class whose base name ends in ``Flow``
    (``FlowSpec``, ``BaseFlow``, ``TeamFlow``, ...). Raises FlowFileError otherwise.
    """
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as e:
        raise FlowFileError(msg="%s:%s: cannot parse: %s" % (filename, e.lineno, e.msg)) from None
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_guard(node.test):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in classes:
                    return sub.func.id
    flows = [
        name
        for name, node in classes.items()
        if any(_base_name(base).endswith("Flow") or _base_name(base) == "FlowSpec" for base in node.bases)
    ]
    if len(flows) == 1:
        return flows[0]
    if not flows:
        raise FlowFileError(msg="%s: no flow class found (a class subclassing BaseFlow or FlowSpec)" % filename)
    raise FlowFileError(
        msg="%s: several flow classes (%s) and none is run under if __name__ == '__main__'"
        % (filename, ", ".join(flows))
    )


def discover(root: Path, files: Sequence[str] = ()) -> List[FlowTarget]:
    """The flows to deploy: ``files`` when given, else ``<root>/flows/**/*.flow.py``.

    A file whose flow class cannot be found becomes a target with ``error`` set, so it
    is reported as failed alongside the others instead of stopping the deploy.
    """
    if files:
        paths = [Path(f).resolve() for f in files]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise FlowFileError(msg="no such flow file: %s" % ", ".join(missing))
    else:
        paths = flow_files(root)
        if not paths:
            raise FlowFileError(msg="no flows found: %s/%s/%s matches nothing" % (root, FLOWS_DIR, FLOW_GLOB))
    targets = []
    for path in paths:
        label = display_path(path)
        try:
            targets.append(FlowTarget(path, find_flow_class(path.read_text(encoding="utf-8"), label)))
        except FlowFileError as e:
            targets.append(FlowTarget(path, path.name[: -len(".flow.py")] or path.stem, str(e)))
    return targets


def defined_flows(flows_dir: Path) -> Set[str]:
    """Names of the classes defined at the top level of ``flows_dir/**/*.flow.py``.

    Parsed, not imported: importing a flow file runs its module code.
    """
    names: Set[str] = set()
    for path in sorted(flows_dir.glob(FLOW_GLOB)):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (OSError, SyntaxError, ValueError):
            continue  # such a file fails on its own run; it must not break every other flow's
        names.update(node.name for node in tree.body if isinstance(node, ast.ClassDef))
    return names
