"""A ``flowproject/`` folder in a user's repository that is not the library.

The Outerbounds scaffold vendors its own ``flowproject/`` package at the repository root.
From that folder, ``python -m ...`` and root-level flow scripts import it instead of the
library, and its ``__init__`` loads ``.env`` into every process. Every entry point checks
for it and stops with one line naming the folder and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from ..errors import FlowprojectError


class ShadowingFolderError(FlowprojectError):
    headline = "flowproject error"

    def __str__(self) -> str:
        return self.message


def library_dir() -> Path:
    """The folder of the flowproject package in use (this file is in its config/)."""
    return Path(__file__).resolve().parent.parent


def foreign_folder(project_root: Union[str, Path, None]) -> Optional[Path]:
    """``<project_root>/flowproject`` when it exists and is not the library in use."""
    if project_root is None:
        return None
    folder = Path(project_root) / "flowproject"
    if not folder.is_dir() or folder.resolve() == library_dir():
        return None
    # An empty leftover (only caches) imports nothing.
    if not any(p.suffix == ".py" for p in folder.rglob("*.py")):
        return None
    return folder


def check(project_root: Union[str, Path, None]) -> None:
    """Raise a one-line ShadowingFolderError if ``project_root`` has a foreign flowproject/."""
    folder = foreign_folder(project_root)
    if folder is not None:
        raise ShadowingFolderError(
            msg="%s/ is not the flowproject library (a vendored copy, like the Outerbounds scaffold's) and "
            "shadows it; run `flowproject migrate` to convert the repository, or delete the folder" % folder.resolve()
        )
