"""``flowproject.testing``: a pytest plugin for testing a team's flows as they run on Argo.

Registered through the ``pytest11`` entry point (``flowproject.testing.plugin``), so a
project with flowproject installed gets the fixtures with no conftest: ``flowproject_env``,
``run_flow``, ``events`` and ``sensor_tick``. Nothing here is imported by
``import flowproject``; the plugin module imports Metaflow and the servers only inside
fixtures. See docs/testing.md.
"""

from .env import FlowprojectEnv
from .events import EventsKit, SensorTick
from .runs import FlowRunFailed

__all__ = ["EventsKit", "FlowRunFailed", "FlowprojectEnv", "SensorTick"]
