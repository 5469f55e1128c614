"""``flowproject sensor history`` and ``flowproject sensor preview``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..config import loader as _config
from .common import BRANCH_HELP, metaflow_branch


def _cmd_sensor_history(args: argparse.Namespace) -> int:
    from ..sensor.history import format_table, sensor_history

    cfg = _config.load(Path(args.config) if args.config else _config.locate())
    ticks = sensor_history(cfg["project_name"], metaflow_branch(args.branch), n=args.n)
    if args.json:
        print(json.dumps([t.as_dict() for t in ticks], indent=2, default=str))
    else:
        print(format_table(ticks))
    return 0


def _cmd_sensor_preview(args: argparse.Namespace) -> int:
    from ..sensor.preview import preview

    result = preview(metaflow_branch(args.branch), args.config)
    print(json.dumps(result.as_dict(), indent=2, default=str) if args.json else result.message)
    return 0


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError("expected a number of ticks (0 or more), got %r" % text[:40])
    return int(text)


def register(sub) -> None:
    p = sub.add_parser("sensor", help="look into SensorFlow: recent ticks, or what it would do now")
    sn = p.add_subparsers(dest="sensor_command", required=True)
    for name, func, text in (
        ("history", _cmd_sensor_history, "the sensor's recent ticks in a branch, newest first"),
        ("preview", _cmd_sensor_preview, "observe now and compare with the branch's state; runs no flow"),
    ):
        p = sn.add_parser(name, help=text)
        p.add_argument("--branch", metavar="BRANCH", help=BRANCH_HELP)
        p.add_argument(
            "--config",
            metavar="PATH",
            help="config file (default: $FLOWPROJECT_CONFIG or the nearest flowproject.toml)",
        )
        p.add_argument("--json", action="store_true", help="print JSON")
        if name == "history":
            p.add_argument("-n", type=_count, default=20, metavar="N", help="ticks to show (default: %(default)s)")
        p.set_defaults(func=func)
