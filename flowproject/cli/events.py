"""``flowproject events serve`` and ``flowproject trigger``: the local event loop."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import FlowprojectError
from .common import BRANCH_HELP, json_arg


def _cmd_events_serve(args: argparse.Namespace) -> int:
    from ..events.server import serve

    return serve(host=args.host, port=args.port, branches=args.branch or (), expose=args.expose, max_runs=args.max_runs)


def _cmd_trigger(args: argparse.Namespace) -> int:
    from ..events.manual import NO_VALUE, trigger

    payload = json_arg(args.payload, "--payload") if args.payload is not None else {}
    if not isinstance(payload, dict):
        raise FlowprojectError(msg="--payload: expected a JSON object, got %r" % args.payload[:80])
    value = json_arg(args.value, "--value") if args.value is not None else NO_VALUE
    return trigger(Path(args.flow_file), payload, value=value, branch=args.branch)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError("expected a port number from 0 to 65535, got %r" % text[:40])
    return int(text)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("expected a positive integer, got %r" % text[:40])
    return int(text)


def register(sub) -> None:
    p = sub.add_parser("events", help="local Argo Events stand-in: start the flows events trigger")
    ev = p.add_subparsers(dest="events_command", required=True)
    p = ev.add_parser("serve", help="receive events (METAFLOW_ARGO_EVENTS_WEBHOOK_URL) and run the flows they trigger")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=_port, default=8787, help="port (default: %(default)s; 0: any free port)")
    p.add_argument(
        "--expose", action="store_true", help="allow a non-loopback --host (anyone with the printed URL can post)"
    )
    p.add_argument(
        "--max-runs",
        type=_positive,
        default=4,
        metavar="N",
        help="flows running at once; later events wait (default: %(default)s)",
    )
    p.add_argument("--branch", action="append", metavar="BRANCH", help=BRANCH_HELP + "; repeat to serve several")
    p.set_defaults(func=_cmd_events_serve)

    p = sub.add_parser("trigger", help="run one flow locally as if its event had triggered it")
    p.add_argument("flow_file", metavar="FLOW_FILE")
    p.add_argument("--payload", metavar="JSON", help="the event payload (a JSON object; @FILE or @- to read it)")
    p.add_argument(
        "--value", metavar="JSON", help="the sensor's value, sent under [sensor] payload_key (@FILE or @- to read it)"
    )
    p.add_argument("--branch", metavar="BRANCH", help=BRANCH_HELP)
    p.set_defaults(func=_cmd_trigger)
