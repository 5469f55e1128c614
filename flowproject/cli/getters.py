"""``flowproject cache``, ``pin`` and ``tag``."""

from __future__ import annotations

import argparse

from ..errors import FlowprojectError


def _cmd_cache(args: argparse.Namespace) -> int:
    from ..getters.artifacts import clear_cache, client_cache_dir

    if args.action == "clear":
        path, freed = clear_cache()
        print("cleared %s (%.1f MB)" % (path, freed / 1e6))
    else:
        print(client_cache_dir())
    return 0


def _cmd_pin(args: argparse.Namespace) -> int:
    from ..getters import pins

    if args.check:
        if args.flow or args.run or args.branch:
            raise FlowprojectError("pin --check takes no FLOW, --branch or --run")
        problems = pins.check_pins(args.config)
        for line in problems:
            print(line)
        return 1 if problems else 0
    if not args.flow:
        raise FlowprojectError("pin: name a FLOW to pin, or pass --check")
    pin = pins.pin_run(args.flow, branch=args.branch, run_id=args.run, path=args.config)
    was = "" if pin.previous in (None, pin.run_id) else " (was %s)" % pin.previous
    print("pinned %s/%s in %s%s" % (pin.flow_name, pin.run_id, pin.path, was))
    return 0


def _cmd_tag(args: argparse.Namespace) -> int:
    from ..getters import tags

    flow_name, run_id = tags.parse_pathspec(args.run)
    moved = tags.tag_run(flow_name, run_id, args.tag, move=args.move)
    print("tagged %s/%s %s" % (flow_name, run_id, args.tag))
    for pathspec in moved:
        print("removed %s from %s" % (args.tag, pathspec))
    return 0


def register(sub) -> None:
    p = sub.add_parser("cache", help="Metaflow's Client artifact cache used by the getters")
    p.add_argument("action", choices=["dir", "clear"], help="print the cache folder, or delete it")
    p.set_defaults(func=_cmd_cache)

    p = sub.add_parser("pin", help="pin a flow's run in [getters.FLOW] run_id, or --check every pin")
    p.add_argument("flow", nargs="?", metavar="FLOW", help="the flow whose run to pin")
    p.add_argument(
        "--branch",
        metavar="B",
        help="Metaflow branch whose latest successful run to pin (default: prod; any: whole project)",
    )
    p.add_argument("--run", metavar="ID", help="pin this run id (must have succeeded) instead of the latest")
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1, one line per bad pin, when a pin names a missing or unsuccessful run",
    )
    p.add_argument(
        "--config", metavar="PATH", help="config file (default: $FLOWPROJECT_CONFIG or the nearest flowproject.toml)"
    )
    p.set_defaults(func=_cmd_pin)

    p = sub.add_parser("tag", help="add a user tag to a run (--move: take it off the flow's other runs)")
    p.add_argument("run", metavar="FLOW/RUN", help="the run, for example TrainFlow/1712345")
    p.add_argument("tag", metavar="TAG", help="the tag, for example champion")
    p.add_argument("--move", action="store_true", help="remove TAG from every other run of FLOW in the project")
    p.set_defaults(func=_cmd_tag)
