"""Business queries: any ``sql/<name>.sql`` with bound parameters, rows streamed in batches.

Same connection settings as the Snowflake source (``snowflake_connection``), no sensor
row cap: memory is bounded by ``batch_size`` when the caller iterates ``query_batches``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from ..config import templates
from . import snowflake_connection
from .errors import SnowflakeError

Params = Union[Sequence[Any], Mapping[str, Any], None]
DEFAULT_BATCH = 10_000
DEFAULT_TIMEOUT = 600


def query_batches(
    name: Optional[str] = None,
    params: Params = None,
    *,
    sql: Optional[str] = None,
    batch_size: int = DEFAULT_BATCH,
    project_dir: Optional[Path] = None,
    integration: Optional[str] = None,
    timeout_seconds: int = DEFAULT_TIMEOUT,
    query_tag: str = "flowproject query",
) -> Iterator[List[Tuple[Any, ...]]]:
    """Yield lists of at most ``batch_size`` row tuples of ``sql/<name>.sql`` (or ``sql``).

    ``params`` is a sequence for ``%s`` placeholders or a mapping for ``%(key)s``; the
    connector binds them, never string formatting here.
    """
    if (name is None) == (sql is None):
        raise SnowflakeError(msg="query: give exactly one of a template name or sql=")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise SnowflakeError(msg="query: batch_size must be a positive integer; got %r" % (batch_size,))
    text = templates.read_template(name, project_dir) if name is not None else sql
    where = "snowflake: sql/%s.sql" % name if name is not None else "snowflake: query"
    bound = None if params is None else (dict(params) if isinstance(params, Mapping) else list(params))
    with snowflake_connection.connect(
        query_tag=query_tag, timeout_seconds=timeout_seconds, integration=integration
    ) as conn:
        import snowflake.connector

        cur = conn.cursor()
        try:
            cur.execute(text, bound if bound else None)
            while True:
                rows = cur.fetchmany(batch_size)
                if not rows:
                    return
                yield [tuple(r) for r in rows]
        except snowflake.connector.errors.Error as e:
            raise SnowflakeError(msg=snowflake_connection.describe_error(e, where, timeout_seconds)) from None
        finally:
            cur.close()


def query_rows(name: Optional[str] = None, params: Params = None, **kwargs: Any) -> List[Tuple[Any, ...]]:
    """Every row of the query as a list of tuples (the scaffold's ``query_snowflake`` value)."""
    out: List[Tuple[Any, ...]] = []
    for batch in query_batches(name, params, **kwargs):
        out.extend(batch)
    return out
