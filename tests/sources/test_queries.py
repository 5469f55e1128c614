"""Business queries against fakesnow's server: bound parameters, batches, no row cap."""

from __future__ import annotations

import pytest
from test_sources_snowflake import fakesnow_server, snow  # noqa: F401  (fixtures)

from flowproject.config.templates import SqlTemplateError
from flowproject.sources import SnowflakeError
from flowproject.sources.queries import query_batches, query_rows


@pytest.fixture
def project(tmp_path, snow):  # noqa: F811
    table = snow.new_table()
    snow.execute("INSERT INTO %s SELECT seq4(), 1.5, '2024-01-01' FROM TABLE(GENERATOR(ROWCOUNT => 2500))" % table)
    sql = tmp_path / "sql"
    sql.mkdir()
    (sql / "positional.sql").write_text("SELECT id FROM %s WHERE id >= %%s AND id < %%s ORDER BY id" % table)
    (sql / "named.sql").write_text("SELECT id FROM %s WHERE id < %%(limit)s ORDER BY id" % table)
    return tmp_path


def test_positional_and_named_params_and_no_row_cap(project):
    rows = query_rows("positional", [10, 13], project_dir=project)
    assert rows == [(10,), (11,), (12,)]
    assert all(isinstance(r, tuple) for r in rows)
    assert len(query_rows("named", {"limit": 2000}, project_dir=project)) == 2000  # > the sensor's 1,000


def test_batches_are_bounded(project):
    sizes = [len(b) for b in query_batches("named", {"limit": 2500}, project_dir=project, batch_size=1000)]
    assert sizes == [1000, 1000, 500]


def test_errors_are_one_line(project):
    with pytest.raises(SqlTemplateError) as e:
        query_rows("missing", project_dir=project)
    assert str(project / "sql") in str(e.value)
    with pytest.raises(SnowflakeError) as e:
        query_rows(sql="SELECT * FROM NO_SUCH_TABLE_X")
    assert "\n" not in str(e.value) and "snowflake: query" in str(e.value)
    with pytest.raises(SnowflakeError):
        query_rows("named", project_dir=project, batch_size=0)


SCAFFOLD_FLOW = """
from metaflow import card, step
from flowproject import BaseFlow


class DailyFlow(BaseFlow):
    @card
    @step
    def start(self):
        rows = self.query_snowflake(sql=None, template=("positional", [5, 8]), card=True)
        self.rows = rows
        print("ROWS", [list(r) for r in rows], type(rows).__name__, type(rows[0]).__name__)
        self.batches = [len(b) for b in self.query_batches("named", {"limit": 2500}, batch_size=1000)]
        print("BATCHES", self.batches)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DailyFlow()
"""


def test_scaffold_query_snowflake_in_a_real_run_reads_the_projects_sql(sandbox, project, fakesnow_server, tmp_path):  # noqa: F811
    from conftest import write_project

    write_project(project, 'project_name = "daily"\n', {"daily.flow.py": SCAFFOLD_FLOW})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Run from another folder: the templates still come from the project's sql/.
    proc = sandbox.run_ok([str(project / "flows" / "daily.flow.py"), "run"], cwd=elsewhere, env=fakesnow_server)
    assert "ROWS [[5], [6], [7]] list tuple" in proc.stdout
    assert "BATCHES [1000, 1000, 500]" in proc.stdout
