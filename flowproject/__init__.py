"""flowproject: a paved road from a laptop Metaflow run to event-driven Argo Workflows.

The public names below are loaded on first use (PEP 562), so ``import flowproject``
costs little more than ``import metaflow`` and changes nothing a user can see: the flow
machinery (and the Metaflow user fallback) is loaded when a flow imports ``BaseFlow``. It
does tell Metaflow's packager which distribution provides flowproject (see
``flowproject._distribution``).
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

# Metaflow copies imported modules that set this into the code package of every run,
# so remote steps (Kubernetes, Argo) can import flowproject without installing it.
METAFLOW_PACKAGE_POLICY = "include"

from . import _distribution, _moved

# ...and tell Metaflow's packager which distribution that is, sparing each `run` a listing
# of every installed distribution (flowproject._distribution).
_distribution.answer_for_metaflow()

# Public name -> the module (relative to this package) that defines it.
_EXPORTS = {
    "BaseFlow": "flow",
    "ConfigError": "errors",
    "FlowprojectError": "errors",
    "GetterError": "getters",
    "Observation": "sources",
    "SensorFlowBase": "sensor",
    "TagError": "getters.tags",
    "branch_state": "sensor",
    "check_pins": "getters.pins",
    "get_artifact": "getters",
    "latest_successful_run": "getters",
    "load_config": "config",
    "observe": "sources",
    "on_sensor_event": "events",
    "pin_run": "getters.pins",
    "requires_extra": "flow",
    "requires_source": "flow",
    "scheduled": "flow",
    "snowflake": "flow",
    "tag_run": "getters.tags",
}
# Exported under another name than the defining module's.
_RENAMED = {"load_config": "load"}

# The Outerbounds scaffold's TOML parser for Metaflow's Config (Config(..., parser=toml_parser)):
# a parser named by its import path, as the scaffold's flows pass it.
toml_parser = "tomllib.loads" if sys.version_info >= (3, 11) else "tomli.loads"

__all__ = [
    "BaseFlow",
    "ConfigError",
    "FlowprojectError",
    "GetterError",
    "Observation",
    "SensorFlowBase",
    "TagError",
    "branch_state",
    "check_pins",
    "get_artifact",
    "latest_successful_run",
    "load_config",
    "observe",
    "on_sensor_event",
    "pin_run",
    "requires_extra",
    "requires_source",
    "scheduled",
    "snowflake",
    "tag_run",
    "toml_parser",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError("module 'flowproject' has no attribute %r" % name)
    value = getattr(import_module("." + module, __name__), _RENAMED.get(name, name))
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from .config import load as load_config
    from .errors import ConfigError, FlowprojectError
    from .events import on_sensor_event
    from .flow import BaseFlow, requires_extra, requires_source, scheduled, snowflake
    from .getters import GetterError, get_artifact, latest_successful_run
    from .getters.pins import check_pins, pin_run
    from .getters.tags import TagError, tag_run
    from .sensor import SensorFlowBase, branch_state
    from .sources import Observation, observe

_moved.install()
