"""``flowproject trigger``: run one flow in the foreground as if its event had started it."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Optional

from ..config import loader as _config
from ..getters import payloads as _payloads
from . import triggers as _triggers
from .launcher import current_user_branch
from .server import EventError


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
    events = [s for s in target.subscriptions if s.kind == "event"]
    if not events:
        upstream = [s.name for s in target.subscriptions]  # @trigger_on_finish: no event to fake
        why = (
            "%s starts when %s %s: run %s while `flowproject events serve` runs"
            % (
                target.flow,
                " and ".join(upstream),
                "finish" if len(upstream) > 1 else "finishes",
                "them" if len(upstream) > 1 else "it",
            )
            if upstream
            else target.problem or "%s has no @trigger or @on_sensor_event" % target.flow
        )
        raise EventError(msg="%s: %s" % (_config.display_path(flow_file), why))
    sub = events[0]
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
    # The payload in a file, not in the environment (one variable holds at most 128 KiB).
    with tempfile.TemporaryDirectory(prefix="flowproject-trigger-") as tmp:
        return subprocess.call(cmd, cwd=str(cfg_path.parent), env=_payloads.spill(env, Path(tmp)))
