"""Pointers in S3 the way real S3 answers: a missing key is 403 without s3:ListBucket.

moto answers 404; a proxy on 127.0.0.1 in front of it turns every 404 into the 403
AccessDenied that S3 sends a caller who may not list the bucket.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest

DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>'
)


class NoListBucketProxy:
    def __init__(self, upstream: str) -> None:
        target = urlparse(upstream)
        proxy = self
        self.denied = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                conn.request(self.command, self.path, body=body, headers=dict(self.headers))
                answer = conn.getresponse()
                data = answer.read()
                status, headers = answer.status, answer.getheaders()
                if status == 404:
                    proxy.denied += 1
                    status, data = 403, (b"" if self.command == "HEAD" else DENIED)
                    headers = [("Content-Type", "application/xml")]
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward  # noqa: N815

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def no_list_s3(s3_server):
    proxy = NoListBucketProxy(s3_server.endpoint)
    try:
        yield proxy
    finally:
        proxy.close()


def test_missing_pointer_answered_403_counts_as_missing(sandbox, s3_server, no_list_s3):
    bucket = s3_server.new_bucket("nolist")
    env = dict(
        s3_server.env,
        AWS_ENDPOINT_URL=no_list_s3.endpoint,
        METAFLOW_S3_ENDPOINT_URL=no_list_s3.endpoint,
        METAFLOW_DEFAULT_DATASTORE="s3",
        METAFLOW_DATASTORE_SYSROOT_S3="s3://%s/mf" % bucket,
    )
    got = sandbox.client(
        """
        from flowproject import branch_state
        from flowproject.getters.runs import latest_successful_run
        result = [latest_successful_run("SensorFlow", project="p", branch="prod"),
                  branch_state("SensorFlow", "p", "prod", can_deliver=True)]
        """,
        env=env,
    )
    assert got == [None, None]
    assert no_list_s3.denied >= 2  # the pointers were asked for and denied


def test_lease_is_created_only_once_through_s3(sandbox, s3_server, no_list_s3):
    bucket = s3_server.new_bucket("lease")
    env = dict(s3_server.env, AWS_ENDPOINT_URL=no_list_s3.endpoint, METAFLOW_S3_ENDPOINT_URL=no_list_s3.endpoint)
    got = sandbox.client(
        """
        from flowproject.sensor import lease
        from flowproject.getters.store import StateStore
        store = StateStore("s3", "s3://%s/mf")
        key = lease.lease_key("SensorFlow", "p", "prod")
        a = lease.acquire(store, key, "SensorFlow/1", 60)
        b = lease.acquire(store, key, "SensorFlow/2", 60)
        lease.release(store, key, "SensorFlow/1")
        c = lease.acquire(store, key, "SensorFlow/2", 60)
        result = [a.held, b.held, b.holder["run"], c.held, lease.holder(store, key)["run"]]
        """
        % bucket,
        env=env,
    )
    assert got == [True, False, "SensorFlow/1", True, "SensorFlow/2"]
