"""SensorFlow tick cost and its scaling with history, each as a ratio to a baseline in the same run.

1. A no-change SensorFlow tick (local source, default config: no card) vs a bare two-step
   FlowSpec run, alternated in one loop (target <= 1.15x); a two-step BaseFlow, to tell
   what any flowproject flow costs from the sensor's own work; the same tick with
   `[sensor] card = true` for contrast.
2. A no-change tick in a branch with 150 past runs vs one with 3, alternated
   (target <= 1.2x), and the state lookup (flowproject.branch_state) alone, next to
   Metaflow's plain newest-first scan for contrast.

`--write-readme` puts the figures into README.md (between the `sensor_run figures`
markers), so the README quotes this benchmark's last run instead of typed-in numbers.

Usage: python benchmarks/sensor_run.py [--loops 9] [--history 150] [--write-readme]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import re
import shutil
import subprocess
import sys
import textwrap
from typing import Dict, List

from _common import REPO, baseflow_file, compile_bytecode, isolated_env, median, run, run_many, run_timed, tempdir

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
from flowproject import branch_state

namespace(None)

def lookup(branch):
    return lambda: branch_state("SensorFlow", "bench", branch)

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


README = REPO / "README.md"
BEGIN = "<!-- sensor_run figures: written by `python benchmarks/sensor_run.py --write-readme` -->"
END = "<!-- end of sensor_run figures -->"
FIGURES = (
    "- a tick that saw nothing new: **{tick:.2f}x** the wall time of a bare two-step FlowSpec"
    " ({tick_s:.2f} s vs {bare_s:.2f} s) and {tick_cpu:.2f}x its CPU time; a two-step BaseFlow"
    " {baseflow:.2f}x; with `[sensor] card = true` {card:.2f}x\n"
    "- a tick with {history} past runs in its branch: {history_ratio:.2f}x one with 3"
    " (the state lookup {lookup_ratio:.2f}x, {lookup_ms:.1f} ms)\n"
    "- measured {date} on Python {python}, Metaflow {metaflow}; median of {loops} rounds, sides rotated"
)


def readme_block(figures: Dict[str, object]) -> str:
    """The README lines for ``figures`` (the names in FIGURES), markers included."""
    return "%s\n%s\n%s" % (BEGIN, FIGURES.format(**figures), END)


def write_readme(figures: Dict[str, object]) -> None:
    text = README.read_text()
    found = re.search(re.escape(BEGIN) + ".*?" + re.escape(END), text, flags=re.S)
    if found is None:
        raise SystemExit("README.md has no sensor_run figures block (%s ... %s)" % (BEGIN, END))
    README.write_text(text[: found.start()] + readme_block(figures) + text[found.end() :])
    print("\nwrote the figures into %s" % README)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loops", type=int, default=9)
    parser.add_argument("--history", type=int, default=150)
    parser.add_argument("--write-readme", action="store_true", help="put the figures into README.md")
    args = parser.parse_args()
    loops, history = args.loops, args.history
    compile_bytecode()

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
    (project / "flows" / "base.flow.py").write_text(baseflow_file("BaseTwoFlow"))
    # The same SensorFlow with `[sensor] card = true`, in its own project, to show what
    # Metaflow's card process costs.
    carded = root / "carded"
    shutil.copytree(project, carded)
    (carded / "flows" / "bare.flow.py").unlink()
    (carded / "flows" / "base.flow.py").unlink()
    toml = (carded / "flowproject.toml").read_text().replace('"bench"', '"benchcard"')
    (carded / "flowproject.toml").write_text(toml + "card = true\n")
    env = isolated_env(root)

    run(["flows/sensor.flow.py", "run"], env, project)  # first run: nothing to compare with
    run(["flows/bare.flow.py", "run"], env, project)
    run(["flows/base.flow.py", "run"], env, project)
    run(["flows/sensor.flow.py", "run"], env, carded)
    bare, base, sensor, card_t = [], [], [], []
    cpu: Dict[str, List[float]] = {"bare": [], "base": [], "sensor": [], "card": []}
    sides = [(bare, "bare", "bare.flow.py", project), (sensor, "sensor", "sensor.flow.py", project)]
    sides += [(base, "base", "base.flow.py", project), (card_t, "card", "sensor.flow.py", carded)]
    for i in range(loops):
        # Rotated, so that no side always runs right after the heavy card tick.
        for times, name, flow, where in sides[i % len(sides) :] + sides[: i % len(sides)]:
            wall, used = run_timed(["flows/" + flow, "run"], env, where)
            times.append(wall)
            cpu[name].append(used)
    ratio_cpu = {k: median(v) / median(cpu["bare"]) for k, v in cpu.items()}
    print("1. run wall time (and CPU: user + sys of the run and its steps), median of %d rounds, sides rotated" % loops)
    print("   bare two-step FlowSpec:   %.2f s" % median(bare))
    print(
        "   two-step BaseFlow:        %.2f s  ratio %.2fx (CPU %.2fx)"
        % (median(base), median(base) / median(bare), ratio_cpu["base"])
    )
    print("   SensorFlow, no change:    %.2f s" % median(sensor))
    print("   ratio: %.2fx, CPU %.2fx (target <= 1.15x)" % (median(sensor) / median(bare), ratio_cpu["sensor"]))
    print(
        "   same with [sensor] card:  %.2f s  ratio %.2fx (the card is rendered by a"
        % (median(card_t), median(card_t) / median(bare))
    )
    print("   separate `card create` process Metaflow starts and waits for)")

    print("\n2. history: creating 3 + %d real SensorFlow runs in two branches, one at a time..." % history)
    run_many(["flows/sensor.flow.py", "--branch", "small", "run"], env, project, 3, jobs=1)
    # One at a time: overlapping ticks of one branch would yield to each other's lease.
    run_many(["flows/sensor.flow.py", "--branch", "large", "run"], env, project, history, jobs=1)
    small_t, large_t = [], []
    for _ in range(loops):
        small_t.append(run(["flows/sensor.flow.py", "--branch", "small", "run"], env, project))
        large_t.append(run(["flows/sensor.flow.py", "--branch", "large", "run"], env, project))
    print(
        "   no-change tick, %d vs %d past runs: %.2f s vs %.2f s   ratio %.2fx (target <= 1.2x; median of %d, alternated)"
        % (3, history, median(small_t), median(large_t), median(large_t) / median(small_t), loops)
    )
    out = subprocess.run([sys.executable, "-c", LOOKUP], env=env, cwd=str(project), capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    res = __import__("json").loads(out.stdout.strip().splitlines()[-1])
    small, large = res["median"]["small"], res["median"]["large"]
    print(
        "   past runs in the branch:   %d  vs  %d   (%d runs of the flow in all)"
        % (res["counts"]["small"], res["counts"]["large"], res["all_runs"])
    )
    print(
        "   branch_state lookup:       %.2f ms vs %.2f ms   ratio %.2fx (median of 200, interleaved)"
        % (small * 1e3, large * 1e3, large / small)
    )
    print("   plain Client scan, large:  %.2f ms  (for contrast: lists and filters every run)" % (res["scan"] * 1e3))
    shutil.rmtree(root, ignore_errors=True)
    if args.write_readme:
        import metaflow

        write_readme(
            {
                "tick": median(sensor) / median(bare),
                "tick_s": median(sensor),
                "tick_cpu": ratio_cpu["sensor"],
                "bare_s": median(bare),
                "baseflow": median(base) / median(bare),
                "card": median(card_t) / median(bare),
                "history": history,
                "history_ratio": median(large_t) / median(small_t),
                "lookup_ratio": large / small,
                "lookup_ms": large * 1e3,
                "date": datetime.date.today().isoformat(),
                "python": platform.python_version(),
                "metaflow": metaflow.__version__,
                "loops": loops,
            }
        )


if __name__ == "__main__":
    main()
