"""flowproject: a paved road from a laptop Metaflow run to event-driven Argo Workflows.

The public names below are loaded on first use (PEP 562), so ``import flowproject``
costs little more than ``import metaflow`` and changes nothing a user can see: the flow
machinery (and the Metaflow user fallback) is loaded when a flow imports ``BaseFlow``. It
does tell Metaflow's packager which distribution provides flowproject (see
``flowproject._distribution``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

# Metaflow copies imported modules that set this into the code package of every run,
# so remote steps (Kubernetes, Argo) can import flowproject without installing it.
METAFLOW_PACKAGE_POLICY = "include"

from . import _distribution, _lazy, _moved

# ...and tell Metaflow's packager which distribution that is, sparing each `run` a listing
# of every installed distribution (flowproject._distribution).
_distribution.answer_for_metaflow()

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


# Each public name loads from the module that defines it on first use (flowproject._lazy).
if TYPE_CHECKING:
    from .config.loader import load as load_config
    from .errors import ConfigError, FlowprojectError
    from .events.publishing import on_sensor_event
    from .flow.base import BaseFlow, scheduled
    from .flow.decorators import requires_extra, requires_source, snowflake
    from .getters.artifacts import GetterError, get_artifact, latest_successful_run
    from .getters.pins import check_pins, pin_run
    from .getters.tags import TagError, tag_run
    from .sensor.base import SensorFlowBase
    from .sensor.decide import branch_state
    from .sources import Observation, observe
__getattr__, __dir__ = _lazy.exports(__name__)

_moved.install()
