"""flowproject: a paved road from a laptop Metaflow run to event-driven Argo Workflows."""

# Metaflow copies imported modules that set this into the code package of every run,
# so remote steps (Kubernetes, Argo) can import flowproject without installing it.
METAFLOW_PACKAGE_POLICY = "include"

from .baseflow import BaseFlow, scheduled
from .config import load as load_config
from .decorators import requires_extra, snowflake
from .errors import ConfigError, FlowprojectError

__all__ = [
    "BaseFlow",
    "ConfigError",
    "FlowprojectError",
    "load_config",
    "requires_extra",
    "scheduled",
    "snowflake",
]
