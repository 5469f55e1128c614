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
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, TextIO, Tuple

from ..config import loader as _config
from ..errors import FlowprojectError
from . import guard as _guard
from . import triggers as _triggers
from .started import StartedRun

# How many events may wait for a free run slot before the server answers 503.
MAX_WAITING_EVENTS = 64
# Seconds a client may take to send its request: a half-sent one cannot hold a thread.
SOCKET_TIMEOUT_SECONDS = 5
# How long to wait for a started run to announce its id before reporting it without one.
RUN_ID_WAIT_SECONDS = 120


class EventError(FlowprojectError):
    headline = "Local events"


def current_user_branch() -> str:
    from metaflow.util import get_username

    return "user.%s" % get_username()


@dataclass
class Launcher:
    """Starts the runs events ask for and keeps track of them until they end."""

    root: Path
    project: str
    flows: List[_triggers.FlowTriggers]
    branches: Sequence[str]
    log_dir: Path
    out: TextIO = sys.stdout
    max_runs: int = 4
    runs: List[StartedRun] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Event ids already accepted (bounded): a retried or replayed event starts nothing twice.
    _seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    _waiting: int = 0

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.max_runs)

    def admit(self, event_id: Optional[str]) -> str:
        """ "new", "duplicate" or "full" (too many events already wait for a run slot)."""
        with self._lock:
            if event_id is not None and event_id in self._seen:
                return "duplicate"
            if self._waiting >= MAX_WAITING_EVENTS:
                return "full"
            self._waiting += 1
            if event_id is not None:
                self._seen[event_id] = None
                while len(self._seen) > 10000:
                    self._seen.popitem(last=False)
            return "new"

    def say(self, line: str) -> None:
        with self._lock:
            print(line, file=self.out, flush=True)

    def start(self, target, sub, event_name: str, payload: Dict[str, Any], branch: str) -> StartedRun:
        cmd, extra = _triggers.launch_spec(target, sub, event_name, payload, branch)
        # At most max_runs flows at once; later events wait here, in their own thread.
        self._slots.acquire()
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
        self._slots.release()
        if run.run_id is None:
            run.wait_for_id(timeout=1)
        if code == 0:
            self.say("  %s finished" % run.pathspec)
        else:
            self.say("  %s FAILED (exit %d): %s (log: %s)" % (run.pathspec, code, run.failure_line(), run.log))

    def handle(self, event_name: str, payload: Dict[str, Any]) -> List[StartedRun]:
        """Start every flow ``event_name`` triggers in a served branch; print one line."""
        matches = self.choose(event_name)
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
        except (OSError, ValueError, FlowprojectError) as e:
            self.say("%s: could not start its flows: %s" % (event_name, e))
        finally:
            with self._lock:
                self._waiting -= 1

    def choose(self, event_name: str) -> List[Tuple[_triggers.FlowTriggers, _triggers.Subscription, str]]:
        """The one place that decides which flows an event starts (Argo's rules)."""
        return _triggers.triggered_by(event_name, self.project, self.flows)

    def running(self) -> List[StartedRun]:
        with self._lock:
            return [r for r in self.runs if r.process.poll() is None]


def _handler_class(launcher: Launcher, workers: List[threading.Thread], token: str, hosts: Optional[frozenset]):
    class Handler(BaseHTTPRequestHandler):
        server_version = "flowproject-events"
        timeout = SOCKET_TIMEOUT_SECONDS  # socket timeout per request (StreamRequestHandler)

        def _answer(self, status: HTTPStatus, message: Any = "") -> None:
            if isinstance(message, dict):
                body, ctype = json.dumps(message).encode("utf-8") + b"\n", "application/json"
            else:
                body, ctype = (message or status.phrase).encode("utf-8") + b"\n", "text/plain; charset=utf-8"
            self.send_response(status)
            if status == HTTPStatus.METHOD_NOT_ALLOWED:
                self.send_header("Allow", "POST")
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            if status >= 400:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            try:
                _guard.check_path(self.path, token)
                length = _guard.check_headers(self.headers, hosts)
                raw = self.rfile.read(length)
                if len(raw) < length:
                    raise _guard.Refused(HTTPStatus.BAD_REQUEST, "body shorter than Content-Length")
                name, payload, event_id = _guard.parse_event(raw)
            except _guard.Refused as e:
                launcher.say("rejected a request: %s (%d)" % (e.message, e.status))
                return self._answer(e.status, e.message)
            except TimeoutError:
                self.close_connection = True
                return None
            flows = [t.flow for t, _, _ in self._choose(name)]
            verdict = launcher.admit(event_id)
            if verdict == "full":
                return self._answer(HTTPStatus.SERVICE_UNAVAILABLE, "too many events waiting; retry later")
            answer = {"name": name, "id": event_id, "duplicate": verdict == "duplicate", "flows": flows}
            if verdict == "duplicate":
                launcher.say("%s: event id %s already received, nothing started" % (name, event_id))
                return self._answer(HTTPStatus.OK, dict(answer, flows=[]))
            # Like a webhook, accept first and start the flows after: the publisher must
            # not wait for them.
            self._answer(HTTPStatus.OK, answer)
            worker = threading.Thread(target=launcher.handle_safely, args=(name, payload), daemon=True)
            workers.append(worker)
            worker.start()

        def _choose(self, name: str):
            return launcher.choose(name)

        def _refuse(self) -> None:
            self._answer(HTTPStatus.METHOD_NOT_ALLOWED)

        do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_TRACE = _refuse  # noqa: N815

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
    expose: bool = False,
    max_runs: int = 4,
) -> int:
    """Receive events until SIGINT/SIGTERM, then wait for the runs started (Ctrl-C again: report them)."""
    cfg_path = _config.locate(root)
    root = cfg_path.parent
    cfg, flows = _triggers.project_flows(root)
    served = list(branches) or [current_user_branch()]
    for b in served:
        _triggers.branch_flags(b)  # refuse a malformed branch before listening
    log_dir = Path(tempfile.mkdtemp(prefix="flowproject-events-"))
    loopback = _guard.is_loopback(host)
    if not loopback and not expose:
        raise EventError(msg="--host %s: not a loopback address; add --expose to accept events from the network" % host)
    launcher = Launcher(root, cfg["project_name"], flows, served, log_dir, out, max_runs=max_runs)
    workers: List[threading.Thread] = []
    token = _guard.new_token()
    try:
        server = ThreadingHTTPServer((host, port), _handler_class(launcher, workers, token, None))
    except OSError as e:
        raise EventError(msg="cannot listen on %s:%d: %s" % (host, port, e.strerror)) from None
    bound = server.server_address[1]
    # Exposed, the Host is whatever name others use for this machine: the token alone guards it.
    hosts = _guard.allowed_hosts(host, bound) if loopback else None
    server.RequestHandlerClass = _handler_class(launcher, workers, token, hosts)
    server.daemon_threads = True
    url = "http://%s:%d/%s/" % ("[%s]" % host if ":" in host else host, bound, token)
    # First line, as Jupyter prints its URL: whoever reads it (and only they) can post events.
    launcher.say("serving %s" % url)
    if not loopback:
        launcher.say(
            "warning: --expose: anyone who can reach %s:%d and has this URL can start the flows of %s on this machine"
            % (host, bound, cfg["project_name"])
        )
    launcher.say(
        "project %s, branches %s; at most %d runs at once; runs log to %s"
        % (cfg["project_name"], ", ".join(served), max_runs, log_dir)
    )
    launcher.say("export METAFLOW_ARGO_EVENTS_WEBHOOK_URL=%s" % url)
    for t in flows:
        if t.problem:
            launcher.say("warning: %s" % t.problem)
        for sub in t.subscriptions:
            launcher.say("%s listens to %s" % (t.flow, sub.resolve(cfg["project_name"], "<branch>")))
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
