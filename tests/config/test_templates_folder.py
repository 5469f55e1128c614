"""Templates come from the project's folder, never from beside the installed library."""

from pathlib import Path

import pytest

from flowproject.config import templates


def test_project_folder_without_sql_is_named_not_the_library(tmp_path, monkeypatch):
    monkeypatch.delenv(templates.SQL_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    library_sql = Path(templates.__file__).resolve().parents[2] / "sql"
    with pytest.raises(templates.SqlTemplateError) as e:
        templates.template_path("sensor", tmp_path)
    assert str(tmp_path / "sql") in str(e.value)
    assert templates.sql_dir(tmp_path) != library_sql
    assert templates.sql_dir() == (tmp_path / "sql").resolve()


def test_project_sql_is_read(tmp_path, monkeypatch):
    monkeypatch.delenv(templates.SQL_DIR_ENV, raising=False)
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "daily.sql").write_text("select 1")
    assert templates.read_template("daily", tmp_path) == "select 1"
