from flowproject import SensorFlowBase, scheduled


@scheduled
class SensorFlow(SensorFlowBase):
    """Watches `[data]` and publishes `[sensor] event_name` when what it sees changes.

    The steps live in `flowproject.sensor.base` and upgrade with the package.
    """


if __name__ == "__main__":
    SensorFlow()
