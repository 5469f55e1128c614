"""Lineage graphs as a Vega-Lite chart: a diagram Metaflow's card viewer draws by itself,
offline (``metaflow.cards.VegaChart``), where the Mermaid text of ``lineage_mermaid`` is
only code (the viewer renders Markdown without Mermaid).

Layered, left to right: a node's column is its distance from the root run along the
longest chain of edges (upstream negative, downstream positive), so every edge points
right even when a run is both read directly and reached through an event; a node's row
follows its neighbours nearer the root (their mean row, one row apart at least), which
keeps a chain straight and a fan-in around the run it feeds.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

# Metaflow's card viewer bundles Vega-Lite 6 (6.4.1 in Metaflow 2.19.24); vega-embed warns
# when a spec names another major version.
SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
COLUMN_PX = 230
ROW_PX = 90
KINDS = ["run", "event", "observation"]
SHAPES = ["square", "diamond", "circle"]
COLORS = ["#4c78a8", "#f58518", "#54a24b"]
_LAYOUT = ("col", "row", "label", "is_root")
# The tooltip's order: what a node is first, then what it saw; any other field after, by name.
_FIELDS = [
    "id",
    "kind",
    "pathspec",
    "name",
    "event_id",
    "source",
    "check_mode",
    "summary",
    "fingerprint",
    "observed_at",
]


def _longest(start: str, nxt: Dict[str, List[str]], bound: int) -> Dict[str, int]:
    """Longest chain of ``nxt`` steps from ``start`` to each node it reaches. Lineage never
    has cycles; one in a hand-written graph is cut after ``bound`` rounds."""
    dist, frontier = {start: 0}, [start]
    for _ in range(bound):
        new = []
        for n in frontier:
            for m in nxt.get(n, ()):
                if m != start and dist.get(m, -1) < dist[n] + 1:
                    dist[m] = dist[n] + 1
                    new.append(m)
        if not new:
            break
        frontier = new
    return dist


def layout(g: Dict[str, Any]) -> Dict[str, Tuple[int, float]]:
    """``{node id: (column, row)}``: ``g["root"]`` at (0, 0)."""
    ids = [n["id"] for n in g["nodes"]]
    known = set(ids)
    out: Dict[str, List[str]] = {}
    inn: Dict[str, List[str]] = {}
    for e in g["edges"]:
        if e["from"] in known and e["to"] in known:
            out.setdefault(e["from"], []).append(e["to"])
            inn.setdefault(e["to"], []).append(e["from"])
    root = g["root"]
    col = dict(_longest(root, out, len(ids)))
    col.update({n: -d for n, d in _longest(root, inn, len(ids)).items()})
    # Not linked to the root (only in a hand-made graph): one column past the last.
    spare = max(col.values(), default=0) + 1
    for n in ids:
        col.setdefault(n, spare)
    kind = {n["id"]: n["kind"] for n in g["nodes"]}
    label = {n["id"]: label_of(n) for n in g["nodes"]}
    row: Dict[str, float] = {}
    # Columns outward from the root, each ordered by the mean row of its placed neighbours.
    order = sorted(set(col.values()), key=lambda c: (abs(c), c))
    for c in order:
        members = [n for n in ids if col[n] == c]

        def pull(n: str) -> float:
            near = [row[m] for m in out.get(n, []) + inn.get(n, []) if m in row]
            return sum(near) / len(near) if near else 0.0

        wanted = {n: pull(n) for n in members}
        members.sort(key=lambda n: (wanted[n], KINDS.index(kind[n]) if kind[n] in KINDS else 3, label[n]))
        # Each where its neighbours pull it, one row apart at least, the column then moved
        # as a whole to sit where it was pulled on average.
        placed: List[float] = []
        for n in members:
            placed.append(wanted[n] if not placed else max(wanted[n], placed[-1] + 1))
        shift = sum(wanted.values()) / len(members) - sum(placed) / len(members)
        for n, r in zip(members, placed):
            row[n] = r + shift
    return {n: (col[n], row[n]) for n in ids}


def label_of(node: Dict[str, Any]) -> str:
    """``Flow/id`` for a run, the name of an event, the summary of an observation."""
    if node["kind"] == "observation":
        return str(node.get("summary") or node.get("source") or node["id"])
    return str(node.get("pathspec") or node.get("name") or node["id"])


def _field(name: str) -> str:
    # Vega-Lite reads '.', '[' and ']' in a field name as a path into the datum.
    return name.replace("\\", "\\\\").replace(".", "\\.").replace("[", "\\[").replace("]", "\\]")


def vega_lite(g: Dict[str, Any], title: Optional[str] = None) -> Dict[str, Any]:
    """A Vega-Lite spec drawing ``g`` (``lineage_graph.graph``'s ``{"root", "nodes", "edges"}``):
    nodes shaped and coloured by kind with their labels, edges as rules with an arrowhead and
    their kind, tooltips with every field of a node. Pure: the data is inline."""
    pos = layout(g)
    nodes = []
    shown_all = [{k: v for k, v in n.items() if v is not None and k not in _LAYOUT} for n in g["nodes"]]
    fields = sorted(
        {k for shown in shown_all for k in shown}, key=lambda k: (_FIELDS.index(k) if k in _FIELDS else len(_FIELDS), k)
    )
    for n, shown in zip(g["nodes"], shown_all):
        c, r = pos[n["id"]]
        nodes.append(dict(shown, col=c, row=r, label=label_of(n), is_root=n["id"] == g["root"]))
    edges = []
    # Two edges between the same nodes (a run that started another and was read by it) share
    # one line: the first carries both kinds as its label, so the labels do not overprint.
    kinds: Dict[Tuple[str, str], List[str]] = {}
    for e in g["edges"]:
        kinds.setdefault((e["from"], e["to"]), []).append(e["kind"])
    for e in g["edges"]:
        if e["from"] not in pos or e["to"] not in pos:
            continue
        pair = kinds.pop((e["from"], e["to"]), None)
        (c1, r1), (c2, r2) = pos[e["from"]], pos[e["to"]]
        # The arrowhead's turn on screen (rows grow downward, Vega turns clockwise).
        angle = math.degrees(math.atan2((r2 - r1) * ROW_PX, (c2 - c1) * COLUMN_PX))
        edges.append(
            {
                "from": e["from"],
                "to": e["to"],
                "kind": e["kind"],
                "col": c1,
                "row": r1,
                "col2": c2,
                "row2": r2,
                "mcol": (c1 + c2) / 2,
                "mrow": (r1 + r2) / 2,
                "angle": round(angle, 2),
                "label": ", ".join(pair) if pair else "",
            }
        )
    cols = [c for c, _ in pos.values()] or [0]
    rows = [r for _, r in pos.values()] or [0.0]
    x = {"scale": {"domain": [min(cols) - 0.5, max(cols) + 0.5], "nice": False, "zero": False}, "axis": None}
    y = {
        "scale": {"domain": [min(rows) - 0.6, max(rows) + 0.6], "nice": False, "zero": False, "reverse": True},
        "axis": None,
    }

    def at(cfield: str, rfield: str) -> Dict[str, Any]:
        return {"x": dict(x, field=cfield, type="quantitative"), "y": dict(y, field=rfield, type="quantitative")}

    edge_tip = [{"field": f, "type": "nominal"} for f in ("from", "kind", "to")]
    layers: List[Dict[str, Any]] = [
        {
            "data": {"name": "edges"},
            "mark": {"type": "rule", "color": "#888", "strokeWidth": 1.5},
            "encoding": dict(
                at("col", "row"),
                x2={"field": "col2"},
                y2={"field": "row2"},
                tooltip=edge_tip,
            ),
        },
        {
            "data": {"name": "edges"},
            "mark": {"type": "point", "shape": "triangle-right", "filled": True, "color": "#888", "size": 90},
            "encoding": dict(at("mcol", "mrow"), angle={"field": "angle", "type": "quantitative", "scale": None}),
        },
        {
            "data": {"name": "edges"},
            "mark": {"type": "text", "dy": -10, "fontSize": 10, "color": "#555"},
            "encoding": dict(at("mcol", "mrow"), text={"field": "label", "type": "nominal"}, tooltip=edge_tip),
        },
        {
            "data": {"name": "nodes"},
            "mark": {"type": "point", "filled": True, "size": 420, "opacity": 1},
            "encoding": dict(
                at("col", "row"),
                shape={"field": "kind", "type": "nominal", "scale": {"domain": KINDS, "range": SHAPES}},
                color={"field": "kind", "type": "nominal", "scale": {"domain": KINDS, "range": COLORS}},
                stroke={"condition": {"test": "datum.is_root", "value": "black"}, "value": None},
                strokeWidth={"condition": {"test": "datum.is_root", "value": 2.5}, "value": 0},
                tooltip=[{"field": _field(f), "type": "nominal", "title": f} for f in fields],
            ),
        },
    ]
    # The labels, the root's in bold (font weight is a mark property, not a channel).
    for test, weight in (("datum.is_root", "bold"), ("!datum.is_root", "normal")):
        layers.append(
            {
                "data": {"name": "nodes"},
                "transform": [{"filter": test}],
                "mark": {"type": "text", "dy": 22, "fontSize": 11, "fontWeight": weight, "limit": COLUMN_PX - 12},
                "encoding": dict(at("col", "row"), text={"field": "label", "type": "nominal"}),
            }
        )
    spec: Dict[str, Any] = {
        "$schema": SCHEMA,
        "description": "Lineage of %s" % g["root"],
        "width": COLUMN_PX * (max(cols) - min(cols) + 1),
        "height": round(ROW_PX * (max(rows) - min(rows) + 1)),
        "datasets": {"nodes": nodes, "edges": edges},
        "layer": layers,
        "config": {"view": {"stroke": None}},
    }
    if title:
        spec["title"] = title
    return spec
