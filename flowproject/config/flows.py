"""``[flows.<FlowName>]``: per-flow options BaseFlow applies in every run and deployment.

- ``parameters``: defaults for the flow's own Parameters (type-checked against them);
- ``tags``: added to every run (at ``start`` for local runs; ``./deploy`` passes them to
  ``argo-workflows create --tag`` so the deployed template carries them);
- ``decorators``: step decorators for every step, in Metaflow's ``--with`` syntax;
- ``cron_schedule`` / ``timezone``: the schedule of a ``@scheduled`` flow;
- ``deploy_branches``: git-branch globs this flow deploys from (``./deploy`` skips it
  elsewhere);
- ``launch``: this flow's ``[launch]`` keys, over the project's (``launch_for``).

Validation of the table is here (``validate_flows``); applying it is
``flowproject.flow.options.FlowOptions``, a FlowMutator on BaseFlow, so no wrapper command is needed.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Callable, Dict, List, Mapping, Tuple

from metaflow.exception import MetaflowException

from .fields import cron
from .paths import CONFIG_FILENAME
from .validator import _Validator

# Metaflow refuses longer tags (tagging_util.MAX_TAG_SIZE).
MAX_TAG_LENGTH = 500
ENVIRONMENT_TAG = "environment:%s"
ENVIRONMENT_ARTIFACT = "flowproject_environment"


def _tags(value: Any, fail: Callable[[str], None]) -> List[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) and 0 < len(t) <= MAX_TAG_LENGTH for t in value):
        fail("expected an array of non-empty strings of at most %d characters" % MAX_TAG_LENGTH)
    return value


def _decorators(value: Any, fail: Callable[[str], None]) -> List[str]:
    from metaflow.decorators import extract_step_decorator_from_decospec

    if not isinstance(value, list) or not all(isinstance(d, str) and d for d in value):
        fail('expected an array of step decorators like "retry:times=2"')
    for spec in value:
        try:
            extract_step_decorator_from_decospec(spec)
        except (MetaflowException, ValueError) as e:
            detail = " ".join(str(getattr(e, "message", e) or e).split()).rstrip(".")
            fail("%r is not a valid step decorator (%s)" % (spec, detail[:200]))
    return value


def _timezone(value: Any, fail: Callable[[str], None]) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        if not isinstance(value, str):
            raise ValueError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        fail("expected an IANA time zone like 'Europe/Paris'")
    return value


def _globs(value: Any, fail: Callable[[str], None]) -> List[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        fail('expected a non-empty array of git-branch globs like ["main", "release/*"]')
    return value


def _table(value: Any, fail: Callable[[str], None]) -> Dict[str, Any]:
    if not isinstance(value, dict):
        fail("expected a table of parameter name = value")
    return value


def _launch_table(value: Any, fail: Callable[[str], None]) -> Dict[str, Any]:
    if not isinstance(value, dict):
        from .schema import LAUNCH_FIELDS  # the schema loads where a config is validated, not in every task

        fail("expected a table of [launch] keys (%s)" % ", ".join(LAUNCH_FIELDS))
    return value


FLOW_FIELDS: Dict[str, Tuple[Callable[..., Any], Any]] = {
    "parameters": (_table, None),
    "tags": (_tags, []),
    "decorators": (_decorators, []),
    "cron_schedule": (cron, None),
    "timezone": (_timezone, None),
    "deploy_branches": (_globs, None),
    # Checked key by key against LAUNCH_FIELDS in validate_flows, where the key path is known.
    "launch": (_launch_table, None),
}


def validate_flows(raw: Any, label: str = CONFIG_FILENAME) -> Dict[str, Dict[str, Any]]:
    """``[flows.<FlowName>]`` tables with every default filled in."""
    v = _Validator(label)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        v.fail("flows", "expected a table of [flows.<FlowName>] tables", raw)
    out = {}
    for flow, table in raw.items():
        if not flow.isidentifier():
            v.fail("flows.%s" % flow, "expected a flow class name")
        options = v.table(table, "flows.%s" % flow, FLOW_FIELDS)
        options["parameters"] = dict(options["parameters"] or {})
        if options["launch"] is not None:
            from .schema import LAUNCH_FIELDS

            options["launch"] = v.table(options["launch"], "flows.%s.launch" % flow, LAUNCH_FIELDS)
        out[flow] = options
    return out


def options_for(config: Mapping[str, Any], flow: str) -> Dict[str, Any]:
    """The ``[flows.<flow>]`` options of a resolved config (defaults when absent)."""
    found = (config.get("flows") or {}).get(flow)
    return dict(found) if found else validate_flows({flow: {}})[flow]


def launch_for(config: Mapping[str, Any], flow: str) -> Dict[str, Any]:
    """``[launch]`` for one flow: ``[flows.<flow>.launch]`` keys over the project's (after
    overlays); ``env`` tables are merged, the flow's variables winning."""
    merged = dict(config.get("launch") or {})
    own = options_for(config, flow).get("launch") or {}
    for key, value in own.items():
        if value is None:
            continue
        merged[key] = {**(merged.get(key) or {}), **value} if key == "env" else value
    return merged


def deploys_from(options: Mapping[str, Any], git_branch: str) -> bool:
    """Whether a flow with these options deploys from ``git_branch``."""
    patterns = options.get("deploy_branches")
    return not patterns or any(fnmatch.fnmatchcase(git_branch, p) for p in patterns)


def run_tags(config: Mapping[str, Any], flow: str) -> List[str]:
    """The tags every run of ``flow`` carries: ``[flows.<flow>] tags`` and its environment."""
    tags = list(options_for(config, flow)["tags"])
    if config.get("environment"):
        tags.append(ENVIRONMENT_TAG % config["environment"])
    return tags
