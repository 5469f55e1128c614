"""Stand-ins on 127.0.0.1 a test's flows talk to: moto's S3, fakesnow, the metadata service.

Each runs for one test (its state is part of that test's world) in a child process or
thread we own, and is stopped when the test ends.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Optional

# A server that has not answered in this long is reported with its log, not waited for.
START_SECONDS = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_answering(url: str, proc: Optional[subprocess.Popen], log: Path, what: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # answering, even if with an error status
        except OSError:
            if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
                raise RuntimeError("%s did not start on 127.0.0.1 (log: %s)" % (what, log)) from None
            time.sleep(0.1)


class ChildServer:
    """A server in a child process with its own log file, stopped by ``close``."""

    def __init__(self, args, root: Path, what: str, probe: str = "/") -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = root / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("METAFLOW_", "AWS_", "SNOWFLAKE_"))}
        env["HOME"] = str(root)  # whatever it writes under ~ stays in the test's folder
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, *[str(a).replace("{port}", str(self.port)) for a in args]],
            cwd=str(root),
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_answering(self.url + probe, self.proc, self.log_path, what)
        except RuntimeError:
            self.close()
            raise

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def metadata_service(root: Path) -> ChildServer:
    """metaflow-local-service (with the one route it lacks) on 127.0.0.1."""
    return ChildServer(
        ["-m", "flowproject.testing.metadata_server", "{port}", str(root)], root, "metadata service", "/ping"
    )


def metadata_service_env(server: ChildServer) -> Dict[str, str]:
    return {"METAFLOW_DEFAULT_METADATA": "service", "METAFLOW_SERVICE_URL": server.url}


class S3Server:
    """moto's S3 API server in a thread of the test process."""

    def __init__(self) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one INFO line per request
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.url,
            "METAFLOW_S3_ENDPOINT_URL": self.url,
        }

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def close(self) -> None:
        self._server.stop()


def fakesnow(root: Path) -> ChildServer:
    """fakesnow's Snowflake API in its own process (it patches only the process it runs in)."""
    return ChildServer(["-m", "fakesnow", "-s", "-p", "{port}"], root, "fakesnow")


def fakesnow_env(server: ChildServer) -> Dict[str, str]:
    """What flowproject's Snowflake connection reads to reach fakesnow (it checks no password)."""
    return {
        "SNOWFLAKE_ACCOUNT": "fakesnow",
        "SNOWFLAKE_USER": "fake",
        "SNOWFLAKE_PASSWORD": "fake-password",
        "SNOWFLAKE_HOST": "127.0.0.1",
        "SNOWFLAKE_PORT": str(server.port),
        "SNOWFLAKE_PROTOCOL": "http",
    }
