"""The ``flowproject`` command: parses arguments and calls library functions, nothing more."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

from . import branches as _branches
from . import config as _config
from . import sources
from . import deploy as _deploy
from .errors import FlowprojectError


def _cmd_validate(args: argparse.Namespace) -> int:
    path = Path(args.path) if args.path else _config.locate(hint="pass its path: flowproject validate PATH")
    print(json.dumps(_config.load(path, environment=args.env), indent=2))
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
    )


def _cmd_init(args: argparse.Namespace) -> int:
    from . import scaffold

    report = scaffold.init(args.dir, project_name=args.project_name, flowproject_spec=args.flowproject_spec)
    print("\n".join(report.lines()))
    return 0


def _cmd_new(args: argparse.Namespace) -> int:
    from . import scaffold

    print("wrote %s" % _config.display_path(scaffold.new_flow(args.name, args.dir)))
    return 0


def _cmd_pin(args: argparse.Namespace) -> int:
    from . import pins

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
    from . import tags

    flow_name, run_id = tags.parse_pathspec(args.run)
    moved = tags.tag_run(flow_name, run_id, args.tag, move=args.move)
    print("tagged %s/%s %s" % (flow_name, run_id, args.tag))
    for pathspec in moved:
        print("removed %s from %s" % (args.tag, pathspec))
    return 0


def _cmd_provenance(args: argparse.Namespace) -> int:
    tags = _deploy.project_provenance_tags(args.branch)
    if args.flags:
        print(" ".join("--tag %s" % tag for tag in tags))
    else:
        print("\n".join(tags))
    return 0


def add_deploy_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``flowproject deploy`` and ``./deploy`` (one definition for both)."""
    p.add_argument("--dry-run", action="store_true", help="print the exact commands; change nothing")
    p.add_argument("--jobs", type=int, default=_deploy.DEFAULT_JOBS, metavar="N", help="flows deployed at a time (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the results as a JSON list instead of a table")
    p.add_argument("--branch", metavar="NAME", help="git branch to deploy as (default: CI variables, then git)")
    p.add_argument("--teardown", action="store_true", help="delete the branch's deployments (argo-workflows delete)")
    p.add_argument("--only-json", metavar="DIR", help="render each WorkflowTemplate into DIR/<FlowName>.json; deploy nothing")
    p.add_argument("--summary-markdown", metavar="FILE", help="also append the per-flow table to FILE as Markdown (e.g. $GITHUB_STEP_SUMMARY)")
    p.add_argument("--project-dir", metavar="DIR", help="the project (default: found from the first FLOW_FILE or the current directory); ./deploy passes its own folder")
    p.add_argument("files", nargs="*", metavar="FLOW_FILE", help="flow files (default: flows/**/*.flow.py)")


def _metaflow_branch(given: Optional[str]) -> str:
    from .localevents import current_user_branch
    from .triggers import branch_flags

    if given:
        branch_flags(given)  # refuses anything but prod, test.<x>, user.<x>
        return given
    return current_user_branch()


def _json_arg(text: str, option: str) -> object:
    try:
        return json.loads(text)
    except ValueError as e:
        raise FlowprojectError(msg="%s: not JSON (%s): %r" % (option, e, text[:80])) from None


def _cmd_events_serve(args: argparse.Namespace) -> int:
    from .localevents import serve

    return serve(host=args.host, port=args.port, branches=args.branch or ())


def _cmd_trigger(args: argparse.Namespace) -> int:
    from .localevents import NO_VALUE, trigger

    payload = _json_arg(args.payload, "--payload") if args.payload is not None else {}
    if not isinstance(payload, dict):
        raise FlowprojectError(msg="--payload: expected a JSON object, got %r" % args.payload[:80])
    value = _json_arg(args.value, "--value") if args.value is not None else NO_VALUE
    return trigger(Path(args.flow_file), payload, value=value, branch=args.branch)


def _cmd_sensor_history(args: argparse.Namespace) -> int:
    from .history import format_table, sensor_history

    cfg = _config.load(Path(args.config) if args.config else _config.locate())
    ticks = sensor_history(cfg["project_name"], _metaflow_branch(args.branch), n=args.n)
    if args.json:
        print(json.dumps([t.as_dict() for t in ticks], indent=2, default=str))
    else:
        print(format_table(ticks))
    return 0


def _cmd_sensor_preview(args: argparse.Namespace) -> int:
    from .preview import preview

    result = preview(_metaflow_branch(args.branch), args.config)
    print(json.dumps(result.as_dict(), indent=2, default=str) if args.json else result.message)
    return 0


def add_local_loop_parsers(sub) -> None:
    """`events serve`, `trigger` and `sensor history|preview`: the local development loop."""
    branch_help = "Metaflow branch: prod, test.<name> or user.<name> (default: user.<you>)"
    p = sub.add_parser("events", help="local Argo Events stand-in: start the flows events trigger")
    ev = p.add_subparsers(dest="events_command", required=True)
    p = ev.add_parser("serve", help="receive events (METAFLOW_ARGO_EVENTS_WEBHOOK_URL) and run the flows they trigger")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8787, help="port (default: %(default)s; 0: any free port)")
    p.add_argument("--branch", action="append", metavar="BRANCH", help=branch_help + "; repeat to serve several")
    p.set_defaults(func=_cmd_events_serve)

    p = sub.add_parser("trigger", help="run one flow locally as if its event had triggered it")
    p.add_argument("flow_file", metavar="FLOW_FILE")
    p.add_argument("--payload", metavar="JSON", help="the event payload (a JSON object)")
    p.add_argument("--value", metavar="JSON", help="the sensor's value, sent under [sensor] payload_key")
    p.add_argument("--branch", metavar="BRANCH", help=branch_help)
    p.set_defaults(func=_cmd_trigger)

    p = sub.add_parser("sensor", help="look into SensorFlow: recent ticks, or what it would do now")
    sn = p.add_subparsers(dest="sensor_command", required=True)
    for name, func, text in (
        ("history", _cmd_sensor_history, "the sensor's recent ticks in a branch, newest first"),
        ("preview", _cmd_sensor_preview, "observe now and compare with the branch's state; runs no flow"),
    ):
        p = sn.add_parser(name, help=text)
        p.add_argument("--branch", metavar="BRANCH", help=branch_help)
        p.add_argument("--config", metavar="PATH", help="config file (default: $FLOWPROJECT_CONFIG or the nearest flowproject.toml)")
        p.add_argument("--json", action="store_true", help="print JSON")
        if name == "history":
            p.add_argument("-n", type=int, default=20, metavar="N", help="ticks to show (default: %(default)s)")
        p.set_defaults(func=func)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowproject", description=__doc__)
    parser.add_argument("--version", action="version", version="flowproject %s" % _version())
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
    how = p.add_mutually_exclusive_group()
    how.add_argument("--json", action="store_true", help="print the whole decision as a JSON object")
    how.add_argument("--flag", action="store_true", help="print the Metaflow option: --branch NAME or --production")
    p.set_defaults(func=_cmd_branch)

    p = sub.add_parser("deploy", help="deploy every flow to Argo Workflows (see ./deploy)")
    add_deploy_arguments(p)
    p.set_defaults(func=_cmd_deploy)

    p = sub.add_parser("init", help="set up flowproject in a git repository; never overwrites a file")
    p.add_argument("dir", nargs="?", default=".", help="the project folder (default: the current one)")
    p.add_argument("--project-name", metavar="NAME", help="the Metaflow project name (default: from pyproject.toml or the folder)")
    p.add_argument("--flowproject-spec", metavar="REQ", help="pip requirement the workflows install flowproject with (default: this version)")
    p.set_defaults(func=_cmd_init)

    p = sub.add_parser("new", help="write flows/NAME.flow.py, a BaseFlow following the team guide")
    p.add_argument("name", help="the flow's snake_case name (the class is its CamelCase)")
    p.add_argument("--dir", default=".", help="the project folder (default: the current one)")
    p.set_defaults(func=_cmd_new)

    p = sub.add_parser("pin", help="pin a flow's run in [getters.FLOW] run_id, or --check every pin")
    p.add_argument("flow", nargs="?", metavar="FLOW", help="the flow whose run to pin")
    p.add_argument("--branch", metavar="B", help="Metaflow branch whose latest successful run to pin (default: prod; any: whole project)")
    p.add_argument("--run", metavar="ID", help="pin this run id (must have succeeded) instead of the latest")
    p.add_argument("--check", action="store_true", help="exit 1, one line per bad pin, when a pin names a missing or unsuccessful run")
    p.add_argument("--config", metavar="PATH", help="config file (default: $FLOWPROJECT_CONFIG or the nearest flowproject.toml)")
    p.set_defaults(func=_cmd_pin)

    p = sub.add_parser("tag", help="add a user tag to a run (--move: take it off the flow's other runs)")
    p.add_argument("run", metavar="FLOW/RUN", help="the run, for example TrainFlow/1712345")
    p.add_argument("tag", metavar="TAG", help="the tag, for example champion")
    p.add_argument("--move", action="store_true", help="remove TAG from every other run of FLOW in the project")
    p.set_defaults(func=_cmd_tag)

    add_local_loop_parsers(sub)

    p = sub.add_parser("provenance", help="print the provenance tags ./deploy passes to argo-workflows create")
    p.add_argument("--branch", metavar="NAME", help="git branch (default: CI variables, then git)")
    p.add_argument("--flags", action="store_true", help="print them as --tag options to splice into a command")
    p.set_defaults(func=_cmd_provenance)
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


if __name__ == "__main__":
    sys.exit(main())
