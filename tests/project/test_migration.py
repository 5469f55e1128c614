"""Coming from the Outerbounds scaffold: its config validates, its flow pattern gets one line."""

from __future__ import annotations

import json

import pytest
from conftest import write_project
from flow_sources import base_flow

from flowproject import ConfigError
from flowproject.config import parse_text

# The scaffold's flowproject.toml, reconstructed from its README (seeds/003): the keys it
# documents, with "" for the ones a user fills in later and its s3:// bucket.
SCAFFOLD_TOML = """\
project_name = "sensorflow_demo"

[data]
type = "s3"
integration = ""
bucket = "s3://demo-sensorflow"
key = "data/"
check_mode = "files_metadata"
role = ""

[sensor]
cron_schedule = "*/5 * * * *"
event_name = ""
payload_key = "value"
"""

# Its flow pattern: @project and @schedule repeated on a BaseFlow subclass.
SCAFFOLD_FLOW = base_flow(
    "SensorFlow",
    decorator="""
    @project(name=config_expr("flowconfig.project_name"))
    @schedule(cron=config_expr("flowconfig.sensor.cron_schedule"))
    """,
    metaflow="config_expr, project, schedule, step",
)


def test_scaffold_config_validates(sandbox, tmp_path):
    project = write_project(tmp_path / "p", SCAFFOLD_TOML, {})
    proc = sandbox.run_ok(["-m", "flowproject.cli", "validate"], cwd=project)
    cfg = json.loads(proc.stdout)
    assert cfg["data"]["bucket"] == "demo-sensorflow" and cfg["data"]["key"] == "data/"
    # "" in an optional key means unset.
    assert cfg["sensor"]["event_name"] is None
    assert cfg["data"]["role"] is None and cfg["data"]["integration"] is None
    assert cfg["sensor"]["cron_schedule"] == "*/5 * * * *"


@pytest.mark.parametrize(
    "data, bucket, key",
    [
        ("bucket = 's3://b1/landing/in'", "b1", "landing/in"),
        ("bucket = 's3://b1/landing/'\nkey = 'landing/'", "b1", "landing/"),
        ("bucket = 's3://b1'\nkey = ''", "b1", ""),
        ("bucket = 'b1'\nkey = 'x'", "b1", "x"),
    ],
)
def test_s3_bucket_url_is_split_into_bucket_and_key(data, bucket, key):
    cfg = parse_text("project_name = 'p'\n[data]\ntype = 's3'\n%s\n" % data)
    assert (cfg["data"]["bucket"], cfg["data"]["key"]) == (bucket, key)


@pytest.mark.parametrize(
    "data, expected",
    [
        (
            "bucket = 's3://b1/landing/'\nkey = 'other/'",
            "flowproject.toml: data.bucket: gives the key 'landing/' and data.key gives 'other/'; keep one of them",
        ),
        (
            "bucket = 'https://b1.s3.amazonaws.com'\nkey = 'k'",
            "flowproject.toml: data.bucket: expected an S3 bucket name (letters, digits, '.', '-', '_') or "
            "s3://name[/prefix]; got 'https://b1.s3.amazonaws.com'",
        ),
    ],
)
def test_s3_bucket_that_cannot_be_used_is_one_line(data, expected):
    with pytest.raises(ConfigError) as err:
        parse_text("project_name = 'p'\n[data]\ntype = 's3'\n%s\n" % data)
    assert str(err.value) == expected


def test_empty_string_means_unset_in_optional_keys_only():
    cfg = parse_text(
        "project_name = 'p'\n[data]\npath = ''\ntemplate = ''\n[sensor]\ncron_schedule = ''\npayload_key = ''\n"
    )
    assert cfg["data"]["template"] is None and cfg["data"]["path"].endswith("data")
    assert cfg["sensor"]["cron_schedule"] == "*/15 * * * *" and cfg["sensor"]["payload_key"] == "value"
    # project_name is required: "" is still an error.
    with pytest.raises(ConfigError, match="project_name: expected a Metaflow project name"):
        parse_text("project_name = ''\n")


def test_scaffold_flow_repeating_project_gets_one_line(sandbox, tmp_path):
    project = write_project(tmp_path / "p", SCAFFOLD_TOML, {"sensor.flow.py": SCAFFOLD_FLOW})
    proc = sandbox.run(["flows/sensor.flow.py", "run"], cwd=project)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: flows/sensor.flow.py:5: BaseFlow already applies @project, named by project_name in "
        "flowproject.toml; remove @project from SensorFlow"
    ]


def test_scaffold_flow_without_project_runs_with_its_schedule(sandbox, tmp_path):
    flow = SCAFFOLD_FLOW.replace('@project(name=config_expr("flowconfig.project_name"))\n', "")
    project = write_project(tmp_path / "p", SCAFFOLD_TOML, {"sensor.flow.py": flow})
    proc = sandbox.run_ok(["flows/sensor.flow.py", "run"], cwd=project)
    assert "Done!" in proc.stdout + proc.stderr


def test_schedule_next_to_scheduled_gets_one_line(sandbox, tmp_path):
    flow = SCAFFOLD_FLOW.replace('@project(name=config_expr("flowconfig.project_name"))\n', "@scheduled\n").replace(
        "from flowproject import BaseFlow", "from flowproject import BaseFlow, scheduled"
    )
    project = write_project(tmp_path / "p", SCAFFOLD_TOML, {"sensor.flow.py": flow})
    proc = sandbox.run(["flows/sensor.flow.py", "run"], cwd=project)
    assert proc.returncode == 1
    # @scheduled is applied when Metaflow starts, so Metaflow prints the error: its headline,
    # then one line, and no traceback.
    assert "Traceback" not in proc.stderr
    assert [line.strip() for line in proc.stderr.strip().splitlines()[-2:]] == [
        "flowproject error:",
        "SensorFlow has both @scheduled and @schedule; keep one: @scheduled takes its cron from "
        "[flows.SensorFlow] cron_schedule or [sensor] cron_schedule",
    ]


def test_other_errors_in_a_flow_file_keep_their_traceback(sandbox, tmp_path):
    flow = SCAFFOLD_FLOW.replace("from flowproject import BaseFlow", "from flowproject import BaseFlow\n1 / 0")
    project = write_project(tmp_path / "p", SCAFFOLD_TOML, {"sensor.flow.py": flow})
    proc = sandbox.run(["flows/sensor.flow.py", "run"], cwd=project)
    assert proc.returncode == 1 and "ZeroDivisionError" in proc.stderr and "Traceback" in proc.stderr
