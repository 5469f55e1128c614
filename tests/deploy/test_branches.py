"""The branch rule: git/CI branch -> Metaflow @project branch."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from flowproject import cli
from flowproject.deploy.branches import (
    MAX_BRANCH_LENGTH,
    BranchDecision,
    BranchError,
    decide,
    sanitize,
)

VALID = re.compile(r"^[a-z0-9_]+$")

# input -> expected output. The suffixes are pinned on purpose: a deploy and a later
# teardown (another process, another machine) must compute the same name.
SANITIZER_TABLE = [
    ("feat_a", "feat_a"),
    ("feat-a", "feat_a_f4ff5f"),
    ("Feat/A", "feat_a_4c0c8f"),
    ("feature/ABC-123", "feature_abc_123_62975f"),
    ("dependabot/pip/x-1.2", "dependabot_pip_x_1_2_a522df"),
    ("release.1.2", "release_1_2_fd4df0"),
    ("UPPER", "upper_9cba1c"),
    ("123abc", "123abc"),
    ("2024-01-hotfix", "2024_01_hotfix_e83398"),
    ("ümlaut/straße", "umlaut_stra_e_f38ad8"),
    ("café", "cafe_850f7d"),
    ("日本語", "branch_77710a"),
    ("--weird--", "weird_f0fde7"),
    ("_x_", "x_f1f6bd"),
    ("a//b..c", "a_b_c_9e864d"),
]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def git_repo(root: Path, branch: str = "main") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", branch)
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "init")
    return root


@pytest.mark.parametrize("name,expected", SANITIZER_TABLE)
def test_sanitizer_table(name, expected):
    assert sanitize(name) == expected


@pytest.mark.parametrize(
    "name", [n for n, _ in SANITIZER_TABLE] + ["x" * 200, "A" * 129, "a" * 128, "a" * 129, "-", ""]
)
def test_sanitized_names_are_valid_metaflow_branches(name):
    out = sanitize(name)
    assert VALID.match(out), out
    assert len(out) <= MAX_BRANCH_LENGTH
    assert not out.startswith("_") and not out.endswith("_")


def test_long_names_are_cut_with_a_suffix_that_tells_them_apart():
    a, b = "x" * 200, "x" * 199 + "y"
    assert len(sanitize(a)) == MAX_BRANCH_LENGTH
    assert sanitize(a) != sanitize(b)
    assert sanitize(a).startswith("x" * 100)
    # 128 valid characters is still valid: no suffix.
    assert sanitize("a" * 128) == "a" * 128
    assert sanitize("a" * 129) != "a" * 128


def test_names_differing_only_in_lost_characters_get_different_namespaces():
    names = ["feat-a", "feat_a", "Feat/A", "feat.a", "FEAT_A"]
    assert len({sanitize(n) for n in names}) == len(names)


def test_decide_argument_wins_over_ci_and_git(tmp_path):
    repo = git_repo(tmp_path / "r", "some-git-branch")
    d = decide("feature/x", env={"GITHUB_HEAD_REF": "pr-branch"}, cwd=str(repo))
    assert d == BranchDecision("argument", "feature/x", sanitize("feature/x"), False)
    assert d.metaflow_flags() == ["--branch", sanitize("feature/x")]


@pytest.mark.parametrize(
    "env,source,branch",
    [
        ({"GITHUB_HEAD_REF": "pr/x", "GITHUB_REF_NAME": "12/merge"}, "GITHUB_HEAD_REF", "pr/x"),
        # GitHub sets GITHUB_HEAD_REF to "" on push events.
        ({"GITHUB_HEAD_REF": "", "GITHUB_REF_NAME": "feature-y"}, "GITHUB_REF_NAME", "feature-y"),
        ({"GITHUB_HEAD_REF": "  ", "CI_COMMIT_REF_NAME": "gl/z"}, "CI_COMMIT_REF_NAME", "gl/z"),
        ({"BRANCH_NAME": "jenkins"}, "BRANCH_NAME", "jenkins"),
    ],
)
def test_decide_reads_ci_variables_in_order_and_skips_empty_ones(tmp_path, env, source, branch):
    repo = git_repo(tmp_path / "r", "local-branch")
    d = decide(env=env, cwd=str(repo))
    assert (d.source, d.git_branch, d.metaflow_branch) == (source, branch, sanitize(branch))


def test_decide_falls_back_to_git(tmp_path):
    repo = git_repo(tmp_path / "r", "topic/Thing")
    d = decide(env={}, cwd=str(repo))
    assert d.as_dict() == {
        "source": "git",
        "git_branch": "topic/Thing",
        "metaflow_branch": sanitize("topic/Thing"),
        "production": False,
    }


def test_production_branches_map_to_production(tmp_path):
    repo = git_repo(tmp_path / "r", "master")
    d = decide(env={}, cwd=str(repo))
    assert d.production and d.metaflow_branch is None
    assert d.metaflow_flags() == ["--production"]
    assert d.namespace == "prod"
    assert decide("main", env={}).production
    # A name is compared exactly: a branch literally named "refs/heads/main" is not main.
    assert not decide("refs/heads/main", env={}).production
    # Configured production branches replace the defaults.
    assert decide("release", production_branches=["release"], env={}).production
    assert not decide("main", production_branches=["release"], env={}).production


def test_detached_head_without_ci_variables_is_a_one_line_error(tmp_path):
    repo = git_repo(tmp_path / "r")
    git(repo, "checkout", "-q", "--detach")
    with pytest.raises(BranchError) as e:
        decide(env={"GITHUB_HEAD_REF": ""}, cwd=str(repo))
    text = str(e.value)
    assert "\n" not in text
    assert "detached HEAD" in text and "--branch" in text and "GITHUB_HEAD_REF" in text
    # With a CI variable the same checkout deploys fine.
    assert decide(env={"CI_COMMIT_REF_NAME": "main"}, cwd=str(repo)).production


def test_an_explicitly_empty_branch_never_falls_back_to_the_checkout(tmp_path):
    repo = git_repo(tmp_path / "r", "main")
    with pytest.raises(BranchError, match="empty"):
        decide("", env={}, cwd=str(repo))


def test_cli_branch_prints_the_name_or_the_decision(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOWPROJECT_CONFIG", raising=False)
    (tmp_path / "flowproject.toml").write_text('project_name = "p"\n[deploy]\nproduction_branches = ["live"]\n')
    assert cli.main(["branch", "Feat/A"]) == 0
    assert capsys.readouterr().out.strip() == sanitize("Feat/A")
    assert cli.main(["branch", "live", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "source": "argument",
        "git_branch": "live",
        "metaflow_branch": None,
        "production": True,
    }
    # "main" is not production in this project.
    assert cli.main(["branch", "main", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metaflow_branch"] == "main"
