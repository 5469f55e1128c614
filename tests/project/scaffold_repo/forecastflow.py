from datetime import datetime

from metaflow import step, trigger_on_finish, project, config_expr

# team code lives beside the flows
import teampkg
from flowproject import BaseFlow, snowflake, toml_parser  # noqa: F401


@project(name=config_expr("flowconfig.project_name"))
@trigger_on_finish(flow="SensorFlow")
class ForecastFlow(BaseFlow):
    """Runs when the sensor saw new hourly history."""

    @snowflake
    @step
    def start(self):
        # the sensor's single value: the newest time_valid_utc, ISO formatted
        since = datetime.fromisoformat(str(self.sensor_value or "2024-01-01T00:00:00").rstrip("Z"))
        self.rows = self._query_snowflake(
            sql=None, template=("forecast", [since.isoformat()]), card=False
        )
        self.region = teampkg.region()
        self.next(self.end)

    @step
    def end(self):
        print("rows: %d for %s" % (len(self.rows), self.region))


if __name__ == "__main__":
    ForecastFlow()
