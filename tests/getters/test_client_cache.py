"""Metaflow's Client cache: a private folder (mode 0700, the user's own) for every Client read.

Driven from outside: a real run, readers in fresh processes (get_artifact, `flowproject sensor
history`), the cache folder prepared beforehand as another user or a careless setup would.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from conftest import sensor_project, write_project

FLOW = """\
from metaflow import step
from flowproject import BaseFlow


class CacheFlow(BaseFlow):
    @step
    def start(self):
        self.x = 41
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CacheFlow()
"""
READ = "from flowproject import get_artifact; print(get_artifact('CacheFlow', 'x', branch='any'))"
HISTORY = ["-m", "flowproject.cli", "sensor", "history", "--branch", "prod"]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _refused(proc, *words: str) -> str:
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("warning:")]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_client_reads_use_a_private_cache_and_refuse_unsafe_ones(sandbox, tmp_path):
    project = write_project(tmp_path / "p", 'project_name = "cachetest"\n', {"cache.flow.py": FLOW})
    sandbox.run_ok(["flows/cache.flow.py", "run"], cwd=project)
    # As a user who never chose a cache folder: Metaflow's default would be /tmp/metaflow_client.
    del sandbox.env["METAFLOW_CLIENT_CACHE_PATH"]
    xdg = tmp_path / "xdg"
    sandbox.env["XDG_CACHE_HOME"] = str(xdg)
    cache = xdg / "flowproject" / "metaflow_client"

    assert sandbox.run_ok(["-c", READ], cwd=project).stdout.split()[-1] == "41"
    assert _mode(cache) == 0o700
    blobs = [p for p in cache.rglob("*") if p.is_file()]
    assert blobs, "the artifact was not cached in the private folder"

    # Naming Metaflow's shared default explicitly still gets the private folder.
    proc = sandbox.run_ok(["-c", READ], cwd=project, env={"METAFLOW_CLIENT_CACHE_PATH": "/tmp/metaflow_client"})
    assert proc.stdout.split()[-1] == "41"

    # Metaflow reads the setting at import and its first artifact read fixes the folder for the
    # process: a folder chosen later still gets every flowproject read (the cache is rebuilt).
    first, later = tmp_path / "first", tmp_path / "later"
    rebuilt = (
        "import os\nfrom metaflow import Flow, namespace\nnamespace(None)\n"
        "assert Flow('CacheFlow').latest_run.data.x == 41\n"
        "os.environ['METAFLOW_CLIENT_CACHE_PATH'] = %r\n%s\n"
        "from metaflow.client import core\nprint(core.filecache._cache_dir)\n" % (str(later), READ)
    )
    proc = sandbox.run_ok(["-c", rebuilt], cwd=project, env={"METAFLOW_CLIENT_CACHE_PATH": str(first)})
    assert proc.stdout.split()[-2:] == ["41", str(later)]
    assert any(p.is_file() for p in first.rglob("*")) and any(p.is_file() for p in later.rglob("*"))
    assert _mode(later) == 0o700

    # Readable by others but never writable by them: nothing can have been planted; tightened.
    cache.chmod(0o755)
    sandbox.run_ok(HISTORY, cwd=project)
    assert _mode(cache) == 0o700

    # Writable by others: refused, by the getter and by the CLI, with one line naming the folder.
    cache.chmod(0o777)
    _refused(sandbox.run(HISTORY, cwd=project), str(cache), "writable by other users")
    proc = sandbox.run(["-c", READ], cwd=project)
    assert proc.returncode != 0 and "writable by other users" in proc.stderr and "41" not in proc.stdout
    assert _mode(cache) == 0o777  # left as found: the user decides

    # A folder of the user's choosing gets the same checks, and is created private.
    chosen = tmp_path / "chosen"
    env = {"METAFLOW_CLIENT_CACHE_PATH": str(chosen)}
    assert sandbox.run_ok(["-c", READ], cwd=project, env=env).stdout.split()[-1] == "41"
    assert _mode(chosen) == 0o700
    chosen.chmod(0o770)
    _refused(sandbox.run(HISTORY, cwd=project, env=env), "METAFLOW_CLIENT_CACHE_PATH", str(chosen))


@pytest.mark.skipif(os.geteuid() != 0, reason="creating another user's folder needs root (CI runs as root)")
def test_a_cache_folder_another_user_created_first_is_refused(sandbox, tmp_path):
    project = write_project(tmp_path / "p", 'project_name = "cachetest"\n', {})
    xdg = tmp_path / "xdg"
    cache = xdg / "flowproject" / "metaflow_client"
    cache.mkdir(parents=True, mode=0o700)
    os.chown(cache, 65534, 65534)  # nobody, who got there first with a private-looking folder
    del sandbox.env["METAFLOW_CLIENT_CACHE_PATH"]
    sandbox.env["XDG_CACHE_HOME"] = str(xdg)
    _refused(sandbox.run(HISTORY, cwd=project), str(cache), "belongs to another user (uid 65534)")


SENSOR_TOML = """
project_name = "cachesensor"
[data]
type = "local"
path = "watched"
"""


def test_sensor_ticks_read_their_state_through_the_private_cache(sandbox, tmp_path):
    project = sensor_project(tmp_path / "proj", SENSOR_TOML)
    del sandbox.env["METAFLOW_CLIENT_CACHE_PATH"]
    xdg = tmp_path / "xdg"
    sandbox.env["XDG_CACHE_HOME"] = str(xdg)
    cache = xdg / "flowproject" / "metaflow_client"
    tick = ["flows/sensor.flow.py", "--branch", "cache", "run"]

    sandbox.run_ok(tick, cwd=project)
    sandbox.run_ok(tick, cwd=project)  # reads the first tick's fingerprint and value: blobs
    assert _mode(cache) == 0o700 and any(p.is_file() for p in cache.rglob("*"))
    preview = sandbox.run_ok(["-m", "flowproject.cli", "sensor", "preview", "--branch", "test.cache"], cwd=project)
    assert "no change" in preview.stdout.lower(), preview.stdout

    cache.chmod(0o777)
    proc = sandbox.run(tick, cwd=project)
    assert proc.returncode != 0 and "writable by other users" in proc.stdout + proc.stderr
