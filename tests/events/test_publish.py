"""Publishing under faults: real SensorFlow runs (and publish() in its own process) against
webhooks on 127.0.0.1 that redirect, hang, trickle bytes, answer 500 or are not there.

Every scenario checks three things: the run fails (a change is never counted as delivered
when it was not), the message is one line, and the secrets in the webhook URL (a password
in ``user:pass@`` and a ``?token=``) appear nowhere: not in the output, the task logs, the
artifacts, the card, nor any file the run left in the datastore.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, List

import pytest
from conftest import doc_text, free_port, run_id_of, sensor_project

from flowproject.secrets import mask_url, mask_urls, url_secrets
from flowproject.sensor import MAX_INLINE_PAYLOAD_BYTES, payload_for
from flowproject.sources import Observation

PASSWORD = "pw-Fw9xQ2vLm"
TOKEN = "tok-8ZrK4pYt"
SECRETS = (PASSWORD, TOKEN)

TOML = """
project_name = "faulted"
[data]
type = "local"
path = "watched"
[sensor]
event_name = "watched_changed"
publish_timeout_seconds = %d
# The card is opt-in; on here because it is one more place a secret must not reach.
card = true
"""
# Short, so a webhook that never answers fails the run quickly; the subprocess timeout
# below is what fails the test if there were no deadline at all.
DEADLINE = 3
NO_DEADLINE_WOULD_HANG = 150


class FaultyWebhook:
    """A webhook on 127.0.0.1 that misbehaves as told; it records every request it gets.

    ``mode``: "ok" (200), "500", "redirect-<code>" (to /final on itself, which answers
    200 to anything), "hang" (reads the request, never answers), "trickle" (starts an
    answer and sends one byte of header every 0.2 s, forever).
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests: List[dict] = []
        self.stop = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                hook.requests.append(
                    {"method": self.command, "path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                if self.path.startswith("/final") or hook.mode == "ok":
                    return self._answer(200)
                if hook.mode == "500":
                    return self._answer(500)
                if hook.mode.startswith("redirect-"):
                    self.send_response(int(hook.mode.split("-")[1]))
                    self.send_header("Location", "/final?token=%s" % TOKEN)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if hook.mode == "hang":
                    hook.stop.wait(NO_DEADLINE_WOULD_HANG)
                    return
                if hook.mode == "trickle":
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    while not hook.stop.wait(0.2):
                        try:
                            self.wfile.write(b"x")
                            self.wfile.flush()
                        except OSError:
                            return  # the client gave up, as it should

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = _handle  # noqa: N815 - http.server's naming

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        # The URL a team would paste from their Argo Events setup: credentials included.
        self.url = "http://sensor:%s@127.0.0.1:%d/hook?token=%s" % (PASSWORD, self.port, TOKEN)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def faulty():
    hooks: List[FaultyWebhook] = []

    def make(mode: str) -> FaultyWebhook:
        hooks.append(FaultyWebhook(mode))
        return hooks[-1]

    yield make
    for hook in hooks:
        hook.close()


@pytest.fixture
def project(tmp_path):
    root = sensor_project(tmp_path / "proj", TOML % DEADLINE)
    return root


def run_sensor(sandbox, project, url):
    return sandbox.run(
        ["flows/sensor.flow.py", "run"],
        cwd=project,
        env={"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": url},
        timeout=NO_DEADLINE_WOULD_HANG,
    )


def error_lines(proc) -> List[str]:
    """The lines of output that carry our publish error."""
    return [line for line in (proc.stdout + proc.stderr).splitlines() if "could not publish" in line]


def assert_one_line_error(proc, *expected: str) -> str:
    assert proc.returncode != 0, proc.stdout[-3000:]
    lines = error_lines(proc)
    assert lines, (proc.stdout + proc.stderr)[-3000:]
    line = lines[-1]
    for text in expected:
        assert text in line, line
    # Metaflow prints a FlowprojectError as headline + message, never a traceback.
    assert "Traceback" not in proc.stdout + proc.stderr
    return line


def _texts_in_files(root: Path):
    """Every file under ``root`` as bytes, gunzipped when it is gzip (Metaflow's blobs)."""
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if data[:2] == b"\x1f\x8b":
                try:
                    data = gzip.decompress(data)
                except OSError:
                    pass
            yield path, data


def assert_secrets_nowhere(sandbox, project, proc, tmp_path) -> None:
    """Not in the output, the task logs, the artifacts, the card, or any stored file."""
    run_id = run_id_of(proc)
    outputs = sandbox.client(
        """
        namespace(None)
        from metaflow.cards import get_cards
        result = {}
        for step in Run("SensorFlow/%s"):
            for task in step:
                result[step.id + ".stdout"] = task.stdout
                result[step.id + ".stderr"] = task.stderr
                result[step.id + ".artifacts"] = repr({a.id: a.data for a in task.artifacts})
        """
        % run_id,
        cwd=project,
    )
    card = tmp_path / "card.html"
    sandbox.run_ok(
        ["flows/sensor.flow.py", "card", "get", "%s/start" % run_id, "--id", "sensor", str(card)], cwd=project
    )
    card_data = re.search(r'window.__MF_DATA__\["[^"]+"\] = "([^"]+)"', card.read_text()).group(1)
    outputs["card"] = card.read_text() + base64.b64decode(card_data).decode("utf-8")
    outputs["process"] = proc.stdout + proc.stderr
    assert "end.stderr" in outputs or "end.stdout" in outputs
    for secret in SECRETS:
        for where, text in outputs.items():
            assert secret not in text, "%s leaked in %s" % (secret, where)
        for root in (sandbox.root / "datastore", project / ".metaflow"):
            for path, data in _texts_in_files(root):
                assert secret.encode() not in data, "%s leaked in %s" % (secret, path)


# -- the scenarios, as SensorFlow runs ---------------------------------------------------


def test_redirect_302_is_not_sent_and_fails_the_run(sandbox, project, faulty, tmp_path):
    hook = faulty("redirect-302")
    proc = run_sensor(sandbox, project, hook.url)
    line = assert_one_line_error(proc, "the webhook answered 302", "redirects are never followed")
    # urllib would have re-sent the event as a GET without its body to /final.
    assert [r["path"].split("?")[0] for r in hook.requests] == ["/hook"]
    assert "/final?token=[masked]" in line
    assert_secrets_nowhere(sandbox, project, proc, tmp_path)


def test_webhook_that_never_answers_fails_at_the_deadline(sandbox, project, faulty, tmp_path):
    hook = faulty("hang")
    proc = run_sensor(sandbox, project, hook.url)
    assert_one_line_error(proc, "no complete answer within %d s ([sensor] publish_timeout_seconds)" % DEADLINE)
    assert_secrets_nowhere(sandbox, project, proc, tmp_path)


def test_webhook_that_trickles_bytes_forever_fails_at_the_deadline(sandbox, project, faulty, tmp_path):
    hook = faulty("trickle")
    proc = run_sensor(sandbox, project, hook.url)
    assert_one_line_error(proc, "no complete answer within %d s" % DEADLINE)
    assert_secrets_nowhere(sandbox, project, proc, tmp_path)


def test_webhook_answering_500_fails_the_run_without_leaking_the_token(sandbox, project, faulty, tmp_path):
    hook = faulty("500")
    proc = run_sensor(sandbox, project, hook.url)
    line = assert_one_line_error(proc, "could not publish mfns.faulted.", "the webhook answered 500")
    assert "http://[masked]@127.0.0.1:%d/hook?token=[masked]" % hook.port in line
    assert_secrets_nowhere(sandbox, project, proc, tmp_path)


def test_connection_refused_fails_the_run_within_the_deadline(sandbox, project, tmp_path):
    url = "http://sensor:%s@127.0.0.1:%d/hook?token=%s" % (PASSWORD, free_port(), TOKEN)
    proc = run_sensor(sandbox, project, url)
    assert_one_line_error(proc, "connection refused (")
    assert_secrets_nowhere(sandbox, project, proc, tmp_path)


def test_token_url_that_works_sends_once_and_leaks_nowhere(sandbox, project, faulty, tmp_path):
    hook = faulty("ok")
    proc = run_sensor(sandbox, project, hook.url)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert len(hook.requests) == 1
    sent = hook.requests[0]
    assert sent["method"] == "POST" and sent["path"] == "/hook?token=%s" % TOKEN
    # user:pass@ in the URL travels as Basic auth, as curl and requests send it.
    assert sent["auth"] == "Basic " + base64.b64encode(("sensor:%s" % PASSWORD).encode()).decode()
    body = json.loads(sent["body"])
    # ArgoEvent's body: the name twice, its default fields, then ours.
    assert (
        body["name"] == body["payload"]["name"] == "mfns.faulted.user.%s.watched_changed" % sandbox.env["METAFLOW_USER"]
    )
    assert {"id", "timestamp", "utc_date", "generated-by-metaflow", "value", "sensor_run"} <= set(body["payload"])
    art = sandbox.client('namespace(None)\nresult = Run("SensorFlow/%s").data.event' % run_id_of(proc), cwd=project)
    assert art["sent"] is True and art["id"] == body["payload"]["id"]
    assert_secrets_nowhere(sandbox, project, proc, tmp_path)


# -- publish() in a real process -------------------------------------------------------------------

PUBLISH = """
import sys
from flowproject.events import PublishError, publish
event = {"name": "mfns.p.b.e", "payload": {"value": 1}, "publish": True, "sent": False}
try:
    print("RECORD", publish(event, timeout_seconds=%d))
except PublishError as e:
    print("ERROR", e)
    sys.exit(3)
"""


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_every_redirect_code_is_a_failed_publish(sandbox, faulty, code):
    hook = faulty("redirect-%d" % code)
    proc = sandbox.run(
        ["-c", PUBLISH % DEADLINE], env={"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": hook.url}, timeout=NO_DEADLINE_WOULD_HANG
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stdout.startswith("ERROR could not publish mfns.p.b.e to http://[masked]@127.0.0.1:")
    assert "the webhook answered %d" % code in proc.stdout
    assert len(proc.stdout.strip().splitlines()) == 1
    assert not any(r["path"].startswith("/final") for r in hook.requests)
    assert not any(s in proc.stdout + proc.stderr for s in SECRETS)


def test_the_whole_publish_has_one_deadline_even_when_bytes_keep_coming(sandbox, faulty):
    hook = faulty("trickle")
    started = time.monotonic()
    proc = sandbox.run(
        ["-c", PUBLISH % 2], env={"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": hook.url}, timeout=NO_DEADLINE_WOULD_HANG
    )
    assert proc.returncode == 3 and "no complete answer within 2 s" in proc.stdout
    # Not a timing assertion on speed: a bound far above the deadline, far below "forever".
    assert time.monotonic() - started < NO_DEADLINE_WOULD_HANG


# -- the payload cap, and the masking rules ------------------------------------------------------


def test_payload_cap_counts_utf8_bytes_not_characters():
    wide = Observation.of("é" * 3000, "3000 accented letters")  # 3,000 characters, 6,000 bytes
    payload = payload_for(wide, "value", None, "SensorFlow/1")
    assert payload["value"] == {"summary": "3000 accented letters", "fingerprint": wide.fingerprint}
    fits = Observation.of("é" * ((MAX_INLINE_PAYLOAD_BYTES - 2) // 2), "fits")  # with its quotes, exactly the cap
    assert payload_for(fits, "value", None, "SensorFlow/1")["value"] == fits.value


def test_publish_timeout_must_be_a_positive_integer(tmp_path):
    from flowproject import ConfigError, load_config

    path = tmp_path / "flowproject.toml"
    path.write_text('project_name = "p"\n[sensor]\npublish_timeout_seconds = 0\n')
    with pytest.raises(
        ConfigError,
        match=r"sensor.publish_timeout_seconds: expected a positive integer of at most 86400 \(1 day\); got 0$",
    ):
        load_config(path)


@pytest.mark.parametrize(
    "url,masked",
    [
        ("https://hooks.example.com/argo?token=abc123XYZ", "https://hooks.example.com/argo?token=[masked]"),
        ("http://user:s3cret@10.0.0.1:12000/x", "http://[masked]@10.0.0.1:12000/x"),
        ("https://tok3n@host/p?a=1&b=&sig=zz#frag", "https://[masked]@host/p?a=[masked]&b=&sig=[masked]#[masked]"),
        ("http://host/path?bare-token-value", "http://host/path?[masked]"),
        ("https://host:443/plain/path", "https://host:443/plain/path"),
    ],
)
def test_url_masking_hides_user_info_query_values_and_fragment(url, masked):
    assert mask_url(url) == masked


def test_url_secrets_are_masked_also_where_they_appear_alone_or_decoded():
    url = "http://bot:p%40ss-word@h:1/x?token=t0k3n-value"
    text = "<urlopen error %s> password p@ss-word, token t0k3n-value\nsecond line" % url
    out = mask_urls(text, [url])
    assert out == "<urlopen error http://[masked]@h:1/x?token=[masked]> password [masked], token [masked] second line"
    assert set(url_secrets(url)) == {"p%40ss-word", "p@ss-word", "t0k3n-value"}  # "bot": too short to mask loose


def test_docs_masking_example_is_what_flowproject_prints():
    url = "https://bot:pw-1a2b3c@argo.example.com/hook?token=abc123def"
    raw = "could not publish mfns.proj.prod.data_changed to %s: the webhook answered 500 Internal Server Error" % url
    assert mask_urls(raw, [url]) in doc_text("sensor.md")
