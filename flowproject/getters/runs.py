"""Finding the last successful run of a flow in a project branch, fast as history grows.

Metaflow's Client can only answer "latest successful run" by listing every run of the
flow and checking them newest first; a sensor ticking every few minutes makes that list
grow by tens of thousands a year. So every BaseFlow run, when its ``end`` step succeeds,
records its run id in a small pointer object in the run's own datastore, one per
(flow, project, branch). A lookup reads the pointer, checks that run really succeeded
and belongs to that branch, and only falls back to the listing when the pointer is
missing, stale or unreadable. The pointer is an index, never a point of failure: a
pointer that cannot be read or written costs a warning and time, not a run.

Branch membership is judged by Metaflow's *system* tags (``project:``,
``project_branch:``), which a user cannot add: ``run.add_tag("project_branch:prod")``
does not move a run into production.
"""

from __future__ import annotations

import functools
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional

from ..errors import warn
from .store import RECORDS_DIR, StateStore, StateStoreError, read_index

if TYPE_CHECKING:  # pragma: no cover
    from metaflow import Run

POINTER_PREFIX = "%s/latest" % RECORDS_DIR
ANY_BRANCH = "any"


def _pointer_path(flow_name: str, project: str, branch: str) -> str:
    return "%s/%s/%s/%s.json" % (flow_name, POINTER_PREFIX, project, branch)


def in_branch(run: Run, project: str, branch: str) -> bool:
    """Whether Metaflow itself put ``run`` in ``project`` / ``branch`` (system tags only)."""
    tags = run.system_tags
    return "project:%s" % project in tags and (branch == ANY_BRANCH or "project_branch:%s" % branch in tags)


def read_pointer(store: Optional[StateStore], key: str) -> Optional[dict]:
    """A pointer record, or None when absent, unreadable or corrupt (with a warning)."""
    return read_index(store, key, lambda r: None if is_run_id(r.get("run_id")) else "has no valid run_id")


def is_run_id(value: object) -> bool:
    return isinstance(value, str) and bool(value) and "/" not in value


def write_pointer(store: Optional[StateStore], key: str, record: dict) -> bool:
    """Write a pointer; on failure warn, and try to remove a stale one so lookups list."""
    if store is None or not store.supported:
        return False
    try:
        store.write_json(key, record)
        return True
    except StateStoreError as e:
        try:
            store.delete(key)
            consequence = "lookups use the run listing until it is written again"
        except StateStoreError:
            consequence = "it may point at an older run: delete it to make lookups list runs"
        warn("%s (the run is not affected; %s)" % (e, consequence))
        return False


def record_successful_run(store: Optional[StateStore], flow_name: str, run_id: str, project: str, branch: str) -> None:
    """Point (flow, project, branch) at ``run_id``; called as a run's end step succeeds."""
    record = {
        "flow": flow_name,
        "run_id": str(run_id),
        "project": project,
        "branch": branch,
        "recorded_at": time.time(),
    }
    write_pointer(store, _pointer_path(flow_name, project, branch), record)


@contextmanager
def any_namespace() -> Iterator[None]:
    """Search across namespaces, and give the caller back the namespace it had.

    Every Client read flowproject makes is inside this block, so it also points Metaflow's
    Client cache at a private folder first (``flowproject.getters.cache``).
    """
    from metaflow import get_namespace, namespace

    from .cache import use_private_cache

    use_private_cache()
    previous = get_namespace()
    namespace(None)
    try:
        yield
    finally:
        namespace(previous)


def pointed_run(flow_name: str, run_id: str) -> Optional[Run]:
    """``Flow/run_id`` or None when it does not exist (or the id is malformed)."""
    from metaflow import Run
    from metaflow.exception import MetaflowInvalidPathspec, MetaflowNotFound

    try:
        return Run("%s/%s" % (flow_name, run_id))
    except (MetaflowNotFound, MetaflowInvalidPathspec):
        return None


def newest_run(
    flow_name: str, project: str, branch: str, accept: Callable[[Run], bool], exclude: Optional[str] = None
) -> Optional[Run]:
    """The listing fallback: newest-created run of the branch that succeeded and ``accept``s."""
    from metaflow import Flow
    from metaflow.exception import MetaflowNotFound

    try:
        # Filtering on the project tag is done by the Client anyway; membership is
        # re-checked on system tags, which a user tag cannot fake.
        runs = Flow(flow_name).runs("project:%s" % project)
    except MetaflowNotFound:
        return None
    for run in runs:
        if run.id != exclude and in_branch(run, project, branch) and run.successful and accept(run):
            return run
    return None


def latest_successful_run(
    flow_name: str,
    *,
    project: str,
    branch: str,
    exclude_run_id: Optional[str] = None,
    store: Optional[StateStore] = None,
) -> Optional[Run]:
    """The last successful run of ``flow_name`` in ``project`` and project ``branch``.

    ``branch`` is a Metaflow project branch as Metaflow tags it (``prod``,
    ``test.<name>``, ``user.<name>``), or ``"any"`` for the whole project.
    ``exclude_run_id`` (the running run) is never returned. ``store`` is where the
    pointer lives (default: the configured datastore). Returns None when there is no
    such run. The caller's Client namespace is unchanged afterwards.
    """
    exclude = str(exclude_run_id) if exclude_run_id is not None else None
    with any_namespace():
        if branch != ANY_BRANCH:
            record = read_pointer(store or StateStore.configured(), _pointer_path(flow_name, project, branch))
            if record is not None and record["run_id"] != exclude:
                run = pointed_run(flow_name, record["run_id"])
                if run is not None and in_branch(run, project, branch) and run.successful:
                    return run
        return newest_run(flow_name, project, branch, lambda run: True, exclude)


@functools.cache
def recorder():
    """The step decorator BaseFlow puts on ``end``: records the run once end succeeded.

    Built on first use (one class per process) so importing this module does not
    register a step decorator with Metaflow before BaseFlow needs it.
    """
    from metaflow.user_decorators.user_step_decorator import UserStepDecorator

    from .run_context import current

    class record_latest_run(UserStepDecorator):
        def post_step(self, step_name: str, flow: Any, exception: Optional[Exception] = None):
            if exception is None and current.get("project_name"):
                record_successful_run(
                    StateStore.for_run(flow),
                    current.flow_name,
                    current.run_id,
                    current.project_name,
                    current.branch_name,
                )
            return exception, None

    return record_latest_run
