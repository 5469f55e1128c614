"""flowproject init / new: a user's own git repository set up from the packaged templates."""

from __future__ import annotations

import ast
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict

import pytest
import tomllib
from conftest import REPO
from deploying import git, tool

from flowproject.config import schema
from flowproject.config.flows import FLOW_FIELDS
from flowproject.project import scaffold
from flowproject.project.scaffold import ScaffoldError

USER_PYPROJECT = """\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "acme-forecast"
version = "0.1.0"
"""


def user_repo(root: Path, pyproject: bool = True) -> Path:
    """A fresh git repository with its own package code (and pyproject.toml)."""
    (root / "acme").mkdir(parents=True)
    (root / "acme" / "__init__.py").write_text("def double(x: int) -> int:\n    return 2 * x\n")
    if pyproject:
        (root / "pyproject.toml").write_text(USER_PYPROJECT)
    (root / ".gitignore").write_text("*.pyc\n.metaflow\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "init")
    return root


def snapshot(root: Path) -> Dict[str, tuple]:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mode)
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts[:1]
    }


def test_init_writes_every_file_and_a_second_run_changes_nothing(tmp_path):
    repo = user_repo(tmp_path / "repo")
    report = scaffold.init(repo)
    assert report.written == [
        "flowproject.toml",
        "flows/sensor.flow.py",
        "sql/sensor.sql",
        "deploy",
        "tests/test_sensor.py",
        ".github/workflows/flowproject-tests.yml",
        ".github/workflows/flowproject-deploy.yml",
        ".github/actions/flowproject-setup/action.yml",
        ".github/actions/flowproject-deploy-setup/action.yml",
        "data/.gitkeep",
    ]
    assert report.appended == [".gitignore"] and report.skipped == []
    assert os.access(repo / "deploy", os.X_OK)
    # The project name comes from the user's pyproject, made a valid Metaflow name.
    assert tomllib.loads((repo / "flowproject.toml").read_text())["project_name"] == "acme_forecast"
    # .gitignore: appended, never clobbered; a line already there is not repeated.
    assert (repo / ".gitignore").read_text() == (
        "*.pyc\n.metaflow\n# Metaflow's local runs (flowproject init)\nmetaflow_card_cache/\n"
    )

    before = snapshot(repo)
    again = scaffold.init(repo)
    assert again.written == [] and again.appended == []
    assert again.skipped == report.written[:-1]
    assert snapshot(repo) == before


def test_init_never_overwrites_a_users_file(tmp_path):
    repo = user_repo(tmp_path / "repo")
    (repo / "flowproject.toml").write_text('project_name = "mine"\n')
    (repo / "flows").mkdir()
    (repo / "flows" / "sensor.flow.py").write_text("# my own sensor\n")
    report = scaffold.init(repo, project_name="other")
    assert report.skipped == ["flowproject.toml", "flows/sensor.flow.py"]
    assert (repo / "flowproject.toml").read_text() == 'project_name = "mine"\n'
    assert (repo / "flows" / "sensor.flow.py").read_text() == "# my own sensor\n"
    assert "deploy" in report.written


def test_init_cli_lists_what_it_wrote_and_skipped(sandbox, tmp_path):
    repo = user_repo(tmp_path / "repo", pyproject=False)
    first = sandbox.run_ok(["-m", "flowproject.cli", "init", "--project-name", "acme"], cwd=repo)
    assert "wrote    flowproject.toml" in first.stdout and "appended .gitignore" in first.stdout
    second = sandbox.run_ok(["-m", "flowproject.cli", "init", str(repo)], cwd=tmp_path)
    assert "wrote" not in second.stdout and "appended" not in second.stdout
    assert "skipped  flowproject.toml (exists)" in second.stdout


@pytest.mark.parametrize(
    "setup, args, expected",
    [
        ("nogit", [], r"is not inside a git repository; run git init there first"),
        (
            "git",
            ["--project-name", "Acme-Forecast"],
            r"--project-name: expected a Metaflow project name .*'Acme-Forecast'",
        ),
    ],
)
def test_init_refuses_with_one_line(sandbox, tmp_path, setup, args, expected):
    folder = tmp_path / "plain"
    folder.mkdir()
    if setup == "git":
        git(folder, "init", "-q")
    proc = sandbox.run(["-m", "flowproject.cli", "init", *args], cwd=folder)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert re.search(expected, proc.stderr)
    assert not (folder / "flowproject.toml").exists()


def test_fresh_repo_runs_the_sensor_validates_and_plans_a_deploy(sandbox, tmp_path):
    repo = user_repo(tmp_path / "repo")
    sandbox.run_ok(["-m", "flowproject.cli", "init"], cwd=repo)

    run = sandbox.run_ok(["flows/sensor.flow.py", "run"], cwd=repo)
    assert "changed=True" in run.stdout + run.stderr
    assert "mfns.acme_forecast.user.%s.data_changed NOT sent" % sandbox.env["METAFLOW_USER"] in run.stdout + run.stderr

    validated = sandbox.run_ok(["-m", "flowproject.cli", "validate"], cwd=repo)
    assert '"project_name": "acme_forecast"' in validated.stdout

    plan = subprocess.run(
        ["./deploy", "--dry-run"],
        cwd=repo,
        env=dict(sandbox.env, FLOWPROJECT_PYTHON=sys.executable),
        capture_output=True,
        text=True,
    )
    assert plan.returncode == 0, plan.stderr
    assert "git branch 'main' (from git) -> production (--production)" in plan.stdout
    assert "flows/sensor.flow.py --production argo-workflows create --tag commit:" in plan.stdout


def test_init_in_a_subfolder_puts_workflows_at_the_git_root(tmp_path):
    repo = user_repo(tmp_path / "repo")
    sub = repo / "pipelines"
    sub.mkdir()
    report = scaffold.init(sub)
    assert "../.github/workflows/flowproject-deploy.yml" in report.written
    assert (sub / "flowproject.toml").is_file() and (repo / ".github" / "workflows").is_dir()
    workflow = (repo / ".github" / "workflows" / "flowproject-deploy.yml").read_text()
    assert 'working-directory: "pipelines"' in workflow
    tests = (repo / ".github" / "workflows" / "flowproject-tests.yml").read_text()
    assert "hashFiles('pipelines/tests/**')" in tests
    assert (repo / ".gitignore").read_text().endswith("metaflow_card_cache/\n")


def _uncommented(text: str) -> str:
    # "# key = value  # why" -> "key = value"; tables too. Prose comments stay comments.
    out = []
    for line in text.splitlines():
        m = re.match(r"^# (\[[\w.]+\]|[a-z_]+ = .*)$", line)
        out.append(m.group(1) if m else line)
    return "\n".join(out) + "\n"


def test_init_config_shows_every_key_and_every_key_validates(tmp_path):
    text = scaffold.template_text("flowproject.toml.tmpl").replace("@@PROJECT_NAME@@", "demo")
    schema.validate(tomllib.loads(text), "flowproject.toml", tmp_path)
    everything = tomllib.loads(_uncommented(text))
    assert set(everything) == set(schema.TOP_LEVEL)
    assert set(everything["data"]) == set(schema.DATA_FIELDS)
    assert set(everything["sensor"]) == set(schema.SENSOR_FIELDS)
    assert set(everything["deploy"]) == set(schema.DEPLOY_FIELDS)
    assert set(everything["getters"]["TrainFlow"]) == set(schema.GETTER_FIELDS)
    assert set(everything["flows"]["TrainFlow"]) == set(FLOW_FIELDS)
    # With every commented key switched on it is still a valid config.
    schema.validate(everything, "flowproject.toml", tmp_path)
    # The embedded default is the local source.
    assert tomllib.loads(text)["data"]["type"] == "local"


def test_init_sensor_flow_is_this_repositorys_sensor_flow():
    assert scaffold.template_text("sensor.flow.py.tmpl") == (REPO / "flows" / "sensor.flow.py").read_text()
    assert scaffold.template_text("deploy.tmpl") == (REPO / "deploy").read_text()


def test_init_workflows_install_the_users_project_and_flowproject(tmp_path):
    repo = user_repo(tmp_path / "repo")
    scaffold.init(repo, flowproject_spec="flowproject[s3] @ git+https://example.com/flowproject@v1")
    gh = repo / ".github"
    setup = (gh / "actions" / "flowproject-setup" / "action.yml").read_text()
    assert 'default: "flowproject[s3] @ git+https://example.com/flowproject@v1"' in setup
    assert "if [ -f pyproject.toml ] || [ -f setup.py ]; then .venv/bin/pip install -q -e .; fi" in setup
    texts = "".join(p.read_text() for p in gh.rglob("*.yml"))
    assert ".[dev]" not in texts and ".[s3]" not in texts and "@@" not in texts
    deploy = (gh / "workflows" / "flowproject-deploy.yml").read_text()
    assert '--summary-markdown "$GITHUB_STEP_SUMMARY"' in deploy
    assert "hashFiles('tests/**')" in (gh / "workflows" / "flowproject-tests.yml").read_text()
    assert './deploy --teardown --branch "$DELETED_BRANCH"' in deploy


def test_init_workflows_and_actions_match_githubs_schemas(tmp_path):
    repo = user_repo(tmp_path / "repo")
    scaffold.init(repo)
    for path in sorted((repo / ".github").rglob("*.yml")):
        schema_name = "vendor.github-actions" if path.name == "action.yml" else "vendor.github-workflows"
        proc = subprocess.run(
            [tool("check-jsonschema"), "--builtin-schema", schema_name, str(path)], capture_output=True, text=True
        )
        assert proc.returncode == 0, "%s: %s" % (path, proc.stdout + proc.stderr)


def test_templates_ship_in_the_wheel(tmp_path):
    import shutil

    # Build from a copy: setuptools writes build/ and egg-info into the source tree.
    src = tmp_path / "src"
    shutil.copytree(REPO / "flowproject", src / "flowproject", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "dist").glob("flowproject-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    needed = {"flowproject/project/templates/%s" % t for t, _, _ in scaffold.PROJECT_FILES + scaffold.GITHUB_FILES}
    needed.add("flowproject/project/templates/%s" % scaffold.NEW_FLOW_TEMPLATE)
    assert needed <= names, sorted(needed - names)


# -- new ------------------------------------------------------------------------------------


def test_new_flow_follows_the_team_guide(tmp_path):
    path = scaffold.new_flow("arxiv_topic_model", tmp_path)
    assert path == tmp_path / "flows" / "arxiv_topic_model.flow.py"
    tree = ast.parse(path.read_text())
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    # The flow class only (named without a Flow suffix, per the guide).
    assert [c.name for c in classes] == ["ArxivTopicModel"] and functions == []
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert sorted(n.module for n in imports) == ["flowproject", "metaflow"]
    steps = {f.name: f for f in classes[0].body if isinstance(f, ast.FunctionDef)}
    for name in ("start", "end"):
        assert ast.get_docstring(steps[name]), "%s has no docstring" % name
    assert any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(steps["start"]))
    assert "self.test_mode" in ast.unparse(steps["start"])
    annotated = [n for n in ast.walk(classes[0]) if isinstance(n, ast.AnnAssign)]
    assert {ast.unparse(n.annotation) for n in annotated} >= {"list[int]", "int", "float"}


def test_new_flow_runs_as_generated(sandbox, tmp_path):
    repo = user_repo(tmp_path / "repo")
    scaffold.init(repo)
    path = scaffold.new_flow("train_model", repo)
    script = (
        "from metaflow import Runner\n"
        "with Runner(%r, show_output=False).run() as r:\n"
        "    run = r.run\n"
        "    print('@@', run.successful, run['end'].task['row_count'].data, run['end'].task['mean'].data)\n"
    ) % str(path)
    proc = sandbox.run_ok(["-c", script], cwd=repo)
    # Test mode (the default outside --production) cuts the input to 10 rows.
    assert "@@ True 10 4.5" in proc.stdout


def test_new_refuses_to_overwrite_and_refuses_bad_names(sandbox, tmp_path):
    scaffold.new_flow("train", tmp_path)
    before = (tmp_path / "flows" / "train.flow.py").read_text()
    with pytest.raises(ScaffoldError, match=r"flows/train.flow.py exists; flowproject new never overwrites"):
        scaffold.new_flow("train", tmp_path)
    assert (tmp_path / "flows" / "train.flow.py").read_text() == before
    for bad in ("Train", "2fast", "a-b", "class", "x" * 101, "../evil"):
        proc = sandbox.run(["-m", "flowproject.cli", "new", bad], cwd=tmp_path)
        assert proc.returncode == 2
        assert proc.stderr.strip().splitlines() == [
            "error: invalid flow name %r: expected lowercase letters, digits and _, starting with a letter "
            "(at most 100 characters), like train_model" % bad
        ]
    assert sorted(p.name for p in (tmp_path / "flows").iterdir()) == ["train.flow.py"]
