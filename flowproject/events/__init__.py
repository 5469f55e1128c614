"""Argo events: namespaced names, the webhook POST, which flows an event starts (Argo's
rules, read from the flows' decorators) and the local server (``flowproject events serve``).

Builds on ``flowproject.config``; BaseFlow and the sensor build on it.
"""

from typing import TYPE_CHECKING

from .._lazy import exports

__getattr__, __dir__ = exports(__name__)

__all__ = [
    "DUPLICATE",
    "DedupeError",
    "EventProofError",
    "PAYLOAD_ENV_PREFIX",
    "SENSOR_FLOW",
    "PublishError",
    "check_published_name",
    "delivery_blocker",
    "event_name",
    "event_payloads",
    "on_sensor_event",
    "publish",
    "sensor_item",
    "sensor_value",
    "webhook_url",
]

if TYPE_CHECKING:
    from ..getters.payloads import payloads as event_payloads
    from .dedupe import DUPLICATE, DedupeError, sensor_item
    from .eventproof import EventProofError
    from .publishing import (
        PAYLOAD_ENV_PREFIX,
        SENSOR_FLOW,
        check_published_name,
        delivery_blocker,
        event_name,
        on_sensor_event,
        publish,
        sensor_value,
        webhook_url,
    )
    from .webhook import PublishError
