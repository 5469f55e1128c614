"""Metaflow's metadata *service* provider for tests: metaflow-local-service on 127.0.0.1.

Production runs use the metadata service (runs listed over HTTP, tags and ``successful``
answered by the service), not the ``local`` provider; tests that take the ``metadata``
fixture run once with each. The server is started by the fixture (nothing for CI to
start) in a child process we own, with its own ``.metaflow`` folder
(``service_metadata_server.py``: the package's app plus one route it lacks).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Dict


class MetadataService:
    def __init__(self, root: Path) -> None:
        from conftest import free_port

        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
        env["HOME"] = str(root)
        self.log = open(root / "service.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("service_metadata_server.py")), str(self.port), str(root)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url + "/ping", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("metaflow-local-service did not start: %s" % (root / "service.log")) from None
                time.sleep(0.1)

    @property
    def env(self) -> Dict[str, str]:
        """What a Metaflow process needs to use this service."""
        return {"METAFLOW_DEFAULT_METADATA": "service", "METAFLOW_SERVICE_URL": self.url}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
