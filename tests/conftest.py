"""Shared fixtures: every test gets its own Metaflow home, user, datastore and metadata."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import pytest

from flowproject.testing.events import Recorder

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: Any) -> None:
    # Flows run in subprocesses import the *installed* flowproject. Putting the checkout
    # on PYTHONPATH instead would also expose its flowproject.egg-info, whose stale file
    # list Metaflow trusts when building code packages (it then leaves modules out).
    # The test process itself needs a Metaflow user (CI runs as root with no $USER); each
    # flow run gets its own from MetaflowSandbox.
    os.environ.setdefault("METAFLOW_USER", "pytest")
    import flowproject

    installed = Path(flowproject.__file__).resolve().parent
    if installed != REPO / "flowproject":
        raise pytest.UsageError(
            "flowproject is imported from %s, not this checkout: run pip install -e '.[dev]' here" % installed
        )


class MetaflowSandbox:
    """An isolated Metaflow world for one test: runs flows and reads results in it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        home = root / "mfhome"
        home.mkdir(parents=True, exist_ok=True)
        self.env = {
            k: v
            for k, v in os.environ.items()
            # Nothing from the developer's own Metaflow or AWS setup leaks in.
            if not k.startswith(
                ("METAFLOW_", "FLOWPROJECT_", "AWS_", "SNOWFLAKE_", "GITHUB_", "CI_COMMIT", "BRANCH_NAME")
            )
        }
        self.env.update(
            {
                "METAFLOW_HOME": str(home),
                "METAFLOW_USER": "tester_%s" % root.name[-8:].replace("-", "_"),
                "METAFLOW_DEFAULT_DATASTORE": "local",
                "METAFLOW_DEFAULT_METADATA": "local",
                "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(root / "datastore"),
                "METAFLOW_CLIENT_CACHE_PATH": str(root / "client_cache"),
                "USERNAME": "tester",
                "PYTHONUNBUFFERED": "1",
            }
        )

    def run(
        self,
        args: Sequence[str],
        cwd: Optional[Path] = None,
        env: Optional[Dict[str, str]] = None,
        timeout: int = 300,
    ) -> subprocess.CompletedProcess:
        full_env = dict(self.env, **(env or {}))
        return subprocess.run(
            [sys.executable, *map(str, args)],
            cwd=str(cwd or self.root),
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def run_ok(self, args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess:
        proc = self.run(args, **kwargs)
        assert proc.returncode == 0, "command failed: %s\nSTDOUT:\n%s\nSTDERR:\n%s" % (
            " ".join(map(str, args)),
            proc.stdout[-4000:],
            proc.stderr[-4000:],
        )
        return proc

    def client(self, code: str, env: Optional[Dict[str, str]] = None, cwd: Optional[Path] = None) -> Any:
        """Run Client API code in this sandbox; the code sets ``result`` (JSON-able)."""
        script = (
            "import json\nfrom metaflow import *\n%s\nprint('@@RESULT@@' + json.dumps(result))\n"
            % textwrap.dedent(code)
        )
        proc = self.run_ok(["-c", script], env=env, cwd=cwd)
        line = [line for line in proc.stdout.splitlines() if line.startswith("@@RESULT@@")][-1]
        return json.loads(line[len("@@RESULT@@") :])


@pytest.fixture
def sandbox(tmp_path: Path) -> MetaflowSandbox:
    return MetaflowSandbox(tmp_path)


def two_step_flow(name: str, *, scheduled: bool = False) -> str:
    """The text of the smallest flow file: a BaseFlow ``name`` with start and end
    (``@scheduled`` on request)."""
    return (
        "from metaflow import step\n"
        "from flowproject import BaseFlow%s\n\n\n%s"
        "class %s(BaseFlow):\n"
        "    @step\n    def start(self):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n\n\n"
        'if __name__ == "__main__":\n    %s()\n'
    ) % (", scheduled" if scheduled else "", "@scheduled\n" if scheduled else "", name, name)


def sensor_project(root: Path, toml: str, first_file: str = "1,2,3\n") -> Path:
    """A project with this repository's SensorFlow watching ``watched/`` (one file, ``a.csv``)."""
    import shutil

    write_project(root, toml, {})
    shutil.copy(REPO / "flows" / "sensor.flow.py", root / "flows" / "sensor.flow.py")
    (root / "watched").mkdir()
    (root / "watched" / "a.csv").write_text(first_file)
    return root


def write_project(root: Path, toml: str, flows: Dict[str, str]) -> Path:
    """A throwaway user project: ``flowproject.toml`` plus ``flows/<name>``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "flowproject.toml").write_text(textwrap.dedent(toml))
    (root / "flows").mkdir(exist_ok=True)
    for name, source in flows.items():
        (root / "flows" / name).write_text(textwrap.dedent(source))
    return root


class S3Server:
    """moto's S3 API server on 127.0.0.1, shared by the session; one bucket per test."""

    def __init__(self, port: int) -> None:
        self.endpoint = "http://127.0.0.1:%d" % port
        self.env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
            "METAFLOW_S3_ENDPOINT_URL": self.endpoint,
        }

    def client(self, service: str = "s3"):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def datastore_env(self, bucket: str, root: str = "metaflow") -> Dict[str, str]:
        """This server's variables, with Metaflow's datastore in ``s3://<bucket>/<root>``."""
        return dict(
            self.env, METAFLOW_DEFAULT_DATASTORE="s3", METAFLOW_DATASTORE_SYSROOT_S3="s3://%s/%s" % (bucket, root)
        )

    def new_bucket(self, prefix: str = "bucket") -> str:
        import uuid

        name = "%s-%s" % (prefix, uuid.uuid4().hex[:12])
        self.client().create_bucket(Bucket=name)
        return name


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    import logging

    from moto.server import ThreadedMotoServer

    # moto logs every request at INFO; keep test output readable.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(port)
    finally:
        server.stop()


def run_id_of(proc: subprocess.CompletedProcess) -> str:
    """The run id Metaflow announced in a `run` command's output."""
    import re

    match = re.search(r"run-id (\S+?)\)", proc.stdout + proc.stderr)
    assert match, "no run id in output:\n%s" % (proc.stdout + proc.stderr)[-2000:]
    return match.group(1)


class WebhookReceiver(Recorder):
    """The suite's Argo Events webhook stand-in: flowproject.testing's recorder, whose
    accepted events are ``events``; ``status`` sets its answer."""

    @property
    def events(self) -> list:
        return self.received


@pytest.fixture
def webhook():
    receiver = WebhookReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


@pytest.fixture(params=["local", "service"])
def metadata(request, sandbox: MetaflowSandbox, tmp_path: Path):
    """Run the test with Metaflow's ``local`` metadata and again with the metadata service.

    Updates ``sandbox.env``; yields the provider name.
    """
    if request.param == "local":
        yield "local"
        return
    # The same server the users' pytest plugin starts (flowproject.testing), one per test.
    from flowproject.testing.servers import metadata_service, metadata_service_env

    service = metadata_service(tmp_path / "metadata_service")
    sandbox.env.update(metadata_service_env(service))
    try:
        yield "service"
    finally:
        service.close()


DOCS = REPO / "docs"


def doc_text(page: str) -> str:
    """The text of a documentation page: ``README.md`` or a page of ``docs/`` (``"sensor.md"``)."""
    return (REPO / page if page == "README.md" else DOCS / page).read_text(encoding="utf-8")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # A test's record_property("summary", line) (the config fuzz test's counts) printed at the
    # end of the run: xdist ships user_properties from the workers, captured prints it drops.
    lines = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "summary"
    ]
    if lines:
        terminalreporter.write_sep("-", "summaries")
        for line in lines:
            terminalreporter.write_line(line)
