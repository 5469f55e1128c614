"""``current.trigger`` inside a local run that an event started, as on Argo.

The only part of the trigger machinery a task process needs, so that it does not load the
rules that read every flow's decorators (``flowproject.events.triggers``).
"""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Mapping

from ..getters import payloads as _payloads
from . import eventproof as _eventproof


def triggers_from_env(environ: Mapping[str, str]) -> List[Dict[str, Any]]:
    """``current.trigger``'s metadata from the payload variables, as Argo's decorator reads it."""
    found = []
    for key, payload in _payloads.payloads(environ):
        if not isinstance(payload, dict):
            payload = {}
        found.append(
            {
                "timestamp": payload.get("timestamp"),
                "id": payload.get("id"),
                "name": payload.get("name"),
                "type": key[len(_payloads.PAYLOAD_ENV_PREFIX) :].split("_", 1)[0],
            }
        )
    return found


@functools.cache
def local_trigger():
    """The step decorator BaseFlow puts on every step: ``current.trigger`` in local runs.

    On Argo, Metaflow's own decorator builds ``current.trigger`` from the payload
    variables; a local run started by ``flowproject events serve`` or ``flowproject
    trigger`` gets the same variables and, through this, the same ``current.trigger``.
    """
    import os

    from metaflow import current
    from metaflow.events import Trigger
    from metaflow.user_decorators.user_step_decorator import UserStepDecorator

    class local_event_trigger(UserStepDecorator):
        def pre_step(self, step_name, flow, inputs=None):
            # Before the step body, deployed and locally alike: no event-chosen test_mode
            # runs (flowproject.events.eventproof).
            _eventproof.check_payloads(
                current.flow_name or type(flow).__name__, _eventproof.trigger_kwargs(flow), os.environ
            )
            if current.get("trigger") is None and not os.environ.get("ARGO_WORKFLOW_TEMPLATE"):
                found = triggers_from_env(os.environ)
                if found:
                    current._update_env({"trigger": Trigger(found)})

    return local_event_trigger
