"""The ``flowproject`` command: parses arguments and calls library functions, nothing more.

Each command group lives in its own module with a ``register(sub)`` that adds its parsers.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional

from ..errors import FlowprojectError
from . import config, deploy, events, getters, lineage, project, sensor

GROUPS = (config, getters, deploy, project, events, sensor, lineage)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowproject", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version="flowproject %s" % _version())
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("flowproject")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


# The exit status of a process killed by SIGPIPE, as a shell reports it.
EXIT_BROKEN_PIPE = 141


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_shadowing(args)
        return args.func(args)
    except FlowprojectError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `./deploy | head`: the reader left. Point stdout at /dev/null so the
        # interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _check_shadowing(args: argparse.Namespace) -> None:
    # migrate is the fix for a vendored flowproject/ folder, so it must run beside one.
    if args.command == "migrate":
        return
    from ..config import find_config, shadowing

    found = find_config(Path.cwd())
    for folder in (Path.cwd(), found.parent if found else None, getattr(args, "project_dir", None)):
        shadowing.check(folder)


if __name__ == "__main__":
    sys.exit(main())
