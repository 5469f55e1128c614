"""The event chain on a laptop: receive Argo events locally and start the flows they trigger.

``flowproject events serve`` listens where ``METAFLOW_ARGO_EVENTS_WEBHOOK_URL`` points and
answers the request Metaflow's ``ArgoEvent.publish`` sends (``POST {"name", "payload"}``)
as an Argo Events webhook does. For each event of this project and a served branch it
starts, locally, every flow in ``flows/`` that the event would start once deployed
(``flowproject.events.triggers`` builds the command). ``flowproject trigger`` starts one flow the
same way, in the foreground.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, TextIO

from ..config import loader as _config
from ..errors import FlowprojectError
from . import triggers as _triggers

# Argo Events' webhook event source refuses bodies above 1 MB by default.
MAX_BODY_BYTES = 1024 * 1024
# How long to wait for a started run to announce its id before reporting it without one.
RUN_ID_WAIT_SECONDS = 120


# "2026-01-01 10:00:00.000 [123/start/1 (pid 42)] " before each line of a task's output.
_TASK_PREFIX = re.compile(r"^\S+ \S+ \[[^\]]+\] ?")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*")


class EventError(FlowprojectError):
    headline = "Local events"


def envelope(name: str, payload: Dict[str, Any]) -> Dict[str, Any]:
    """The payload as ``ArgoEvent.publish`` sends it: Metaflow's fields, then the caller's."""
    return {
        "name": name,
        "id": str(uuid.uuid4()),
        "timestamp": int(time.time()),
        "utc_date": datetime.now(timezone.utc).strftime("%Y%m%d"),
        "generated-by-metaflow": True,
        **payload,
    }


def current_user_branch() -> str:
    from metaflow.util import get_username

    return "user.%s" % get_username()


@dataclass
class StartedRun:
    flow: str
    branch: str
    process: subprocess.Popen
    log: Path
    run_id_file: Path
    run_id: Optional[str] = None

    @property
    def pathspec(self) -> str:
        return "%s/%s" % (self.flow, self.run_id or "?")

    def wait_for_id(self, timeout: float = RUN_ID_WAIT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run_id_file.is_file() and self.run_id_file.read_text().strip():
                self.run_id = self.run_id_file.read_text().strip()
                return
            if self.process.poll() is not None and not self.run_id_file.is_file():
                return
            time.sleep(0.05)

    def failure_line(self) -> str:
        """The exception a task raised (Metaflow's own last line only says a step failed)."""
        lines = [_TASK_PREFIX.sub("", line).strip() for line in self.log.read_text(errors="replace").splitlines()]
        lines = [line for line in lines if line]
        raised = [line for line in lines if _EXCEPTION_LINE.match(line)]
        return (raised or lines or ["no output"])[-1]


@dataclass
class Launcher:
    """Starts the runs events ask for and keeps track of them until they end."""

    root: Path
    project: str
    flows: List[_triggers.FlowTriggers]
    branches: Sequence[str]
    log_dir: Path
    out: TextIO = sys.stdout
    runs: List[StartedRun] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def say(self, line: str) -> None:
        with self._lock:
            print(line, file=self.out, flush=True)

    def start(self, target, sub, event_name: str, payload: Dict[str, Any], branch: str) -> StartedRun:
        cmd, extra = _triggers.launch_spec(target, sub, event_name, payload, branch)
        stamp = "%s-%s" % (target.flow, uuid.uuid4().hex[:8])
        id_file, log = self.log_dir / (stamp + ".run_id"), self.log_dir / (stamp + ".log")
        env = {k: v for k, v in os.environ.items() if not k.startswith(_triggers.PAYLOAD_ENV_PREFIX)}
        env.update(extra)
        with open(log, "wb") as log_f:
            # Its own session: the Ctrl-C that stops the server does not kill the run.
            proc = subprocess.Popen(
                cmd + ["--run-id-file", str(id_file)],
                cwd=str(self.root),
                env=env,
                stdout=log_f,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        run = StartedRun(target.flow, branch, proc, log, id_file)
        with self._lock:
            self.runs.append(run)
        threading.Thread(target=self._watch, args=(run,), daemon=True).start()
        return run

    def _watch(self, run: StartedRun) -> None:
        code = run.process.wait()
        if run.run_id is None:
            run.wait_for_id(timeout=1)
        if code == 0:
            self.say("  %s finished" % run.pathspec)
        else:
            self.say("  %s FAILED (exit %d): %s (log: %s)" % (run.pathspec, code, run.failure_line(), run.log))

    def handle(self, event_name: str, payload: Dict[str, Any]) -> List[StartedRun]:
        """Start every flow ``event_name`` triggers in a served branch; print one line."""
        matches = _triggers.triggered_by(event_name, self.project, self.flows)
        served = [m for m in matches if m[2] == "" or m[2] in self.branches]
        if not matches:
            self.say("%s: no flow in flows/ listens to it" % event_name)
            return []
        if not served:
            self.say(
                "%s: ignored, branch %s is not served here (serving %s)"
                % (event_name, matches[0][2], ", ".join(self.branches))
            )
            return []
        started = [self.start(t, s, event_name, payload, b or self.branches[0]) for t, s, b in served]
        for run in started:
            run.wait_for_id()
        self.say("%s: started %s" % (event_name, ", ".join(r.pathspec for r in started)))
        return started

    def handle_safely(self, event_name: str, payload: Dict[str, Any]) -> None:
        # In a worker thread: a failure to start a run is this event's line, not a traceback.
        try:
            self.handle(event_name, payload)
        except (OSError, FlowprojectError) as e:
            self.say("%s: could not start its flows: %s" % (event_name, e))

    def running(self) -> List[StartedRun]:
        with self._lock:
            return [r for r in self.runs if r.process.poll() is None]


def _handler_class(launcher: Launcher, workers: List[threading.Thread]):
    class Handler(BaseHTTPRequestHandler):
        server_version = "flowproject-events"

        def _answer(self, status: HTTPStatus, message: str = "") -> None:
            body = (message or status.phrase).encode("utf-8") + b"\n"
            self.send_response(status)
            if status == HTTPStatus.METHOD_NOT_ALLOWED:
                self.send_header("Allow", "POST")
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                return self._answer(HTTPStatus.LENGTH_REQUIRED)
            if length > MAX_BODY_BYTES:
                return self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                launcher.say("rejected a request: the body is not JSON")
                return self._answer(HTTPStatus.BAD_REQUEST, "body is not JSON")
            name = body.get("name") if isinstance(body, dict) else None
            payload = body.get("payload", {}) if isinstance(body, dict) else None
            if not isinstance(name, str) or not name or not isinstance(payload, dict):
                launcher.say('rejected a request: expected {"name": str, "payload": object}')
                return self._answer(HTTPStatus.BAD_REQUEST, 'expected {"name": str, "payload": object}')
            # Metaflow's Argo Sensor matches on the payload's `name` (ArgoEvent copies the
            # event name there); a hand-written event without one is matched on its name.
            if isinstance(payload.get("name"), str):
                name = payload["name"]
            # Like a webhook, accept first and start the flows after: the publisher must
            # not wait for them.
            self._answer(HTTPStatus.OK)
            worker = threading.Thread(target=launcher.handle_safely, args=(name, payload), daemon=True)
            workers.append(worker)
            worker.start()

        def _refuse(self) -> None:
            self._answer(HTTPStatus.METHOD_NOT_ALLOWED)

        do_GET = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass  # one line per event is printed by the launcher instead

    return Handler


def serve(
    root: Optional[Path] = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    branches: Sequence[str] = (),
    out: TextIO = sys.stdout,
) -> int:
    """Receive events until SIGINT/SIGTERM, then wait for the runs started (Ctrl-C again: report them)."""
    cfg_path = _config.locate(root)
    root = cfg_path.parent
    cfg, flows = _triggers.project_flows(root)
    served = list(branches) or [current_user_branch()]
    for b in served:
        _triggers.branch_flags(b)  # refuse a malformed branch before listening
    log_dir = Path(tempfile.mkdtemp(prefix="flowproject-events-"))
    launcher = Launcher(root, cfg["project_name"], flows, served, log_dir, out)
    workers: List[threading.Thread] = []
    try:
        server = ThreadingHTTPServer((host, port), _handler_class(launcher, workers))
    except OSError as e:
        raise EventError(msg="cannot listen on %s:%d: %s" % (host, port, e.strerror)) from None
    url = "http://%s:%d/" % (host, server.server_address[1])
    for t in flows:
        if t.problem:
            launcher.say("warning: %s" % t.problem)
        for sub in t.subscriptions:
            launcher.say("%s listens to %s" % (t.flow, sub.resolve(cfg["project_name"], "<branch>")))
    launcher.say(
        "serving %s (project %s, branches %s); runs log to %s" % (url, cfg["project_name"], ", ".join(served), log_dir)
    )
    launcher.say("export METAFLOW_ARGO_EVENTS_WEBHOOK_URL=%s" % url)
    # SIGTERM stops the server the way Ctrl-C does; SIGINT may arrive ignored (a
    # background job of a non-interactive shell), and Ctrl-C must still stop it.
    previous = {s: signal.signal(s, signal.default_int_handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    try:
        for w in workers:
            w.join()
        pending = launcher.running()
        if pending:
            launcher.say(
                "stopping: waiting for %s (Ctrl-C again to stop waiting)" % ", ".join(r.pathspec for r in pending)
            )
        for run in pending:
            run.process.wait()
        time.sleep(0.1)  # let the watchers print their last lines
    except KeyboardInterrupt:
        for run in launcher.running():
            launcher.say("still running: %s (pid %d, log %s)" % (run.pathspec, run.process.pid, run.log))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    launcher.say("stopped")
    return 0


NO_VALUE = object()


def trigger(
    flow_file: Path,
    payload: Optional[Dict[str, Any]] = None,
    *,
    value: Any = NO_VALUE,
    branch: Optional[str] = None,
) -> int:
    """Run ``flow_file`` in the foreground as if its (first) event had started it.

    ``payload`` is the event's payload without Metaflow's own fields (they are added);
    ``value`` is put under ``[sensor] payload_key``, as SensorFlow sends it. ``branch``
    is a Metaflow project branch (default: your ``user.<name>``). Returns the exit code.
    """
    flow_file = Path(flow_file).resolve()
    if not flow_file.is_file():
        raise EventError(msg="no such flow file: %s" % flow_file)
    cfg_path = _config.locate(flow_file)
    cfg = _config.load(cfg_path)
    target = _triggers.read_triggers(flow_file, cfg["sensor"]["event_name"])
    if not target.subscriptions:
        raise EventError(
            msg="%s: %s"
            % (
                _config.display_path(flow_file),
                target.problem or "%s has no @trigger or @on_sensor_event" % target.flow,
            )
        )
    sub = target.subscriptions[0]
    payload = dict(payload or {})
    if value is not NO_VALUE:
        payload[cfg["sensor"]["payload_key"]] = value
    run_branch = branch or current_user_branch()
    _triggers.branch_flags(run_branch)
    event_name = sub.resolve(cfg["project_name"], run_branch)
    cmd, extra = _triggers.launch_spec(target, sub, event_name, envelope(event_name, payload), run_branch)
    env = {k: v for k, v in os.environ.items() if not k.startswith(_triggers.PAYLOAD_ENV_PREFIX)}
    env.update(extra)
    print(
        "%s: running %s as if %s had triggered it" % (_config.display_path(flow_file), target.flow, event_name),
        flush=True,
    )
    return subprocess.call(cmd, cwd=str(cfg_path.parent), env=env)
