"""Where a run's event payloads come from: a local `@file` reference, never followed on Argo."""

from __future__ import annotations

import json
import stat

import pytest

from flowproject.errors import FlowprojectError
from flowproject.getters import payloads

VAR = payloads.PAYLOAD_ENV_PREFIX + "event_mfnsx_abcd"


def test_spill_moves_each_payload_to_an_owner_only_file_and_the_reader_follows_it(tmp_path):
    payload = {"name": "mfns.x", "value": "v" * 200_000}
    env = {VAR: json.dumps(payload), "OTHER": "kept", payloads.PAYLOAD_ENV_PREFIX + "run_y": "null"}
    out = payloads.spill(env, tmp_path / "p")
    assert out["OTHER"] == "kept" and out[payloads.PAYLOAD_ENV_PREFIX + "run_y"] == "null"
    assert out[VAR].startswith("@") and len(out[VAR]) < 300
    path = tmp_path / "p" / "event_mfnsx_abcd.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(payloads.payloads(out)) == [(VAR, payload)]
    assert payloads.payload_named("mfns.x", out) == payload
    # What a user sets by hand is JSON and is read as it is.
    assert payloads.payload_named("mfns.x", env) == payload


def test_a_reference_is_not_followed_in_an_argo_pod(tmp_path):
    # There the variable is the event's own payload: a publisher must not make a step read a file.
    secret = tmp_path / "secret.json"
    secret.write_text('{"name": "mfns.x", "token": "s3cr3t"}')
    env = {VAR: "@%s" % secret, "ARGO_WORKFLOW_TEMPLATE": "t"}
    assert list(payloads.payloads(env)) == [(VAR, None)]
    assert payloads.payload_named("mfns.x", env) is None


def test_a_missing_payload_file_is_one_line(tmp_path):
    env = {VAR: "@%s" % (tmp_path / "gone.json")}
    with pytest.raises(FlowprojectError) as err:
        payloads.payload_named("mfns.x", env)
    assert str(err.value).startswith("%s names payload file %s" % (VAR, tmp_path / "gone.json"))
    assert "\n" not in str(err.value)
