"""Starting the runs that local events ask for, and following them until they end.

Which runs an event starts is decided by Argo's rules (``flowproject.events.rules``): a
multi-event ``@trigger`` waits for all its events, ``@trigger_on_finish`` flows start when
an upstream run in a served branch ends successfully.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, TextIO, Tuple

from ..errors import FlowprojectError
from ..getters import payloads as _payloads
from . import rules as _rules
from . import triggers as _triggers
from .started import StartedRun

# How many events may wait for a free run slot before the server answers 503.
MAX_WAITING_EVENTS = 64


def _took_part(start: _rules.Start) -> str:
    """ " (after a, b)" when several events or runs made the start, as the run's current.trigger lists them."""
    if len(start.events) < 2:
        return ""
    names = [
        "%s/%s" % (e.payload.get("flow_name"), e.payload.get("run_id")) if e.kind == "run" else e.name
        for e in start.events
    ]
    return " (after %s)" % ", ".join(names)


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
        # Argo's dependency state per flow and branch (flowproject.events.rules).
        self.book = _rules.TriggerBook(self.project, self.flows, branches=list(self.branches))

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

    def start(self, start: _rules.Start) -> StartedRun:
        cmd, extra = start.launch()
        target, branch = start.target, start.branch
        # At most max_runs flows at once; later events wait here, in their own thread.
        self._slots.acquire()
        stamp = "%s-%s" % (target.flow, uuid.uuid4().hex[:8])
        id_file, log = self.log_dir / (stamp + ".run_id"), self.log_dir / (stamp + ".log")
        env = {k: v for k, v in os.environ.items() if not k.startswith(_triggers.PAYLOAD_ENV_PREFIX)}
        env.update(extra)
        # Payloads go in files beside the log: one env variable holds at most 128 KiB.
        env = _payloads.spill(env, self.log_dir / (stamp + ".payloads"))
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
        """Start every flow ``event_name`` completes in a served branch; print one line."""
        matches = self.choose(event_name)
        if not matches:
            self.say("%s: no flow in flows/ listens to it" % event_name)
            return []
        with self._lock:
            starts = self.book.offer(event_name, payload, branch=self.branches[0])
            holding = self.holding(event_name)
        if not starts and not holding:
            self.say(
                "%s: ignored, branch %s is not served here (serving %s)"
                % (event_name, matches[0][2] or "?", ", ".join(self.branches))
            )
            return []
        return self.launch(event_name, starts, holding)

    def holding(self, event_name: str) -> List[str]:
        """ "<Flow> waits for <the rest>" for each flow that keeps ``event_name`` until its other events come."""
        lines = []
        for t in self.book.flows:
            for b in self.branches:
                held = self.book.waiting(t.flow, b)
                if event_name not in held:
                    continue
                # Full names, as the Sensor's dependencies match them (and as they are posted).
                missing = [n for n in (s.resolve(self.project, b) for s in t.subscriptions) if n not in held]
                where = " in %s" % b if len(self.branches) > 1 else ""
                lines.append("%s%s waits for %s" % (t.flow, where, ", ".join(missing)))
        return lines

    def launch(self, what: str, starts: List[_rules.Start], holding: Sequence[str] = ()) -> List[StartedRun]:
        """Start the runs, then one line: what happened, what started (or "held") and what still waits."""
        started = [self.start(st) for st in starts]
        for run in started:
            run.wait_for_id()
        done = ", ".join(r.pathspec + _took_part(st) for r, st in zip(started, starts))
        self.say("%s: %s" % (what, "; ".join(["started " + done if started else "held", *holding])))
        return started

    def finish_watcher(self) -> Optional[_rules.FinishWatcher]:
        """The watcher of the upstream flows' runs (None without @trigger_on_finish flows).

        Made before the server says it serves: a run that finishes after that line counts.
        """
        upstream = self.book.upstream_flows()
        return _rules.FinishWatcher(self.project, upstream) if upstream else None

    def watch_finishes(
        self, stop: threading.Event, watcher: Optional[_rules.FinishWatcher] = None, every: float = 1.0
    ) -> None:
        """Start @trigger_on_finish flows when an upstream run in a served branch ends well.

        Polls Metaflow's metadata, so runs started anywhere (not only here) count, as a
        deployed Sensor hears every finish event Metaflow publishes.
        """
        if not self.book.upstream_flows():
            return
        while not stop.wait(every):
            try:
                watcher = watcher or _rules.FinishWatcher(self.project, self.book.upstream_flows())
                finished = watcher.poll()
            except Exception as e:  # noqa: BLE001 - a metadata hiccup is one line, the loop goes on
                self.say("warning: cannot read finished runs: %s" % e)
                continue
            for flow, run_id, branch, successful, task_id in finished:
                if branch not in self.branches:
                    continue  # the metadata (a shared service) holds everyone's runs
                what = "%s/%s" % (flow, run_id)
                if not successful:
                    # Metaflow publishes the finish event only after a successful end step.
                    self.say("%s failed: starts no @trigger_on_finish flow" % what)
                    continue
                with self._lock:
                    starts = self.book.finished(flow, run_id, branch, True, task_id)
                    holding = self.holding(_rules.finish_payload(self.project, branch, flow, run_id)["name"])
                if starts or holding:
                    self.launch("%s finished" % what, starts, holding)

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
