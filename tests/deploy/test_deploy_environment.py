"""``./deploy --environment NAME`` and ``[launch]`` in what a deploy renders."""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
import tarfile

import pytest
from conftest import REPO, two_step_flow
from deploying import ARGO_EVENTS_ENV
from test_deploy import deploy_json, git_project, validate_template

TOML = 'project_name = "demo"\n[launch]\nenvironment = "pypi"\n'


def test_environment_flag_replaces_launch_environment_for_one_deploy(sandbox, tmp_path):
    repo = git_project(tmp_path / "p", "feat/x", TOML)
    (row,) = deploy_json(sandbox, repo, "--dry-run")
    assert row["command"][2:4] == ["--environment", "pypi"], row["command"]
    (row,) = deploy_json(sandbox, repo, "--dry-run", "--environment", "conda")
    assert row["command"][2:4] == ["--environment", "conda"], row["command"]
    assert row["command"].count("--environment") == 1
    # ./deploy takes the same option (one definition for both).
    shutil.copy(REPO / "deploy", repo / "deploy")
    proc = sandbox.run_ok(
        ["-c", "import subprocess, sys; sys.exit(subprocess.call(['./deploy', *sys.argv[1:]]))"]
        + ["--dry-run", "--environment", "fast-bakery"],
        cwd=repo,
        env={"FLOWPROJECT_PYTHON": sys.executable},
    )
    (plan,) = [line for line in proc.stdout.splitlines() if "argo-workflows create" in line]
    assert " --environment fast-bakery " in plan and "pypi" not in plan, plan


@pytest.mark.parametrize("value", ["docker", "", "PyPI"])
def test_a_bad_environment_flag_is_one_line_before_any_flow_runs(sandbox, tmp_path, value):
    repo = git_project(tmp_path / "p", "feat/x", TOML)
    proc = sandbox.run(["-m", "flowproject.cli", "deploy", "--dry-run", "--environment", value], cwd=repo)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: --environment: expected one of local, pypi, conda, uv, fast-bakery; got %r" % value
    )
    assert "Traceback" not in proc.stderr
    assert "argo-workflows" not in proc.stdout


def test_a_flows_own_launch_table_wins_over_the_projects_and_the_flag_over_both(sandbox, tmp_path):
    toml = TOML + '[flows.BFlow.launch]\nenvironment = "conda"\nenv = { OWN = "b" }\n'
    flows = {"a.flow.py": two_step_flow("AFlow"), "b.flow.py": two_step_flow("BFlow")}
    repo = git_project(tmp_path / "p", "feat/x", toml, flows)
    rows = {r["flow"]: r["command"] for r in deploy_json(sandbox, repo, "--dry-run")}
    assert rows["AFlow"][2:4] == ["--environment", "pypi"], rows
    assert rows["BFlow"][2:4] == ["--environment", "conda"], rows
    rows = {r["flow"]: r["command"] for r in deploy_json(sandbox, repo, "--dry-run", "--environment", "fast-bakery")}
    assert {tuple(c[2:4]) for c in rows.values()} == {("--environment", "fast-bakery")}, rows


def test_a_bad_key_in_a_flows_launch_table_is_one_line(sandbox, tmp_path):
    toml = TOML + '[flows.HelloFlow.launch]\nenvironment = "docker"\n'
    repo = git_project(tmp_path / "p", "feat/x", toml)
    proc = sandbox.run(["-m", "flowproject.cli", "validate"], cwd=repo)
    assert proc.returncode != 0
    assert (
        "flows.HelloFlow.launch.environment: expected one of local, pypi, conda, uv, fast-bakery; got 'docker'"
        in proc.stderr
    ), proc.stderr
    assert "Traceback" not in proc.stderr


# The flow imports a helper module beside it and reads a .csv from its own folder in a step.
FLOW = two_step_flow("DataFlow").replace("from metaflow import step\n", "from metaflow import step\nimport helper\n")


def test_launch_settings_reach_the_rendered_template_and_its_code_package(sandbox, tmp_path, s3_server):
    toml = 'project_name = "demo"\n[launch]\npackage_suffixes = [".csv"]\nenv = { TEAM = "data" }\n'
    repo = git_project(tmp_path / "p", "feat/x", toml, {"data.flow.py": FLOW, "helper.py": "X = 1\n"})
    (repo / "flows" / "lookup.csv").write_text("a,1\n")
    bucket = s3_server.new_bucket("deploy")
    env = dict(s3_server.datastore_env(bucket), **ARGO_EVENTS_ENV)
    out = tmp_path / "rendered"
    (row,) = deploy_json(sandbox, repo, "--only-json", str(out), env=env)
    assert row["status"] == "ok", row
    template = validate_template(out / "DataFlow.json")
    text = json.dumps(template)
    # [launch] env reaches the pods through @environment, not only the deploying process.
    for step in ("start", "end"):
        (container,) = [t["container"] for t in template["spec"]["templates"] if t["name"] == step]
        assert {e["name"]: e["value"] for e in container["env"]}["TEAM"] == "data"
    url = re.search(r'"METAFLOW_CODE_URL", "value": "([^"]+)"', text).group(1)
    key = url[len("s3://%s/" % bucket) :]
    blob = s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        names = set(tar.getnames())
    # The listed suffix is added to Metaflow's own: the flow and its helper are still there.
    assert {"lookup.csv", "helper.py", "data.flow.py"} <= names, sorted(n for n in names if not n.startswith("."))
