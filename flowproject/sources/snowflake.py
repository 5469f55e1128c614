"""``type = "snowflake"``: the rows of ``sql/<template>.sql`` are the observed value.

The connector is imported only inside the call (the ``snowflake`` extra); steps that run
remotely get it through the ``@snowflake`` step decorator (``flowproject.flow.decorators``).
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from decimal import Decimal
from pathlib import Path
from typing import Any, List, Mapping, Optional, cast

from ..config import templates
from . import snowflake_connection
from .observation import Observation, canonical_json

# The value is stored as an artifact and sent in events: a sensor query should be an
# aggregate. More rows than this is almost certainly a query that dumps a table.
MAX_ROWS = 1000
SUMMARY_CHARS = 120


def json_safe(value: Any) -> Any:
    """A cell as a JSON value, the same every time for the same cell.

    Decimals of scale 0 (COUNT, NUMBER(38,0)) become ints; others keep their exact digits
    as strings, scale included ("3.00"), so a column keeps one JSON type and a float
    never rounds them; times become ISO 8601; bytes become base64.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        # A finite Decimal's exponent is an int ('n', 'N', 'F' are NaN, sNaN, Infinity).
        if value.is_finite() and cast(int, value.as_tuple().exponent) >= 0:
            return int(value)
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return str(value)


def query_tag(run_pathspec: Optional[str]) -> str:
    return "flowproject sensor %s" % run_pathspec if run_pathspec else "flowproject check"


def observe(
    data: Mapping[str, Any], *, run_pathspec: Optional[str] = None, project_dir: Optional[Path] = None
) -> Observation:
    """Run the template with ``data["params"]`` bound by the connector; rows are the value.

    The value is a list of rows, each a list of JSON-safe cells. Raises SqlTemplateError
    for a bad template name, SnowflakeCredentialsError for missing credentials and
    SnowflakeError for anything the connector reports.
    """
    name = data["template"]
    sql = templates.read_template(name, project_dir)
    params = data.get("params")
    timeout_seconds = data.get("timeout_seconds") or 600
    # params None: the SQL is sent as written, with no %-interpolation at all.
    rows, columns = snowflake_connection.fetch_capped(
        sql,
        params if params else None,
        limit=MAX_ROWS,
        where="snowflake: sql/%s.sql" % _stem(name),
        query_tag=query_tag(run_pathspec),
        timeout_seconds=timeout_seconds,
        integration=data.get("integration"),
        over_limit="a sensor query should return an aggregate",
    )
    value: List[List[Any]] = [[json_safe(cell) for cell in row] for row in rows]
    return Observation.of(value, _summary(_stem(name), columns, value))


def _stem(name: str) -> str:
    return name[:-4] if name.endswith(".sql") else name


def _summary(name: str, columns: List[str], rows: List[List[Any]]) -> str:
    head = "sql/%s.sql: %d row%s" % (name, len(rows), "" if len(rows) == 1 else "s")
    if not rows:
        return head
    first = canonical_json(dict(zip(columns, rows[0])) if columns else rows[0])
    if len(first) > SUMMARY_CHARS:
        first = first[: SUMMARY_CHARS - 3] + "..."
    return "%s, first %s" % (head, first)
