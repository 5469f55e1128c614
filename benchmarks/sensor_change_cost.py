"""What item-level sensors cost change mode: a no-change ``emit = "change"`` tick, now and before.

Three sides, alternated in every round so that each sees the same machine load:

- a bare two-step FlowSpec run (the issue's yardstick: target <= 1.15x);
- a two-step BaseFlow run (what any flowproject flow costs Metaflow: its mutators'
  modules make ``run`` build the code package's module list, a scan of every installed
  distribution), to tell the sensor's own work from that;
- a no-change SensorFlow tick (local source, 20 files, default config) of this checkout;
- the same tick of the code before items landed (``--before``, default the main commit
  before the items merge), exported with ``git archive`` and put first on PYTHONPATH.

Prints the medians of wall time and of CPU time (user + sys of the run and its step
processes, which a loaded shared machine disturbs less) and the ratios to bare and
now/before (target <= 1.15x).
Usage: python benchmarks/sensor_change_cost.py [--rounds 7] [--before REV]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import textwrap
from io import BytesIO
from pathlib import Path

from _common import REPO, compile_bytecode, isolated_env, median, run, run_timed, tempdir
from sensor_run import BARE

BASEFLOW = BARE.replace(
    "from metaflow import FlowSpec, step", "from metaflow import step\nfrom flowproject import BaseFlow"
)
BASEFLOW = BASEFLOW.replace("BareFlow(FlowSpec)", "BaseTwoFlow(BaseFlow)").replace("BareFlow()", "BaseTwoFlow()")

# The first parent of "Merge branch 'items'": main as it was just before items landed.
BEFORE_ITEMS = "bb1e8ec^1"

TOML = """
project_name = "%s"
[data]
path = "watched"
[sensor]
event_name = "bench_changed"
"""


def export(rev: str, dest: Path) -> None:
    """``flowproject/`` and ``flows/`` of ``rev`` into ``dest`` (the repository is not touched)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", rev, "flowproject", "flows"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")


def project(root: Path, name: str, flows: Path) -> Path:
    where = root / name
    (where / "flows").mkdir(parents=True)
    (where / "watched").mkdir()
    for i in range(20):
        (where / "watched" / ("f%02d.csv" % i)).write_text("row\n" * (i + 1))
    (where / "flowproject.toml").write_text(textwrap.dedent(TOML % name))
    (where / "flows" / "sensor.flow.py").write_text((flows / "sensor.flow.py").read_text())
    (where / "flows" / "bare.flow.py").write_text(BARE)
    (where / "flows" / "base.flow.py").write_text(BASEFLOW)
    return where


def imported_from(env: dict, cwd: Path) -> str:
    code = "import flowproject, os; print(os.path.dirname(flowproject.__file__))"
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=str(cwd), capture_output=True, text=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--before", default=BEFORE_ITEMS)
    args = parser.parse_args()

    root = tempdir("bench_change_cost_")
    old_code = root / "code_before"
    export(args.before, old_code)
    compile_bytecode(REPO / "flowproject", old_code / "flowproject")  # both sides load compiled
    env = isolated_env(root)
    old_env = dict(env, PYTHONPATH=str(old_code))
    now = project(root, "now", REPO / "flows")
    before = project(root, "before", old_code / "flows")
    if imported_from(old_env, before).strip() != str(old_code / "flowproject"):
        raise SystemExit("the old flowproject is not the one imported; check PYTHONPATH")

    sides = {
        "bare": (["flows/bare.flow.py", "run"], env, now),
        "baseflow": (["flows/base.flow.py", "run"], env, now),
        "now": (["flows/sensor.flow.py", "run"], env, now),
        "before": (["flows/sensor.flow.py", "run"], old_env, before),
    }
    for argv, side_env, cwd in sides.values():
        run(argv, side_env, cwd)  # first ticks publish-or-record; warm caches too
    wall: dict = {name: [] for name in sides}
    cpu: dict = {name: [] for name in sides}
    order = list(sides)
    for r in range(args.rounds):
        # Rotate who goes first, so no side always runs right after the same neighbour.
        for name in order[r % len(order) :] + order[: r % len(order)]:
            w, c = run_timed(*sides[name])
            wall[name].append(w)
            cpu[name].append(c)
    rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", args.before], capture_output=True, text=True)
    print("no-change change-mode tick, median of %d rounds, sides rotated each round" % args.rounds)
    labels = {
        "bare": "bare two-step FlowSpec",
        "baseflow": "two-step BaseFlow",
        "now": "SensorFlow tick, this checkout",
        "before": "SensorFlow tick, before items",
    }
    for kind, values in (("wall", wall), ("cpu", cpu)):
        m = {name: median(v) for name, v in values.items()}
        print("  %s time" % kind)
        for name, label in labels.items():
            print("   %-31s %5.2f s  %.2fx bare" % (label + ":", m[name], m[name] / m["bare"]))
        print(
            "   this checkout / before items:   %.2fx (target <= 1.15x); tick / BaseFlow %.2fx"
            % (m["now"] / m["before"], m["now"] / m["baseflow"])
        )
    print("  before items = %s (%s)" % (args.before, rev.stdout.strip()))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
