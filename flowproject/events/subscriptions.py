"""The events each flow file subscribes to, read from its decorators without running it.

``@trigger``, ``@on_sensor_event`` and ``@trigger_on_finish`` are read with ``ast`` from
``flows/*.flow.py``, so listing a project's subscriptions never imports a flow's code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..config import loader as _config
from ..errors import FlowprojectError

# Metaflow's namespaced event names (metaflow.plugins.namespaced_events).
NAMESPACE_PREFIX = "mfns"


class TriggerError(FlowprojectError):
    headline = "Cannot trigger flow"


@dataclass(frozen=True)
class Subscription:
    """One event a flow listens to: a literal name or ``mfns.<project>.<branch>.<logical>``."""

    name: str
    namespaced: bool
    parameters: Optional[Dict[str, str]] = None  # flow parameter -> payload key
    # "event" (@trigger) or "run" (@trigger_on_finish of flow ``name``, maybe in project/branch)
    kind: str = "event"
    project: Optional[str] = None
    branch: Optional[str] = None

    def resolve(self, project: str, branch: str) -> str:
        if self.kind == "run":
            # ArgoWorkflows._process_triggers: what the upstream's end step publishes on success.
            return "metaflow.%s.%s.%s.end" % (self.project or project, self.branch or branch, self.name)
        if not self.namespaced:
            return self.name
        return "%s.%s.%s.%s" % (NAMESPACE_PREFIX, project, branch, self.name)


@dataclass
class FlowTriggers:
    """A flow file, its flow class and the events that start it once deployed."""

    file: Path
    flow: str
    subscriptions: List[Subscription] = field(default_factory=list)
    problem: Optional[str] = None  # a declaration this module cannot evaluate
    # @trigger(options=...) / @trigger_on_finish(options=...), e.g. {"reset_at": {"cron": ...}}
    options: Dict[str, Any] = field(default_factory=dict)


# -- reading the declarations ---------------------------------------------------------------


def _name_of(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _event(node: ast.expr, label: str) -> Subscription:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return Subscription(node.value, namespaced=False)
    if (
        isinstance(node, ast.Call)
        and _name_of(node) in ("namespaced_event_name", "event_name")
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return Subscription(node.args[0].value, namespaced=True)
    if isinstance(node, ast.Dict):
        entries = {k.value: v for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant)}
        if "name" not in entries:
            raise TriggerError(msg="%s: @trigger event without a 'name'" % label)
        base = _event(entries["name"], label)
        params = entries.get("parameters")
        mapping: Optional[Dict[str, str]] = None
        if params is not None:
            try:
                raw = ast.literal_eval(params)
            except ValueError:
                raise TriggerError(msg="%s: @trigger parameters must be literal" % label) from None
            mapping = {}
            for item in raw.items() if isinstance(raw, dict) else raw:
                key, value = (item, item) if isinstance(item, str) else item
                mapping[str(key).lower()] = str(value)
        return Subscription(base.name, base.namespaced, mapping)
    raise TriggerError(
        msg="%s: @trigger event %s is not a string, namespaced_event_name('...') or {'name': ...}"
        % (label, ast.unparse(node))
    )


def _literal(node: ast.expr, label: str) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise TriggerError(msg="%s: %s must be a literal" % (label, ast.unparse(node))) from None


def _read_on_finish(deco: ast.Call, found: FlowTriggers, label: str) -> None:
    """``@trigger_on_finish(flow=...)`` / ``(flows=[...])``: names or ``{"name", "project", "project_branch"}``."""
    for kw in deco.keywords:
        value = _literal(kw.value, label)
        if kw.arg == "options":
            found.options = value
        for item in [value] if kw.arg == "flow" else value if kw.arg == "flows" else []:
            spec = {"name": item} if isinstance(item, str) else item
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                raise TriggerError(msg="%s: @trigger_on_finish flow %r is not a name or {'name': ...}" % (label, item))
            project, branch = spec.get("project"), spec.get("project_branch")
            found.subscriptions.append(Subscription(spec["name"], True, kind="run", project=project, branch=branch))


def _sensor_flow(deco: ast.expr, label: str) -> str:
    """``@on_sensor_event(sensor_flow=...)``, by default SensorFlow (flowproject.events.publishing)."""
    for kw in deco.keywords if isinstance(deco, ast.Call) else []:
        if kw.arg == "sensor_flow":
            name = _literal(kw.value, label)
            if not isinstance(name, str):
                raise TriggerError(msg="%s: @on_sensor_event sensor_flow must be a flow name" % label)
            return name
    return "SensorFlow"


def read_triggers(file: Path, sensor_event: Optional[str]) -> FlowTriggers:
    """The events that start the flow in ``file``; ``sensor_event`` is ``[sensor] event_name``."""
    from ..config.discovery import FlowFileError, find_flow_class

    label = _config.display_path(file)
    source = file.read_text(encoding="utf-8")
    try:
        flow = find_flow_class(source, label)
    except FlowFileError as e:
        return FlowTriggers(file, file.name.split(".")[0], problem=str(e))
    found = FlowTriggers(file, flow)
    cls = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == flow)
    try:
        for deco in cls.decorator_list:
            kind = _name_of(deco)
            if kind == "on_sensor_event":
                if sensor_event:
                    found.subscriptions.append(Subscription(sensor_event, namespaced=True))
                else:
                    # No event_name: on_sensor_event becomes @trigger_on_finish(flow=sensor_flow).
                    found.subscriptions.append(Subscription(_sensor_flow(deco, label), True, kind="run"))
            elif kind == "trigger" and isinstance(deco, ast.Call):
                for kw in deco.keywords:
                    if kw.arg == "event":
                        found.subscriptions.append(_event(kw.value, label))
                    elif kw.arg == "events" and isinstance(kw.value, (ast.List, ast.Tuple)):
                        found.subscriptions.extend(_event(e, label) for e in kw.value.elts)
                    elif kw.arg == "options":
                        found.options = _literal(kw.value, label)
            elif kind == "trigger_on_finish" and isinstance(deco, ast.Call):
                _read_on_finish(deco, found, label)
    except TriggerError as e:
        found.subscriptions, found.problem = [], str(e)
    return found


def project_flows(root: Path) -> Tuple[Dict[str, Any], List[FlowTriggers]]:
    """The project's config and every ``flows/**/*.flow.py`` with its subscriptions."""
    from ..config.discovery import flow_files

    cfg = _config.load(_config.locate(root))
    event = cfg["sensor"]["event_name"]
    return cfg, [read_triggers(p, event) for p in flow_files(root)]
