"""Git provenance tags on every run: which commit and branch built it, and was it dirty.

Local runs are tagged from the flow file's git checkout when the run starts (a ``resume``d
run when its end step runs, since its start step is cloned, not run). Deployed
runs execute in pods without a checkout, so ``./deploy`` passes the same tags to
``argo-workflows create --tag`` and Argo puts them on every run. Find the runs built from a
commit with ``Flow("SensorFlow").runs("commit:1a2b3c4")``.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Union

# Enough to be unique in any real repository, short enough to read in the UI.
SHORT_SHA_LENGTH = 7


def _git(cwd: Path, *args: str) -> Optional[str]:
    proc = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def git_info(path: Union[str, Path]) -> Optional[Dict[str, str]]:
    """``{"commit", "branch", "dirty"}`` for the checkout holding ``path``; None without git."""
    folder = Path(path).resolve()
    folder = folder if folder.is_dir() else folder.parent
    if shutil.which("git") is None or _git(folder, "rev-parse", "--is-inside-work-tree") != "true":
        return None
    commit = _git(folder, "rev-parse", "--short=%d" % SHORT_SHA_LENGTH, "HEAD")
    if commit is None:  # a repository with no commit yet
        return None
    branch = _git(folder, "rev-parse", "--abbrev-ref", "HEAD") or "HEAD"
    dirty = bool(_git(folder, "status", "--porcelain", "--untracked-files=no"))
    return {"commit": commit, "branch": branch, "dirty": "true" if dirty else "false"}


def tags_for(info: Optional[Dict[str, str]]) -> List[str]:
    """The run tags for ``git_info`` output: ``commit:``, ``git_branch:``, ``git_dirty:``."""
    if not info:
        return []
    return ["commit:%s" % info["commit"], "git_branch:%s" % info["branch"], "git_dirty:%s" % info["dirty"]]


def _tag_current_run() -> None:
    from metaflow import Run, current

    if current.get("retry_count"):
        return  # tagged on the first attempt
    tags = tags_for(git_info(sys.argv[0]))
    if tags:
        Run("%s/%s" % (current.flow_name, current.run_id), _namespace_check=False).add_tags(tags)


@functools.cache
def tagger():
    """The step decorator BaseFlow puts on the start step: tags the run from the flow's checkout.

    Built on first use, one class per process, like ``flowproject.getters.runs.recorder``.
    """
    from metaflow.user_decorators.user_step_decorator import UserStepDecorator

    class tag_git_provenance(UserStepDecorator):
        def pre_step(self, step_name, flow, inputs=None):
            _tag_current_run()

    return tag_git_provenance


@functools.cache
def resume_tagger():
    """The step decorator BaseFlow puts on the end step: tags a ``resume``d run.

    ``resume`` clones the steps that succeeded before, start among them, so the start
    step's tagger never runs; the end step always runs again (the origin run did not
    finish, or ``resume <step>`` re-runs it and what follows). The resumed run runs the
    checkout's current code, so it gets the checkout's current tags.
    """
    from metaflow import current
    from metaflow.user_decorators.user_step_decorator import UserStepDecorator

    class tag_git_provenance_on_resume(UserStepDecorator):
        def pre_step(self, step_name, flow, inputs=None):
            if current.get("origin_run_id"):
                _tag_current_run()

    return tag_git_provenance_on_resume
