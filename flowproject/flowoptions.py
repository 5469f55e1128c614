"""``[flows.<FlowName>]``: per-flow options BaseFlow applies in every run and deployment.

- ``parameters``: defaults for the flow's own Parameters (type-checked against them);
- ``tags``: added to every run (at ``start`` for local runs; ``./deploy`` passes them to
  ``argo-workflows create --tag`` so the deployed template carries them);
- ``decorators``: step decorators for every step, in Metaflow's ``--with`` syntax;
- ``cron_schedule`` / ``timezone``: the schedule of a ``@scheduled`` flow;
- ``deploy_branches``: git-branch globs this flow deploys from (``./deploy`` skips it
  elsewhere).

Validation of the table is here (``validate_flows``); applying it is :class:`FlowOptions`,
a FlowMutator on BaseFlow, so no wrapper command is needed.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from typing import Any, Callable, Dict, List, Mapping, Optional

from metaflow import FlowMutator, current
from metaflow.exception import MetaflowException

from .errors import ConfigError, FlowprojectError
from .schema import CONFIG_FILENAME, _cron, _Validator

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


FLOW_FIELDS = {
    "parameters": (_table, None),
    "tags": (_tags, []),
    "decorators": (_decorators, []),
    "cron_schedule": (_cron, None),
    "timezone": (_timezone, None),
    "deploy_branches": (_globs, None),
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
        out[flow] = options
    return out


def options_for(config: Mapping[str, Any], flow: str) -> Dict[str, Any]:
    """The ``[flows.<flow>]`` options of a resolved config (defaults when absent)."""
    found = (config.get("flows") or {}).get(flow)
    return dict(found) if found else validate_flows({flow: {}})[flow]


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


# -- applying them ------------------------------------------------------------------------


def _label() -> str:
    from .config import chosen_file, display_path

    chosen = chosen_file()
    return display_path(chosen) if chosen is not None else CONFIG_FILENAME


def _declared_type(param) -> Any:
    # Before Parameter.init() the arguments given by name sit in _override_kwargs;
    # there is no public accessor for a Parameter's declared type or default.
    named = getattr(param, "_override_kwargs", {}) or {}
    declared = named.get("type") or param.kwargs.get("type")
    if declared is not None:
        return declared
    default = named.get("default", param.kwargs.get("default"))
    return type(default) if default is not None and not callable(default) else str


def _checked(value: Any, declared: Any, fail: Callable[[str], None]) -> Any:
    from metaflow.parameters import JSONTypeClass

    if isinstance(declared, JSONTypeClass):
        return value if isinstance(value, str) else json.dumps(value)
    if declared is bool:
        ok = isinstance(value, bool)
    elif declared is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif declared is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif declared is str:
        ok = isinstance(value, str)
    else:  # a click type or other converter: Metaflow converts strings itself
        ok = isinstance(value, (str, int, float, bool))
    if not ok:
        fail("expected a value of the Parameter's type (%s)" % getattr(declared, "__name__", declared))
    return value


def _set_defaults(mutable_flow, flow: str, values: Mapping[str, Any], label: str) -> None:
    from metaflow import Parameter

    params = {}
    for var, param in mutable_flow.parameters:
        params[param.name] = (var, param)
        params.setdefault(var, (var, param))
    for name, value in values.items():
        key = "flows.%s.parameters.%s" % (flow, name)
        if name not in params:
            raise ConfigError(
                label, key, "%s has no such Parameter; its parameters: %s" % (flow, ", ".join(sorted(p.name for _, p in params.values())) or "none")
            )
        var, param = params[name]
        if type(param) is not Parameter:  # IncludeFile and other subclasses read their own input
            raise ConfigError(label, key, "only a plain Parameter takes a default from the config; %s is a %s" % (name, type(param).__name__))

        def fail(expected: str, key: str = key, value: Any = value) -> None:
            raise ConfigError(label, key, "%s; got %r" % (expected, value))

        checked = _checked(value, _declared_type(param), fail)
        named = {k: v for k, v in (getattr(param, "_override_kwargs", {}) or {}).items() if v is not None}
        replacement = Parameter(param.name, **{**param.kwargs, **named, "default": checked})
        mutable_flow.add_parameter(var, replacement, overwrite=True)


class FlowOptions(FlowMutator):
    """Applies ``[flows.<FlowName>]`` to the flow being run or deployed (see module doc)."""

    def pre_mutate(self, mutable_flow) -> None:
        from metaflow.user_decorators.mutable_step import MutableStep

        config = dict(mutable_flow.configs)["flowconfig"]
        # MutableFlow names its class only through this attribute.
        flow = mutable_flow._flow_cls.__name__
        options = options_for(config, flow)
        label = _label()
        if options["parameters"]:
            _set_defaults(mutable_flow, flow, options["parameters"], label)
        for name, step in mutable_flow.steps:
            for i, spec in enumerate(options["decorators"]):
                try:
                    # A decorator written on the step itself wins over the config's.
                    step.add_decorator(spec, duplicates=MutableStep.IGNORE)
                except MetaflowException as e:
                    raise ConfigError(label, "flows.%s.decorators[%d]" % (flow, i), " ".join(str(e).split())[:200]) from None
            if name == "start":
                step.add_decorator(_recorder())


# The environment of the task running in this process (set before its step body runs),
# for cards rendered inside the step (flowproject.cards).
_task_environment: Optional[str] = None


def task_environment() -> Optional[str]:
    """The environment of the running task (``None`` outside a task or without overlays)."""
    return _task_environment


@functools.lru_cache(maxsize=None)
def _recorder():
    """The step decorator on ``start``: the run's tags and its environment artifact.

    Built on first use, one class per process, like ``flowproject.provenance.tagger``.
    """
    from metaflow import Run
    from metaflow.user_decorators.user_step_decorator import UserStepDecorator

    class record_flow_options(UserStepDecorator):
        def pre_step(self, step_name, flow, inputs=None):
            global _task_environment
            config = flow.flowconfig
            _task_environment = config.get("environment")
            if _task_environment:  # projects without environments get no extra artifact
                setattr(flow, ENVIRONMENT_ARTIFACT, _task_environment)
            if current.get("retry_count"):
                return  # tagged on the first attempt
            tags = run_tags(config, current.flow_name)
            if tags:
                Run("%s/%s" % (current.flow_name, current.run_id), _namespace_check=False).add_tags(tags)

    return record_flow_options


class scheduled(FlowMutator):
    """``@scheduled`` above a flow class: deploy it on a cron schedule.

    ``[flows.<FlowName>] cron_schedule`` and ``timezone`` when set, else ``[sensor]
    cron_schedule`` (UTC). Opt-in per flow because most flows run on events or by hand.
    """

    def pre_mutate(self, mutable_flow) -> None:
        config = dict(mutable_flow.configs)["flowconfig"]
        flow_name = mutable_flow._flow_cls.__name__
        if mutable_flow.has_decorator("schedule"):
            # Overriding it silently would deploy a schedule nobody wrote down in one place.
            raise FlowprojectError(
                "%s has both @scheduled and @schedule; keep one: @scheduled takes its cron from "
                "[flows.%s] cron_schedule or [sensor] cron_schedule" % (flow_name, flow_name)
            )
        options = options_for(config, flow_name)
        cron = options["cron_schedule"] or config["sensor"]["cron_schedule"]
        mutable_flow.add_decorator(
            "schedule", deco_kwargs={"cron": cron, "timezone": options["timezone"]}, duplicates=mutable_flow.OVERRIDE
        )
