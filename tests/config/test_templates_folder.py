"""One rule for where templates come from: ``sql/`` of the flowproject.toml in use.

This checkout is installed editable and has its own ``sql/sensor.sql`` beside the library:
a user project must never read it (issue 16, item 5). Pods are covered by
tests/flow/test_remote.py (the step reads the ``sql/`` BaseFlow packed into the code package).
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import REPO

TOML = 'project_name = "p"\n[data]\ntype = "snowflake"\ntemplate = "%s"\n'


def _project(root: Path, template: str = "sensor", sql: dict = None) -> Path:
    root.mkdir(parents=True)
    (root / "flowproject.toml").write_text(TOML % template)
    for name, text in (sql or {}).items():
        (root / "sql").mkdir(exist_ok=True)
        (root / "sql" / name).write_text(text)
    return root


def test_the_librarys_own_sql_is_never_read_and_the_error_names_the_project_folder(sandbox, tmp_path):
    assert (REPO / "sql" / "sensor.sql").is_file()  # what an editable install would wrongly find
    project = _project(tmp_path / "proj")
    proc = sandbox.run(["-m", "flowproject.cli", "validate"], cwd=project)
    assert proc.returncode != 0
    line = proc.stderr.strip().splitlines()[-1]
    assert "%s not found; available in %s: none" % (project / "sql" / "sensor.sql", project / "sql") in line, line
    assert str(REPO) not in proc.stderr


READ = """
import json
from flowproject.config.templates import sql_dir, template_path
print(json.dumps([str(sql_dir()), str(template_path("daily"))]))
"""


def test_without_a_folder_the_config_in_use_decides(sandbox, tmp_path):
    mine = _project(tmp_path / "mine", sql={"daily.sql": "select 1"})
    other = _project(tmp_path / "other", sql={"daily.sql": "select 2"})
    (mine / "flows").mkdir()
    # From a folder of the project: the nearest flowproject.toml above it.
    out = json.loads(sandbox.run_ok(["-c", READ], cwd=mine / "flows").stdout)
    assert out == [str(mine / "sql"), str(mine / "sql" / "daily.sql")]
    # $FLOWPROJECT_CONFIG names the config in use, wherever the process runs.
    out = json.loads(
        sandbox.run_ok(["-c", READ], cwd=mine, env={"FLOWPROJECT_CONFIG": str(other / "flowproject.toml")}).stdout
    )
    assert out[1] == str(other / "sql" / "daily.sql")
    # Outside any project: ./sql, named in the error.
    outside = tmp_path / "outside"
    outside.mkdir()
    proc = sandbox.run(["-c", READ], cwd=outside)
    assert proc.returncode != 0
    assert "available in %s: none" % (outside / "sql") in proc.stderr
    # $FLOWPROJECT_SQL_DIR still wins over everything.
    out = json.loads(sandbox.run_ok(["-c", READ], cwd=outside, env={"FLOWPROJECT_SQL_DIR": str(other / "sql")}).stdout)
    assert out[0] == str(other / "sql")


def test_the_config_variable_is_the_loaders():
    from flowproject.config import loader, templates

    assert templates.CONFIG_ENV == loader.CONFIG_ENV
