"""Old module paths (before the package was cut into concept folders) keep working.

``import flowproject.baseflow`` gives ``flowproject.flow.base`` and prints one
``warning:`` line naming the new path, so code written against 0.1.0 runs unchanged
while it is being updated. Names that are now folders (``flowproject.config``,
``flowproject.getters``, ``flowproject.events``, ...) export what the old module did.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType
from typing import Optional, Sequence

from .errors import warn

MOVED = {
    "baseflow": "flow.base",
    "branches": "deploy.branches",
    "cards": "sensor.card",
    "decorators": "flow.decorators",
    "deploy_report": "deploy.report",
    "discovery": "config.discovery",
    "duplicates": "flow.duplicates",
    "flowoptions": "config.flows",
    "history": "sensor.history",
    "hooks": "config.hooks",
    "lease": "sensor.lease",
    "localevents": "events.server",
    "localuser": "flow.localuser",
    "overlays": "config.environments",
    "pins": "getters.pins",
    "preview": "sensor.preview",
    "projectfiles": "config.checks",
    "provenance": "flow.provenance",
    "requirements": "flow.requirements",
    "runs": "getters.runs",
    "scaffold": "project.scaffold",
    "schema": "config.schema",
    "sensor_state": "sensor.state",
    "sensorflow": "sensor.base",
    "sources.templates": "config.templates",
    "statestore": "getters.store",
    "tags": "getters.tags",
    "teardown": "deploy.teardown",
    "tick": "sensor.tick",
    "triggers": "events.triggers",
    "webhook": "events.webhook",
}


class _Alias(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec) -> ModuleType:
        warn("%s moved to %s; import it from there (or from flowproject)" % (spec.name, self.new))
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        """The module is the new one, already executed."""


class MovedModules(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Optional[Sequence[str]], target: object = None):
        new = MOVED.get(fullname[len("flowproject.") :]) if fullname.startswith("flowproject.") else None
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias("flowproject." + new))


def install() -> None:
    if not any(isinstance(f, MovedModules) for f in sys.meta_path):
        sys.meta_path.append(MovedModules())
