"""The ``flowproject`` command: parses arguments and calls library functions, nothing more."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from . import branches as _branches
from . import config as _config
from . import deploy as _deploy
from .errors import FlowprojectError


def _cmd_validate(args: argparse.Namespace) -> int:
    path = Path(args.path) if args.path else _config.locate()
    print(json.dumps(_config.load(path), indent=2))
    return 0


def _cmd_branch(args: argparse.Namespace) -> int:
    try:
        production = _config.load(_config.locate())["deploy"]["production_branches"]
    except _config.ConfigError:
        # Outside a project the rule still applies, with the default production branches.
        production = list(_branches.DEFAULT_PRODUCTION_BRANCHES)
    decision = _branches.decide(args.name, production_branches=production)
    if args.json:
        print(json.dumps(decision.as_dict()))
    else:
        print("--production" if decision.production else decision.metaflow_branch)
    return 0


def _cmd_deploy(args: argparse.Namespace) -> int:
    return _deploy.deploy(
        args.files,
        branch=args.branch,
        jobs=args.jobs,
        dry_run=args.dry_run,
        teardown=args.teardown,
        only_json=args.only_json,
        as_json=args.json,
    )


def add_deploy_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``flowproject deploy`` and ``./deploy`` (one definition for both)."""
    p.add_argument("--dry-run", action="store_true", help="print the exact commands; change nothing")
    p.add_argument("--jobs", type=int, default=_deploy.DEFAULT_JOBS, metavar="N", help="flows deployed at a time (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the results as a JSON list instead of a table")
    p.add_argument("--branch", metavar="NAME", help="git branch to deploy as (default: CI variables, then git)")
    p.add_argument("--teardown", action="store_true", help="delete the branch's deployments (argo-workflows delete)")
    p.add_argument("--only-json", metavar="DIR", help="render each WorkflowTemplate into DIR/<FlowName>.json; deploy nothing")
    p.add_argument("files", nargs="*", metavar="FLOW_FILE", help="flow files (default: flows/**/*.flow.py)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowproject", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="validate flowproject.toml and print the resolved config")
    p.add_argument("path", nargs="?", help="config file (default: $FLOWPROJECT_CONFIG or the nearest flowproject.toml)")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("branch", help="print the Metaflow branch a git branch deploys to")
    p.add_argument("name", nargs="?", help="git branch (default: CI variables, then git)")
    p.add_argument("--json", action="store_true", help="print the whole decision as a JSON object")
    p.set_defaults(func=_cmd_branch)

    p = sub.add_parser("deploy", help="deploy every flow to Argo Workflows (see ./deploy)")
    add_deploy_arguments(p)
    p.set_defaults(func=_cmd_deploy)
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
