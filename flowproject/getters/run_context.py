"""``current``: Metaflow's ``metaflow.current``, typed for the code that runs in a task.

Metaflow types ``current.flow_name`` and ``run_id`` as optional (they are None outside a
task) and does not declare what ``@project`` adds at run time (``project_name``,
``branch_name``, ``is_production``). The code that imports this runs in a task of a
BaseFlow, which always carries ``@project``, so it reads them as set (``card`` in a step
with ``@card``). The object is Metaflow's own singleton: nothing is copied or wrapped at
run time.
"""

from __future__ import annotations

from typing import Any, Optional, Protocol, cast

from metaflow import current as _metaflow_current


class RunContext(Protocol):
    """What flowproject reads from ``metaflow.current`` inside a task."""

    flow_name: str
    run_id: str
    pathspec: str
    # Set by @project (every BaseFlow has it).
    project_name: str
    branch_name: str
    is_production: bool
    # Set by @card: the step's card components (metaflow.plugins.cards).
    card: Any

    def get(self, key: str, default: Any = None) -> Optional[Any]: ...


current = cast(RunContext, _metaflow_current)
