"""Issue 17 item 4: URL passwords holding any printable character are masked.

Generated passwords contain ``/ # ? @ :`` unencoded; the user info runs to the last ``@``
before the host. Property tests over the printable set, then one real SensorFlow run
whose webhook URL carries such a password: run output, stored task logs and
``sensor history --json`` must not show it.
"""

from __future__ import annotations

import json
import random
import string

from conftest import free_port, sensor_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowproject.secrets import MASK, ambiguous_userinfo, mask_url, mask_urls

# Whitespace ends a URL in any text, so no client takes a URL holding it unencoded.
PRINTABLE = "".join(c for c in string.printable if not c.isspace())
# Characters that also end a URL found in free text (quotes, brackets): those passwords
# are masked through the URL the caller used (mask_urls' second argument).
FREE_TEXT = "".join(c for c in PRINTABLE if c not in "'\"<>`\\")
passwords = st.text(alphabet=PRINTABLE, min_size=8, max_size=40)
HOSTS = ("127.0.0.1:8080", "hooks.example.com", "[::1]:9", "minio")


def _leaks(password: str, text: str, out: str, url: str) -> bool:
    # Present after masking only where the text had it outside the URL, as part of a word.
    return password in out and password not in text.replace(url, "")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(password=passwords, user=st.sampled_from(["sensor", "u", ""]), host=st.sampled_from(HOSTS))
def test_known_url_masks_every_printable_password(password, user, host):
    url = "http://%s%s@%s/hook?token=tok-1234" % (user + ":" if user else "", password, host)
    text = "could not publish mfns.p.b.e to %s: the webhook answered 500 (%s)" % (url, url)
    out = mask_urls(text, [url])
    assert not _leaks(password, text, out, url), out
    assert "http://%s@%s/hook?token=%s" % (MASK, host, MASK) in out
    assert "tok-1234" not in out and "\n" not in out


@settings(max_examples=300, deadline=None)
@given(password=st.text(alphabet=FREE_TEXT, min_size=8, max_size=40), host=st.sampled_from(HOSTS))
def test_url_found_in_free_text_masks_the_password(password, host):
    url = "https://bot:%s@%s/x" % (password, host)
    text = "<urlopen error %s> (botocore: Custom endpoint `%s` was not a valid URI)" % (url, url)
    out = mask_urls(text)  # no known URL: the pattern alone must find it
    assert not _leaks(password, text, out, url), out
    assert mask_url(url) == "https://%s@%s/x" % (MASK, host)


def test_the_last_at_before_the_host_ends_the_user_info():
    assert mask_url("http://hook:Sec/ret@host/a?b=1") == "http://[masked]@host/a?b=[masked]"
    assert mask_url("http://u:a@b/c#d?e@127.0.0.1:80/h") == "http://[masked]@127.0.0.1:80/h"
    assert mask_url("http://host:80/plain") == "http://host:80/plain"
    assert ambiguous_userinfo("http://hook:Sec/ret@host/")
    assert not ambiguous_userinfo("http://hook:S%2Fc@host/") and not ambiguous_userinfo("http://h/x")


def generated_password() -> str:
    """A password as a generator makes them, with the characters that broke masking."""
    rng = random.Random(17)
    return "".join(rng.choice(PRINTABLE) for _ in range(16)) + "/#?@:"


TOML = """
project_name = "masked"
[data]
type = "local"
path = "watched"
[sensor]
event_name = "watched_changed"
publish_timeout_seconds = 3
"""


def test_a_real_run_shows_the_password_nowhere(sandbox, tmp_path):
    password = generated_password()
    project = sensor_project(tmp_path / "proj", TOML)
    url = "http://sensor:%s@127.0.0.1:%d/hook?token=tok-8ZrK4pYt" % (password, free_port())
    proc = sandbox.run(["flows/sensor.flow.py", "run"], cwd=project, env={"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": url})
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    (line,) = [x for x in output.splitlines() if "could not publish" in x]
    assert "http://[masked]@127.0.0.1:" in line and "percent-encode" in line, line
    assert "Traceback" not in output
    logs = sandbox.client(
        """
        namespace(None)
        run = Flow("SensorFlow").latest_run
        result = {s.id: [t.stdout + t.stderr for t in s] for s in run}
        """,
        cwd=project,
    )
    history = sandbox.run_ok(["-m", "flowproject.cli", "sensor", "history", "--json"], cwd=project).stdout
    (tick,) = json.loads(history)
    assert tick["outcome"] == "failed"
    for where, text in [("output", output), ("logs", json.dumps(logs)), ("history", history)]:
        for secret in (password, json.dumps(password)[1:-1], "tok-8ZrK4pYt"):
            assert secret not in text, where
