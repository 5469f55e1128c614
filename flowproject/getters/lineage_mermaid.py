"""Lineage graphs as Mermaid text, and the runs an event started: what ``flowproject
lineage --mermaid`` prints and the cards show (``flowproject.flow.lineage_card``,
the SensorFlow card), in one place so they cannot differ.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .lineage_graph import consumers_of, event_id, graph
from .store import StateStore


def mermaid(g: Dict[str, Any]) -> str:
    """A ``graph LR`` with run nodes labelled ``Flow/id``, events as rounded boxes and
    observations as cylinders (source, summary, short fingerprint)."""
    ids = {n["id"]: "n%d" % i for i, n in enumerate(g["nodes"])}
    shapes = {"run": '["%s"]', "event": '("%s")', "observation": '[("%s")]'}
    lines = ["graph LR"]
    for n in g["nodes"]:
        parts = [n.get("pathspec") or n.get("name") or n["id"]]
        if n["kind"] == "observation":
            parts = [n.get("source"), n.get("summary"), (n.get("fingerprint") or "")[:12]]
        # Mermaid reads quotes, angle brackets and '#' inside a label as markup.
        label = "<br/>".join(
            str(p).replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;") for p in parts
        )
        lines.append("    %s%s" % (ids[n["id"]], shapes.get(n["kind"], '["%s"]') % label))
    for e in g["edges"]:
        lines.append("    %s -->|%s| %s" % (ids[e["from"]], e["kind"], ids[e["to"]]))
    return "\n".join(lines)


def upstream_mermaid(pathspec: str) -> str:
    """``flowproject lineage <pathspec> --up --mermaid``."""
    return mermaid(graph(pathspec, up=True, down=False))


def runs_started_by(pathspec: str, store: Optional[StateStore] = None) -> List[str]:
    """The runs an event published by run ``pathspec`` started, from the downward index,
    each verified against the consumer's own inputs (``lineage_graph.consumers_of``)."""
    return [n["pathspec"] for n in started_graph(pathspec, store)["nodes"][1:] if n["kind"] == "run"]


def started_graph(pathspec: str, store: Optional[StateStore] = None) -> Dict[str, Any]:
    """Run ``pathspec`` → its events → the runs they started, in ``graph``'s shape, from
    the downward index alone (``scan=False``: a sensor tick never reads the project's runs)."""
    store = store or StateStore.configured()
    nodes: Dict[str, Dict[str, Any]] = {pathspec: {"id": pathspec, "kind": "run", "pathspec": pathspec}}
    edges = []
    for consumer, entries in consumers_of(store, pathspec, scan=False):
        for e in entries:
            if e.get("kind") != "event":
                continue
            ev = event_id(e)
            if ev not in nodes:
                nodes[ev] = {"id": ev, "kind": "event", "name": e.get("name"), "event_id": e.get("id")}
                edges.append({"from": pathspec, "to": ev, "kind": "published"})
            nodes.setdefault(consumer, {"id": consumer, "kind": "run", "pathspec": consumer})
            edges.append({"from": ev, "to": consumer, "kind": "started"})
    return {"root": pathspec, "nodes": list(nodes.values()), "edges": edges}
