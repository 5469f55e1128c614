"""Which branch a getter reads: ``[getters] read_branch`` and ``[getters.<Flow>] read_branch``.

A run's getters (``get_artifact``, ``latest_successful_run``) read the run's own branch
unless the config says otherwise: a feature branch can read production's results on
purpose, while everything the run writes (its tags, its latest-run pointer) stays in its
own namespace. ``[getters.<Flow>]`` names the *producer* flow, as pins do; the
project-wide key applies to every other producer; an environment overlay may set either.
Precedence for one read: ``branch=`` passed to the getter, a pin (``run_id``) of the
producer, its ``read_branch``, the project-wide ``read_branch``, the run's own branch
(``prod`` outside a run).
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Tuple

# The resolved config of the flow running in this process (BaseFlow's step decorator sets
# it), so the module-level getters read_branch as self.get_artifact does, in a pod too.
_running_config: Optional[Mapping[str, Any]] = None


def remember_running_config(config: Optional[Mapping[str, Any]]) -> None:
    global _running_config
    _running_config = config


def running_config() -> Optional[Mapping[str, Any]]:
    return _running_config


def _is_table(value: Any) -> bool:
    # Metaflow's ConfigValue (self.flowconfig) is a Mapping; a resolved config holds dicts.
    return isinstance(value, Mapping)


def configured_branch(config: Optional[Mapping[str, Any]], flow_name: str) -> Tuple[Optional[str], Optional[str]]:
    """``(branch, key)`` the config sets for getters reading ``flow_name``, ``key`` naming
    where it was set; ``(None, None)`` when the config leaves it to the run's own branch."""
    getters = (config or {}).get("getters") or {}
    table = getters.get(flow_name)
    if isinstance(table, Mapping) and table.get("read_branch"):
        return table["read_branch"], "getters.%s.read_branch" % flow_name
    default = getters.get("read_branch")
    if isinstance(default, str):
        return default, "getters.read_branch"
    return None, None


def describe(config: Mapping[str, Any]) -> List[str]:
    """One line per configured getter saying what it reads (``flowproject validate``);
    empty when the config has no ``[getters]``."""
    getters = config.get("getters") or {}
    if not getters:
        return []
    lines = []
    for flow in sorted(k for k, t in getters.items() if _is_table(t)):
        table = getters[flow]
        if table.get("run_id"):
            what = "the pinned run %s/%s (getters.%s.run_id)" % (flow, table["run_id"], flow)
        else:
            branch, key = configured_branch(config, flow)
            what = "branch %r (%s)" % (branch, key)
        lines.append("getters: %s: reads %s" % (flow, what))
    default = getters.get("read_branch")
    if isinstance(default, str):
        lines.append("getters: every other flow: reads branch %r (getters.read_branch)" % default)
    else:
        lines.append("getters: every other flow: reads the running flow's own branch ('prod' outside a run)")
    return lines
