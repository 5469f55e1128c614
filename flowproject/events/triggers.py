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

import base64
import functools
import hashlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from .._lazy import exports
from ..getters import payloads as _payloads
from .subscriptions import (  # noqa: F401 - re-exported: the names callers know
    NAMESPACE_PREFIX,
    FlowTriggers,
    Subscription,
    TriggerError,
    project_flows,
    read_triggers,
)

# Moved to flowproject.events.current_trigger (all a task process needs); still found here.
if TYPE_CHECKING:
    from .current_trigger import local_trigger, triggers_from_env  # noqa: F401
__getattr__, __dir__ = exports(__name__)

PAYLOAD_ENV_PREFIX = _payloads.PAYLOAD_ENV_PREFIX
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
# Parameters reach the run in its environment (METAFLOW_RUN_<NAME>): one variable holds
# at most 128 KiB on Linux (MAX_ARG_STRLEN) and all of them with the command line at most
# ARG_MAX (usually 2 MiB). Payloads have no such bound: they go in files (getters.payloads).
MAX_PARAMETER_BYTES = 100 * 1024
MAX_PARAMETERS_TOTAL_BYTES = 1024 * 1024


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
        unfit = "\x00" in text or len(text.encode("utf-8")) > MAX_PARAMETER_BYTES
        if unfit and not sub.parameters and env_key not in declared_parameters(target.file):
            # Mapped only by guess (the flow declares no such Parameter): the value stays
            # in the payload, where nothing bounds its size.
            continue
        if "\x00" in text:
            raise TriggerError(msg="payload key %r: a parameter value cannot contain NUL" % key)
        if len(text.encode("utf-8")) > MAX_PARAMETER_BYTES:
            raise TriggerError(
                msg="payload key %r: value over %d bytes for parameter %s" % (key, MAX_PARAMETER_BYTES, param)
            )
        env[PARAM_ENV_PREFIX + env_key.upper()] = text
    total = sum(len(v.encode("utf-8")) for k, v in env.items() if k.startswith(PARAM_ENV_PREFIX))
    if total > MAX_PARAMETERS_TOTAL_BYTES:
        raise TriggerError(
            msg="payload of %s: parameter values total over %d bytes" % (event_name, MAX_PARAMETERS_TOTAL_BYTES)
        )
    return [python, str(target.file), *flags, "run"], env


def declared_parameters(file: Path) -> FrozenSet[str]:
    """The names (lower case, ``_`` for ``-``) of ``Parameter("name", ...)`` calls in ``file``.

    Static, like the rest of this module: a Parameter a base class in another module
    declares is not seen, so callers use this only to let a value pass, never to refuse one.
    """
    try:
        stat = file.stat()
    except OSError:
        return frozenset()
    return _declared(str(file), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _declared(path: str, mtime_ns: int, size: int) -> FrozenSet[str]:
    import ast

    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return frozenset()
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func, first = node.func, node.args[0]
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if called in ("Parameter", "IncludeFile") and isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.add(first.value.lower().replace("-", "_"))
    return frozenset(names)


def triggered_by(
    event_name: str, project: str, flows: Sequence[FlowTriggers]
) -> List[Tuple[FlowTriggers, Subscription, str]]:
    """Every (flow, subscription, branch) that ``event_name`` starts."""
    out = []
    for target in flows:
        for sub in target.subscriptions:
            if sub.kind != "event":
                continue  # @trigger_on_finish: started by the upstream run's finish, not a posted event
            branch = branch_of(event_name, project, sub)
            if branch is not None:
                out.append((target, sub, branch))
                break
    return out
