"""``flowproject sensor preview``: what the sensor would conclude now, without a run.

It observes ``[data]`` in this process and compares the fingerprint with the branch's
state: the run whose value is the branch's current state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from ..config import loader as _config
from ..events.publishing import SENSOR_FLOW
from ..events.triggers import Subscription
from ..sources import observe
from .decide import branch_state, decide


@dataclass(frozen=True)
class Preview:
    would_publish: bool
    message: str
    event_name: Optional[str]
    summary: str
    fingerprint: str
    state_run: Optional[str]
    state_fingerprint: Optional[str]
    # [sensor] emit = "items": the pending items (each as in a payload) and their number.
    count: Optional[int] = None
    items: Optional[List[Dict[str, Any]]] = None

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def preview(branch: str, config_path: Union[str, Path, None] = None, flow_name: str = SENSOR_FLOW) -> Preview:
    """Observe now and compare with ``branch``'s state (a Metaflow branch: ``user.x``, ``test.x``, ``prod``)."""
    path = Path(config_path) if config_path else _config.locate()
    cfg = _config.load(path)
    state = branch_state(flow_name, cfg["project_name"], branch)
    logical = cfg["sensor"]["event_name"]
    name = Subscription(logical, namespaced=True).resolve(cfg["project_name"], branch) if logical else None
    if cfg["sensor"]["emit"] == "items":
        from .items_preview import items_preview

        return Preview(**items_preview(cfg, path, branch, flow_name, name, state))
    obs = observe(cfg["data"], project_dir=path.resolve().parent)
    # The same decision a tick makes, against the same state: only the run is missing.
    decision = decide(obs, previous=state, sensor=cfg["sensor"], event_name=name, run_pathspec="(preview)")
    due = decision.event["due"]
    if due:
        since = "since %s" % state.pathspec if state is not None else "first run of %s" % branch
        message = "would publish %s with %s (%s)" % (name, obs.summary, since)
    elif decision.changed:
        message = "changed (%s), but nothing would be published: %s" % (obs.summary, decision.event.get("reason"))
    else:
        assert state is not None  # unchanged implies a state to compare with
        message = "no change since %s" % state.pathspec
    return Preview(
        due, message, name, obs.summary, obs.fingerprint, decision.previous_run, decision.previous_fingerprint
    )
