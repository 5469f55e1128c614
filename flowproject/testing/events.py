"""``events`` and ``sensor_tick``: the event chain of a project, run locally by Argo's rules.

``events`` records what the test's runs publish (a webhook on 127.0.0.1 wired in through
``METAFLOW_ARGO_EVENTS_WEBHOOK_URL``) and plays the Argo Sensors: ``deliver`` offers an
event to a :class:`~flowproject.events.rules.TriggerBook` of the project's flows, runs
every flow it starts, then follows the chain (events those runs publish,
``@trigger_on_finish`` of their finish) until nothing more starts.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

from ..getters.payloads import spill
from .env import FlowprojectEnv
from .runs import FlowRunFailed, flow_path, run_flow, run_with_flags

# A chain longer than this is a loop (a flow that triggers itself), not a test.
MAX_CHAIN_RUNS = 50


class Recorder:
    """A webhook that keeps every ``{"name", "payload"}`` it accepts.

    It answers ``status`` (200; set another code to make publishing fail, as a broken
    Argo Events webhook would) and records only what it answers 200 to.
    """

    def __init__(self) -> None:
        recorder = self
        self.received: List[Dict[str, Any]] = []
        self.status = 200
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                # ``status`` is read twice per request, to record and to answer (a test's
                # receiver may decide per request on the first read).
                if recorder.status == 200:
                    try:
                        event = json.loads(body)
                    except ValueError:
                        self.send_response(400)
                        self.end_headers()
                        return
                    with recorder._lock:
                        recorder.received.append(event)
                self.send_response(recorder.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass  # the test reads events.published instead

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/" % self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class EventsKit:
    """The ``events`` fixture: ``published``, ``deliver``, ``finish``."""

    def __init__(self, env: FlowprojectEnv) -> None:
        from ..events import rules, triggers

        self.env = env
        self.recorder = Recorder()
        env.env["METAFLOW_ARGO_EVENTS_WEBHOOK_URL"] = self.recorder.url
        _, flows = triggers.project_flows(env.root)
        self.book = rules.TriggerBook(env.project, flows)
        self._offered = 0  # published events already offered to the book

    @property
    def published(self) -> List[Dict[str, Any]]:
        """Every event the test's runs sent, in order: ``{"name", "payload"}``."""
        return list(self.recorder.received)

    def full_name(self, name: str, branch: Optional[str] = None) -> str:
        """``name`` as a flow or ``[sensor] event_name`` writes it, namespaced in ``branch``."""
        if name.startswith(("mfns.", "metaflow.")):
            return name
        subs = [s for f in self.book.flows for s in f.subscriptions if s.kind == "event" and s.name == name]
        if subs and not any(s.namespaced for s in subs):
            return name  # a literal name in the flows: sent as it is
        return "mfns.%s.%s.%s" % (self.env.project, branch or self.env.branch, name)

    def deliver(
        self, name: str, payload: Optional[Mapping[str, Any]] = None, branch: Optional[str] = None
    ) -> List[Any]:
        """Offer one event as Argo would; run what it starts (and what those start).

        Returns the finished Client ``Run``s in the order they ran; ``[]`` when every
        flow listening still waits for other events.
        """
        from ..events.webhook import event_body

        branch = _branch_name(branch) if branch else self.env.branch
        full = self.full_name(name, branch)
        body = event_body(full, dict(payload or {}))["payload"]
        self._offered = len(self.recorder.received)  # earlier events were the test's to read
        return self._run_all(self.book.offer(full, body, branch=branch))

    def finish(self, run: Any) -> List[Any]:
        """``run`` (a Client Run) finished: run the ``@trigger_on_finish`` flows it starts."""
        branch = next((t.split(":", 1)[1] for t in run.system_tags if t.startswith("project_branch:")), self.env.branch)
        end = run.end_task
        starts = self.book.finished(run.parent.id, run.id, branch, bool(run.successful), end.id if end else "0")
        return self._run_all(starts)

    def _run_all(self, starts: List[Any]) -> List[Any]:
        done: List[Any] = []
        queue = list(starts)
        while queue:
            if len(done) >= MAX_CHAIN_RUNS:
                raise FlowRunFailed("more than %d runs from one event: a flow triggers itself?" % MAX_CHAIN_RUNS)
            start = queue.pop(0)
            cmd, extra = start.launch()
            flags = cmd[cmd.index(str(start.target.file)) + 1 : -1]
            # Payloads in files, as `flowproject events serve` hands them to its runs.
            extra = spill(extra, self.env.tmp / "payloads" / uuid.uuid4().hex)
            run = run_with_flags(self.env, Path(start.target.file), flags, extra)
            done.append(run)
            queue += self.book.finished(start.flow, run.id, start.branch, True, run.end_task.id)
            for event in self.recorder.received[self._offered :]:
                self._offered += 1
                body = event.get("payload") or {}
                queue += self.book.offer(body.get("name") or event.get("name", ""), body, branch=start.branch)
        return done

    def close(self) -> None:
        self.recorder.close()


def _branch_name(branch: str) -> str:
    """``"x"`` (a ``--branch`` name) -> ``test.x``; full names pass as they are."""
    return branch if branch == "prod" or branch.startswith(("test.", "user.")) else "test.%s" % branch


@dataclass
class SensorTick:
    """One SensorFlow run: ``run``, whether it saw a change, the value, what it published."""

    run: Any
    changed: bool
    value: Any
    published: List[Dict[str, Any]] = field(default_factory=list)


def _write_data(env: FlowprojectEnv, files: Mapping[str, Union[str, bytes]]) -> None:
    """Write ``files`` into a copy of the ``[data]`` folder in the test's own folder.

    The project's folder is never changed: the runs read a copy of flowproject.toml
    (``FLOWPROJECT_CONFIG``) whose ``[data] path`` is that copy.
    """
    import shutil

    import tomlkit

    data = env.cfg["data"]
    if data["type"] != "local":
        raise FlowRunFailed('sensor_tick data=/previous=: only for [data] type = "local"; put objects yourself')
    folder = env.tmp / "data"
    config = env.tmp / "flowproject.toml"
    if not config.exists():
        source = (env.root / data["path"]).resolve()
        if source.is_file():
            raise FlowRunFailed("sensor_tick data=: [data] path %s is a file, not a folder" % data["path"])
        if source.is_dir():
            shutil.copytree(source, folder)
        folder.mkdir(parents=True, exist_ok=True)
        doc = tomlkit.parse((env.root / "flowproject.toml").read_text(encoding="utf-8"))
        doc["data"]["path"] = str(folder)
        config.write_text(tomlkit.dumps(doc), encoding="utf-8")
        env.env["FLOWPROJECT_CONFIG"] = str(config)
    for name, content in files.items():
        target = (folder / name).resolve()
        if folder.resolve() not in target.parents:
            raise FlowRunFailed("sensor_tick data=: %r is not a file name inside [data] path" % name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")


def sensor_tick(
    env: FlowprojectEnv,
    events: EventsKit,
    data: Optional[Mapping[str, Union[str, bytes]]] = None,
    previous: Optional[Mapping[str, Union[str, bytes]]] = None,
    branch: Optional[str] = None,
    path: Union[str, Path] = "flows/sensor.flow.py",
) -> SensorTick:
    """One SensorFlow tick. It compares with the last successful tick of its branch in this
    test: none at first, the previous ``sensor_tick`` after. ``previous`` (files of a local
    ``[data]`` folder) makes that state first with a tick of its own; ``data`` writes the
    files the tick then sees."""
    flow_path(env, path)
    if previous is not None:
        _write_data(env, previous)
        sensor_tick(env, events, branch=branch, path=path)
    if data is not None:
        _write_data(env, data)
    before = len(events.recorder.received)
    run = run_flow(env, path, branch=branch)
    sent = events.recorder.received[before:]
    return SensorTick(run, bool(run.data.changed), run.data.value, list(sent))
