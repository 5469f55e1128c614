"""One sensor tick, in two steps, serialized per (flow, project, branch).

``start`` takes the branch's lease, finds the state to compare with, observes and decides;
``end`` re-checks that nothing moved (a resumed run, a lease taken over after expiry),
publishes, records the state and gives the lease back. A tick that finds the lease held,
or finds that a newer tick already recorded the state, *yields*: it ends successfully with
``outcome = "skipped"`` and a reason, publishes nothing and never becomes the state. Any
failure releases the lease, so the next tick tries again (at-least-once).
"""

from __future__ import annotations

import datetime
from typing import Any, Optional

from ..errors import warn
from ..getters import lineage as _lineage
from ..getters.runs import any_namespace
from ..getters.store import StateStore, StateStoreError
from . import lease
from .decide import CHANGED, NO_CHANGE, SKIPPED, decide
from .state import DELIVERED, UNDELIVERED, created_ts, find_state, record_state, state_at_end


def _run_pathspec() -> str:
    from ..getters.run_context import current

    return "%s/%s" % (current.flow_name, current.run_id)


def _created_ts() -> float:
    from metaflow import Run

    with any_namespace():
        return created_ts(Run(_run_pathspec()))


def _project_dir() -> Any:
    from ..flow.base import project_root
    from ..getters.run_context import current

    return project_root(current.flow_name)


def _lease(flow: Any):
    """(store, key) of this branch's lease, or (None, None) where it cannot be kept."""
    from ..getters.run_context import current

    store = StateStore.for_run(flow)
    if store is None or not store.supported:
        warn(
            "the %s datastore cannot hold a lease: overlapping ticks are not serialized"
            % (store.ds_type if store else "unknown")
        )
        return None, None
    return store, lease.lease_key(current.flow_name, current.project_name, current.branch_name)


def _take(flow: Any) -> Optional[str]:
    """Take the lease; the reason to yield when another tick holds it."""
    store, key = _lease(flow)
    if store is None:
        return None
    try:
        got = lease.acquire(store, key, _run_pathspec(), int(flow.flowconfig["sensor"]["lease_seconds"]))
    except StateStoreError as e:
        warn("%s: this tick runs without the lease" % e)
        return None
    if got.note:
        print(got.note)
    if got.held:
        return None
    holder = got.holder or {}
    expires = holder.get("expires_at")
    until = (
        datetime.datetime.fromtimestamp(expires, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(expires, (int, float))
        else "unknown"
    )
    return "tick %s holds this branch's lease (until %s at the latest); it observes for both" % (
        holder.get("run"),
        until,
    )


def _give_back(flow: Any) -> None:
    store, key = _lease(flow)
    if store is None:
        return
    try:
        lease.release(store, key, _run_pathspec())
    except StateStoreError as e:
        warn("%s: the lease expires by itself" % e)


def _skip(flow: Any, reason: str) -> None:
    flow.outcome, flow.outcome_reason = SKIPPED, reason
    event = dict(flow.event) if isinstance(getattr(flow, "event", None), dict) else {"name": flow.event_name}
    event.update(publish=False, sent=False, reason="tick skipped: %s" % reason)
    event.pop("due", None)
    flow.event = event
    flow.state_kind = None
    print("Skipped: %s" % reason)


def start(flow: Any) -> None:
    """SensorFlow's ``start``: lease, state, observation, decision (all as artifacts)."""
    from ..events.publishing import check_published_name, delivery_blocker
    from ..getters.run_context import current

    flowconfig = flow.flowconfig
    flow.event_name = check_published_name(flow.sensor_event, flowconfig)
    blocker = delivery_blocker()
    flow.can_deliver = blocker is None
    for name in ("value", "fingerprint", "changed", "previous_run", "previous_fingerprint", "previous_value"):
        setattr(flow, name, None)
    flow.summary = "not observed"
    flow.event = {"name": flow.event_name, "sent": False}
    flow.state_kind = None
    why = _take(flow)
    if why:
        _skip(flow, why)
        return
    try:
        previous = find_state(
            current.flow_name,
            current.project_name,
            current.branch_name,
            can_deliver=flow.can_deliver,
            store=StateStore.for_run(flow),
            exclude_run_id=current.run_id,
        )
        if previous is not None and created_ts(previous) > _created_ts():
            _give_back(flow)
            _skip(flow, "a newer tick, %s, already recorded this branch's state" % previous.pathspec)
            return
        if flowconfig["sensor"]["emit"] == "items":
            from . import items_tick

            items_tick.plan(
                flow,
                previous,
                StateStore.for_run(flow),
                project=current.project_name,
                branch=current.branch_name,
                run_pathspec=_run_pathspec(),
                delivery_blocker=blocker,
                project_dir=_project_dir(),
            )
            flow.outcome = CHANGED if flow.changed else NO_CHANGE
            flow.outcome_reason = None
            _lineage.note_observation(flowconfig.data.to_dict(), flow.fingerprint, flow.summary)
            return
        decision = decide(
            flow.query(),
            previous=previous,
            sensor=flowconfig["sensor"],
            event_name=flow.event_name,
            run_pathspec=_run_pathspec(),
            force=flow.force_trigger,
            delivery_blocker=blocker,
        )
    except BaseException:
        _give_back(flow)
        raise
    for name, value in decision.as_dict().items():
        setattr(flow, name, value)
    flow.outcome = CHANGED if decision.changed else NO_CHANGE
    flow.outcome_reason = None
    # The data observation that starts every chain (flowproject lineage --up).
    _lineage.note_observation(flowconfig.data.to_dict(), decision.fingerprint, decision.summary)
    print("%s; changed=%s; previous=%s" % (decision.summary, decision.changed, decision.previous_run))


def end(flow: Any) -> None:
    """SensorFlow's ``end``: re-check, publish, record the state, release the lease."""
    from ..events.publishing import publish
    from ..getters.run_context import current

    if flow.outcome == SKIPPED:
        return
    why = _take(flow)  # held since start; a resumed run takes it anew
    if why:
        _skip(flow, why)
        return
    try:
        store = StateStore.for_run(flow)
        moved_to, previous_undelivered = state_at_end(
            current.flow_name,
            current.project_name,
            current.branch_name,
            can_deliver=flow.can_deliver,
            store=store,
            exclude_run_id=current.run_id,
            seen_at_start=flow.previous_run,
        )
        if moved_to != flow.previous_run:
            _skip(
                flow,
                "superseded: this branch's state moved from %s to %s after this tick observed; "
                "the next tick compares with it" % (flow.previous_run, moved_to),
            )
            return
        if flow.flowconfig["sensor"]["emit"] == "items":
            from . import items_tick

            assert store is not None  # a running step always has its task datastore
            event = items_tick.publish(
                flow,
                store,
                project=current.project_name,
                branch=current.branch_name,
                run_pathspec=_run_pathspec(),
                timeout_seconds=flow.flowconfig.sensor.publish_timeout_seconds,
            )
        else:
            event = publish(flow.event, timeout_seconds=flow.flowconfig.sensor.publish_timeout_seconds)
        flow.event = event
        due, sent = bool(event.get("due")), bool(event.get("sent"))
        if sent or (not due and not previous_undelivered):
            flow.state_kind = DELIVERED
        else:
            flow.state_kind = UNDELIVERED
        if not sent and (due or flow.outcome == CHANGED):
            flow.outcome_reason = event.get("reason")
        record_state(
            store,
            current.flow_name,
            current.project_name,
            current.branch_name,
            current.run_id,
            _created_ts(),
            flow.state_kind,
            fallback=lambda: _slots_now(flow),
        )
    finally:
        _give_back(flow)


def _slots_now(flow: Any) -> dict:
    """Each slot's run from the listing, for a branch whose pointer does not exist yet."""
    from ..getters.run_context import current

    return {
        slot: find_state(
            current.flow_name,
            current.project_name,
            current.branch_name,
            can_deliver=(slot == DELIVERED),
            store=None,
            exclude_run_id=current.run_id,
        )
        for slot in ("delivered", "seen")
    }
