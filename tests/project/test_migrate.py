"""flowproject migrate on a repository made of the Outerbounds scaffold's real files
(tests/project/scaffold_repo: its toml, SkipTrigger sensor, deploy, .env and vendored
flowproject/, plus a team's @trigger_on_finish flow, package and CI workflow)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Dict

import pytest
from deploying import ARGO_EVENTS_ENV, git

FIXTURE = Path(__file__).resolve().parent / "scaffold_repo"
# The console script, as a user runs it: `python -m flowproject.cli` from the scaffold's
# root would import its vendored flowproject/ (that shadowing is what migrate removes).
FLOWPROJECT = str(Path(sys.executable).parent / "flowproject")


def commit(repo: Path, message: str = "scaffold") -> None:
    git(repo, "add", "-A")
    git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", message)


def scaffold_repo(root: Path, *, snowflake: bool = True) -> Path:
    """A git repository of the scaffold's files, set up as a Snowflake team would."""
    shutil.copytree(FIXTURE, root)
    (root / "vendored_flowproject").rename(root / "flowproject")
    (root / "deploy").chmod(0o755)
    if snowflake:
        toml = (root / "flowproject.toml").read_text()
        for old, new in [
            ('\nstorage_type = "s3"', '\n# storage_type = "s3"'),
            ('# storage_type = "snowflake"', 'storage_type = "snowflake"'),
            ('# integration = "weather-test"', 'integration = "weather-test"'),
        ]:
            toml = toml.replace(old, new)
        (root / "flowproject.toml").write_text(toml)
    with (root / ".env").open("a") as f:
        f.write("METAFLOW_PACKAGE_SUFFIXES=.sql,.csv\nFORECAST_REGION=US\nSNOWFLAKE_PASSWORD=hunter2\n")
    git(root, "init", "-q", "-b", "main")
    commit(root)
    return root


def tree_digest(root: Path) -> Dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() + oct(p.stat().st_mode)
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def deploy(sandbox, repo: Path, *args: str, env: Dict[str, str] = None) -> subprocess.CompletedProcess:
    """``./deploy ARGS`` in ``repo`` (a shell script: not run through Python)."""
    full = dict(sandbox.env, FLOWPROJECT_PYTHON=sys.executable, **(env or {}))
    return subprocess.run(
        [str(repo / "deploy"), *args], cwd=repo, env=full, capture_output=True, text=True, timeout=600
    )


def migrate(sandbox, repo: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return sandbox.run(
        [
            "-c",
            "import sys; sys.path.pop(0); from flowproject.cli.main import main; sys.exit(main())",
            "migrate",
            *args,
        ],
        cwd=repo,
        **kwargs,
    )


@pytest.fixture
def render_env(s3_server) -> Dict[str, str]:
    bucket = s3_server.new_bucket("migrate")
    return dict(
        s3_server.env,
        METAFLOW_DEFAULT_DATASTORE="s3",
        METAFLOW_DATASTORE_SYSROOT_S3="s3://%s/metaflow" % bucket,
        **ARGO_EVENTS_ENV,
    )


def test_migrate_a_scaffold_repository(sandbox, tmp_path, render_env, s3_server):
    repo = scaffold_repo(tmp_path / "repo")
    before = tree_digest(repo)

    dry = migrate(sandbox, repo, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert tree_digest(repo) == before and git(repo, "status", "--porcelain") == ""
    assert "--- a/forecastflow.py" in dry.stdout and "+++ b/flows/forecast.flow.py" in dry.stdout
    assert '-@project(name=config_expr("flowconfig.project_name"))' in dry.stdout

    run = migrate(sandbox, repo)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "replace   sensorflow.py -> flows/sensor.flow.py" in out
    assert "SNOWFLAKE_PASSWORD looks like a secret and was NOT copied" in out
    stat = git(repo, "diff", "--stat", "-M")
    for line in (
        "forecastflow.py => flows/forecast.flow.py",
        "sensorflow.py => sensorflow.py.scaffold",
        "deploy.scaffold",
    ):
        assert line in stat, stat
    # The dry run showed exactly what the run did.
    assert dry.stdout.split("dry run:")[0] == out.split("done:")[0]

    # The vendored folder is gone; the old deploy and workflow are kept inactive.
    assert not (repo / "flowproject").exists()
    assert not os.access(repo / "deploy.scaffold", os.X_OK) and os.access(repo / "deploy", os.X_OK)
    assert "flowproject.cli" in (repo / "deploy").read_text()
    assert not (repo / ".github/workflows/deploy.yml").exists()
    assert (repo / ".github/workflows/deploy.yml.scaffold").is_file()
    assert (repo / ".github/workflows/flowproject-deploy.yml").is_file()

    # The team flow: converted in place, comments and formatting kept.
    flow = (repo / "flows/forecast.flow.py").read_text()
    assert "@project" not in flow and "@trigger_on_finish" not in flow
    assert "@on_sensor_event\nclass ForecastFlow(BaseFlow):" in flow
    assert "from flowproject import BaseFlow, snowflake, toml_parser, on_sensor_event  # noqa: F401" in flow
    assert "# team code lives beside the flows\nimport teampkg" in flow
    assert (
        '        self.rows = self.query_snowflake(\n            sql=None, template=("forecast", [since.isoformat()]), card=False\n        )'
        in flow
    )
    assert "SkipTrigger" in (repo / "sensorflow.py.scaffold").read_text()

    toml = (repo / "flowproject.toml").read_text()
    assert "### This file drives configuration options in sensorflow.py, ###" in toml
    assert 'type = "snowflake"\nintegration = "weather-test"' in toml
    assert (
        '[launch]\npackage_suffixes = [".sql", ".csv"]\nenvironment = "fast-bakery"\nenv = {FORECAST_REGION = "US"}'
        in toml
    )
    assert "hunter2" not in toml

    again = migrate(sandbox, repo)
    assert again.returncode == 0 and "nothing to do" in again.stdout

    cfg = json.loads(sandbox.run_ok([FLOWPROJECT, "validate"], cwd=repo).stdout)
    assert cfg["data"]["type"] == "snowflake" and cfg["data"]["template"] == "sensor"
    assert cfg["sensor"]["event_name"] == "data_changed" and cfg["sensor"]["value"] == "scalar"

    commit(repo, "migrate")
    plan = deploy(sandbox, repo, "--dry-run", "--json")
    assert plan.returncode == 0, plan.stderr
    assert sorted(r["flow"] for r in json.loads(plan.stdout)) == ["ForecastFlow", "SensorFlow", "StarterFlow"]

    # fast-bakery exists only on Outerbounds: a team renders here with Metaflow's own environment.
    rendered = tmp_path / "rendered"
    proc = deploy(
        sandbox,
        repo,
        *("--json", "--branch", "feat/migrate", "--environment", "local", "--only-json", str(rendered)),
        env=render_env,
    )
    results = json.loads(proc.stdout)
    assert [r["status"] for r in results] == ["ok"] * 3, proc.stdout + proc.stderr
    template = (rendered / "ForecastFlow.json").read_text()
    # The team package rides in the code package, beside the flow file.
    code_url = next(v for v in _strings(json.loads(template)) if v.startswith("s3://") and "/data/" in v)
    bucket, _, key = code_url[len("s3://") :].partition("/")
    archive = tmp_path / "code.tar"
    s3_server.client().download_file(bucket, key, str(archive))
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    # Beside flowproject/ and sql/, where a pod imports the library from.
    assert ".mf_code/teampkg/__init__.py" in names and ".mf_code/flowproject/__init__.py" in names


def _strings(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)
    elif isinstance(node, str):
        yield node


def test_dirty_tree_and_changed_vendored_folder_are_refused(sandbox, tmp_path):
    repo = scaffold_repo(tmp_path / "repo")
    with (repo / "starterflow.py").open("a") as f:
        f.write("# wip\n")
    before = tree_digest(repo)
    proc = migrate(sandbox, repo)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "has uncommitted changes (starterflow.py)" in proc.stderr
    assert tree_digest(repo) == before

    git(repo, "checkout", "starterflow.py")
    with (repo / "flowproject" / "baseflow.py").open("a") as f:
        f.write("\n# our own tweak\n")
    commit(repo, "tweak")
    proc = migrate(sandbox, repo, "--dry-run")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "flowproject/baseflow.py is not a file of the Outerbounds scaffold's flowproject/ folder" in proc.stderr


def test_the_scaffolds_own_toml_validates(sandbox, tmp_path):
    repo = tmp_path / "p"
    repo.mkdir()
    shutil.copy(FIXTURE / "flowproject.toml", repo / "flowproject.toml")
    proc = sandbox.run_ok([FLOWPROJECT, "validate"], cwd=repo)
    cfg = json.loads(proc.stdout)
    assert cfg["data"]["type"] == "s3" and cfg["data"]["role"] is None and cfg["data"]["key"] == "LICENSE"
    assert "data.storage_type is deprecated; call it data.type" in proc.stderr
    assert "data.role = '...' is the scaffold's placeholder; treated as unset" in proc.stderr
    assert "[data_kwargs] is deprecated" in proc.stderr


def test_a_vendored_folder_is_one_line_from_every_entry_point(sandbox, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE / "vendored_flowproject", repo / "flowproject")
    (repo / "flowproject.toml").write_text('project_name = "demo"\n')
    (repo / "flows").mkdir()
    shutil.copy(FIXTURE.parent.parent.parent / "flows" / "hello.flow.py", repo / "flows" / "hello.flow.py")
    shutil.copy(FIXTURE.parent.parent.parent / "deploy", repo / "deploy")
    git(repo, "init", "-q", "-b", "feature")
    expected = "%s/ is not the flowproject library" % (repo / "flowproject").resolve()
    for args in ([FLOWPROJECT, "validate"], ["./deploy", "--dry-run"], ["flows/hello.flow.py", "run"]):
        proc = deploy(sandbox, repo, *args[1:]) if args[0] == "./deploy" else sandbox.run(args, cwd=repo)
        assert proc.returncode != 0, args
        lines = [line for line in proc.stderr.splitlines() if expected in line]
        assert len(lines) == 1 and "flowproject migrate" in lines[0], (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_init_sets_a_foreign_deploy_aside(sandbox, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(FIXTURE / "deploy", repo / "deploy")
    (repo / "deploy").chmod(0o755)
    shutil.copytree(FIXTURE / ".github", repo / ".github")
    git(repo, "init", "-q", "-b", "main")
    commit(repo)
    proc = sandbox.run_ok([FLOWPROJECT, "init", "--project-name", "demo"], cwd=repo)
    assert "moved    deploy -> deploy.scaffold (it was not flowproject's; no longer executable)" in proc.stdout
    assert "warning  .github/workflows/deploy.yml runs ./deploy as well" in proc.stdout
    assert "flowproject.cli" in (repo / "deploy").read_text()
    assert not os.access(repo / "deploy.scaffold", os.X_OK)
    plan = deploy(sandbox, repo, "--dry-run")
    assert plan.returncode == 0 and "argo-workflows create" in plan.stdout


def test_repeated_project_is_one_line_under_runner(sandbox, tmp_path):
    repo = tmp_path / "p"
    (repo / "flows").mkdir(parents=True)
    (repo / "flowproject.toml").write_text('project_name = "demo"\n')
    flow = (FIXTURE / "starterflow.py").read_text()
    (repo / "flows" / "starter.flow.py").write_text(flow)
    code = (
        "from metaflow import Runner\n"
        "try:\n    Runner('flows/starter.flow.py').run()\n"
        "except Exception as e:\n    print('CAUGHT %s' % e)\n"
    )
    proc = sandbox.run_ok(["-c", code], cwd=repo)
    assert (
        "CAUGHT flows/starter.flow.py:6: BaseFlow already applies @project, named by project_name in "
        "flowproject.toml; remove @project from StarterFlow" in proc.stdout
    ), proc.stdout + proc.stderr
