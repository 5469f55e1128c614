"""Provenance tags and the latest-run record follow Metaflow's start and end steps.

Metaflow 2.19.23+ lets any step be the start or end (`@step(start=True)`); `resume`
clones the steps that had succeeded, the start step among them.
"""

from __future__ import annotations

import subprocess

from conftest import run_id_of, write_project

MARKED = """
from metaflow import step
from flowproject import BaseFlow


class MarkedFlow(BaseFlow):
    @step(start=True)
    def begin(self):
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        pass


if __name__ == "__main__":
    MarkedFlow()
"""

# Fails in `middle` while the marker file exists; `resume` after removing it succeeds.
FLAKY = """
import os
from metaflow import step
from flowproject import BaseFlow


class FlakyFlow(BaseFlow):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self):
        if os.path.exists(os.environ["FAIL_MARKER"]):
            raise RuntimeError("failing on purpose")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FlakyFlow()
"""


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def committed_project(root, flows):
    project = write_project(root, 'project_name = "marks"\n', flows)
    git(project, "init", "-q", "-b", "feat")
    git(project, "add", "-A")
    git(project, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "init")
    return project, git(project, "rev-parse", "--short=7", "HEAD")


def user_tags(sandbox, flow, run_id):
    return sandbox.client("namespace(None)\nresult = sorted(Run('%s/%s').user_tags)" % (flow, run_id))


def pointers_naming(sandbox, flow, run_id):
    # The latest-run record (flowproject.getters.runs) is a small JSON object below the flow's
    # folder in the datastore; find every one that names this run.
    found = []
    for path in (sandbox.root / "datastore").rglob("_flowproject/latest/**/*.json"):
        if flow in path.parts and run_id in path.read_text():
            found.append(path)
    return found


def test_marked_start_and_end_steps_keep_tags_and_the_latest_run_record(sandbox, tmp_path):
    project, sha = committed_project(tmp_path / "proj", {"marked.flow.py": MARKED})
    run_id = run_id_of(sandbox.run_ok(["flows/marked.flow.py", "run"], cwd=project))
    assert user_tags(sandbox, "MarkedFlow", run_id) == ["commit:%s" % sha, "git_branch:feat", "git_dirty:false"]
    assert pointers_naming(sandbox, "MarkedFlow", run_id), "the end step did not record the run"


def test_a_resumed_run_keeps_the_provenance_tags(sandbox, tmp_path):
    project, sha = committed_project(tmp_path / "proj", {"flaky.flow.py": FLAKY})
    marker = tmp_path / "fail"
    marker.write_text("")
    env = {"FAIL_MARKER": str(marker)}
    failed = sandbox.run(["flows/flaky.flow.py", "run"], cwd=project, env=env)
    assert failed.returncode != 0 and "failing on purpose" in failed.stdout + failed.stderr
    marker.unlink()
    resumed = sandbox.run_ok(["flows/flaky.flow.py", "resume"], cwd=project, env=env)
    run_id = run_id_of(resumed)
    assert run_id != run_id_of(failed)
    # start was cloned, not run: the tags come from the end step of the resumed run.
    assert "Cloning" in resumed.stdout + resumed.stderr
    assert user_tags(sandbox, "FlakyFlow", run_id) == ["commit:%s" % sha, "git_branch:feat", "git_dirty:false"]
    assert pointers_naming(sandbox, "FlakyFlow", run_id)
