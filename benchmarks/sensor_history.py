"""`flowproject sensor history --json` as a branch's history grows, with baselines in the same run.

Real SensorFlow ticks (local source, local datastore) in one branch; every 10th tick sees a
new file. Then, alternating sides, 5 samples each of:

- `flowproject sensor history --json` (20 ticks shown) with SMALL and with LARGE past ticks
  (target: the ratio stays well under the history ratio, i.e. cost does not follow history);
- the baseline: a process that only lists the branch's runs (`Flow.runs(tags)`), which any
  history must do once; history minus that is the cost of reading the 20 shown runs.

Usage: python benchmarks/sensor_history.py [LARGE]   (default 300; SMALL is 20)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

from _common import REPO, isolated_env, median, run, run_many, tempdir

TOML = """
project_name = "bench_hist"
[data]
type = "local"
path = "watched"
[sensor]
event_name = "changed"
"""

LIST_ONLY = """
from metaflow import Flow, namespace
namespace(None)
print(sum(1 for _ in Flow("SensorFlow").runs("project:bench_hist", "project_branch:test.hist")))
"""


def make_project(root):
    (root / "flows").mkdir(parents=True)
    (root / "flowproject.toml").write_text(TOML)
    shutil.copy(REPO / "flows" / "sensor.flow.py", root / "flows" / "sensor.flow.py")
    (root / "watched").mkdir()
    (root / "watched" / "0.csv").write_text("0\n")


def grow(root, env, total, already):
    tick = ["flows/sensor.flow.py", "--branch", "hist", "run"]
    done = already
    while done < total:
        (root / "watched" / ("%d.csv" % done)).write_text("%d\n" % done)
        batch = min(10, total - done)
        run_many(tick, env, root, batch, jobs=2)
        done += batch
    return done


def time_cmd(args, env, cwd):
    return run(args, env, cwd)


def main():
    large = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    small = 20
    root = tempdir("bench-history-")
    proj = root / "proj"
    make_project(proj)
    env = isolated_env(root)
    history = ["-m", "flowproject.cli", "sensor", "history", "--branch", "test.hist", "--json"]
    listing = ["-c", LIST_ONLY]
    t0 = time.perf_counter()
    n = grow(proj, env, small, 0)
    print("made %d ticks in %.0fs" % (n, time.perf_counter() - t0), flush=True)
    small_hist = [time_cmd(history, env, proj) for _ in range(5)]
    t0 = time.perf_counter()
    n = grow(proj, env, large, n)
    print("made %d ticks in %.0fs" % (n, time.perf_counter() - t0), flush=True)
    large_hist, large_list = [], []
    for _ in range(5):  # alternate the two sides
        large_hist.append(time_cmd(history, env, proj))
        large_list.append(time_cmd(listing, env, proj))
    out = subprocess.run([sys.executable, *history], env=env, cwd=str(proj), capture_output=True, text=True).stdout
    shown = out.count('"run":')
    print("sensor history --json, %d shown of %d ticks: median %.2fs" % (shown, small, median(small_hist)))
    print("sensor history --json, %d shown of %d ticks: median %.2fs" % (shown, large, median(large_hist)))
    print("baseline: list the branch's %d runs only: median %.2fs" % (large, median(large_list)))
    print(
        "ratio history(%d)/history(%d) = %.2fx for %.0fx the ticks"
        % (large, small, median(large_hist) / median(small_hist), large / small)
    )
    print("ratio history(%d)/list-only(%d) = %.2fx" % (large, large, median(large_hist) / median(large_list)))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
