"""The CI entry points stay runnable and true to the README."""

from __future__ import annotations

import re

import tomllib
import yaml
from conftest import REPO


def test_ci_run_calls_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    test_cmd = next(b for b in blocks if "pytest" in b)
    assert test_cmd in (REPO / ".ci" / "run").read_text()
    assert test_cmd in (REPO / ".github" / "workflows" / "ci.yml").read_text()


def test_ci_run_type_checks_flowproject_after_ruff():
    lines = (REPO / ".ci" / "run").read_text().splitlines()
    last_ruff = max(i for i, line in enumerate(lines) if line.startswith(".venv/bin/ruff "))
    mypy = [i for i, line in enumerate(lines) if line.strip() == ".venv/bin/mypy flowproject"]
    assert mypy and mypy[0] > last_ruff, ".ci/run must run `.venv/bin/mypy flowproject` after ruff"


def test_mypy_is_pinned_in_dev_and_runs_in_pre_commit():
    dev = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert any(re.fullmatch(r"mypy>=[0-9.]+,<[0-9.]+", d.replace(" ", "")) for d in dev), dev
    hooks = [
        h for repo in yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())["repos"] for h in repo["hooks"]
    ]
    mypy = next(h for h in hooks if h["id"] == "mypy")
    assert (mypy["entry"], mypy["args"], mypy["pass_filenames"]) == (".venv/bin/mypy", ["flowproject"], False)


def test_type_checker_is_not_silenced():
    """Zero findings means fixed, not hidden: no ignore_errors, no file-wide or bare ignores."""
    conf = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mypy"]
    strict = ("check_untyped_defs", "warn_unused_ignores", "warn_redundant_casts", "strict_equality")
    assert [conf.get(k) for k in strict] == [True] * len(strict), conf
    assert not conf.get("ignore_errors"), conf
    assert not [o for o in conf.get("overrides", []) if o.get("ignore_errors")], conf
    blanket = re.compile(r"#\s*(mypy:\s*ignore-errors|type:\s*ignore(?!\[))")
    found = [
        "%s:%d" % (path.relative_to(REPO), n)
        for path in sorted((REPO / "flowproject").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if blanket.search(line)
    ]
    assert not found, "name the error code (# type: ignore[code]) and why: %s" % found
