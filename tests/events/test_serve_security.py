"""`flowproject events serve` from outside: hostile pages, broken clients, floods (issue 17)."""

from __future__ import annotations

import http.client
import json
import socket
import time
from urllib.parse import urlsplit

import pytest
from serving import Server
from test_local_events import project  # noqa: F401 - the fixture is used by name


def raw(url, method="POST", body=b"{}", headers=None, host=None):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    conn.putrequest(method, parts.path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host or parts.netloc)
    for k, v in hdrs.items():
        conn.putheader(k, v)
    if "Content-Length" not in hdrs and body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body if method == "POST" else None)
    resp = conn.getresponse()
    out = (resp.status, dict(resp.getheaders()), resp.read())
    conn.close()
    return out


@pytest.fixture
def srv(sandbox, project):  # noqa: F811
    server = Server(sandbox, project)
    try:
        yield server
    finally:
        server.stop()


def test_only_its_own_user_gets_in(srv):
    assert len(urlsplit(srv.url).path.strip("/")) >= 20  # the token is in the URL
    name = {"name": "mfns.other.prod.x", "payload": {}}
    body = json.dumps(name).encode()
    assert raw(srv.url, body=body)[0] == 200
    base = srv.url.rsplit("/", 2)[0] + "/"
    assert raw(base, body=body)[0] == 404  # no token
    assert raw(base + "wrong-token/", body=body)[0] == 404
    assert raw(srv.url, body=body, headers={"Content-Type": "text/plain"})[0] == 415
    assert raw(srv.url, body=body, headers={"Origin": "http://evil.example"})[0] == 403
    port = urlsplit(srv.url).port
    assert raw(srv.url, body=body, host="evil.example:%d" % port)[0] == 421
    for method in ("HEAD", "OPTIONS", "TRACE", "PUT", "GET"):
        status, headers, _ = raw(srv.url, method=method, body=None)
        assert status == 405 and headers.get("Allow") == "POST", method


def test_bodies_and_json_are_bounded(srv):
    for length, expected in (("-1", 400), ("abc", 400), ("99999999", 413)):
        assert raw(srv.url, body=b"{}", headers={"Content-Length": length})[0] == expected, length
    assert raw(srv.url, body=b"[" * 5000 + b"]" * 5000)[0] == 400
    status, _, answer = raw(srv.url, body=json.dumps({"name": "a\x00b", "payload": {}}).encode())
    assert status == 400
    assert srv.proc.poll() is None


def test_a_client_sending_an_oversized_body_gets_413_not_a_broken_pipe(srv):
    # ArgoEvent.publish with a too-large payload must read why; the server drains
    # (a bounded "lingering close") instead of resetting the connection mid-send.
    statuses = set()
    for _ in range(10):
        try:
            statuses.add(raw(srv.url, body=b"x" * (3 * 1024 * 1024))[0])
        except OSError as e:
            statuses.add(type(e).__name__)
    assert statuses == {413}


def test_half_open_sockets_do_not_block_and_time_out(srv):
    parts = urlsplit(srv.url)
    socks = []
    for _ in range(200):
        s = socket.create_connection((parts.hostname, parts.port))
        s.sendall(b"POST %s HTTP/1.1\r\nHost: %s\r\n" % (parts.path.encode(), parts.netloc.encode()))
        socks.append(s)
    assert raw(srv.url, body=json.dumps({"name": "mfns.other.prod.x", "payload": {}}).encode())[0] == 200
    time.sleep(7)  # the socket timeout is 5 s: the server has closed them all
    closed = 0
    for s in socks:
        s.settimeout(2)
        try:
            closed += s.recv(1) == b""
        except OSError:
            closed += 1
        s.close()
    assert closed == 200


def test_identical_event_ids_start_once(sandbox, srv):
    name = "mfns.looped.user.%s.param_evt" % sandbox.env["METAFLOW_USER"]
    body = json.dumps({"name": name, "payload": {"name": name, "id": "same-id", "a_key": "x"}}).encode()
    answers = [json.loads(raw(srv.url, body=body)[2]) for _ in range(20)]
    assert answers[0]["flows"] == ["ParamFlow"] and not answers[0]["duplicate"]
    assert all(a["duplicate"] and a["flows"] == [] for a in answers[1:])
    srv.wait_for(r"ParamFlow/\d+ finished")
    assert sum("started ParamFlow" in line for line in srv.seen) == 1


def test_cli_arguments_are_checked_in_one_line(sandbox, project):  # noqa: F811
    for args, expected in (
        (["events", "serve", "--port", "70000"], "expected a port number"),
        (["events", "serve", "--host", "0.0.0.0"], "add --expose"),
        (["sensor", "history", "-n", "-1"], "expected a number of ticks"),
    ):
        proc = sandbox.run(["-m", "flowproject.cli", *args], cwd=project)
        assert proc.returncode == 2 and expected in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
