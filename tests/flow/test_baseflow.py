"""BaseFlow with real Metaflow runs: config discovery, @project, test_mode, packaging."""

from __future__ import annotations

import json
import re

import pytest
from conftest import REPO, write_project

PROBE_FLOW = """
from metaflow import current, step
from flowproject import BaseFlow


class ProbeFlow(BaseFlow):
    @step
    def start(self):
        print("PROBE " + __import__("json").dumps({
            "project": current.project_name,
            "branch": current.branch_name,
            "test_mode": self.test_mode,
            "event_name": self.flowconfig.sensor.event_name,
            "data_path": self.flowconfig.data.path,
        }))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ProbeFlow()
"""

TOML = """
project_name = "probe_proj"
[data]
path = "watched"
[sensor]
event_name = "probe_event"
"""


def probe(proc):
    line = [line for line in proc.stdout.splitlines() if "PROBE " in line][-1]
    return json.loads(line.split("PROBE ", 1)[1])


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path / "proj", TOML, {"probe.flow.py": PROBE_FLOW})


def test_run_from_the_flows_folder(sandbox, project):
    out = probe(sandbox.run_ok(["probe.flow.py", "run"], cwd=project / "flows"))
    assert out["project"] == "probe_proj"
    assert out["event_name"] == "probe_event"
    assert out["data_path"] == str(project / "watched")


def test_run_from_the_project_root(sandbox, project):
    out = probe(sandbox.run_ok(["flows/probe.flow.py", "run"], cwd=project))
    assert out["project"] == "probe_proj"


def test_runner_from_another_cwd(sandbox, project, tmp_path):
    code = """
    from metaflow import Runner
    import os
    os.chdir(%r)
    with Runner(%r, show_output=False).run() as r:
        result = {"status": r.status, "project": r.run.data.project if hasattr(r.run.data, "project") else None,
                  "stdout": r.run["start"].task.stdout}
    """ % (str(tmp_path), str(project / "flows" / "probe.flow.py"))
    res = sandbox.client(code)
    assert res["status"] == "successful"
    assert '"project": "probe_proj"' in res["stdout"]


def test_flowproject_config_env_overrides_discovery(sandbox, project, tmp_path):
    other = tmp_path / "other.toml"
    other.write_text('project_name = "from_env"\n')
    out = probe(sandbox.run_ok(["flows/probe.flow.py", "run"], cwd=project, env={"FLOWPROJECT_CONFIG": str(other)}))
    assert out["project"] == "from_env"
    assert out["data_path"] == str(tmp_path / "data")


def test_config_option_overrides_discovery(sandbox, project, tmp_path):
    other = tmp_path / "cfg" / "other.toml"
    other.parent.mkdir()
    other.write_text('project_name = "from_flag"\n[data]\npath = "here"\n')
    out = probe(sandbox.run_ok(["flows/probe.flow.py", "--config", "flowconfig", str(other), "run"], cwd=project))
    assert out["project"] == "from_flag"
    assert out["data_path"] == str(other.parent / "here")


def test_config_value_json_is_accepted(sandbox, project):
    code = """
    from metaflow import Runner
    with Runner(%r, show_output=False, config_value=[("flowconfig", {"project_name": "as_json"})]).run() as r:
        result = r.run["start"].task.stdout
    """ % str(project / "flows" / "probe.flow.py")
    assert '"project": "as_json"' in sandbox.client(code)


@pytest.mark.parametrize(
    "flags,run_args,branch,test_mode",
    [
        ([], [], "user.{user}", True),
        (["--branch", "feature_x"], [], "test.feature_x", True),
        (["--production"], [], "prod", False),
        ([], ["--test-mode", "false"], "user.{user}", False),
    ],
    ids=["plain", "branch", "production", "explicit_false"],
)
def test_test_mode_follows_production(sandbox, project, flags, run_args, branch, test_mode):
    out = probe(sandbox.run_ok(["flows/probe.flow.py", *flags, "run", *run_args], cwd=project))
    assert out["branch"] == branch.format(user=sandbox.env["METAFLOW_USER"])
    assert out["test_mode"] is test_mode


def test_subclass_of_a_subclass_gets_project_options(sandbox, tmp_path):
    # Intermediate bases live in a module: Runner refuses a flow file with two FlowSpecs.
    project = write_project(
        tmp_path / "proj2",
        'project_name = "layered"\n',
        {
            "team_base.py": """
                from flowproject import BaseFlow

                class TeamFlow(BaseFlow):
                    team = "data"
            """,
            "layered.flow.py": """
                from metaflow import current, step
                from team_base import TeamFlow

                class LayeredFlow(TeamFlow):
                    @step
                    def start(self):
                        print("LAYER", current.project_name, current.branch_name, self.team, self.test_mode)
                        self.next(self.end)

                    @step
                    def end(self):
                        pass

                if __name__ == "__main__":
                    LayeredFlow()
            """,
        },
    )
    proc = sandbox.run_ok(["flows/layered.flow.py", "--production", "run"], cwd=project)
    assert "LAYER layered prod data False" in proc.stdout


def test_bad_config_fails_before_any_step(sandbox, project):
    (project / "flowproject.toml").write_text(TOML.replace("[data]", "[dta]"))
    proc = sandbox.run(["flows/probe.flow.py", "run"], cwd=project)
    assert proc.returncode != 0
    assert "flowproject.toml: dta: unknown key (did you mean 'data'?)" in proc.stderr
    assert "Task is starting" not in proc.stdout + proc.stderr
    assert not (sandbox.root / "datastore" / ".metaflow" / "ProbeFlow").exists()


def test_missing_config_file_is_explained(sandbox, tmp_path):
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    (lonely / "probe.flow.py").write_text(PROBE_FLOW)
    proc = sandbox.run(["probe.flow.py", "run"], cwd=lonely)
    assert proc.returncode != 0
    assert "flowproject.toml: (file): not found in " in proc.stderr
    assert "/lonely or any folder above it; create one, set FLOWPROJECT_CONFIG" in proc.stderr


def test_code_package_carries_flowproject_and_sql(sandbox):
    proc = sandbox.run_ok(["flows/hello.flow.py", "package", "list"], cwd=REPO)
    listed = proc.stdout + proc.stderr
    for rel in (
        "flowproject/__init__.py",
        "flowproject/flow/base.py",
        "flowproject/config/loader.py",
        "sql/sensor.sql",
    ):
        assert str(REPO / rel) in listed, rel


def test_repo_hello_flow_runs_on_the_embedded_default(sandbox):
    proc = sandbox.run_ok(["flows/hello.flow.py", "run"], cwd=REPO)
    assert re.search(r"project=flowproject branch=user\.\S+ test_mode=True", proc.stdout)
