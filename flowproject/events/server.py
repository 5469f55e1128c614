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
import signal
import socket
import sys
import tempfile
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, List, Optional, Sequence, TextIO

from ..config import loader as _config
from ..errors import FlowprojectError
from . import guard as _guard
from . import triggers as _triggers
from .launcher import Launcher, current_user_branch

# Seconds a client may take to send its request: a half-sent one cannot hold a thread.
SOCKET_TIMEOUT_SECONDS = 5
# A refused request's unread body is drained for at most this long / this much (_linger).
LINGER_SECONDS = 1.0
LINGER_BYTES = 4 * 1024 * 1024


class EventError(FlowprojectError):
    headline = "Local events"


def _linger(conn: socket.socket) -> None:
    """Refused before its body was read: drop what the client still sends, for a moment.

    Closing at once, with its body unread, resets the connection, and a client still
    sending (a body over the limit) gets a broken pipe instead of our answer. This is
    the "lingering close" of HTTP servers, bounded in bytes and time.
    """
    deadline, left = time.monotonic() + LINGER_SECONDS, LINGER_BYTES
    try:
        conn.shutdown(socket.SHUT_WR)  # the answer is sent; the client reads it while we drain
        while left > 0 and time.monotonic() < deadline:
            conn.settimeout(max(deadline - time.monotonic(), 0.01))
            chunk = conn.recv(min(left, 65536))
            if not chunk:
                return
            left -= len(chunk)
    except OSError:
        return  # the client went away or the time is up: nothing left to tell it


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
            raw = None
            try:
                _guard.check_path(self.path, token)
                length = _guard.check_headers(self.headers, hosts)
                raw = self.rfile.read(length)
                if len(raw) < length:
                    raise _guard.Refused(HTTPStatus.BAD_REQUEST, "body shorter than Content-Length")
                name, payload, event_id = _guard.parse_event(raw)
            except _guard.Refused as e:
                launcher.say("rejected a request: %s (%d)" % (e.message, e.status))
                self._answer(e.status, e.message)
                if raw is None:
                    _linger(self.connection)
                return None
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
    watcher, not_yet = None, None
    try:
        watcher = launcher.finish_watcher()
    except Exception as e:  # noqa: BLE001 - the watcher retries on its own; serving events goes on
        not_yet = "warning: cannot read finished runs yet: %s" % e
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
    if not_yet:
        launcher.say(not_yet)
    for t in flows:
        if t.problem:
            launcher.say("warning: %s" % t.problem)
        for sub in t.subscriptions:
            launcher.say("%s listens to %s" % (t.flow, sub.resolve(cfg["project_name"], "<branch>")))
    # SIGTERM stops the server the way Ctrl-C does; SIGINT may arrive ignored (a
    # background job of a non-interactive shell), and Ctrl-C must still stop it.
    previous = {s: signal.signal(s, signal.default_int_handler) for s in (signal.SIGINT, signal.SIGTERM)}
    stop = threading.Event()
    watching = threading.Thread(target=launcher.watch_finishes, args=(stop, watcher), daemon=True)
    watching.start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
    try:
        # A finish noticed just before the stop may still be starting its downstream run.
        for w in [watching, *workers]:
            w.join()
        pending = launcher.running()
        if pending:
            # The finish watcher has stopped with the server: say that chains end here.
            chains = "; their @trigger_on_finish flows will not start" if launcher.book.upstream_flows() else ""
            launcher.say(
                "stopping: waiting for %s (Ctrl-C again to stop waiting)%s"
                % (", ".join(r.pathspec for r in pending), chains)
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
