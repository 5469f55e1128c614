"""A lease per (flow, project, branch): at most one sensor tick of a branch at a time.

Argo's CronWorkflow for a Metaflow flow allows overlapping runs, so two ticks of one
sensor can observe, publish and record at the same time. The tick that creates the lease
record (a conditional create: a complete temporary file hard-linked into place locally,
``If-None-Match: *`` on S3) holds it from
``start`` until its ``end`` finishes or a step fails; a tick that finds it held yields.
A holder that dies without releasing (a killed pod) blocks the branch only until the
lease expires (``[sensor] lease_seconds``). Locally, taking over an expired lease and
releasing happen under a ``flock`` of ``<key>.lock``, so two racers never both replace it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Dict, Optional

from ..getters.store import RECORDS_DIR, StateStore, StateStoreError


def lease_key(flow_name: str, project: str, branch: str) -> str:
    return "%s/%s/lease/%s/%s.json" % (flow_name, RECORDS_DIR, project, branch)


@dataclass(frozen=True)
class LeaseResult:
    """``held``: this run holds the lease; otherwise ``holder`` (a record) has it."""

    held: bool
    holder: Optional[Dict[str, Any]] = None
    note: Optional[str] = None


def acquire(store: StateStore, key: str, run_pathspec: str, seconds: int) -> LeaseResult:
    """Take the lease for ``run_pathspec``, or report who holds it.

    Already holding it (a retried task) counts as held. An expired lease is removed and
    taken over; if two ticks race for it, the conditional create lets only one win.
    """
    with store.locked(key):
        return _acquire(store, key, run_pathspec, seconds)


def _acquire(store: StateStore, key: str, run_pathspec: str, seconds: int) -> LeaseResult:
    now = time.time()
    record = {"run": run_pathspec, "taken_at": now, "expires_at": now + seconds}
    for _ in range(3):
        if store.create_json(key, record):
            return LeaseResult(True)
        try:
            current = store.read_json(key)
        except StateStoreError as e:
            # A lease nobody can read can never be released: treat it as expired.
            current = {"run": "(unreadable)", "expires_at": 0, "error": str(e)}
        if current is None:
            continue  # released between our create and our read: try again
        if current.get("run") == run_pathspec:
            return LeaseResult(True)
        expires = current.get("expires_at")
        if isinstance(expires, (int, float)) and expires > now:
            return LeaseResult(False, current)
        # Re-read right before removing so a lease renewed in between is not deleted.
        try:
            again = store.read_json(key)
        except StateStoreError:
            again = current
        if again != current and again is not None:
            continue
        store.delete(key)
        note = "took over the expired lease of %s" % current.get("run")
        if store.create_json(key, record):
            return LeaseResult(True, current, note)
    return LeaseResult(False, store.read_json(key))


def holder(store: StateStore, key: str) -> Optional[Dict[str, Any]]:
    """The current lease record, or None (absent or unreadable)."""
    try:
        return store.read_json(key)
    except StateStoreError:
        return None


def release(store: StateStore, key: str, run_pathspec: str) -> None:
    """Give the lease back if ``run_pathspec`` still holds it."""
    with store.locked(key):
        current = holder(store, key)
        if current is not None and current.get("run") == run_pathspec:
            store.delete(key)
