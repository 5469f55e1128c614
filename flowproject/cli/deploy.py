"""``flowproject branch``, ``deploy`` (``./deploy``) and ``provenance``."""

from __future__ import annotations

import argparse
import json

from ..config import loader as _config
from ..deploy import branches as _branches
from ..deploy import commands as _deploy
from ..deploy import tags as _tags


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
    elif args.flag:
        # Splices into a Metaflow command: python x.flow.py $(flowproject branch --flag) run
        print(" ".join(decision.metaflow_flags()))
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
        summary_markdown=args.summary_markdown,
        project_dir=args.project_dir,
        environment=args.environment,
    )


def _cmd_provenance(args: argparse.Namespace) -> int:
    tags = _tags.project_provenance_tags(args.branch)
    if args.flags:
        print(" ".join("--tag %s" % tag for tag in tags))
    else:
        print("\n".join(tags))
    return 0


def add_deploy_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``flowproject deploy`` and ``./deploy`` (one definition for both)."""
    p.add_argument("--dry-run", action="store_true", help="print the exact commands; change nothing")
    p.add_argument(
        "--jobs",
        type=int,
        default=_deploy.DEFAULT_JOBS,
        metavar="N",
        help="flows deployed at a time (default: %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print the results as a JSON list instead of a table")
    p.add_argument("--branch", metavar="NAME", help="git branch to deploy as (default: CI variables, then git)")
    p.add_argument("--teardown", action="store_true", help="delete the branch's deployments (argo-workflows delete)")
    p.add_argument(
        "--only-json", metavar="DIR", help="render each WorkflowTemplate into DIR/<FlowName>.json; deploy nothing"
    )
    p.add_argument(
        "--summary-markdown",
        metavar="FILE",
        help="also append the per-flow table to FILE as Markdown (e.g. $GITHUB_STEP_SUMMARY)",
    )
    p.add_argument(
        "--project-dir",
        metavar="DIR",
        help="the project (default: found from the first FLOW_FILE or the current directory); ./deploy passes its own folder",
    )
    p.add_argument(
        "--environment",
        metavar="NAME",
        help="Metaflow's --environment for this deploy (local, pypi, conda, uv, fast-bakery); overrides [launch] environment",
    )
    p.add_argument("files", nargs="*", metavar="FLOW_FILE", help="flow files (default: flows/**/*.flow.py)")


def register(sub) -> None:
    p = sub.add_parser("branch", help="print the Metaflow branch a git branch deploys to")
    p.add_argument("name", nargs="?", help="git branch (default: CI variables, then git)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--json", action="store_true", help="print the whole decision as a JSON object")
    how.add_argument("--flag", action="store_true", help="print the Metaflow option: --branch NAME or --production")
    p.set_defaults(func=_cmd_branch)

    p = sub.add_parser("deploy", help="deploy every flow to Argo Workflows (see ./deploy)")
    add_deploy_arguments(p)
    p.set_defaults(func=_cmd_deploy)

    p = sub.add_parser("provenance", help="print the provenance tags ./deploy passes to argo-workflows create")
    p.add_argument("--branch", metavar="NAME", help="git branch (default: CI variables, then git)")
    p.add_argument("--flags", action="store_true", help="print them as --tag options to splice into a command")
    p.set_defaults(func=_cmd_provenance)
