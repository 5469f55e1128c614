"""Mistakes caught before any step runs: by `flowproject validate` and by a real flow run.

Each bad config is written to disk the way a user would get it wrong; the run must stop
before `start` with one line naming the file, the key and the expectation, and no traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from conftest import write_project

from flowproject.cli import main

FLOW = """
from metaflow import step
from flowproject import BaseFlow


class CheckedFlow(BaseFlow):
    @step
    def start(self):
        print("START RAN")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CheckedFlow()
"""

NESTED = "project_name = 'p'\nx = %s1%s\n" % ("[" * 3000, "]" * 3000)


def _project(root: Path, toml: str) -> Path:
    write_project(root, "", {"checked.flow.py": FLOW})
    (root / "flowproject.toml").write_text(toml)
    (root / "sql").mkdir()
    (root / "sql" / "present.sql").write_text("select 1\n")
    (root / "data").mkdir()
    (root / "afile.csv").write_text("a,b\n")
    return root


# name -> (flowproject.toml text, extra env, extra run args, expected error regex)
CASES: Dict[str, Tuple[str, Dict[str, str], List[str], str]] = {
    "template_escapes_sql": (
        "project_name = 'p'\n[data]\ntype = 'snowflake'\ntemplate = '../secrets'\n",
        {},
        [],
        r"flowproject\.toml: data\.template: '\.\./secrets' is not a plain template name",
    ),
    "template_absolute": (
        "project_name = 'p'\n[data]\ntype = 'snowflake'\ntemplate = '/etc/passwd'\n",
        {},
        [],
        r"flowproject\.toml: data\.template: '/etc/passwd' is not a plain template name",
    ),
    "template_missing": (
        "project_name = 'p'\n[data]\ntype = 'snowflake'\ntemplate = 'absent'\n",
        {},
        [],
        r"flowproject\.toml: data\.template: \S+/sql/absent\.sql not found; available in \S+/sql: present",
    ),
    "file_size_on_folder": (
        "project_name = 'p'\n[data]\npath = 'data'\ncheck_mode = 'file_size'\n",
        {},
        [],
        r"flowproject\.toml: data\.path: \S+/data is a folder; check_mode 'file_size' watches one file",
    ),
    "file_modified_ts_on_folder": (
        "project_name = 'p'\n[data]\npath = 'data'\ncheck_mode = 'file_modified_ts'\n",
        {},
        [],
        r"flowproject\.toml: data\.path: \S+/data is a folder; check_mode 'file_modified_ts' watches one file",
    ),
    "files_metadata_on_file": (
        "project_name = 'p'\n[data]\npath = 'afile.csv'\n",
        {},
        [],
        r"flowproject\.toml: data\.path: \S+/afile\.csv is a file; check_mode 'files_metadata' watches a folder",
    ),
    "project_name_too_long": (
        "project_name = '%s'\n" % ("a" * 129),
        {},
        [],
        r"flowproject\.toml: project_name: expected at most 128 characters \(Metaflow's @project limit\); got 129",
    ),
    "not_utf8": (
        "project_name = 'p'\n# caf\xe9\n",  # written as latin-1 below
        {},
        [],
        r"flowproject\.toml: \(file\): is not UTF-8 text \(byte 0xe9 on line 2\)",
    ),
    "nested_too_deep": (NESTED, {}, [], r"flowproject\.toml: \(syntax\): nested too deeply to parse"),
    "config_env_is_a_folder": (
        "project_name = 'p'\n",
        {"FLOWPROJECT_CONFIG": "{root}/data"},
        [],
        r"\S+/data: \(file\): FLOWPROJECT_CONFIG names a folder; expected the path of a flowproject\.toml file",
    ),
    "config_value_not_a_table": (
        "project_name = 'p'\n",
        {},
        ["--config-value", "flowconfig", "[1, 2]"],
        r"<flowconfig value>: \(top level\): expected a table of settings; got \[1, 2\]",
    ),
}


def _write(root: Path, name: str) -> Path:
    toml = CASES[name][0]
    _project(root, "")
    encoding = "latin-1" if name == "not_utf8" else "utf-8"
    (root / "flowproject.toml").write_bytes(toml.encode(encoding))
    return root


def _env(root: Path, name: str) -> Dict[str, str]:
    return {k: v.format(root=root) for k, v in CASES[name][1].items()}


def _one_error_line(stderr: str, pattern: str) -> str:
    assert "Traceback" not in stderr, stderr[-3000:]
    hits = [line.strip() for line in stderr.splitlines() if re.search(pattern, line)]
    assert len(hits) == 1, "expected one line matching %r in:\n%s" % (pattern, stderr[-3000:])
    return hits[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_run_stops_before_start_with_one_line(sandbox, tmp_path, name):
    root = _write(tmp_path / "proj", name)
    proc = sandbox.run(["flows/checked.flow.py", *CASES[name][2], "run"], cwd=root, env=_env(root, name))
    assert proc.returncode != 0
    assert "START RAN" not in proc.stdout + proc.stderr
    assert "Task is starting" not in proc.stdout + proc.stderr
    line = _one_error_line(proc.stderr, CASES[name][3])
    # The message is one line and names its file once (the headline does not repeat it).
    assert line.count("flowproject.toml:") <= 1


@pytest.mark.parametrize("name", sorted(n for n in CASES if not CASES[n][2]))
def test_validate_reports_the_same_line(tmp_path, monkeypatch, capsys, name):
    root = _write(tmp_path / "proj", name)
    monkeypatch.chdir(root)
    monkeypatch.delenv("FLOWPROJECT_CONFIG", raising=False)
    for key, value in _env(root, name).items():
        monkeypatch.setenv(key, value)
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    _one_error_line(err, CASES[name][3])


def test_a_valid_template_and_paths_pass(tmp_path, monkeypatch, capsys):
    # The checks must not reject what works: an existing template, a file with
    # file_size, a path that does not exist yet (observed as missing).
    for toml in (
        "project_name = 'p'\n[data]\ntype = 'snowflake'\ntemplate = 'present'\n",
        "project_name = 'p'\n[data]\ntype = 'snowflake'\ntemplate = 'present.sql'\n",
        "project_name = 'p'\n[data]\npath = 'afile.csv'\ncheck_mode = 'file_size'\n",
        "project_name = 'p'\n[data]\npath = 'not_yet'\ncheck_mode = 'file_size'\n",
        "project_name = '%s'\n" % ("a" * 128),
    ):
        root = _project(tmp_path / ("p%d" % len(list(tmp_path.iterdir()))), toml)
        assert main(["validate", str(root / "flowproject.toml")]) == 0, capsys.readouterr().err
    assert capsys.readouterr().err == ""


GETTER_TOML = "project_name = 'p'\n[getters.CheckedFlow]\nrun_id = '1'\n[getters.TypoFlow]\nrun_id = '2'\n"
WARNING = (
    r"^warning: flowproject\.toml: getters\.TypoFlow: no file in flows/ defines this flow "
    r"\(flows there: CheckedFlow\); the pin applies only if another project has a flow of that name$"
)


def test_getters_for_an_unknown_flow_warn_in_validate(tmp_path, monkeypatch, capsys):
    root = _project(tmp_path / "proj", GETTER_TOML)
    monkeypatch.chdir(root)
    monkeypatch.delenv("FLOWPROJECT_CONFIG", raising=False)
    assert main(["validate"]) == 0
    err = capsys.readouterr().err.splitlines()
    warnings = [line for line in err if line.startswith("warning:")]
    # One line, no "warnings.warn(" source echo, nothing about the known flow.
    assert len(warnings) == 1 and re.match(WARNING, warnings[0]), err
    # Beside it, one line per getter saying what it reads (flowproject.getters.read_branch).
    assert [line for line in err if not line.startswith("warning:")] == [
        "getters: CheckedFlow: reads the pinned run CheckedFlow/1 (getters.CheckedFlow.run_id)",
        "getters: TypoFlow: reads the pinned run TypoFlow/2 (getters.TypoFlow.run_id)",
        "getters: every other flow: reads the running flow's own branch ('prod' outside a run)",
    ]


def test_getters_for_an_unknown_flow_warn_at_the_start_of_a_run(sandbox, tmp_path):
    root = _project(tmp_path / "proj", GETTER_TOML)
    proc = sandbox.run_ok(["flows/checked.flow.py", "run"], cwd=root)
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line.lower()]
    assert len(warnings) == 1 and re.match(WARNING, warnings[0]), proc.stderr[-3000:]
    assert "START RAN" in proc.stdout + proc.stderr
