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
import json, time
from metaflow import Flow, namespace
from flowproject.runs import latest_successful_run

namespace(None)

def lookup(branch):
    return lambda: latest_successful_run("SensorFlow", project="bench", branch=branch)

def scan(branch):
    def go():
        for r in Flow("SensorFlow").runs("project:bench", "project_branch:" + branch):
            if r.successful:
                return r
    return go

# Interleaved, so both sides see the same machine load.
calls = {"small": lookup("test.small"), "large": lookup("test.large")}
samples = {k: [] for k in calls}
for _ in range(3):
    for f in calls.values():
        f()
for _ in range(200):
    for name, f in calls.items():
        t = time.perf_counter(); f(); samples[name].append(time.perf_counter() - t)
med = {k: sorted(v)[len(v) // 2] for k, v in samples.items()}
scan_t = []
for _ in range(20):
    t = time.perf_counter(); scan("test.large")(); scan_t.append(time.perf_counter() - t)
counts = {k: len(list(Flow("SensorFlow").runs("project_branch:test." + k))) for k in calls}
print(json.dumps({"median": med, "counts": counts, "scan": sorted(scan_t)[10],
                  "all_runs": len(list(Flow("SensorFlow")))}))
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
    # The same SensorFlow without its card, to show what Metaflow's card subprocess costs.
    nocard = (REPO / "flows" / "sensor.flow.py").read_text().replace('    @card(type="blank", id="sensor")\n', "")
    nocard = nocard.replace('render_sensor_card(current.card["sensor"], decision)', "pass")
    (project / "flows" / "nocard.flow.py").write_text(nocard)
    env = isolated_env(root)

    run(["flows/sensor.flow.py", "run"], env, project)  # first run: nothing to compare with
    run(["flows/bare.flow.py", "run"], env, project)
    run(["flows/nocard.flow.py", "run"], env, project)
    bare, sensor, nocard_t = [], [], []
    for _ in range(loops):
        bare.append(run(["flows/bare.flow.py", "run"], env, project))
        sensor.append(run(["flows/sensor.flow.py", "run"], env, project))
        nocard_t.append(run(["flows/nocard.flow.py", "run"], env, project))
    print("1. run wall time, median of %d alternated runs" % loops)
    print("   bare two-step FlowSpec:   %.2f s" % median(bare))
    print("   SensorFlow, no change:    %.2f s" % median(sensor))
    print("   ratio: %.2fx (target <= 1.25x)" % (median(sensor) / median(bare)))
    print("   SensorFlow without @card: %.2f s  ratio %.2fx (the card is rendered by a"
          % (median(nocard_t), median(nocard_t) / median(bare)))
    print("   separate `card create` process Metaflow starts and waits for)")

    print("\n2. state lookup: creating 3 + 300 real SensorFlow runs in two branches, 2 at a time...")
    run_many(["flows/sensor.flow.py", "--branch", "small", "run"], env, project, 3, jobs=1)
    run_many(["flows/sensor.flow.py", "--branch", "large", "run"], env, project, 300)
    out = subprocess.run([sys.executable, "-c", LOOKUP], env=env, cwd=str(project), capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    res = __import__("json").loads(out.stdout.strip().splitlines()[-1])
    small, large = res["median"]["small"], res["median"]["large"]
    print("   past runs in the branch:   %d  vs  %d   (%d runs of the flow in all)"
          % (res["counts"]["small"], res["counts"]["large"], res["all_runs"]))
    print("   flowproject lookup:        %.2f ms vs %.2f ms   ratio %.2fx (target <= 1.2x; median of 200, interleaved)"
          % (small * 1e3, large * 1e3, large / small))
    print("   plain Client scan, 300:    %.2f ms  (for contrast: lists and filters every run)" % (res["scan"] * 1e3))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
