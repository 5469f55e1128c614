"""``[environments.<name>]`` overlays: which one applies to a run or deploy, and the merge.

The environment of a run follows its Metaflow branch, read from the command line of the
launching process (Metaflow parses the config there, before ``current.branch_name``
exists, then snapshots the result for every task):

- ``--production``: ``production``;
- ``--branch NAME``: the first ``[deploy] environments`` glob that matches the git branch
  (``$FLOWPROJECT_GIT_BRANCH``, which ``./deploy`` sets to the branch it decided on;
  else ``NAME``), and ``branch`` when none matches;
- neither (a user's own namespace): ``user``.

An explicit name (``flowproject validate --env NAME``, or ``environment = "NAME"`` at
the top level of the config) wins over the branch. The overlay of that name, when the
config has one, is merged over the top level (tables key by key, anything else replaced).
"""

from __future__ import annotations

import fnmatch
import os
import sys
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from ..errors import ConfigError
from . import hooks as _hooks
from .flows import FLOW_FIELDS, validate_flows
from .schema import (
    CONFIG_FILENAME,
    DATA_FIELDS,
    DEPLOY_FIELDS,
    GETTER_FIELDS,
    LAUNCH_FIELDS,
    SENSOR_FIELDS,
    TOP_LEVEL,
    _show,
    validate,
)

PRODUCTION = "production"
BRANCH = "branch"
USER = "user"
BUILT_IN = (PRODUCTION, BRANCH, USER)
GIT_BRANCH_ENV = "FLOWPROJECT_GIT_BRANCH"
# resolve(environment=TOP_LEVEL_ONLY): the top level alone, whatever the command line
# (./deploy's own process, which decides branches before any environment exists).
TOP_LEVEL_ONLY = ""
# Keys an overlay may not set: the project is one namespace whatever the environment,
# and the overlay is chosen by the mapping, so the mapping cannot live in an overlay.
NOT_IN_OVERLAY = ("project_name", "environment", "environments")
# [data] keys that decide the shape of the rest; a hook cannot stand in for them when
# hooks are not called (./deploy's own look at the config).
NO_HOOK_DATA_KEYS = ("type", "check_mode")
# What a hook-valued [data] key is checked as when hooks are not called.
_HOOK_STAND_INS = {"params": [], "timeout_seconds": 600}


def metaflow_branch(argv: Sequence[str]) -> Tuple[bool, Optional[str]]:
    """``(production, branch)`` from a Metaflow command line (``--production``, ``--branch X``)."""
    production, branch = False, None
    for i, arg in enumerate(argv):
        if arg == "--production":
            production = True
        elif arg == "--branch" and i + 1 < len(argv):
            branch = argv[i + 1]
        elif arg.startswith("--branch="):
            branch = arg.split("=", 1)[1]
    return production, branch


def decide(production: bool, branch: Optional[str], git_branch: Optional[str], mapping: Mapping[str, str]) -> str:
    """The environment name for a Metaflow branch (see the module docstring)."""
    if production:
        return PRODUCTION
    if branch is None:
        return USER
    name = git_branch or branch
    for pattern, env in mapping.items():
        if fnmatch.fnmatchcase(name, pattern):
            return env
    return BRANCH


def from_command_line(mapping: Mapping[str, str]) -> str:
    """The environment of the Metaflow command this process runs."""
    production, branch = metaflow_branch(sys.argv)
    return decide(production, branch, os.environ.get(GIT_BRANCH_ENV) or None, mapping)


def _merge(base: Any, overlay: Any) -> Any:
    if (
        isinstance(base, dict)
        and isinstance(overlay, dict)
        and not _hooks.is_hook(base)
        and not _hooks.is_hook(overlay)
    ):
        out = dict(base)
        for key, value in overlay.items():
            out[key] = _merge(base.get(key), value) if key in base else value
        return out
    return overlay


def _check_overlay_keys(overlay: Any, name: str, label: str) -> None:
    """Unknown keys in any overlay fail at once, not only when that environment is used."""
    prefix = "environments.%s" % name
    if not isinstance(overlay, dict):
        raise ConfigError(label, prefix, "expected a table")
    known = [k for k in TOP_LEVEL if k not in NOT_IN_OVERLAY]
    for key, value in overlay.items():
        if key not in known:
            raise ConfigError(
                label, "%s.%s" % (prefix, key), "not allowed in an overlay; allowed keys: %s" % ", ".join(known)
            )
        sections: Dict[str, Mapping[str, Any]]  # the field tables differ in their checkers' types
        sections = {"data": DATA_FIELDS, "sensor": SENSOR_FIELDS, "deploy": DEPLOY_FIELDS, "launch": LAUNCH_FIELDS}
        if key in sections and isinstance(value, dict):
            for sub in value:
                if sub not in sections[key] or (key == "deploy" and sub == "environments"):
                    allowed = [f for f in sections[key] if not (key == "deploy" and f == "environments")]
                    raise ConfigError(
                        label, "%s.%s.%s" % (prefix, key, sub), "unknown key; known keys: %s" % ", ".join(allowed)
                    )
        per_flow: Dict[str, Mapping[str, Any]]
        per_flow = {"getters": GETTER_FIELDS, "flows": FLOW_FIELDS}
        if key in per_flow and isinstance(value, dict):
            for flow, table in value.items():
                for sub in table if isinstance(table, dict) else ():
                    if sub not in per_flow[key]:
                        raise ConfigError(
                            label,
                            "%s.%s.%s.%s" % (prefix, key, flow, sub),
                            "unknown key; known keys: %s" % ", ".join(per_flow[key]),
                        )


def _has_path(tree: Any, dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return False
        tree = tree[part]
    return True


def resolve(
    raw: Mapping[str, Any],
    label: str = CONFIG_FILENAME,
    base_dir: Optional[Path] = None,
    *,
    environment: Optional[str] = None,
    flow: Optional[str] = None,
    call_hooks: bool = True,
) -> Dict[str, Any]:
    """Validate a parsed config: pick the environment, merge its overlay, call the hooks.

    ``environment`` forces one (``TOP_LEVEL_ONLY``: none; else the config's
    ``environment`` key, else the command line). Hooks in ``[data]`` and in ``[flows.<flow>.parameters]`` are called (every
    flow's when ``flow`` is None); with ``call_hooks=False`` none are, and hook tables
    stay in the result as written.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(label, "(top level)", "expected a table of settings; got %s" % _show(raw))
    raw = dict(raw)
    overlays = raw.pop("environments", None) or {}
    forced = raw.pop("environment", None)
    if not isinstance(overlays, dict):
        raise ConfigError(label, "environments", "expected a table of [environments.<name>] tables")
    for overlay_name, overlay in overlays.items():
        _check_overlay_keys(overlay, overlay_name, label)
    if forced is not None and not isinstance(forced, str):
        raise ConfigError(label, "environment", "expected an environment name; got %r" % (forced,))
    mapping = (raw.get("deploy") or {}).get("environments") if isinstance(raw.get("deploy"), dict) else None
    mapping = mapping or {}
    known = sorted(set(BUILT_IN) | set(overlays))
    # A resolved config (overlays already merged) keeps the mapping for reference only.
    if isinstance(mapping, dict) and overlays:
        for pattern, env in mapping.items():
            if env not in known:
                raise ConfigError(
                    label,
                    'deploy.environments."%s"' % pattern,
                    "expected an environment name (%s); got %r" % (", ".join(known), env),
                )
    if not (overlays or mapping or forced):
        name: Optional[str] = None  # a project without environments has none
    elif environment is not None:
        name = environment or None  # TOP_LEVEL_ONLY: no overlay
    elif forced is not None:
        name = forced
    else:
        name = from_command_line(mapping if isinstance(mapping, dict) else {})
    if name is not None and overlays and name not in known:
        raise ConfigError(label, "environment", "unknown environment %r; defined: %s" % (name, ", ".join(known)))

    overlay = overlays.get(name) or {} if name else {}
    merged = _merge(raw, overlay)
    try:
        return _validate(merged, label, base_dir, name, flow, call_hooks)
    except ConfigError as e:
        # A bad value the overlay set is reported where it was written.
        if name and _has_path(overlay, e.key.split(" ")[0]):
            raise ConfigError(e.file, "environments.%s.%s" % (name, e.key), e.detail) from None
        raise


def _validate(
    merged: Dict[str, Any],
    label: str,
    base_dir: Optional[Path],
    name: Optional[str],
    flow: Optional[str],
    call_hooks: bool,
) -> Dict[str, Any]:
    data = merged.get("data")
    held: Dict[str, Any] = {}
    if isinstance(data, dict):
        for key in NO_HOOK_DATA_KEYS:
            if _hooks.is_hook(data.get(key)):
                raise ConfigError(label, "data.%s" % key, "cannot be a hook: it decides which other keys apply")
        if call_hooks:
            data = _hooks.resolve_table(data, label, "data", base_dir)
        else:
            held = {k: v for k, v in data.items() if _hooks.is_hook(v)}
            data = {k: (_HOOK_STAND_INS.get(k, "<hook>") if k in held else v) for k, v in data.items()}
        merged = dict(merged, data=data)
    flows_raw = merged.pop("flows", None)
    out = validate(merged, label, base_dir)
    out["data"].update(held)
    flows = validate_flows(flows_raw, label)
    if call_hooks:
        for flow_name, options in flows.items():
            if flow is None or flow_name == flow:
                options["parameters"] = _hooks.resolve_table(
                    options["parameters"], label, "flows.%s.parameters" % flow_name, base_dir
                )
    out["flows"] = flows
    out["environment"] = name
    out["environments"] = {}
    return out
