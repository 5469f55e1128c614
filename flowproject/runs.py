"""Finding the last successful run of a flow in a project branch, fast as history grows.

Metaflow's Client can only answer "latest successful run" by listing every run of the
flow and checking them newest first; a sensor ticking every few minutes makes that list
grow by tens of thousands a year. So every BaseFlow run, when its ``end`` step succeeds,
records its run id in a small pointer object in the datastore, one per
(flow, project, branch). A lookup reads the pointer, checks that run really succeeded
and belongs to that branch, and only falls back to the listing when the pointer is
missing or stale (history from before flowproject, or a run that failed after writing
it). SensorFlow's state and the getters both resolve "latest" here.
"""

from __future__ import annotations

import functools
import json
import time
from contextlib import contextmanager
from io import BytesIO
from typing import TYPE_CHECKING, Iterator, Optional

if TYPE_CHECKING:  # pragma: no cover
    from metaflow import Run

# Below the flow's folder like Metaflow's own `latest_run` file; a folder without
# `_meta/_self.json` is never mistaken for a run by the local metadata provider.
POINTER_PREFIX = "_flowproject/latest"
ANY_BRANCH = "any"


def _pointer_path(flow_name: str, project: str, branch: str) -> str:
    return "%s/%s/%s/%s.json" % (flow_name, POINTER_PREFIX, project, branch)


def _storage():
    from metaflow.metaflow_config import DEFAULT_DATASTORE
    from metaflow.plugins import DATASTORES

    impl = next(d for d in DATASTORES if d.TYPE == DEFAULT_DATASTORE)
    root = impl.get_datastore_root_from_config(lambda *a, **k: None)
    return impl(root)


def record_successful_run(flow_name: str, run_id: str, project: str, branch: str) -> None:
    """Point (flow, project, branch) at ``run_id``; called as a run's end step succeeds."""
    body = json.dumps(
        {"flow": flow_name, "run_id": str(run_id), "project": project, "branch": branch, "recorded_at": time.time()}
    ).encode("utf-8")
    _storage().save_bytes(iter([(_pointer_path(flow_name, project, branch), BytesIO(body))]), overwrite=True)


def _read_pointer(flow_name: str, project: str, branch: str) -> Optional[str]:
    with _storage().load_bytes([_pointer_path(flow_name, project, branch)]) as loaded:
        for _key, path, _meta in loaded:
            if path is None:
                return None
            with open(path, "rb") as f:
                return json.loads(f.read().decode("utf-8"))["run_id"]
    return None


@contextmanager
def any_namespace() -> Iterator[None]:
    """Search across namespaces, and give the caller back the namespace it had."""
    from metaflow import get_namespace, namespace

    previous = get_namespace()
    namespace(None)
    try:
        yield
    finally:
        namespace(previous)


def latest_successful_run(
    flow_name: str,
    *,
    project: str,
    branch: str,
    exclude_run_id: Optional[str] = None,
) -> Optional["Run"]:
    """The last successful run of ``flow_name`` in ``project`` and project ``branch``.

    ``branch`` is a Metaflow project branch as Metaflow tags it (``prod``,
    ``test.<name>``, ``user.<name>``), or ``"any"`` for the whole project.
    ``exclude_run_id`` (the running run) is never returned. Returns None when there is
    no such run. The caller's Client namespace is unchanged afterwards.
    """
    from metaflow import Flow, Run
    from metaflow.exception import MetaflowNotFound

    tags = ["project:%s" % project]
    if branch != ANY_BRANCH:
        tags.append("project_branch:%s" % branch)
    exclude = str(exclude_run_id) if exclude_run_id is not None else None

    with any_namespace():
        if branch != ANY_BRANCH:
            pointed = _read_pointer(flow_name, project, branch)
            if pointed is not None and pointed != exclude:
                try:
                    run = Run("%s/%s" % (flow_name, pointed))
                except MetaflowNotFound:
                    run = None
                if run is not None and run.successful and all(t in run.tags for t in tags):
                    return run
        try:
            runs = Flow(flow_name).runs(*tags)
        except MetaflowNotFound:
            return None
        for run in runs:
            if run.id != exclude and run.successful:
                return run
    return None


@functools.lru_cache(maxsize=None)
def recorder():
    """The step decorator BaseFlow puts on ``end``: records the run once end succeeded.

    Built on first use (one class per process) so importing this module does not
    register a step decorator with Metaflow before BaseFlow needs it.
    """
    from metaflow import current
    from metaflow.user_decorators.user_step_decorator import UserStepDecorator

    class record_latest_run(UserStepDecorator):
        def post_step(self, step_name, flow, exception=None):
            if exception is None and current.get("project_name"):
                record_successful_run(current.flow_name, current.run_id, current.project_name, current.branch_name)
            return exception, None

    return record_latest_run
