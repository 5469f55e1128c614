"""Shared by the benchmarks: an isolated Metaflow world in a temp folder."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Sequence

REPO = Path(__file__).resolve().parent.parent


def isolated_env(root: Path, **extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("METAFLOW_", "FLOWPROJECT_", "AWS_"))}
    (root / "mfhome").mkdir(parents=True, exist_ok=True)
    env.update(
        METAFLOW_HOME=str(root / "mfhome"),
        METAFLOW_USER="bench",
        METAFLOW_DEFAULT_DATASTORE="local",
        METAFLOW_DEFAULT_METADATA="local",
        METAFLOW_DATASTORE_SYSROOT_LOCAL=str(root / "datastore"),
        METAFLOW_CLIENT_CACHE_PATH=str(root / "client_cache"),
    )
    env.update(extra)
    return env


def run(args: Sequence[str], env: Dict[str, str], cwd: Path) -> float:
    """Run ``python *args``; return its wall time in seconds (fails loudly)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *map(str, args)], env=env, cwd=str(cwd), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit("benchmark command failed: %s\n%s" % (" ".join(map(str, args)), proc.stderr[-3000:]))
    return elapsed


def run_many(args: Sequence[str], env: Dict[str, str], cwd: Path, count: int, jobs: int = 2) -> None:
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(lambda _: run(args, env, cwd), range(count)))


def median(values: List[float]) -> float:
    return statistics.median(values)


def tempdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def baseflow_file(name: str, start: str = "", imports: str = "from metaflow import step", body: str = "") -> str:
    """The text of a two-step BaseFlow file ``name``: ``start`` lines run in its start step,
    ``body`` lines (Parameters) sit above the steps; ``imports`` replaces the metaflow import."""
    pad = "".join("        %s\n" % line for line in start.splitlines())
    attrs = "".join("    %s\n" % line for line in body.splitlines()) + ("\n" if body else "")
    return (
        "%s\nfrom flowproject import BaseFlow\n\n\nclass %s(BaseFlow):\n%s    @step\n    def start(self):\n%s"
        "        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n\n\n"
        'if __name__ == "__main__":\n    %s()\n'
    ) % (imports, name, attrs, pad, name)
