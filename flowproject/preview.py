"""``flowproject sensor preview``: what the sensor would conclude now, without a run.

It observes ``[data]`` in this process and compares the fingerprint with the branch's
state: the run whose value is the branch's current state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Optional, Union

from . import config as _config
from .events import SENSOR_FLOW
from .sources import observe
from .triggers import Subscription

if TYPE_CHECKING:  # pragma: no cover
    from metaflow import Run


def branch_state(flow_name: str, project: str, branch: str) -> Optional["Run"]:
    """The run whose value is the branch's current state.

    Stand-in until ``flowproject.sensor.branch_state`` exists: the last successful run.
    """
    try:
        from .sensor import branch_state as _state  # type: ignore[attr-defined]
    except ImportError:
        from .runs import latest_successful_run

        return latest_successful_run(flow_name, project=project, branch=branch, exclude_run_id=None)
    return _state(flow_name, project, branch)


@dataclass(frozen=True)
class Preview:
    would_publish: bool
    message: str
    event_name: Optional[str]
    summary: str
    fingerprint: str
    state_run: Optional[str]
    state_fingerprint: Optional[str]

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def preview(branch: str, config_path: Union[str, Path, None] = None, flow_name: str = SENSOR_FLOW) -> Preview:
    """Observe now and compare with ``branch``'s state (a Metaflow branch: ``user.x``, ``test.x``, ``prod``)."""
    path = Path(config_path) if config_path else _config.locate()
    cfg = _config.load(path)
    obs = observe(cfg["data"], project_dir=path.resolve().parent)
    state = branch_state(flow_name, cfg["project_name"], branch)
    state_fp = getattr(state.data, "fingerprint", None) if state is not None else None
    logical = cfg["sensor"]["event_name"]
    name = Subscription(logical, namespaced=True).resolve(cfg["project_name"], branch) if logical else None
    if state is not None and state_fp == obs.fingerprint:
        publish, message = False, "no change since %s" % state.pathspec
    elif state is None and not cfg["sensor"]["publish_on_first_run"]:
        publish, message = False, "first run of %s and publish_on_first_run = false: would record %s" % (branch, obs.summary)
    elif not name:
        publish, message = False, "changed (%s), but no [sensor] event_name: nothing would be published" % obs.summary
    else:
        since = "since %s" % state.pathspec if state is not None else "first run of %s" % branch
        publish, message = True, "would publish %s with %s (%s)" % (name, obs.summary, since)
    return Preview(publish, message, name, obs.summary, obs.fingerprint,
                   state.pathspec if state is not None else None, state_fp)
