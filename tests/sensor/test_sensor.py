"""SensorFlow end to end: real runs, the local source, a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import re
import shutil

import pytest
from conftest import REPO, run_id_of, sensor_project

TOML = """
project_name = "sensed"
[data]
type = "local"
check_mode = "files_metadata"
path = "watched"
[sensor]
event_name = "watched_changed"
payload_key = "new_value"
"""


@pytest.fixture(autouse=True)
def _both_metadata_providers(metadata):
    """Every test here runs with Metaflow's local metadata and with the metadata service."""


@pytest.fixture
def project(tmp_path):
    root = sensor_project(tmp_path / "proj", TOML)
    return root


class Sensor:
    def __init__(self, sandbox, project, webhook=None):
        self.sandbox, self.project = sandbox, project
        self.env = {"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": webhook.url} if webhook else {}

    def run(self, *args, ok=True, branch=None):
        flags = ["--branch", branch] if branch else []
        cmd = ["flows/sensor.flow.py", *flags, "run", *args]
        proc = (self.sandbox.run_ok if ok else self.sandbox.run)(cmd, cwd=self.project, env=self.env)
        return proc

    def artifacts(self, run_id):
        return self.sandbox.client(
            """
            namespace(None)
            d = Run("SensorFlow/%s").data
            result = {k: getattr(d, k) for k in
                      ("value", "fingerprint", "changed", "previous_run", "event", "summary")}
            """
            % run_id
        )


def user_branch(sandbox):
    return "user.%s" % sandbox.env["METAFLOW_USER"]


def test_no_change_sends_no_event(sandbox, project, webhook):
    sensor = Sensor(sandbox, project, webhook)
    first = run_id_of(sensor.run())
    assert len(webhook.events) == 1  # first run publishes (publish_on_first_run default)
    second = run_id_of(sensor.run())
    assert len(webhook.events) == 1
    art = sensor.artifacts(second)
    assert art["changed"] is False
    assert art["previous_run"] == "SensorFlow/%s" % first
    assert art["event"]["sent"] is False
    assert art["event"]["reason"] == "no change since SensorFlow/%s" % first


def test_change_sends_exactly_one_event_with_name_and_payload(sandbox, project, webhook):
    sensor = Sensor(sandbox, project, webhook)
    first = run_id_of(sensor.run())
    before = sensor.artifacts(first)
    (project / "watched" / "b.csv").write_text("new file\n")
    webhook.events.clear()
    second = run_id_of(sensor.run())
    assert len(webhook.events) == 1
    event = webhook.events[0]
    expected_name = "mfns.sensed.%s.watched_changed" % user_branch(sandbox)
    assert event["name"] == expected_name
    payload = event["payload"]
    art = sensor.artifacts(second)
    assert payload["new_value"] == art["value"]
    assert payload["sensor_fingerprint"] == art["fingerprint"] != before["fingerprint"]
    assert payload["sensor_previous_fingerprint"] == before["fingerprint"]
    assert payload["sensor_run"] == "SensorFlow/%s" % second
    assert "test_mode" not in payload and "force_trigger" not in payload
    assert art["changed"] is True
    assert art["event"]["sent"] is True and art["event"]["name"] == expected_name
    assert "reason" not in art["event"]


def test_failed_publish_fails_the_run_and_next_run_publishes_again(sandbox, project, webhook):
    sensor = Sensor(sandbox, project, webhook)
    first = run_id_of(sensor.run())
    (project / "watched" / "a.csv").write_text("changed contents, longer\n")
    webhook.status = 500
    failed = sensor.run(ok=False)
    assert failed.returncode != 0
    assert "could not publish mfns.sensed." in failed.stdout + failed.stderr
    webhook.status = 200
    webhook.events.clear()
    retry = run_id_of(sensor.run())
    assert len(webhook.events) == 1
    art = sensor.artifacts(retry)
    # The failed run saw the same change; it must not count as the previous state.
    assert art["previous_run"] == "SensorFlow/%s" % first
    assert art["changed"] is True


def test_branches_interleaved_never_share_state(sandbox, project, webhook):
    sensor = Sensor(sandbox, project, webhook)
    a1 = run_id_of(sensor.run(branch="a"))
    b1 = run_id_of(sensor.run(branch="b"))
    assert sensor.artifacts(b1)["previous_run"] is None  # a's run is not b's state
    (project / "watched" / "c.csv").write_text("x\n")
    a2 = run_id_of(sensor.run(branch="a"))
    b2 = run_id_of(sensor.run(branch="b"))
    a3 = run_id_of(sensor.run(branch="a"))
    art_a2, art_b2, art_a3 = sensor.artifacts(a2), sensor.artifacts(b2), sensor.artifacts(a3)
    assert (art_a2["previous_run"], art_a2["changed"]) == ("SensorFlow/%s" % a1, True)
    # b saw the change itself, even though a already published it on its branch.
    assert (art_b2["previous_run"], art_b2["changed"]) == ("SensorFlow/%s" % b1, True)
    assert (art_a3["previous_run"], art_a3["changed"]) == ("SensorFlow/%s" % a2, False)
    names = [e["name"] for e in webhook.events]
    assert names == [
        "mfns.sensed.test.a.watched_changed",
        "mfns.sensed.test.b.watched_changed",
        "mfns.sensed.test.a.watched_changed",
        "mfns.sensed.test.b.watched_changed",
    ]


def test_run_that_fails_before_publishing_is_never_the_previous_state(sandbox, project, webhook):
    sensor = Sensor(sandbox, project, webhook)
    first = run_id_of(sensor.run())
    # A run that dies in start (its folder vanished) leaves a failed run behind.
    shutil.move(str(project / "watched"), str(project / "moved"))
    (project / "watched").write_text("now a file, not a folder\n")
    broken = sensor.run(ok=False)
    shutil.rmtree(project / "moved")
    (project / "watched").unlink()
    (project / "watched").mkdir()
    (project / "watched" / "a.csv").write_text("1,2,3\n")
    after = run_id_of(sensor.run())
    art = sensor.artifacts(after)
    assert art["previous_run"] == "SensorFlow/%s" % first, broken.stdout[-2000:]


def test_force_trigger_publishes_without_a_change(sandbox, project, webhook):
    sensor = Sensor(sandbox, project, webhook)
    sensor.run()
    webhook.events.clear()
    forced = run_id_of(sensor.run("--force-trigger", "true"))
    assert len(webhook.events) == 1
    art = sensor.artifacts(forced)
    assert art["changed"] is False and art["event"]["sent"] is True


def test_without_a_webhook_the_event_is_recorded_not_sent(sandbox, project):
    sensor = Sensor(sandbox, project)
    proc = sensor.run()
    art = sensor.artifacts(run_id_of(proc))
    assert art["event"]["sent"] is False
    assert art["event"]["name"] == "mfns.sensed.%s.watched_changed" % user_branch(sandbox)
    assert "nothing was sent" in art["event"]["reason"]
    assert "NOT sent" in proc.stdout


def test_without_an_event_name_the_change_is_recorded_only(sandbox, project, webhook):
    (project / "flowproject.toml").write_text(TOML.replace('event_name = "watched_changed"\n', ""))
    sensor = Sensor(sandbox, project, webhook)
    art = sensor.artifacts(run_id_of(sensor.run()))
    assert webhook.events == []
    assert art["changed"] is True
    assert art["event"]["name"] is None and art["event"]["sent"] is False
    assert "no [sensor] event_name configured" in art["event"]["reason"]


def test_first_run_can_be_told_not_to_publish(sandbox, project, webhook):
    (project / "flowproject.toml").write_text(TOML + "publish_on_first_run = false\n")
    sensor = Sensor(sandbox, project, webhook)
    art = sensor.artifacts(run_id_of(sensor.run()))
    assert webhook.events == []
    assert art["changed"] is True and "publish_on_first_run = false" in art["event"]["reason"]


def test_sensor_event_parameter_cannot_point_at_another_branch(sandbox, project, webhook):
    sensor = Sensor(sandbox, project, webhook)
    proc = sensor.run("--sensor-event", "mfns.sensed.prod.watched_changed", ok=False)
    assert proc.returncode != 0
    assert "it cannot be set to 'mfns.sensed.prod.watched_changed'" in proc.stdout + proc.stderr
    assert webhook.events == []


def test_card_shows_observation_previous_run_and_event(sandbox, project, tmp_path):
    (project / "flowproject.toml").write_text(TOML + "card = true\n")
    sensor = Sensor(sandbox, project)
    first = run_id_of(sensor.run())
    (project / "watched" / "z.csv").write_text("z\n")
    second = run_id_of(sensor.run())
    html_path = tmp_path / "sensor_card.html"
    sandbox.run_ok(
        ["flows/sensor.flow.py", "card", "get", "%s/start" % second, "--id", "sensor", str(html_path)],
        cwd=project,
    )
    html = html_path.read_text()
    # The card's content travels base64-encoded inside the HTML.
    data = re.search(r'window.__MF_DATA__\["[^"]+"\] = "([^"]+)"', html).group(1)
    content = base64.b64decode(data).decode("utf-8")
    for text in ("CHANGED", "SensorFlow/%s" % first, "mfns.sensed.", "nothing was sent", "Previous value"):
        assert text in content, text


def test_downstream_reads_the_value_from_the_trigger_payload(sandbox, project, webhook):
    sensor = Sensor(sandbox, project, webhook)
    sensor.run()
    event = webhook.events[0]
    shutil.copy(REPO / "flows" / "downstream.flow.py", project / "flows" / "downstream.flow.py")
    # What Argo Workflows hands a triggered pod: the whole payload in an env var.
    proc = sandbox.run_ok(
        ["flows/downstream.flow.py", "run"],
        cwd=project,
        env={"METAFLOW_ARGO_EVENT_PAYLOAD_event_watched_changed": json.dumps(event["payload"])},
    )
    run_id = run_id_of(proc)
    got = sandbox.client('namespace(None)\nresult = Run("DownstreamFlow/%s").data.sensor_input' % run_id)
    assert got == event["payload"]["new_value"]


def test_readme_quick_start_runs_sensorflow_on_the_embedded_default(sandbox):
    # The README's first command, minus the install: the repo's own config and data/.
    first = sandbox.run_ok(["flows/sensor.flow.py", "run"], cwd=REPO)
    assert "%s: " % (REPO / "data") in first.stdout
    assert "changed=True; previous=None" in first.stdout
    assert "NOT sent: no webhook configured" in first.stdout
    second = sandbox.run_ok(["flows/sensor.flow.py", "run"], cwd=REPO)
    assert "changed=False; previous=SensorFlow/%s" % run_id_of(first) in second.stdout
