"""How the local ``files_metadata`` observation scales, against ``find`` on the same tree.

Builds trees of 10,000 and 100,000 files (100 files per folder, two folder levels) in a
temp folder, then prints:

- wall time of ``observe()`` as a ratio to ``find DIR -type f -printf '%p %s %T@\\n'``
  (output to /dev/null), measured alternately in the same run, median of several rounds
  (target <= 2x); and the same for CPU time, which a busy machine disturbs less;
- peak memory of a fresh observing process at 10,000 and at 100,000 files: tracemalloc's
  peak during ``observe()`` and the process's maxrss (target: flat, ratio near 1x).

Usage: ``python benchmarks/local_source.py [--small 10000] [--big 100000] [--rounds 5]``.
Figures only; nothing is asserted. Takes under a minute on an idle machine, most of it
spent creating the files.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PER_FOLDER = 100


def _data(path: str) -> dict:
    return {"type": "local", "check_mode": "files_metadata", "path": path}


def build(root: str, files: int) -> None:
    """``files`` small files, 100 per folder, folders grouped ten to a parent."""
    for i in range(files):
        folder = os.path.join(root, "d%03d" % (i // (PER_FOLDER * 10)), "e%02d" % (i // PER_FOLDER % 10))
        if i % PER_FOLDER == 0:
            os.makedirs(folder)
        fd = os.open(os.path.join(folder, "part-%03d.csv" % (i % PER_FOLDER)), os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"x" * (i % 97))
        os.close(fd)


def measure_memory(path: str) -> None:
    """Child mode: observe once in this fresh process and print its memory figures."""
    import tracemalloc

    sys.path.insert(0, str(REPO))
    from flowproject.sources import observe

    warm = tempfile.mkdtemp()
    observe(_data(warm))  # imports and first-call caches stay outside the measurement
    os.rmdir(warm)
    tracemalloc.start()
    obs = observe(_data(path))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        json.dumps(
            {
                "count": obs.value["count"],
                "tracemalloc_peak": peak,
                "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def time_against_find(path: str, rounds: int) -> None:
    sys.path.insert(0, str(REPO))
    from flowproject.sources import observe

    def find() -> float:
        before = _cpu(resource.RUSAGE_CHILDREN)
        cmd = ["find", path, "-type", "f", "-printf", "%p %s %T@\n"]
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        return _cpu(resource.RUSAGE_CHILDREN) - before

    def observed() -> float:
        before = _cpu(resource.RUSAGE_SELF)
        observe(_data(path))
        return _cpu(resource.RUSAGE_SELF) - before

    find(), observed()  # both read the tree once: the page cache is warm for either side
    wall: dict = {"find": [], "observe": []}
    cpu: dict = {"find": [], "observe": []}
    for i in range(rounds):
        # Alternate which side goes first, so neither always runs on a cache the other warmed.
        order = (("find", find), ("observe", observed)) if i % 2 == 0 else (("observe", observed), ("find", find))
        for name, fn in order:
            t = time.perf_counter()
            cpu[name].append(fn())
            wall[name].append(time.perf_counter() - t)
    count = observe(_data(path)).value["count"]
    for label, times in (("wall time", wall), ("cpu time", cpu)):
        f, o = statistics.median(times["find"]), statistics.median(times["observe"])
        print(
            "%s, %d files (median of %d): find %.3f s, observe %.3f s, ratio %.2fx (target <= 2x)"
            % (label, count, rounds, f, o, o / f)
        )
    print(
        "  wall per round: find %s | observe %s"
        % (" ".join("%.3f" % t for t in wall["find"]), " ".join("%.3f" % t for t in wall["observe"]))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure_memory(args.measure)
        return

    base = tempfile.mkdtemp(prefix="fp-bench-local-")
    try:
        trees = {"small": os.path.join(base, "small"), "big": os.path.join(base, "big")}
        t0 = time.perf_counter()
        build(trees["small"], args.small)
        build(trees["big"], args.big)
        print("created %d + %d files in %.1f s" % (args.small, args.big, time.perf_counter() - t0))

        time_against_find(trees["small"], args.rounds)
        time_against_find(trees["big"], args.rounds)

        figures = {}
        for label, path in trees.items():
            child = subprocess.run(
                [sys.executable, __file__, "--measure", path], capture_output=True, text=True, check=True
            )
            figures[label] = json.loads(child.stdout.strip().splitlines()[-1])
        s, g = figures["small"], figures["big"]
        print("peak memory of a fresh observing process:")
        for f in (s, g):
            print(
                "  %6d files: maxrss %6.1f MB, tracemalloc peak during observe %6.3f MB"
                % (f["count"], f["maxrss_kb"] / 1024, f["tracemalloc_peak"] / 2**20)
            )
        print(
            "  ratio %d/%d: maxrss %.3fx, tracemalloc peak %.3fx (target: flat, near 1x)"
            % (g["count"], s["count"], g["maxrss_kb"] / s["maxrss_kb"], g["tracemalloc_peak"] / s["tracemalloc_peak"])
        )
    finally:
        shutil.rmtree(base)


if __name__ == "__main__":
    main()
