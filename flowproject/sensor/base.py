"""``SensorFlowBase``: the whole SensorFlow, so a repository's flow file stays a few lines.

``flows/sensor.flow.py`` only names the class (Metaflow needs a FlowSpec subclass defined
in the flow file) and schedules it; its steps live here and upgrade with flowproject::

    from flowproject import SensorFlowBase, scheduled

    @scheduled
    class SensorFlow(SensorFlowBase):
        pass

The logic of a tick is in ``flowproject.sensor.tick``; this module only wires it into steps.
"""

from __future__ import annotations

from metaflow import Parameter, StepMutator, step

from ..events.publishing import published_event_default
from ..flow.base import BaseFlow
from ..flow.decorators import requires_source
from ..getters.run_context import current


class _sensor_card(StepMutator):
    """``[sensor] card = true``: the start step renders the SensorFlow card.

    Off by default: Metaflow renders a card in a second process after the step, which
    roughly doubles the cost of a tick that saw nothing new; the artifacts and the log
    line say what every tick did.
    """

    def mutate(self, mutable_step) -> None:
        config = dict(mutable_step.flow.configs)["flowconfig"]
        if config["sensor"].get("card"):
            mutable_step.add_decorator("card", deco_kwargs={"type": "blank", "id": "sensor"})


class SensorFlowBase(BaseFlow):
    """Watches ``[data]`` and publishes ``[sensor] event_name`` when what it sees changes.

    Artifacts of every tick: ``outcome`` ("changed", "no change" or "skipped"),
    ``outcome_reason``, ``value``, ``fingerprint``, ``summary``, ``changed``,
    ``previous_run``, ``previous_fingerprint``, ``event`` (name, payload, sent, and
    reason when not sent) and ``state_kind`` (see ``flowproject.sensor.state``).
    """

    force_trigger = Parameter(
        "force-trigger", type=bool, default=False, help="Publish the event even if nothing changed."
    )
    sensor_event = Parameter(
        "sensor-event",
        default=published_event_default,
        help="The event this sensor publishes, from [sensor] event_name and the branch (read-only).",
    )

    @_sensor_card
    @requires_source
    @step
    def start(self):
        """Take the branch's lease, observe [data] and compare with the branch's state."""
        from flowproject.sensor import tick

        tick.start(self)
        if self.flowconfig["sensor"].get("card"):
            from flowproject.sensor.card import render_sensor_card

            render_sensor_card(current.card["sensor"], self)
        self.next(self.end)

    @step
    def end(self):
        """Publish the planned event, record the state, give the lease back."""
        from flowproject.sensor import tick

        tick.end(self)
