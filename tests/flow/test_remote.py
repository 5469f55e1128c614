"""Remote-ready: a step runs from the code package alone, the way a Kubernetes pod runs it.

The package is saved with `package save`, unpacked into an empty folder (no repository, no
flowproject.toml, flowproject importable only from the package), and its steps are run
with the config arriving as METAFLOW_FLOW_CONFIG_VALUE and PYTHONPATH the package, as in
the Argo template Metaflow renders.
"""

from __future__ import annotations

import os
import shutil
import site
import tarfile

import pytest
from conftest import REPO, write_project

RUN = "argo-sensorflow-pod"


def unpack_package(sandbox, project, tmp_path, env=None):
    (project / "sql").mkdir(exist_ok=True)
    shutil.copy(REPO / "sql" / "sensor.sql", project / "sql" / "sensor.sql")
    tar = tmp_path / "job.tar"
    sandbox.run_ok(["flows/sensor.flow.py", "--branch", "pod", "package", "save", tar], cwd=project, env=env)
    pod = tmp_path / "pod"
    pod.mkdir()
    with tarfile.open(tar) as archive:
        archive.extractall(pod)
    return pod


def pod_env(sandbox, pod, extra=None):
    env = dict(sandbox.env)
    env.update(extra or {})
    # What the Argo template sets: the config comes from the package, code from .mf_code.
    # Python runs with -S (below) and only site-packages' plain paths, so the editable
    # install of this checkout (a .pth import hook) cannot supply a module the package
    # lacks: the pod has no flowproject but the packaged one.
    env["PYTHONPATH"] = os.pathsep.join([str(pod / ".mf_code"), *site.getsitepackages()])
    env["METAFLOW_FLOW_CONFIG_VALUE"] = '{"flowconfig": "kv.flowconfig"}'
    env["PYTHONNOUSERSITE"] = "1"
    # Set by the pod's bootstrap (MetaflowCodeContent.get_post_extract_env_vars): where the
    # package was unpacked. Metaflow 2.19.24 (the floor) needs it to find .mf_meta/CONFIG;
    # later versions also look beside .mf_code.
    env["METAFLOW_EXTRACTED_ROOT"] = str(pod)
    return env


def pod_steps(sandbox, pod, env, event):
    top = [
        "sensor.flow.py",
        "--branch",
        "pod",
        "--quiet",
        "--no-pylint",
        "--metadata=local",
        "--datastore=local",
        "--environment=local",
    ]
    run_pod = lambda args: sandbox.run(["-S", *args], cwd=pod, env=env)  # noqa: E731 - tiny local helper
    init = run_pod([*top, "init", "--run-id", RUN, "--task-id", "t-params", "--sensor-event", event])
    assert init.returncode == 0, init.stderr
    start = run_pod(
        [
            *top,
            "step",
            "start",
            "--run-id",
            RUN,
            "--task-id",
            "t-start",
            "--retry-count",
            "0",
            "--max-user-code-retries",
            "0",
            "--input-paths",
            "%s/_parameters/t-params" % RUN,
        ]
    )
    assert start.returncode == 0, start.stdout + start.stderr
    end = run_pod(
        [
            *top,
            "step",
            "end",
            "--run-id",
            RUN,
            "--task-id",
            "t-end",
            "--retry-count",
            "0",
            "--max-user-code-retries",
            "0",
            "--input-paths",
            "%s/start/t-start" % RUN,
        ]
    )
    assert end.returncode == 0, end.stdout + end.stderr
    return start, end


def check_pod_imports(sandbox, pod, env):
    probe = sandbox.run_ok(
        [
            "-S",
            "-c",
            "import flowproject, os; from flowproject.config.templates import template_path;"
            "print(flowproject.__file__); print(template_path('sensor'))",
        ],
        cwd=pod,
        env=env,
    )
    module_file, template = probe.stdout.split()
    assert module_file == str(pod / ".mf_code" / "flowproject" / "__init__.py")
    assert template == str(pod / ".mf_code" / "sql" / "sensor.sql")


def test_sensorflow_runs_from_its_code_package_with_the_local_source(sandbox, tmp_path):
    project = write_project(
        tmp_path / "proj",
        """
        project_name = "podproj"
        [data]
        path = "watched"
        [sensor]
        event_name = "pod_event"
    """,
        {},
    )
    shutil.copy(REPO / "flows" / "sensor.flow.py", project / "flows")
    (project / "watched").mkdir()
    (project / "watched" / "a.txt").write_text("hello")
    pod = unpack_package(sandbox, project, tmp_path)
    listing = sorted(str(p.relative_to(pod)) for p in pod.rglob("*") if "metaflow" not in p.parts)
    assert "sensor.flow.py" in listing and ".mf_code/sql/sensor.sql" in listing
    assert ".mf_meta/CONFIG" in listing
    # Every module of the library travels, not only those Metaflow saw imported.
    library = sorted(".mf_code/%s" % p.relative_to(REPO).as_posix() for p in (REPO / "flowproject").rglob("*.py"))
    assert [f for f in library if f not in listing] == []
    assert not any(name.endswith("flowproject.toml") for name in listing)

    env = pod_env(sandbox, pod)
    check_pod_imports(sandbox, pod, env)
    start, end = pod_steps(sandbox, pod, env, "mfns.podproj.test.pod.pod_event")
    assert "%s: 1 file, 5 bytes" % (project / "watched") in start.stdout
    assert "changed=True; previous=None" in start.stdout
    assert "Event mfns.podproj.test.pod.pod_event NOT sent: no webhook configured" in end.stdout


def test_sensorflow_runs_from_its_code_package_with_the_s3_source(sandbox, s3_server, tmp_path):
    bucket = s3_server.new_bucket("pod")
    s3_server.client().put_object(Bucket=bucket, Key="landing/one.csv", Body=b"1,2\n")
    project = write_project(
        tmp_path / "proj",
        """
        project_name = "podproj"
        [data]
        type = "s3"
        bucket = "%s"
        key = "landing/"
        [sensor]
        event_name = "pod_event"
    """
        % bucket,
        {},
    )
    shutil.copy(REPO / "flows" / "sensor.flow.py", project / "flows")
    pod = unpack_package(sandbox, project, tmp_path)
    env = pod_env(sandbox, pod, s3_server.env)
    start, _ = pod_steps(sandbox, pod, env, "mfns.podproj.test.pod.pod_event")
    assert "s3://%s/landing/: 1 file, 4 bytes" % bucket in start.stdout


SOURCE_SPY_FLOW = '''
from metaflow import StepMutator, step
from flowproject import BaseFlow, requires_source


class Spy(StepMutator):
    """Outermost, so it sees what @requires_source decided."""

    def mutate(self, mutable_step):
        found = [kw.get("packages") for n, _, _, kw in mutable_step.decorator_specs if n == "pypi"]
        print("SPY %r" % (found,))


class SourceFlow(BaseFlow):
    @Spy
    @requires_source
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SourceFlow()
'''


@pytest.mark.parametrize(
    "data,expected",
    [
        ('type = "s3"\nbucket = "b"\nkey = "k/"', "SPY [{'boto3': '>=1.28'}]"),
        ('type = "snowflake"\ntemplate = "sensor"', "SPY [{'snowflake-connector-python': '>=3.6'}]"),
        ('type = "local"', "SPY []"),
    ],
    ids=["s3", "snowflake", "local"],
)
def test_observing_step_gets_its_sources_packages_under_pypi(sandbox, tmp_path, data, expected):
    project = write_project(
        tmp_path / "proj", 'project_name = "deps"\n[data]\n%s\n' % data, {"source.flow.py": SOURCE_SPY_FLOW}
    )
    # Templates come only from the project's own sql/ (validated when the config is read).
    (project / "sql").mkdir()
    shutil.copy(REPO / "sql" / "sensor.sql", project / "sql" / "sensor.sql")
    # The versions are pyproject.toml's extras, not literals in a decorator.
    shown = sandbox.run_ok(["flows/source.flow.py", "--environment=pypi", "show"], cwd=project).stdout
    assert expected in shown
    plain = sandbox.run_ok(["flows/source.flow.py", "show"], cwd=project).stdout
    assert "SPY []" in plain
