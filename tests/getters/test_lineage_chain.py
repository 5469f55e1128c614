"""A real chain: a sensor tick's observation -> its event (through `flowproject events serve`)
-> a consumer that reads a third flow's artifact -> a `@trigger_on_finish` flow; then
`flowproject lineage` up and down from each of them, with and without ``--depth``."""

from __future__ import annotations

import re
import shutil

from conftest import REPO, run_id_of, write_project
from flow_sources import base_flow
from lineage_flows import PRODUCER, consumer_flow, edge_set, lineage_graph
from serving import Server

TOML = """
project_name = "chain"
[data]
type = "local"
path = "watched"
[sensor]
event_name = "watched_changed"
"""

CONSUMER = consumer_flow(decorator="@on_sensor_event", flowproject="BaseFlow, on_sensor_event")

FINAL = base_flow("FinalFlow", decorator='@trigger_on_finish(flow="ConsumerFlow")', metaflow="step, trigger_on_finish")


def test_sensor_chain_up_and_down(sandbox, metadata, tmp_path):
    flows = {"producer.flow.py": PRODUCER, "consumer.flow.py": CONSUMER, "final.flow.py": FINAL}
    root = write_project(tmp_path / "proj", TOML, flows)
    shutil.copy(REPO / "flows" / "sensor.flow.py", root / "flows" / "sensor.flow.py")
    (root / "watched").mkdir()
    (root / "watched" / "a.csv").write_text("1,2,3\n")
    producer = "ProducerFlow/%s" % run_id_of(sandbox.run_ok([root / "flows" / "producer.flow.py", "run"], cwd=root))
    server = Server(sandbox, root)
    try:
        env = {"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": server.url}
        sensor = "SensorFlow/%s" % run_id_of(
            sandbox.run_ok([root / "flows" / "sensor.flow.py", "run"], cwd=root, env=env)
        )
        consumer = re.search(r"(ConsumerFlow/\d+)", server.wait_for(r"watched_changed: started")).group(1)
        # The finish watcher may start FinalFlow before the consumer's own "finished" line.
        final = re.search(r"(FinalFlow/\d+)", server.wait_for(r"%s finished: started" % consumer)).group(1)
        server.wait_for(r"%s finished" % final)
    finally:
        server.stop()

    def lineage(run, *args):
        proc = sandbox.run_ok(["-m", "flowproject.cli", "lineage", run, *args], cwd=root)
        assert "warning:" not in proc.stderr, proc.stderr
        return proc.stdout

    def edges(run, *args):
        g, err = lineage_graph(sandbox, root, run, *args)
        assert "warning:" not in err, err
        return g, edge_set(g)

    # Upward from the last run: every edge back to the observation the sensor made.
    g, up = edges(final, "--up")
    event = next(n for n in g["nodes"] if n["kind"] == "event")
    obs = next(n for n in g["nodes"] if n["kind"] == "observation")
    sensed = sandbox.client(
        "namespace(None)\nd = Run(%r).data\nresult = [d.fingerprint, d.summary, d.event]" % sensor, cwd=root
    )
    assert event["name"] == sensed[2]["name"] and event["event_id"] == sensed[2]["id"]
    assert (obs["fingerprint"], obs["summary"]) == (sensed[0], sensed[1])
    assert obs["check_mode"] == "files_metadata" and obs["source"] == "local:%s" % (root / "watched")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", obs["observed_at"])
    chain = {
        (obs["id"], "observed", sensor),
        (sensor, "published", event["id"]),
        (event["id"], "started", consumer),
        (producer, "read", consumer),
        (consumer, "started", final),
    }
    assert up == chain
    assert {n["id"]: n.get("pathspec") for n in g["nodes"] if n["kind"] == "run"} == {
        r: r for r in (final, consumer, producer, sensor)
    }
    # --depth counts edges; the event between two runs is a node of its own.
    assert edges(final, "--up", "--depth", "1")[1] == {(consumer, "started", final)}
    assert edges(final, "--up", "--depth", "2")[1] == {
        (consumer, "started", final),
        (event["id"], "started", consumer),
        (producer, "read", consumer),
    }
    # Downward from each run: every run its result reached.
    assert edges(sensor, "--down")[1] == {
        (sensor, "published", event["id"]),
        (event["id"], "started", consumer),
        (consumer, "started", final),
    }
    assert edges(sensor, "--down", "--depth", "1")[1] == {(sensor, "published", event["id"])}
    assert edges(producer, "--down")[1] == {(producer, "read", consumer), (consumer, "started", final)}
    assert edges(producer, "--down", "--depth", "1")[1] == {(producer, "read", consumer)}
    assert edges(final, "--down")[1] == set()
    # Both directions by default, from the middle of the chain.
    assert edges(consumer)[1] == chain
    diagram = lineage(consumer, "--mermaid")
    assert diagram.startswith("graph LR")
    for label in (consumer, producer, sensor, final, event["name"], obs["fingerprint"][:12], obs["summary"]):
        assert label in diagram, (label, diagram)
    assert diagram.count(" -->|") == len(chain) and '[("local:' in diagram
    text = lineage(final, "--up")
    assert "%s --read--> %s" % (producer, consumer) in text
    assert "%s (files_metadata)" % (root / "watched") in text and obs["fingerprint"] in text
