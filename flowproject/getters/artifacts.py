"""Reading other runs' artifacts in the project namespace, the safe way.

``get_artifact("TrainFlow", "model")`` reads from the latest successful run of TrainFlow
in this project and branch (resolved by ``flowproject.getters.runs``, the same lookup SensorFlow
uses for its state), or from the run pinned in ``[getters.TrainFlow] run_id``. The
caller's Client namespace is restored afterwards, whatever happens.

There is deliberately no cache here: Metaflow's Client already keeps artifact blobs on
disk (``METAFLOW_CLIENT_CACHE_PATH``), which ``flowproject.getters.cache`` keeps private
(mode 0700, the user's own) instead of the shared ``/tmp/metaflow_client``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, Tuple

from ..errors import FlowprojectError
from .cache import METAFLOW_DEFAULT_CACHE as METAFLOW_DEFAULT_CACHE  # kept importable from here
from .cache import CacheFolderError, client_cache_dir, use_private_cache
from .cache import default_cache_dir as default_cache_dir
from .lineage import note_read
from .read_branch import configured_branch, running_config
from .runs import ANY_BRANCH, any_namespace
from .runs import latest_successful_run as _latest

if TYPE_CHECKING:  # pragma: no cover
    from metaflow import Run

PRODUCTION_BRANCH = "prod"


class GetterError(FlowprojectError):
    headline = "Cannot read artifact"


# -- the client cache (private folder: flowproject.getters.cache) ------------------------


def clear_cache() -> Tuple[Path, int]:
    """Delete the Client cache folder in use; returns it and the bytes freed."""
    path = client_cache_dir()
    try:
        freed = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0
        if path.is_dir():
            shutil.rmtree(path)
    except OSError as e:  # another user's folder (refused by use_private_cache) may not be ours to delete
        raise CacheFolderError("cannot clear %s: %s" % (path, e.strerror or e)) from None
    return path, freed


# -- resolving project, branch and run ----------------------------------------------------


def _running() -> bool:
    from metaflow import current

    return bool(current.get("flow_name")) and bool(current.get("run_id"))


def _project_config(required: bool) -> Optional[Mapping[str, Any]]:
    """flowproject.toml from the current directory; None only if there is none and
    nothing depends on it (a pod has no file: its project comes from the run)."""
    from ..config.loader import load, locate
    from ..errors import ConfigError

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
    if config is None and in_run:
        config = running_config()
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
    flow_name: str,
    *,
    branch: Optional[str] = None,
    project: Optional[str] = None,
    tag: Optional[str] = None,
    config: Optional[Mapping[str, Any]] = None,
) -> Run:
    """The latest successful run of ``flow_name`` in the project branch.

    ``project`` defaults to ``project_name`` of flowproject.toml (the running flow's
    project inside a run); ``branch`` to the config's ``read_branch`` for ``flow_name``
    (see ``flowproject.getters.read_branch``), else the running flow's branch inside a
    run and ``prod`` outside one; ``branch="any"`` searches the whole project. With ``tag``,
    the newest successful run carrying that user tag there (see ``flowproject.getters.tags``).
    ``config`` is a resolved flowproject.toml (default: the one found from the current
    directory, if any). Raises GetterError when the flow does not exist or has no such run there.
    """
    own, project, branch, config = _branch_to_read(flow_name, project, branch, config)
    run = _resolve(flow_name, project, branch, None, tag=tag)
    note_read(run.pathspec, None, "tag" if tag else "latest", None if branch == own else branch)
    return run


def _branch_to_read(
    flow_name: str, project: Optional[str], branch: Optional[str], config: Optional[Mapping[str, Any]]
) -> Tuple[str, str, str, Optional[Mapping[str, Any]]]:
    """``(own branch, project, branch to read, config)``: ``branch=`` wins, then the
    config's ``read_branch`` for ``flow_name``, then the run's own branch."""
    chosen = branch
    project, own, config = _defaults(project, None, config)
    if chosen is None:
        chosen = configured_branch(config, flow_name)[0] or own
    return own, project, chosen, config


def _pinned_id(flow_name: str, run_id: str, source: str) -> str:
    """A run id from a pin or ``run_id=``; ``TrainFlow/123`` is accepted for TrainFlow."""
    if "/" not in run_id:
        return run_id
    parts = run_id.split("/")
    if len(parts) == 2 and parts[0] == flow_name and parts[1]:
        return parts[1]
    raise GetterError(
        "%s: %r is not a run of %s: expected a run id or %s/<run id>" % (source, run_id, flow_name, flow_name)
    )


def check_successful(run: Run, source: str) -> Run:
    """``run`` itself when it succeeded; else a one-line GetterError naming ``source``."""
    if run.successful:
        return run
    end = run.end_task
    if end is None:
        state = "never reached its end step (it failed, was killed or is still running)"
    elif "_task_ok" in end:
        state = "failed in its end step"
    else:
        state = "has not finished its end step (it is still running or was killed)"
    raise GetterError("%s: %s %s; use a successful run" % (source, run.pathspec, state))


def resolve_run_id(flow_name: str, run_id: str, source: Optional[str] = None) -> Run:
    """The successful run ``flow_name/run_id`` (``run_id`` may be ``flow_name/<id>``).

    ``source`` names where the id came from in errors (default ``run_id='<id>'``).
    """
    from metaflow import Run
    from metaflow.exception import MetaflowNotFound

    source = source or "run_id=%r" % str(run_id)
    plain = _pinned_id(flow_name, str(run_id), source)
    with any_namespace():
        try:
            run = Run("%s/%s" % (flow_name, plain))
        except MetaflowNotFound:
            raise GetterError("%s: no run %s/%s" % (source, flow_name, plain)) from None
        return check_successful(run, source)


def _resolve(
    flow_name: str,
    project: str,
    branch: str,
    run_id: Optional[str],
    *,
    tag: Optional[str] = None,
    source: Optional[str] = None,
) -> Run:
    from metaflow import Flow
    from metaflow.exception import MetaflowNotFound

    with any_namespace():
        try:
            Flow(flow_name)
        except MetaflowNotFound:
            raise GetterError("no flow named %r in this Metaflow metadata" % flow_name) from None
    if run_id is not None:
        return resolve_run_id(flow_name, run_id, source)
    where = "the whole project" if branch == ANY_BRANCH else "branch %r" % branch
    if tag is not None:
        from .tags import latest_tagged_run

        run = latest_tagged_run(flow_name, tag, project=project, branch=branch)
        if run is None:
            raise GetterError(
                "no successful run of %s tagged %r in project %r, %s; tag one with "
                "`flowproject tag %s/<run id> %s`" % (flow_name, tag, project, where, flow_name, tag)
            )
        return run
    with any_namespace():
        run = _latest(flow_name, project=project, branch=branch)
    if run is None:
        raise GetterError(
            "no successful run of %s in project %r, %s; run it there first or pass "
            'branch=... (branch="any" searches the whole project)' % (flow_name, project, where)
        )
    return run


def get_artifact(
    flow_name: str,
    artifact: str,
    *,
    run_id: Optional[str] = None,
    tag: Optional[str] = None,
    branch: Optional[str] = None,
    project: Optional[str] = None,
    config: Optional[Mapping[str, Any]] = None,
) -> Any:
    """The value of ``artifact`` from a run of ``flow_name``.

    Which run: ``run_id`` when given (a string: Argo ids look like ``argo-...``; also
    ``"<flow_name>/<id>"``), else the newest successful run tagged ``tag`` in the project
    branch, else the ``[getters.<flow_name>] run_id`` pin in the config, else the latest
    successful run in the project branch (defaults as in ``latest_successful_run``).
    ``config`` is a resolved flowproject.toml (BaseFlow passes its own); by default the
    file is found from the current directory. A run id or pin naming a run that is not
    successful is an error, as is passing both ``run_id`` and ``tag``. Raises
    GetterError naming what was searched.
    """
    if run_id is not None and tag is not None:
        raise GetterError("pass run_id=... or tag=..., not both")
    own, project, branch, config = _branch_to_read(flow_name, project, branch, config)
    source = None
    if run_id is None and tag is None and config is not None:
        pin = config.get("getters", {}).get(flow_name)
        if pin and pin.get("run_id"):
            run_id, source = pin["run_id"], "flowproject.toml: getters.%s.run_id" % flow_name
    use_private_cache()
    run = _resolve(flow_name, project, branch, None if run_id is None else str(run_id), tag=tag, source=source)
    with any_namespace():
        data = run.data
        if data is None or artifact not in data:
            names = sorted(a.id for a in run.end_task if not a.id.startswith("_")) if run.end_task else []
            raise GetterError(
                "%s has no artifact %r; it has: %s" % (run.pathspec, artifact, ", ".join(names) or "none")
            )
        value = getattr(data, artifact)
    how = "tag" if tag else ("pin" if run_id is not None else "latest")
    # The branch is recorded when the read was not of the run's own branch (a pin names a run).
    note_read(run.pathspec, artifact, how, None if how == "pin" or branch == own else branch)
    return value
