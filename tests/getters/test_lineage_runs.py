"""Lineage of a ``resume``d run, and the downward index in S3 (moto) when entries are
corrupt or missing."""

from __future__ import annotations

import json

from conftest import run_id_of, write_project
from lineage_flows import PRODUCER, TOML, consumer_flow, edge_set, lineage_graph


def resumable(name: str) -> str:
    """Reads ProducerFlow in start; its end fails while the marker file exists."""
    return consumer_flow(
        name, 'if os.path.exists("fail_once"):\n    raise RuntimeError("failing on purpose")', head="import os"
    )


def _lineage(sandbox, root, run, *args, env=None):
    graph, err = lineage_graph(sandbox, root, run, *args, env=env)
    return edge_set(graph), err


def test_resumed_run_keeps_the_origins_inputs_once(sandbox, metadata, tmp_path):
    flows = {"producer.flow.py": PRODUCER, "resumable.flow.py": resumable("ResumableFlow")}
    root = write_project(tmp_path / "proj", TOML, flows)
    (root / "watched").mkdir()
    producer = "ProducerFlow/%s" % run_id_of(sandbox.run_ok([root / "flows" / "producer.flow.py", "run"], cwd=root))
    payload = {"name": "mfns.lin.user.x.changed", "id": "evt-r"}
    env = {"METAFLOW_ARGO_EVENT_PAYLOAD_event_mfnslinuserxchanged_abcd": json.dumps(payload)}
    (root / "fail_once").write_text("")
    failed = sandbox.run([root / "flows" / "resumable.flow.py", "run"], cwd=root, env=env)
    assert failed.returncode != 0 and "failing on purpose" in failed.stdout + failed.stderr
    origin = "ResumableFlow/%s" % run_id_of(failed)
    (root / "fail_once").unlink()
    # As one resumes by hand: without the event's variables; start is cloned, end runs again.
    resumed_proc = sandbox.run_ok([root / "flows" / "resumable.flow.py", "resume"], cwd=root)
    assert "Cloning" in resumed_proc.stdout + resumed_proc.stderr
    resumed = "ResumableFlow/%s" % run_id_of(resumed_proc)
    got = sandbox.client("namespace(None)\nresult = Run(%r).data.lineage_inputs" % resumed, cwd=root)
    assert got == [
        {"kind": "event", "name": "mfns.lin.user.x.changed", "id": "evt-r", "pathspec": None, "fingerprint": None},
        {"kind": "read", "pathspec": producer, "artifacts": ["model"], "how": "latest"},
    ]
    base = tmp_path / "datastore" / ".metaflow"
    record = json.loads((base / "ResumableFlow/_flowproject/lineage" / resumed.split("/")[1] / "run.json").read_text())
    assert record["inputs"] == got and record["resumed_from"] == origin
    # The failed origin wrote no record and no entry: the producer fed the resumed run only.
    assert not (base / "ResumableFlow/_flowproject/lineage" / origin.split("/")[1]).exists()
    edges, err = _lineage(sandbox, root, producer, "--down")
    assert edges == {(producer, "read", resumed)} and "warning:" not in err
    edges, err = _lineage(sandbox, root, resumed, "--up")
    assert edges == {("event:evt-r", "started", resumed), (producer, "read", resumed)} and "warning:" not in err


_FLOWS = {"producer": "ProducerFlow", "readera": "ReaderA", "readerb": "ReaderB"}


def test_down_index_in_s3_and_its_broken_entries(sandbox, s3_server, tmp_path):
    bucket = s3_server.new_bucket("lineage")
    env = s3_server.datastore_env(bucket, "mf")
    flows = {"producer.flow.py": PRODUCER}
    for name in ("ReaderA", "ReaderB"):
        flows["%s.flow.py" % name.lower()] = resumable(name)
    root = write_project(tmp_path / "proj", TOML, flows)
    (root / "watched").mkdir()

    def run(flow):
        proc = sandbox.run_ok([root / "flows" / ("%s.flow.py" % flow), "run"], cwd=root, env=env)
        return "%s/%s" % (_FLOWS[flow], run_id_of(proc))

    producer, a, b = run("producer"), run("readera"), run("readerb")
    s3 = s3_server.client()
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="mf/ProducerFlow/_flowproject/")["Contents"]}
    pid = producer.split("/")[1]
    used_by = "mf/ProducerFlow/_flowproject/lineage/%s/used_by/" % pid
    assert {used_by + "ReaderA~%s.json" % a.split("/")[1], used_by + "ReaderB~%s.json" % b.split("/")[1]} <= keys
    assert not (tmp_path / "datastore" / ".metaflow" / "ProducerFlow" / "_flowproject").exists()
    right = {(producer, "read", a), (producer, "read", b)}
    edges, err = _lineage(sandbox, root, producer, "--down", env=env)
    assert edges == right and "warning:" not in err

    # An entry that names no run, and a consumer whose own record is corrupt: each one
    # warning line, and still the right answer (the consumer's artifact says what it read).
    s3.put_object(Bucket=bucket, Key=used_by + "garbage.json", Body=b"{}")
    a_record = "mf/ReaderA/_flowproject/lineage/%s/run.json" % a.split("/")[1]
    kept = s3.get_object(Bucket=bucket, Key=a_record)["Body"].read()
    s3.put_object(Bucket=bucket, Key=a_record, Body=b"{not json")
    edges, err = _lineage(sandbox, root, producer, "--down", "--depth", "1", env=env)
    assert edges == right
    assert err.count("warning:") == 2 and "garbage.json" in err and "is not valid JSON" in err, err
    s3.put_object(Bucket=bucket, Key=a_record, Body=kept)

    # The producer's own record missing: its entries cannot be trusted (a datastore that
    # lost one record may have lost others); one warning, and the project's runs answer.
    s3.delete_object(Bucket=bucket, Key="mf/ProducerFlow/_flowproject/lineage/%s/run.json" % pid)
    s3.delete_object(Bucket=bucket, Key=used_by + "ReaderB~%s.json" % b.split("/")[1])
    edges, err = _lineage(sandbox, root, producer, "--down", env=env)
    assert edges == right
    assert err.count("warning:") == 1 and "no lineage record for %s" % producer in err, err


def test_bad_arguments_are_one_line(sandbox, tmp_path):
    root = write_project(tmp_path / "proj", TOML, {"producer.flow.py": PRODUCER})
    for args, expected in (
        (["ProducerFlow/123"], "no run ProducerFlow/123"),
        (["ProducerFlow"], "is not FLOW/RUN_ID"),
        (["ProducerFlow/1", "--depth", "0"], "--depth: expected a positive number of edges"),
    ):
        proc = sandbox.run(["-m", "flowproject.cli", "lineage", *args], cwd=root)
        # The error is the last line (argparse prints its usage above its own).
        assert proc.returncode != 0 and expected in proc.stderr.strip().splitlines()[-1], (args, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
