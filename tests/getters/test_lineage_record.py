"""Every BaseFlow run records what it read: the ``lineage_inputs`` artifact and the index."""

from __future__ import annotations

import json

from conftest import run_id_of, write_project

TOML = """
project_name = "lin"
[data]
type = "local"
path = "watched"
"""

PRODUCER = """
from metaflow import step
from flowproject import BaseFlow


class ProducerFlow(BaseFlow):
    @step
    def start(self):
        self.model = 41
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ProducerFlow()
"""

CONSUMER = """
from metaflow import step
from flowproject import BaseFlow


class ConsumerFlow(BaseFlow):
    @step
    def start(self):
        self.got = self.get_artifact("ProducerFlow", "model")
        self.next(self.end)

    @step
    def end(self):
        # The same run read twice: recorded once.
        self.again = self.get_artifact("ProducerFlow", "model")


if __name__ == "__main__":
    ConsumerFlow()
"""


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
        out = sandbox.run_ok(["-m", "flowproject.cli", "lineage", *args, "--json"], cwd=root).stdout
        return json.loads(out.strip().splitlines()[-1])

    edge = {"from": "ProducerFlow/%s" % producer, "to": "ConsumerFlow/%s" % consumer, "kind": "read"}
    assert lineage("ProducerFlow/%s" % producer, "--down")["edges"] == [edge]
    assert lineage("ConsumerFlow/%s" % consumer, "--up")["edges"] == [edge]
    diagram = sandbox.run_ok(
        ["-m", "flowproject.cli", "lineage", "ProducerFlow/%s" % producer, "--mermaid"], cwd=root
    ).stdout
    assert diagram.startswith("graph LR") and '["ConsumerFlow/%s"]' % consumer in diagram
    # A missing own record: one warning, and the artifact gives the same answer.
    (base / "ConsumerFlow/_flowproject/lineage" / consumer / "run.json").unlink()
    proc = sandbox.run_ok(
        ["-m", "flowproject.cli", "lineage", "ConsumerFlow/%s" % consumer, "--up", "--json"], cwd=root
    )
    assert json.loads(proc.stdout.strip().splitlines()[-1])["edges"] == [edge]
    assert proc.stderr.count("warning:") == 1, proc.stderr


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
