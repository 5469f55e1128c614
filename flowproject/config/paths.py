"""What the config file is called, and how files are named in messages (shared by loading,
discovery and checks)."""

from __future__ import annotations

from pathlib import Path
from typing import Union

CONFIG_FILENAME = "flowproject.toml"


def display_path(path: Union[str, Path]) -> str:
    """A path as the user would type it: relative to the cwd when below it."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
