"""SensorFlow's decision: compare an observation with the branch's state and plan the event.

The promises (README, "Sensor semantics"): the state is a *successful* run of the same
flow in the same project branch (``flowproject.sensor.state`` says which one), never the
running one and never another branch's; an event is planned only on a change (or when
forced); the payload carries the new value (or its summary when large), the old
fingerprint and the run pathspec.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional

from ..sources import Observation, canonical_json

if TYPE_CHECKING:  # pragma: no cover
    from metaflow import Run

# Argo passes the payload through a Sensor into workflow parameters; keep what travels
# small and send a summary + fingerprint for anything larger. Counted in UTF-8 bytes,
# not characters: 3,000 "é" are 3,000 characters but 6,000 bytes.
MAX_INLINE_PAYLOAD_BYTES = 4096

# The outcomes a tick records in its ``outcome`` artifact.
CHANGED, NO_CHANGE, SKIPPED = "changed", "no change", "skipped"


@dataclass(frozen=True)
class Decision:
    """What one sensor run concluded. Every field is stored as an artifact."""

    value: Any
    fingerprint: str
    summary: str
    changed: bool
    previous_run: Optional[str]
    previous_value: Any
    previous_fingerprint: Optional[str]
    event: Dict[str, Any]

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def payload_for(
    observation: Observation, payload_key: str, previous_fingerprint: Optional[str], run_pathspec: str
) -> Dict[str, Any]:
    """The event payload: never a key that is also a flow parameter of BaseFlow."""
    value: Any = observation.value
    if len(canonical_json(value).encode("utf-8")) > MAX_INLINE_PAYLOAD_BYTES:
        value = {"summary": observation.summary, "fingerprint": observation.fingerprint}
    return {
        payload_key: value,
        "sensor_fingerprint": observation.fingerprint,
        "sensor_previous_fingerprint": previous_fingerprint,
        "sensor_run": run_pathspec,
    }


def decide(
    observation: Observation,
    *,
    previous: Optional[Run],
    sensor: Mapping[str, Any],
    event_name: Optional[str],
    run_pathspec: str,
    force: bool = False,
    delivery_blocker: Optional[str] = None,
) -> Decision:
    """Compare ``observation`` with ``previous`` (the branch's state) and plan the event.

    ``sensor`` is the ``[sensor]`` config table; ``event_name`` the resolved namespaced
    name (None when no ``event_name`` is configured); ``delivery_blocker`` why an event
    cannot be sent from here (no webhook on a local run), if so. The plan is in
    ``event``: ``due`` (an event should reach consumers), ``publish`` (it will be sent
    from here) and, when it will not be sent, ``reason``.
    """
    prev_fp = prev_value = None
    if previous is not None:
        data = previous.data
        prev_fp = getattr(data, "fingerprint", None)
        prev_value = getattr(data, "value", None)
    first_run = previous is None
    changed = first_run or prev_fp != observation.fingerprint

    if not event_name:
        due, reason = False, "no [sensor] event_name configured: the change is recorded only"
    elif force:
        due, reason = True, None
    elif not changed and previous is not None:  # unchanged implies a previous run
        due, reason = False, "no change since %s" % previous.pathspec
    elif first_run and not sensor.get("publish_on_first_run", True):
        due, reason = False, "first run of this branch and [sensor] publish_on_first_run = false"
    else:
        due, reason = True, None
    publish = due
    if publish and delivery_blocker:
        publish, reason = False, delivery_blocker

    event: Dict[str, Any] = {
        "name": event_name,
        "payload": payload_for(observation, sensor["payload_key"], prev_fp, run_pathspec),
        "due": due,
        "publish": publish,
        "sent": False,
    }
    if reason:
        event["reason"] = reason
    return Decision(
        value=observation.value,
        fingerprint=observation.fingerprint,
        summary=observation.summary,
        changed=changed,
        previous_run=previous.pathspec if previous is not None else None,
        previous_value=prev_value,
        previous_fingerprint=prev_fp,
        event=event,
    )


def branch_state(flow_name: str, project: str, branch: str, *, can_deliver: Optional[bool] = None) -> Optional[Run]:
    """The run whose value is ``branch``'s current state: what its next tick compares with.

    Usable outside a run (Client API); the caller's namespace is restored. A tick that
    can publish compares with the last *delivered* state; one that cannot (no webhook,
    not deployed) with the last state of any kind. ``can_deliver=None`` asks this
    environment, as a tick started here would.
    """
    from ..events.publishing import delivery_blocker
    from ..getters.store import StateStore
    from .state import find_state

    if can_deliver is None:
        can_deliver = delivery_blocker() is None
    return find_state(flow_name, project, branch, can_deliver=can_deliver, store=StateStore.configured())
