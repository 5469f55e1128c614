"""A no-change items tick's observation against the bare change-mode listing, same tree.

Builds local trees of 10,000 and 100,000 files (100 per folder), then prints, per size, the
median wall time (5 rounds, sides alternated) of the items path (listing + manifest digest,
compared with the stored digest: nothing read or stored) over ``observe()`` of change mode
(target <= 1.3x), and tracemalloc's peak for each. Figures only; nothing is asserted.
Usage: ``python benchmarks/sensor_items.py [--sizes 10000 100000] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from flowproject.sources import items, local


def build(root: Path, n: int) -> None:
    for i in range(n):
        folder = root / ("d%04d" % (i // 100))
        if i % 100 == 0:
            folder.mkdir(parents=True)
        (folder / ("f%03d.csv" % (i % 100))).write_bytes(b"x")


def bare(path: str) -> None:
    local.observe({"path": path, "check_mode": "files_metadata"})


def no_change_tick(path: str, stored: str) -> None:
    assert items.observe_listing({"type": "local", "path": path}).sha256() == stored


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def peak(fn, *args) -> int:
    tracemalloc.start()
    fn(*args)
    got = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return got


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            root = Path(tmp) / str(n)
            build(root, n)
            path = str(root)
            stored = items.observe_listing({"type": "local", "path": path}).sha256()
            a, b = [], []
            for r in range(args.rounds):
                if r % 2:
                    b.append(timed(no_change_tick, path, stored))
                    a.append(timed(bare, path))
                else:
                    a.append(timed(bare, path))
                    b.append(timed(no_change_tick, path, stored))
            ma, mb = statistics.median(a), statistics.median(b)
            pa, pb = peak(bare, path), peak(no_change_tick, path, stored)
            print(
                "%7d files: bare listing %.3fs, items no-change %.3fs, ratio %.2fx; peak memory %.1f MB vs %.1f MB"
                % (n, ma, mb, mb / ma, pa / 1e6, pb / 1e6)
            )


if __name__ == "__main__":
    main()
