"""The producer and consumer flows of the lineage tests, and their reading of
`flowproject lineage --json`: one definition each."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Set, Tuple

from flow_sources import base_flow

# A project whose sensor watches a local folder (the tests create ``watched/``).
TOML = """
project_name = "lin"
[data]
type = "local"
path = "watched"
"""

PRODUCER = base_flow("ProducerFlow", "self.model = 41")

READ_MODEL = 'self.got = self.get_artifact("ProducerFlow", "model")'


def consumer_flow(name: str = "ConsumerFlow", end: str = "pass", **kwargs: str) -> str:
    """A flow ``name`` whose start reads ProducerFlow's ``model`` (``kwargs`` as base_flow's)."""
    return base_flow(name, READ_MODEL, end, **kwargs)


def lineage_graph(sandbox: Any, root: Any, *args: str, env: Optional[Dict[str, str]] = None) -> Tuple[dict, str]:
    """`flowproject lineage *args --json` in ``root``: (the graph, the command's stderr)."""
    proc = sandbox.run_ok(["-m", "flowproject.cli", "lineage", *args, "--json"], cwd=root, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def edge_set(graph: dict) -> Set[Tuple[str, str, str]]:
    return {(e["from"], e["kind"], e["to"]) for e in graph["edges"]}
