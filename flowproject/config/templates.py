"""Find ``sql/<template>.sql``: a plain name inside the ``sql/`` of the flowproject.toml in use, nothing else."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import List, Optional

from ..errors import FlowprojectError
from .paths import CONFIG_FILENAME


class SqlTemplateError(FlowprojectError):
    """A ``sql/<template>.sql`` that is not a plain name, missing or unreadable."""

    headline = "SQL template error"


SQL_DIR_ENV = "FLOWPROJECT_SQL_DIR"
CONFIG_ENV = "FLOWPROJECT_CONFIG"  # loader.CONFIG_ENV; the loader imports this module
# A template is named, never addressed: no separators, no leading dot, so "../x",
# "/etc/x" and "a/b" cannot reach a file outside sql/.
TEMPLATE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def sql_dir(project_dir: Optional[Path] = None) -> Path:
    """The folder templates are read from: ``sql/`` beside the flowproject.toml in use.

    One rule in every install mode (editable, wheel, pod), in this order:
    ``$FLOWPROJECT_SQL_DIR`` when set; else ``sql/`` in ``project_dir`` (the folder of the
    config the caller chose), whether or not it exists, so an error names that folder; else,
    in a step running from Metaflow's code package (a pod), the package's ``sql/``, where
    BaseFlow packs the project's templates; else ``sql/`` beside ``$FLOWPROJECT_CONFIG`` or
    the nearest flowproject.toml above the current directory; else ``./sql``. (A flow passes
    the folder of the config it chose, ``--config flowconfig FILE`` included.) Never the folder of the installed library: with an editable
    install that would be this repository's templates, not the project's.
    """
    env = os.environ.get(SQL_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    if project_dir is not None:
        return (Path(project_dir) / "sql").resolve()
    packaged = _code_package_sql()
    if packaged is not None:
        return packaged
    config = _config_in_use()
    if config is not None:
        return (config.parent / "sql").resolve()
    return (Path.cwd() / "sql").resolve()


def _code_package_sql() -> Optional[Path]:
    try:
        from metaflow.packaging_sys import MetaflowCodeContent
    except ImportError:  # Metaflow is a dependency; without it there is no code package either
        return None
    if MetaflowCodeContent.get_info() is None:
        return None  # not running from an extracted code package
    import metaflow

    # Code content lands beside the packaged metaflow module (.mf_code/), sql/ included.
    return Path(metaflow.__file__).resolve().parents[1] / "sql"


def _config_in_use() -> Optional[Path]:
    # Without the loader (it reaches this module through config.checks): the same rule as
    # loader.locate, $FLOWPROJECT_CONFIG else the nearest flowproject.toml above the cwd.
    env = os.environ.get(CONFIG_ENV)
    if env:
        path = Path(env).expanduser()
        return path.resolve() if path.is_file() else None
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILENAME).is_file():
            return folder / CONFIG_FILENAME
    return None


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
