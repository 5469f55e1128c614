"""Shared by the benchmarks: an isolated Metaflow world in a temp folder."""

from __future__ import annotations

import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent


def compile_bytecode(*folders: Path) -> None:
    """Write the ``.pyc`` files of ``folders``, as installing a wheel does.

    A checkout imported with PYTHONDONTWRITEBYTECODE set (or from a read-only folder)
    compiles every flowproject module from source in each of a run's processes, while
    Metaflow's installed modules load compiled: a benchmark would time the compiler.
    """
    for folder in folders or (REPO / "flowproject",):
        if not compileall.compile_dir(str(folder), quiet=1):
            raise SystemExit("could not compile %s" % folder)


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


def run_timed(args: Sequence[str], env: Dict[str, str], cwd: Path) -> Tuple[float, float]:
    """(wall, CPU) seconds of ``python *args``; CPU is user + sys of every process it waited
    for (the run and its step processes), which a loaded machine disturbs less than wall."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = run(args, env, cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


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
