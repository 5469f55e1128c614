"""The documentation: the site builds with --strict from what git tracks, the generated
reference covers the schema and the parser, and every block marked runnable runs.

The marker is an HTML comment on the line before a fenced block (CONTRIBUTING.md):
``<!-- runnable -->``. A page's runnable blocks run in order in one fresh copy of this
repository's example project (flowproject.toml, flows/, data/, sql/, a git checkout on
``main``) inside a Metaflow sandbox. A ``toml`` or ``python`` block whose first line is
``# <path>`` is written to that path; any other block is run (``bash -euo pipefail``, or
the test's Python) and must exit 0.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from conftest import DOCS, REPO, doc_text
from test_layout import LAYERS

from flowproject.cli.main import build_parser

MARKER = "<!-- runnable -->"
BLOCK = re.compile(r"^%s\n```(\w+)[^\n]*\n(.*?)^```$" % re.escape(MARKER), re.M | re.S)
PROJECT_FILES = ("flowproject.toml", "flows", "data", "sql")


def _generator():
    spec = importlib.util.spec_from_file_location("gen_reference", DOCS / "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


def runnable_pages() -> Dict[str, List[Tuple[str, str]]]:
    pages = {"README.md": doc_text("README.md")}
    pages.update({p.name: p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md"))})
    return {name: BLOCK.findall(text) for name, text in pages.items() if BLOCK.search(text)}


# -- the site ------------------------------------------------------------------------------


def test_site_builds_strict_from_a_clean_checkout(tmp_path):
    # Only what git tracks: a page or a hook left out of a commit breaks this build, as it
    # would break a fresh clone's.
    tracked = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    clone = tmp_path / "clone"
    for name in filter(None, (t.decode() for t in tracked)):
        if (REPO / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, clone / name)
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
        cwd=clone,
        capture_output=True,
        text=True,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1", METAFLOW_USER="docs"),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    toml_page = (site / "reference" / "flowproject-toml" / "index.html").read_text()
    assert "publish_timeout_seconds" in toml_page and "production_branches" in toml_page
    assert "flowproject deploy" in (site / "reference" / "cli" / "index.html").read_text()
    architecture = (site / "architecture" / "index.html").read_text()
    assert 'class="mermaid"' in architecture and "sensor --&gt; flow" in architecture


def test_every_page_is_in_the_nav():
    import yaml

    nav = yaml.safe_load(
        re.sub(r"!!python/name:\S+", "x", (REPO / "mkdocs.yml").read_text())  # the mermaid fence's loader tag
    )["nav"]
    listed = set(re.findall(r"[\w/.-]+\.md", str(nav)))
    pages = {p.name for p in DOCS.glob("*.md")} | set(GEN.GENERATED)
    assert pages == listed, (sorted(pages - listed), sorted(listed - pages))


# -- the generated reference ---------------------------------------------------------------


def test_the_toml_reference_names_every_key_with_its_default():
    page = GEN.toml_reference()
    for table, fields in GEN.field_tables().items():
        for key, (_, default) in fields.items():
            row = next(line for line in page.splitlines() if line.startswith("| `[%s] %s` |" % (table, key)))
            if isinstance(default, (int, str)) and not isinstance(default, bool):
                assert "`%s`" % (default if isinstance(default, int) else '"%s"' % default) in row, row
    for key in ("project_name", "environment", "[environments.<name>]"):
        assert "| `%s` |" % key in page, key
    # The type column is what the checker tells a bad value.
    assert "| `[data] check_mode` | one of files_metadata, file_modified_ts, file_size |" in page


def test_a_key_without_a_meaning_stops_the_build(monkeypatch):
    meanings = {table: dict(keys) for table, keys in GEN.MEANINGS.items()}
    del meanings["sensor"]["card"]
    meanings["deploy"]["gone"] = "a key the schema no longer has"
    monkeypatch.setattr(GEN, "MEANINGS", meanings)
    with pytest.raises(RuntimeError, match=r"deploy\.gone, sensor\.card"):
        GEN.toml_reference()


def test_the_cli_reference_has_every_command_and_option():
    page = GEN.cli_reference()
    commands = list(GEN._subcommands(build_parser(), "flowproject"))
    assert {"flowproject deploy", "flowproject events serve", "flowproject sensor history"} <= {
        c for c, _, _ in commands
    }
    for name, _, parser in commands:
        assert "## `%s`" % name in page, name
        for action in parser._actions:
            for option in action.option_strings:
                assert option in page, (name, option)


def test_the_layer_diagram_follows_test_layout_and_points_down():
    diagram = GEN.layer_diagram()
    nodes = re.findall(r"^    (\w+)\[", diagram, re.M)
    package = REPO / "flowproject"
    expected = [
        n for n in LAYERS if not n.startswith("_") and ((package / n).is_dir() or (package / (n + ".py")).exists())
    ]
    assert nodes == expected
    edges = re.findall(r"^    (\w+) --> (\w+)$", diagram, re.M)
    assert ("sensor", "flow") in edges and ("cli", "deploy") in edges
    assert all(nodes.index(src) > nodes.index(dst) for src, dst in edges), edges
    for name in nodes:  # every folder says what it owns
        assert re.search(r"^\| `%s(/|\.py)` \| \S" % name, diagram, re.M), name


# -- runnable blocks -----------------------------------------------------------------------


def test_the_marker_finds_the_runnable_blocks():
    pages = runnable_pages()
    assert {"README.md", "quick-start.md", "hooks.md"} <= set(pages)
    # A marker must sit right above a fence: one that does not would silently run nothing.
    for path in [REPO / "README.md", *DOCS.glob("*.md")]:
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if line.strip() == MARKER:
                assert i + 1 < len(lines) and lines[i + 1].startswith("```"), "%s:%d" % (path.name, i + 1)


def _project(root: Path) -> Path:
    for name in PROJECT_FILES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", ".metaflow"))
        else:
            root.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / name, root / name)
    git = ["git", "-C", str(root)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "-c", "user.email=d@example.com", "-c", "user.name=d", "commit", "-qm", "docs"], check=True)
    return root


def _target(lang: str, code: str):
    first = code.splitlines()[0] if code.strip() else ""
    if lang in ("toml", "python") and re.match(r"^# [\w./-]+\.\w+(\s|$)", first):
        return first.split()[1]
    return None


@pytest.mark.parametrize("page", sorted(runnable_pages()))
def test_runnable_blocks_run(sandbox, tmp_path, page):
    project = _project(tmp_path / "project")
    # The docs say `python` and `flowproject`: this interpreter's.
    env = {"PATH": "%s%s%s" % (Path(sys.executable).parent, os.pathsep, sandbox.env.get("PATH", ""))}
    for lang, code in runnable_pages()[page]:
        target = _target(lang, code)
        if target:
            (project / target).parent.mkdir(parents=True, exist_ok=True)
            (project / target).write_text(code)
            continue
        if lang in ("bash", "sh", "console"):
            argv = ["bash", "-euo", "pipefail", "-c", code]
        elif lang == "python":
            argv = [sys.executable, "-c", code]
        else:
            pytest.fail("%s: a runnable %s block must start with '# <path>' (a file to write)" % (page, lang))
        proc = subprocess.run(
            argv, cwd=project, env=dict(sandbox.env, **env), capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, "%s block failed:\n%s\nSTDOUT:\n%s\nSTDERR:\n%s" % (
            page,
            code,
            proc.stdout[-3000:],
            proc.stderr[-3000:],
        )
