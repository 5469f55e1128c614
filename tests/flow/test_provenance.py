"""Every run says which commit and branch built it."""

from __future__ import annotations

import subprocess

from conftest import run_id_of, two_step_flow, write_project

FLOW = two_step_flow("TaggedFlow")


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def run_tags(sandbox, project):
    run_id = run_id_of(sandbox.run_ok(["flows/tagged.flow.py", "run"], cwd=project))
    tags = sandbox.client("namespace(None)\nresult = sorted(Run('TaggedFlow/%s').user_tags)" % run_id)
    return run_id, tags


def test_local_runs_carry_commit_branch_and_dirty_tags(sandbox, tmp_path):
    project = write_project(tmp_path / "proj", 'project_name = "tagged"\n', {"tagged.flow.py": FLOW})
    git(project, "init", "-q", "-b", "feature/tags")
    git(project, "add", "-A")
    git(project, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "init")
    sha = git(project, "rev-parse", "--short=7", "HEAD")

    run_id, tags = run_tags(sandbox, project)
    assert tags == ["commit:%s" % sha, "git_branch:feature/tags", "git_dirty:false"]

    (project / "flowproject.toml").write_text('project_name = "tagged"\n# edited\n')
    _, dirty_tags = run_tags(sandbox, project)
    assert "git_dirty:true" in dirty_tags

    found = sandbox.client("namespace(None)\nresult = [r.id for r in Flow('TaggedFlow').runs('commit:%s')]" % sha)
    assert run_id in found and len(found) == 2


def test_no_tags_outside_git(sandbox, tmp_path):
    project = write_project(tmp_path / "proj", 'project_name = "tagged"\n', {"tagged.flow.py": FLOW})
    _, tags = run_tags(sandbox, project)
    assert tags == []
