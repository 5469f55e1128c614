"""Issue 17 item 3: a branch *named* like a ref is an ordinary branch, never production."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import two_step_flow, write_project

from flowproject.deploy.branches import decide, sanitize

LITERAL = "refs/heads/main"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A project whose checked-out branch is literally named refs/heads/main."""
    root = tmp_path / "proj"
    write_project(root, 'project_name = "demo"\n', {})
    (root / "flows").mkdir(exist_ok=True)
    (root / "flows" / "hello.flow.py").write_text(two_step_flow("HelloFlow"))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "init")
    git(root, "checkout", "-q", "-b", LITERAL)
    assert git(root, "symbolic-ref", "HEAD") == "refs/heads/" + LITERAL
    return root


def test_a_checkout_of_a_branch_named_like_a_ref_is_ordinary(repo):
    d = decide(env={}, cwd=str(repo))
    assert (d.source, d.git_branch, d.production) == ("git", LITERAL, False)
    assert d.metaflow_branch == sanitize(LITERAL)
    # The real main of the same repository is still production.
    git(repo, "checkout", "-q", "main")
    assert decide(env={}, cwd=str(repo)).production


@pytest.mark.parametrize(
    "env,production,git_branch",
    [
        # A pull request from the branch named refs/heads/main: GITHUB_HEAD_REF is a name.
        ({"GITHUB_HEAD_REF": LITERAL, "GITHUB_REF": "refs/pull/7/merge"}, False, LITERAL),
        # A push of that branch: GitHub's full ref has the prefix twice.
        ({"GITHUB_REF": "refs/heads/" + LITERAL, "GITHUB_REF_NAME": LITERAL}, False, LITERAL),
        ({"GITHUB_REF_NAME": LITERAL}, False, LITERAL),
        ({"CI_COMMIT_REF_NAME": LITERAL}, False, LITERAL),
        # The real main: its full ref, or its name.
        ({"GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main"}, True, "main"),
        ({"GITHUB_REF_NAME": "main"}, True, "main"),
        # A tag ref names no branch: the next variable decides.
        ({"GITHUB_REF": "refs/tags/main", "GITHUB_REF_NAME": "v1"}, False, "v1"),
    ],
)
def test_ci_variables_by_their_meaning(repo, env, production, git_branch):
    d = decide(env=env, cwd=str(repo))
    assert (d.production, d.git_branch) == (production, git_branch)


def test_deploy_dry_run_plans_a_test_branch_for_it(sandbox, repo):
    sha = git(repo, "rev-parse", "HEAD")
    for env in ({}, {"GITHUB_HEAD_REF": LITERAL}, {"GITHUB_REF": "refs/heads/" + LITERAL}):
        proc = sandbox.run_ok(["-m", "flowproject.cli", "deploy", "--json", "--dry-run"], cwd=repo, env=env)
        command = json.loads(proc.stdout)[0]["command"]
        assert "--production" not in command, env
        assert command[2:4] == ["--branch", sanitize(LITERAL)], env
        assert "git_branch:" + LITERAL in command and "commit:" + sha[:7] in command
    # --branch takes a name too.
    proc = sandbox.run_ok(["-m", "flowproject.cli", "deploy", "--json", "--dry-run", "--branch", LITERAL], cwd=repo)
    assert json.loads(proc.stdout)[0]["command"][2:4] == ["--branch", sanitize(LITERAL)]
