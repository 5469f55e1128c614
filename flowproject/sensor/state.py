"""A sensor's state per project branch: which run the next tick compares with.

Two slots, because a tick that could not deliver its event must not hide the change
from ticks that can (README, "Sensor semantics"):

- ``delivered``: the newest run whose change reached consumers, or that had nothing to
  deliver. Ticks that can publish (deployed, or a webhook configured) compare with it.
- ``seen``: the newest run of either kind. Ticks that cannot publish (a laptop without a
  webhook) compare with it, so a re-run there says "no change".

Each run records its kind in the ``state_kind`` artifact (``"delivered"``,
``"undelivered"``, or None for a tick that yielded). The slots are indexed by a pointer
``<Flow>/_flowproject/state/<project>/<branch>.json`` in the run's datastore; the listing
fallback (newest-created successful run of the branch with an accepted kind) gives the
same answer, because ticks only ever record a run newer than the one in the slot.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from ..errors import warn
from ..getters.runs import any_namespace, in_branch, is_run_id, newest_run, pointed_run, write_pointer
from ..getters.store import RECORDS_DIR, StateStore, read_index

if TYPE_CHECKING:  # pragma: no cover
    from metaflow import Run

DELIVERED, UNDELIVERED = "delivered", "undelivered"
SLOTS = {DELIVERED: (DELIVERED,), "seen": (DELIVERED, UNDELIVERED)}


def state_key(flow_name: str, project: str, branch: str) -> str:
    return "%s/%s/state/%s/%s.json" % (flow_name, RECORDS_DIR, project, branch)


def slot_for(can_deliver: bool) -> str:
    return DELIVERED if can_deliver else "seen"


def kind_of(run: Run) -> Optional[str]:
    """A run's ``state_kind``; runs from before it existed count as delivered."""
    try:
        task = run["end"].task
    except KeyError:
        return None
    if task is None:
        return None
    if "state_kind" in task:
        return task["state_kind"].data
    return DELIVERED


def _slots_problem(record: Dict[str, Any]) -> Optional[str]:
    if not any(slot in record for slot in SLOTS):
        return "has no state slots"
    for slot in SLOTS:
        entry = record.get(slot)
        if entry is not None and not (isinstance(entry, dict) and is_run_id(entry.get("run_id"))):
            return "has a malformed %r slot" % slot
    return None


def _read_slots(store: Optional[StateStore], key: str) -> Optional[Dict[str, Any]]:
    return read_index(store, key, _slots_problem)


def find_state(
    flow_name: str,
    project: str,
    branch: str,
    *,
    can_deliver: bool,
    store: Optional[StateStore],
    exclude_run_id: Optional[str] = None,
) -> Optional[Run]:
    """The run a tick compares with; the caller's namespace is restored afterwards."""
    with any_namespace():
        record = _read_slots(store, state_key(flow_name, project, branch))
        return _state_from(record, flow_name, project, branch, slot_for(can_deliver), exclude_run_id)


def _state_from(
    record: Optional[Dict[str, Any]],
    flow_name: str,
    project: str,
    branch: str,
    slot: str,
    exclude_run_id: Optional[str],
) -> Optional[Run]:
    # find_state's answer from a state record already read (None: absent or unreadable).
    if record is not None and slot in record:
        entry = record[slot]
        if entry is None:
            return None
        if entry["run_id"] != exclude_run_id:
            run = pointed_run(flow_name, entry["run_id"])
            # The slot says the run's kind (record_state moves a slot only for a kind it
            # accepts); what the pointer cannot vouch for is that the run exists here and
            # finished: its end step writes the pointer before the task is done.
            if run is not None and in_branch(run, project, branch) and run.successful:
                return run
            warn(
                "the %s state pointer names %s/%s, which is not a successful %s run of %s; "
                "using the run listing instead" % (slot, flow_name, entry["run_id"], slot, branch)
            )
    accepted = SLOTS[slot]
    return newest_run(flow_name, project, branch, lambda r: kind_of(r) in accepted, exclude_run_id)


def state_at_end(
    flow_name: str,
    project: str,
    branch: str,
    *,
    can_deliver: bool,
    store: Optional[StateStore],
    exclude_run_id: str,
    seen_at_start: Optional[str],
) -> Tuple[Optional[str], bool]:
    """``(pathspec, undelivered)`` of the run a tick's slot names as its end step runs.

    When the pointer still names the run the tick's start found (``seen_at_start``), that
    run was checked then and a finished run stays what it was, so the record answers both
    (a ``seen`` slot's run left its event undelivered exactly when the ``delivered`` slot
    names another run); otherwise :func:`find_state` does.
    """
    slot = slot_for(can_deliver)
    with any_namespace():
        record = _read_slots(store, state_key(flow_name, project, branch))
        entry = record.get(slot) if record is not None else None
        if record is not None and entry is not None and "%s/%s" % (flow_name, entry["run_id"]) == seen_at_start:
            delivered = record.get(DELIVERED)
            return seen_at_start, slot != DELIVERED and (delivered is None or delivered["run_id"] != entry["run_id"])
        run = _state_from(record, flow_name, project, branch, slot, exclude_run_id)
        if run is None:
            return None, False
        return run.pathspec, kind_of(run) == UNDELIVERED


def record_state(
    store: Optional[StateStore],
    flow_name: str,
    project: str,
    branch: str,
    run_id: str,
    created_at: float,
    kind: str,
    fallback: Callable[[], Dict[str, Optional[Run]]],
) -> None:
    """Move the slots of ``kind`` to this run, each only if it is newer than the slot's run.

    Called by the lease holder, so nobody writes in between. ``fallback`` holds the
    current run of each slot when the pointer does not exist yet (first run with it).
    """
    if store is None or not store.supported:
        return
    key = state_key(flow_name, project, branch)
    current = _read_slots(store, key)
    if current is None:
        current = {slot: _entry(run) for slot, run in fallback().items()}
    entry = {"run_id": str(run_id), "created_at": created_at}
    for slot, accepted in SLOTS.items():
        old = current.get(slot)
        if kind in accepted and (old is None or old.get("created_at", 0) <= created_at):
            current[slot] = entry
    current.update(flow=flow_name, project=project, branch=branch, recorded_at=time.time())
    write_pointer(store, key, current)


def _entry(run: Optional[Run]) -> Optional[Dict[str, Any]]:
    return None if run is None else {"run_id": run.id, "created_at": created_ts(run)}


def created_ts(run: Run) -> float:
    return run.created_at.timestamp()
