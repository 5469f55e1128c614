"""``flowproject validate`` and ``flowproject check``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import sources
from ..config import loader as _config
from ..getters.read_branch import describe as describe_getters


def _cmd_validate(args: argparse.Namespace) -> int:
    path = Path(args.path) if args.path else _config.locate(hint="pass its path: flowproject validate PATH")
    resolved = _config.load(path, environment=args.env)
    print(json.dumps(resolved, indent=2))
    # On stderr: stdout stays the resolved config as JSON, for scripts.
    for line in describe_getters(resolved):
        print(line, file=sys.stderr)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    path = args.config or _config.locate(hint="pass its path: flowproject check --config PATH")
    observation = sources.observe_config(path)
    if args.json:
        print(json.dumps(observation.to_dict(), indent=2, sort_keys=True))
    else:
        print(observation.summary)
        print("fingerprint %s" % observation.fingerprint)
    return 0


def register(sub) -> None:
    p = sub.add_parser("validate", help="validate flowproject.toml and print the resolved config")
    p.add_argument("path", nargs="?", help="config file (default: $FLOWPROJECT_CONFIG or the nearest flowproject.toml)")
    p.add_argument(
        "--env", metavar="NAME", help="resolve as environment NAME (default: the one a plain local run gets)"
    )
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("check", help="observe [data] now and print what the sensor would see")
    p.add_argument(
        "--config", metavar="PATH", help="config file (default: $FLOWPROJECT_CONFIG or the nearest flowproject.toml)"
    )
    p.add_argument("--json", action="store_true", help="print the observation (value, fingerprint, summary) as JSON")
    p.set_defaults(func=_cmd_check)
