"""The lineage graph of a run: upward through its inputs, downward through the index.

Upward, each run's own record gives its inputs (absent or corrupt: one ``warning:`` and the
``lineage_inputs`` artifact instead). Downward, ``used_by`` entries under the run name its
consumers; each is checked against the consumer's own inputs before it is shown.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from ..errors import warn
from .lineage import ARTIFACT, LINEAGE_PREFIX, run_key
from .runs import any_namespace
from .store import StateStore, StateStoreError


def inputs_of(store: Optional[StateStore], pathspec: str) -> List[Dict[str, Any]]:
    """The recorded inputs of ``pathspec``: its own record, else its artifact (warned)."""
    flow_name, run_id = pathspec.split("/")
    record = None
    if store is not None and store.supported:
        try:
            record = store.read_json(run_key(flow_name, run_id))
        except StateStoreError as e:
            warn("%s; reading the run's %s artifact instead" % (e, ARTIFACT))
        if record is None or not isinstance(record.get("inputs"), list):
            if record is not None:
                warn(
                    "%s has no inputs list; reading the run's %s artifact instead"
                    % (store.uri(run_key(flow_name, run_id)), ARTIFACT)
                )
            else:
                warn("no lineage record for %s; reading its %s artifact instead" % (pathspec, ARTIFACT))
            record = None
    if record is not None:
        return record["inputs"]
    from metaflow import Run

    with any_namespace():
        data = Run(pathspec).data
        return list(getattr(data, ARTIFACT, None) or []) if data is not None else []


def consumers_of(store: Optional[StateStore], pathspec: str) -> List[str]:
    """Runs whose inputs name ``pathspec``, from the index, each verified."""
    if store is None or store.ds_type != "local":
        return []
    flow_name, run_id = pathspec.split("/")
    folder = store._local_path("%s/%s/%s/used_by" % (flow_name, LINEAGE_PREFIX, run_id))
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    out = []
    for name in names:
        consumer = name[: -len(".json")].replace("~", "/")
        if any(e.get("pathspec") == pathspec for e in inputs_of(store, consumer)):
            out.append(consumer)
    return out


def graph(root: str, up: bool = True, down: bool = True, depth: Optional[int] = None) -> Dict[str, Any]:
    """``{"root", "nodes", "edges"}`` around the run ``root``."""
    store = StateStore.configured()
    nodes: Dict[str, Dict[str, Any]] = {root: {"id": root, "kind": "run", "pathspec": root}}
    edges: List[Dict[str, str]] = []

    def walk(pathspec: str, level: int, upward: bool) -> None:
        if depth is not None and level >= depth:
            return
        if upward:
            for e in inputs_of(store, pathspec):
                src = e.get("pathspec")
                if e["kind"] == "event":
                    ev = "event:%s" % (e.get("id") or e.get("name"))
                    nodes.setdefault(ev, {"id": ev, "kind": "event", "name": e.get("name")})
                    edges.append({"from": ev, "to": pathspec, "kind": "started"})
                    if src:
                        nodes.setdefault(src, {"id": src, "kind": "run", "pathspec": src})
                        edges.append({"from": src, "to": ev, "kind": "published"})
                elif src:
                    fresh = src not in nodes
                    nodes.setdefault(src, {"id": src, "kind": "run", "pathspec": src})
                    edges.append({"from": src, "to": pathspec, "kind": "read" if e["kind"] == "read" else "started"})
                    if fresh:
                        walk(src, level + 1, True)
        else:
            for consumer in consumers_of(store, pathspec):
                fresh = consumer not in nodes
                nodes.setdefault(consumer, {"id": consumer, "kind": "run", "pathspec": consumer})
                edges.append({"from": pathspec, "to": consumer, "kind": "read"})
                if fresh:
                    walk(consumer, level + 1, False)

    if up:
        walk(root, 0, True)
    if down:
        walk(root, 0, False)
    return {"root": root, "nodes": list(nodes.values()), "edges": edges}
