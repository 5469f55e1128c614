from metaflow import Parameter, card, current, step

from flowproject import BaseFlow, requires_source, scheduled
from flowproject.events import published_event_default


@scheduled
class SensorFlow(BaseFlow):
    """Watches `[data]` and publishes `[sensor] event_name` when what it sees changes.

    Artifacts: value, fingerprint, summary, changed, previous_run, previous_fingerprint
    and event (name, payload, sent, and reason when not sent).
    """

    force_trigger = Parameter(
        "force-trigger", type=bool, default=False, help="Publish the event even if nothing changed."
    )
    sensor_event = Parameter(
        "sensor-event",
        default=published_event_default,
        help="The event this sensor publishes, from [sensor] event_name and the branch (read-only).",
    )

    @card(type="blank", id="sensor")
    @requires_source
    @step
    def start(self):
        """Observe [data] and compare with this branch's last successful run."""
        from flowproject.cards import render_sensor_card
        from flowproject.sensor import decide_in_run

        decision = decide_in_run(
            self.query(), self.flowconfig, published_event=self.sensor_event, force=self.force_trigger
        )
        self.value = decision.value
        self.fingerprint: str = decision.fingerprint
        self.summary: str = decision.summary
        self.changed: bool = decision.changed
        self.previous_run = decision.previous_run
        self.previous_fingerprint = decision.previous_fingerprint
        self.event: dict = decision.event
        render_sensor_card(current.card["sensor"], decision)
        print("%s; changed=%s; previous=%s" % (self.summary, self.changed, self.previous_run))
        self.next(self.end)

    @step
    def end(self):
        """Publish the planned event; a failed send fails the run (at-least-once)."""
        from flowproject.events import publish

        self.event = publish(self.event, timeout_seconds=self.flowconfig.sensor.publish_timeout_seconds)


if __name__ == "__main__":
    SensorFlow()
