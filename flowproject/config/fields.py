"""The checkers that the schema's fields are made of.

A field is (checker, default). A default of REQUIRED means the key must be given; None
means optional with no value. A checker takes (value, fail) and returns the value to
store, calling fail(expected) on a bad one, so every problem becomes one line naming the key.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Union

# Payload keys become Argo parameter names downstream, so they must be identifiers.
PAYLOAD_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Keys ArgoEvent already puts in every payload, the sensor's own payload keys, and names
# of BaseFlow/SensorFlow parameters: a payload key with one of these names would
# silently override them in the triggered run.
RESERVED_PAYLOAD_KEYS = frozenset(
    {
        "name",
        "id",
        "timestamp",
        "utc_date",
        "sensor_fingerprint",
        "sensor_previous_fingerprint",
        "sensor_run",
        "test_mode",
        "force_trigger",
        "sensor_event",
    }
)

REQUIRED = object()


def string(value: Any, fail: Callable[[str], None]) -> str:
    if not isinstance(value, str):
        fail("expected a string")
    return value


def nonempty_str(value: Any, fail: Callable[[str], None]) -> str:
    if not isinstance(value, str) or not value.strip():
        fail("expected a non-empty string")
    return value


def boolean(value: Any, fail: Callable[[str], None]) -> bool:
    if not isinstance(value, bool):
        fail("expected true or false")
    return value


def positive_int(value: Any, fail: Callable[[str], None]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        fail("expected a positive integer")
    return value


def positive_int_at_most(limit: int, unit: str) -> Callable[[Any, Callable[[str], None]], int]:
    """A positive integer up to ``limit``: beyond it, timers and clocks overflow
    (``threading`` refuses a timeout over about 292 years) long after validation."""

    def check(value: Any, fail: Callable[[str], None]) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= limit:
            fail("expected a positive integer of at most %d (%s)" % (limit, unit))
        return value

    return check


def one_of(*choices: str) -> Callable[[Any, Callable[[str], None]], str]:
    def check(value: Any, fail: Callable[[str], None]) -> str:
        if value not in choices:
            fail("expected one of %s" % ", ".join(choices))
        return value

    return check


def matching(regex: re.Pattern[str], what: str):
    def check(value: Any, fail: Callable[[str], None]) -> str:
        # fullmatch: "$" in a pattern also matches before a trailing newline.
        if not isinstance(value, str) or not regex.fullmatch(value):
            fail("expected %s" % what)
        return value

    return check


def cron(value: Any, fail: Callable[[str], None]) -> str:
    from croniter import croniter

    # Argo CronWorkflow takes classic 5-field cron; croniter alone would also accept a
    # 6th (seconds) field that Metaflow silently drops.
    if not isinstance(value, str) or len(value.split()) != 5 or not croniter.is_valid(value):
        fail("expected a 5-field cron expression like '*/15 * * * *'")
    return value


def payload_key(value: Any, fail: Callable[[str], None]) -> str:
    matching(PAYLOAD_KEY_RE, "an identifier ([A-Za-z_][A-Za-z0-9_]*)")(value, fail)
    if value in RESERVED_PAYLOAD_KEYS:
        fail(
            "expected a key not already used by the event or a flow parameter (%s)"
            % ", ".join(sorted(RESERVED_PAYLOAD_KEYS))
        )
    return value


def params(value: Any, fail: Callable[[str], None]) -> Union[list, dict]:
    # Bound by the Snowflake connector: a list for %s / ? markers, a table for %(name)s.
    if not isinstance(value, (list, dict)):
        fail("expected an array or a table of query parameters")
    # The config travels to every step as JSON, which has no dates, and a nested table
    # binds to no marker: only strings, numbers and booleans.
    items = value.values() if isinstance(value, dict) else value
    for item in items:
        if not isinstance(item, (str, int, float, bool)):
            fail(
                "expected strings, numbers or booleans as query parameters (a TOML date: quote it, "
                "'1979-05-27', and cast it in the SQL)"
            )
    return value


def branch_list(value: Any, fail: Callable[[str], None]) -> List[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        fail("expected a non-empty array of branch names")
    return value


def glob_map(value: Any, fail: Callable[[str], None]) -> Dict[str, str]:
    # [deploy] environments: git-branch glob -> environment name (see flowproject.config.environments).
    if not isinstance(value, dict) or not all(isinstance(v, str) and v for v in value.values()):
        fail('expected a table of "git-branch-glob" = "environment name"')
    return value


def cursor_value(value: Any, fail: Callable[[str], None]) -> Union[str, int, float]:
    # [data] cursor_start: bound as %(cursor)s on the first tick. A TOML date-time is kept
    # as ISO 8601 text: the config travels as JSON, and Snowflake compares it as a timestamp.
    import datetime

    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        fail("expected a string, a number or a TOML date-time")
    return value


def name_list(value: Any, fail: Callable[[str], None]) -> List[str]:
    # [data] key_columns: column names, matched case-insensitively against the result.
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        fail("expected a non-empty array of column names")
    return value


def string_list(value: Any, fail: Callable[[str], None]) -> List[str]:
    # [launch] package_suffixes: file name endings such as ".csv".
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        fail('expected an array of strings such as [".csv", ".json"]')
    return value


def env_table(value: Any, fail: Callable[[str], None]) -> Dict[str, str]:
    # [launch] env: variables for runs and deploys; names as a shell would accept them.
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) and isinstance(v, str)
        for k, v in value.items()
    ):
        fail('expected a table of NAME = "value" strings')
    return value


# [getters] read_branch: a Metaflow project branch as Metaflow tags runs (project_decorator's
# format_name): "prod", "prod.<b>" / "test.<b>" (--production / --branch b, b of [a-z0-9_],
# at most 128) or "user.<name>" (a user's own namespace; Metaflow does not restrict the name).
PROJECT_BRANCH_RE = re.compile(r"^(prod|(prod|test)\.[a-z0-9_]{1,128}|user\.[^\s/]+)$")


def project_branch(value: Any, fail: Callable[[str], None]) -> str:
    if not isinstance(value, str) or not PROJECT_BRANCH_RE.fullmatch(value):
        fail(
            'expected a Metaflow project branch: "prod", "test.<name>" (runs with --branch <name>), '
            '"prod.<name>" or "user.<name>"'
        )
    return value
