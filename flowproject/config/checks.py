"""Checks of a valid config against the project's files, so mistakes stop a run before ``start``.

``flowproject.config.schema`` checks each key on its own; this checks what the keys point at:
the Snowflake template in ``sql/``, what kind of thing ``data.path`` is, and that every
``[getters.<FlowName>]`` names a flow some file in ``flows/`` defines. It runs wherever
the config is parsed (``flowproject validate`` and the start of every run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

from ..errors import ConfigError, warn
from .discovery import FLOWS_DIR, defined_flows

# check_mode -> whether it watches a folder (True) or one file (False).
WATCHES_FOLDER = {"files_metadata": True, "file_modified_ts": False, "file_size": False}


def check(cfg: Mapping[str, Any], label: str, base_dir: Optional[Path]) -> None:
    """Raise ConfigError for a config whose files do not fit it; warn about likely slips.

    ``base_dir`` is the config file's folder; None when the config arrived as a value
    (``--config-value``, a pod), where only what needs no project folder is checked.
    """
    data = cfg["data"]
    # A hook not called here (./deploy's own load) is checked in the flow's process.
    if data["type"] == "snowflake" and isinstance(data.get("template"), str):
        _check_template(data["template"], label, base_dir)
    if data["type"] == "local" and isinstance(data["path"], str):
        _check_local_path(Path(data["path"]), data["check_mode"], label)
    if base_dir is not None and cfg.get("getters"):
        _check_getters(cfg["getters"], label, Path(base_dir))


def _check_template(name: str, label: str, base_dir: Optional[Path]) -> None:
    from . import templates
    from .templates import SqlTemplateError

    if base_dir is None:
        # Without the project folder the template cannot be looked up; a name that
        # escapes sql/ is wrong anywhere.
        stem = name[:-4] if name.endswith(".sql") else name
        if templates.TEMPLATE_NAME_RE.fullmatch(stem) and ".." not in stem:
            return
    try:
        templates.template_path(name, Path(base_dir) if base_dir is not None else None)
    except SqlTemplateError as e:
        detail = str(e)
        prefix = "data.template: "
        raise ConfigError(
            label, "data.template", detail[len(prefix) :] if detail.startswith(prefix) else detail
        ) from None


def _check_local_path(path: Path, mode: str, label: str) -> None:
    try:
        exists = path.exists()
    except OSError as e:  # ENAMETOOLONG, EACCES on a parent: pathlib raises those
        raise ConfigError(label, "data.path", "cannot be looked at: %s" % (e.strerror or e)) from None
    if mode not in WATCHES_FOLDER or not exists:
        return  # a missing path is observed as "missing", not an error
    if WATCHES_FOLDER[mode] and not path.is_dir():
        raise ConfigError(
            label,
            "data.path",
            "%s is a file; check_mode 'files_metadata' watches a folder "
            "(use 'file_modified_ts' or 'file_size' for one file)" % path,
        )
    if not WATCHES_FOLDER[mode] and path.is_dir():
        raise ConfigError(
            label,
            "data.path",
            "%s is a folder; check_mode '%s' watches one file (use 'files_metadata' for a folder)" % (path, mode),
        )


def _check_getters(getters: Mapping[str, Any], label: str, base_dir: Path) -> None:
    flows_dir = base_dir / FLOWS_DIR
    if not flows_dir.is_dir():
        return
    known = defined_flows(flows_dir)
    for flow in getters:
        if flow not in known and isinstance(getters[flow], Mapping):  # not [getters] read_branch
            warn(
                "%s: getters.%s: no file in %s/ defines this flow (flows there: %s); "
                "the pin applies only if another project has a flow of that name"
                % (label, flow, FLOWS_DIR, ", ".join(sorted(known)) or "none")
            )
