"""Every BaseFlow run records what it read: the ``lineage_inputs`` artifact and the index."""

from __future__ import annotations

import json

from conftest import run_id_of, write_project
from lineage_flows import PRODUCER, TOML, consumer_flow, lineage_graph

CONSUMER = consumer_flow(
    end="""
    # The same run read twice: recorded once.
    self.again = self.get_artifact("ProducerFlow", "model")
    """
)


def test_reads_recorded_once_as_artifact_and_index(sandbox, metadata, tmp_path):
    root = write_project(tmp_path / "proj", TOML, {"producer.flow.py": PRODUCER, "consumer.flow.py": CONSUMER})
    (root / "watched").mkdir()
    producer = run_id_of(sandbox.run_ok([root / "flows" / "producer.flow.py", "run"], cwd=root))
    consumer = run_id_of(sandbox.run_ok([root / "flows" / "consumer.flow.py", "run"], cwd=root))
    got = sandbox.client(
        """
        namespace(None)
        result = [Run("ProducerFlow/%s").data.lineage_inputs, Run("ConsumerFlow/%s").data.lineage_inputs]
        """
        % (producer, consumer)
    )
    assert got[0] == []
    assert got[1] == [
        {"kind": "read", "pathspec": "ProducerFlow/%s" % producer, "artifacts": ["model"], "how": "latest"}
    ]
    base = tmp_path / "datastore" / ".metaflow"
    own = json.loads((base / "ConsumerFlow/_flowproject/lineage" / consumer / "run.json").read_text())
    assert own["inputs"] == got[1]
    entry = base / "ProducerFlow/_flowproject/lineage" / producer / "used_by" / ("ConsumerFlow~%s.json" % consumer)
    assert json.loads(entry.read_text())["run"] == "ConsumerFlow/%s" % consumer

    def lineage(*args):
        return lineage_graph(sandbox, root, *args)[0]

    edge = {"from": "ProducerFlow/%s" % producer, "to": "ConsumerFlow/%s" % consumer, "kind": "read"}
    assert lineage("ProducerFlow/%s" % producer, "--down")["edges"] == [edge]
    assert lineage("ConsumerFlow/%s" % consumer, "--up")["edges"] == [edge]
    diagram = sandbox.run_ok(
        ["-m", "flowproject.cli", "lineage", "ProducerFlow/%s" % producer, "--mermaid"], cwd=root
    ).stdout
    assert diagram.startswith("graph LR") and '["ConsumerFlow/%s"]' % consumer in diagram
    # A missing own record: one warning, and the artifact gives the same answer.
    (base / "ConsumerFlow/_flowproject/lineage" / consumer / "run.json").unlink()
    graph, err = lineage_graph(sandbox, root, "ConsumerFlow/%s" % consumer, "--up")
    assert graph["edges"] == [edge]
    assert err.count("warning:") == 1, err


def test_event_that_started_the_run_is_recorded(sandbox, tmp_path):
    root = write_project(tmp_path / "proj", TOML, {"producer.flow.py": PRODUCER})
    (root / "watched").mkdir()
    payload = {
        "name": "mfns.lin.user.x.changed",
        "id": "evt-1",
        "sensor_run": "SensorFlow/7",
        "sensor_fingerprint": "fp1",
        "dedupe_key": "k1",
    }
    # What Argo (and `flowproject events serve`) hands the run: current.trigger reads it.
    env = {"METAFLOW_ARGO_EVENT_PAYLOAD_event_mfnslinuserxchanged_abcd": json.dumps(payload)}
    run = run_id_of(sandbox.run_ok([root / "flows" / "producer.flow.py", "run"], cwd=root, env=env))
    got = sandbox.client('namespace(None)\nresult = Run("ProducerFlow/%s").data.lineage_inputs' % run)
    assert got == [
        {
            "kind": "event",
            "name": "mfns.lin.user.x.changed",
            "id": "evt-1",
            "pathspec": "SensorFlow/7",
            "fingerprint": "fp1",
            "dedupe_key": "k1",
        }
    ]
