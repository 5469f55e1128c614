"""SensorFlow's machinery: ``SensorFlowBase``, the tick (lease, state, decide, publish,
record), the state store slots, history, preview and the card.

Builds on BaseFlow (``flowproject.flow``), sources, getters and events.
"""

from typing import TYPE_CHECKING

from .._lazy import exports

__getattr__, __dir__ = exports(__name__)

# Not `decide`: that is the module flowproject.sensor.decide (the function is in it).
__all__ = ["MAX_INLINE_PAYLOAD_BYTES", "Decision", "SensorFlowBase", "branch_state", "payload_for"]

if TYPE_CHECKING:
    from .base import SensorFlowBase
    from .decide import MAX_INLINE_PAYLOAD_BYTES, Decision, branch_state, payload_for
