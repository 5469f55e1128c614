"""flowproject: a paved road from a laptop Metaflow run to event-driven Argo Workflows."""

# Metaflow copies imported modules that set this into the code package of every run,
# so remote steps (Kubernetes, Argo) can import flowproject without installing it.
METAFLOW_PACKAGE_POLICY = "include"

from . import _moved
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

# The Outerbounds scaffold's TOML parser for Metaflow's Config (Config(..., parser=toml_parser)):
# a parser named by its import path, as the scaffold's flows pass it.
toml_parser = "tomllib.loads" if __import__("sys").version_info >= (3, 11) else "tomli.loads"

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
    "toml_parser",
]
