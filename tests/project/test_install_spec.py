"""The requirement `init` writes into the CI workflows follows how flowproject was installed
(pip's PEP 610 record), so a team's first CI run installs what they installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

ACTION = Path(".github") / "actions" / "flowproject-setup" / "action.yml"


def init_with(tmp_path: Path, direct_url: Optional[dict], shadow: bool = True) -> tuple[str, str]:
    """`flowproject init` in a fresh repository, with pip's record of the flowproject install
    replaced by ``direct_url`` (None: installed from an index) when ``shadow``."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    env = dict(os.environ)
    if shadow:
        # A dist-info earlier on sys.path is the one importlib.metadata reads, as after a
        # `pip install --target`; the code still imports from this checkout.
        info = tmp_path / "site" / "flowproject-0.1.0.dist-info"
        info.mkdir(parents=True)
        info.joinpath("METADATA").write_text("Metadata-Version: 2.1\nName: flowproject\nVersion: 0.1.0\n")
        if direct_url is not None:
            info.joinpath("direct_url.json").write_text(json.dumps(direct_url))
        env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "site"), str(Path(__file__).resolve().parents[2])])
    proc = subprocess.run(
        [sys.executable, "-m", "flowproject.cli", "init", "."], cwd=repo, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, (repo / ACTION).read_text()


def test_an_editable_checkout_is_named_as_unreachable_and_the_index_version_is_written(tmp_path):
    out, action = init_with(tmp_path, None, shadow=False)
    assert 'default: "flowproject[s3]==' in action
    (note,) = [line for line in out.splitlines() if line.startswith("note")]
    assert "which CI cannot reach" in note and "--flowproject-spec" in note and "file://" in note


def test_an_index_install_writes_the_same_version_and_says_nothing(tmp_path):
    out, action = init_with(tmp_path, None)
    assert 'default: "flowproject[s3]==0.1.0"' in action
    assert not [line for line in out.splitlines() if line.startswith("note")]


def test_a_git_install_is_pinned_to_its_commit_and_its_token_left_out(tmp_path):
    origin = {
        "url": "https://ci-bot:ghp_SECRET123@github.com/acme/flowproject.git",
        "vcs_info": {"vcs": "git", "commit_id": "0123abc", "requested_revision": "main"},
    }
    out, action = init_with(tmp_path, origin)
    assert 'default: "flowproject[s3] @ git+https://github.com/acme/flowproject.git@0123abc"' in action
    assert "SECRET" not in action + out
    (note,) = [line for line in out.splitlines() if line.startswith("note")]
    assert "credentials" in note


@pytest.mark.parametrize(
    "origin, requirement",
    [
        (
            {"url": "https://files.example.com/flowproject-0.1.0-py3-none-any.whl", "archive_info": {}},
            "flowproject[s3] @ https://files.example.com/flowproject-0.1.0-py3-none-any.whl",
        ),
        (
            {
                "url": "ssh://git@git.example.com/acme/tools.git",
                "vcs_info": {"vcs": "git", "commit_id": "beef"},
                "subdirectory": "flowproject",
            },
            "flowproject[s3] @ git+ssh://git@git.example.com/acme/tools.git@beef#subdirectory=flowproject",
        ),
    ],
)
def test_a_wheel_url_or_an_ssh_repository_is_used_as_it_was(tmp_path, origin, requirement):
    out, action = init_with(tmp_path, origin)
    assert 'default: "%s"' % requirement in action
    assert not [line for line in out.splitlines() if line.startswith("note")]


def test_a_local_wheel_file_is_named_as_unreachable(tmp_path):
    out, action = init_with(
        tmp_path, {"url": "file:///tmp/dist/flowproject-0.1.0-py3-none-any.whl", "archive_info": {}}
    )
    assert 'default: "flowproject[s3]==0.1.0"' in action
    assert any("file:///tmp/dist" in line for line in out.splitlines() if line.startswith("note"))
