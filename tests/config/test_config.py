"""flowproject.toml: defaults, the one-line errors, locating the file, `flowproject validate`."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from flowproject import config
from flowproject.cli import main
from flowproject.errors import ConfigError

MINIMAL = 'project_name = "demo"\n'

# (name, file body, the exact one-line error after "<file>: ")
BROKEN = [
    ("missing_project_name", "[data]\ntype = 'local'\n", "project_name: required key is missing"),
    (
        "bad_project_name",
        'project_name = "My-Project"\n',
        "project_name: expected a Metaflow project name of lowercase letters, digits and _; got 'My-Project'",
    ),
    (
        "unknown_top_key",
        MINIMAL + "[sensors]\nevent_name = 'x'\n",
        "sensors: unknown key (did you mean 'sensor'?); known keys: project_name, data, sensor, deploy, getters, launch, flows, environments, environment",
    ),
    (
        "unknown_data_key",
        MINIMAL + "[data]\nbukcet = 'b'\n",
        "data.bukcet: unknown key (did you mean 'bucket'?); known keys: type, check_mode, path, bucket, key, role, integration, template, params, timeout_seconds, cursor_column, cursor_start, key_columns",
    ),
    (
        "bad_check_mode",
        MINIMAL + "[data]\ncheck_mode = 'size'\n",
        "data.check_mode: expected one of files_metadata, file_modified_ts, file_size; got 'size'",
    ),
    ("bad_type", MINIMAL + "[data]\ntype = 'gcs'\n", "data.type: expected one of local, s3, snowflake; got 'gcs'"),
    ("wrong_value_type", MINIMAL + "[data]\npath = 3\n", "data.path: expected a non-empty string; got 3"),
    ("s3_needs_bucket", MINIMAL + "[data]\ntype = 's3'\nkey = 'k'\n", "data.bucket: required when data.type is 's3'"),
    (
        "s3_file_mode_needs_key",
        MINIMAL + "[data]\ntype = 's3'\nbucket = 'b'\nkey = ''\ncheck_mode = 'file_size'\n",
        "data.key: expected an object key for check_mode 'file_size'; got ''",
    ),
    (
        "cron_six_fields",
        MINIMAL + "[sensor]\ncron_schedule = '0 */5 * * * *'\n",
        "sensor.cron_schedule: expected a 5-field cron expression like '*/15 * * * *'; got '0 */5 * * * *'",
    ),
    (
        "cron_out_of_range",
        MINIMAL + "[sensor]\ncron_schedule = '61 * * * *'\n",
        "sensor.cron_schedule: expected a 5-field cron expression like '*/15 * * * *'; got '61 * * * *'",
    ),
    (
        "bad_event_name",
        MINIMAL + "[sensor]\nevent_name = 'data changed!'\n",
        "sensor.event_name: expected a name of [A-Za-z0-9_.-] characters; got 'data changed!'",
    ),
    (
        "reserved_payload_key",
        MINIMAL + "[sensor]\npayload_key = 'test_mode'\n",
        "sensor.payload_key: expected a key not already used by the event or a flow parameter "
        "(force_trigger, id, name, sensor_event, sensor_fingerprint, sensor_previous_fingerprint, "
        "sensor_run, test_mode, timestamp, utc_date); got 'test_mode'",
    ),
    (
        "bool_as_string",
        MINIMAL + "[sensor]\npublish_on_first_run = 'yes'\n",
        "sensor.publish_on_first_run: expected true or false; got 'yes'",
    ),
    (
        "section_not_a_table",
        MINIMAL.replace("\n", "") + "\ndata = 'local'\n",
        "data: expected a table; got 'local'",
    ),
    (
        "production_branches_empty",
        MINIMAL + "[deploy]\nproduction_branches = []\n",
        "deploy.production_branches: expected a non-empty array of branch names; got []",
    ),
    (
        "getter_pin_without_run_id",
        MINIMAL + "[getters.TrainFlow]\n",
        "getters.TrainFlow: expected run_id (a pin) or read_branch (the branch to read)",
    ),
    (
        "legacy_table_conflict",
        MINIMAL + "[data]\nbucket = 'a'\n[data_kwargs]\nbucket = 'b'\n",
        "data_kwargs.bucket: also set in [data]; keep only the [data] one",
    ),
]


@pytest.mark.parametrize("name,body,expected", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_config_gives_one_line_error(tmp_path, name, body, expected):
    path = tmp_path / "flowproject.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as err:
        config.load(path)
    text = str(err.value)
    assert "\n" not in text
    assert text == "%s: %s" % (config.display_path(path), expected)


def test_toml_syntax_error_is_one_line(tmp_path):
    path = tmp_path / "flowproject.toml"
    path.write_text('project_name = "demo\n')
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert "\n" not in str(err.value)
    assert str(err.value).startswith("%s: (syntax): invalid TOML: " % config.display_path(path))


def test_json_syntax_error_names_the_value():
    with pytest.raises(ConfigError, match=r"^<flowconfig value>: \(syntax\): invalid JSON"):
        config.flowconfig_parser('{"project_name": ')


def test_defaults_are_filled(tmp_path):
    path = tmp_path / "flowproject.toml"
    path.write_text(MINIMAL)
    cfg = config.load(path)
    assert cfg["data"]["type"] == "local"
    assert cfg["data"]["check_mode"] == "files_metadata"
    assert cfg["data"]["path"] == str(tmp_path / "data")
    assert cfg["sensor"] == {
        "cron_schedule": "*/15 * * * *",
        "event_name": None,
        "payload_key": "value",
        "publish_on_first_run": True,
        "publish_timeout_seconds": 60,
        "lease_seconds": 3600,
        "card": False,
        "value": "rows",
        "emit": "change",
        "items_per_event": 1,
        "max_events_per_tick": 100,
        "emit_removed": False,
        "dedupe": False,
        "dedupe_claim_seconds": 3600,
    }
    # The Outerbounds scaffold always ran sql/sensor.sql: a Snowflake source defaults to it.
    (tmp_path / "sf.toml").write_text(MINIMAL + "[data]\ntype = 'snowflake'\n")
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "sensor.sql").write_text("select 1")
    assert config.load(tmp_path / "sf.toml")["data"]["template"] == "sensor"
    assert cfg["launch"] == {
        "environment": None,
        "package_suffixes": None,
        "datastore": None,
        "metadata": None,
        "env": None,
    }
    assert cfg["deploy"]["production_branches"] == ["main", "master"]
    assert cfg["getters"] == {}


def test_local_path_is_relative_to_the_file_not_the_cwd(tmp_path, monkeypatch):
    (tmp_path / "proj").mkdir()
    path = tmp_path / "proj" / "flowproject.toml"
    path.write_text(MINIMAL + "[data]\npath = 'incoming/today'\n")
    monkeypatch.chdir(tmp_path)
    assert config.load(path)["data"]["path"] == str(tmp_path / "proj" / "incoming" / "today")


def test_resolved_config_validates_again_unchanged(tmp_path):
    path = tmp_path / "flowproject.toml"
    path.write_text(
        MINIMAL + "[data]\ntype='s3'\nbucket='b'\nkey='k/'\n[sensor]\nevent_name='e'\n[getters.A]\nrun_id='argo-a-1'\n"
    )
    cfg = config.load(path)
    # A resolved config comes back as JSON (Runner, resume, deployed templates).
    assert config.parse_text(json.dumps(cfg), config.VALUE_LABEL) == cfg


def test_legacy_data_kwargs_is_an_alias_with_a_warning(tmp_path, capsys):
    path = tmp_path / "flowproject.toml"
    path.write_text(MINIMAL + "[data]\ntype = 's3'\n[data_kwargs]\nbucket = 'b'\nkey = 'in/'\n")
    cfg = config.load(path)
    assert (cfg["data"]["bucket"], cfg["data"]["key"]) == ("b", "in/")
    # One line on stderr (Metaflow hides Python warnings during a run).
    assert re.fullmatch(r"warning: \S+flowproject.toml: \[data_kwargs\] is deprecated.*\n", capsys.readouterr().err)


def test_locate_walks_up_and_env_overrides(tmp_path, monkeypatch):
    monkeypatch.delenv(config.CONFIG_ENV, raising=False)
    (tmp_path / "flowproject.toml").write_text(MINIMAL)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert config.locate(deep) == tmp_path / "flowproject.toml"
    other = tmp_path / "elsewhere.toml"
    other.write_text(MINIMAL)
    monkeypatch.setenv(config.CONFIG_ENV, str(other))
    assert config.locate(deep) == other


def test_locate_without_a_file_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv(config.CONFIG_ENV, raising=False)
    with pytest.raises(ConfigError, match="not found in .* or any folder above it; create one, set FLOWPROJECT_CONFIG"):
        config.locate(tmp_path)


def test_cli_validate_prints_resolved_config_and_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.toml"
    good.write_text(MINIMAL)
    assert main(["validate", str(good)]) == 0
    assert json.loads(capsys.readouterr().out)["project_name"] == "demo"
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL + "[data]\ncheck_mode = 'size'\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("data.check_mode: expected one of files_metadata, file_modified_ts, file_size; got 'size'")
    assert "\n" not in err


def test_console_script_runs_as_a_module(tmp_path):
    bad = tmp_path / "flowproject.toml"
    bad.write_text("project_name = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "flowproject.cli", "validate", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "project_name: expected a Metaflow project name" in proc.stderr
