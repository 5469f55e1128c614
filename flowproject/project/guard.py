"""What ``init`` and ``new`` check before they write: names, folders, and links.

A name that only *starts* like a valid one (``"p\\n"``), one longer than Metaflow or the file
system allows, a folder path the system cannot use, a ``pyproject.toml`` of another shape:
each is one line. Nothing is written through a symbolic link that leads out of the folder
being set up (``flows -> /elsewhere``, ``.gitignore -> ~/.gitignore``), nor through a link
that leads nowhere: both are named as what they are.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, Iterable, Optional, Tuple

from ..errors import FlowprojectError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

# How much of a rejected name an error shows.
SHOWN_CHARS = 120


class ScaffoldError(FlowprojectError):
    headline = "flowproject scaffold error"

    def __str__(self) -> str:
        return self.message


def shown(value: Any) -> str:
    """``repr(value)``, cut short with its length when long: errors stay readable lines."""
    text = repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    return "%s... (%d characters)" % (text[:SHOWN_CHARS], len(str(value)))


def check_name(name: Any, pattern: re.Pattern[str], max_chars: int, what: str, expected: str) -> str:
    """``name`` when the whole of it matches ``pattern`` within ``max_chars``; else one line."""
    if not isinstance(name, str) or not pattern.fullmatch(name) or len(name) > max_chars:
        raise ScaffoldError(
            msg="%s: expected %s (at most %d characters); got %s" % (what, expected, max_chars, shown(name))
        )
    return name


def folder(directory: Any, what: str) -> Path:
    """``directory`` resolved, when it is an existing folder; else one line naming it."""
    try:
        root = Path(directory).resolve()
        if root.is_dir():
            return root
    except OSError as e:  # ENAMETOOLONG, ELOOP, EACCES on a parent
        raise ScaffoldError(msg="%s %s: cannot be used: %s" % (what, shown(str(directory)), e.strerror or e)) from None
    raise ScaffoldError(msg="%s %s is not a folder" % (what, shown(str(directory))))


def pyproject_name(pyproject: Path) -> Optional[str]:
    """``[project] name`` of a pyproject.toml when it has that shape; None otherwise."""
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None  # missing or broken: the user's to fix; the folder name still works
    project = data.get("project")
    name = project.get("name") if isinstance(project, dict) else None
    return name if isinstance(name, str) else None


def _inside(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip(os.sep) + os.sep)


def check_no_escaping_links(dest: Path, top: Path, shown_from: Path) -> None:
    """Refuse, in one line, when ``dest`` or a folder on the way to it from ``top`` is a link
    that leads out of ``top`` or to nothing. Paths are shown relative to ``shown_from``."""
    top_real = os.path.realpath(top)
    here = top
    for part in dest.relative_to(top).parts:
        here = here / part
        if not os.path.lexists(here):
            return  # created by flowproject itself, inside the folder
        if not os.path.islink(here):
            continue
        label = os.path.relpath(here, shown_from)
        if not os.path.exists(here):
            raise ScaffoldError(
                msg="%s is a link to %s, which does not exist; remove the link or create what it points to"
                % (label, os.readlink(here))
            )
        target = os.path.realpath(here)
        if not _inside(target, top_real):
            raise ScaffoldError(
                msg="%s is a link to %s, outside %s; flowproject writes nothing through it: "
                "replace the link with a file or folder of its own" % (label, target, top)
            )


def check_all(planned: Iterable[Tuple[Path, Path]], shown_from: Path) -> None:
    """``check_no_escaping_links`` for each ``(dest, top)``, before anything is written."""
    for dest, top in planned:
        check_no_escaping_links(dest, top, shown_from)
