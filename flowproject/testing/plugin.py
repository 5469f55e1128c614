"""The pytest plugin (entry point ``pytest11``: ``flowproject = flowproject.testing.plugin``).

Fixtures for a project's own tests; each test gets its own Metaflow (function scope).
Importing this module costs nothing beyond pytest: Metaflow, moto and the servers are
imported inside the fixtures, when a test asks for them.

- ``flowproject_env``: the isolated world (``.env``, ``.root``, ``.project``, ``.branch``,
  ``.s3`` when ``[data] type = "s3"``). Metadata is ``local``; the metadata service with
  ``--flowproject-metadata=service``, the ``flowproject_metadata`` ini option or
  ``@pytest.mark.flowproject(metadata="service")``.
- ``run_flow(path, params=, branch=, production=, payload=)`` -> Client ``Run``.
- ``events``: ``.published``, ``.deliver(name, payload, branch=None)``, ``.finish(run)``.
- ``sensor_tick(data=, previous=, branch=, path=)`` -> ``SensorTick``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("flowproject")
    group.addoption(
        "--flowproject-metadata",
        choices=("local", "service"),
        default=None,
        help="Metaflow metadata for flowproject fixtures: local (default) or the metadata service",
    )
    parser.addini(
        "flowproject_metadata", "Metaflow metadata for flowproject fixtures: local or service", default="local"
    )


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", 'flowproject(metadata="service"): run this test\'s flows with the Metaflow metadata service'
    )


def _metadata_kind(request: Any) -> str:
    marker = request.node.get_closest_marker("flowproject")
    if marker and "metadata" in marker.kwargs:
        return marker.kwargs["metadata"]
    return request.config.getoption("flowproject_metadata") or request.config.getini("flowproject_metadata")


def _project_root(request: Any) -> Path:
    from flowproject.config import loader

    # The nearest flowproject.toml above the test file (or $FLOWPROJECT_CONFIG).
    return loader.locate(Path(str(request.node.path)).parent).parent


@pytest.fixture
def flowproject_env(request: Any, tmp_path_factory: Any, monkeypatch: Any):
    """An isolated Metaflow for this test, plus the servers its ``[data]`` needs."""
    from flowproject.config import loader
    from flowproject.errors import FlowprojectError

    from .env import FlowprojectEnv

    try:
        root = _project_root(request)
        cfg = loader.load(root / loader.CONFIG_FILENAME)
    except FlowprojectError as e:
        pytest.fail("flowproject_env: %s" % e, pytrace=False)
    env = FlowprojectEnv(tmp_path_factory.mktemp("flowproject"), root, cfg, _metadata_kind(request))
    try:
        env.start_servers()
        env.apply(monkeypatch)
        yield env
    finally:
        env.close()


@pytest.fixture
def run_flow(flowproject_env: Any) -> Callable[..., Any]:
    """``run_flow(path, params=None, branch=None, production=False, payload=None)`` -> Run."""
    from .runs import run_flow as _run_flow

    def run(path: Any, params: Any = None, branch: Any = None, production: bool = False, payload: Any = None) -> Any:
        return _run_flow(flowproject_env, path, params=params, branch=branch, production=production, payload=payload)

    return run


@pytest.fixture
def events(flowproject_env: Any):
    """The recording webhook wired into this test's runs, and Argo's rules to deliver events."""
    from .events import EventsKit

    kit = EventsKit(flowproject_env)
    try:
        yield kit
    finally:
        kit.close()


@pytest.fixture
def sensor_tick(flowproject_env: Any, events: Any) -> Callable[..., Any]:
    """``sensor_tick(data=None, previous=None, branch=None, path="flows/sensor.flow.py")``."""
    from .events import sensor_tick as _tick

    def tick(data: Any = None, previous: Any = None, branch: Any = None, path: Any = "flows/sensor.flow.py") -> Any:
        return _tick(flowproject_env, events, data=data, previous=previous, branch=branch, path=path)

    return tick
