"""After `flowproject migrate`, a Snowflake scaffold repository runs its laptop loop: the
migrated SensorFlow against fakesnow's server (change, no change, change) and the migrated
downstream flow started by `flowproject events serve`, reading the sensor's single value and
its own business query, as it did on Outerbounds."""

from __future__ import annotations

import re

import pytest
from conftest import run_id_of
from serving import Server
from test_migrate import commit, migrate, scaffold_repo

from flowproject.testing import servers


def warehouse(env):
    import snowflake.connector

    return snowflake.connector.connect(
        account="fakesnow",
        user="fake",
        password="x",
        host="127.0.0.1",
        port=int(env["SNOWFLAKE_PORT"]),
        protocol="http",
    )


@pytest.fixture
def snow(tmp_path):
    server = servers.fakesnow(tmp_path / "fakesnow")
    env = dict(servers.fakesnow_env(server), SNOWFLAKE_DATABASE="WEATHER")
    conn = warehouse(env)
    cur = conn.cursor()
    cur.execute("CREATE DATABASE IF NOT EXISTS WEATHER")
    cur.execute("CREATE SCHEMA IF NOT EXISTS WEATHER.ONPOINT_ID")
    cur.execute("CREATE TABLE WEATHER.ONPOINT_ID.HISTORY_HOUR (country VARCHAR, time_valid_utc TIMESTAMP)")
    cur.execute(
        "INSERT INTO WEATHER.ONPOINT_ID.HISTORY_HOUR VALUES ('US', '2024-05-01 10:00:00'), ('FR', '2024-06-01')"
    )
    conn.close()
    try:
        yield env
    finally:
        server.close()


def test_the_migrated_sensor_and_downstream_flow_run_the_loop(sandbox, tmp_path, snow):
    repo = scaffold_repo(tmp_path / "repo")
    assert migrate(sandbox, repo).returncode == 0
    commit(repo, "migrate")
    sandbox.env.update(snow)
    server = Server(sandbox, repo)
    branch = "user.%s" % sandbox.env["METAFLOW_USER"]
    event = re.escape("mfns.demo_project.%s.data_changed" % branch)
    hook = {"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": server.url}

    def forecast_started_by_a_tick():
        tick = sandbox.run_ok(["flows/sensor.flow.py", "run"], cwd=repo, env=hook)
        line = server.wait_for(r"^%s: started" % event)
        (run,) = re.findall(r"ForecastFlow/\d+", line)  # StarterFlow starts beside it
        server.wait_for(r"%s finished" % run)
        return run_id_of(tick), run

    def data(pathspec, names):
        # Rows hold datetimes: compared as text.
        code = "namespace(None)\nd = Run(%r).data\nresult = {k: getattr(d, k) for k in %r}"
        code += "\nresult = json.loads(json.dumps(result, default=str))"
        return sandbox.client(code % (pathspec, names), cwd=repo)

    try:
        first_tick, first = forecast_started_by_a_tick()
        assert data("SensorFlow/%s" % first_tick, ["outcome"])["outcome"] == "changed"
        got = data(first, ["rows", "region"])
        # The scaffold's flow reads sensor_value as one value and queries sql/forecast.sql with it.
        assert [r[0] for r in got["rows"]] == ["2024-05-01 10:00:00"] and got["region"] == "US"

        quiet = sandbox.run_ok(["flows/sensor.flow.py", "run"], cwd=repo, env=hook)
        assert data("SensorFlow/%s" % run_id_of(quiet), ["outcome"])["outcome"] == "no change"

        conn = warehouse(snow)
        conn.cursor().execute("INSERT INTO WEATHER.ONPOINT_ID.HISTORY_HOUR VALUES ('US', '2024-05-01 11:00:00')")
        conn.close()
        _, second = forecast_started_by_a_tick()
        assert [r[0] for r in data(second, ["rows"])["rows"]] == ["2024-05-01 11:00:00"]
    finally:
        server.stop()
    # One ForecastFlow run per change, none for the quiet tick.
    assert len([line for line in server.seen if re.search(r"^%s: started" % event, line)]) == 2
    assert snow["SNOWFLAKE_PASSWORD"] not in "\n".join(server.seen)
