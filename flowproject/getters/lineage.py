"""What a run read and what started it: recorded as an artifact and in a datastore index.

Every BaseFlow step ends by merging into the ``lineage_inputs`` artifact the inputs seen
in that step: the events and finished run in Metaflow's own ``current.trigger`` (so Argo,
``events serve`` and ``--trigger`` record alike) and every run read through
``get_artifact`` / ``latest_successful_run``. Each input appears once. When the end step
succeeds, the run writes its own record ``<Flow>/_flowproject/lineage/<id>/run.json``
and, under each input run, a ``used_by`` entry naming itself: the downward index. The
run's own record is written last, so its presence says the entries were written too; an
absent record is known to be absent and readers fall back to the artifact.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Dict, List, Optional

from ..errors import warn
from .read_branch import remember_running_config
from .store import RECORDS_DIR, StateStore, StateStoreError

LINEAGE_PREFIX = "%s/lineage" % RECORDS_DIR
ARTIFACT = "lineage_inputs"

# Reads made in this process (one step, locally and in a pod): appended by the getters.
_READS: List[Dict[str, Any]] = []


def run_key(flow_name: str, run_id: str) -> str:
    return "%s/%s/%s/run.json" % (flow_name, LINEAGE_PREFIX, run_id)


def used_by_key(flow_name: str, run_id: str, consumer: str) -> str:
    return "%s/%s/%s/used_by/%s.json" % (flow_name, LINEAGE_PREFIX, run_id, consumer.replace("/", "~"))


def note_read(pathspec: str, artifact: Optional[str], how: str, branch: Optional[str] = None) -> None:
    """Remember that this process read ``artifact`` of run ``pathspec`` (chosen by ``how``)."""
    entry: Dict[str, Any] = {"kind": "read", "pathspec": pathspec, "artifacts": [artifact] if artifact else []}
    entry["how"] = how
    if branch:
        entry["branch"] = branch
    _READS.append(entry)


def note_observation(data: Dict[str, Any], fingerprint: Optional[str], summary: Optional[str]) -> None:
    """Remember that this process observed the ``[data]`` table ``data`` (a sensor tick):
    the start of every chain, shown upward as an ``observation`` node."""
    _READS.append(
        {
            "kind": "observation",
            "source": source_label(data),
            "check_mode": data.get("check_mode"),
            "fingerprint": fingerprint,
            "summary": summary,
            "observed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    )


def source_label(data: Dict[str, Any]) -> str:
    """``local:<path>``, ``s3://<bucket>/<key>`` or ``snowflake:<template>``: where a source looks."""
    kind = data.get("type", "local")
    if kind == "s3":
        return "s3://%s/%s" % (data.get("bucket"), data.get("key") or "")
    if kind == "snowflake":
        return "snowflake:%s" % data.get("template")
    return "%s:%s" % (kind, data.get("path"))


def trigger_inputs() -> List[Dict[str, Any]]:
    """The events and finished run in ``current.trigger``, as input entries."""
    from metaflow import current

    trig = current.get("trigger")
    if trig is None:
        return []
    out: List[Dict[str, Any]] = []
    for event in getattr(trig, "events", None) or []:
        if getattr(event, "type", None) == "run":
            continue  # a finished run (@trigger_on_finish): recorded from trig.runs below
        payload = _payload_of(event.name)
        entry = {"kind": "event", "name": event.name, "id": getattr(event, "id", None)}
        if isinstance(payload, dict):
            entry["pathspec"] = payload.get("sensor_run")
            entry["fingerprint"] = payload.get("sensor_fingerprint")
            if payload.get("dedupe_key") is not None:
                entry["dedupe_key"] = payload.get("dedupe_key")
        out.append(entry)
    for run in getattr(trig, "runs", None) or []:
        out.append({"kind": "finished", "pathspec": run.pathspec})
    return out


def _payload_of(name: Optional[str]) -> Optional[Dict[str, Any]]:
    from .payloads import payload_named

    return payload_named(name)


def merge(*groups: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The entries of ``groups`` in order, each once; reads of one run merge their artifacts."""
    out: List[Dict[str, Any]] = []
    for group in groups:
        for entry in group:
            same = next(
                (
                    e
                    for e in out
                    if e["kind"] == entry["kind"]
                    and e.get("pathspec") == entry.get("pathspec")
                    and e.get("name") == entry.get("name")
                    and e.get("how") == entry.get("how")
                    and e.get("fingerprint") == entry.get("fingerprint")
                ),
                None,
            )
            if same is None:
                out.append(
                    dict(entry, artifacts=list(entry.get("artifacts", []))) if "artifacts" in entry else dict(entry)
                )
            elif "artifacts" in entry:
                same["artifacts"] = sorted(set(same.get("artifacts", [])) | set(entry["artifacts"]))
    return out


def write_records(
    store: Optional[StateStore], pathspec: str, inputs: List[Dict[str, Any]], resumed_from: Optional[str] = None
) -> None:
    """The downward entries under each input run, then this run's own record.

    A ``resume``d run (``resumed_from``, the origin run's pathspec) records the inputs of
    the steps it cloned (their ``lineage_inputs`` artifacts) merged with those of the
    steps it ran again: the origin's inputs once, and the origin itself is no input. The
    origin, failed, wrote no record and no entry, so each upstream lists only the resumed run.
    """
    if store is None or not store.supported:
        return
    flow_name, run_id = pathspec.split("/")
    try:
        for entry in inputs:
            upstream = entry.get("pathspec")
            if upstream and upstream.count("/") == 1:
                up_flow, up_id = upstream.split("/")
                store.write_json(used_by_key(up_flow, up_id, pathspec), {"run": pathspec, "kind": entry["kind"]})
        record: Dict[str, Any] = {"run": pathspec, "inputs": inputs, "ended_at": time.time()}
        if resumed_from:
            record["resumed_from"] = resumed_from
        store.write_json(run_key(flow_name, run_id), record)
    except StateStoreError as e:
        warn("%s (the run is not affected; lineage falls back to the run's %s artifact)" % (e, ARTIFACT))


def recorder(is_end: bool = False):
    """The step decorator BaseFlow puts on every step: merges this step's inputs into
    ``lineage_inputs``; the end step's (``is_end``) also writes the index records."""
    return _classes()[1 if is_end else 0]


@functools.cache
def _classes():
    from metaflow import current
    from metaflow.user_decorators.user_step_decorator import UserStepDecorator

    class record_lineage(UserStepDecorator):
        is_end = False

        def pre_step(self, step_name, flow, inputs=None):
            # The module-level getters read [getters] read_branch from the running flow's config.
            remember_running_config(getattr(flow, "flowconfig", None))
            self._before = merge(*[list(getattr(i, ARTIFACT, None) or []) for i in inputs or []])

        def post_step(self, step_name: str, flow: Any, exception: Optional[Exception] = None):
            if exception is not None:
                return exception, None
            previous = self._before or list(getattr(flow, ARTIFACT, None) or [])
            merged = merge(previous, trigger_inputs(), _READS)
            setattr(flow, ARTIFACT, merged)
            if self.is_end:
                origin = current.get("origin_run_id")
                write_records(
                    StateStore.for_run(flow),
                    "%s/%s" % (current.flow_name, current.run_id),
                    merged,
                    resumed_from="%s/%s" % (current.flow_name, origin) if origin else None,
                )
            return exception, None

    class record_lineage_and_index(record_lineage):
        is_end = True

    return record_lineage, record_lineage_and_index
