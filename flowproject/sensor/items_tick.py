"""The items-mode half of a tick: ``plan`` in ``start``, ``publish`` in ``end``.

``flowproject.sensor.tick`` keeps the lease, the state slots and the re-check; these two
functions replace its ``decide`` and ``publish`` when ``[sensor] emit = "items"``.
Artifacts: ``items_state`` (this run's state once it ended), ``items_plan``,
``item_events`` (the payloads), ``items_published``, ``items_pending``, ``items_counts``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ..errors import FlowprojectError
from ..getters.store import StateStore
from ..sources import items as _items
from . import items as _state


class ItemsError(FlowprojectError):
    headline = "Item-level sensor error"


def _plan_rows(flow: Any, before: Any, publish_all: bool, limit: int, run_pathspec: str, project_dir: Any):
    from ..sources.rows import advance, observe_rows

    data = flow.flowconfig["data"]
    rows = observe_rows(data, before, run_pathspec=run_pathspec, project_dir=project_dir)
    new = rows.items
    due = new[:limit] if publish_all else []
    taken = due if publish_all else new
    plan = {
        "kind": "rows",
        "before": before,
        "start": data.get("cursor_start"),
        "due": due,
        "silent": [],
        "after": advance(before, data.get("cursor_start"), taken),
    }
    counts = {"added": sum(1 for i, _ in new if i["change"] == "added"), "removed": 0}
    counts["modified"] = len(new) - counts["added"]
    pending = len(new) - len(due) if publish_all else 0
    value = {"returned": rows.returned, "new": len(new), "pending": pending, "cursor": plan["after"]["cursor"]}
    return plan, [item for item, _ in due], counts, pending, value, rows.summary


def _plan_listing(flow: Any, store: StateStore, before: Any, publish_all: bool, limit: int):
    data = flow.flowconfig["data"]
    listing = _items.observe_listing(data)
    sha = listing.sha256()
    where = data["path"] if data["type"] == "local" else "s3://%s/%s" % (data["bucket"], data.get("key") or "")
    value = {"count": listing.count, "total_bytes": listing.total_bytes, "manifest": sha, "pending": 0}
    counts = {"added": 0, "modified": 0, "removed": 0}
    if before and before.get("manifest") == sha:
        # The listing is the published manifest: nothing to read, compare or store.
        plan = {"kind": "listing", "before": before, "due": [], "silent": [], "after": dict(before)}
        return plan, [], counts, 0, value, _items.summary(where, listing)
    previous = _state.load_manifest(store, flow.name, before)
    got = _state.plan_listing(
        listing, previous, emit_removed=flow.flowconfig["sensor"]["emit_removed"], publish_all=publish_all, limit=limit
    )
    after = None
    if not got["pending"]:
        # Everything due goes out this tick: the next state is this listing itself.
        after = {"manifest": _state.save_manifest(store, flow.name, listing.lines, sha)}
    plan = {
        "kind": "listing",
        "before": before,
        "due": got["due"],
        # Only a partial publish rebuilds the manifest from these.
        "silent": got["silent"] if got["due"] else [],
        "after": after,
    }
    value["pending"] = got["pending"]
    return (
        plan,
        [_items.item_of(line, change) for line, change in got["due"]],
        got["counts"],
        got["pending"],
        value,
        (_items.summary(where, listing, got["pending"] + len(got["due"]))),
    )


def plan(
    flow: Any,
    previous: Any,
    store: Optional[StateStore],
    *,
    project: str,
    branch: str,
    run_pathspec: str,
    delivery_blocker: Optional[str],
    project_dir: Any = None,
) -> None:
    """Observe the items, compare with the branch's state, and store the plan as artifacts."""
    if store is None or not store.supported:
        raise ItemsError('[sensor] emit = "items" keeps its manifest in the datastore; use a local or s3 datastore')
    sensor = flow.flowconfig["sensor"]
    base = previous.id if previous is not None else None
    before = getattr(previous.data, "items_state", None) if previous is not None else None
    progress = _state.read_progress(store, flow.name, project, branch, base) if flow.can_deliver else None
    if progress is not None:
        before = progress["state"]
        print("resuming after %s, which sent %s item(s) before it failed" % (progress.get("run"), progress.get("sent")))
    first_run = previous is None and progress is None
    reason = None
    if not flow.event_name:
        reason = "no [sensor] event_name configured: the items are recorded only"
    elif first_run and not sensor["publish_on_first_run"]:
        reason = "first run of this branch and [sensor] publish_on_first_run = false: existing items are recorded only"
    publish_all = reason is None
    limit = sensor["max_events_per_tick"] * sensor["items_per_event"]
    if flow.flowconfig["data"]["type"] == "snowflake":
        got = _plan_rows(flow, before, publish_all, limit, run_pathspec, project_dir)
    else:
        got = _plan_listing(flow, store, before, publish_all, limit)
    items_plan, due, counts, pending, value, summary = got
    items_plan["base_run"] = base
    payloads = _state.events_for(
        _state.with_keys(project, branch, due), per_event=sensor["items_per_event"], run_pathspec=run_pathspec
    )
    changed = bool(due or items_plan["silent"] or items_plan["after"] != before)
    if reason is None and not due:
        reason = "no new items since %s" % previous.pathspec if previous is not None else "no items"
    publish = bool(due) and not delivery_blocker
    if due and delivery_blocker:
        reason = delivery_blocker
    event: Dict[str, Any] = {
        "name": flow.event_name,
        "due": bool(due),
        "publish": publish,
        "sent": False,
        "events": len(payloads),
        "items": len(due),
    }
    if reason:
        event["reason"] = reason
    flow.items_plan, flow.item_events, flow.event = items_plan, payloads, event
    flow.items_state, flow.items_published, flow.items_pending, flow.items_counts = before, 0, pending, counts
    flow.value, flow.fingerprint, flow.summary, flow.changed = value, _fingerprint(items_plan), summary, changed
    flow.previous_run = previous.pathspec if previous is not None else None
    flow.previous_fingerprint = getattr(previous.data, "fingerprint", None) if previous is not None else None
    print(_state.log_line(summary, counts, len(due), len(payloads), pending))


def _fingerprint(items_plan: Dict[str, Any]) -> Optional[str]:
    after = items_plan["after"] or {}
    return after.get("manifest") or (None if not after else _items.manifest_sha([repr(after).encode()]))


def publish(
    flow: Any, store: StateStore, *, project: str, branch: str, run_pathspec: str, timeout_seconds: float
) -> Dict[str, Any]:
    """Send the planned events one by one; record how far a failing send got, then fail."""
    from ..events.publishing import publish as publish_one
    from ..events.webhook import PublishError

    event = dict(flow.event)
    items_plan = flow.items_plan
    payloads: List[Dict[str, Any]] = flow.item_events
    if not event.get("publish"):
        record = publish_one(dict(event, payload=None), timeout_seconds=timeout_seconds)
        record.pop("payload", None)
        # Not sent from here (no webhook): the run's own state is as if it had been, for
        # ticks that cannot deliver either; the delivered slot never points at it.
        flow.items_state, _ = _state.partial_state(store, flow.name, items_plan, len(items_plan["due"]))
        return record
    ids = []
    for index, payload in enumerate(payloads):
        try:
            sent = publish_one(
                {"name": event["name"], "payload": payload, "publish": True}, timeout_seconds=timeout_seconds
            )
        except PublishError as e:
            done = _state.sent_items(payloads, index)
            reached, _ = _state.partial_state(store, flow.name, items_plan, done)
            _state.write_progress(
                store,
                flow.name,
                project,
                branch,
                {"base_run": items_plan["base_run"], "run": run_pathspec, "state": reached, "sent": done},
            )
            flow.items_published = done
            raise PublishError(
                "%s (event %d of %d; the %d item(s) sent before it are recorded, the rest go with the next tick)"
                % (e, index + 1, len(payloads), done)
            ) from None
        ids.append(sent.get("id"))
    flow.items_state, _ = _state.partial_state(store, flow.name, items_plan, len(items_plan["due"]))
    flow.items_published = len(items_plan["due"])
    event.pop("publish", None)
    event.update(sent=True, ids=ids)
    return event
