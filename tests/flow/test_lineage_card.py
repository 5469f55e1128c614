"""The lineage cards (``[sensor] card = true``): a triggered run's card shows its upstream
chain as a Vega-Lite chart and as ``flowproject lineage --up --mermaid`` prints it, and the next sensor tick's card
lists the runs the previous tick's event started. Read back with Metaflow's card API."""

from __future__ import annotations

import json
import shutil

from conftest import REPO, run_id_of, sensor_project
from vega_schema import assert_valid_vega_lite

from flowproject.getters.lineage_vega import vega_lite

TOML = """
project_name = "carded"
[data]
type = "local"
path = "watched"
[sensor]
event_name = "watched_changed"
card = true
"""

READ_CARDS = """
import base64, re
from metaflow.cards import get_cards
namespace(None)

def texts(task, card_id):
    out = []
    for card in get_cards(Step(task).task, id=card_id):
        data = re.search(r'window.__MF_DATA__\\["[^"]+"\\] = "([^"]+)"', card.get()).group(1)
        def walk(node):
            if isinstance(node, dict):
                if node.get("type") == "vegaChart":
                    out.append({"vega": node})
                for v in node.values():
                    walk(v)
            elif isinstance(node, str):
                out.append(node)
            elif isinstance(node, list):
                for v in node:
                    walk(v)
        walk(json.loads(base64.b64decode(data)))
    return out

from metaflow.plugins.cards.exception import CardNotPresentException
try:
    sensor_end_cards = len(get_cards(Step("SensorFlow/%s/end").task))
except CardNotPresentException:
    sensor_end_cards = 0
result = {"downstream": texts("DownstreamFlow/%s/end", "lineage"), "sensor": texts("SensorFlow/%s/start", "sensor"),
          "sensor_end_cards": sensor_end_cards}
"""


def test_triggered_run_card_shows_its_chain_and_the_next_tick_lists_it(sandbox, webhook, tmp_path):
    project = sensor_project(tmp_path / "proj", TOML)
    # Metaflow's default layout, .metaflow beside the flows: its card writer looks for
    # .metaflow from the working directory, while get_cards reads below the run's ds-root.
    sandbox.env["METAFLOW_DATASTORE_SYSROOT_LOCAL"] = str(project)
    shutil.copy(REPO / "flows" / "downstream.flow.py", project / "flows" / "downstream.flow.py")
    hook = {"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": webhook.url}
    first = run_id_of(sandbox.run_ok(["flows/sensor.flow.py", "run"], cwd=project, env=hook))
    # What Argo Workflows hands a triggered pod: the whole payload in an env var.
    payload = webhook.events[0]["payload"]
    trigger = {"METAFLOW_ARGO_EVENT_PAYLOAD_event_watched_changed": json.dumps(payload)}
    down = run_id_of(sandbox.run_ok(["flows/downstream.flow.py", "run"], cwd=project, env=trigger))
    second = run_id_of(sandbox.run_ok(["flows/sensor.flow.py", "run"], cwd=project, env=hook))
    diagram = sandbox.run_ok(
        ["-m", "flowproject.cli", "lineage", "DownstreamFlow/%s" % down, "--up", "--mermaid"], cwd=project
    ).stdout.strip()
    assert '["SensorFlow/%s"]' % first in diagram and "|published|" in diagram, diagram
    chain = json.loads(
        sandbox.run_ok(
            ["-m", "flowproject.cli", "lineage", "DownstreamFlow/%s" % down, "--up", "--json"], cwd=project
        ).stdout
    )
    got = sandbox.client(READ_CARDS % (second, down, second), cwd=project)
    # The diagram the card viewer draws: the Vega-Lite chart of the same graph, in the card's HTML.
    charts = [t["vega"] for t in got["downstream"] if isinstance(t, dict)]
    assert len(charts) == 1 and charts[0]["options"] == {"actions": False}, charts
    assert charts[0]["spec"] == vega_lite(chain)
    assert_valid_vega_lite(charts[0]["spec"])
    labels = {n["label"]: n["kind"] for n in charts[0]["spec"]["datasets"]["nodes"]}
    assert labels["SensorFlow/%s" % first] == "run" and labels["DownstreamFlow/%s" % down] == "run", labels
    assert "event" in labels.values() and "observation" in labels.values(), labels
    got["downstream"] = [t for t in got["downstream"] if isinstance(t, str)]
    # The downstream card carries exactly what `lineage --mermaid` prints, and the edges.
    block = "```mermaid\n%s\n```" % diagram
    assert any(block in text for text in got["downstream"]), got["downstream"]
    # The edge table: its cells are the edge's ends and kind.
    assert {"SensorFlow/%s" % first, "published", "started", "DownstreamFlow/%s" % down} <= set(got["downstream"])
    # The next tick's sensor card draws the previous tick's event and the run it started.
    [sensor_chart] = [t["vega"]["spec"] for t in got["sensor"] if isinstance(t, dict)]
    assert_valid_vega_lite(sensor_chart)
    sensor_edges = {(e["from"], e["kind"]) for e in sensor_chart["datasets"]["edges"]}
    assert ("SensorFlow/%s" % first, "published") in sensor_edges and len(sensor_edges) == 2, sensor_edges
    assert {n["label"] for n in sensor_chart["datasets"]["nodes"] if n["kind"] == "run"} == {
        "SensorFlow/%s" % first,
        "DownstreamFlow/%s" % down,
    }
    got["sensor"] = [t for t in got["sensor"] if isinstance(t, str)]
    # The next tick's sensor card lists the run the previous tick's event started.
    started = [t for t in got["sensor"] if "previous tick's event" in t]
    assert len(started) == 1 and "DownstreamFlow/%s" % down in started[0], got["sensor"]
    # The sensor keeps its own card only: no lineage card on its end step.
    assert got["sensor_end_cards"] == 0
