"""The lineage chart's layout and Vega-Lite spec (flowproject.getters.lineage_vega) on
hand-made graphs: a chain, a fan-in of two inputs, an observation. The card that carries
it is tested with real runs in tests/flow/test_lineage_card.py."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from vega_schema import assert_valid_vega_lite

from flowproject.getters.lineage_vega import SCHEMA, layout, vega_lite


def run(pathspec: str) -> Dict[str, Any]:
    return {"id": pathspec, "kind": "run", "pathspec": pathspec}


def event(name: str) -> Dict[str, Any]:
    return {"id": "event:%s" % name, "kind": "event", "name": name, "event_id": name}


OBSERVATION = {
    "id": "observation:SensorFlow/1@e241a1ae55fe",
    "kind": "observation",
    "source": "local:/repo/watched",
    "check_mode": "fingerprint",
    "fingerprint": "e241a1ae55fe0123",
    "summary": "/repo/watched: 1 file, 6 bytes",
    "observed_at": "2026-12-04T19:00:00Z",
}


def graph(root: str, nodes: List[Dict[str, Any]], edges: List[Tuple[str, str, str]]) -> Dict[str, Any]:
    return {"root": root, "nodes": nodes, "edges": [{"from": a, "to": b, "kind": k} for a, b, k in edges]}


# observation -> sensor -> event -> consumer, and a producer the consumer read: a fan-in of two.
CHAIN = graph(
    "ConsumerFlow/3",
    [run("ConsumerFlow/3"), event("e1"), run("SensorFlow/1"), run("ProducerFlow/2"), OBSERVATION],
    [
        ("event:e1", "ConsumerFlow/3", "started"),
        ("SensorFlow/1", "event:e1", "published"),
        ("ProducerFlow/2", "ConsumerFlow/3", "read"),
        (OBSERVATION["id"], "SensorFlow/1", "observed"),
    ],
)


def test_a_chain_is_one_row_of_columns_counted_from_the_root():
    pos = layout(CHAIN)
    assert [pos[n][0] for n in (OBSERVATION["id"], "SensorFlow/1", "event:e1", "ConsumerFlow/3")] == [-3, -2, -1, 0]
    # The chain stays straight: the sensor and its observation sit in line with the event.
    assert pos[OBSERVATION["id"]][1] == pos["SensorFlow/1"][1] == pos["event:e1"][1]


def test_a_fan_in_spreads_its_inputs_around_the_run_they_feed():
    pos = layout(CHAIN)
    assert pos["ConsumerFlow/3"] == (0, 0.0)
    assert pos["ProducerFlow/2"][0] == pos["event:e1"][0] == -1
    assert sorted([pos["ProducerFlow/2"][1], pos["event:e1"][1]]) == [-0.5, 0.5]


def test_every_edge_points_right_when_a_run_is_read_and_also_started_the_run():
    # The sensor run is read directly (one edge) and published the starting event (two):
    # its column is the longer chain, so the read edge does not point back left.
    g = graph(
        "C/3",
        [run("C/3"), event("e1"), run("S/1"), run("D/4")],
        [
            ("event:e1", "C/3", "started"),
            ("S/1", "event:e1", "published"),
            ("S/1", "C/3", "read"),
            ("C/3", "D/4", "started"),
        ],
    )
    pos = layout(g)
    assert pos["S/1"][0] == -2 and pos["D/4"][0] == 1
    assert all(pos[e["from"]][0] < pos[e["to"]][0] for e in g["edges"])


def test_a_node_not_linked_to_the_root_gets_a_column_of_its_own():
    pos = layout(graph("C/3", [run("C/3"), run("X/9")], []))
    assert pos == {"C/3": (0, 0.0), "X/9": (1, 0.0)}


def test_the_spec_is_vega_lite_with_labels_shapes_edges_and_full_tooltips():
    spec = vega_lite(CHAIN, title="Lineage of ConsumerFlow/3")
    assert_valid_vega_lite(spec)
    assert spec["$schema"] == SCHEMA and spec["title"] == "Lineage of ConsumerFlow/3"
    nodes = {n["id"]: n for n in spec["datasets"]["nodes"]}
    assert nodes["ConsumerFlow/3"]["label"] == "ConsumerFlow/3" and nodes["ConsumerFlow/3"]["is_root"] is True
    assert nodes["event:e1"]["label"] == "e1"
    assert nodes[OBSERVATION["id"]]["label"] == OBSERVATION["summary"]
    # Every field of a node is in the data and in the tooltip.
    assert {k: nodes[OBSERVATION["id"]][k] for k in OBSERVATION} == OBSERVATION
    point = next(lay for lay in spec["layer"] if lay["data"]["name"] == "nodes" and lay["mark"]["type"] == "point")
    assert {t["field"] for t in point["encoding"]["tooltip"]} == set(OBSERVATION) | {"pathspec", "name", "event_id"}
    assert point["encoding"]["shape"]["scale"]["domain"] == ["run", "event", "observation"]
    assert point["encoding"]["shape"]["field"] == point["encoding"]["color"]["field"] == "kind"
    # Edges: a rule from end to end, labelled with its kind at the middle.
    edges = {(e["from"], e["to"]): e for e in spec["datasets"]["edges"]}
    read = edges[("ProducerFlow/2", "ConsumerFlow/3")]
    pos = layout(CHAIN)
    assert (read["col"], read["row"], read["col2"], read["row2"]) == pos["ProducerFlow/2"] + pos["ConsumerFlow/3"]
    assert read["kind"] == "read" and read["mcol"] == -0.5
    # The producer sits above or below the root: its arrowhead turns toward it.
    assert (read["angle"] > 0) == (read["row"] < read["row2"]) and read["angle"] != 0
    labels = [lay for lay in spec["layer"] if lay["data"]["name"] == "edges" and lay["mark"]["type"] == "text"]
    assert labels[0]["encoding"]["text"]["field"] == "label" and read["label"] == "read"


def test_two_edges_between_the_same_runs_share_one_label():
    g = graph("C/3", [run("C/3"), run("X/1")], [("X/1", "C/3", "started"), ("X/1", "C/3", "read")])
    edges = vega_lite(g)["datasets"]["edges"]
    assert [(e["kind"], e["label"]) for e in edges] == [("started", "started, read"), ("read", "")]


def test_a_lone_run_is_a_valid_chart():
    spec = vega_lite(graph("C/3", [run("C/3")], []))
    assert_valid_vega_lite(spec)
    assert spec["datasets"]["edges"] == [] and len(spec["datasets"]["nodes"]) == 1
