"""SensorFlow run cost and state-lookup scaling, each as a ratio to a baseline in the same run.

1. A no-change SensorFlow run (local source) vs a bare two-step FlowSpec run, alternated
   in one loop (target <= 1.25x).
2. The state lookup (flowproject.runs.latest_successful_run) with 300 past runs vs 3
   (target <= 1.2x), next to Metaflow's plain newest-first scan for contrast.

Usage: python benchmarks/sensor_run.py [--loops 5]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import textwrap

from _common import REPO, isolated_env, median, run, run_many, tempdir

BARE = """
from metaflow import FlowSpec, step


class BareFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BareFlow()
"""

LOOKUP = """
import json, sys, time
from metaflow import Flow, namespace
from flowproject.runs import latest_successful_run

def timed(fn, n=30):
    fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter(); fn(); samples.append(time.perf_counter() - t)
    return sorted(samples)[n // 2]

def scan():
    namespace(None)
    for r in Flow("SensorFlow").runs("project:bench", "project_branch:test.hist"):
        if r.successful:
            return r

namespace(None)
history = len(list(Flow("SensorFlow").runs("project_branch:test.hist")))
pointer = timed(lambda: latest_successful_run("SensorFlow", project="bench", branch="test.hist"))
print(json.dumps({"pointer": pointer, "scan": timed(scan), "runs": history}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loops", type=int, default=5)
    loops = parser.parse_args().loops

    root = tempdir("bench_sensor_")
    project = root / "proj"
    (project / "flows").mkdir(parents=True)
    (project / "watched").mkdir()
    for i in range(20):
        (project / "watched" / ("f%02d.csv" % i)).write_text("row\n" * (i + 1))
    (project / "flowproject.toml").write_text(
        textwrap.dedent(
            """
            project_name = "bench"
            [data]
            path = "watched"
            [sensor]
            event_name = "bench_changed"
            """
        )
    )
    shutil.copy(REPO / "flows" / "sensor.flow.py", project / "flows" / "sensor.flow.py")
    (project / "flows" / "bare.flow.py").write_text(BARE)
    env = isolated_env(root)

    run(["flows/sensor.flow.py", "run"], env, project)  # first run: nothing to compare with
    run(["flows/bare.flow.py", "run"], env, project)
    bare, sensor = [], []
    for _ in range(loops):
        bare.append(run(["flows/bare.flow.py", "run"], env, project))
        sensor.append(run(["flows/sensor.flow.py", "run"], env, project))
    print("1. run wall time, median of %d alternated runs" % loops)
    print("   bare two-step FlowSpec:   %.2f s" % median(bare))
    print("   SensorFlow, no change:    %.2f s" % median(sensor))
    print("   ratio: %.2fx (target <= 1.25x)" % (median(sensor) / median(bare)))

    def lookup():
        out = subprocess.run([sys.executable, "-c", LOOKUP], env=env, cwd=str(project), capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(out.stderr[-3000:])
        return __import__("json").loads(out.stdout.strip().splitlines()[-1])

    # The lookup's history: its own project branch, 3 runs, then 300.
    hist = ["flows/sensor.flow.py", "--branch", "hist", "run"]
    run_many(hist, env, project, 3, jobs=1)
    small = lookup()
    missing = 300 - small["runs"]
    print("\n2. state lookup (creating %d more real SensorFlow runs, 2 at a time)..." % missing)
    run_many(hist, env, project, missing)
    large = lookup()
    print("   past runs:                 %6d  %6d" % (small["runs"], large["runs"]))
    print("   flowproject lookup (ms):   %6.2f  %6.2f   ratio %.2fx (target <= 1.2x)"
          % (small["pointer"] * 1e3, large["pointer"] * 1e3, large["pointer"] / small["pointer"]))
    print("   plain Client scan (ms):    %6.2f  %6.2f   ratio %.2fx (for contrast)"
          % (small["scan"] * 1e3, large["scan"] * 1e3, large["scan"] / small["scan"]))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
