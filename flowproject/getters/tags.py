"""Tags as opinions: mark a run ("champion") and find the newest successful run carrying a tag.

Artifacts are facts, tags are opinions: a user tag can be put on a run, moved to another
run or removed long after the run finished, without touching what it produced.

Finding "the newest successful run with tag T in this branch" through Metaflow's Client
means listing every run of the flow (``Flow(name).runs(tag)`` filters on the client), so it
grows with history. ``tag_run`` therefore also keeps a small index object in the datastore,
one per (flow, project, tag): the runs it put the tag on. A lookup reads the index and
checks each listed run's *real* tags, success and system (project/branch) tags, so a stale
index can cost time, never return a wrong run:

- index missing, or an entry whose run is gone or no longer carries the tag (someone
  removed it with the Client): the lookup falls back to listing runs;
- a tag added another way (``Run.add_tag`` directly, ``run --tag``) is not in the index:
  ``flowproject tag`` the run once to index it.
"""

from __future__ import annotations

import hashlib
import json
import time
from io import BytesIO
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from ..errors import FlowprojectError
from .runs import ANY_BRANCH, any_namespace

if TYPE_CHECKING:  # pragma: no cover
    from metaflow import Run

# Beside flowproject.getters.runs' pointers (`<Flow>/_flowproject/latest/...`): a folder without
# `_meta/_self.json` is never mistaken for a run by the local metadata provider.
INDEX_PREFIX = "_flowproject/tags"
# Tags that would let a user tag pose as Metaflow's own project/branch system tags.
RESERVED_PREFIXES = ("project:", "project_branch:")


class TagError(FlowprojectError):
    headline = "Cannot tag run"


def _index_path(flow_name: str, project: str, tag: str) -> str:
    # A tag may hold any character (up to 500 of them); its digest is a safe key name.
    digest = hashlib.sha256(tag.encode("utf-8")).hexdigest()[:32]
    return "%s/%s/%s/%s.json" % (flow_name, INDEX_PREFIX, project, digest)


def _storage():
    # The same datastore flowproject.getters.runs keeps its pointers in (the configured default).
    from metaflow.metaflow_config import DEFAULT_DATASTORE
    from metaflow.plugins import DATASTORES

    impl = next(d for d in DATASTORES if d.TYPE == DEFAULT_DATASTORE)
    return impl(impl.get_datastore_root_from_config(lambda *a, **k: None))


def read_index(flow_name: str, project: str, tag: str) -> Optional[List[Dict[str, Any]]]:
    """The index entries (``run_id``, ``created_at``), newest first; None when there is
    no index or it cannot be parsed (both mean: list runs instead)."""
    with _storage().load_bytes([_index_path(flow_name, project, tag)]) as loaded:
        for _key, path, _meta in loaded:
            if path is None:
                return None
            try:
                with open(path, "rb") as f:
                    body = json.loads(f.read().decode("utf-8"))
                entries = [e for e in body["runs"] if isinstance(e.get("run_id"), str)]
            except (ValueError, KeyError, TypeError, AttributeError):
                return None  # corrupt: an index is a speed-up, never a point of failure
            return sorted(entries, key=lambda e: e.get("created_at") or 0, reverse=True)
    return None


def _write_index(flow_name: str, project: str, tag: str, entries: List[Dict[str, Any]]) -> None:
    body = json.dumps({"flow": flow_name, "project": project, "tag": tag, "updated_at": time.time(), "runs": entries})
    _storage().save_bytes(iter([(_index_path(flow_name, project, tag), BytesIO(body.encode("utf-8")))]), overwrite=True)


def _entry(run: Run) -> Dict[str, Any]:
    return {"run_id": run.id, "created_at": run.created_at.timestamp()}


def _project_of(run: Run) -> str:
    projects = [t.split(":", 1)[1] for t in run.system_tags if t.startswith("project:")]
    if not projects:
        raise TagError("%s is not a run of a @project flow (no project: system tag)" % run.pathspec)
    return projects[0]


def parse_pathspec(pathspec: str) -> tuple[str, str]:
    """``"TrainFlow/123"`` -> ``("TrainFlow", "123")``; anything else is a TagError."""
    parts = pathspec.split("/")
    if len(parts) != 2 or not all(parts):
        raise TagError("expected FLOW/RUN_ID (for example TrainFlow/1712345), got %r" % pathspec)
    return parts[0], parts[1]


def tag_run(flow_name: str, run_id: str, tag: str, *, move: bool = False) -> List[str]:
    """Add user tag ``tag`` to run ``flow_name/run_id`` and index it.

    With ``move`` the tag is removed from every other run of the flow in the run's
    project (every branch), so the tag has one holder. Returns the pathspecs the tag was
    removed from. Raises TagError for a missing run, a run outside a project or a tag
    Metaflow refuses.
    """
    from metaflow import Flow, Run
    from metaflow.exception import MetaflowNotFound, MetaflowTaggingError

    if tag.startswith(RESERVED_PREFIXES):
        raise TagError(
            "tag %r looks like a Metaflow system tag (%s...); choose another" % (tag, "/".join(RESERVED_PREFIXES))
        )
    with any_namespace():
        try:
            run = Run("%s/%s" % (flow_name, run_id))
        except MetaflowNotFound:
            raise TagError("no run %s/%s" % (flow_name, run_id)) from None
        project = _project_of(run)
        try:
            run.add_tag(tag)
        except MetaflowTaggingError as e:
            raise TagError("%s: %s" % (run.pathspec, str(e).strip().splitlines()[-1])) from None
        moved: List[str] = []
        if move:
            # The listing is the truth here (a tag added outside flowproject is moved too);
            # tagging is rare, lookups are what must stay fast.
            for other in Flow(flow_name).runs("project:%s" % project, tag):
                if other.id != run.id:
                    other.remove_tag(tag)
                    moved.append(other.pathspec)
            entries = [_entry(run)]
        else:
            entries = [e for e in (read_index(flow_name, project, tag) or []) if e["run_id"] != run.id]
            entries.append(_entry(run))
        _write_index(flow_name, project, tag, entries)
    return moved


def _in_scope(run: Run, project: str, branch: str) -> bool:
    # System tags only: a user tag "project_branch:prod" cannot move a run into prod.
    wanted = {"project:%s" % project}
    if branch != ANY_BRANCH:
        wanted.add("project_branch:%s" % branch)
    return wanted <= set(run.system_tags)


def latest_tagged_run(flow_name: str, tag: str, *, project: str, branch: str) -> Optional[Run]:
    """The newest successful run of ``flow_name`` carrying user tag ``tag`` in ``project``
    and project ``branch`` (``"any"``: the whole project), or None.

    Reads the index first; lists the flow's runs only when the index is missing or
    stale (see the module docstring). The caller's Client namespace is unchanged.
    """
    from metaflow import Flow, Run
    from metaflow.exception import MetaflowNotFound

    with any_namespace():
        entries = read_index(flow_name, project, tag)
        stale = entries is None
        for entry in entries or []:
            try:
                run = Run("%s/%s" % (flow_name, entry["run_id"]))
            except MetaflowNotFound:
                stale = True
                continue
            if tag not in run.user_tags:
                stale = True
                continue
            if _in_scope(run, project, branch) and run.successful:
                return run
        if not stale:
            return None  # every indexed holder is real and none fits: no listing needed
        tags = ["project:%s" % project, tag]
        if branch != ANY_BRANCH:
            tags.append("project_branch:%s" % branch)
        try:
            runs = Flow(flow_name).runs(*tags)
        except MetaflowNotFound:
            return None
        for run in runs:
            if tag in run.user_tags and _in_scope(run, project, branch) and run.successful:
                return run
    return None
