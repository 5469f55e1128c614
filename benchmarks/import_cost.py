"""What ``import flowproject`` costs over ``import metaflow`` (target <= 1.10x).

Each sample is a fresh interpreter; the two sides alternate in one loop so both see the
same machine load. Prints the medians and their ratio.

Usage: python benchmarks/import_cost.py [--loops 21]
"""

from __future__ import annotations

import argparse

from _common import REPO, compile_bytecode, isolated_env, median, run, tempdir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=21)
    args = parser.parse_args()
    compile_bytecode()
    env = isolated_env(tempdir("fp-bench-import-"))
    samples = {"metaflow": [], "flowproject": []}
    run(["-c", "import flowproject"], env, REPO)  # warm the bytecode caches of both
    for _ in range(args.loops):
        for name in samples:
            samples[name].append(run(["-c", "import %s" % name], env, REPO))
    mf, fp = median(samples["metaflow"]), median(samples["flowproject"])
    print("import metaflow:    %.3fs (median of %d)" % (mf, args.loops))
    print("import flowproject: %.3fs (median of %d)" % (fp, args.loops))
    print("ratio flowproject/metaflow: %.2fx (target <= 1.10x)" % (fp / mf))


if __name__ == "__main__":
    main()
