"""The lineage graph of a run: upward through its inputs, downward through the index.

Upward, each run's own record gives its inputs (absent or corrupt: one ``warning:`` and the
``lineage_inputs`` artifact instead); a sensor tick's inputs end in the ``observation`` it
made. Downward, ``used_by`` entries under the run name its consumers; each is checked
against the consumer's own inputs before it is shown. The entries of a run are trusted
only when the run's own record is there (both are written at the end of a run, the own
record last): without it, or when the datastore cannot be listed, one ``warning:`` and the
project's runs are read instead, which costs time and gives the same answer.
"""

from __future__ import annotations

import heapq
from typing import Any, Dict, List, Optional, Tuple

from ..errors import FlowprojectError, warn
from .lineage import ARTIFACT, LINEAGE_PREFIX, run_key
from .runs import any_namespace
from .store import StateStore, StateStoreError

Entry = Dict[str, Any]

# The warnings of one graph() call: a fact met on many runs (a datastore that keeps no
# records) is one line, not one per run.
_WARNED: set = set()


def _warn(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        warn(message)


def _own_record(store: Optional[StateStore], pathspec: str) -> Tuple[Optional[Entry], Optional[str]]:
    """(the run's own record, None) or (None, why it cannot be used)."""
    if store is None or not store.supported:
        return None, "the %s datastore keeps no lineage records" % (store.ds_type if store else "configured")
    key = run_key(*pathspec.split("/"))
    try:
        record = store.read_json(key)
    except StateStoreError as e:
        return None, str(e)
    if record is None:
        return None, "no lineage record for %s" % pathspec
    if not isinstance(record.get("inputs"), list):
        return None, "%s has no inputs list" % store.uri(key)
    return record, None


def inputs_of(store: Optional[StateStore], pathspec: str, quiet: bool = False) -> List[Entry]:
    """The recorded inputs of ``pathspec``: its own record, else its artifact (warned)."""
    record, why = _own_record(store, pathspec)
    if record is not None:
        return record["inputs"]
    if not quiet and store is not None and store.supported:
        _warn("%s; reading the run's %s artifact instead" % (why, ARTIFACT))
    from metaflow import Run
    from metaflow.exception import MetaflowNotFound

    with any_namespace():
        try:
            data = Run(pathspec).data
        except MetaflowNotFound:
            return []
        return list(getattr(data, ARTIFACT, None) or []) if data is not None else []


def _naming(inputs: List[Entry], pathspec: str) -> List[Entry]:
    return [e for e in inputs if isinstance(e, dict) and e.get("pathspec") == pathspec]


def consumers_of(store: Optional[StateStore], pathspec: str, scan: bool = True) -> List[Tuple[str, List[Entry]]]:
    """Runs whose inputs name ``pathspec`` with those inputs: from the index, each verified.

    ``scan=False`` (a SensorFlow tick drawing its card) never reads the project's runs: an
    index that cannot be trusted gives what it has, unwarned, or nothing.
    """
    flow_name, run_id = pathspec.split("/")
    folder = "%s/%s/%s/used_by" % (flow_name, LINEAGE_PREFIX, run_id)
    _, why = _own_record(store, pathspec)
    names: Optional[List[str]] = None
    if why is None or not scan:
        try:
            names = store.list_names(folder) if store is not None and store.supported else []
        except StateStoreError as e:
            if scan:
                why = str(e)
            else:
                raise
    if names is None:
        _warn("%s: its index cannot be trusted; reading the project's runs instead (slower)" % why)
        return _scan(pathspec)
    out = []
    for name in names:
        if not name.endswith(".json"):
            continue
        consumer = name[: -len(".json")].replace("~", "/")
        if consumer.count("/") != 1:
            _warn("%s: %r names no run; ignored" % (store.uri(folder), name))  # type: ignore[union-attr]
            continue
        entries = _naming(inputs_of(store, consumer), pathspec)
        if entries:
            out.append((consumer, entries))
    return out


def _scan(pathspec: str) -> List[Tuple[str, List[Entry]]]:
    """The fallback: every run of the project, in every flow and branch, that names ``pathspec``."""
    from metaflow import Metaflow, Run

    store = StateStore.configured()
    out = []
    with any_namespace():
        tags = Run(pathspec).system_tags
        project = [t for t in tags if t.startswith("project:")]
        for flow in Metaflow():
            for run in flow:
                if run.pathspec == pathspec or (project and project[0] not in run.system_tags):
                    continue
                if not run.successful:
                    continue
                entries = _naming(inputs_of(store, run.pathspec, quiet=True), pathspec)
                if entries:
                    out.append((run.pathspec, entries))
    return sorted(out)


def observation_id(run: str, entry: Entry) -> str:
    return "observation:%s@%s" % (run, (entry.get("fingerprint") or "")[:12])


def event_id(entry: Entry) -> str:
    return "event:%s" % (entry.get("id") or entry.get("name"))


class _Graph:
    def __init__(self, root: str) -> None:
        self.root = root
        self.nodes: Dict[str, Entry] = {}
        self.edges: List[Dict[str, str]] = []
        self._seen: set = set()
        self.run(root)

    def run(self, pathspec: str) -> str:
        self.nodes.setdefault(pathspec, {"id": pathspec, "kind": "run", "pathspec": pathspec})
        return pathspec

    def event(self, entry: Entry) -> str:
        node = event_id(entry)
        self.nodes.setdefault(
            node, {"id": node, "kind": "event", "name": entry.get("name"), "event_id": entry.get("id")}
        )
        return node

    def observation(self, run: str, entry: Entry) -> str:
        node = observation_id(run, entry)
        fields = ("source", "check_mode", "fingerprint", "summary", "observed_at")
        self.nodes.setdefault(node, dict({"id": node, "kind": "observation"}, **{k: entry.get(k) for k in fields}))
        return node

    def edge(self, src: str, dst: str, kind: str) -> None:
        if (src, dst, kind) not in self._seen:
            self._seen.add((src, dst, kind))
            self.edges.append({"from": src, "to": dst, "kind": kind})

    def as_dict(self) -> Dict[str, Any]:
        return {"root": self.root, "nodes": list(self.nodes.values()), "edges": self.edges}


def _is_run(pathspec: Any) -> bool:
    return isinstance(pathspec, str) and pathspec.count("/") == 1 and all(pathspec.split("/"))


def graph(root: str, up: bool = True, down: bool = True, depth: Optional[int] = None) -> Dict[str, Any]:
    """``{"root", "nodes", "edges"}`` around the run ``root``.

    Transitive unless ``depth``: then only what lies at most ``depth`` edges from ``root``
    (an event between two runs is a node, so sensor → event → run is two edges).
    """
    store = StateStore.configured()
    _WARNED.clear()
    if _own_record(store, root)[0] is None:
        _must_exist(root)
    g = _Graph(root)

    def within(hops: int) -> bool:
        return depth is None or hops <= depth

    for upward in (True, False):
        if (upward and not up) or (not upward and not down):
            continue
        # Nearest first (an event makes some links two edges long), so --depth cuts by distance.
        queue, best = [(0, root)], {root: 0}
        while queue:
            dist, run = heapq.heappop(queue)
            if dist > best[run] or not within(dist + 1):
                continue
            reached: List[Tuple[str, int]] = []
            if upward:
                for e in inputs_of(store, run):
                    src = str(e.get("pathspec") or "")
                    if e.get("kind") == "observation":
                        g.edge(g.observation(run, e), run, "observed")
                    elif e.get("kind") == "event":
                        ev = g.event(e)
                        g.edge(ev, run, "started")
                        if _is_run(src) and within(dist + 2):
                            g.edge(g.run(src), ev, "published")
                            reached.append((src, dist + 2))
                    elif _is_run(src):
                        g.edge(g.run(src), run, "read" if e.get("kind") == "read" else "started")
                        reached.append((src, dist + 1))
            else:
                for consumer, entries in consumers_of(store, run):
                    for e in entries:
                        if e.get("kind") == "event":
                            ev = g.event(e)
                            g.edge(run, ev, "published")
                            if within(dist + 2):
                                g.edge(ev, g.run(consumer), "started")
                                reached.append((consumer, dist + 2))
                        else:
                            g.edge(run, g.run(consumer), "read" if e.get("kind") == "read" else "started")
                            reached.append((consumer, dist + 1))
            for other, hops in reached:
                if hops < best.get(other, hops + 1):
                    best[other] = hops
                    heapq.heappush(queue, (hops, other))
    return g.as_dict()


def _must_exist(pathspec: str) -> None:
    from metaflow import Run
    from metaflow.exception import MetaflowNotFound

    with any_namespace():
        try:
            Run(pathspec)
        except MetaflowNotFound:
            raise FlowprojectError(msg="lineage: no run %s in this metadata (%s)" % (pathspec, _provider())) from None


def _provider() -> str:
    from metaflow import get_metadata

    return get_metadata()


def text(g: Dict[str, Any]) -> str:
    """One line per edge, ``from --kind--> to``, then one line per observation with what it saw."""
    lines = ["%s --%s--> %s" % (e["from"], e["kind"], e["to"]) for e in g["edges"]]
    for n in g["nodes"]:
        if n["kind"] == "observation":
            lines.append(
                "%s: %s (%s) at %s: %s [fingerprint %s]"
                % (
                    n["id"],
                    n.get("source"),
                    n.get("check_mode"),
                    n.get("observed_at"),
                    n.get("summary"),
                    n.get("fingerprint"),
                )
            )
    return "\n".join(lines)
