"""The schema of ``flowproject.toml``: its keys, their checks and defaults, and ``validate``.

The validated config is a plain dict with every section filled with its defaults, so flows
read ``self.flowconfig.sensor.cron_schedule`` without ``get``/``None`` checks. Every
problem is a :class:`ConfigError` whose text is one line: file, key path, expectation.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

from ..errors import warn
from .fields import (
    boolean,
    branch_list,
    cron,
    cursor_value,
    env_table,
    glob_map,
    matching,
    name_list,
    nonempty_str,
    one_of,
    params,
    payload_key,
    positive_int,
    positive_int_at_most,
    string,
    string_list,
)
from .getter_fields import GETTER_FIELDS, GETTERS_FIELDS, validate_getters  # noqa: F401 (re-exported)
from .paths import CONFIG_FILENAME  # noqa: F401 (re-exported)
from .scaffold_keys import SCAFFOLD_DEFAULT_TEMPLATE, scaffold_data
from .validator import _did_you_mean, _show, _Validator  # noqa: F401 (re-exported)

# The label used in errors when no file is known.

# Metaflow's @project accepts only these characters (project_decorator.VALID_NAME_RE).
PROJECT_NAME_RE = re.compile(r"^[a-z0-9_]+$")
# ... and at most this many of them (project_decorator.VALID_NAME_LEN).
PROJECT_NAME_MAX = 128
# Argo event names travel in URLs and in Sensor filters; keep to a safe alphabet.
EVENT_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")

# What botocore accepts as a bucket name (its VALID_BUCKET); anything else it answers
# with a dump of this regex, long after validation.
S3_BUCKET_RE = re.compile(r"^[a-zA-Z0-9.\-_]{1,255}$")

DATA_TYPES = ("local", "s3", "snowflake")
# ArgoEvent's own timeout per attempt; here it bounds the whole publish (redirects refused,
# refused connections retried, a webhook trickling bytes cut off).
DEFAULT_PUBLISH_TIMEOUT_SECONDS = 60
CHECK_MODES = ("files_metadata", "file_modified_ts", "file_size")


class FlowprojectDeprecationWarning(FutureWarning):
    """Kept for imports; deprecations are printed by ``errors.warn`` (Metaflow hides
    Python warnings during a run)."""


DATA_FIELDS = {
    "type": (one_of(*DATA_TYPES), "local"),
    "check_mode": (one_of(*CHECK_MODES), "files_metadata"),
    "path": (nonempty_str, "data"),
    "bucket": (nonempty_str, None),
    "key": (string, None),
    "role": (nonempty_str, None),
    "integration": (nonempty_str, None),
    "template": (nonempty_str, None),
    "params": (params, None),
    "timeout_seconds": (positive_int_at_most(7 * 86400, "7 days"), 600),
    # Snowflake cursor mode ([sensor] emit = "items"): flowproject.sources.rows.
    "cursor_column": (nonempty_str, None),
    "cursor_start": (cursor_value, None),
    "key_columns": (name_list, None),
}
SENSOR_FIELDS = {
    "cron_schedule": (cron, "*/15 * * * *"),
    "event_name": (matching(EVENT_NAME_RE, "a name of [A-Za-z0-9_.-] characters"), None),
    "payload_key": (payload_key, "value"),
    "publish_on_first_run": (boolean, True),
    "publish_timeout_seconds": (positive_int_at_most(86400, "1 day"), DEFAULT_PUBLISH_TIMEOUT_SECONDS),
    # How long a tick may hold its branch's lease before another may take it over
    # (flowproject.sensor.lease); longer than any tick should run, short enough to recover.
    "lease_seconds": (positive_int_at_most(30 * 86400, "30 days"), 3600),
    # The start step's card costs a second process per tick; opt in.
    "card": (boolean, False),
    # What self.sensor_value is downstream: the rows, or (scalar, written by migrate for
    # scaffold flows) the single cell of a one-row one-column result.
    "value": (one_of("rows", "scalar"), "rows"),
    # Item-level sensors (flowproject.sensor.items): what a tick publishes, and its limits.
    "emit": (one_of("change", "items"), "change"),
    "items_per_event": (positive_int, 1),
    # Bounds one tick's webhook calls (and its run time); the rest waits for the next tick.
    "max_events_per_tick": (positive_int, 100),
    "emit_removed": (boolean, False),
    # Consumers (@on_sensor_event): run once per dedupe_key; how long a claim blocks others.
    "dedupe": (boolean, False),
    "dedupe_claim_seconds": (positive_int, 3600),
}


DEPLOY_FIELDS = {
    "production_branches": (branch_list, ["main", "master"]),
    "environments": (glob_map, None),
}
# [getters] and its [getters.<Flow>] tables: flowproject.config.getter_fields.
# flows, environments and environment are checked by flowproject.config.flows and
# flowproject.config.environments (config.parse_text's entry point), not by validate() here.
# Metaflow's top-level options and environment for deploys (flowproject migrate writes them from a
# scaffold's .env); `environment` applies to deploys and production runs only, since
# fast-bakery/pypi/conda environments do not exist in a plain local run.
LAUNCH_FIELDS = {
    # "local" is Metaflow's own default: `./deploy --environment local` renders a fast-bakery
    # project on a machine without Outerbounds.
    "environment": (one_of("local", "pypi", "conda", "uv", "fast-bakery"), None),
    "package_suffixes": (string_list, None),
    "datastore": (one_of("local", "s3", "azure", "gs"), None),
    "metadata": (one_of("local", "service"), None),
    "env": (env_table, None),
}
TOP_LEVEL = ("project_name", "data", "sensor", "deploy", "getters", "launch", "flows", "environments", "environment")
LEGACY_DATA_TABLE = "data_kwargs"
# Which [data] keys each source needs beyond the defaults.
REQUIRED_BY_TYPE = {"local": ("path",), "s3": ("bucket", "key"), "snowflake": ("template",)}


# -- validation -------------------------------------------------------------------------


def _split_bucket_url(v: _Validator, bucket: str, key: Optional[str]) -> tuple[str, Optional[str]]:
    # The scaffold writes bucket = "s3://name"; "s3://name/prefix" also carries the key.
    if bucket.startswith("s3://"):
        name, _, prefix = bucket[len("s3://") :].partition("/")
        if prefix:
            if key is not None and key != prefix:
                v.fail(
                    "data.bucket",
                    "gives the key %r and data.key gives %r; keep one of them" % (prefix, key),
                )
            key = prefix
        bucket = name
    if not S3_BUCKET_RE.fullmatch(bucket):
        v.fail(
            "data.bucket", "expected an S3 bucket name (letters, digits, '.', '-', '_') or s3://name[/prefix]", bucket
        )
    return bucket, key


# Linux's limits (PATH_MAX, NAME_MAX): beyond them every file call fails with ENAMETOOLONG.
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255


def _local_path(v: _Validator, value: str) -> Path:
    if "\x00" in value:
        v.fail("data.path", "expected a path without NUL characters", value)
    if len(value.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        v.fail("data.path", "expected a path of at most %d bytes; got %d characters" % (MAX_PATH_BYTES, len(value)))
    if any(len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for part in value.split("/")):
        v.fail("data.path", "expected file and folder names of at most %d bytes each" % MAX_NAME_BYTES, value)
    try:
        return Path(value).expanduser()
    except RuntimeError:
        # "~name" for a user this machine does not know (Path raises, naming no key).
        v.fail("data.path", "expected ~ or ~user of a user on this machine", value)
        raise  # unreachable: fail raises


def _items_rules(v: _Validator, data: Dict[str, Any], sensor: Dict[str, Any]) -> Dict[str, Any]:
    # emit = "items" needs a source that has items: a folder/prefix listing, or a cursor.
    if sensor["emit"] != "items":
        return sensor
    if data["type"] == "snowflake" and not data["cursor_column"]:
        v.fail("data.cursor_column", "required when [sensor] emit = \"items\" and data.type is 'snowflake'")
    if data["type"] != "snowflake" and data["check_mode"] != "files_metadata":
        v.fail(
            "data.check_mode",
            'expected files_metadata when [sensor] emit = "items" (the items are a folder\'s files)',
            data["check_mode"],
        )
    return sensor


def validate(raw: Mapping[str, Any], label: str = CONFIG_FILENAME, base_dir: Optional[Path] = None) -> Dict[str, Any]:
    """Check a parsed config mapping and return it with every default filled in.

    ``label`` names the source in errors; ``base_dir`` is where a relative
    ``data.path`` is resolved from (the config file's folder; the cwd when None).
    """
    v = _Validator(label)
    if not isinstance(raw, Mapping):
        v.fail("(top level)", "expected a table of settings", raw)
    raw = dict(raw)

    if LEGACY_DATA_TABLE in raw:
        legacy = raw.pop(LEGACY_DATA_TABLE)
        if not isinstance(legacy, dict):
            v.fail(LEGACY_DATA_TABLE, "expected a table", legacy)
        data = dict(raw.get("data") or {})
        for key in legacy:
            if key in data:
                v.fail(
                    "%s.%s" % (LEGACY_DATA_TABLE, key),
                    "also set in [data]; keep only the [data] one",
                )
        data.update(legacy)
        raw["data"] = data
        warn("%s: [%s] is deprecated; move its keys into [data]" % (label, LEGACY_DATA_TABLE))

    for key in raw:
        if key not in TOP_LEVEL:
            v.fail(
                key,
                "unknown key%s; known keys: %s" % (_did_you_mean(key, list(TOP_LEVEL)), ", ".join(TOP_LEVEL)),
            )
    if "project_name" not in raw:
        v.fail("project_name", "required key is missing")
    project_name = raw["project_name"]
    if not isinstance(project_name, str) or not PROJECT_NAME_RE.fullmatch(project_name):
        v.fail(
            "project_name",
            "expected a Metaflow project name of lowercase letters, digits and _",
            project_name,
        )
    if len(project_name) > PROJECT_NAME_MAX:
        v.fail(
            "project_name",
            "expected at most %d characters (Metaflow's @project limit); got %d"
            % (PROJECT_NAME_MAX, len(project_name)),
        )

    raw_data = scaffold_data(raw.get("data", {}), label)
    data = v.table(raw_data, "data", DATA_FIELDS)
    if data["type"] == "snowflake" and data["template"] is None:
        data["template"] = SCAFFOLD_DEFAULT_TEMPLATE
    if data["bucket"] is not None:
        data["bucket"], data["key"] = _split_bucket_url(v, data["bucket"], data["key"])
    for key in REQUIRED_BY_TYPE[data["type"]]:
        if data[key] is None:
            v.fail("data.%s" % key, "required when data.type is '%s'" % data["type"])
    if data["type"] == "s3" and data["check_mode"] != "files_metadata" and not data["key"]:
        v.fail("data.key", "expected an object key for check_mode '%s'" % data["check_mode"], data["key"])
    if data["type"] == "local":
        path = _local_path(v, data["path"])
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        data["path"] = os.path.normpath(str(path))

    getters = validate_getters(raw.get("getters", {}), v)

    return {
        "project_name": project_name,
        "data": data,
        "sensor": _items_rules(v, data, v.table(raw.get("sensor", {}), "sensor", SENSOR_FIELDS)),
        "deploy": v.table(raw.get("deploy", {}), "deploy", DEPLOY_FIELDS),
        "launch": v.table(raw.get("launch", {}), "launch", LAUNCH_FIELDS),
        "getters": getters,
    }
