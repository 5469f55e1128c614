"""Which flows of a project an event starts, and how to start one locally as Argo would.

Once deployed, Argo Events starts a flow when an event's name equals one of the names in
its ``@trigger`` (``@on_sensor_event`` adds one). A local run has no Sensor, so this module
reads the same declarations from each ``flows/*.flow.py`` (without importing or running
it) and builds the command line and environment Argo's Sensor and WorkflowTemplate would
give the run:

- the whole payload in ``METAFLOW_ARGO_EVENT_PAYLOAD_event_<sanitized name>`` (what
  ``current.trigger`` and ``self.sensor_value`` read);
- parameters from payload keys: the ``parameters`` mapping of ``@trigger``, or, for a flow
  with a single event and no mapping, every parameter named like a payload key;
- the Metaflow branch the event name carries: ``prod`` -> ``--production``,
  ``test.x`` -> ``--branch x``, ``user.u`` -> a plain run as user ``u``.
"""

from __future__ import annotations

import ast
import base64
import functools
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..config import loader as _config
from ..errors import FlowprojectError

# Metaflow's namespaced event names (metaflow.plugins.namespaced_events).
NAMESPACE_PREFIX = "mfns"
PAYLOAD_ENV_PREFIX = "METAFLOW_ARGO_EVENT_PAYLOAD_"
# click reads `run`'s options (flow parameters included) from METAFLOW_RUN_<NAME>; that is
# how parameters reach the run without knowing in advance which ones the flow has (the
# others are ignored), like Argo's METAFLOW_INIT_<NAME>.
PARAM_ENV_PREFIX = "METAFLOW_RUN_"
# `run`'s own options: a payload key with one of these names must not become a run option
# (Argo maps payload keys to flow parameters only).
RUN_OPTIONS = frozenset(
    {
        "tag",
        "tags",
        "max_workers",
        "max_num_splits",
        "max_log_size",
        "with",
        "decospecs",
        "run_id_file",
        "runner_attribute_file",
        "namespace",
        "user_namespace",
    }
)


# BaseFlow's test_mode: no event may switch it, locally or deployed (issue 17).
EVENT_PROOF_PARAMETERS = frozenset({"test_mode"})
# One environment variable holds at most 128 KiB on Linux (MAX_ARG_STRLEN).
MAX_PARAMETER_BYTES = 100 * 1024


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
                    found.problem = (
                        "%s: @on_sensor_event with no [sensor] event_name runs on SensorFlow's finish, not on an event"
                        % label
                    )
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


# -- event names and branches -----------------------------------------------------------------


def branch_of(event_name: str, project: str, sub: Subscription) -> Optional[str]:
    """The Metaflow branch in which ``sub`` equals ``event_name``, or None if it never does.

    A literal (non-namespaced) name is not tied to a branch: it returns ``""``.
    """
    if not sub.namespaced:
        return "" if event_name == sub.name else None
    head, tail = "%s.%s." % (NAMESPACE_PREFIX, project), "." + sub.name
    if not (event_name.startswith(head) and event_name.endswith(tail)):
        return None
    branch = event_name[len(head) : -len(tail)]
    kind, _, rest = branch.partition(".")
    if branch == "prod" or (kind in ("test", "user") and rest):
        return branch
    return None


def branch_flags(branch: str) -> Tuple[List[str], Dict[str, str]]:
    """Metaflow flags and environment for a run in project ``branch``."""
    if branch == "prod":
        return ["--production"], {}
    kind, _, rest = branch.partition(".")
    if kind == "test" and rest:
        return ["--branch", rest], {}
    if kind == "user" and rest:
        return [], {"METAFLOW_USER": rest}
    raise TriggerError(msg="not a Metaflow project branch: %r (expected prod, test.<name> or user.<name>)" % branch)


def sanitized_name(event_name: str) -> str:
    """Argo's name for an event's parameter (``ArgoWorkflows._process_triggers``)."""
    stripped = event_name.replace(".", "").replace("-", "").replace("@", "").replace("+", "")
    digest = base64.b32encode(hashlib.sha1(event_name.encode("utf-8")).digest()).decode("ascii")
    return "%s_%s" % (stripped, digest[:4].lower())


def _param_text(value: Any) -> str:
    # Argo passes strings as they are and everything else as JSON.
    return value if isinstance(value, str) else json.dumps(value)


def launch_spec(
    target: FlowTriggers,
    sub: Subscription,
    event_name: str,
    payload: Mapping[str, Any],
    branch: str,
    python: str = sys.executable,
) -> Tuple[List[str], Dict[str, str]]:
    """The command (without ``--run-id-file``) and extra environment for one triggered run."""
    flags, env = branch_flags(branch) if branch else ([], {})
    env[PAYLOAD_ENV_PREFIX + "event_" + sanitized_name(event_name)] = json.dumps(dict(payload))
    # Argo's Sensor (metaflow/plugins/argo/argo_workflows.py, _process_triggers and
    # _compile_sensor) maps parameter P from payload key K when `hasKey payload K`: an
    # exact, case-sensitive match. Explicit mappings are {P.lower(): K}; a single event
    # without one maps every declared parameter P to K == P.lower() (so a payload key
    # that is not already lower-case ASCII can never match).
    if sub.parameters:
        mapping = sub.parameters
    elif len(target.subscriptions) == 1:
        mapping = {k: k for k in payload if isinstance(k, str) and k.isascii() and k == k.lower()}
    else:
        mapping = {}
    for param, key in mapping.items():
        env_key = param.replace("-", "_")
        # ASCII only: str.upper() folds `tagſ` into `TAGS`, one of `run`'s own options.
        if not (env_key.isascii() and env_key.isidentifier()) or key not in payload:
            continue
        env_key = env_key.lower()
        if env_key in RUN_OPTIONS or env_key in EVENT_PROOF_PARAMETERS:
            continue
        text = _param_text(payload[key])
        if "\x00" in text:
            raise TriggerError(msg="payload key %r: a parameter value cannot contain NUL" % key)
        if len(text.encode("utf-8")) > MAX_PARAMETER_BYTES:
            raise TriggerError(
                msg="payload key %r: value over %d bytes for parameter %s" % (key, MAX_PARAMETER_BYTES, param)
            )
        env[PARAM_ENV_PREFIX + env_key.upper()] = text
    return [python, str(target.file), *flags, "run"], env


def triggered_by(
    event_name: str, project: str, flows: Sequence[FlowTriggers]
) -> List[Tuple[FlowTriggers, Subscription, str]]:
    """Every (flow, subscription, branch) that ``event_name`` starts."""
    out = []
    for target in flows:
        for sub in target.subscriptions:
            branch = branch_of(event_name, project, sub)
            if branch is not None:
                out.append((target, sub, branch))
                break
    return out


# -- inside the triggered run -------------------------------------------------------------------


def triggers_from_env(environ: Mapping[str, str]) -> List[Dict[str, Any]]:
    """``current.trigger``'s metadata from the payload variables, as Argo's decorator reads it."""
    found = []
    for key, raw in environ.items():
        if not key.startswith(PAYLOAD_ENV_PREFIX) or raw == "null":
            continue
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        found.append(
            {
                "timestamp": payload.get("timestamp"),
                "id": payload.get("id"),
                "name": payload.get("name"),
                "type": key[len(PAYLOAD_ENV_PREFIX) :].split("_", 1)[0],
            }
        )
    return found


@functools.cache
def local_trigger():
    """The step decorator BaseFlow puts on every step: ``current.trigger`` in local runs.

    On Argo, Metaflow's own decorator builds ``current.trigger`` from the payload
    variables; a local run started by ``flowproject events serve`` or ``flowproject
    trigger`` gets the same variables and, through this, the same ``current.trigger``.
    """
    import os

    from metaflow import current
    from metaflow.events import Trigger
    from metaflow.user_decorators.user_step_decorator import UserStepDecorator

    class local_event_trigger(UserStepDecorator):
        def pre_step(self, step_name, flow, inputs=None):
            if current.get("trigger") is None and not os.environ.get("ARGO_WORKFLOW_TEMPLATE"):
                found = triggers_from_env(os.environ)
                if found:
                    current._update_env({"trigger": Trigger(found)})

    return local_event_trigger
