"""`flowproject sensor history` and `flowproject sensor preview` on real SensorFlow runs."""

from __future__ import annotations

import json

import pytest
from conftest import run_id_of, sensor_project

TOML = """
project_name = "watched_proj"
[data]
type = "local"
check_mode = "files_metadata"
path = "watched"
[sensor]
event_name = "watched_changed"
"""


@pytest.fixture
def project(tmp_path):
    root = sensor_project(tmp_path / "proj", TOML)
    return root


def sensor_run(sandbox, project, webhook, ok=True):
    args = ["flows/sensor.flow.py", "--branch", "hist", "run"]
    env = {"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": webhook.url}
    proc = (sandbox.run_ok if ok else sandbox.run)(args, cwd=project, env=env)
    return "SensorFlow/%s" % run_id_of(proc)


def cli_json(sandbox, project, *args):
    proc = sandbox.run_ok(["-m", "flowproject.cli", "sensor", *args, "--json"], cwd=project)
    return json.loads(proc.stdout)


def test_history_lists_ticks_newest_first_with_outcomes(sandbox, project, webhook):
    first = sensor_run(sandbox, project, webhook)
    same = sensor_run(sandbox, project, webhook)
    (project / "watched" / "b.csv").write_text("new\n")
    webhook.status = 500  # the publish fails, so the tick fails
    failed = sensor_run(sandbox, project, webhook, ok=False)
    webhook.status = 200
    sandbox.run_ok(["flows/sensor.flow.py", "run"], cwd=project)  # another branch: not listed

    ticks = cli_json(sandbox, project, "history", "--branch", "test.hist")
    assert [t["run"] for t in ticks] == [failed, same, first]
    assert [t["outcome"] for t in ticks] == ["failed", "no change", "changed"]
    assert "could not publish" in ticks[0]["reason"]
    assert ticks[1]["event"]["sent"] is False and ticks[1]["event"]["reason"] == "no change since %s" % first
    assert ticks[2]["event"]["sent"] is True
    assert ticks[2]["event"]["name"] == "mfns.watched_proj.test.hist.watched_changed"
    assert "1 file" in ticks[2]["summary"] and "2 files" in ticks[0]["summary"]

    assert [t["run"] for t in cli_json(sandbox, project, "history", "--branch", "test.hist", "-n", "2")] == [
        failed,
        same,
    ]
    table = sandbox.run_ok(["-m", "flowproject.cli", "sensor", "history", "--branch", "test.hist"], cwd=project).stdout
    lines = table.strip().splitlines()
    assert len(lines) == 3 and failed in lines[0] and "failed (in end: " in lines[0]
    assert "no change" in lines[1] and "not sent: no change since" in lines[1]
    assert "sent mfns.watched_proj.test.hist.watched_changed" in lines[2]


def test_history_of_an_empty_branch(sandbox, project):
    assert cli_json(sandbox, project, "history", "--branch", "test.nothing") == []


def test_preview_no_change_then_would_publish(sandbox, project, webhook):
    first = cli_json(sandbox, project, "preview", "--branch", "test.hist")
    assert first["would_publish"] is True and first["state_run"] is None
    assert first["message"].startswith("would publish mfns.watched_proj.test.hist.watched_changed with ")
    run = sensor_run(sandbox, project, webhook)
    same = cli_json(sandbox, project, "preview", "--branch", "test.hist")
    assert same["would_publish"] is False and same["message"] == "no change since %s" % run
    (project / "watched" / "b.csv").write_text("new\n")
    changed = cli_json(sandbox, project, "preview", "--branch", "test.hist")
    assert changed["would_publish"] is True and changed["state_run"] == run
    assert "2 files" in changed["message"] and changed["message"].endswith("(since %s)" % run)
    # Preview ran no flow: the branch still has only the one run.
    assert [t["run"] for t in cli_json(sandbox, project, "history", "--branch", "test.hist")] == [run]


def test_history_event_leaves_the_payload_out(sandbox, project, webhook):
    run = sensor_run(sandbox, project, webhook)
    (tick,) = cli_json(sandbox, project, "history", "--branch", "test.hist")
    assert tick["run"] == run
    assert set(tick["event"]) == {"name", "sent", "id"}
