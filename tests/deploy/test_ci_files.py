"""The CI entry points stay runnable and true to the README."""

from __future__ import annotations

import re

from conftest import REPO


def test_ci_run_calls_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    test_cmd = next(b for b in blocks if "pytest" in b)
    assert test_cmd in (REPO / ".ci" / "run").read_text()
    assert test_cmd in (REPO / ".github" / "workflows" / "ci.yml").read_text()
