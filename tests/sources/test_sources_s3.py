"""S3 source against moto's S3 API server on 127.0.0.1 (reached through AWS_ENDPOINT_URL).

The source builds its clients with no endpoint argument: every test here passing proves
boto3 honours ``AWS_ENDPOINT_URL`` for S3 and STS.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import free_port, write_project

from flowproject import cli, observe
from flowproject.sources import S3AccessDeniedError, S3Error, S3NoSuchBucketError, S3ThrottledError, fingerprint


@pytest.fixture
def aws(s3_server, monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for k, v in s3_server.env.items():
        monkeypatch.setenv(k, v)
    return s3_server


@pytest.fixture
def calls(monkeypatch):
    """Every AWS API call made through boto3's default session, as "service.Operation".

    The test's own setup calls go through it too: tests clear it just before observing.
    """
    import boto3

    session = boto3.session.Session()
    seen = []
    session.events.register("before-call", lambda event_name, **kw: seen.append(event_name.split(".", 1)[1]))
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)
    return seen


def s3data(bucket, key, mode, **extra):
    return dict({"type": "s3", "bucket": bucket, "key": key, "check_mode": mode}, **extra)


# -- one object: file_size / file_modified_ts ---------------------------------------------------


def test_file_size_is_one_head_request(aws, calls):
    bucket = aws.new_bucket()
    aws.client().put_object(Bucket=bucket, Key="d/f.csv", Body=b"12345")
    calls.clear()
    obs = observe(s3data(bucket, "d/f.csv", "file_size"))
    assert obs.value == {"exists": True, "size": 5}
    assert obs.summary == "s3://%s/d/f.csv: 5 bytes" % bucket
    assert calls == ["s3.HeadObject"]


def test_file_size_detects_a_resize_and_ignores_a_same_size_rewrite(aws):
    bucket = aws.new_bucket()
    s3 = aws.client()
    s3.put_object(Bucket=bucket, Key="f", Body=b"aaaa")
    first = observe(s3data(bucket, "f", "file_size"))
    s3.put_object(Bucket=bucket, Key="f", Body=b"bbbb")
    assert observe(s3data(bucket, "f", "file_size")) == first
    s3.put_object(Bucket=bucket, Key="f", Body=b"bbbbb")
    assert observe(s3data(bucket, "f", "file_size")).value == {"exists": True, "size": 5}


def test_file_modified_ts_is_one_head_and_detects_a_rewrite(aws, calls):
    bucket = aws.new_bucket()
    s3 = aws.client()
    s3.put_object(Bucket=bucket, Key="f", Body=b"x")
    calls.clear()
    first = observe(s3data(bucket, "f", "file_modified_ts"))
    assert calls == ["s3.HeadObject"]
    assert first.value["exists"] is True and first.value["modified"].endswith("Z")
    # S3 reports Last-Modified to the second: rewrite until the store's clock moves on.
    deadline = time.monotonic() + 10
    while True:
        s3.put_object(Bucket=bucket, Key="f", Body=b"x")
        later = observe(s3data(bucket, "f", "file_modified_ts"))
        if later != first or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert later.value["modified"] > first.value["modified"]


def test_file_modified_ts_ignores_reads_and_other_keys(aws):
    bucket = aws.new_bucket()
    s3 = aws.client()
    s3.put_object(Bucket=bucket, Key="f", Body=b"x")
    first = observe(s3data(bucket, "f", "file_modified_ts"))
    s3.get_object(Bucket=bucket, Key="f")["Body"].read()
    s3.put_object(Bucket=bucket, Key="f-other", Body=b"y")
    assert observe(s3data(bucket, "f", "file_modified_ts")) == first


def test_missing_object_is_an_observation(aws, calls):
    bucket = aws.new_bucket()
    calls.clear()
    obs = observe(s3data(bucket, "nope.csv", "file_size"))
    assert obs.value == {"exists": False}
    assert obs.summary == "s3://%s/nope.csv: missing" % bucket
    # The bare 404 of a HEAD is told apart from a missing bucket only on this path.
    assert calls == ["s3.HeadObject", "s3.HeadBucket"]


@pytest.mark.parametrize("mode", ["file_size", "file_modified_ts", "files_metadata"])
def test_no_such_bucket_is_one_clear_error(aws, mode):
    with pytest.raises(S3NoSuchBucketError) as err:
        observe(s3data("no-such-bucket-flowproject", "k", mode))
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith("s3://no-such-bucket-flowproject/k: no such bucket")


# -- a prefix: files_metadata ---------------------------------------------------------------------


def test_files_metadata_summarises_the_prefix_recursively(aws):
    bucket = aws.new_bucket()
    s3 = aws.client()
    for key, body in [("in/a.csv", b"12"), ("in/sub/deep/b.csv", b"345"), ("inside.csv", b"x"), ("out/c.csv", b"zz")]:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    obs = observe(s3data(bucket, "in/", "files_metadata"))
    assert set(obs.value) == {"exists", "count", "total_bytes", "newest_modified", "listing_sha256"}
    assert (obs.value["exists"], obs.value["count"], obs.value["total_bytes"]) == (True, 2, 5)
    assert obs.summary.startswith("s3://%s/in/: 2 files, 5 bytes, newest " % bucket)
    whole = observe(s3data(bucket, "", "files_metadata"))
    assert whole.value["count"] == 4


def test_files_metadata_is_stable_and_ignores_keys_outside_the_prefix(aws):
    bucket = aws.new_bucket()
    s3 = aws.client()
    s3.put_object(Bucket=bucket, Key="in/a.csv", Body=b"12")
    first = observe(s3data(bucket, "in/", "files_metadata"))
    s3.put_object(Bucket=bucket, Key="other/b.csv", Body=b"345")
    s3.get_object(Bucket=bucket, Key="in/a.csv")["Body"].read()
    assert observe(s3data(bucket, "in/", "files_metadata")) == first


@pytest.mark.parametrize("change", ["add", "resize", "remove", "rename"])
def test_files_metadata_detects(aws, change):
    bucket = aws.new_bucket()
    s3 = aws.client()
    s3.put_object(Bucket=bucket, Key="in/a.csv", Body=b"12")
    s3.put_object(Bucket=bucket, Key="in/b.csv", Body=b"345")
    before = observe(s3data(bucket, "in/", "files_metadata"))
    if change == "add":
        s3.put_object(Bucket=bucket, Key="in/new/c.csv", Body=b"")
    elif change == "resize":
        s3.put_object(Bucket=bucket, Key="in/a.csv", Body=b"123")
    elif change == "remove":
        s3.delete_object(Bucket=bucket, Key="in/a.csv")
    elif change == "rename":
        s3.copy_object(Bucket=bucket, Key="in/z.csv", CopySource={"Bucket": bucket, "Key": "in/a.csv"})
        s3.delete_object(Bucket=bucket, Key="in/a.csv")
    after = observe(s3data(bucket, "in/", "files_metadata"))
    assert after.fingerprint != before.fingerprint


def test_empty_prefix_is_an_observation(aws):
    bucket = aws.new_bucket()
    obs = observe(s3data(bucket, "nothing/here/", "files_metadata"))
    assert obs.value["exists"] is False and obs.value["count"] == 0 and obs.value["newest_modified"] is None
    assert obs.summary == "s3://%s/nothing/here/: no files" % bucket


def test_files_metadata_pages_through_more_than_1000_keys(aws, calls):
    bucket = aws.new_bucket()
    s3 = aws.client()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key="p/%05d" % i, Body=b"x" * (i % 7)), range(2500)))
    calls.clear()
    obs = observe(s3data(bucket, "p/", "files_metadata"))
    assert obs.value["count"] == 2500
    assert obs.value["total_bytes"] == sum(i % 7 for i in range(2500))
    assert calls == ["s3.ListObjectsV2"] * 3
    # The stored value is the summary, never the listing.
    assert len(json.dumps(obs.value)) < 300


# -- credentials and errors ------------------------------------------------------------------------


def test_role_is_assumed_through_sts_and_its_credentials_used(aws, calls, monkeypatch):
    import boto3

    bucket = aws.new_bucket()
    aws.client().put_object(Bucket=bucket, Key="f", Body=b"x")
    used_keys = []
    boto3.DEFAULT_SESSION.events.register(
        "before-send.s3",
        lambda request, **kw: used_keys.append(
            request.headers["Authorization"].decode().split("Credential=")[1].split("/")[0]
        ),
    )
    role = "arn:aws:iam::123456789012:role/sensor-reader"
    calls.clear()
    obs = observe(s3data(bucket, "f", "file_size", role=role))
    assert obs.value == {"exists": True, "size": 1}
    assert calls == ["sts.AssumeRole", "s3.HeadObject"]
    # moto's STS hands out temporary keys (ASIA...), not the environment's "testing".
    assert used_keys and used_keys[0] != "testing" and used_keys[0].startswith("ASIA")


@pytest.fixture(scope="module")
def auth_moto():
    """A separate moto server with IAM enforcement on (it is process-wide in moto, so it
    gets its own process) and a user whose policy allows nothing on S3."""
    import boto3

    port = free_port()
    endpoint = "http://127.0.0.1:%d" % port
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(endpoint + "/moto-api/")
                break
            except OSError:
                time.sleep(0.05)
        root = dict(
            endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        boto3.client("s3", **root).create_bucket(Bucket="locked-bucket")
        iam = boto3.client("iam", **root)
        iam.create_user(UserName="nobody")
        iam.put_user_policy(
            UserName="nobody",
            PolicyName="no-s3",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName="nobody")["AccessKey"]
        req = urllib.request.Request(
            endpoint + "/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
        )
        urllib.request.urlopen(req).read()
        yield {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("mode", ["file_size", "files_metadata"])
def test_access_denied_is_one_clear_error(auth_moto, monkeypatch, mode):
    for k, v in auth_moto.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(S3AccessDeniedError) as err:
        observe(s3data("locked-bucket", "in/f.csv", mode))
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith("s3://locked-bucket/in/f.csv: access denied (")
    assert "check the credentials, data.role and the bucket policy" in text


class _SlowDown(http.server.BaseHTTPRequestHandler):
    """An S3-compatible endpoint that throttles everything, as S3 does under load."""

    BODY = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>'

    def _answer(self, body: bool) -> None:
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(self.BODY)))
        self.end_headers()
        if body:
            self.wfile.write(self.BODY)

    def do_GET(self):
        self._answer(True)

    def do_HEAD(self):
        self._answer(False)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("mode,code", [("files_metadata", "SlowDown"), ("file_size", "503")])
def test_throttling_is_one_clear_error(monkeypatch, mode, code):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowDown)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:%d" % server.server_address[1])
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        # botocore retries throttling itself; one attempt keeps the test short.
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        with pytest.raises(S3ThrottledError) as err:
            observe(s3data("busy-bucket", "k", mode))
    finally:
        server.shutdown()
        server.server_close()
    assert str(err.value).startswith("s3://busy-bucket/k: throttled by S3 (")
    assert code in str(err.value)


# -- from a flow step, and from the CLI ------------------------------------------------------------------

S3_FLOW = """
import json
from metaflow import step
from flowproject import BaseFlow


class S3WatchFlow(BaseFlow):
    @step
    def start(self):
        obs = self.query()
        self.observation = obs.to_dict()
        print("OBSERVED " + json.dumps(self.observation))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    S3WatchFlow()
"""


def test_a_flow_step_observes_s3_in_its_own_process(sandbox, s3_server, tmp_path):
    bucket = s3_server.new_bucket()
    s3 = s3_server.client()
    s3.put_object(Bucket=bucket, Key="landing/2024/a.parquet", Body=b"PAR1")
    s3.put_object(Bucket=bucket, Key="landing/b.parquet", Body=b"PAR1PAR1")
    project = write_project(
        tmp_path / "proj",
        """
        project_name = "s3watch"
        [data]
        type = "s3"
        bucket = "%s"
        key = "landing/"
        """
        % bucket,
        {"s3watch.flow.py": S3_FLOW},
    )
    proc = sandbox.run_ok(["flows/s3watch.flow.py", "run"], cwd=project, env=s3_server.env)
    line = [line for line in proc.stdout.splitlines() if "OBSERVED " in line][-1]
    seen = json.loads(line.split("OBSERVED ", 1)[1])
    assert seen["value"]["count"] == 2 and seen["value"]["total_bytes"] == 12
    assert seen["fingerprint"] == fingerprint(seen["value"])
    stored = sandbox.client("result = Flow('S3WatchFlow').latest_run['start'].task.data.observation")
    assert stored == seen


def test_cli_check_json_s3(aws, tmp_path, capsys):
    bucket = aws.new_bucket()
    aws.client().put_object(Bucket=bucket, Key="exports/today.csv", Body=b"a,b\n")
    cfg = tmp_path / "flowproject.toml"
    cfg.write_text('project_name = "p"\n[data]\ntype = "s3"\nbucket = "%s"\nkey = "exports/"\n' % bucket)
    assert cli.main(["check", "--config", str(cfg), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["value"]["count"] == 1 and out["value"]["total_bytes"] == 4
    assert out["summary"].startswith("s3://%s/exports/: 1 file, 4 bytes" % bucket)


# -- secrets in the endpoint URL -----------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://minio:s3-Secr3tPw@127.0.0.1:{port}",  # a MinIO user and password
        "http://127.0.0.1:{port}/?X-Amz-Security-Token=tok-ABCD1234",  # a signed query
    ],
)
@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"])
@pytest.mark.parametrize("mode", ["file_size", "files_metadata"])
def test_s3_endpoint_url_with_credentials_is_masked_in_errors(aws, monkeypatch, endpoint, variable, mode):
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv(variable, endpoint.format(port=free_port()))  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(S3Error) as err:
        observe(s3data("b", "in/f.csv", mode))
    text = str(err.value)
    assert text.startswith("s3://b/in/f.csv: ") and "\n" not in text
    for secret in ("s3-Secr3tPw", "tok-ABCD1234"):
        assert secret not in text and secret not in repr(err.value)
    assert "[masked]" in text
    assert err.value.__cause__ is None and err.value.__suppress_context__
