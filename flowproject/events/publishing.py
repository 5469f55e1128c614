"""Sensor events: one naming function for publisher and trigger, and honest publishing.

The published name is Metaflow's ``namespaced_event_name(<[sensor] event_name>)``, which
resolves to ``mfns.<project>.<branch>.<event>`` in the run or deployment that evaluates
it. SensorFlow publishes with it and ``@on_sensor_event`` triggers on it, so a sensor
deployed from a feature branch can only ever start flows deployed from that same branch.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Optional

# trigger, trigger_on_finish and namespaced_event_name are plugins Metaflow adds to its namespace at import time.
from metaflow import FlowMutator, namespaced_event_name, trigger, trigger_on_finish  # type: ignore[attr-defined]

from ..config.schema import DEFAULT_PUBLISH_TIMEOUT_SECONDS
from ..getters import payloads as _payloads
from . import eventproof as _eventproof

# The flow that publishes sensor events, and that @on_sensor_event listens to without
# an event name.
SENSOR_FLOW = "SensorFlow"


def event_name(logical_name: str) -> Callable[..., str]:
    """The namespaced event name for ``logical_name``, resolved where it is evaluated.

    Returns Metaflow's delayed name (a callable): ``@trigger`` resolves it at deploy
    time, a running flow by calling it.
    """
    return namespaced_event_name(logical_name)


def published_event_default(ctx: Any) -> str:
    """Default of SensorFlow's ``sensor-event`` parameter: the name it publishes.

    A deploy-time default, so the namespaced name is frozen into the deployed template
    where people (and tests) can read it; "" when no event name is configured.
    """
    logical = ctx.configs["flowconfig"]["sensor"]["event_name"]
    return event_name(logical)() if logical else ""


def check_published_name(given: Optional[str], flowconfig: Any) -> Optional[str]:
    """The name to publish, refusing a ``sensor-event`` that is not this branch's own.

    Overriding it would let a feature-branch sensor trigger production flows.
    """
    logical = flowconfig["sensor"]["event_name"]
    expected = event_name(logical)() if logical else ""
    # A deployed template may hand an empty default back as None.
    if (given or "") != expected:
        from .webhook import PublishError

        raise PublishError(
            "sensor-event is derived from [sensor] event_name and the project branch "
            "(expected %r); it cannot be set to %r" % (expected, given)
        )
    return expected or None


def webhook_url() -> Optional[str]:
    """Where events go: ``METAFLOW_ARGO_EVENTS_WEBHOOK_URL`` (env or Metaflow config)."""
    from metaflow.metaflow_config import ARGO_EVENTS_WEBHOOK_URL

    return os.environ.get("METAFLOW_ARGO_EVENTS_WEBHOOK_URL") or ARGO_EVENTS_WEBHOOK_URL


def in_deployed_workflow() -> bool:
    return bool(os.environ.get("ARGO_WORKFLOW_TEMPLATE"))


def delivery_blocker() -> Optional[str]:
    """Why an event could not be sent from here, or None when it can be.

    Inside a deployed workflow we always try (a missing webhook there is a deployment
    fault and must fail the run); locally only when a webhook URL is configured.
    """
    if webhook_url() or in_deployed_workflow():
        return None
    return "no webhook configured (METAFLOW_ARGO_EVENTS_WEBHOOK_URL is unset): nothing was sent"


def publish(event: Dict[str, Any], timeout_seconds: Optional[float] = None) -> Dict[str, Any]:
    """Send a planned event (``{"name", "payload", "publish": bool, ...}``).

    Returns the event record with ``sent`` and, when not sent, ``reason``. A failed
    send raises PublishError, so the run fails and the next run sees the change again:
    a redirect, any answer but 2xx, a refused connection, or no answer within
    ``timeout_seconds`` (``[sensor] publish_timeout_seconds``; one deadline for the whole
    send). The message is one line and never shows a secret from the webhook URL.
    """
    record = {k: v for k, v in event.items() if k != "publish"}
    blocker = delivery_blocker()
    if event.get("publish") and blocker:
        record["reason"] = blocker
    if not event.get("publish") or blocker:
        record["sent"] = False
        if record.get("name"):
            print("Event %s NOT sent: %s" % (record["name"], record.get("reason")))
        return record
    # Loaded only to send: a tick that saw nothing new never needs the HTTP client.
    from .webhook import PublishError, post_event

    url = webhook_url()
    if not url:
        raise PublishError(
            "could not publish %s: METAFLOW_ARGO_EVENTS_WEBHOOK_URL is not set in this deployed workflow"
            % event["name"]
        )
    seconds = timeout_seconds if timeout_seconds is not None else DEFAULT_PUBLISH_TIMEOUT_SECONDS
    event_id = post_event(url, event["name"], event["payload"], seconds)
    record.update(sent=True, id=event_id)
    return record


class on_sensor_event(FlowMutator):
    """Flow decorator: run this flow when SensorFlow publishes ``[sensor] event_name``.

    The trigger uses ``event_name()``, the same function SensorFlow publishes with, so
    both sides agree on ``mfns.<project>.<branch>.<event>`` for every branch. With no
    ``event_name`` configured it falls back to ``@trigger_on_finish(flow="SensorFlow")``,
    which runs after every successful sensor run, changed or not.
    """

    def init(self, sensor_flow: str = SENSOR_FLOW, dedupe: Optional[bool] = None) -> None:
        self.sensor_flow = sensor_flow
        # dedupe=True (or [sensor] dedupe = true): once per dedupe_key (flowproject.events.dedupe).
        self.dedupe = dedupe

    def pre_mutate(self, mutable_flow) -> None:
        config = dict(mutable_flow.configs)["flowconfig"]
        if self.dedupe or (self.dedupe is None and config.sensor.get("dedupe")):
            from .dedupe import guard

            for _, mutable_step in mutable_flow.steps:
                mutable_step.add_decorator(guard())
        logical = config.sensor.event_name
        if logical:
            mutable_flow.add_decorator(trigger, deco_kwargs={"event": event_name(logical)})
            # Without it Argo's Sensor would map a payload key "test-mode" to BaseFlow's test_mode.
            _eventproof.pin(mutable_flow)
        else:
            mutable_flow.add_decorator(trigger_on_finish, deco_kwargs={"flow": self.sensor_flow})


# Argo Workflows hands each trigger's whole payload to every step in an env var.
PAYLOAD_ENV_PREFIX = _payloads.PAYLOAD_ENV_PREFIX


def sensor_value(flowconfig: Any, sensor_flow: str = SENSOR_FLOW) -> Any:
    """The value SensorFlow published to the running flow, or None if it was not triggered.

    Reads the payload of the ``[sensor] event_name`` event this run was triggered by
    (``[sensor] payload_key``); for a run started by ``@trigger_on_finish`` of the
    sensor, the sensor run's ``value`` artifact.
    """
    from metaflow import current

    from ..getters.payloads import payload_named

    sensor = flowconfig["sensor"]
    if sensor["event_name"]:
        payload = payload_named(event_name(sensor["event_name"])())
        if payload is not None:
            return _shaped(payload.get(sensor["payload_key"]), sensor)
    trig = current.get("trigger")
    if trig is not None:
        run = getattr(trig, "run", None)
        if run is not None and run.parent.id == sensor_flow:
            return _shaped(run.data.value, sensor)
    return None


def _shaped(value: Any, sensor: Any) -> Any:
    """``[sensor] value = "scalar"``: a one-row one-column result is its single cell (what a
    scaffold flow's ``self.sensor_value`` was); anything else is returned as it is."""
    if sensor.get("value") == "scalar" and isinstance(value, list) and len(value) == 1:
        row = value[0]
        if isinstance(row, (list, tuple)) and len(row) == 1:
            return row[0]
    return value
