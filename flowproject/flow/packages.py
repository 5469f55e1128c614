"""The team's own Python packages, importable from ``flows/`` everywhere a flow runs.

The rule: a folder beside ``flowproject.toml`` with an ``__init__.py`` (other than
``flows/``, ``tests/`` and ``flowproject/``) is a team package. Importing flowproject puts
the project folder at the *end* of ``sys.path`` when the running script is a flow of that
project (a local run, its task processes, Runner's and ``./deploy``'s subprocesses all run
the flow file), so ``import teampkg`` in ``flows/x.flow.py`` works after
``from flowproject import ...``; BaseFlow adds the packages' ``.py`` files to the code
package, where they sit beside the flow file, so pods import them the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

from ..config import loader as _config

NOT_PACKAGES = ("flows", "tests", "flowproject")


def team_packages(root: Path) -> List[Path]:
    """The team package folders of the project in ``root``."""
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return []
    return [
        p
        for p in entries
        if p.is_dir()
        and not p.name.startswith((".", "_"))
        and p.name not in NOT_PACKAGES
        and (p / "__init__.py").is_file()
    ]


def script_project_root(argv0: Optional[str] = None) -> Optional[Path]:
    """The project folder of the flow file this process runs, if it is one."""
    script = argv0 if argv0 is not None else (sys.argv[0] if sys.argv else "")
    if not script.endswith(".py"):
        return None
    path = Path(script)
    if not path.is_file():
        return None
    found = _config.find_config(path.resolve().parent)
    return found.parent if found is not None else None


def add_project_root_to_path() -> None:
    """Append the running flow's project folder to ``sys.path`` (last: it never shadows
    an installed package)."""
    root = script_project_root()
    if root is not None and team_packages(root) and str(root) not in sys.path:
        sys.path.append(str(root))


def package_files(root: Optional[Path]) -> Iterator[Tuple[str, str]]:
    """(file, path in the code package) for every ``.py`` file of the team packages."""
    if root is None:
        return
    for pkg in team_packages(root):
        for path in sorted(pkg.rglob("*.py")):
            if "__pycache__" not in path.parts:
                yield str(path), path.relative_to(root).as_posix()
