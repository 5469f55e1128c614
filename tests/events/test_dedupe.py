"""``@on_sensor_event(dedupe=True)``: one working run per dedupe_key, however often the
event arrives: two deliveries side by side, a redelivery later, a failed first attempt."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import run_id_of, write_project
from flow_sources import base_flow

TOML = """
project_name = "consumers"
[data]
type = "local"
path = "watched"
[sensor]
event_name = "landed"
emit = "items"
"""

CONSUMER = base_flow(
    "ConsumerFlow",
    """
    marker = os.environ.get("FAIL_ONCE")
    if marker and not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("the first attempt fails")
    time.sleep(float(os.environ.get("WORK_SECONDS", "0")))
    with open(os.environ["WORK_LOG"], "a") as f:
        f.write("%s %s\\n" % (self.sensor_item["key"], self.sensor_item["change"]))
    self.outcome = "worked"
    """,
    decorator="@on_sensor_event(dedupe=True)",
    flowproject="BaseFlow, on_sensor_event",
    head="import os\nimport time\n",
)


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path / "p", TOML, {"consumer.flow.py": CONSUMER})


def delivery(sandbox, tmp_path, key, dedupe_key, **extra):
    name = "mfns.consumers.user.%s.landed" % sandbox.env["METAFLOW_USER"]
    payload = {"name": name, "key": key, "change": "added", "size": 3, "version": "v1", "dedupe_key": dedupe_key}
    return dict(
        {"METAFLOW_ARGO_EVENT_PAYLOAD_event_landed": json.dumps(payload), "WORK_LOG": str(tmp_path / "work.log")},
        **extra,
    )


def outcome(sandbox, run_id):
    return sandbox.client(
        'namespace(None)\nr = Run("ConsumerFlow/%s")\n'
        'result = [r.successful, r.data.outcome, getattr(r.data, "outcome_reason", None)]' % run_id
    )


def test_two_deliveries_side_by_side_give_one_working_run(sandbox, metadata, project, tmp_path):
    env = dict(sandbox.env, **delivery(sandbox, tmp_path, "a.csv", "ab" * 16, WORK_SECONDS="3"))
    procs = [
        subprocess.Popen(
            [sys.executable, "flows/consumer.flow.py", "run"],
            cwd=str(project),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert (tmp_path / "work.log").read_text() == "a.csv added\n"
    ids = [run_id_of(subprocess.CompletedProcess([], 0, out, "")) for out in outs]
    got = sorted(outcome(sandbox, i)[:2] for i in ids)
    assert got == [[True, "duplicate"], [True, "worked"]]
    # A later redelivery ends at once, successfully, with one line saying why.
    later = sandbox.run_ok(
        ["flows/consumer.flow.py", "run"], cwd=project, env=delivery(sandbox, tmp_path, "a.csv", "ab" * 16)
    )
    assert (tmp_path / "work.log").read_text() == "a.csv added\n"
    ok, what, why = outcome(sandbox, run_id_of(later))
    assert ok and what == "duplicate" and "was already handled by ConsumerFlow/" in why
    assert "Duplicate: dedupe_key %s was already handled" % ("ab" * 16) in later.stdout + later.stderr


def test_a_failed_run_never_answers_a_duplicate(sandbox, project, tmp_path):
    env = delivery(sandbox, tmp_path, "b.csv", "cd" * 16, FAIL_ONCE=str(tmp_path / "failed-once"))
    first = sandbox.run(["flows/consumer.flow.py", "run"], cwd=project, env=env)
    assert first.returncode != 0 and not (tmp_path / "work.log").exists()
    again = sandbox.run_ok(["flows/consumer.flow.py", "run"], cwd=project, env=env)
    assert (tmp_path / "work.log").read_text() == "b.csv added\n"
    assert outcome(sandbox, run_id_of(again))[:2] == [True, "worked"]


def test_a_malformed_dedupe_key_is_one_line_before_any_work(sandbox, project, tmp_path):
    proc = sandbox.run(["flows/consumer.flow.py", "run"], cwd=project, env=delivery(sandbox, tmp_path, "c", "../../x"))
    assert proc.returncode != 0 and not (tmp_path / "work.log").exists()
    assert "dedupe_key must be 16 to 64 lowercase hex digits; got '../../x'" in proc.stdout + proc.stderr
