"""Item-level sensors through real SensorFlow runs: one event per file, limits, faults.

Faults come from outside: a webhook on 127.0.0.1 that answers 500 from its 3rd request,
one that holds a tick in ``end`` while another tick starts, a manifest deleted from the
datastore. The runs use Metaflow's local metadata and the metadata service.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import WebhookReceiver, run_id_of, sensor_project
from test_sensor_state import GatedWebhook, wait_for

TOML = """
project_name = "itemized"
[data]
type = "local"
path = "watched"
[sensor]
event_name = "landed"
emit = "items"
emit_removed = true
"""


class FailingFrom(WebhookReceiver):
    """Answers 500 from the ``fail_from``-th request on (1-based) until it is reset."""

    fail_from = None
    _answer = 200

    @property
    def status(self) -> int:
        # Read twice per request (record?, then answer): decide once, on the first read.
        if self._answer != "decided":
            failing = self.fail_from is not None and len(self.events) + 1 >= self.fail_from
            self._answer = "decided"
            self._decided = 500 if failing else 200
            return self._decided
        self._answer = 200
        return self._decided

    @status.setter
    def status(self, value: int) -> None:
        pass


@pytest.fixture
def hook():
    receiver = FailingFrom()
    try:
        yield receiver
    finally:
        receiver.close()


class Items:
    def __init__(self, sandbox, project, url=None):
        self.sandbox, self.project = sandbox, project
        self.env = {"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": url} if url else {}

    def cmd(self, branch=None):
        return ["flows/sensor.flow.py", *(["--branch", branch] if branch else []), "run"]

    def run(self, ok=True, branch=None):
        return (self.sandbox.run_ok if ok else self.sandbox.run)(self.cmd(branch), cwd=self.project, env=self.env)

    def start(self):
        return subprocess.Popen(
            [sys.executable, *self.cmd()],
            cwd=str(self.project),
            env=dict(self.sandbox.env, **self.env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def art(self, run_id):
        return self.sandbox.client(
            """
            namespace(None)
            d = Run("SensorFlow/%s").data
            result = {k: getattr(d, k, None) for k in ("outcome", "outcome_reason", "items_published",
                      "items_pending", "items_counts", "event", "state_kind")}
            """
            % run_id
        )


def payload_items(events):
    out = []
    for event in events:
        payload = event["payload"]
        out.extend(payload["items"] if "items" in payload else [payload])
    return out


def test_added_modified_removed_each_once_and_branches_have_their_own_keys(sandbox, metadata, tmp_path, hook):
    project = sensor_project(tmp_path / "p", TOML)
    items = Items(sandbox, project, hook.url)
    first = items.run()
    assert "items: 1 added, 0 modified, 0 removed; publishing 1 in 1 event, 0 left" in first.stdout + first.stderr
    (event,) = hook.events
    payload = event["payload"]
    assert event["name"] == "mfns.itemized.user.%s.landed" % sandbox.env["METAFLOW_USER"]
    assert {k: payload[k] for k in ("key", "change", "size", "batch")} == {
        "key": "a.csv",
        "change": "added",
        "size": 6,
        "batch": {"index": 0, "count": 1},
    }
    assert payload["version"].endswith("Z") and len(payload["dedupe_key"]) == 32

    (project / "watched" / "a.csv").write_text("1,2,3,4\n")
    (project / "watched" / "b.csv").write_text("new\n")
    second = run_id_of(items.run())
    got = [(i["key"], i["change"]) for i in payload_items(hook.events[1:])]
    assert got == [("a.csv", "modified"), ("b.csv", "added")]
    assert payload_items(hook.events[1:])[0]["dedupe_key"] != payload["dedupe_key"]
    art = items.art(second)
    assert art["items_published"] == 2 and art["items_pending"] == 0 and art["outcome"] == "changed"

    (project / "watched" / "b.csv").unlink()
    items.run()
    assert [(i["key"], i["change"]) for i in payload_items(hook.events[3:])] == [("b.csv", "removed")]
    quiet = run_id_of(items.run())
    assert len(hook.events) == 4  # no heartbeat: nothing new, nothing sent
    assert items.art(quiet)["outcome"] == "no change"

    # Another branch publishes the same file version with its own key; the same branch
    # always gives the same key for it.
    items.run(branch="other")
    other = hook.events[-1]["payload"]
    assert other["key"] == "a.csv" and other["change"] == "added"
    mine = payload_items(hook.events[1:2])[0]
    assert other["version"] == mine["version"] and other["dedupe_key"] != mine["dedupe_key"]


def test_a_burst_is_drained_over_ticks_in_batches_with_none_lost(sandbox, tmp_path, hook):
    project = sensor_project(
        tmp_path / "p",
        TOML.replace("emit_removed = true", "max_events_per_tick = 10\nitems_per_event = 12"),
    )
    for i in range(250):
        (project / "watched" / ("f%03d.csv" % i)).write_text("x" * i)
    items = Items(sandbox, project, hook.url)
    ticks = [run_id_of(items.run()) for _ in range(3)]
    sizes = [len(e["payload"]["items"]) for e in hook.events]
    assert sizes == [12] * 10 + [12] * 10 + [11]  # 251 files: 120 + 120 + 11
    assert [e["payload"]["batch"] for e in hook.events[:2]] == [{"index": 0, "count": 10}, {"index": 1, "count": 10}]
    keys = [i["key"] for i in payload_items(hook.events)]
    assert keys == sorted(["a.csv"] + ["f%03d.csv" % i for i in range(250)])
    assert [items.art(t)["items_pending"] for t in ticks] == [131, 11, 0]
    items.run()
    assert len(hook.events) == 21  # the fourth tick has nothing new


def test_a_webhook_failing_on_the_3rd_of_5_events_loses_none_and_repeats_none(sandbox, metadata, tmp_path, hook):
    project = sensor_project(tmp_path / "p", TOML)
    for name in ("b", "c", "d", "e"):
        (project / "watched" / ("%s.csv" % name)).write_text(name)
    items = Items(sandbox, project, hook.url)
    hook.fail_from = 3
    failed = items.run(ok=False)
    assert failed.returncode != 0
    out = failed.stdout + failed.stderr
    assert "event 3 of 5; the 2 item(s) sent before it are recorded" in out, out[-3000:]
    assert [i["key"] for i in payload_items(hook.events)] == ["a.csv", "b.csv"]
    hook.fail_from = None
    retry = run_id_of(items.run())
    assert [i["key"] for i in payload_items(hook.events)] == ["a.csv", "b.csv", "c.csv", "d.csv", "e.csv"]
    art = items.art(retry)
    assert art["items_published"] == 3 and art["state_kind"] == "delivered"
    items.run()
    assert len(hook.events) == 5


def test_no_webhook_is_not_seen_by_ticks_that_can_deliver(sandbox, tmp_path, hook):
    project = sensor_project(tmp_path / "p", TOML)
    laptop = Items(sandbox, project)
    local = run_id_of(laptop.run())
    assert "no webhook configured" in laptop.art(local)["outcome_reason"]
    again = laptop.art(run_id_of(laptop.run()))
    assert again["outcome"] == "no change"  # the laptop's loop: nothing new since its own tick
    Items(sandbox, project, hook.url).run()
    assert [i["key"] for i in payload_items(hook.events)] == ["a.csv"]


def test_an_overlapping_tick_yields_and_the_next_publishes_what_it_saw(sandbox, metadata, tmp_path):
    project = sensor_project(tmp_path / "p", TOML)
    gated = GatedWebhook()
    try:
        items = Items(sandbox, project, gated.url)
        gated.hold()
        x = items.start()
        wait_for(gated.arrived, x, "tick X to publish")
        (project / "watched" / "b.csv").write_text("during X\n")
        y = run_id_of(items.run())
        gated.gate.set()
        out, _ = x.communicate(timeout=120)
        assert x.returncode == 0, out[-3000:]
        assert items.art(y)["outcome"] == "skipped"
        z = run_id_of(items.run())
        assert [i["key"] for i in payload_items(gated.events)] == ["a.csv", "b.csv"]
        assert items.art(z)["items_published"] == 1
    finally:
        gated.close()


def test_first_tick_without_publish_on_first_run_records_only(sandbox, tmp_path, hook):
    project = sensor_project(tmp_path / "p", TOML + "publish_on_first_run = false\n")
    items = Items(sandbox, project, hook.url)
    first = items.art(run_id_of(items.run()))
    assert hook.events == [] and "publish_on_first_run = false" in first["event"]["reason"]
    (project / "watched" / "new.csv").write_text("n\n")
    items.run()
    assert [(i["key"], i["change"]) for i in payload_items(hook.events)] == [("new.csv", "added")]


def test_preview_lists_the_pending_items_and_history_counts_them(sandbox, tmp_path, hook):
    project = sensor_project(tmp_path / "p", TOML + "max_events_per_tick = 2\n")
    for name in ("b", "c"):
        (project / "watched" / ("%s.csv" % name)).write_text(name)
    cli = ["-m", "flowproject.cli", "sensor"]
    env = {"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": hook.url}
    before = json.loads(sandbox.run_ok([*cli, "preview", "--json"], cwd=project, env=env).stdout)
    assert before["count"] == 3 and [i["key"] for i in before["items"]] == ["a.csv", "b.csv", "c.csv"]
    assert before["items"][0]["change"] == "added" and len(before["items"][0]["dedupe_key"]) == 32
    text = sandbox.run_ok([*cli, "preview"], cwd=project, env=env).stdout
    assert "3 items pending; the next tick would publish 2 to mfns.itemized." in text
    Items(sandbox, project, hook.url).run()
    after = json.loads(sandbox.run_ok([*cli, "preview", "--json"], cwd=project, env=env).stdout)
    assert after["count"] == 1 and after["items"] == [dict(before["items"][2])]
    assert [i["dedupe_key"] for i in payload_items(hook.events)] == [i["dedupe_key"] for i in before["items"][:2]]
    history = sandbox.run_ok([*cli, "history"], cwd=project, env=env).stdout
    assert "sent 2 items in 2 events of mfns.itemized." in history and "1 pending" in history


def test_a_corrupt_or_deleted_manifest_costs_duplicates_never_a_loss(sandbox, tmp_path, hook):
    project = sensor_project(tmp_path / "p", TOML)
    items = Items(sandbox, project, hook.url)
    items.run()
    manifests = Path(sandbox.env["METAFLOW_DATASTORE_SYSROOT_LOCAL"], ".metaflow", "SensorFlow", "_flowproject")
    (stored,) = (manifests / "manifests").iterdir()
    stored.write_bytes(b"a.csv\0not a manifest\n")  # its digest no longer matches its name
    (project / "watched" / "b.csv").write_text("b\n")
    corrupt = items.run()
    assert "does not match its digest; every item counts as new" in corrupt.stderr + corrupt.stdout
    assert [(i["key"], i["change"]) for i in payload_items(hook.events[1:])] == [("a.csv", "added"), ("b.csv", "added")]
    # Back to the listing of the damaged address: the manifest stored there is repaired,
    # so the tick after it compares with it instead of publishing everything again.
    (project / "watched" / "b.csv").unlink()
    items.run()
    (project / "watched" / "c.csv").write_text("c\n")
    repaired = items.run()
    assert "every item counts as new" not in repaired.stderr + repaired.stdout
    assert [(i["key"], i["change"]) for i in payload_items(hook.events[3:])] == [
        ("b.csv", "removed"),
        ("c.csv", "added"),
    ]

    for path in (manifests / "manifests").iterdir():
        path.unlink()
    (project / "watched" / "d.csv").write_text("d\n")
    gone = items.run()
    assert "is missing; every item counts as new" in gone.stderr + gone.stdout
    assert [i["key"] for i in payload_items(hook.events[5:])] == ["a.csv", "c.csv", "d.csv"]
    items.run()
    assert len(hook.events) == 8  # the state is whole again: nothing new, nothing sent
