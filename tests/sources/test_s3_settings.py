"""Issue 17 item 8: bad S3 client settings are one line from `check` and from a tick."""

from __future__ import annotations

import uuid

import pytest
from conftest import sensor_project

PASSWORD = "Sec/ret#x?y@z:1"


def toml(bucket: str) -> str:
    return (
        'project_name = "s3set"\n[data]\ntype = "s3"\nbucket = "%s"\nkey = "in/"\n'
        '[sensor]\nevent_name = "changed"\n' % bucket
    )


@pytest.fixture
def project(s3_server, tmp_path):
    bucket = "b-%s" % uuid.uuid4().hex[:10]
    s3_server.client().create_bucket(Bucket=bucket)
    return sensor_project(tmp_path / "proj", toml(bucket))


BAD = [
    ({"AWS_DEFAULT_REGION": "eu-west-1 "}, "AWS_DEFAULT_REGION='eu-west-1 ' is not an AWS region name"),
    ({"AWS_MAX_ATTEMPTS": "abc"}, "AWS_MAX_ATTEMPTS='abc' is not a whole number"),
    ({"AWS_ENDPOINT_URL": "not a url"}, "AWS_ENDPOINT_URL (not a url) is not an http(s)://host[:port] URL"),
    ({"AWS_ENDPOINT_URL": "http://[::1"}, "AWS_ENDPOINT_URL (http://[::1) is not an http(s)://host[:port] URL"),
    ({"AWS_ENDPOINT_URL": "http://127.0.0.1:99999"}, "has a port that is not a number from 0 to 65535"),
    (
        {"AWS_ENDPOINT_URL": "http://minio:%s@127.0.0.1:9000" % PASSWORD},
        "AWS_ENDPOINT_URL (http://[masked]@127.0.0.1:9000) has an unencoded '/', '?' or '#' in its user info",
    ),
]


def test_check_with_good_settings_observes(sandbox, s3_server, project):
    proc = sandbox.run_ok(["-m", "flowproject.cli", "check"], cwd=project, env=s3_server.env)
    assert "0 files" in proc.stdout or "missing" in proc.stdout or "s3://" in proc.stdout


@pytest.mark.parametrize("env,expected", BAD)
def test_check_reports_a_bad_setting_in_one_line(sandbox, s3_server, project, env, expected):
    proc = sandbox.run(["-m", "flowproject.cli", "check"], cwd=project, env=dict(s3_server.env, **env))
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert "S3 client settings: " in err and expected in err, err
    assert PASSWORD not in proc.stdout + proc.stderr


def test_a_tick_reports_a_bad_setting_in_one_line(sandbox, s3_server, project):
    env = dict(s3_server.env, AWS_MAX_ATTEMPTS="abc", METAFLOW_ARGO_EVENTS_WEBHOOK_URL="http://127.0.0.1:9/x")
    proc = sandbox.run(["flows/sensor.flow.py", "run"], cwd=project, env=env)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if "S3 client settings" in line]
    assert lines and all("AWS_MAX_ATTEMPTS='abc' is not a whole number" in line for line in lines), output[-2000:]
