"""Reading other runs' artifacts in the project namespace, the safe way.

``get_artifact("TrainFlow", "model")`` reads from the latest successful run of TrainFlow
in this project and branch (resolved by ``flowproject.runs``, the same lookup SensorFlow
uses for its state), or from the run pinned in ``[getters.TrainFlow] run_id``. The
caller's Client namespace is restored afterwards, whatever happens.

There is deliberately no cache here: Metaflow's Client already keeps artifact blobs on
disk (``METAFLOW_CLIENT_CACHE_PATH``). When the user has not chosen that folder we point
it at a persistent per-user one instead of the shared ``/tmp/metaflow_client``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, Tuple

from .errors import FlowprojectError
from .runs import ANY_BRANCH, any_namespace, latest_successful_run as _latest

if TYPE_CHECKING:  # pragma: no cover
    from metaflow import Run

PRODUCTION_BRANCH = "prod"
METAFLOW_DEFAULT_CACHE = "/tmp/metaflow_client"


class GetterError(FlowprojectError):
    headline = "Cannot read artifact"


# -- the client cache ---------------------------------------------------------------------


def default_cache_dir() -> Path:
    """The persistent per-user folder flowproject gives Metaflow's Client cache."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "flowproject" / "metaflow_client"


def client_cache_dir() -> Path:
    """The Client cache folder in use: the user's choice, else ``default_cache_dir()``."""
    from metaflow import metaflow_config

    chosen = os.environ.get("METAFLOW_CLIENT_CACHE_PATH") or metaflow_config.CLIENT_CACHE_PATH
    if chosen and chosen != METAFLOW_DEFAULT_CACHE:
        return Path(chosen)
    return default_cache_dir()


def use_persistent_cache() -> Path:
    """Point Metaflow's Client cache at ``client_cache_dir()`` and return it.

    Metaflow reads the setting once, into module globals, so both are updated; the
    environment variable carries it to subprocesses. Caches already created by the
    Client before this call keep their folder.
    """
    from metaflow import metaflow_config
    from metaflow.client import filecache

    path = client_cache_dir()
    if filecache.CLIENT_CACHE_PATH == str(path):
        return path  # already in place: get_artifact calls this every time
    path.mkdir(parents=True, exist_ok=True)
    os.environ["METAFLOW_CLIENT_CACHE_PATH"] = str(path)
    metaflow_config.CLIENT_CACHE_PATH = str(path)
    filecache.CLIENT_CACHE_PATH = str(path)
    return path


def clear_cache() -> Tuple[Path, int]:
    """Delete the Client cache folder in use; returns it and the bytes freed."""
    path = client_cache_dir()
    freed = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0
    if path.is_dir():
        shutil.rmtree(path)
    return path, freed


# -- resolving project, branch and run ----------------------------------------------------


def _running() -> bool:
    from metaflow import current

    return bool(current.get("flow_name")) and bool(current.get("run_id"))


def _project_config(required: bool) -> Optional[Mapping[str, Any]]:
    """flowproject.toml from the current directory; None only if there is none and
    nothing depends on it (a pod has no file: its project comes from the run)."""
    from .config import load, locate
    from .errors import ConfigError

    try:
        path = locate()
    except ConfigError:
        if required:
            raise
        return None
    return load(path)


def _defaults(
    project: Optional[str], branch: Optional[str], config: Optional[Mapping[str, Any]]
) -> Tuple[str, str, Optional[Mapping[str, Any]]]:
    from metaflow import current

    in_run = _running()
    if config is None:
        config = _project_config(required=project is None and not in_run)
    if project is None:
        project = (current.get("project_name") if in_run else None) or (config or {}).get("project_name")
    if project is None:
        raise GetterError("no project: pass project=... or run inside a flow with @project")
    if branch is None:
        branch = (current.get("branch_name") if in_run else None) or PRODUCTION_BRANCH
    return project, branch, config


def latest_successful_run(
    flow_name: str, *, branch: Optional[str] = None, project: Optional[str] = None
) -> "Run":
    """The latest successful run of ``flow_name`` in the project branch.

    ``project`` defaults to ``project_name`` of flowproject.toml (the running flow's
    project inside a run); ``branch`` to the running flow's branch inside a run and to
    ``prod`` outside one; ``branch="any"`` searches the whole project. Raises
    GetterError when the flow does not exist or has no successful run there.
    """
    project, branch, _ = _defaults(project, branch, None)
    return _resolve(flow_name, project, branch, None)


def _resolve(flow_name: str, project: str, branch: str, run_id: Optional[str]) -> "Run":
    from metaflow import Flow, Run
    from metaflow.exception import MetaflowNotFound

    with any_namespace():
        try:
            Flow(flow_name)
        except MetaflowNotFound:
            raise GetterError("no flow named %r in this Metaflow metadata" % flow_name) from None
        if run_id is not None:
            try:
                return Run("%s/%s" % (flow_name, run_id))
            except MetaflowNotFound:
                raise GetterError("no run %s/%s (pinned run id)" % (flow_name, run_id)) from None
        run = _latest(flow_name, project=project, branch=branch)
    if run is None:
        where = "the whole project" if branch == ANY_BRANCH else "branch %r" % branch
        raise GetterError(
            "no successful run of %s in project %r, %s; run it there first or pass "
            "branch=... (branch=\"any\" searches the whole project)" % (flow_name, project, where)
        )
    return run


def get_artifact(
    flow_name: str,
    artifact: str,
    *,
    run_id: Optional[str] = None,
    branch: Optional[str] = None,
    project: Optional[str] = None,
    config: Optional[Mapping[str, Any]] = None,
) -> Any:
    """The value of ``artifact`` from a run of ``flow_name``.

    Which run: ``run_id`` when given (a string: Argo ids look like ``argo-...``), else
    the ``[getters.<flow_name>] run_id`` pin in the config, else the latest successful
    run in the project branch (defaults as in ``latest_successful_run``). ``config`` is
    a resolved flowproject.toml (BaseFlow passes its own); by default the file is found
    from the current directory. Raises GetterError naming what was searched.
    """
    project, branch, config = _defaults(project, branch, config)
    if run_id is None and config is not None:
        pin = config.get("getters", {}).get(flow_name)
        run_id = pin["run_id"] if pin else None
    use_persistent_cache()
    run = _resolve(flow_name, project, branch, None if run_id is None else str(run_id))
    with any_namespace():
        data = run.data
        if artifact not in data:
            names = sorted(a.id for a in run.end_task if not a.id.startswith("_")) if run.end_task else []
            raise GetterError(
                "%s has no artifact %r; it has: %s" % (run.pathspec, artifact, ", ".join(names) or "none")
            )
        return getattr(data, artifact)
