"""BaseFlow's business-query methods: ``query_snowflake`` (the scaffold's signature),
``query_rows`` and ``query_batches`` over ``flowproject.sources.queries``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

from ..sources import queries as _queries
from ..sources.errors import SnowflakeError

Template = Union[str, Tuple[str, Any], None]
Sql = Union[str, Tuple[str, Any], None]


def source_kwargs(flowconfig: Any, project_dir: Optional[Path], pathspec: Optional[str]) -> Dict[str, Any]:
    """The connection settings of ``[data]`` (integration, timeout), as the sensor uses them."""
    data = flowconfig.data.to_dict() if flowconfig is not None else {}
    return {
        "project_dir": project_dir,
        "integration": data.get("integration"),
        "timeout_seconds": data.get("timeout_seconds") or _queries.DEFAULT_TIMEOUT,
        "query_tag": "flowproject query %s" % pathspec if pathspec else "flowproject query",
    }


def split_call(sql: Sql, template: Template) -> Tuple[Optional[str], Optional[str], Any]:
    """(template name, sql text, params) from the scaffold's ``sql=`` / ``template=`` forms."""
    if (sql is None) == (template is None):
        raise SnowflakeError(msg="query_snowflake: give exactly one of sql= or template=")
    value = template if template is not None else sql
    params = None
    if isinstance(value, tuple):
        if len(value) != 2 or not isinstance(value[0], str):
            raise SnowflakeError(msg="query_snowflake: expected (name_or_sql, params); got a %d-tuple" % len(value))
        value, params = value
    if not isinstance(value, str):
        raise SnowflakeError(msg="query_snowflake: expected a string; got %s" % type(value).__name__)
    return (value, None, params) if template is not None else (None, value, params)


def query_snowflake(sql: Sql, template: Template, card: bool, settings: Dict[str, Any]) -> List[Tuple[Any, ...]]:
    name, text, params = split_call(sql, template)
    out = _card_writer(card)
    out("## Executing SQL\n\n%s" % ("sql/%s.sql" % name if name else text))
    started = time.time()
    rows = _queries.query_rows(name, params, sql=text, **settings)
    out("Query finished in %dms, %d rows" % (int(1000 * (time.time() - started)), len(rows)))
    return rows


def query_batches(name: str, params: Any, batch_size: int, settings: Dict[str, Any]) -> Iterator[List[Tuple[Any, ...]]]:
    return _queries.query_batches(name, params, batch_size=batch_size, **settings)


def _card_writer(card: bool):
    if card:
        from metaflow import current

        if hasattr(current, "card"):
            from metaflow.cards import Markdown

            return lambda text: current.card.append(Markdown(text))
    return lambda text: None
