"""Lineage graphs as Mermaid text, and the runs an event started: what ``flowproject
lineage --mermaid`` prints and the cards show (``flowproject.flow.lineage_card``,
the SensorFlow card), in one place so they cannot differ.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .lineage_graph import consumers_of, graph, inputs_of
from .store import StateStore


def mermaid(g: Dict[str, Any]) -> str:
    """A ``graph LR`` with run nodes labelled ``Flow/id``."""
    ids = {n["id"]: "n%d" % i for i, n in enumerate(g["nodes"])}
    lines = ["graph LR"]
    for n in g["nodes"]:
        label = n.get("pathspec") or n.get("name") or n["id"]
        lines.append('    %s["%s"]' % (ids[n["id"]], str(label).replace('"', "'")))
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
        for consumer in consumers_of(store, pathspec)
        if any(e.get("kind") == "event" and e.get("pathspec") == pathspec for e in inputs_of(store, consumer))
    ]
