"""flowproject: a paved road from a laptop Metaflow run to event-driven Argo Workflows."""

# Metaflow copies imported modules that set this into the code package of every run,
# so remote steps (Kubernetes, Argo) can import flowproject without installing it.
METAFLOW_PACKAGE_POLICY = "include"

from .baseflow import BaseFlow, scheduled
from .config import load as load_config
from .decorators import requires_extra, requires_source, snowflake
from .errors import ConfigError, FlowprojectError
from .events import on_sensor_event
from .getters import GetterError, get_artifact, latest_successful_run
from .pins import check_pins, pin_run
from .tags import TagError, tag_run
from .sources import Observation, observe
from .sensor import branch_state
from .sensorflow import SensorFlowBase

__all__ = [
    "BaseFlow",
    "ConfigError",
    "FlowprojectError",
    "GetterError",
    "Observation",
    "TagError",
    "check_pins",
    "SensorFlowBase",
    "branch_state",
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
]
