"""`flowproject lineage --down` with 300 runs in the project as a ratio to 10 (target <= 1.3x).

Two projects, each in its own datastore and local metadata, built from real runs of two
tiny flows: a producer run P, two consumers that read P (get_artifact), then producer and
consumer runs that read newer producers, to 10 runs in one project and 300 in the other.
The answer is the same in both (P -> two consumers); only the number of runs around it
differs. Timed, alternating the two sides:

1. ``graph(P, up=False)`` in a warm process (median of 20 per process, 6 processes a side);
2. the whole ``flowproject lineage P --down`` command (median of 10 a side);
3. for contrast, once each, the fallback with P's own record deleted: the project's runs
   are read instead of the index (what the index saves).

Usage: python benchmarks/lineage.py [--runs 300]
(building the 310 runs takes most of its ~25 minutes on a shared 2-core machine)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

from _common import baseflow_file, isolated_env, median, run, run_many, tempdir

PRODUCER = baseflow_file("ProducerFlow", "self.model = 1")
CONSUMER = baseflow_file("ConsumerFlow", 'self.got = self.get_artifact("ProducerFlow", "model")')

TIMED = """
import json, time
from flowproject.getters.lineage_graph import graph
root = %r
g = graph(root, up=False)
samples = []
for _ in range(20):
    t = time.perf_counter(); g = graph(root, up=False); samples.append(time.perf_counter() - t)
print(json.dumps({"seconds": sorted(samples)[10], "edges": len(g["edges"])}))
"""


def build(root: Path, total: int) -> Tuple[Dict[str, str], Path, str]:
    """A project with ``total`` real runs; returns (env, project folder, P's pathspec)."""
    project = root / "proj"
    (project / "flows").mkdir(parents=True)
    (project / "flowproject.toml").write_text('project_name = "bench"\n')
    (project / "flows" / "producer.flow.py").write_text(PRODUCER)
    (project / "flows" / "consumer.flow.py").write_text(CONSUMER)
    env = isolated_env(root)
    run(["flows/producer.flow.py", "run", "--run-id-file", str(root / "p.id")], env, project)
    p = "ProducerFlow/%s" % (root / "p.id").read_text().strip()
    run_many(["flows/consumer.flow.py", "run"], env, project, 2)
    # The rest: one producer run, then consumers of it, so none of them reads P.
    rest = total - 3
    run(["flows/producer.flow.py", "run"], env, project)
    producers = max(1, rest // 10)
    run_many(["flows/producer.flow.py", "run"], env, project, producers - 1)
    run_many(["flows/consumer.flow.py", "run"], env, project, rest - producers)
    return env, project, p


def timed_graph(env: Dict[str, str], project: Path, p: str) -> Tuple[float, int]:
    proc = subprocess.run([sys.executable, "-c", TIMED % p], env=env, cwd=str(project), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    return got["seconds"], got["edges"]


def count_runs(env: Dict[str, str], project: Path) -> int:
    code = "from metaflow import Metaflow, namespace\nnamespace(None)\nprint(sum(len(list(f)) for f in Metaflow()))"
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(project), capture_output=True, text=True)
    return int(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300, help="runs in the large project (default: 300)")
    args = parser.parse_args()
    sides = {}
    for name, total in (("small", 10), ("large", args.runs)):
        sides[name] = build(tempdir("bench_lineage_%s_" % name), total)
        print("%s project: %d runs" % (name, count_runs(*sides[name][:2])), flush=True)

    graph_s: Dict[str, List[float]] = {"small": [], "large": []}
    for _ in range(6):
        for name in ("small", "large"):
            seconds, edges = timed_graph(*sides[name])
            assert edges == 2, "expected P -> two consumers, got %d edges" % edges
            graph_s[name].append(seconds)
    print("\n1. graph(P, up=False) in a warm process (median of 6 processes x 20 calls, alternated)")
    small, large = median(graph_s["small"]), median(graph_s["large"])
    print("   10 runs:  %.2f ms" % (small * 1e3))
    print("   %d runs: %.2f ms" % (args.runs, large * 1e3))
    print("   ratio: %.2fx (target <= 1.3x)" % (large / small))

    cli_s: Dict[str, List[float]] = {"small": [], "large": []}
    for _ in range(10):
        for name in ("small", "large"):
            env, project, p = sides[name]
            cli_s[name].append(run(["-m", "flowproject.cli", "lineage", p, "--down"], env, project))
    print("\n2. `flowproject lineage P --down`, the whole command (median of 10, alternated)")
    small, large = median(cli_s["small"]), median(cli_s["large"])
    print("   10 runs:  %.3f s" % small)
    print("   %d runs: %.3f s" % (args.runs, large))
    print("   ratio: %.2fx (target <= 1.3x)" % (large / small))

    print("\n3. for contrast, P's own record deleted: the fallback reads the project's runs (once each)")
    fallback = {}
    for name in ("small", "large"):
        env, project, p = sides[name]
        flow, run_id = p.split("/")
        Path(
            env["METAFLOW_DATASTORE_SYSROOT_LOCAL"], ".metaflow", flow, "_flowproject", "lineage", run_id, "run.json"
        ).unlink()
        fallback[name] = run(["-m", "flowproject.cli", "lineage", p, "--down"], env, project)
    print("   10 runs:  %.3f s" % fallback["small"])
    print("   %d runs: %.3f s" % (args.runs, fallback["large"]))
    print("   ratio: %.2fx" % (fallback["large"] / fallback["small"]))


if __name__ == "__main__":
    main()
