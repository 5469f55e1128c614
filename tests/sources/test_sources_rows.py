"""Snowflake cursor mode through fakesnow's server: ties at the cursor are neither lost nor repeated."""

from __future__ import annotations

from test_sources_snowflake import fakesnow_server, sfdata, snow  # noqa: F401  (fixtures)

from flowproject.sources.rows import advance, observe_rows

SQL = "SELECT id, amount, updated_at FROM IDENTIFIER(%(table)s) WHERE updated_at >= %(cursor)s ORDER BY updated_at\n"


def test_cursor_with_ties_at_the_boundary(snow, tmp_path, monkeypatch):  # noqa: F811  (the fixture)
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "new_orders.sql").write_text(SQL)
    monkeypatch.chdir(tmp_path)
    table = snow.new_table()
    snow.execute(
        "INSERT INTO %s VALUES (1, 1.00, '2024-01-01 10:00:00'), (2, 2.00, '2024-01-01 11:00:00'),"
        " (3, 3.00, '2024-01-01 11:00:00')" % table
    )
    data = sfdata("new_orders", {"table": table}, cursor_column="UPDATED_AT", key_columns=["id"])
    data["cursor_start"] = "2024-01-01 00:00:00"
    first = observe_rows(data, None, project_dir=tmp_path)
    assert [i["key"] for i, _ in first.items] == ["[1]", "[2]", "[3]"]
    # Publish only two: row 3 shares the cursor value with row 2 and must come next time.
    state = advance(None, data["cursor_start"], first.items[:2])
    assert state["cursor"] == "2024-01-01T11:00:00" and list(state["boundary"]) == ["[2]"]
    snow.execute("INSERT INTO %s VALUES (4, 4.00, '2024-01-01 11:00:00')" % table)  # a late tie
    second = observe_rows(data, state, project_dir=tmp_path)
    assert [(i["key"], i["change"], i["row"]["ID"]) for i, _ in second.items] == [
        ("[3]", "added", 3),
        ("[4]", "added", 4),
    ]
    state = advance(state, None, second.items)
    assert observe_rows(data, state, project_dir=tmp_path).items == []
