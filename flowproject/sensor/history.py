"""A sensor's recent ticks in one project branch, newest first, without reading them all.

Metaflow lists a flow's runs in one go (newest first); only the ``n`` runs shown have
their status and artifacts read, so the cost grows with ``n``, not with the history.
Runs from before SensorFlow stored ``outcome`` are described from ``changed`` and
``event``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional

from ..events.publishing import SENSOR_FLOW

DEFAULT_TICKS = 20
# A failure's message is cut to this many characters: one line in a table.
MAX_REASON_CHARS = 200
UNFINISHED = "not finished: still running, or stopped without recording an error"


@dataclass(frozen=True)
class Tick:
    time: str
    run: str
    outcome: str  # changed | no change | skipped | failed | running
    reason: Optional[str]
    summary: Optional[str]
    event: Optional[Dict[str, Any]]
    # [sensor] emit = "items": items published by the tick, and left for the next.
    items: Optional[int] = None
    pending: Optional[int] = None

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)

    def event_text(self) -> str:
        ev = self.event or {}
        if not ev.get("name"):
            return "no event"
        if self.items is not None and (self.items or self.pending):
            return (
                "sent %d item%s in %s event%s of %s, %s pending"
                % (
                    self.items,
                    "" if self.items == 1 else "s",
                    ev.get("events", "?"),
                    "" if ev.get("events") == 1 else "s",
                    ev["name"],
                    self.pending or 0,
                )
                if ev.get("sent")
                else "%d item%s not sent: %s"
                % (
                    ev.get("items") or 0,
                    "" if ev.get("items") == 1 else "s",
                    ev.get("reason") or "-",
                )
            )
        if ev.get("sent"):
            return "sent %s" % ev["name"]
        return "not sent: %s" % (ev.get("reason") or "-")


def _artifact(task: Any, name: str) -> Any:
    try:
        return getattr(task.data, name, None) if task is not None else None
    except Exception as e:  # noqa: BLE001 - an unreadable artifact is shown, not fatal
        return "<unreadable: %s>" % type(e).__name__


# What a tick shows of its event; the payload repeats the value (see `summary`).
EVENT_FIELDS = ("name", "sent", "reason", "id", "events", "items")


def _event(task: Any) -> Optional[Dict[str, Any]]:
    event = _artifact(task, "event")
    if not isinstance(event, dict):
        return event
    return {k: event[k] for k in EVENT_FIELDS if k in event}


def _failure(run: Any) -> Optional[str]:
    # A task that ended has `_task_ok` (False when it raised); a running one has neither.
    for step in run:
        for task in step:
            if "_task_ok" in task and not task["_task_ok"].data:
                exc = task.exception
                lines = str(exc).strip().splitlines() if exc is not None else []
                text = lines[-1] if lines else "the task failed"
                return ("in %s: %s" % (step.id, text))[:MAX_REASON_CHARS]
    return None


def describe(run: Any) -> Tick:
    """One run as a tick: its outcome from the artifacts it stored, or why it has none."""
    when = run.created_at.isoformat(sep=" ", timespec="seconds")
    if not run.successful:
        failure = _failure(run)
        start = run["start"].task if "start" in run else None
        return Tick(
            when,
            run.pathspec,
            "failed" if failure else "running",
            failure or UNFINISHED,
            _artifact(start, "summary"),
            _event(start),
        )
    end = run.end_task
    outcome = _artifact(end, "outcome")
    reason = _artifact(end, "outcome_reason")
    if outcome is None:  # a run from before `outcome` was stored
        changed = _artifact(end, "changed")
        outcome = "changed" if changed else "no change"
    return Tick(
        when,
        run.pathspec,
        outcome,
        reason,
        _artifact(end, "summary"),
        _event(end),
        _artifact(end, "items_published"),
        _artifact(end, "items_pending"),
    )


def sensor_history(project: str, branch: str, n: int = DEFAULT_TICKS, flow_name: str = SENSOR_FLOW) -> List[Tick]:
    """The last ``n`` runs of ``flow_name`` in ``project``/``branch``, newest first."""
    from metaflow import Flow
    from metaflow.exception import MetaflowNotFound

    from ..getters.runs import any_namespace

    ticks: List[Tick] = []
    with any_namespace():
        try:
            runs = Flow(flow_name).runs("project:%s" % project, "project_branch:%s" % branch)
        except MetaflowNotFound:
            return []
        for run in runs:
            if len(ticks) >= n:
                break
            ticks.append(describe(run))
    return ticks


def format_table(ticks: List[Tick]) -> str:
    if not ticks:
        return "no sensor runs in this branch"
    lines = []
    for t in ticks:
        outcome = t.outcome + (" (%s)" % t.reason if t.reason else "")
        lines.append("%s  %s  %s  %s  %s" % (t.time, t.run, outcome, t.summary or "-", t.event_text()))
    return "\n".join(lines)
