"""``flowproject lineage FLOW/RUN``: the runs and events around one run."""

from __future__ import annotations

import argparse
import json

# The text cards show too (flowproject.flow.lineage_card), so it lives below the CLI.
from ..getters.lineage_mermaid import mermaid


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lineage", help="Show what made a run and what it fed.")
    p.add_argument("run", help="FLOW/RUN_ID")
    p.add_argument("--up", action="store_true", help="only upstream")
    p.add_argument("--down", action="store_true", help="only downstream")
    p.add_argument("--depth", type=_depth, default=None, metavar="N", help="stop after N edges (default: follow all)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument("--mermaid", action="store_true", help="a Mermaid diagram (GitHub, Metaflow cards)")
    p.set_defaults(func=_run)


def _depth(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("expected a positive number of edges, got %r" % text[:40])
    return int(text)


def _run(args: argparse.Namespace) -> int:
    from ..errors import FlowprojectError
    from ..getters.lineage_graph import graph, text

    if args.run.count("/") != 1 or not all(args.run.split("/")):
        raise FlowprojectError(msg="lineage: %r is not FLOW/RUN_ID" % args.run)
    both = not args.up and not args.down
    g = graph(args.run, up=args.up or both, down=args.down or both, depth=args.depth)
    if args.json:
        print(json.dumps(g, sort_keys=True))
    elif args.mermaid:
        print(mermaid(g))
    elif g["edges"]:
        print(text(g))
    else:
        print("%s: no recorded inputs or consumers" % args.run)
    return 0
