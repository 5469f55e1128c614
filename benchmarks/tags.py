"""Finding the run tagged "champion" as history grows: 150 past runs as a ratio to 3.

Two identical flows in one local datastore, SmallFlow with 3 runs and LargeFlow with 150,
each with its *oldest* run tagged "champion" by `flowproject tag --move` (the worst case
for a lookup that walks history newest first). One warm process then times, alternating
small and large, `latest_successful_run(flow, tag="champion")` (the index) and, as the
baseline it replaces, Metaflow's own `Flow(name).runs(tag)` walk to the first successful
run. Median and fastest of 200 rounds each (single lookups take milliseconds: on a
shared machine the slow tail is other processes, the median and minimum are the cost).

Usage: python benchmarks/tags.py [LARGE_RUNS [ROOT]]   (default 150; ROOT: time again the
runs an earlier invocation left in that folder, printed at the end)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from _common import baseflow_file, isolated_env, run, run_many, tempdir

TIMED = """
import json, statistics, time
from metaflow import Flow, namespace
from flowproject import latest_successful_run

def index(flow):
    return latest_successful_run(flow, tag="champion", branch="any").id

def listing(flow):
    namespace(None)
    return next(r for r in Flow(flow).runs("champion") if r.successful).id

samples = {(kind, flow): [] for kind in ("index", "listing") for flow in ("SmallFlow", "LargeFlow")}
found = {}
for flow in ("SmallFlow", "LargeFlow"):  # warm up, and both ways agree
    found[flow] = index(flow)
    assert listing(flow) == found[flow], flow
for _ in range(200):
    for kind, fn in (("index", index), ("listing", listing)):
        for flow in ("SmallFlow", "LargeFlow"):
            t = time.perf_counter(); fn(flow); samples[(kind, flow)].append(time.perf_counter() - t)
print(json.dumps({"%s/%s" % k: [statistics.median(v), min(v)] for k, v in samples.items()}))
"""


def main() -> None:
    large_runs = int(sys.argv[1]) if len(sys.argv) > 1 else 150
    reuse = len(sys.argv) > 2
    root = Path(sys.argv[2]) if reuse else tempdir("bench_tags_")
    project = root / "proj"
    env = isolated_env(root)
    if not reuse:
        _make_history(project, env, large_runs)

    proc = subprocess.run([sys.executable, "-c", TIMED], env=env, cwd=str(project), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    print("Newest successful run tagged 'champion' (the oldest run), 200 rounds, alternating")
    for kind, label in (("index", "flowproject (tag index)"), ("listing", "Flow.runs(tag) walk   ")):
        (small, small_min), (large, large_min) = m["%s/SmallFlow" % kind], m["%s/LargeFlow" % kind]
        print(
            "  %s   median: 3 runs %6.2f ms, %d runs %6.2f ms, ratio %.2fx   fastest: ratio %.2fx"
            % (label, small * 1e3, large_runs, large * 1e3, large / small, large_min / small_min)
        )
    print("  target: the index's median ratio stays near 1x (<= 1.2x)")
    print("  (runs kept in %s: python benchmarks/tags.py %d %s times them again)" % (root, large_runs, root))


def _make_history(project: Path, env, large_runs: int) -> None:
    (project / "flows").mkdir(parents=True)
    (project / "flowproject.toml").write_text('project_name = "bench"\n')
    for name in ("SmallFlow", "LargeFlow"):
        (project / "flows" / ("%s.flow.py" % name.lower())).write_text(baseflow_file(name, "self.value = 1"))
    for name, count in (("SmallFlow", 3), ("LargeFlow", large_runs)):
        flow = ["flows/%s.flow.py" % name.lower(), "run"]
        run(flow, env, project)  # the oldest run: tagged below
        first = _first_run_id(name, env, project)
        run_many(flow, env, project, count - 1)
        proc = subprocess.run(
            [sys.executable, "-m", "flowproject.cli", "tag", "%s/%s" % (name, first), "champion", "--move"],
            env=env,
            cwd=str(project),
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)


def _first_run_id(name: str, env, project) -> str:
    code = "from metaflow import Flow, namespace\nnamespace(None)\nprint(Flow(%r).latest_run.id)" % name
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(project), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return proc.stdout.strip().splitlines()[-1]


if __name__ == "__main__":
    main()
