"""The ``flowproject`` command: parses arguments and calls library functions, nothing more."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from . import branches as _branches
from . import config as _config
from . import sources
from . import deploy as _deploy
from .errors import FlowprojectError


def _cmd_validate(args: argparse.Namespace) -> int:
    path = Path(args.path) if args.path else _config.locate()
    print(json.dumps(_config.load(path, environment=args.env), indent=2))
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


def _cmd_branch(args: argparse.Namespace) -> int:
    try:
        path = _config.locate()
    except _config.ConfigError:
        # Outside a project the rule still applies, with the default production branches;
        # a config that exists but is broken is still an error (load below raises).
        path = None
    production = (
        _config.load(path)["deploy"]["production_branches"]
        if path is not None
        else list(_branches.DEFAULT_PRODUCTION_BRANCHES)
    )
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
    p.add_argument("--env", metavar="NAME", help="resolve as environment NAME (default: the one a plain local run gets)")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("check", help="observe [data] now and print what the sensor would see")
    p.add_argument("--config", metavar="PATH", help="config file (default: $FLOWPROJECT_CONFIG or the nearest flowproject.toml)")
    p.add_argument("--json", action="store_true", help="print the observation (value, fingerprint, summary) as JSON")
    p.set_defaults(func=_cmd_check)
    p = sub.add_parser("cache", help="Metaflow's Client artifact cache used by the getters")
    p.add_argument("action", choices=["dir", "clear"], help="print the cache folder, or delete it")
    p.set_defaults(func=_cmd_cache)
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
