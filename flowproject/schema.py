"""The schema of ``flowproject.toml``: its keys, their checks and defaults, and ``validate``.

The validated config is a plain dict with every section filled with its defaults, so flows
read ``self.flowconfig.sensor.cron_schedule`` without ``get``/``None`` checks. Every
problem is a :class:`ConfigError` whose text is one line: file, key path, expectation.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

from .errors import ConfigError, warn

# The label used in errors when no file is known.
CONFIG_FILENAME = "flowproject.toml"

# Metaflow's @project accepts only these characters (project_decorator.VALID_NAME_RE).
PROJECT_NAME_RE = re.compile(r"^[a-z0-9_]+$")
# ... and at most this many of them (project_decorator.VALID_NAME_LEN).
PROJECT_NAME_MAX = 128
# Argo event names travel in URLs and in Sensor filters; keep to a safe alphabet.
EVENT_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
# Payload keys become Argo parameter names downstream, so they must be identifiers.
PAYLOAD_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Keys ArgoEvent already puts in every payload, the sensor's own payload keys, and names
# of BaseFlow/SensorFlow parameters: a payload key with one of these names would
# silently override them in the triggered run.
RESERVED_PAYLOAD_KEYS = frozenset(
    {
        "name", "id", "timestamp", "utc_date",
        "sensor_fingerprint", "sensor_previous_fingerprint", "sensor_run",
        "test_mode", "force_trigger", "sensor_event",
    }
)

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


# -- schema ---------------------------------------------------------------------------
#
# A field is (checker, default). A default of REQUIRED means the key must be given;
# None means optional with no value. Checkers take (value, fail) and return the value
# to store, calling fail(expected) on a bad one.

REQUIRED = object()


def _str(value: Any, fail: Callable[[str], None]) -> str:
    if not isinstance(value, str):
        fail("expected a string")
    return value


def _nonempty_str(value: Any, fail: Callable[[str], None]) -> str:
    if not isinstance(value, str) or not value.strip():
        fail("expected a non-empty string")
    return value


def _bool(value: Any, fail: Callable[[str], None]) -> bool:
    if not isinstance(value, bool):
        fail("expected true or false")
    return value


def _positive_int(value: Any, fail: Callable[[str], None]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        fail("expected a positive integer")
    return value


def _one_of(*choices: str) -> Callable[[Any, Callable[[str], None]], str]:
    def check(value: Any, fail: Callable[[str], None]) -> str:
        if value not in choices:
            fail("expected one of %s" % ", ".join(choices))
        return value

    return check


def _matching(regex: "re.Pattern[str]", what: str):
    def check(value: Any, fail: Callable[[str], None]) -> str:
        if not isinstance(value, str) or not regex.match(value):
            fail("expected %s" % what)
        return value

    return check


def _cron(value: Any, fail: Callable[[str], None]) -> str:
    from croniter import croniter

    # Argo CronWorkflow takes classic 5-field cron; croniter alone would also accept a
    # 6th (seconds) field that Metaflow silently drops.
    if (
        not isinstance(value, str)
        or len(value.split()) != 5
        or not croniter.is_valid(value)
    ):
        fail("expected a 5-field cron expression like '*/15 * * * *'")
    return value


def _payload_key(value: Any, fail: Callable[[str], None]) -> str:
    _matching(PAYLOAD_KEY_RE, "an identifier ([A-Za-z_][A-Za-z0-9_]*)")(value, fail)
    if value in RESERVED_PAYLOAD_KEYS:
        fail(
            "expected a key not already used by the event or a flow parameter (%s)"
            % ", ".join(sorted(RESERVED_PAYLOAD_KEYS))
        )
    return value


def _params(value: Any, fail: Callable[[str], None]) -> Union[list, dict]:
    # Bound by the Snowflake connector: a list for %s / ? markers, a table for %(name)s.
    if not isinstance(value, (list, dict)):
        fail("expected an array or a table of query parameters")
    return value


def _branch_list(value: Any, fail: Callable[[str], None]) -> List[str]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v for v in value)
    ):
        fail("expected a non-empty array of branch names")
    return value


DATA_FIELDS = {
    "type": (_one_of(*DATA_TYPES), "local"),
    "check_mode": (_one_of(*CHECK_MODES), "files_metadata"),
    "path": (_nonempty_str, "data"),
    "bucket": (_nonempty_str, None),
    "key": (_str, None),
    "role": (_nonempty_str, None),
    "integration": (_nonempty_str, None),
    "template": (_nonempty_str, None),
    "params": (_params, None),
    "timeout_seconds": (_positive_int, 600),
}
SENSOR_FIELDS = {
    "cron_schedule": (_cron, "*/15 * * * *"),
    "event_name": (_matching(EVENT_NAME_RE, "a name of [A-Za-z0-9_.-] characters"), None),
    "payload_key": (_payload_key, "value"),
    "publish_on_first_run": (_bool, True),
    "publish_timeout_seconds": (_positive_int, DEFAULT_PUBLISH_TIMEOUT_SECONDS),
    # How long a tick may hold its branch's lease before another may take it over
    # (flowproject.lease); longer than any tick should run, short enough to recover.
    "lease_seconds": (_positive_int, 3600),
    # The start step's card costs a second process per tick; opt in.
    "card": (_bool, False),
}
def _glob_map(value: Any, fail: Callable[[str], None]) -> Dict[str, str]:
    # [deploy] environments: git-branch glob -> environment name (see flowproject.overlays).
    if not isinstance(value, dict) or not all(isinstance(v, str) and v for v in value.values()):
        fail('expected a table of "git-branch-glob" = "environment name"')
    return value


DEPLOY_FIELDS = {
    "production_branches": (_branch_list, ["main", "master"]),
    "environments": (_glob_map, None),
}
GETTER_FIELDS = {
    "run_id": (_nonempty_str, REQUIRED),
}
# flows, environments and environment are checked by flowproject.flowoptions and
# flowproject.overlays (config.parse_text's entry point), not by validate() here.
TOP_LEVEL = ("project_name", "data", "sensor", "deploy", "getters", "flows", "environments", "environment")
LEGACY_DATA_TABLE = "data_kwargs"
# Which [data] keys each source needs beyond the defaults.
REQUIRED_BY_TYPE = {"local": ("path",), "s3": ("bucket", "key"), "snowflake": ("template",)}


# -- validation -------------------------------------------------------------------------


def _did_you_mean(key: str, known: List[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return " (did you mean '%s'?)" % close[0] if close else ""


class _Validator:
    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, key: str, expected: str, value: Any = REQUIRED) -> None:
        if value is REQUIRED:
            raise ConfigError(self.label, key, expected)
        raise ConfigError(self.label, key, "%s; got %s" % (expected, _show(value)))

    def table(self, raw: Any, prefix: str, fields: Mapping[str, tuple]) -> Dict[str, Any]:
        if not isinstance(raw, dict):
            self.fail(prefix, "expected a table", raw)
        out = {}
        for key in raw:
            if key not in fields:
                self.fail(
                    "%s.%s" % (prefix, key),
                    "unknown key%s; known keys: %s"
                    % (_did_you_mean(key, list(fields)), ", ".join(fields)),
                )
        for key, (check, default) in fields.items():
            path = "%s.%s" % (prefix, key)
            # JSON null (how a resolved config writes "unset") counts as absent, and so
            # does "" in an optional key (the Outerbounds scaffold writes event_name = "").
            # Only where "" means something (data.key: the whole bucket) is it kept.
            value = raw.get(key)
            if value == "" and default is not REQUIRED and check is not _str:
                value = None
            if value is not None:
                out[key] = check(value, lambda exp, p=path, v=value: self.fail(p, exp, v))
            elif default is REQUIRED:
                self.fail(path, "required key is missing")
            else:
                out[key] = list(default) if isinstance(default, list) else default
        return out


def _split_bucket_url(v: _Validator, bucket: str, key: Optional[str]) -> "tuple[str, Optional[str]]":
    # The scaffold writes bucket = "s3://name"; "s3://name/prefix" also carries the key.
    if bucket.startswith("s3://"):
        name, _, prefix = bucket[len("s3://"):].partition("/")
        if prefix:
            if key is not None and key != prefix:
                v.fail(
                    "data.bucket",
                    "gives the key %r and data.key gives %r; keep one of them" % (prefix, key),
                )
            key = prefix
        bucket = name
    if not S3_BUCKET_RE.match(bucket):
        v.fail("data.bucket", "expected an S3 bucket name (letters, digits, '.', '-', '_') or s3://name[/prefix]", bucket)
    return bucket, key


def _show(value: Any) -> str:
    text = repr(value)
    # Keep the error on one readable line even for a big or multi-line value.
    text = text.replace("\n", "\\n")
    return text if len(text) <= 80 else text[:77] + "..."


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
    if not isinstance(project_name, str) or not PROJECT_NAME_RE.match(project_name):
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

    data = v.table(raw.get("data", {}), "data", DATA_FIELDS)
    if data["bucket"] is not None:
        data["bucket"], data["key"] = _split_bucket_url(v, data["bucket"], data["key"])
    for key in REQUIRED_BY_TYPE[data["type"]]:
        if data[key] is None:
            v.fail("data.%s" % key, "required when data.type is '%s'" % data["type"])
    if data["type"] == "s3" and data["check_mode"] != "files_metadata" and not data["key"]:
        v.fail("data.key", "expected an object key for check_mode '%s'" % data["check_mode"], data["key"])
    if data["type"] == "local":
        path = Path(data["path"]).expanduser()
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        data["path"] = os.path.normpath(str(path))

    getters_raw = raw.get("getters", {})
    if not isinstance(getters_raw, dict):
        v.fail("getters", "expected a table of [getters.<FlowName>] tables", getters_raw)
    getters = {
        flow: v.table(pin, "getters.%s" % flow, GETTER_FIELDS) for flow, pin in getters_raw.items()
    }

    return {
        "project_name": project_name,
        "data": data,
        "sensor": v.table(raw.get("sensor", {}), "sensor", SENSOR_FIELDS),
        "deploy": v.table(raw.get("deploy", {}), "deploy", DEPLOY_FIELDS),
        "getters": getters,
    }
