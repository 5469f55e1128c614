"""Snowflake cursor mode: the rows a template returns past the last cursor are the items.

The template binds the cursor as ``%(cursor)s`` and should select ``cursor_column >=
%(cursor)s``: *greater or equal*, because rows that share the greatest value seen may
still be arriving (or may not all have fitted into the last tick). Ties are not lost and
not repeated: the state keeps, next to the cursor, the ``boundary`` (key -> version of
every published row whose cursor equals it), and a returned row is new unless it is in
the boundary with the same version. Rows are ordered by (cursor, key), so a tick that
publishes only a prefix leaves every later row at or after the new cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..config import templates
from . import snowflake_connection
from .errors import SourceError
from .observation import canonical_json, fingerprint
from .snowflake import _stem, json_safe, query_tag

# A tick publishes at most max_events_per_tick events; the query may return more (the rest
# waits), but a query returning this many rows needs an ORDER BY cursor and a LIMIT.
MAX_CURSOR_ROWS = 100_000


@dataclass
class Rows:
    """The new rows in publishing order: (item, cursor as JSON), and the columns."""

    items: List[Tuple[Dict[str, Any], Any]]
    columns: List[str]
    returned: int
    summary: str


def _column(columns: List[str], name: str, key: str) -> int:
    lowered = [c.lower() for c in columns]
    if name.lower() not in lowered:
        raise SourceError(
            msg="data.%s: %r is not a column of the result; columns: %s" % (key, name, ", ".join(columns) or "(none)")
        )
    return lowered.index(name.lower())


def observe_rows(
    data: Mapping[str, Any],
    state: Optional[Mapping[str, Any]],
    *,
    run_pathspec: Optional[str] = None,
    project_dir: Optional[Path] = None,
) -> Rows:
    """Run the template with ``%(cursor)s`` bound; the rows not yet published, in order."""
    name = data["template"]
    sql = templates.read_template(name, project_dir)
    given = data.get("params") or {}
    if not isinstance(given, dict):
        raise SourceError(msg="data.params: expected a table in cursor mode (the cursor is bound as %(cursor)s)")
    cursor = state["cursor"] if state else data.get("cursor_start")
    boundary: Dict[str, str] = dict(state.get("boundary") or {}) if state else {}
    timeout_seconds = data.get("timeout_seconds") or 600
    raw, columns = snowflake_connection.fetch_capped(
        sql,
        dict(given, cursor=cursor),
        limit=MAX_CURSOR_ROWS,
        where="snowflake: sql/%s.sql" % _stem(name),
        query_tag=query_tag(run_pathspec),
        timeout_seconds=timeout_seconds,
        integration=data.get("integration"),
        over_limit="order by the cursor and add a LIMIT",
    )
    at = _column(columns, data["cursor_column"], "cursor_column")
    keys = [_column(columns, k, "key_columns") for k in data.get("key_columns") or columns]
    ordered = []
    for row in raw:
        if row[at] is None:
            continue  # a row without a cursor value can never be ordered past the cursor
        cells = [json_safe(cell) for cell in row]
        key = canonical_json([cells[i] for i in keys])
        ordered.append(((row[at], key), cells))
    ordered.sort(key=lambda pair: pair[0])
    items: List[Tuple[Dict[str, Any], Any]] = []
    for (_, key), cells in ordered:
        values = dict(zip(columns, cells))
        version = fingerprint(values)[:16]
        position = cells[at]
        if position == cursor and boundary.get(key) == version:
            continue  # published by an earlier tick: a tie at the boundary, not a new row
        change = "modified" if position == cursor and key in boundary else "added"
        items.append(({"key": key, "change": change, "version": version, "row": values}, position))
    summary = "sql/%s.sql: %d row%s from cursor %s, %d new" % (
        _stem(name),
        len(raw),
        "" if len(raw) == 1 else "s",
        canonical_json(cursor),
        len(items),
    )
    return Rows(items, columns, len(raw), summary)


def advance(
    state: Optional[Mapping[str, Any]], start: Any, published: List[Tuple[Dict[str, Any], Any]]
) -> Dict[str, Any]:
    """The cursor state after ``published`` (a prefix of ``Rows.items``)."""
    cursor = state["cursor"] if state else start
    boundary: Dict[str, str] = dict(state.get("boundary") or {}) if state else {}
    for item, position in published:
        if position != cursor:
            cursor, boundary = position, {}
        boundary[item["key"]] = item["version"]
    return {"cursor": cursor, "boundary": boundary}
