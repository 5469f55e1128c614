from metaflow import step

from flowproject import BaseFlow, on_sensor_event


@on_sensor_event
class DownstreamFlow(BaseFlow):
    """Runs when SensorFlow publishes `[sensor] event_name` from the same branch."""

    @step
    def start(self):
        """Pick up the value the sensor saw."""
        self.sensor_input = self.sensor_value
        print("sensor value: %s" % (self.sensor_input,))
        self.next(self.end)

    @step
    def end(self):
        """Nothing to clean up."""


if __name__ == "__main__":
    DownstreamFlow()
