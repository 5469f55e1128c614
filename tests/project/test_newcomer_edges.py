"""Rough edges a newcomer hits: the docs' examples, hints, ./deploy's location and output, flags."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from conftest import REPO, doc_text, run_id_of, write_project

from flowproject import cli
from flowproject.deploy.branches import sanitize

HELLO = (REPO / "flows" / "hello.flow.py").read_text()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def git_project(root: Path, branch: str, flows=None) -> Path:
    project = write_project(root, 'project_name = "edges"\n', flows or {"hello.flow.py": HELLO})
    git(project, "init", "-q", "-b", branch)
    git(project, "add", "-A")
    git(project, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "init")
    return project


def doc_block(page: str, lang: str, containing: str) -> str:
    blocks = re.findall(r"```%s\n(.*?)\n```" % lang, doc_text(page), re.S)
    return next(b for b in blocks if containing in b)


# -- the quick start without $USER ---------------------------------------------------------------


def test_quick_start_where_user_is_unset_works_as_the_docs_say(sandbox, tmp_path):
    project = write_project(tmp_path / "proj", 'project_name = "edges"\n', {"hello.flow.py": HELLO})
    bare = {
        k: v for k, v in sandbox.env.items() if k not in ("USER", "USERNAME", "SUDO_USER", "LOGNAME", "METAFLOW_USER")
    }
    run = [sys.executable, "flows/hello.flow.py", "run"]
    # A container: no user variable at all. Metaflow alone refuses to run; a BaseFlow runs
    # as the fallback user and says so in one line.
    plain = project / "flows" / "plain.py"
    plain.write_text(
        "from metaflow import FlowSpec, step\n\n\nclass PlainFlow(FlowSpec):\n    @step\n"
        "    def start(self):\n        self.next(self.end)\n\n    @step\n    def end(self):\n"
        "        pass\n\n\nif __name__ == '__main__':\n    PlainFlow()\n"
    )
    refused = subprocess.run([sys.executable, str(plain), "run"], cwd=project, env=bare, capture_output=True, text=True)
    assert refused.returncode != 0 and "Unknown user" in refused.stdout + refused.stderr
    fallback = subprocess.run(run, cwd=project, env=bare, capture_output=True, text=True)
    assert fallback.returncode == 0, fallback.stderr[-3000:]
    assert "for user:local" in fallback.stdout + fallback.stderr
    warnings = [line for line in fallback.stderr.splitlines() if line.startswith("warning: no Metaflow user")]
    assert len(warnings) == 1, fallback.stderr[-3000:]
    # The quick start's fix, taken from the page itself.
    line = next(
        line for line in doc_block("quick-start.md", "bash", "METAFLOW_USER").splitlines() if line.startswith("export ")
    )
    name, value = line.split("#")[0].strip()[len("export ") :].split("=", 1)
    ok = subprocess.run(run, cwd=project, env=dict(bare, **{name: value}), capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr[-3000:]


# -- the Runner examples of "Writing a flow" ---------------------------------------------------------------


def test_docs_runner_examples_run(sandbox, tmp_path):
    project = write_project(tmp_path / "proj", 'project_name = "default_one"\n', {"hello.flow.py": HELLO})
    (project / "other").mkdir()
    (project / "other" / "flowproject.toml").write_text('project_name = "other_one"\n')
    code = doc_block("writing-flows.md", "python", "Runner(")
    proc = sandbox.run_ok(["-c", code], cwd=project)
    pathspecs = re.findall(r"^(HelloFlow/\S+) True$", proc.stdout, re.M)
    assert len(pathspecs) == 2, proc.stdout
    projects = sandbox.client(
        "namespace(None)\nresult = [[t for t in Run(p).tags if t.startswith('project:')] for p in %r]" % pathspecs,
        cwd=project,
    )
    assert projects == [["project:other_one"], ["project:scratch"]]


# -- hints fit the command -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv,hint",
    [
        (["validate"], "pass its path: flowproject validate PATH"),
        (["check"], "pass its path: flowproject check --config PATH"),
        (["deploy", "--dry-run", "--branch", "x"], "run it in the project or pass a FLOW_FILE of it"),
    ],
)
def test_each_command_hints_its_own_way_to_name_the_file(tmp_path, monkeypatch, capsys, argv, hint):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOWPROJECT_CONFIG", raising=False)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.rstrip().endswith(hint), err
    assert "--config flowconfig" not in err


# -- ./deploy ------------------------------------------------------------------------------------


def test_deploy_script_deploys_its_own_repository_from_anywhere(sandbox, tmp_path):
    repo = git_project(tmp_path / "proj", "fix/x")
    shutil.copy(REPO / "deploy", repo / "deploy")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run(
        [str(repo / "deploy"), "--dry-run"],
        cwd=elsewhere,
        env=dict(sandbox.env, FLOWPROJECT_PYTHON=sys.executable),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1].split()[1:4] == [
        str((repo / "flows" / "hello.flow.py").resolve()),
        "--branch",
        sanitize("fix/x"),
    ]


def test_deploy_piped_into_a_closed_reader_ends_without_a_traceback(sandbox, tmp_path):
    repo = git_project(tmp_path / "proj", "fix/x")
    # The reader is gone before the first line is written, as after `| head -0`.
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowproject.cli", "deploy", "--dry-run"],
        cwd=repo,
        env=sandbox.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == cli.EXIT_BROKEN_PIPE
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr and "Exception ignored" not in stderr, stderr


def test_deploy_script_into_head(sandbox, tmp_path):
    # More output than a pipe holds (64 KiB), so the writer is still writing when head
    # leaves: the broken pipe is certain, not a race.
    flows = {"f%03d.flow.py" % i: HELLO.replace("HelloFlow", "Hello%03dFlow" % i) for i in range(400)}
    repo = git_project(tmp_path / "proj", "fix/x", flows)
    shutil.copy(REPO / "deploy", repo / "deploy")
    proc = subprocess.run(
        ["bash", "-c", "./deploy --dry-run | head -1"],
        cwd=repo,
        env=dict(sandbox.env, FLOWPROJECT_PYTHON=sys.executable),
        capture_output=True,
        text=True,
    )
    assert proc.stdout.startswith("git branch 'fix/x'")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


def test_a_failed_row_shows_the_real_cause(sandbox, tmp_path, s3_server):
    # Metaflow's message for a missing kubernetes client spans lines; its last line alone
    # ("or equivalent through your favorite Python package manager.") says nothing.
    blocker = tmp_path / "no_kubernetes" / "kubernetes"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('No module named kubernetes')\n")
    repo = git_project(tmp_path / "proj", "fix/x")
    env = dict(
        s3_server.env,
        PYTHONPATH=str(blocker.parent),
        METAFLOW_DEFAULT_DATASTORE="s3",
        METAFLOW_DATASTORE_SYSROOT_S3="s3://%s/metaflow" % s3_server.new_bucket("edges"),
    )
    proc = sandbox.run(
        ["-m", "flowproject.cli", "deploy", "--json", "--only-json", str(tmp_path / "out")], cwd=repo, env=env
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    (row,) = json.loads(proc.stdout)
    assert row["status"] == "failed"
    assert "kubernetes" in row["error"].lower() and "Could not import" in row["error"], row["error"]
    assert not row["error"].split(": ", 1)[1].startswith("or equivalent")


def test_a_file_name_appears_once_in_an_error(sandbox, tmp_path):
    repo = git_project(tmp_path / "proj", "fix/x", {"broken.flow.py": "x = 1\n"})
    proc = sandbox.run(["-m", "flowproject.cli", "deploy", "--dry-run"], cwd=repo)
    assert proc.returncode == 1
    for line in proc.stdout.splitlines() + proc.stderr.splitlines():
        if "broken.flow.py" in line:
            assert line.count("broken.flow.py") == 1, line


# -- flags and --version -----------------------------------------------------------------------


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == "flowproject %s" % version("flowproject")


@pytest.mark.parametrize("branch", ["feat/Flag-Test", "main"])
def test_branch_flag_splices_into_a_metaflow_command(sandbox, tmp_path, branch):
    repo = git_project(tmp_path / "proj", branch)
    flag = sandbox.run_ok(["-m", "flowproject.cli", "branch", "--flag"], cwd=repo).stdout.strip()
    expected = "prod" if branch == "main" else "test.%s" % sanitize(branch)
    assert flag == ("--production" if branch == "main" else "--branch %s" % sanitize(branch))
    proc = subprocess.run(
        ["bash", "-c", '"$PY" flows/hello.flow.py $("$PY" -m flowproject.cli branch --flag) run'],
        cwd=repo,
        env=dict(sandbox.env, PY=sys.executable),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_id = run_id_of(proc)
    tags = sandbox.client("namespace(None)\nresult = sorted(Run('HelloFlow/%s').tags)" % run_id, cwd=repo)
    assert "project_branch:%s" % expected in tags


def test_provenance_flags_splice_into_argo_workflows_create(sandbox, tmp_path, s3_server):
    repo = git_project(tmp_path / "proj", "feat/by-hand")
    sha = git(repo, "rev-parse", "--short=7", "HEAD")
    flags = sandbox.run_ok(["-m", "flowproject.cli", "provenance", "--flags"], cwd=repo).stdout.strip()
    assert flags == "--tag commit:%s --tag git_branch:feat/by-hand --tag git_dirty:false" % sha
    env = dict(
        s3_server.env,
        PY=sys.executable,
        METAFLOW_DEFAULT_DATASTORE="s3",
        METAFLOW_DATASTORE_SYSROOT_S3="s3://%s/metaflow" % s3_server.new_bucket("byhand"),
    )
    proc = subprocess.run(
        [
            "bash",
            "-c",
            '"$PY" flows/hello.flow.py $("$PY" -m flowproject.cli branch --flag) '
            'argo-workflows create $("$PY" -m flowproject.cli provenance --flags) --only-json',
        ],
        cwd=repo,
        env=dict(sandbox.env, **env),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rendered = proc.stdout
    for tag in ("commit:%s" % sha, "git_branch:feat/by-hand", "git_dirty:false"):
        assert tag in rendered


# -- init / new: odd names, odd folders, links out of the folder ------------------------------------


def _tree(root: Path) -> dict:
    """Every path under ``root`` (links not followed) with its bytes or link target and mode."""
    out = {}
    for p in sorted(root.rglob("*")):
        if ".git" in p.relative_to(root).parts[:1]:
            continue
        key = str(p.relative_to(root))
        if p.is_symlink():
            out[key] = ("link", str(p.readlink()))
        elif p.is_file():
            out[key] = (p.read_bytes(), p.stat().st_mode)
        else:
            out[key] = ("dir", p.stat().st_mode)
    return out


def _cli(monkeypatch, capsys, cwd: Path, *argv: str):
    monkeypatch.chdir(cwd)
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_refusal(code, err, expected):
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert expected in lines[0], lines[0]


LONG = "a" * 200
NAME_CASES = [
    (["init", "--project-name", "p\n"], "--project-name: expected a Metaflow project name", "'p\\n'"),
    (["init", "--project-name", LONG], "--project-name: expected", "(200 characters)"),
    (["init", "b" * 300], "cannot be used: File name too long", "(300 characters)"),
    (["new", "a\n"], "invalid flow name 'a\\n'", "at most 100 characters"),
    (["new", LONG], "invalid flow name", "(200 characters)"),
    (["new", "x", "--dir", "d" * 300], "new --dir", "cannot be used: File name too long"),
]


@pytest.mark.parametrize("argv, expected, also", NAME_CASES, ids=lambda v: repr(v)[:30])
def test_odd_names_and_folders_are_one_line_and_write_nothing(tmp_path, monkeypatch, capsys, argv, expected, also):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    code, _, err = _cli(monkeypatch, capsys, repo, *argv)
    _one_line_refusal(code, err, expected)
    assert also in err
    assert _tree(repo) == {}


def test_default_names_from_a_long_folder_or_an_odd_pyproject(tmp_path, monkeypatch, capsys):
    long = tmp_path / ("c" * 200)
    long.mkdir()
    git(long, "init", "-q")
    code, _, err = _cli(monkeypatch, capsys, long, "init")
    _one_line_refusal(code, err, "the project name from the folder's name (pass --project-name)")
    assert "(200 characters)" in err and _tree(long) == {}

    # `project` a string, `[project] name` a number: neither is a name; the folder's is used.
    for pyproject in ('project = "x"\n', "[project]\nname = 5\n"):
        repo = tmp_path / ("odd%d" % len(pyproject))
        repo.mkdir()
        git(repo, "init", "-q")
        (repo / "pyproject.toml").write_text(pyproject)
        code, out, err = _cli(monkeypatch, capsys, repo, "init")
        assert code == 0 and err == "", err
        assert "pyproject.toml has no [project] name string; named the project %s" % repo.name in out
        assert 'project_name = "%s"' % repo.name in (repo / "flowproject.toml").read_text()


# (what is a link, where it points, the one line expected); "OUT" is a folder beside the repo.
LINK_CASES = [
    ("flows", "OUT", "flows is a link to {out}, outside {repo}"),
    ("tests", "OUT", "tests is a link to {out}, outside {repo}"),
    (".github", "OUT", ".github is a link to {out}, outside {repo}"),
    (".gitignore", "OUT/gitignore", ".gitignore is a link to {out}/gitignore, outside {repo}"),
    ("deploy", "OUT/deploy", "deploy is a link to {out}/deploy, outside {repo}"),
    ("data", "OUT", "data is a link to {out}, outside {repo}"),
    ("flowproject.toml", "nowhere.toml", "flowproject.toml is a link to nowhere.toml, which does not exist"),
    ("flows", "gone/flows", "flows is a link to gone/flows, which does not exist"),
]


@pytest.mark.parametrize("name, target, expected", LINK_CASES, ids=lambda v: str(v)[:20])
def test_init_and_new_write_nothing_through_links_leaving_the_folder(
    tmp_path, monkeypatch, capsys, name, target, expected
):
    repo, out = tmp_path / "repo", tmp_path / "out"
    repo.mkdir()
    out.mkdir()
    (out / "gitignore").write_text("secret-notes\n")
    (out / "deploy").write_text("#!/bin/sh\necho not flowproject\n")
    (out / "deploy").chmod(0o755)
    git(repo, "init", "-q")
    (repo / name).symlink_to(target.replace("OUT", str(out)))
    before_repo, before_out = _tree(repo), _tree(out)

    code, _, err = _cli(monkeypatch, capsys, repo, "init")
    _one_line_refusal(code, err, expected.format(out=out, repo=repo))
    if name in ("flows", "tests"):
        code, _, err = _cli(monkeypatch, capsys, repo, "new", "train")
        _one_line_refusal(code, err, expected.format(out=out, repo=repo))
    assert _tree(repo) == before_repo and _tree(out) == before_out


def test_links_that_stay_inside_the_folder_are_followed(tmp_path, monkeypatch, capsys):
    repo = tmp_path / "repo"
    (repo / "src" / "flows").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "flows").symlink_to("src/flows")
    code, out, err = _cli(monkeypatch, capsys, repo, "init")
    assert code == 0, err
    code, out, err = _cli(monkeypatch, capsys, repo, "new", "train")
    assert code == 0, err
    assert sorted(p.name for p in (repo / "src" / "flows").iterdir()) == ["sensor.flow.py", "train.flow.py"]
