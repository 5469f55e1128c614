"""Argo's trigger rules as a state machine: which events start which flows, and when.

Once deployed, each event-triggered flow has its own Argo Events Sensor per project
branch (Metaflow's ``ArgoWorkflows._compile_sensor``). :class:`TriggerBook` keeps the
same state locally, per flow and branch, so ``events serve`` and the test kit start
exactly the runs the cluster would:

- One dependency per event of ``@trigger(event=/events=)`` and per upstream flow of
  ``@trigger_on_finish(flow=/flows=)`` (named ``metaflow.<project>.<branch>.<Flow>.end``),
  and no ``conditions`` expression, so argo-events ANDs them all
  (argo-events ``pkg/eventbus/jetstream/sensor/trigger_conn.go``, ``processDependency``:
  with one dependency it triggers at once; with several it keeps each dependency's last
  message in a key/value store, overwriting (``saveDependency``: ``keyValueStore.Put``),
  and when all are present it triggers with them and ``clearAllDependencies``).
  So: all events before a start, the latest of several of one name, and the next start
  needs every event again.
- A message id already seen is ignored (``processMsg``, ``recentMsgsByID``).
- ``@trigger(options={"reset_at": {"cron", "timezone"}})`` becomes the trigger's
  ``conditionsReset`` (``_compile_sensor``): at each cron time argo-events clears all
  dependencies (``processMsgs``: ``resetConditionsCh`` -> ``clearAllDependencies``).
- A ``@trigger_on_finish`` dependency matches only the event Metaflow publishes when the
  upstream's end step succeeds (``ArgoWorkflowsInternalDecorator.task_finished``), in
  the downstream's own project and branch unless the decorator names others.
- Parameters come from each event's payload (``Start.launch``: the mapping of
  ``triggers.launch_spec``), later events of the declaration overwriting earlier ones
  as the Sensor's trigger parameters do; every event that took part is handed to the
  run (``current.trigger.events``).
"""

from __future__ import annotations

import json
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from . import triggers as _triggers
from .finishes import FinishWatcher  # noqa: F401 (re-exported: the rules and their watcher)
from .triggers import FlowTriggers, Subscription

# argo-events forgets message ids after a while (purgeOldMsgs); a bound is enough here.
SEEN_IDS = 10_000


@dataclass(frozen=True)
class Delivered:
    """One event as a dependency of a start: its full name, payload and kind."""

    name: str
    payload: Mapping[str, Any]
    kind: str  # "event" (@trigger) or "run" (@trigger_on_finish)
    subscription: Subscription
    received: float

    @property
    def env_key(self) -> str:
        # ArgoWorkflows: METAFLOW_ARGO_EVENT_PAYLOAD_<type>_<sanitized name>; the type
        # prefix is how current.trigger tells events from runs.
        return "%s%s_%s" % (_triggers.PAYLOAD_ENV_PREFIX, self.kind, _triggers.sanitized_name(self.name))


@dataclass
class Start:
    """A run the rules start: the flow, its branch and every event that took part."""

    target: FlowTriggers
    branch: str
    events: List[Delivered]

    @property
    def flow(self) -> str:
        return self.target.flow

    def launch(self, python: str = sys.executable) -> Tuple[List[str], Dict[str, str]]:
        """The command (without ``--run-id-file``) and extra environment of the run."""
        cmd: List[str] = []
        env: Dict[str, str] = {}
        for ev in self.events:
            if ev.kind == "event":
                cmd, extra = _triggers.launch_spec(
                    self.target, ev.subscription, ev.name, ev.payload, self.branch, python
                )
                extra.pop(_triggers.PAYLOAD_ENV_PREFIX + "event_" + _triggers.sanitized_name(ev.name), None)
                env.update(extra)
            env[ev.env_key] = json.dumps(dict(ev.payload))
        if not cmd:
            # Only @trigger_on_finish: Metaflow maps no payload fields to parameters then.
            flags, extra = _triggers.branch_flags(self.branch)
            cmd = [python, str(self.target.file), *flags, "run"]
            env.update(extra)
        return cmd, env

    @property
    def params(self) -> Dict[str, str]:
        """The flow parameters the events set (lower-case name -> value as Argo passes it)."""
        _, env = self.launch()
        n = len(_triggers.PARAM_ENV_PREFIX)
        return {k[n:].lower(): v for k, v in env.items() if k.startswith(_triggers.PARAM_ENV_PREFIX)}


def finish_payload(project: str, branch: str, flow: str, run_id: str, task_id: str = "0") -> Dict[str, Any]:
    """What ``ArgoWorkflowsInternalDecorator`` publishes after a successful end step."""
    pathspec = "%s/%s/end/%s" % (flow, run_id, task_id)
    kind = branch.partition(".")[0]
    return {
        "name": "metaflow.%s.%s.%s.end" % (project, branch, flow),
        "id": pathspec,
        "pathspec": pathspec,
        "flow_name": flow,
        "run_id": run_id,
        "step_name": "end",
        "task_id": task_id,
        "project_name": project,
        "branch_name": branch,
        "is_user_branch": kind == "user",
        "is_production": branch == "prod",
        "project_flow_name": "%s.%s.%s" % (project, branch, flow),
        "timestamp": int(time.time()),
        "auto-generated-by-metaflow": True,
    }


def _last_reset(options: Mapping[str, Any], now: float) -> Optional[float]:
    """The latest ``reset_at`` cron time at or before ``now`` (None without one)."""
    reset = options.get("reset_at") if isinstance(options, Mapping) else None
    if not isinstance(reset, Mapping) or not reset.get("cron"):
        return None
    from croniter import croniter

    tz: Any = timezone.utc
    if reset.get("timezone"):
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(reset["timezone"])
    return croniter(reset["cron"], datetime.fromtimestamp(now, tz)).get_prev(float)


class TriggerBook:
    """Per-flow, per-branch dependency state of a project's flows, as their Sensors keep it.

    ``branches``: the project branches served (None: every branch an event names).
    Literal (not namespaced) event names carry no branch: they go to ``offer``'s
    ``branch``, else to the first served branch.
    """

    def __init__(
        self,
        project: str,
        flows: Sequence[FlowTriggers],
        branches: Optional[Sequence[str]] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.project = project
        self.flows = [f for f in flows if f.subscriptions]
        self.branches = list(branches) if branches is not None else None
        self.clock = clock
        self._pending: Dict[Tuple[str, str], Dict[int, Delivered]] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()

    def _branch(self, sub: Subscription, name: str, payload: Mapping[str, Any], branch: Optional[str]) -> Optional[str]:
        """The branch of the deployment in which ``sub`` matches ``name``, or None."""
        literal = branch or (self.branches[0] if self.branches else None)
        if sub.kind == "run":
            if payload.get("auto-generated-by-metaflow") is not True:
                return None  # the Sensor's filter on Metaflow's own finish events
            if sub.project or sub.branch:
                fixed = sub.resolve(self.project, "")
                return literal if name == fixed else None
            head, tail = "metaflow.%s." % self.project, ".%s.end" % sub.name
            if not (name.startswith(head) and name.endswith(tail)):
                return None
            found: Optional[str] = name[len(head) : -len(tail)]
            return found if payload.get("branch_name") in (None, found) else None
        found = _triggers.branch_of(name, self.project, sub)
        if found == "":
            return literal
        return found

    def offer(
        self,
        event_name: str,
        payload: Mapping[str, Any],
        event_id: Optional[str] = None,
        branch: Optional[str] = None,
    ) -> List[Start]:
        """Record one event; return the runs it completes (none when a flow still waits).

        ``event_id`` is the transport's message id (Argo: one per webhook request), used
        to ignore a message delivered twice; it is not the payload's ``id``.
        """
        if event_id is not None:
            if event_id in self._seen:
                return []
            self._seen[event_id] = None
            while len(self._seen) > SEEN_IDS:
                self._seen.popitem(last=False)
        now = self.clock()
        starts = []
        for target in self.flows:
            for index, sub in enumerate(target.subscriptions):
                b = self._branch(sub, event_name, payload, branch)
                if b is None or (self.branches is not None and b not in self.branches):
                    continue
                got = Delivered(event_name, dict(payload), sub.kind, sub, now)
                start = self._depend(target, b, index, got, now)
                if start:
                    starts.append(start)
        return starts

    def _depend(self, target: FlowTriggers, branch: str, index: int, got: Delivered, now: float) -> Optional[Start]:
        if len(target.subscriptions) == 1:
            return Start(target, branch, [got])  # one dependency: no AND, nothing kept
        key = (target.flow, branch)
        held = self._pending.setdefault(key, {})
        reset = _last_reset(target.options, now)
        if reset is not None:
            for i in [i for i, d in held.items() if d.received < reset]:
                del held[i]
        held[index] = got  # the latest message of a dependency replaces the one before
        if len(held) < len(target.subscriptions):
            return None
        del self._pending[key]
        return Start(target, branch, [held[i] for i in range(len(target.subscriptions))])

    def finished(
        self, flow_name: str, run_id: str, branch: str, successful: bool = True, task_id: str = "0"
    ) -> List[Start]:
        """An upstream run ended: the ``@trigger_on_finish`` runs it completes."""
        if not successful:
            return []  # Metaflow publishes the finish event only when the end step succeeds
        payload = finish_payload(self.project, branch, flow_name, run_id, task_id)
        return self.offer(payload["name"], payload, event_id=payload["id"], branch=branch)

    def waiting(self, flow: str, branch: str) -> List[str]:
        """The event names ``flow`` in ``branch`` holds while it waits for the rest."""
        return [d.name for d in self._pending.get((flow, branch), {}).values()]

    def upstream_flows(self) -> List[str]:
        """The flows whose finish some flow here waits for (what a watcher polls)."""
        return sorted({s.name for f in self.flows for s in f.subscriptions if s.kind == "run"})
