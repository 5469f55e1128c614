"""Item-level sensors (``[sensor] emit = "items"``): what a tick publishes, and its state.

The state of a branch is what its consumers have been sent: for a folder or prefix the
*manifest* of published files (``flowproject.sources.items``), stored content-addressed
at ``<Flow>/_flowproject/manifests/<sha256>``, and for a Snowflake cursor the cursor and
its boundary (``flowproject.sources.rows``). A run keeps it in its ``items_state``
artifact (a digest or a cursor: small), so the existing state slots say which run's
state a tick starts from. A tick publishes at most ``max_events_per_tick`` events; the
items left over are still different from the state, so the next tick finds them again.

A publish that fails halfway records how far it got in a *progress* record on top of the
run it started from (``<Flow>/_flowproject/items/<project>/<branch>.json``) before the
run fails; the next tick that starts from the same run resumes there, so the items
already sent are not sent again as new. The record is a speed-up: without it they are
sent again (at-least-once), never lost.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..errors import warn
from ..getters.store import RECORDS_DIR, StateStore, StateStoreError
from ..sources import items as _items
from ..sources.observation import canonical_json

# The flow whose records `sensor preview` reads (the one SensorFlowBase runs as).
SENSOR_FLOW_NAME = "SensorFlow"
# How many pending items the tick's log line and `sensor preview` name.
SHOWN_ITEMS = 5


def manifest_key(flow_name: str, sha: str) -> str:
    return "%s/%s/manifests/%s.txt" % (flow_name, RECORDS_DIR, sha)


def progress_key(flow_name: str, project: str, branch: str) -> str:
    return "%s/%s/items/%s/%s.json" % (flow_name, RECORDS_DIR, project, branch)


def dedupe_key(project: str, branch: str, item: Mapping[str, Any]) -> str:
    """The same item version gives the same key in one branch, and another in every other."""
    text = canonical_json([project, branch, item["key"], item["change"], item.get("size"), item["version"]])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


# -- the stored state ----------------------------------------------------------------


def load_manifest(store: StateStore, flow_name: str, state: Optional[Mapping[str, Any]]) -> Dict[bytes, bytes]:
    """The published manifest ``state`` names; empty (with a warning) when it is gone.

    A missing or corrupt manifest costs duplicates (its items are published again as
    added), not a failed tick.
    """
    sha = (state or {}).get("manifest")
    if not sha:
        return {}
    key = manifest_key(flow_name, sha)
    try:
        body = store.read_bytes(key)
        if body is None:
            raise StateStoreError("%s is missing" % store.uri(key))
        if hashlib.sha256(body).hexdigest() != sha:
            raise StateStoreError("%s does not match its digest" % store.uri(key))
        return _items.parse(body)
    except (StateStoreError, ValueError) as e:
        warn("%s; every item counts as new (published again, at least once)" % e)
        return {}


def save_manifest(store: StateStore, flow_name: str, lines: List[bytes], sha: Optional[str] = None) -> str:
    """Store a manifest under its digest; one that is stored already is not written again."""
    sha = sha or _items.manifest_sha(lines)
    key, body = manifest_key(flow_name, sha), b"".join(lines)
    if not store.create_bytes(key, body):
        # Stored before. One damaged since (outside flowproject) would stay at this address
        # for good, and every tick starting from it would publish everything again: replace it.
        existing = store.read_bytes(key)
        if existing is None or hashlib.sha256(existing).hexdigest() != sha:
            store.delete(key)
            store.create_bytes(key, body)
    return sha


def read_progress(store: Optional[StateStore], flow_name: str, project: str, branch: str, base: Optional[str]):
    """The state a failed tick reached on top of run ``base``, or None."""
    if store is None or not store.supported:
        return None
    try:
        record = store.read_json(progress_key(flow_name, project, branch))
    except StateStoreError as e:
        warn("%s; items sent by a failed tick may be sent again" % e)
        return None
    if not record or record.get("base_run") != base or not isinstance(record.get("state"), dict):
        return None
    return record


def write_progress(store: StateStore, flow_name: str, project: str, branch: str, record: Dict[str, Any]) -> None:
    try:
        store.write_json(progress_key(flow_name, project, branch), record)
    except StateStoreError as e:
        warn("%s; the items sent so far will be sent again by the next tick" % e)


# -- planning ------------------------------------------------------------------------


def plan_listing(
    listing: _items.Listing,
    previous: Dict[bytes, bytes],
    *,
    emit_removed: bool,
    publish_all: bool,
    limit: int,
) -> Dict[str, Any]:
    """What a tick does with a listing that differs from the stored manifest.

    ``publish_all`` False (a first tick with ``publish_on_first_run = false``) takes every
    change into the state silently. Returns ``due`` ((line, change) to publish, at most
    ``limit``), ``silent`` (taken in without an event), ``pending`` (left for later) and
    ``counts``.
    """
    changes = _items.diff(previous, listing)
    ordered = changes.ordered(emit_removed)
    silent = [] if emit_removed else [(line, _items.REMOVED) for line in changes.removed]
    if not publish_all:
        silent, ordered = silent + ordered, []
    counts = {
        "added": sum(1 for _, c in changes.changed if c == _items.ADDED),
        "modified": sum(1 for _, c in changes.changed if c == _items.MODIFIED),
        "removed": len(changes.removed),
    }
    return {"due": ordered[:limit], "silent": silent, "pending": max(0, len(ordered) - limit), "counts": counts}


def events_for(items: List[Dict[str, Any]], *, per_event: int, run_pathspec: str) -> List[Dict[str, Any]]:
    """The payloads: one item at the top level, or a list under ``items`` per batch."""
    if per_event == 1:
        groups = [[item] for item in items]
    else:
        groups = [items[i : i + per_event] for i in range(0, len(items), per_event)]
    payloads = []
    for index, group in enumerate(groups):
        position = {"index": index, "count": len(groups)}
        if per_event == 1:
            payload = dict(group[0], batch=position)
        else:
            joined = ",".join(item["dedupe_key"] for item in group)
            payload = {
                "items": group,
                "batch": position,
                "dedupe_key": hashlib.sha256(joined.encode("ascii")).hexdigest()[:32],
            }
        payload["sensor_run"] = run_pathspec
        payloads.append(payload)
    return payloads


def with_keys(project: str, branch: str, items: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    for item in items:
        item["dedupe_key"] = dedupe_key(project, branch, item)
    return items


def log_line(summary: str, counts: Mapping[str, int], n_items: int, n_events: int, pending: int) -> str:
    return "%s; items: %d added, %d modified, %d removed; publishing %d in %d event%s, %d left for the next tick" % (
        summary,
        counts.get("added", 0),
        counts.get("modified", 0),
        counts.get("removed", 0),
        n_items,
        n_events,
        "" if n_events == 1 else "s",
        pending,
    )


def sent_items(payloads: List[Dict[str, Any]], n_events: int) -> int:
    """How many items the first ``n_events`` payloads carried."""
    return sum(len(p["items"]) if "items" in p else 1 for p in payloads[:n_events])


def partial_state(
    store: StateStore, flow_name: str, plan: Mapping[str, Any], n_items: int
) -> Tuple[Dict[str, Any], bool]:
    """The state after the silent changes and the first ``n_items`` due ones (and whether
    that is everything the plan held)."""
    complete = n_items >= len(plan["due"])
    if complete and plan.get("after") is not None:
        return dict(plan["after"]), True
    if plan["kind"] == "rows":
        from ..sources.rows import advance

        return advance(plan["before"], plan.get("start"), plan["due"][:n_items]), complete
    previous = load_manifest(store, flow_name, plan["before"])
    lines = _items.apply(previous, list(plan["silent"]) + list(plan["due"][:n_items]))
    return {"manifest": save_manifest(store, flow_name, lines)}, complete


def pending_items(
    cfg: Mapping[str, Any], store: Optional[StateStore], before: Any, *, project: str, branch: str, project_dir: Any
) -> Tuple[List[Dict[str, Any]], str]:
    """Every item the branch's next ticks would publish (as in a payload), and a summary."""
    data, sensor = cfg["data"], cfg["sensor"]
    if data["type"] == "snowflake":
        from ..sources.rows import observe_rows

        rows = observe_rows(data, before, project_dir=project_dir)
        return with_keys(project, branch, [item for item, _ in rows.items]), rows.summary
    listing = _items.observe_listing(data)
    where = data.get("path") or "s3://%s/%s" % (data.get("bucket"), data.get("key") or "")
    if before and before.get("manifest") == listing.sha256():
        return [], _items.summary(where, listing, 0)
    previous = load_manifest(store, SENSOR_FLOW_NAME, before) if store is not None else {}
    ordered = _items.diff(previous, listing).ordered(sensor["emit_removed"])
    found = with_keys(project, branch, [_items.item_of(line, change) for line, change in ordered])
    return found, _items.summary(where, listing, len(found))
