"""Noticing that upstream runs finished, for ``@trigger_on_finish`` under ``events serve``
and the testing kit: Metaflow publishes a finish event only on Argo, so locally the
runs' own metadata (local or the service) says when an end step succeeded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple


@dataclass
class FinishWatcher:
    """Notices upstream runs that finished, from Metaflow's metadata (local or service).

    ``poll()`` returns ``(flow, run_id, branch, successful, task_id)`` for each run of
    ``flows`` in ``project`` that finished since the last poll (runs that had finished
    when the watcher was made are not reported); feed them to ``TriggerBook.finished``.
    ``successful`` is False for a run whose end step failed.
    The metadata read is the calling process's Metaflow configuration.
    """

    project: str
    flows: Sequence[str]
    _seen: Dict[str, set] = field(default_factory=dict)
    _failed: Dict[str, set] = field(default_factory=dict)
    _primed: bool = False

    def __post_init__(self) -> None:
        self.poll()  # what had finished before the watcher existed is not news

    def _runs(self, flow: str) -> List[Any]:
        from metaflow import Flow, namespace
        from metaflow.exception import MetaflowNotFound

        namespace(None)
        try:
            return list(Flow(flow).runs("project:%s" % self.project))
        except MetaflowNotFound:
            return []

    def poll(self) -> List[Tuple[str, str, str, bool, str]]:
        found = []
        for flow in self.flows:
            seen = self._seen.setdefault(flow, set())
            failed = self._failed.setdefault(flow, set())
            for run in self._runs(flow):
                if run.id in seen:
                    continue
                end, ok = _end_state(run)
                # A failed end step is reported once but still watched: with @retry its
                # next attempt may succeed, and then Metaflow publishes the finish event.
                if ok is None or (ok is False and run.id in failed):
                    continue
                (seen if ok else failed).add(run.id)
                if not self._primed:
                    continue
                branch = next((t.split(":", 1)[1] for t in run.system_tags if t.startswith("project_branch:")), None)
                if branch is not None:
                    found.append((flow, run.id, branch, ok, end))
        self._primed = True
        return found


def _end_state(run: Any) -> Tuple[str, Optional[bool]]:
    """The end task's id and how its latest attempt ended (None: no end step done yet).

    ``_task_ok`` is what ``Run.finished`` reads; it is False once the end step raised. A
    run that failed in an earlier step has no end task and never finishes: it is never
    reported, as Metaflow publishes nothing for it.
    """
    end = run.end_task
    if end is None:
        return "0", None
    try:
        return end.id, bool(end["_task_ok"].data)
    except KeyError:
        return end.id, None
