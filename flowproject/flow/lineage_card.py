"""The lineage card: with ``[sensor] card = true`` every BaseFlow run's end step shows
its upstream chain, the diagram ``flowproject lineage FLOW/RUN --up --mermaid`` prints.

Opt-in with the sensor card's switch for the same reason: Metaflow renders a card in a
second process after the step. The card is drawn after the end step's lineage record
is written (``flowproject.getters.lineage``), so it shows what ``lineage`` would. The
SensorFlow keeps its own card (its start step), which lists the runs its previous
event started.

Metaflow's card viewer renders Markdown without Mermaid, so the diagram in the card is a
Vega-Lite chart (``getters/lineage_vega.py``; the viewer bundles Vega-Lite, offline); the
Mermaid text follows in a ``mermaid`` block for copying (rendered wherever Mermaid is:
GitHub, docs sites), and the same edges as a table that reads anywhere.
"""

from __future__ import annotations

import functools
from typing import Any, Optional

CARD_ID = "lineage"
# SensorFlowBase's parameter: the sensor has its own card and no upstream chain.
_SENSOR_PARAMETER = "sensor_event"


def wanted(mutable_flow: Any) -> bool:
    """Whether this flow's end step gets the lineage card (``[sensor] card = true``)."""
    config = dict(mutable_flow.configs).get("flowconfig")
    if not config or not config["sensor"].get("card"):
        return False
    return all(name != _SENSOR_PARAMETER for name, _ in mutable_flow.parameters)


def add_to(end_step: Any) -> None:
    """The card and its renderer on the end step; after the lineage recorder, whose
    record the card is drawn from (Metaflow runs step wrappers' post_step in order)."""
    end_step.add_decorator("card", deco_kwargs={"type": "blank", "id": CARD_ID})
    end_step.add_decorator(renderer())


def render(card: Any, pathspec: str) -> None:
    """Append the upstream chain of ``pathspec`` to ``card`` (``current.card[CARD_ID]``)."""
    from metaflow.cards import Markdown, Table, VegaChart

    # Imported here: every BaseFlow process loads this module, few draw the card.
    from ..getters.lineage_graph import graph
    from ..getters.lineage_mermaid import mermaid
    from ..getters.lineage_vega import vega_lite

    g = graph(pathspec, up=True, down=False)
    card.append(Markdown("# Lineage of %s" % pathspec))
    if not g["edges"]:
        card.append(Markdown("Nothing upstream: no event or finished run started this run, and it read no other run."))
        return
    card.append(VegaChart(vega_lite(g)))
    card.append(Markdown("```mermaid\n%s\n```" % mermaid(g)))
    card.append(Table([[e["from"], e["kind"], e["to"]] for e in g["edges"]], headers=["from", "edge", "to"]))


def draw(card: Any, pathspec: str) -> None:
    """``render``, except that a lineage index or metadata that cannot be read costs a
    ``warning:`` line and a one-line card, never the run."""
    from metaflow.cards import Markdown
    from metaflow.exception import MetaflowException

    from ..errors import warn
    from ..getters.store import StateStoreError

    try:
        render(card, pathspec)
    except (OSError, StateStoreError, MetaflowException) as e:
        warn("the lineage card of %s cannot be drawn: %s (the run is not affected)" % (pathspec, e))
        card.append(Markdown("# Lineage of %s\nunknown: %s" % (pathspec, e)))


@functools.cache
def renderer():
    """The step decorator that draws the card; one class per process, built on first use."""
    from metaflow.user_decorators.user_step_decorator import UserStepDecorator

    from ..getters.run_context import current

    class render_lineage_card(UserStepDecorator):
        def post_step(self, step_name: str, flow: Any, exception: Optional[Exception] = None):
            if exception is None:
                draw(current.card[CARD_ID], "%s/%s" % (current.flow_name, current.run_id))
            return exception, None

    return render_lineage_card
