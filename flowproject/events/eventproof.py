"""No event sets ``test_mode`` on Argo either (issue 17).

Metaflow's Argo rendering (``ArgoWorkflows._process_triggers``, Metaflow 2.19.24 to
2.19.39): "Set automatic parameter mapping iff only a single event dependency is
specified with no explicit parameter mapping" -- every Parameter P, BaseFlow's
``test-mode`` included, gets a Sensor dest filled from payload key ``P.lower()``. So a
payload ``{"test-mode": "false"}`` would turn test mode off in the deployed run.

Two defences:

- at render time, :func:`pinned_trigger_kwargs` gives such a trigger the explicit
  mapping Metaflow would have made, minus ``test-mode``: every other Parameter stays
  mapped from the same key, and the rendered Sensor has no dest for ``test-mode``.
  Metaflow only accepts mapped keys matching ``^[A-Za-z0-9_]+$`` and treats an empty
  mapping as none, so a flow with no other Parameter, or one named with ``-``, keeps
  Metaflow's automatic mapping;
- at run time, :func:`check_payloads` (every step, deployed and local runs alike, so a
  laptop behaves as Argo) fails the run in one line when the Sensor maps ``test-mode``
  and an event payload carries that key.

A mapping the user writes that names ``test-mode`` is refused by :func:`refuse_explicit`.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional

from ..errors import FlowprojectError
from ..getters import payloads as _payloads

# BaseFlow's Parameter, as Metaflow names it in mappings (lower-cased).
PROTECTED = "test-mode"
# Metaflow's check on a mapped payload key (_process_triggers).
_KEY_RE = re.compile(r"[A-Za-z0-9_]+")


class EventProofError(FlowprojectError):
    headline = "test_mode cannot be set by an event"


def _events_of(kwargs: Mapping[str, Any]) -> Optional[List[Any]]:
    """The trigger's event specs, or None when a deploy-time function gives them."""
    if kwargs.get("event"):
        return [kwargs["event"]]
    events = kwargs.get("events") or []
    return list(events) if isinstance(events, (list, tuple)) else None


def _mapping(event: Any) -> Optional[Dict[str, str]]:
    """A static event's explicit mapping ({} for none), None if a function gives it."""
    if isinstance(event, dict) and not callable(event.get("parameters")):
        given = event.get("parameters") or {}
        if isinstance(given, dict):
            return {str(k): str(v) for k, v in given.items()}
        return dict((m, m) if isinstance(m, str) else (str(m[0]), str(m[1])) for m in given)
    if isinstance(event, str) or _is_name(event):
        return {}
    return None  # a function giving the whole event may give it a mapping too


def _is_name(value: Any) -> bool:
    # namespaced_event_name(...) (what @on_sensor_event uses) resolves to a name only.
    return isinstance(value, functools.partial) and getattr(value.func, "__name__", "") == "_delayed_name_generator"


def _protected(param: str) -> bool:
    return param.lower().replace("_", "-") == PROTECTED


def refuse_explicit(flow: str, kwargs: Mapping[str, Any]) -> None:
    """One line if ``@trigger``'s own mapping names ``test-mode``."""
    for event in _events_of(kwargs) or []:
        for param, key in (_mapping(event) or {}).items():
            if _protected(param):
                raise EventProofError(
                    msg="%s: @trigger maps payload key %r to %s; an event cannot choose test mode "
                    "(--production or --test-mode when deploying do)" % (flow, key, param)
                )


def pinned_trigger_kwargs(kwargs: Mapping[str, Any], params: Iterable[str]) -> Optional[Dict[str, Any]]:
    """``@trigger``'s kwargs with the automatic mapping made explicit without ``test-mode``,
    or None when Metaflow maps nothing automatically or the mapping cannot be written."""
    events = _events_of(kwargs)
    if events is None or len(events) != 1 or _mapping(events[0]) != {}:
        return None
    names = sorted({p.lower() for p in params if not _protected(p)})
    if not names or not all(_KEY_RE.fullmatch(n) for n in names):
        return None
    event = events[0]
    spec = dict(event) if isinstance(event, dict) else {"name": event}
    spec["parameters"] = {n: n for n in names}
    out = {k: v for k, v in kwargs.items() if k not in ("event", "events")}
    out["event"] = spec
    return out


def mapped_key(kwargs: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The payload key the rendered Sensor fills ``test-mode`` from, or None.

    A deploy-time function giving the events (or one event's mapping) cannot be read
    here: assume Metaflow's automatic mapping, the one that would map it.
    """
    if kwargs is None:
        return None
    events = _events_of(kwargs)
    if events is None:
        return PROTECTED
    if len(events) != 1:
        return None
    mapping = _mapping(events[0])
    return PROTECTED if not mapping else None


def check_payloads(flow: str, kwargs: Optional[Mapping[str, Any]], environ: Mapping[str, str]) -> None:
    """Fail (one line) when an event payload carries the key the Sensor maps to ``test-mode``."""
    key = mapped_key(kwargs)
    if key is None:
        return
    for var, payload in _payloads.payloads(environ):
        if isinstance(payload, dict) and key in payload and var.startswith(_payloads.PAYLOAD_ENV_PREFIX + "event_"):
            raise EventProofError(
                msg="%s: event %s carries payload key %r, which this flow's Argo Sensor maps to the "
                "test-mode Parameter; an event cannot choose test mode (the publisher must drop the key)"
                % (flow, payload.get("name") or var, key)
            )


def pin(mutable_flow: Any) -> None:
    """In a FlowMutator's ``pre_mutate``: refuse or pin the flow's ``@trigger`` mapping."""
    flow = mutable_flow._flow_cls.__name__  # MutableFlow names its class only through this
    specs = mutable_flow.get_decorator_specs("trigger")
    for _, _, _, kwargs in specs:
        refuse_explicit(flow, kwargs)
    if len(specs) != 1:
        return  # Argo renders the first @trigger only; with several, check_payloads guards
    # Not MutableFlow.parameters: it formats each Parameter for a debug line, which calls a
    # deploy-time default (BaseFlow's test-mode) where no context exists yet (under Runner).
    names = [p.name for _, p in mutable_flow._flow_cls._get_parameters() if not p.IS_CONFIG_PARAMETER]
    pinned = pinned_trigger_kwargs(specs[0][3], names)
    if pinned is not None:
        # @trigger allows several, so add_decorator(OVERRIDE) would keep the old one.
        mutable_flow.remove_decorator("trigger")
        mutable_flow.add_decorator("trigger", deco_kwargs=pinned)


def trigger_kwargs(flow: Any) -> Optional[Dict[str, Any]]:
    """The running flow's ``@trigger`` arguments (as its Sensor was rendered from), or None."""
    decos = flow._flow_decorators.get("trigger") or []
    return dict(decos[0].attributes) if decos else None
