"""SensorFlow's machinery: ``SensorFlowBase``, the tick (lease, state, decide, publish,
record), the state store slots, history, preview and the card.

Builds on BaseFlow (``flowproject.flow``), sources, getters and events.
"""

from .base import SensorFlowBase
from .decide import MAX_INLINE_PAYLOAD_BYTES, Decision, branch_state, decide, payload_for

__all__ = ["MAX_INLINE_PAYLOAD_BYTES", "Decision", "SensorFlowBase", "branch_state", "decide", "payload_for"]
