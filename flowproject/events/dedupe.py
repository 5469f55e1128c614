"""Consumers that do the work once per item: ``@on_sensor_event(dedupe=True)``.

Events are delivered at least once, so a consumer may be started twice for one item, even
at the same moment. Each item event carries a ``dedupe_key`` (the same for the same item
version in one branch). A consumer with dedupe keeps two records per key in its run's
datastore, next to the sensor's records (``flowproject.getters.store``):

- ``.../dedupe/<project>/<branch>/<key>.claim.json``: taken with a conditional create
  (``O_EXCL`` / ``If-None-Match``) by the run that does the work; a failed step gives it
  back, a killed run's claim expires after ``[sensor] dedupe_claim_seconds``.
- ``.../<key>.done.json``: written when that run's end step succeeded.

A run whose key is done ends at once, successfully, with ``outcome = "duplicate"`` and
``outcome_reason`` (its steps are skipped); one whose key is claimed by a running run
waits for that run: done means duplicate, a failure means this run does the work. A
failed run never answers a duplicate. One record read per run: the cost does not grow
with the history.
"""

from __future__ import annotations

import functools
import re
import time
from typing import Any, Dict, Optional, Tuple

from ..errors import FlowprojectError, warn
from ..getters.store import RECORDS_DIR, StateStore, StateStoreError

DUPLICATE = "duplicate"
# Our own keys are 32 hex digits; a payload is untrusted and names a file in the datastore.
DEDUPE_KEY_RE = re.compile(r"^[0-9a-f]{16,64}$")
# How often a run waiting for another run's claim looks again.
POLL_SECONDS = 0.5
ITEM_FIELDS = ("key", "change", "size", "version", "dedupe_key", "row")


class DedupeError(FlowprojectError):
    headline = "Sensor event dedupe error"


def sensor_payload(flowconfig: Any) -> Optional[Dict[str, Any]]:
    """The payload of the ``[sensor] event_name`` event that started this run, or None."""
    from metaflow import namespaced_event_name  # type: ignore[attr-defined]  # added to metaflow at import time

    from ..getters.payloads import payload_named

    logical = flowconfig["sensor"]["event_name"]
    if not logical:
        return None
    # The name publishing.event_name gives (which imports this module for the guard).
    return payload_named(namespaced_event_name(logical)())


def sensor_item(flowconfig: Any) -> Any:
    """The item this run was started for (a dict), the list of a batch event, or None."""
    payload = sensor_payload(flowconfig)
    if payload is None:
        return None
    if isinstance(payload.get("items"), list):
        return payload["items"]
    if "key" not in payload:
        return None
    return {k: payload[k] for k in ITEM_FIELDS if k in payload}


def dedupe_key_of(flowconfig: Any) -> Optional[str]:
    """The triggering event's ``dedupe_key``; None for a run no item event started."""
    payload = sensor_payload(flowconfig)
    if payload is None or "dedupe_key" not in payload:
        return None
    key = payload["dedupe_key"]
    if not isinstance(key, str) or not DEDUPE_KEY_RE.match(key):
        raise DedupeError(
            "the triggering event's dedupe_key must be 16 to 64 lowercase hex digits; got %r" % (str(key)[:80],)
        )
    return key


def record_keys(flow_name: str, project: str, branch: str, key: str) -> Tuple[str, str]:
    base = "%s/%s/dedupe/%s/%s/%s" % (flow_name, RECORDS_DIR, project, branch, key)
    return base + ".claim.json", base + ".done.json"


def claim(
    store: StateStore, flow_name: str, project: str, branch: str, key: str, run: str, seconds: int
) -> Optional[str]:
    """None when this run does the work (it holds the claim); else why it is a duplicate."""
    claim_key, done_key = record_keys(flow_name, project, branch, key)
    said = False
    while True:
        done = store.read_json(done_key)
        if done is not None and done.get("run") != run:
            return "dedupe_key %s was already handled by %s, which succeeded" % (key, done.get("run"))
        if done is not None:
            return None
        now = time.time()
        if store.create_json(claim_key, {"run": run, "taken_at": now, "expires_at": now + seconds}):
            return None
        holder = store.read_json(claim_key)
        if holder is None:
            continue  # given back between our create and our read
        if holder.get("run") == run:
            return None
        expires = holder.get("expires_at")
        if not isinstance(expires, (int, float)) or expires <= now:
            store.delete(claim_key)  # a killed run's claim: the item is not done, take it over
            continue
        if not said:
            print("dedupe_key %s is being handled by %s; waiting for it to finish" % (key, holder.get("run")))
            said = True
        time.sleep(POLL_SECONDS)


def finish(store: StateStore, flow_name: str, project: str, branch: str, key: str, run: str, ok: bool) -> None:
    """Mark the key done (``ok``) or give the claim back, so a redelivery does the work."""
    claim_key, done_key = record_keys(flow_name, project, branch, key)
    if ok:
        store.write_json(done_key, {"run": run, "done_at": time.time()})
    holder = store.read_json(claim_key)
    if holder is not None and holder.get("run") == run:
        store.delete(claim_key)


@functools.cache
def guard():
    """The step decorator ``@on_sensor_event(dedupe=True)`` puts on every step."""
    from metaflow.user_decorators.user_step_decorator import UserStepDecorator

    from ..getters.run_context import current

    class dedupe_guard(UserStepDecorator):
        def pre_step(self, step_name, flow, inputs=None):
            self.skip_step, self._key = False, None
            key = dedupe_key_of(flow.flowconfig)
            store = StateStore.for_run(flow)
            if key is None:
                return None
            if store is None or not store.supported:
                warn(
                    "the %s datastore cannot hold dedupe claims: this run does the work"
                    % getattr(store, "ds_type", "?")
                )
                return None
            run = "%s/%s" % (current.flow_name, current.run_id)
            try:
                why = claim(
                    store,
                    current.flow_name,
                    current.project_name,
                    current.branch_name,
                    key,
                    run,
                    int(flow.flowconfig["sensor"]["dedupe_claim_seconds"]),
                )
            except StateStoreError as e:
                raise DedupeError("%s: cannot tell whether this item was handled already" % e) from None
            if why is None:
                self._key = key
                return None
            flow.outcome, flow.outcome_reason = DUPLICATE, why
            if step_name == "start" or flow._graph[step_name].type == "end":
                print("Duplicate: %s; skipping the work" % why)
            self.skip_step = True
            return None

        def post_step(self, step_name, flow, exception=None):
            is_end = flow._graph[step_name].type == "end"
            if self.skip_step:
                # Skipped steps still go to their usual next step; end has none.
                return None, (None if is_end else {})
            if self._key is not None and (exception is not None or is_end):
                store = StateStore.for_run(flow)
                assert store is not None  # pre_step took the claim in it
                try:
                    finish(
                        store,
                        current.flow_name,
                        current.project_name,
                        current.branch_name,
                        self._key,
                        "%s/%s" % (current.flow_name, current.run_id),
                        ok=exception is None,
                    )
                except StateStoreError as e:
                    if exception is None:
                        raise DedupeError("%s: the work is done but not recorded as done" % e) from None
                    warn("%s: the claim expires by itself" % e)
            return exception, None

    return dedupe_guard
