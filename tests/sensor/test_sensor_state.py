"""Sensor state under overlapping ticks, reordering and faults (docs/sensor.md, "One tick at a time").

Faults come from outside: two sensor processes side by side, a webhook on 127.0.0.1 that
holds a tick in ``end``, a pointer file overwritten in the datastore, a proxy in front of
moto that answers a missing key with 403. Each test runs with Metaflow's ``local``
metadata and with the metadata service (the ``metadata`` fixture).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import REPO, doc_text, run_id_of, sensor_project
from test_sensor import TOML


class GatedWebhook:
    """A webhook that records each event on arrival and, while closed, holds the answer.

    A held answer keeps the publishing tick inside its ``end`` step for as long as the
    test wants: a slow Argo Events webhook.
    """

    def __init__(self) -> None:
        hook = self
        self.events: list = []
        self.gate = threading.Event()
        self.gate.set()
        self.arrived = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.events.append(json.loads(body))
                hook.arrived.set()
                hook.gate.wait(120)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hold(self) -> None:
        self.arrived.clear()
        self.gate.clear()

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    h = GatedWebhook()
    try:
        yield h
    finally:
        h.close()


@pytest.fixture
def project(tmp_path):
    root = sensor_project(tmp_path / "proj", TOML, "v0\n")
    return root


class Ticks:
    def __init__(self, sandbox, project, hook=None):
        self.sandbox, self.project = sandbox, project
        self.env = {"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": hook.url} if hook else {}

    def cmd(self, *args, branch=None):
        flags = ["--branch", branch] if branch else []
        return ["flows/sensor.flow.py", *flags, "run", *args]

    def run(self, *args, ok=True, webhook=True, branch=None):
        env = self.env if webhook else {}
        runner = self.sandbox.run_ok if ok else self.sandbox.run
        return runner(self.cmd(*args, branch=branch), cwd=self.project, env=env)

    def start(self, *args):
        """A tick in the background (its own process group, so it can be killed whole)."""
        return subprocess.Popen(
            [sys.executable, *self.cmd(*args)],
            cwd=str(self.project),
            env=dict(self.sandbox.env, **self.env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def art(self, run_id):
        return self.sandbox.client(
            """
            namespace(None)
            d = Run("SensorFlow/%s").data
            result = {k: getattr(d, k, None) for k in ("outcome", "outcome_reason", "value", "fingerprint",
                      "summary", "event", "previous_run", "state_kind")}
            """
            % run_id
        )

    def state(self, branch, can_deliver=True, listing=False):
        """flowproject.branch_state, through the pointer or (listing=True) without it."""
        code = """
            import shutil
            from flowproject import branch_state
            from flowproject.getters.store import StateStore
            if %r:
                store = StateStore.configured()
                shutil.rmtree(store.root + "/SensorFlow/_flowproject", ignore_errors=True)
            run = branch_state("SensorFlow", "sensed", %r, can_deliver=%r)
            result = run.pathspec if run is not None else None
            """ % (listing, branch, can_deliver)
        return self.sandbox.client(code, cwd=self.project)


def user_branch(sandbox):
    return "user.%s" % sandbox.env["METAFLOW_USER"]


def write(project, text):
    (project / "watched" / "a.csv").write_text(text)


def wait_for(event: threading.Event, proc, what):
    deadline = time.monotonic() + 120
    while not event.wait(0.2):
        assert proc.poll() is None, "%s ended early:\n%s" % (what, proc.stdout.read()[-3000:])
        assert time.monotonic() < deadline, "timed out waiting for %s" % what


def test_overlapping_tick_yields_and_out_of_order_finish_loses_no_change(sandbox, metadata, project, hook):
    ticks = Ticks(sandbox, project, hook)
    first = run_id_of(ticks.run())  # publishes v0
    # X: a forced tick whose publish the webhook holds, so X is still in `end`...
    hook.hold()
    x = ticks.start("--force-trigger", "true")
    wait_for(hook.arrived, x, "tick X to publish")
    # ... while the data changes and Y ticks.
    write(project, "v1, a longer line\n")
    y = run_id_of(ticks.run())
    hook.gate.set()
    out, _ = x.communicate(timeout=120)
    assert x.returncode == 0, out[-3000:]
    x_id = run_id_of(subprocess.CompletedProcess([], 0, out, ""))

    y_art = ticks.art(y)
    assert y_art["outcome"] == "skipped"
    assert "tick SensorFlow/%s holds this branch's lease" % x_id in y_art["outcome_reason"]
    assert y_art["event"]["sent"] is False and y_art["state_kind"] is None
    assert [e["payload"]["sensor_run"] for e in hook.events] == ["SensorFlow/%s" % first, "SensorFlow/%s" % x_id]
    assert ticks.state(user_branch(sandbox)) == "SensorFlow/%s" % x_id

    # The next tick sees v1 as a change; then the data goes back and that is a change too.
    z1 = run_id_of(ticks.run())
    write(project, "v0\n")
    z2 = run_id_of(ticks.run())
    assert ticks.art(z1)["outcome"] == "changed" and ticks.art(z2)["outcome"] == "changed"
    last = hook.events[-1]["payload"]
    assert last["sensor_run"] == "SensorFlow/%s" % z2 and last["new_value"] == ticks.art(z2)["value"]
    # Pointer and listing agree.
    assert ticks.state(user_branch(sandbox)) == ticks.state(user_branch(sandbox), listing=True) == "SensorFlow/%s" % z2


def test_resume_of_a_failed_tick_never_publishes_a_stale_value(sandbox, metadata, project, hook):
    ticks = Ticks(sandbox, project, hook)
    ticks.run()
    write(project, "v1, a longer line\n")
    # X observes v1, its publish fails (the webhook is unreachable), the run fails.
    failed = ticks.sandbox.run(
        ticks.cmd(), cwd=project, env={"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": "http://127.0.0.1:9/"}
    )
    assert failed.returncode != 0
    x = run_id_of(failed)
    write(project, "v2, an even longer line\n")
    y = run_id_of(ticks.run())
    assert hook.events[-1]["payload"]["sensor_run"] == "SensorFlow/%s" % y
    sent_before = len(hook.events)
    resumed = ticks.sandbox.run_ok(["flows/sensor.flow.py", "resume", "--origin-run-id", x], cwd=project, env=ticks.env)
    r = run_id_of(resumed)
    assert len(hook.events) == sent_before  # X's stale v1 is never published
    art = ticks.art(r)
    assert art["outcome"] == "skipped" and "superseded" in art["outcome_reason"]
    assert ticks.state(user_branch(sandbox)) == "SensorFlow/%s" % y


def test_resume_of_a_failed_tick_publishes_when_nothing_moved(sandbox, metadata, project, hook):
    ticks = Ticks(sandbox, project, hook)
    ticks.run()
    write(project, "v1, a longer line\n")
    failed = ticks.sandbox.run(
        ticks.cmd(), cwd=project, env={"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": "http://127.0.0.1:9/"}
    )
    assert failed.returncode != 0
    resumed = run_id_of(
        ticks.sandbox.run_ok(
            ["flows/sensor.flow.py", "resume", "--origin-run-id", run_id_of(failed)], cwd=project, env=ticks.env
        )
    )
    assert hook.events[-1]["payload"]["sensor_run"] == "SensorFlow/%s" % run_id_of(failed)
    assert ticks.art(resumed)["event"]["sent"] is True
    assert ticks.state(user_branch(sandbox)) == "SensorFlow/%s" % resumed


def test_undelivered_change_is_not_seen_by_ticks_that_can_deliver(sandbox, metadata, project, hook):
    ticks = Ticks(sandbox, project, hook)
    first = run_id_of(ticks.run())
    write(project, "v1, a longer line\n")
    laptop = run_id_of(ticks.run(webhook=False))
    again = run_id_of(ticks.run(webhook=False))
    laptop_art, again_art = ticks.art(laptop), ticks.art(again)
    assert laptop_art["outcome"] == "changed" and "no webhook configured" in laptop_art["outcome_reason"]
    assert laptop_art["state_kind"] == "undelivered"
    # The laptop loop still says "no change" on a re-run...
    assert again_art["outcome"] == "no change" and again_art["previous_run"] == "SensorFlow/%s" % laptop
    assert again_art["state_kind"] == "undelivered"
    # ... but a tick that can deliver compares with the last delivered state and publishes.
    sent_before = len(hook.events)
    deliver = run_id_of(ticks.run())
    art = ticks.art(deliver)
    assert art["outcome"] == "changed" and art["previous_run"] == "SensorFlow/%s" % first
    assert art["event"]["sent"] is True and len(hook.events) == sent_before + 1
    branch = user_branch(sandbox)
    via_pointer = [ticks.state(branch, can_deliver) for can_deliver in (True, False)]
    via_listing = [ticks.state(branch, can_deliver, listing=True) for can_deliver in (True, False)]
    assert via_pointer == via_listing == ["SensorFlow/%s" % deliver] * 2


@pytest.mark.parametrize("garbage", [b"{not json", b"[]", b'{"run_id": "x/y"}', b'{"delivered": 7, "seen": {}}'])
def test_corrupt_pointer_warns_and_falls_back_to_the_listing(sandbox, metadata, project, hook, garbage):
    ticks = Ticks(sandbox, project, hook)
    first = run_id_of(ticks.run())
    records = Path(sandbox.env["METAFLOW_DATASTORE_SYSROOT_LOCAL"]) / ".metaflow" / "SensorFlow" / "_flowproject"
    # Lineage records are not state pointers (they have their own fallback).
    pointers = [p for p in records.rglob("*.json") if "lease" not in p.parts and "lineage" not in p.parts]
    assert {p.parts[-3] for p in pointers} == {"latest", "state"}
    for p in pointers:
        p.write_bytes(garbage)
    proc = ticks.run()
    art = ticks.art(run_id_of(proc))
    assert art["outcome"] == "no change" and art["previous_run"] == "SensorFlow/%s" % first
    out = proc.stdout + proc.stderr
    assert "warning:" in out and "using the run listing instead" in out
    # Getters read through the same kind of pointer.
    got = sandbox.client(
        'from flowproject import get_artifact\nresult = get_artifact("SensorFlow", "outcome", branch=%r, project="sensed")'
        % user_branch(sandbox),
        cwd=project,
    )
    assert got == "no change"


def test_unwritable_pointer_warns_and_the_run_succeeds(sandbox, metadata, project, hook):
    ticks = Ticks(sandbox, project, hook)
    records = Path(sandbox.env["METAFLOW_DATASTORE_SYSROOT_LOCAL"]) / ".metaflow" / "SensorFlow" / "_flowproject"
    branch = user_branch(sandbox)
    # A folder where each pointer file should be: no write can replace it.
    for kind in ("latest", "state"):
        (records / kind / "sensed" / ("%s.json" % branch) / "blocker").mkdir(parents=True)
    proc = ticks.run()
    first = run_id_of(proc)
    out = proc.stdout + proc.stderr
    assert "warning: cannot write" in out and "the run is not affected" in out
    assert len(hook.events) == 1
    second = ticks.art(run_id_of(ticks.run()))
    assert second["outcome"] == "no change" and second["previous_run"] == "SensorFlow/%s" % first
    assert len(hook.events) == 1


def test_user_tag_cannot_move_a_run_into_another_branch(sandbox, metadata, project, hook):
    ticks = Ticks(sandbox, project, hook)
    a = run_id_of(ticks.run(branch="a"))
    sandbox.client('namespace(None)\nRun("SensorFlow/%s").add_tag("project_branch:prod")\nresult = 1' % a)
    assert ticks.state("prod") is None and ticks.state("prod", listing=True) is None
    got = sandbox.client(
        "from flowproject.getters.runs import latest_successful_run\n"
        'r = latest_successful_run("SensorFlow", project="sensed", branch="prod")\n'
        "result = r.pathspec if r else None",
        cwd=project,
    )
    assert got is None
    prod = ticks.art(
        run_id_of(sandbox.run_ok(["flows/sensor.flow.py", "--production", "run"], cwd=project, env=ticks.env))
    )
    assert prod["previous_run"] is None and prod["outcome"] == "changed"


def test_crashed_tick_blocks_only_until_its_lease_expires(sandbox, project, hook):
    (project / "flowproject.toml").write_text(TOML + "lease_seconds = 8\n")
    ticks = Ticks(sandbox, project, hook)
    ticks.run()
    write(project, "v1, a longer line\n")
    hook.hold()
    x = ticks.start()
    wait_for(hook.arrived, x, "tick X to publish")
    os.killpg(x.pid, signal.SIGKILL)  # a pod killed mid-tick: it never releases the lease
    x.communicate()
    taken = time.monotonic()
    hook.gate.set()
    blocked = ticks.art(run_id_of(ticks.run()))
    assert blocked["outcome"] == "skipped" and "holds this branch's lease" in blocked["outcome_reason"]
    time.sleep(max(0.0, 9 - (time.monotonic() - taken)))
    proc = ticks.run()
    assert "took over the expired lease" in proc.stdout
    art = ticks.art(run_id_of(proc))
    assert art["outcome"] == "changed" and art["event"]["sent"] is True


def test_pointer_and_lease_live_in_the_runs_own_datastore(sandbox, project, hook, s3_server):
    bucket = s3_server.new_bucket("runds")
    ticks = Ticks(sandbox, project, hook)
    ticks.env.update(s3_server.env)
    proc = sandbox.run_ok(
        ["flows/sensor.flow.py", "--datastore", "s3", "--datastore-root", "s3://%s/mf" % bucket, "run"],
        cwd=project,
        env=ticks.env,
    )
    run_id_of(proc)
    keys = [
        o["Key"]
        for o in s3_server.client()
        .list_objects_v2(Bucket=bucket, Prefix="mf/SensorFlow/_flowproject/")
        .get("Contents", [])
    ]
    branch = user_branch(sandbox)
    assert "mf/SensorFlow/_flowproject/state/sensed/%s.json" % branch in keys
    assert "mf/SensorFlow/_flowproject/latest/sensed/%s.json" % branch in keys
    local = Path(sandbox.env["METAFLOW_DATASTORE_SYSROOT_LOCAL"]) / ".metaflow" / "SensorFlow" / "_flowproject"
    assert not local.exists()


def test_branch_state_outside_a_run_restores_the_callers_namespace(sandbox, metadata, project, hook):
    ticks = Ticks(sandbox, project, hook)
    first = run_id_of(ticks.run())
    got = sandbox.client(
        """
        from flowproject import branch_state
        namespace("user:somebody_else")
        run = branch_state("SensorFlow", "sensed", %r, can_deliver=True)
        result = [run.pathspec, get_namespace(), run.data.outcome]
        """
        % user_branch(sandbox),
        cwd=project,
    )
    assert got == ["SensorFlow/%s" % first, "user:somebody_else", "changed"]


def test_docs_sensor_flow_file_is_the_one_shipped():
    block = (
        doc_text("sensor.md")
        .split("upgrade with `pip install -U flowproject`:\n\n```python\n", 1)[1]
        .split("```", 1)[0]
    )
    shipped = (REPO / "flows" / "sensor.flow.py").read_text()
    code = [line for line in block.splitlines() if line.strip() and not line.strip().startswith('"""')]
    assert code and all(line in shipped for line in code)
