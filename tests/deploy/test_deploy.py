"""./deploy without a cluster: plans on throwaway git repos, renders against moto's S3."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest
from conftest import REPO, doc_text, two_step_flow, write_project
from deploying import ARGO_EVENTS_ENV, git, tool

from flowproject import cli
from flowproject.config import load
from flowproject.config.discovery import FlowFileError, find_flow_class
from flowproject.deploy.branches import sanitize

TOML = 'project_name = "demo"\n'


# Parses fine (so discovery finds the class) but fails when Metaflow imports it.
BROKEN = """
import module_that_does_not_exist
from flowproject import BaseFlow


class BrokenFlow(BaseFlow):
    pass


if __name__ == "__main__":
    BrokenFlow()
"""


# What @trigger flows need to render (values are placeholders; nothing is contacted).
def git_project(root: Path, branch: str, toml: str = TOML, flows: Dict[str, str] = None) -> Path:
    flows = flows or {"hello.flow.py": two_step_flow("HelloFlow")}
    write_project(root, toml, {})
    for name, source in flows.items():
        (root / "flows" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "flows" / name).write_text(source)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "init")
    if branch != "main":
        git(root, "checkout", "-q", "-b", branch)
    return root


def deploy_json(sandbox, cwd: Path, *args: str, env: Dict[str, str] = None) -> List[dict]:
    proc = sandbox.run_ok(["-m", "flowproject.cli", "deploy", "--json", *args], cwd=cwd, env=env)
    return json.loads(proc.stdout)


# -- finding flow classes -------------------------------------------------------------------


def test_find_flow_class_prefers_the_class_run_under_main():
    source = two_step_flow("AFlow") + "\n\nclass Helper(BaseFlow):\n    pass\n"
    assert find_flow_class(source) == "AFlow"
    reversed_guard = "class X(FlowSpec): pass\nclass Y(FlowSpec): pass\nif '__main__' == __name__:\n    Y()\n"
    assert find_flow_class(reversed_guard) == "Y"


def test_find_flow_class_without_main_guard_takes_the_single_flow_subclass():
    assert find_flow_class("import metaflow\nclass Helper:\n    pass\nclass T(metaflow.FlowSpec):\n    pass\n") == "T"
    assert find_flow_class("from team import TeamFlow\nclass T(TeamFlow):\n    pass\n") == "T"
    # A string that merely looks like a class statement is not a class.
    assert find_flow_class('DOC = """\nclass Fake(BaseFlow):\n"""\nclass Real(BaseFlow):\n    pass\n') == "Real"


@pytest.mark.parametrize(
    "source,message",
    [
        ("x = (\n", "cannot parse"),
        ("class A:\n    pass\n", "no flow class"),
        ("class A(BaseFlow): pass\nclass B(BaseFlow): pass\n", "several flow classes (A, B)"),
    ],
)
def test_find_flow_class_errors_are_one_line(source, message):
    with pytest.raises(FlowFileError) as e:
        find_flow_class(source, "flows/x.flow.py")
    assert message in str(e.value) and "flows/x.flow.py" in str(e.value) and "\n" not in str(e.value)


# -- dry runs on throwaway git repositories ---------------------------------------------------


def test_dry_run_on_a_feature_branch(sandbox, tmp_path):
    repo = git_project(
        tmp_path / "proj",
        "feature/Login-Form",
        flows={
            "hello.flow.py": two_step_flow("HelloFlow"),
            "nested/deep/other.flow.py": two_step_flow("OtherFlow"),
        },
    )
    sha = git(repo, "rev-parse", "HEAD")
    results = deploy_json(sandbox, repo, "--dry-run")
    branch = sanitize("feature/Login-Form")
    assert branch == "feature_login_form_28bb00"
    assert [(r["flow"], r["file"], r["status"], r["error"]) for r in results] == [
        ("HelloFlow", "flows/hello.flow.py", "planned", None),
        ("OtherFlow", "flows/nested/deep/other.flow.py", "planned", None),
    ]
    assert results[0]["command"] == [
        sys.executable,
        str((repo / "flows" / "hello.flow.py").resolve()),
        "--branch",
        branch,
        "argo-workflows",
        "create",
        "--tag",
        "commit:%s" % sha[:7],
        "--tag",
        "git_branch:feature/Login-Form",
        "--tag",
        "git_dirty:false",
    ]


def test_dry_run_on_main_deploys_production_and_changes_nothing(sandbox, tmp_path):
    repo = git_project(tmp_path / "proj", "main")
    before = sorted(p.relative_to(repo) for p in repo.rglob("*") if ".git" not in p.parts)
    proc = sandbox.run_ok(["-m", "flowproject.cli", "deploy", "--dry-run", "--only-json", "rendered"], cwd=repo)
    lines = proc.stdout.splitlines()
    assert lines[0] == "git branch 'main' (from git) -> production (--production), Metaflow branch prod"
    assert lines[1].split()[2:] == [
        "--production",
        "argo-workflows",
        "create",
        "--tag",
        "commit:%s" % git(repo, "rev-parse", "--short=7", "HEAD"),
        "--tag",
        "git_branch:main",
        "--tag",
        "git_dirty:false",
        "--only-json",
    ]
    assert sorted(p.relative_to(repo) for p in repo.rglob("*") if ".git" not in p.parts) == before


def test_dry_run_through_the_deploy_script(sandbox, tmp_path):
    repo = git_project(tmp_path / "proj", "fix/x")
    # ./deploy deploys the project it lives in, so it is copied in as a project has it.
    shutil.copy(REPO / "deploy", repo / "deploy")
    proc = subprocess.run(
        [str(repo / "deploy"), "--dry-run", "--teardown"],
        cwd=repo,
        env=dict(sandbox.env, FLOWPROJECT_PYTHON=sys.executable),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    # Teardown deletes by name: no commit tag.
    assert proc.stdout.splitlines()[1].split()[1:] == [
        str((repo / "flows" / "hello.flow.py").resolve()),
        "--branch",
        sanitize("fix/x"),
        "argo-workflows",
        "delete",
    ]


def test_teardown_of_production_needs_an_explicit_branch(sandbox, tmp_path):
    repo = git_project(tmp_path / "proj", "feature/gone")
    # GitHub's delete event: GITHUB_REF_NAME is the default branch, not the deleted one.
    proc = sandbox.run(
        ["-m", "flowproject.cli", "deploy", "--dry-run", "--teardown"], cwd=repo, env={"GITHUB_REF_NAME": "main"}
    )
    assert proc.returncode == 2
    assert "refusing to tear down production" in proc.stderr and proc.stdout == ""
    results = deploy_json(sandbox, repo, "--dry-run", "--teardown", "--branch", "main")
    assert results[0]["command"][2:] == ["--production", "argo-workflows", "delete"]


@pytest.mark.parametrize(
    "env,expected",
    [
        ({"GITHUB_HEAD_REF": "feature/pr-7", "GITHUB_REF_NAME": "7/merge"}, ["--branch", sanitize("feature/pr-7")]),
        ({"GITHUB_HEAD_REF": "", "GITHUB_REF_NAME": "main"}, ["--production"]),
        ({"CI_COMMIT_REF_NAME": "gitlab/mr"}, ["--branch", sanitize("gitlab/mr")]),
    ],
)
def test_dry_run_detached_with_ci_variables(sandbox, tmp_path, env, expected):
    repo = git_project(tmp_path / "proj", "main")
    git(repo, "checkout", "-q", "--detach")
    results = deploy_json(sandbox, repo, "--dry-run", env=env)
    command = results[0]["command"]
    assert command[2 : command.index("argo-workflows")] == expected
    # The detached checkout's branch is recorded as the one CI named.
    ci_branch = env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME") or env.get("CI_COMMIT_REF_NAME")
    assert "git_branch:%s" % ci_branch in command


def test_detached_without_ci_variables_is_an_error(sandbox, tmp_path):
    repo = git_project(tmp_path / "proj", "main")
    git(repo, "checkout", "-q", "--detach")
    proc = sandbox.run(["-m", "flowproject.cli", "deploy", "--dry-run"], cwd=repo)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "detached HEAD" in proc.stderr and "--branch" in proc.stderr
    assert proc.stdout == ""


def test_configured_production_branches(sandbox, tmp_path):
    toml = TOML + '[deploy]\nproduction_branches = ["release"]\n'
    repo = git_project(tmp_path / "proj", "release", toml=toml)
    assert deploy_json(sandbox, repo, "--dry-run")[0]["command"][2] == "--production"
    assert deploy_json(sandbox, repo, "--dry-run", "--branch", "main")[0]["command"][2:4] == ["--branch", "main"]


def test_only_the_files_given_are_deployed(sandbox, tmp_path):
    repo = git_project(
        tmp_path / "proj",
        "main",
        flows={
            "a.flow.py": two_step_flow("AFlow"),
            "b.flow.py": two_step_flow("BFlow"),
        },
    )
    results = deploy_json(sandbox, repo, "--dry-run", "flows/b.flow.py")
    assert [r["flow"] for r in results] == ["BFlow"]


def test_bad_options_are_one_line_errors(tmp_path, monkeypatch, capsys):
    write_project(tmp_path, TOML, {"a.flow.py": two_step_flow("AFlow")})
    monkeypatch.chdir(tmp_path)
    assert cli.main(["deploy", "--dry-run", "--branch", "x", "--jobs", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --jobs must be at least 1; got 0"
    assert cli.main(["deploy", "--branch", "x", "--teardown", "--only-json", "d"]) == 2
    assert "cannot be combined" in capsys.readouterr().err


# -- rendering against moto's S3 ----------------------------------------------------------------


@pytest.fixture
def render_env(s3_server) -> Dict[str, str]:
    bucket = s3_server.new_bucket("deploy")
    return dict(
        s3_server.env,
        METAFLOW_DEFAULT_DATASTORE="s3",
        METAFLOW_DATASTORE_SYSROOT_S3="s3://%s/metaflow" % bucket,
        **ARGO_EVENTS_ENV,
    )


def validate_template(path: Path) -> dict:
    from hera.workflows.models import WorkflowTemplate

    data = json.loads(path.read_text())
    assert data["kind"] == "WorkflowTemplate"
    WorkflowTemplate.model_validate(data)
    return data


@pytest.mark.parametrize("branch,expected", [("feature/Render-Test", None), ("main", "prod")])
def test_every_repo_flow_renders(sandbox, tmp_path, render_env, branch, expected):
    out = tmp_path / "rendered"
    results = deploy_json(sandbox, REPO, "--jobs", "2", "--branch", branch, "--only-json", str(out), env=render_env)
    flow_files = sorted((REPO / "flows").glob("**/*.flow.py"))
    assert len(results) == len(flow_files) >= 1
    assert all(r["status"] == "ok" for r in results), results
    project = load(REPO / "flowproject.toml")["project_name"]
    sha = git(REPO, "rev-parse", "--short=7", "HEAD")
    for r in results:
        annotations = validate_template(out / ("%s.json" % r["flow"]))["metadata"]["annotations"]
        assert annotations["metaflow/flow_name"] == r["flow"]
        assert annotations["metaflow/project_name"] == project
        assert annotations["metaflow/branch_name"] == (expected or "test.%s" % sanitize(branch))
        assert "commit:%s" % sha in json.loads(annotations["metaflow/tags"])


def test_scheduled_flow_renders_its_cron(sandbox, tmp_path, render_env):
    toml = TOML + '[sensor]\ncron_schedule = "7 3 * * 1"\n'
    repo = write_project(tmp_path / "proj", toml, {"tick.flow.py": two_step_flow("TickFlow", scheduled=True)})
    out = tmp_path / "rendered"
    results = deploy_json(sandbox, repo, "--branch", "feat/cron", "--only-json", str(out), env=render_env)
    assert [r["status"] for r in results] == ["ok"]
    # Outside a git repository there is no commit to tag.
    assert "--tag" not in results[0]["command"]
    annotations = validate_template(out / "TickFlow.json")["metadata"]["annotations"]
    assert json.loads(annotations["metaflow/cron"])["schedule"] == "7 3 * * 1"
    assert annotations["metaflow/project_name"] == "demo"
    assert annotations["metaflow/branch_name"] == "test.%s" % sanitize("feat/cron")


def test_a_failing_flow_does_not_stop_the_others(sandbox, tmp_path, render_env):
    repo = write_project(
        tmp_path / "proj",
        TOML,
        {
            "a_broken.flow.py": BROKEN,
            "good.flow.py": two_step_flow("GoodFlow"),
            "unparsable.flow.py": "class (\n",
        },
    )
    out = tmp_path / "rendered"
    proc = sandbox.run(
        ["-m", "flowproject.cli", "deploy", "--jobs", "1", "--branch", "feat/x", "--only-json", str(out)],
        cwd=repo,
        env=render_env,
    )
    assert proc.returncode == 1, proc.stderr
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[2:]}
    assert rows["BrokenFlow"][2] == "failed"
    assert "No module named 'module_that_does_not_exist'" in " ".join(rows["BrokenFlow"])
    assert rows["unparsable"][2] == "failed"
    assert rows["GoodFlow"][2] == "ok"
    # --jobs 1 runs in order: the good flow ran after the broken one failed.
    assert sorted(p.name for p in out.iterdir()) == ["GoodFlow.json"]
    validate_template(out / "GoodFlow.json")
    # The full traceback of the failure is on stderr, not only its last line.
    assert "Traceback" in proc.stderr and "a_broken.flow.py" in proc.stderr

    # A dry run already reports the file it cannot parse, and fails for it.
    proc = sandbox.run(["-m", "flowproject.cli", "deploy", "--json", "--dry-run", "--branch", "feat/x"], cwd=repo)
    assert proc.returncode == 1
    results = json.loads(proc.stdout)
    assert [(r["flow"], r["status"]) for r in results] == [
        ("BrokenFlow", "planned"),
        ("GoodFlow", "planned"),
        ("unparsable", "failed"),
    ]


# -- CI files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("workflow", ["ci.yml", "deploy.yml"])
def test_github_workflows_match_the_schema(workflow):
    path = REPO / ".github" / "workflows" / workflow
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_composite_action_matches_the_schema():
    path = REPO / ".github" / "actions" / "deploy-setup" / "action.yml"
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("script", ["deploy", ".ci/run"])
def test_shell_scripts_pass_shellcheck(script):
    proc = subprocess.run([tool("shellcheck"), str(REPO / script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_deploy_script_is_executable():
    assert os.access(REPO / "deploy", os.X_OK)


def test_docs_document_every_deploy_option():
    from flowproject.cli.main import build_parser

    section = doc_text("deploying.md")
    parser = build_parser()
    deploy_parser = parser._subparsers._group_actions[0].choices["deploy"]
    options = [o for a in deploy_parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
    assert options
    for option in options:
        assert option in section, option


def test_launch_settings_reach_every_deploy_command_and_overlays_change_them(sandbox, tmp_path):
    toml = (
        TOML + '[launch]\nenvironment = "pypi"\npackage_suffixes = [".py", ".csv"]\nenv = { TEAM = "a" }\n'
        '[deploy]\nenvironments = { "release/*" = "staging" }\n'
        '[environments.staging.launch]\nenvironment = "conda"\n'
    )
    feature = git_project(tmp_path / "f", "feat/x", toml)
    (row,) = deploy_json(sandbox, feature, "--dry-run")
    command = row["command"]
    # Metaflow's own suffixes stay: the key adds to them.
    assert command[2:6] == ["--environment", "pypi", "--package-suffixes", ".py,.R,.RDS,.csv"], command
    release = git_project(tmp_path / "r", "release/1", toml)
    (row,) = deploy_json(sandbox, release, "--dry-run")
    assert row["command"][2:4] == ["--environment", "conda"], row["command"]


def test_bad_launch_settings_are_one_line(sandbox, tmp_path):
    repo = git_project(tmp_path / "p", "feat/x", TOML + '[launch]\nenvironment = "docker"\n')
    proc = sandbox.run(["-m", "flowproject.cli", "deploy", "--dry-run"], cwd=repo)
    assert proc.returncode != 0
    assert "launch.environment: expected one of local, pypi, conda, uv, fast-bakery; got 'docker'" in proc.stderr
    assert "Traceback" not in proc.stderr
