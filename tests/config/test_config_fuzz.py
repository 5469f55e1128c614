"""Generated flowproject.toml files: each one validates or fails with one ConfigError line.

Structures (the schema's own keys with plausible and hostile values: wrong types, huge
numbers, dates, control characters, unicode keys) are written as TOML or JSON; raw and
mutated texts cover what no serializer writes. The check is what ``flowproject validate``
does (load, then print the config as JSON), in this process. A handful go through the real
CLI. The counts are printed in the run's terminal summary (also under ``-n 2``) so CI output
shows what the run covered.
"""

from __future__ import annotations

import json
import string
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import tomlkit
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from flowproject.config import display_path, load
from flowproject.config.flows import FLOW_FIELDS
from flowproject.config.schema import DATA_FIELDS, DEPLOY_FIELDS, LAUNCH_FIELDS, SENSOR_FIELDS, TOP_LEVEL
from flowproject.errors import ConfigError

EXAMPLES = 300
COUNTS: Counter = Counter()

# Text with control characters, separators, non-BMP letters; no surrogates (not UTF-8).
hostile_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
keys = st.one_of(
    st.sampled_from(sorted(set(DATA_FIELDS) | set(SENSOR_FIELDS) | set(DEPLOY_FIELDS) | set(FLOW_FIELDS))),
    hostile_text,
)
scalars = st.one_of(
    hostile_text,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 60, 3600, 10**10, 10**12, 2**63 - 1, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
    st.sampled_from(
        [
            "local",
            "s3",
            "snowflake",
            "files_metadata",
            "file_size",
            "file_modified_ts",
            "watched",
            "~nosuchuser/x",
            "~",
            "a" * 5000,
            "/" + "b" * 300,
            "s3://bucket/prefix",
            "q",
            "*/5 * * * *",
            "main",
            "p\n",
            "demo",
            "",
        ]
    ),
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3), max_leaves=8
)
section = st.dictionaries(keys, values, max_size=5)
structures = st.fixed_dictionaries(
    {},
    optional={
        "project_name": st.one_of(st.sampled_from(["demo", "p\n", "P", "a" * 129, ""]), values),
        "data": st.one_of(section, values),
        "sensor": section,
        "deploy": section,
        "getters": st.dictionaries(hostile_text, st.one_of(section, st.fixed_dictionaries({"run_id": values}))),
        "flows": st.dictionaries(st.sampled_from(["HelloFlow", "x y", "1Flow"]) | hostile_text, section),
        "environments": st.dictionaries(
            st.sampled_from(["dev", "prod"]) | hostile_text, st.dictionaries(st.sampled_from(TOP_LEVEL), values)
        ),
        "environment": values,
        # Unknown top-level keys, unicode and control characters included.
        "": values,
        "x\ny": values,
        "ключ": values,
    },
)


def _toml(structure) -> str:
    try:
        return tomlkit.dumps(structure)
    except Exception:  # noqa: BLE001 - a structure tomlkit cannot write: use JSON instead
        return json.dumps(structure, default=str)


def _mutate(text: str, data) -> str:
    at = data.draw(st.integers(min_value=0, max_value=len(text)))
    cut = data.draw(st.integers(min_value=0, max_value=5))
    return text[:at] + data.draw(st.text(string.printable + "\x00\x1b\u2028é", max_size=8)) + text[at + cut :]


texts = st.one_of(
    structures.map(_toml),
    structures.map(lambda s: json.dumps(s, default=str)),
    st.text(max_size=200),
    st.none(),  # a mutated structure, drawn in the test
)


def _project() -> Path:
    root = Path(tempfile.mkdtemp(prefix="fuzz"))
    (root / "sql").mkdir()
    (root / "sql" / "q.sql").write_text("select 1\n")
    (root / "watched").mkdir()
    return root


ROOT = _project()


def validate_like_the_cli(text: str) -> str:
    """'valid' or the ConfigError's kind; any other exception propagates and fails the test."""
    path = ROOT / "flowproject.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        json.dumps(load(path))  # what flowproject validate calls, then prints as JSON
    except ConfigError as e:
        line = str(e)
        assert "\n" not in line and "\r" not in line and line.startswith(display_path(path) + ": "), line
        return "error: %s" % _kind(e)
    return "valid"


def _kind(e: ConfigError) -> str:
    head = e.key.split(".")[0]
    kind = head if head in TOP_LEVEL or head.startswith("(") else "(unknown top-level key)"
    return kind + (" unknown key" if "unknown key" in e.detail else "")


# A valid config with one key set to a generated value: the schema's keys with bad (and
# sometimes good) values, so that both outcomes are exercised.
VALID_BASE = {"project_name": "demo", "data": {"path": "watched"}}
FIELD_TABLES = {"data": DATA_FIELDS, "sensor": SENSOR_FIELDS, "deploy": DEPLOY_FIELDS, "launch": LAUNCH_FIELDS}
good_values = st.sampled_from(["local", "watched", 60, 3600, True, False, "*/5 * * * *", ["main"], "demo", "rows"])


@st.composite
def near_valid(draw) -> dict:
    config = json.loads(json.dumps(VALID_BASE))
    section = draw(st.sampled_from(sorted(FIELD_TABLES)))
    key = draw(st.sampled_from(sorted(FIELD_TABLES[section])))
    # Good values drawn as often as bad ones: what makes a value bad is then the key's own check.
    value = draw(st.one_of(good_values, values)) if draw(st.booleans()) else draw(good_values)
    config.setdefault(section, {})[key] = value
    return config


texts = st.one_of(texts, near_valid().map(_toml), near_valid().map(_toml), st.just(_toml(VALID_BASE)))


# No shrink phase: shrinking one failure here once took over five minutes; the failing
# example is printed unshrunk all the same, and CI stays bounded.
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(data=st.data())
def _fuzz(data) -> None:
    text = data.draw(texts)
    if text is None:
        base = _toml(data.draw(structures))
        text = _mutate(base, data)
    COUNTS[validate_like_the_cli(text)] += 1


def test_every_generated_config_is_valid_or_one_line(record_property):
    COUNTS.clear()
    _fuzz()
    total = sum(COUNTS.values())
    refused = total - COUNTS["valid"]
    kinds = ", ".join("%s %d" % (kind[len("error: ") :], n) for kind, n in COUNTS.most_common() if kind != "valid")
    # tests/conftest.py prints "summary" properties at the end of the run, also under -n 2
    # (xdist sends them from the workers), where a print here would be swallowed.
    record_property(
        "summary",
        "config fuzz: %d examples, %d accepted, %d refused (%s)" % (total, COUNTS["valid"], refused, kinds),
    )
    assert total >= EXAMPLES * 0.9, COUNTS
    assert COUNTS["valid"] > 0, "no generated config was valid: the generator misses the schema"
    assert refused > total / 2, "the generator rarely writes a bad config: %s" % COUNTS


CLI_CASES = [
    'project_name = "p"\n[data]\npath = "~nosuchuser/x"\n',
    'project_name = "p"\n[data]\npath = "%s"\n' % ("a" * 5000),
    'project_name = "p"\n[data]\ntype = "snowflake"\ntemplate = "q"\nparams = { d = 1979-05-27 }\n',
    'project_name = "p"\n[sensor]\npublish_timeout_seconds = 1e10\n',
    'project_name = "p"\n[sensor]\nlease_seconds = %d\n' % 10**12,
    'project_name = "p\\n"\n',
    'project_name = "p"\n[data]\n"a\\u001b[31mb\\nc" = 1\n',
    'project_name = "p"\n[data]\npath = "watched"\n',
]


def test_a_handful_through_the_real_cli():
    for text in CLI_CASES:
        (ROOT / "flowproject.toml").write_text(text)
        proc = subprocess.run(
            [sys.executable, "-m", "flowproject.cli", "validate", "flowproject.toml"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        err = [line for line in proc.stderr.splitlines() if not line.startswith("warning:")]
        assert "Traceback" not in proc.stderr, proc.stderr
        if proc.returncode == 0:
            json.loads(proc.stdout)
        else:
            assert len(err) == 1 and "flowproject.toml: " in err[0], (text, proc.stderr)
    # The last case is valid; the others are each one line.
    assert proc.returncode == 0
