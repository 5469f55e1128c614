"""``flowproject sensor preview`` for ``[sensor] emit = "items"``: the pending items."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

from ..getters.store import StateStore
from . import items as _state


def items_preview(
    cfg: Mapping[str, Any], config_path: Path, branch: str, flow_name: str, event: Optional[str], state: Any
) -> Any:
    """The fields of a ``Preview`` (preview.py builds it): the items the next ticks of
    ``branch`` would publish, starting from its state run."""
    store = StateStore.configured()
    sensor = cfg["sensor"]
    before = getattr(state.data, "items_state", None) if state is not None else None
    progress = _state.read_progress(
        store, flow_name, cfg["project_name"], branch, state.id if state is not None else None
    )
    if progress is not None:
        before = progress["state"]
    pending, summary = _state.pending_items(
        cfg, store, before, project=cfg["project_name"], branch=branch, project_dir=config_path.resolve().parent
    )
    first_run = state is None and progress is None
    if first_run and not sensor["publish_on_first_run"]:
        pending, why = [], "first run of %s and [sensor] publish_on_first_run = false: recorded only" % branch
    elif not event:
        pending, why = [], "no [sensor] event_name configured: the items are recorded only"
    else:
        why = None
    per_tick = sensor["max_events_per_tick"] * sensor["items_per_event"]
    shown = ", ".join("%s (%s)" % (i["key"], i["change"]) for i in pending[: _state.SHOWN_ITEMS])
    if pending:
        message = "%d item%s pending; the next tick would publish %d to %s: %s%s" % (
            len(pending),
            "" if len(pending) == 1 else "s",
            min(len(pending), per_tick),
            event,
            shown,
            ", ..." if len(pending) > _state.SHOWN_ITEMS else "",
        )
    else:
        message = "no items pending (%s)%s" % (summary, "; %s" % why if why else "")
    return dict(
        would_publish=bool(pending),
        message=message,
        event_name=event,
        summary=summary,
        fingerprint=(before or {}).get("manifest") or "",
        state_run=state.pathspec if state is not None else None,
        state_fingerprint=getattr(state.data, "fingerprint", None) if state is not None else None,
        count=len(pending),
        items=pending,
    )
