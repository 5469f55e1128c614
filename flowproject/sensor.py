"""SensorFlow's decision: compare an observation with the branch's last successful run.

The promises (README, "Sensor semantics"): the state is the last *successful* run of the
same flow in the same project branch, never the running one and never another branch's;
an event is planned only on a change (or when forced); the payload carries the new value
(or its summary when large), the old fingerprint and the run pathspec.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, Mapping, Optional

from .runs import latest_successful_run
from .sources import Observation, canonical_json

# Argo passes the payload through a Sensor into workflow parameters; keep what travels
# small and send a summary + fingerprint for anything larger. Counted in UTF-8 bytes,
# not characters: 3,000 "é" are 3,000 characters but 6,000 bytes.
MAX_INLINE_PAYLOAD_BYTES = 4096


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
    sensor: Mapping[str, Any],
    event_name: Optional[str],
    flow_name: str,
    run_id: str,
    project: str,
    branch: str,
    force: bool = False,
    delivery_blocker: Optional[str] = None,
) -> Decision:
    """Compare ``observation`` with the branch's last successful run and plan the event.

    ``sensor`` is the ``[sensor]`` config table; ``event_name`` the resolved namespaced
    name (None when no ``event_name`` is configured); ``delivery_blocker`` why an event
    cannot be sent from here (no webhook on a local run), if so. The plan is in
    ``event``: ``publish`` (bool) and, when it will not be published, ``reason``.
    """
    previous = latest_successful_run(flow_name, project=project, branch=branch, exclude_run_id=run_id)
    prev_fp = prev_value = None
    if previous is not None:
        data = previous.data
        prev_fp = getattr(data, "fingerprint", None)
        prev_value = getattr(data, "value", None)
    first_run = previous is None
    changed = first_run or prev_fp != observation.fingerprint

    if not event_name:
        publish, reason = False, "no [sensor] event_name configured: the change is recorded only"
    elif force:
        publish, reason = True, None
    elif not changed:
        publish, reason = False, "no change since %s" % previous.pathspec
    elif first_run and not sensor.get("publish_on_first_run", True):
        publish, reason = False, "first run of this branch and [sensor] publish_on_first_run = false"
    else:
        publish, reason = True, None
    if publish and delivery_blocker:
        publish, reason = False, delivery_blocker

    pathspec = "%s/%s" % (flow_name, run_id)
    event: Dict[str, Any] = {
        "name": event_name,
        "payload": payload_for(observation, sensor["payload_key"], prev_fp, pathspec),
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


def decide_in_run(
    observation: Observation, flowconfig: Mapping[str, Any], *, published_event: str, force: bool = False
) -> Decision:
    """``decide`` for the running flow: its name, run, project branch and config.

    ``published_event`` is the flow's ``sensor-event`` parameter, checked against the
    name this branch must publish.
    """
    from metaflow import current

    from .events import check_published_name, delivery_blocker

    return decide(
        observation,
        sensor=flowconfig["sensor"],
        event_name=check_published_name(published_event, flowconfig),
        flow_name=current.flow_name,
        run_id=current.run_id,
        project=current.project_name,
        branch=current.branch_name,
        force=force,
        delivery_blocker=delivery_blocker(),
    )
