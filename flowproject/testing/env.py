"""``flowproject_env``: one isolated Metaflow per test, and the servers the project needs.

Per test: its own ``METAFLOW_HOME`` (no ``~/.metaflowconfig`` profile is read), datastore
root (local metadata goes beside it, never into the repository's ``.metaflow``), client
cache and ``METAFLOW_USER``; the metadata service when asked for; moto's S3 or fakesnow
when ``[data] type`` is ``s3`` or ``snowflake``. Every path is under the test's own
temporary folder, so tests run side by side under ``pytest -n``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

# The developer's own Metaflow, cloud and CI settings never reach a test's runs.
FOREIGN_PREFIXES = ("METAFLOW_", "FLOWPROJECT_", "AWS_", "SNOWFLAKE_", "GITHUB_", "CI_COMMIT", "BRANCH_NAME")
METADATA_KINDS = ("local", "service")


class FlowprojectEnv:
    """The isolated world of one test: ``env`` is what every flow run gets."""

    def __init__(self, tmp: Path, project_root: Path, cfg: Dict[str, Any], metadata: str = "local") -> None:
        if metadata not in METADATA_KINDS:
            raise ValueError("flowproject metadata: expected local or service, got %r" % metadata)
        self.tmp = tmp
        self.root = project_root
        self.cfg = cfg
        self.project = cfg["project_name"]
        self.metadata = metadata
        # A Metaflow user name: letters, digits and _ only (it becomes the user branch).
        self.user = "tester_" + re.sub(r"[^a-z0-9_]", "_", tmp.name.lower())[-12:]
        self.branch = "user.%s" % self.user
        self.datastore = tmp / "datastore"
        self._closers: List[Any] = []
        self.s3: Optional[Any] = None
        self.env: Dict[str, str] = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
        home = tmp / "metaflow_home"
        home.mkdir(parents=True, exist_ok=True)
        (self.datastore / ".metaflow").mkdir(parents=True, exist_ok=True)  # the Client looks for it
        self.env.update(
            {
                "METAFLOW_HOME": str(home),
                "METAFLOW_USER": self.user,
                "METAFLOW_DEFAULT_DATASTORE": "local",
                "METAFLOW_DEFAULT_METADATA": "local",
                "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(self.datastore),
                "METAFLOW_CLIENT_CACHE_PATH": str(tmp / "client_cache"),
                "PYTHONUNBUFFERED": "1",
            }
        )

    def start_servers(self) -> None:
        """Start what this test's flows talk to (closed by ``close``)."""
        from . import servers

        if self.metadata == "service":
            service = servers.metadata_service(self.tmp / "metadata_service")
            self._closers.append(service)
            self.env.update(servers.metadata_service_env(service))
        kind = self.cfg["data"]["type"]
        if kind == "s3":
            self.s3 = servers.S3Server()
            self._closers.append(self.s3)
            self.env.update(self.s3.env)
            bucket = str(self.cfg["data"].get("bucket") or "")
            bucket = bucket[len("s3://") :] if bucket.startswith("s3://") else bucket
            if bucket:
                self.s3.client().create_bucket(Bucket=bucket.split("/", 1)[0])
        elif kind == "snowflake":
            snow = servers.fakesnow(self.tmp / "fakesnow")
            self._closers.append(snow)
            self.env.update(servers.fakesnow_env(snow))

    def apply(self, monkeypatch: Any) -> None:
        """Make this world the test process's own too (the Client, the rules, the watcher)."""
        for key in list(os.environ):
            if key not in self.env:
                monkeypatch.delenv(key)
        for key, value in self.env.items():
            monkeypatch.setenv(key, value)
        import metaflow.client.core as client_core
        import metaflow.client.filecache as filecache

        # Metaflow read its config when first imported; the Client must not keep the
        # previous test's cache or metadata.
        monkeypatch.setattr(filecache, "CLIENT_CACHE_PATH", self.env["METAFLOW_CLIENT_CACHE_PATH"])
        monkeypatch.setattr(client_core, "filecache", None)
        from metaflow.plugins.datastores.local_storage import LocalStorage

        # Recorded first, so that the test's end puts the previous provider back.
        monkeypatch.setattr(client_core, "current_metadata", client_core.current_metadata)
        monkeypatch.setattr(LocalStorage, "datastore_root", LocalStorage.datastore_root)
        client_core.metadata(self.metadata_spec)

    @property
    def metadata_spec(self) -> str:
        """The Client's ``metadata()`` argument for this world."""
        if self.metadata == "service":
            return "service@%s" % self.env["METAFLOW_SERVICE_URL"]
        return "local@%s" % self.datastore

    def close(self) -> None:
        while self._closers:
            self._closers.pop().close()
