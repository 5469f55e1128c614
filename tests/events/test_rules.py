"""Argo's trigger rules (flowproject.events.rules) against Metaflow's own definition."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import write_project
from deploying import ARGO_EVENTS_ENV
from flow_sources import base_flow, join_flow

from flowproject.events import rules, triggers

TOML = """
project_name = "shop"
[data]
type = "local"
path = "data"
[sensor]
event_name = "data_changed"
"""

FLOWS = {
    "join.flow.py": join_flow("Join", ""),
    "after.flow.py": base_flow(
        "After",
        decorator='@trigger_on_finish(flows=["Join", {"name": "Other", "project": "elsewhere", "project_branch": "prod"}])',
        metaflow="step, trigger_on_finish",
    ),
}


def book(tmp_path: Path, **kwargs) -> rules.TriggerBook:
    root = write_project(tmp_path / "p", TOML, FLOWS)
    cfg, flows = triggers.project_flows(root)
    return rules.TriggerBook(cfg["project_name"], flows, **kwargs)


def test_two_events_start_once_both_arrived_and_again_only_after_both_again(tmp_path):
    b = book(tmp_path, branches=["test.x"])
    orders = "mfns.shop.test.x.orders"
    assert b.offer(orders, {"name": orders, "date": "d1"}) == []
    assert b.offer(orders, {"name": orders, "date": "d2"}) == []  # the latest of one name is used
    assert b.waiting("Join", "test.x") == [orders]
    (start,) = b.offer("prices", {"name": "prices", "cur": "EUR"})
    assert (start.flow, start.branch) == ("Join", "test.x")
    assert [e.name for e in start.events] == [orders, "prices"]
    assert start.params == {"day": "d2", "currency": "EUR"}
    cmd, env = start.launch(python="py")
    assert cmd[-3:] == ["--branch", "x", "run"]
    # Both payloads reach the run, so current.trigger.events lists both.
    kinds = {k: json.loads(v)["name"] for k, v in env.items() if k.startswith(triggers.PAYLOAD_ENV_PREFIX)}
    assert sorted(kinds.values()) == [orders, "prices"]
    assert all(k.startswith(triggers.PAYLOAD_ENV_PREFIX + "event_") for k in kinds)
    # Consumed: one more event of each kind is needed.
    assert b.offer("prices", {"name": "prices", "cur": "USD"}) == []
    assert [s.params for s in b.offer(orders, {"name": orders, "date": "d3"})] == [{"day": "d3", "currency": "USD"}]


def test_branches_keep_separate_state_and_unserved_branches_are_ignored(tmp_path):
    b = book(tmp_path, branches=["test.x", "test.y"])
    assert b.offer("mfns.shop.test.x.orders", {}) == []
    assert b.offer("mfns.shop.prod.orders", {}) == []  # prod is not served here
    assert b.offer("prices", {}, branch="test.y") == []  # waits in test.y, not with x's orders
    assert [s.branch for s in b.offer("prices", {}, branch="test.x")] == ["test.x"]


def test_a_message_delivered_twice_counts_once(tmp_path):
    b = book(tmp_path, branches=["test.x"])
    b.offer("mfns.shop.test.x.orders", {"date": "1"}, event_id="m1")
    b.offer("mfns.shop.test.x.orders", {"date": "2"}, event_id="m2")
    assert b.offer("mfns.shop.test.x.orders", {"date": "1"}, event_id="m1") == []
    assert b.offer("prices", {}, event_id="m3")[0].params["day"] == "2"


def test_reset_at_forgets_events_received_before_the_cron_time(tmp_path):
    now = [1_700_000_000.0]  # 2023-11-14 22:13:20 UTC
    b = book(tmp_path, branches=["test.x"], clock=lambda: now[0])
    join = next(f for f in b.flows if f.flow == "Join")
    join.options = {"reset_at": {"cron": "0 0 * * *", "timezone": "UTC"}}
    b.offer("mfns.shop.test.x.orders", {})
    now[0] += 3 * 3600  # past midnight UTC: the Sensor has wiped its dependencies
    assert b.offer("prices", {}) == []
    assert b.waiting("Join", "test.x") == ["prices"]


def test_trigger_on_finish_needs_every_upstream_and_only_successful_runs(tmp_path):
    b = book(tmp_path, branches=["user.ann"])
    assert b.finished("Join", "7", "user.ann", successful=False) == []
    assert b.finished("Join", "8", "user.ann") == []  # Other has not finished yet
    other = rules.finish_payload("elsewhere", "prod", "Other", "3")
    (start,) = b.offer(other["name"], other, branch="user.ann")
    assert start.flow == "After" and start.params == {}
    cmd, env = start.launch(python="py")
    assert cmd[-1] == "run" and env["METAFLOW_USER"] == "ann"
    runs = [json.loads(v)["pathspec"] for k, v in env.items() if k.startswith(triggers.PAYLOAD_ENV_PREFIX + "run_")]
    assert sorted(runs) == ["Join/8/end/0", "Other/3/end/0"]
    # A hand-made event with the finish name is not Metaflow's: the Sensor filters it out.
    assert b.offer("metaflow.shop.user.ann.Join.end", {"name": "x"}, branch="user.ann") == []


def test_the_rules_use_the_names_metaflow_renders_into_the_template(sandbox, tmp_path, s3_server):
    """Both sides, one definition: Metaflow's rendered triggers equal the subscriptions read."""
    root = write_project(tmp_path / "p", TOML, FLOWS)
    cfg, flows = triggers.project_flows(root)
    bucket = s3_server.new_bucket("rules")
    env = dict(s3_server.datastore_env(bucket), **ARGO_EVENTS_ENV)
    for target in flows:
        out = tmp_path / (target.flow + ".json")
        proc = sandbox.run_ok(
            [target.file, "--branch", "x", "argo-workflows", "create", "--only-json"], cwd=root, env=env
        )
        out.write_text(proc.stdout[proc.stdout.index("{") :])
        template = json.loads(out.read_text())
        rendered = json.loads(template["metadata"]["annotations"]["metaflow/triggers"])
        ours = [{"name": s.resolve("shop", "test.x"), "type": s.kind} for s in target.subscriptions]
        assert rendered == ours
        # The payload variables the run reads are the parameters the template declares.
        declared = {p["name"] for p in template["spec"]["arguments"]["parameters"]}
        assert {triggers.sanitized_name(s.resolve("shop", "test.x")) for s in target.subscriptions} <= declared


def test_on_sensor_event_without_an_event_name_is_what_metaflow_renders(sandbox, tmp_path, s3_server):
    """@on_sensor_event with no [sensor] event_name deploys as @trigger_on_finish(flow="SensorFlow")."""
    toml = TOML.replace('event_name = "data_changed"', "")
    flow = base_flow("After", decorator="@on_sensor_event", flowproject="BaseFlow, on_sensor_event")
    root = write_project(tmp_path / "p", toml, {"after.flow.py": flow})
    _, (target,) = triggers.project_flows(root)
    bucket = s3_server.new_bucket("sensorfinish")
    env = dict(s3_server.datastore_env(bucket), **ARGO_EVENTS_ENV)
    proc = sandbox.run_ok([target.file, "--branch", "x", "argo-workflows", "create", "--only-json"], cwd=root, env=env)
    template = json.loads(proc.stdout[proc.stdout.index("{") :])
    rendered = json.loads(template["metadata"]["annotations"]["metaflow/triggers"])
    assert rendered == [{"name": "metaflow.shop.test.x.SensorFlow.end", "type": "run"}]
    assert [{"name": s.resolve("shop", "test.x"), "type": s.kind} for s in target.subscriptions] == rendered
