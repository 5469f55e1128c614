"""The SensorFlow card: what was observed, against what, and what happened to the event."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Tuple

from ..flow.options import task_environment

# Cards are for people; a huge query result would bury the answer.
MAX_SHOWN_CHARS = 2000


def _shown(value: Any) -> str:
    text = json.dumps(value, indent=2, sort_keys=True, default=str)
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "\n... (truncated)"


def render_sensor_card(card: Any, decision: Any) -> None:
    """Append a tick's record to ``current.card`` (``card`` is that object).

    ``decision`` is anything with the tick's artifacts as attributes (the running flow).
    """
    from metaflow.cards import Markdown, Table

    event = decision.event
    if decision.outcome == "skipped":
        card.append(Markdown("# Sensor: skipped\n%s" % decision.outcome_reason))
        return
    if not event.get("name"):
        event_line = "No event: %s" % event.get("reason", "")
    elif event.get("publish"):
        event_line = "Publishing `%s` in the end step." % event["name"]
    else:
        event_line = "NOT sent `%s`: %s" % (event["name"], event.get("reason", ""))
    card.append(Markdown("# Sensor: %s" % ("CHANGED" if decision.changed else "no change")))
    card.append(
        Table(
            [
                ["Observed", decision.summary],
                ["Fingerprint", decision.fingerprint],
                ["Previous run", decision.previous_run or "none (first run of this branch)"],
                ["Previous fingerprint", decision.previous_fingerprint or "-"],
                ["Changed", str(decision.changed)],
                ["Event", event_line],
                ["Environment", task_environment() or "-"],
            ],
            headers=["", ""],
        )
    )
    card.append(Markdown("## Value\n```\n%s\n```" % _shown(decision.value)))
    card.append(Markdown("## Previous value\n```\n%s\n```" % _shown(decision.previous_value)))
    card.append(Markdown("## Event payload\n```\n%s\n```" % _shown(event.get("payload"))))
    if decision.previous_run:
        text, started = started_by_previous(decision.previous_run)
        card.append(Markdown(text))
        if started is not None:
            from metaflow.cards import VegaChart

            from ..getters.lineage_vega import vega_lite

            card.append(VegaChart(vega_lite(started)))


def started_by_previous(previous_run: str) -> Tuple[str, Optional[Dict[str, Any]]]:
    """The runs the previous tick's event started, as far as they are known now.

    "Known" is the downward lineage index: a run records itself when its end step
    succeeds, so this tick's card lists the earlier event's runs that have ended by now
    (this tick's own event is published after the card is drawn); ``flowproject lineage
    <previous run> --down`` shows the ones that end later.

    Also the graph of those (``lineage_mermaid.started_graph``) when there are any, which
    the card draws as a chart.
    """
    from ..errors import warn
    from ..getters.lineage_mermaid import started_graph
    from ..getters.store import StateStoreError

    try:
        g = started_graph(previous_run)
    except (OSError, StateStoreError) as e:
        # The index is never a point of failure: the tick goes on, the card says why.
        warn("the lineage index of %s cannot be read (%s); the card lists no runs" % (previous_run, e))
        return "## Runs started by the previous tick's event (%s)\nunknown: the lineage index cannot be read" % (
            previous_run
        ), None
    runs = [n["pathspec"] for n in g["nodes"][1:] if n["kind"] == "run"]
    shown = "\n".join("- `%s`" % r for r in runs) or "none recorded (it sent no event, or its runs have not ended yet)"
    return "## Runs started by the previous tick's event (%s)\n%s\n\nLater ones: `flowproject lineage %s --down`." % (
        previous_run,
        shown,
        previous_run,
    ), (g if runs else None)
