"""Find ``sql/<template>.sql``: a plain name inside the project's ``sql/`` folder, nothing else."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import List, Optional

from ..errors import FlowprojectError


class SqlTemplateError(FlowprojectError):
    """A ``sql/<template>.sql`` that is not a plain name, missing or unreadable."""

    headline = "SQL template error"


SQL_DIR_ENV = "FLOWPROJECT_SQL_DIR"
# A template is named, never addressed: no separators, no leading dot, so "../x",
# "/etc/x" and "a/b" cannot reach a file outside sql/.
TEMPLATE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def sql_dir(project_dir: Optional[Path] = None) -> Path:
    """The folder templates are read from.

    ``$FLOWPROJECT_SQL_DIR`` when set; else ``sql/`` in ``project_dir`` (the folder of the
    flowproject.toml in use, when known); else ``sql/`` beside the ``flowproject``
    package (the code package a remote step runs from, and this repository); else
    ``./sql`` in the current directory.
    """
    env = os.environ.get(SQL_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    if project_dir is not None and (Path(project_dir) / "sql").is_dir():
        return (Path(project_dir) / "sql").resolve()
    # flowproject/config/templates.py -> the folder holding the flowproject package
    beside_package = Path(__file__).resolve().parents[2] / "sql"
    if beside_package.is_dir():
        return beside_package
    return (Path.cwd() / "sql").resolve()


def available(folder: Optional[Path] = None) -> List[str]:
    folder = folder or sql_dir()
    return sorted(p.stem for p in folder.glob("*.sql")) if folder.is_dir() else []


def template_path(name: str, project_dir: Optional[Path] = None) -> Path:
    """The file for template ``name`` (``"sensor"`` or ``"sensor.sql"``); errors say why not."""
    folder = sql_dir(project_dir)
    stem = name[:-4] if name.endswith(".sql") else name
    if not TEMPLATE_NAME_RE.fullmatch(stem) or ".." in stem:
        raise SqlTemplateError(
            msg="data.template: %r is not a plain template name (expected a name like 'sensor' for %s/sensor.sql)"
            % (name, folder)
        )
    path = folder / (stem + ".sql")
    if not path.is_file():
        names = available(folder)
        raise SqlTemplateError(
            msg="data.template: %s not found; available in %s: %s"
            % (path, folder, ", ".join(names) if names else "none (set %s?)" % SQL_DIR_ENV)
        )
    return path


def read_template(name: str, project_dir: Optional[Path] = None) -> str:
    path = template_path(name, project_dir)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise SqlTemplateError(msg="data.template: %s cannot be read: %s" % (path, e.strerror or e)) from None
