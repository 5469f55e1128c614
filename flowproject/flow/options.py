"""Applying ``[flows.<FlowName>]`` (validated in ``flowproject.config.flows``) to a flow:
:class:`FlowOptions` (parameter defaults, tags, decorators) and ``@scheduled``."""

from __future__ import annotations

import functools
import json
from typing import Any, Callable, Mapping, Optional

from metaflow import FlowMutator
from metaflow.exception import MetaflowException

from ..config.flows import ENVIRONMENT_ARTIFACT, options_for, run_tags
from ..config.paths import CONFIG_FILENAME
from ..errors import ConfigError, FlowprojectError
from ..getters.run_context import current

# -- applying them ------------------------------------------------------------------------


def _label() -> str:
    from ..config.loader import chosen_file, display_path

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
                label,
                key,
                "%s has no such Parameter; its parameters: %s"
                % (flow, ", ".join(sorted(p.name for _, p in params.values())) or "none"),
            )
        var, param = params[name]
        if type(param) is not Parameter:  # IncludeFile and other subclasses read their own input
            raise ConfigError(
                label,
                key,
                "only a plain Parameter takes a default from the config; %s is a %s" % (name, type(param).__name__),
            )

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
                    raise ConfigError(
                        label, "flows.%s.decorators[%d]" % (flow, i), " ".join(str(e).split())[:200]
                    ) from None
            if name == "start":
                step.add_decorator(_recorder())


# The environment of the task running in this process (set before its step body runs),
# for cards rendered inside the step (flowproject.sensor.card).
_task_environment: Optional[str] = None


def task_environment() -> Optional[str]:
    """The environment of the running task (``None`` outside a task or without overlays)."""
    return _task_environment


@functools.cache
def _recorder():
    """The step decorator on ``start``: the run's tags and its environment artifact.

    Built on first use, one class per process, like ``flowproject.flow.provenance.tagger``.
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
