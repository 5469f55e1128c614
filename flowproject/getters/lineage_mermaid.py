"""Lineage graphs as Mermaid text, and the runs an event started: what ``flowproject
lineage --mermaid`` prints and the cards show (``flowproject.flow.lineage_card``,
the SensorFlow card), in one place so they cannot differ.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .lineage_graph import consumers_of, graph
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
    store = store or StateStore.configured()
    return [
        consumer
        for consumer, entries in consumers_of(store, pathspec, scan=False)
        if any(e.get("kind") == "event" for e in entries)
    ]
