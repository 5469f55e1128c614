"""Payloads over the environment's 128 KiB per variable reach local runs whole (issue 17):
a real `events serve`, a real `flowproject trigger --value @FILE`, real downstream runs."""

from __future__ import annotations

import json
import re
import shutil
import stat
from pathlib import Path

import pytest
from conftest import REPO, run_id_of, write_project
from test_local_events import PARAM_FLOW, TOML, Server, artifacts, cli, user_branch

# Over MAX_ARG_STRLEN (128 KiB), under the server's 1 MiB body cap.
BIG = "x" * 300_000


@pytest.fixture
def project(tmp_path):
    root = write_project(tmp_path / "proj", TOML, {"param.flow.py": PARAM_FLOW})
    shutil.copy(REPO / "flows" / "downstream.flow.py", root / "flows" / "downstream.flow.py")
    (root / "watched").mkdir()
    return root


def test_a_300_kb_event_through_events_serve_runs_with_its_whole_payload(sandbox, project):
    srv = Server(sandbox, project)
    try:
        name = "mfns.looped.%s.watched_changed" % user_branch(sandbox)
        assert srv.post({"name": name, "payload": {"name": name, "new_value": {"rows": BIG}}}) == 200
        line = srv.wait_for(r"^%s: (started|could not start)" % re.escape(name))
        assert "started" in line, line
        pathspec = re.search(r"(DownstreamFlow/\d+)", line).group(1)
        srv.wait_for(r"%s (finished|FAILED)" % pathspec)
        assert "%s finished" % pathspec in "\n".join(srv.seen)
        # The payload file sits beside the run's log, readable by its owner only.
        logs = Path(re.search(r"runs log to (\S+)", "\n".join(srv.seen)).group(1))
        (payload_file,) = logs.glob("*.payloads/*.json")
        assert stat.S_IMODE(payload_file.stat().st_mode) == 0o600
        # A parameter is still an environment variable: over 100 KiB is one line, nothing starts.
        param = "mfns.looped.%s.param_evt" % user_branch(sandbox)
        assert srv.post({"name": param, "payload": {"a_key": "y" * 150_000}}) == 200
        srv.wait_for(r"^%s: could not start its flows: payload key 'a_key': value over 102400 bytes" % re.escape(param))
    finally:
        srv.stop()
    art = artifacts(sandbox, project, pathspec, ["sensor_input"])
    assert art["sensor_input"] == {"rows": BIG}


def test_trigger_value_from_a_file_over_128_kib(sandbox, project, tmp_path):
    value = tmp_path / "value.json"
    value.write_text(json.dumps([BIG, 1]))
    proc = cli(sandbox, project, "trigger", "flows/downstream.flow.py", "--value", "@%s" % value)
    art = artifacts(sandbox, project, "DownstreamFlow/%s" % run_id_of(proc), ["sensor_input"])
    assert art == {"sensor_input": [BIG, 1]}


def test_trigger_refuses_what_cannot_be_passed_in_one_line(sandbox, project, tmp_path):
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"a_key": "y" * 150_000}))
    for args, expected in (
        (["--payload", "@%s" % big], "payload key 'a_key': value over 102400 bytes for parameter alpha"),
        (["--value", "@%s" % (tmp_path / "missing.json")], "--value: cannot read"),
    ):
        proc = cli(sandbox, project, "trigger", "flows/param.flow.py", *args, ok=False)
        assert proc.returncode == 2, proc.stderr
        assert expected in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
