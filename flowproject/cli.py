"""The ``flowproject`` command: parses arguments and calls library functions, nothing more."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from . import config as _config
from . import sources
from .errors import FlowprojectError


def _cmd_validate(args: argparse.Namespace) -> int:
    path = Path(args.path) if args.path else _config.locate()
    print(json.dumps(_config.load(path), indent=2))
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    observation = sources.observe_config(args.config)
    if args.json:
        print(json.dumps(observation.to_dict(), indent=2, sort_keys=True))
    else:
        print(observation.summary)
        print("fingerprint %s" % observation.fingerprint)
    return 0


def _cmd_cache(args: argparse.Namespace) -> int:
    from .getters import clear_cache, client_cache_dir

    if args.action == "clear":
        path, freed = clear_cache()
        print("cleared %s (%.1f MB)" % (path, freed / 1e6))
    else:
        print(client_cache_dir())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowproject", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="validate flowproject.toml and print the resolved config")
    p.add_argument("path", nargs="?", help="config file (default: $FLOWPROJECT_CONFIG or the nearest flowproject.toml)")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("check", help="observe [data] now and print what the sensor would see")
    p.add_argument("--config", metavar="PATH", help="config file (default: $FLOWPROJECT_CONFIG or the nearest flowproject.toml)")
    p.add_argument("--json", action="store_true", help="print the observation (value, fingerprint, summary) as JSON")
    p.set_defaults(func=_cmd_check)
    p = sub.add_parser("cache", help="Metaflow's Client artifact cache used by the getters")
    p.add_argument("action", choices=["dir", "clear"], help="print the cache folder, or delete it")
    p.set_defaults(func=_cmd_cache)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except FlowprojectError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
