"""Small JSON records (pointers, leases) in a run's own Metaflow datastore.

Metaflow's datastore API can save and load, but not create a key only if it is absent or
delete one, which a lease needs; so this talks to the two backends flowproject supports
directly: a local folder (``O_EXCL``) and S3 (``put_object(IfNoneMatch="*")``). Every
record lives under the datastore root the run itself uses (its ``--datastore`` and
``--datastore-root``), so a run with ``--datastore s3`` keeps its records in S3 even when
the default datastore is local.

Errors are ``StateStoreError`` with the location in the message; callers decide whether
a failure costs time (a pointer) or means "unknown" (a lease).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional

from ..errors import FlowprojectError, warn

# Below each flow's folder, like Metaflow's own `latest_run` file: the local metadata
# provider never mistakes a folder without `_meta/_self.json` for a run.
RECORDS_DIR = "_flowproject"


class StateStoreError(FlowprojectError):
    headline = "Datastore record unavailable"


class StateStore:
    """Records below one datastore root; ``key`` is ``<Flow>/_flowproject/...``."""

    def __init__(self, ds_type: str, root: str) -> None:
        self.ds_type, self.root = ds_type, root.rstrip("/")
        self._s3 = None

    # -- where ------------------------------------------------------------------------

    @classmethod
    def for_run(cls, flow: Any) -> Optional[StateStore]:
        """The store of a running flow (inside a step), from its own task datastore."""
        storage = getattr(getattr(flow, "_datastore", None), "_storage_impl", None)
        if storage is None:
            return None
        return cls(storage.TYPE, storage.datastore_root)

    @classmethod
    def configured(cls) -> Optional[StateStore]:
        """Outside a run: the default datastore of the Metaflow config, if it has a root."""
        from metaflow.metaflow_config import DEFAULT_DATASTORE
        from metaflow.plugins import DATASTORES

        impl = next((d for d in DATASTORES if d.TYPE == DEFAULT_DATASTORE), None)
        if impl is None:
            return None
        root = impl.get_datastore_root_from_config(lambda *a, **k: None, create_on_absent=False)
        return cls(DEFAULT_DATASTORE, root) if root else None

    @property
    def supported(self) -> bool:
        return self.ds_type in ("local", "s3")

    def uri(self, key: str) -> str:
        return "%s/%s" % (self.root, key)

    # -- operations -------------------------------------------------------------------

    def read_json(self, key: str) -> Optional[Dict[str, Any]]:
        """The record, or None when absent. Unreadable or not a JSON object: StateStoreError."""
        raw = self._read(key)
        if raw is None:
            return None
        try:
            record = json.loads(raw.decode("utf-8"))
        except ValueError as e:
            raise StateStoreError("%s is not valid JSON (%s)" % (self.uri(key), e)) from None
        if not isinstance(record, dict):
            raise StateStoreError("%s is not a JSON object" % self.uri(key))
        return record

    def write_json(self, key: str, record: Dict[str, Any]) -> None:
        self._write(key, _encode(record), exclusive=False)

    def create_json(self, key: str, record: Dict[str, Any]) -> bool:
        """Write ``record`` only if ``key`` is absent; False when it already exists."""
        return self._write(key, _encode(record), exclusive=True)

    def read_bytes(self, key: str) -> Optional[bytes]:
        """The record's bytes, or None when absent (item manifests are not JSON)."""
        return self._read(key)

    def create_bytes(self, key: str, body: bytes) -> bool:
        """Write ``body`` only if ``key`` is absent (content-addressed blobs); False if it exists."""
        return self._write(key, body, exclusive=True)

    def list_names(self, folder: str) -> List[str]:
        """The names of the records directly below ``folder`` (sorted; none when absent)."""
        if self.ds_type == "local":
            path = self._local_path(folder)
            try:
                return sorted(n for n in os.listdir(path) if not n.endswith((".tmp", ".lock")))
            except FileNotFoundError:
                return []
            except OSError as e:
                raise StateStoreError("cannot list %s: %s" % (self.uri(folder), e.strerror)) from None
        if self.ds_type == "s3":
            client, error = self._s3_client()
            bucket, prefix = self._s3_location(folder)
            names: List[str] = []
            try:
                for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
                    names.extend(o["Key"][len(prefix) + 1 :] for o in page.get("Contents", []))
            except error as e:
                raise StateStoreError("cannot list %s: %s" % (self.uri(folder), _s3_code(e))) from None
            return sorted(n for n in names if "/" not in n)
        raise StateStoreError("the %s datastore is not supported for %s" % (self.ds_type, self.uri(folder)))

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Mutual exclusion for a read-compare-replace of ``key`` among local processes.

        A takeover reads an expired record and replaces it; without the lock a racer can
        delete the record another racer has just created. S3 has no such lock: there the
        conditional create alone decides, as before.
        """
        if self.ds_type != "local":
            yield
            return
        path = self._local_path(key) + ".lock"
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StateStoreError("cannot lock %s: %s" % (self.uri(key), e.strerror)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def delete(self, key: str) -> None:
        if self.ds_type == "local":
            try:
                os.unlink(self._local_path(key))
            except FileNotFoundError:
                pass
            except OSError as e:
                raise StateStoreError("cannot delete %s: %s" % (self.uri(key), e.strerror)) from None
        elif self.ds_type == "s3":
            client, error = self._s3_client()
            bucket, path = self._s3_location(key)
            try:
                client.delete_object(Bucket=bucket, Key=path)
            except error as e:
                raise StateStoreError("cannot delete %s: %s" % (self.uri(key), _s3_code(e))) from None
        else:
            raise StateStoreError("the %s datastore is not supported for %s" % (self.ds_type, self.uri(key)))

    # -- backends ---------------------------------------------------------------------

    def _local_path(self, key: str) -> str:
        return os.path.join(self.root, *key.split("/"))

    def _s3_location(self, key: str):
        from urllib.parse import urlparse

        parsed = urlparse(self.root)
        prefix = parsed.path.strip("/")
        return parsed.netloc, "%s/%s" % (prefix, key) if prefix else key

    def _s3_client(self):
        if self._s3 is None:
            from metaflow.plugins.datatools.s3.s3util import get_s3_client

            self._s3 = get_s3_client()
        return self._s3

    def _read(self, key: str) -> Optional[bytes]:
        if self.ds_type == "local":
            try:
                with open(self._local_path(key), "rb") as f:
                    return f.read()
            except FileNotFoundError:
                return None
            except OSError as e:
                raise StateStoreError("cannot read %s: %s" % (self.uri(key), e.strerror)) from None
        if self.ds_type == "s3":
            client, error = self._s3_client()
            bucket, path = self._s3_location(key)
            try:
                return client.get_object(Bucket=bucket, Key=path)["Body"].read()
            except error as e:
                code = _s3_code(e)
                # Without s3:ListBucket, S3 answers a missing key with 403, not 404.
                if code in ("NoSuchKey", "404", "403", "AccessDenied"):
                    return None
                raise StateStoreError("cannot read %s: %s" % (self.uri(key), code)) from None
        raise StateStoreError("the %s datastore is not supported for %s" % (self.ds_type, self.uri(key)))

    def _write(self, key: str, body: bytes, exclusive: bool) -> bool:
        if self.ds_type == "local":
            path = self._local_path(key)
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                # Write aside, then move into place, so a reader never sees half a record:
                # an O_EXCL create is visible empty until its write, and a racing lease
                # reader took that for an unreadable, expired lease.
                tmp = "%s.%d.%s.tmp" % (path, os.getpid(), uuid.uuid4().hex[:8])
                with open(tmp, "wb") as f:
                    f.write(body)
                if not exclusive:
                    os.replace(tmp, path)
                    return True
                try:
                    os.link(tmp, path)  # fails with FileExistsError when path exists
                finally:
                    os.unlink(tmp)
                return True
            except FileExistsError:
                if exclusive:
                    return False
                raise StateStoreError("cannot write %s: a file is in the way" % self.uri(key)) from None
            except OSError as e:
                raise StateStoreError("cannot write %s: %s" % (self.uri(key), e.strerror)) from None
        if self.ds_type == "s3":
            client, error = self._s3_client()
            bucket, path = self._s3_location(key)
            extra = {"IfNoneMatch": "*"} if exclusive else {}
            try:
                client.put_object(Bucket=bucket, Key=path, Body=body, **extra)
                return True
            except error as e:
                code = _s3_code(e)
                if exclusive and code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                    return False
                raise StateStoreError("cannot write %s: %s" % (self.uri(key), code)) from None
        raise StateStoreError("the %s datastore is not supported for %s" % (self.ds_type, self.uri(key)))


def _encode(record: Dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True).encode("utf-8")


def _s3_code(e: Exception) -> str:
    response = getattr(e, "response", None) or {}
    return str(response.get("Error", {}).get("Code") or e)


def read_index(
    store: Optional[StateStore], key: str, problem: Callable[[Dict[str, Any]], Optional[str]]
) -> Optional[Dict[str, Any]]:
    """An index record, or None when absent, unreadable or invalid (with a warning).

    ``problem(record)`` says what is wrong with a record that parsed, or None. Every None
    means the caller lists runs instead: an index costs time when broken, never a run.
    """
    if store is None or not store.supported:
        return None
    try:
        record = store.read_json(key)
    except StateStoreError as e:
        warn("%s; using the run listing instead" % e)
        return None
    if record is None:
        return None
    wrong = problem(record)
    if wrong:
        warn("%s %s; using the run listing instead" % (store.uri(key), wrong))
        return None
    return record
