"""Local source: each check mode detects its change and ignores what it should."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

from flowproject import Observation, cli, observe
from flowproject.sources import SourceError, canonical_json, fingerprint

# A fixed, old modification time: tests set times explicitly instead of sleeping.
T0 = 1_600_000_000_000_000_000


def data(path, mode):
    return {"type": "local", "check_mode": mode, "path": str(path)}


def write(path, content, mtime_ns=T0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, ns=(mtime_ns, mtime_ns))


# -- the contract ----------------------------------------------------------------------


def test_fingerprint_is_sha256_of_canonical_json_whatever_the_key_order():
    a = {"b": 1, "a": [1, {"y": 2, "x": 3}]}
    b = {"a": [1, {"x": 3, "y": 2}], "b": 1}
    assert canonical_json(a) == '{"a":[1,{"x":3,"y":2}],"b":1}'
    assert fingerprint(a) == fingerprint(b)
    assert len(fingerprint(a)) == 64


def test_observation_to_dict_round_trips_through_json(tmp_path):
    write(tmp_path / "f.csv", b"abc")
    obs = observe(data(tmp_path / "f.csv", "file_size"))
    assert isinstance(obs, Observation)
    again = json.loads(json.dumps(obs.to_dict()))
    assert again == {
        "value": {"exists": True, "size": 3},
        "fingerprint": fingerprint(obs.value),
        "summary": obs.summary,
    }


def test_import_flowproject_does_not_import_boto3_or_snowflake():
    code = "import flowproject, sys; bad = [m for m in ('boto3', 'botocore', 'snowflake') if m in sys.modules]; assert not bad, bad"
    subprocess.run([sys.executable, "-c", code], cwd=str(REPO), check=True)


# -- file_size -------------------------------------------------------------------------


def test_file_size_detects_a_resize(tmp_path):
    f = tmp_path / "f.csv"
    write(f, b"1234")
    before = observe(data(f, "file_size"))
    write(f, b"12345")
    after = observe(data(f, "file_size"))
    assert before.value == {"exists": True, "size": 4}
    assert after.value == {"exists": True, "size": 5}
    assert before.fingerprint != after.fingerprint


def test_file_size_ignores_a_same_size_rewrite_and_a_touch(tmp_path):
    f = tmp_path / "f.csv"
    write(f, b"aaaa")
    before = observe(data(f, "file_size"))
    write(f, b"bbbb", mtime_ns=T0 + 10**9)
    assert observe(data(f, "file_size")) == before


def test_file_size_missing_file_is_an_observation_and_its_creation_a_change(tmp_path):
    f = tmp_path / "later.csv"
    missing = observe(data(f, "file_size"))
    assert missing.value == {"exists": False}
    write(f, b"")
    assert observe(data(f, "file_size")).value == {"exists": True, "size": 0}


def test_file_size_on_a_folder_is_an_error_naming_it(tmp_path):
    with pytest.raises(SourceError, match="is a folder; check_mode 'file_size' watches one file"):
        observe(data(tmp_path, "file_size"))


# -- file_modified_ts -----------------------------------------------------------------------


def test_file_modified_ts_detects_a_touch(tmp_path):
    f = tmp_path / "f.csv"
    write(f, b"x")
    before = observe(data(f, "file_modified_ts"))
    os.utime(f, ns=(T0 + 1000, T0 + 1000))  # one microsecond later
    after = observe(data(f, "file_modified_ts"))
    assert before.value == {"exists": True, "modified": "2020-09-13T12:26:40.000000Z"}
    assert after.value == {"exists": True, "modified": "2020-09-13T12:26:40.000001Z"}


def test_file_modified_ts_ignores_chmod_and_a_time_preserving_copy(tmp_path):
    f = tmp_path / "f.csv"
    write(f, b"old content")
    before = observe(data(f, "file_modified_ts"))
    os.chmod(f, 0o600)
    # Like `cp -p` / `rsync -t`: new bytes, the original modified time.
    write(f, b"new content, longer", mtime_ns=T0)
    assert observe(data(f, "file_modified_ts")) == before


def test_file_modified_ts_removal_is_a_change(tmp_path):
    f = tmp_path / "f.csv"
    write(f, b"x")
    before = observe(data(f, "file_modified_ts"))
    f.unlink()
    after = observe(data(f, "file_modified_ts"))
    assert after.value == {"exists": False}
    assert after.fingerprint != before.fingerprint


# -- files_metadata -------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "watched"
    write(root / "a.csv", b"a,b\n1,2\n")
    write(root / "sub" / "deep" / "b.parquet", b"PAR1")
    return root


def test_files_metadata_value_is_a_compact_summary(folder):
    obs = observe(data(folder, "files_metadata"))
    assert obs.value["exists"] is True
    assert obs.value["count"] == 2
    assert obs.value["total_bytes"] == 12
    assert obs.value["newest_modified"] == "2020-09-13T12:26:40.000000Z"
    assert set(obs.value) == {"exists", "count", "total_bytes", "newest_modified", "listing_sha256"}
    assert "2 files, 12 bytes" in obs.summary


def test_files_metadata_is_stable_across_runs_with_no_change(folder):
    first = observe(data(folder, "files_metadata"))
    (folder / "a.csv").read_bytes()
    os.chmod(folder / "a.csv", 0o600)
    assert observe(data(folder, "files_metadata")) == first
    assert observe(data(folder, "files_metadata")) == first


@pytest.mark.parametrize(
    "change",
    ["add", "add_nested", "resize", "same_size_rewrite_touched", "touch", "remove", "rename"],
)
def test_files_metadata_detects(folder, change):
    before = observe(data(folder, "files_metadata"))
    a = folder / "a.csv"
    if change == "add":
        write(folder / "c.csv", b"")
    elif change == "add_nested":
        write(folder / "sub" / "x" / "y" / "z.json", b"{}")
    elif change == "resize":
        write(a, b"a,b\n1,2\n3,4\n")
    elif change == "same_size_rewrite_touched":
        write(a, b"a,b\n9,9\n", mtime_ns=T0 + 1000)
    elif change == "touch":
        os.utime(a, ns=(T0 + 1000, T0 + 1000))
    elif change == "remove":
        a.unlink()
    elif change == "rename":
        a.rename(folder / "a2.csv")
    after = observe(data(folder, "files_metadata"))
    assert after.fingerprint != before.fingerprint
    assert after.value["listing_sha256"] != before.value["listing_sha256"]


def test_files_metadata_ignores_a_content_change_that_keeps_size_and_time(folder):
    # The documented blind spot: metadata only, never file contents.
    before = observe(data(folder, "files_metadata"))
    write(folder / "a.csv", b"a,b\n7,7\n")
    assert observe(data(folder, "files_metadata")) == before


def test_files_metadata_missing_and_empty_folders_are_distinct_observations(tmp_path):
    missing = observe(data(tmp_path / "nope", "files_metadata"))
    (tmp_path / "nope").mkdir()
    empty = observe(data(tmp_path / "nope", "files_metadata"))
    assert missing.value["exists"] is False and missing.value["count"] == 0
    assert empty.value["exists"] is True and empty.value["count"] == 0
    assert missing.fingerprint != empty.fingerprint


def test_files_metadata_on_a_file_is_an_error(folder):
    with pytest.raises(SourceError, match="is a file; files_metadata watches a folder"):
        observe(data(folder / "a.csv", "files_metadata"))


# -- flowproject check -------------------------------------------------------------------------


def test_cli_check_json_local(tmp_path, capsys, folder):
    cfg = tmp_path / "flowproject.toml"
    cfg.write_text('project_name = "p"\n[data]\npath = "watched"\n')
    assert cli.main(["check", "--config", str(cfg), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == observe(data(folder, "files_metadata")).to_dict()


def test_cli_check_text_prints_summary_and_fingerprint(tmp_path, capsys, folder, monkeypatch):
    (tmp_path / "flowproject.toml").write_text(
        'project_name = "p"\n[data]\ntype = "local"\ncheck_mode = "file_size"\npath = "watched/a.csv"\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOWPROJECT_CONFIG", raising=False)
    assert cli.main(["check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["%s: 8 bytes" % (folder / "a.csv"), "fingerprint " + fingerprint({"exists": True, "size": 8})]


def test_cli_check_exits_2_with_one_line_on_a_source_error(tmp_path, capsys, folder):
    cfg = tmp_path / "flowproject.toml"
    cfg.write_text('project_name = "p"\n[data]\ncheck_mode = "file_size"\npath = "watched"\n')
    assert cli.main(["check", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    # Caught by the config check, before the source runs: the line names the file too.
    assert err.count("\n") == 1 and err.startswith("error: %s: data.path: %s is a folder" % (cfg, folder))
