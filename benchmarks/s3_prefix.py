"""How the S3 ``files_metadata`` observation scales, on moto's S3 server on 127.0.0.1.

Prints, for a prefix of 20,000 objects:

- wall time of ``observe()`` as a ratio to a bare boto3 ``list_objects_v2`` paginator over
  the same prefix, measured alternately in the same run (target <= 1.15x);
- peak memory of a fresh observing process at 2,000 and at 20,000 objects (target:
  within 1.2x of each other);
- the stored value's size in bytes (target <= 4 KB).

Usage: ``python benchmarks/s3_prefix.py [--objects 20000] [--repeats 5]``. Needs the dev
extra (moto[server], boto3). Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUCKET = "bench-prefix"
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _data(prefix: str) -> dict:
    return {"type": "s3", "bucket": BUCKET, "key": prefix, "check_mode": "files_metadata"}


def measure_memory(prefix: str) -> None:
    """Child mode: observe once in this fresh process and print its memory figures."""
    import tracemalloc

    sys.path.insert(0, str(REPO))
    import boto3  # noqa: F401  (imported before measuring: its import cost is not the observation's)

    from flowproject.sources import canonical_json, observe

    observe(_data("warmup/"))  # loads botocore's service model outside the measurement
    tracemalloc.start()
    obs = observe(_data(prefix))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        json.dumps(
            {
                "count": obs.value["count"],
                "tracemalloc_peak": peak,
                "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "value_bytes": len(canonical_json(obs.value).encode()),
                "observation_bytes": len(canonical_json(obs.to_dict()).encode()),
            }
        )
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fill(s3, prefix: str, n: int) -> None:
    def put(i: int) -> None:
        s3.put_object(Bucket=BUCKET, Key="%sdir%02d/obj-%06d.csv" % (prefix, i % 50, i), Body=b"x" * (i % 97))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(n)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--small", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure_memory(args.measure)
        return

    port = _free_port()
    endpoint = "http://127.0.0.1:%d" % port
    os.environ.update(ENV, AWS_ENDPOINT_URL=endpoint)
    # moto in its own process: the server's work must not share this process's GIL
    # with the client being timed.
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(endpoint + "/moto-api/")
                break
            except OSError:
                time.sleep(0.05)
        import boto3
        from botocore.config import Config

        sys.path.insert(0, str(REPO))
        from flowproject.sources import observe

        s3 = boto3.client("s3", config=Config(max_pool_connections=32))
        s3.create_bucket(Bucket=BUCKET)
        t0 = time.perf_counter()
        _fill(s3, "big/", args.objects)
        _fill(s3, "small/", args.small)
        s3.put_object(Bucket=BUCKET, Key="warmup/x", Body=b"x")
        print("created %d + %d objects in %.1f s" % (args.objects, args.small, time.perf_counter() - t0))

        def bare() -> int:
            n = 0
            client = boto3.client("s3")
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="big/"):
                n += len(page.get("Contents", ()))
            return n

        def observed() -> int:
            return observe(_data("big/")).value["count"]

        assert bare() == observed() == args.objects  # warm both paths once
        bare_times, obs_times = [], []
        for _ in range(args.repeats):
            for fn, times in ((bare, bare_times), (observed, obs_times)):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
        b, o = statistics.median(bare_times), statistics.median(obs_times)
        print(
            "wall time, %d objects (median of %d): bare paginator %.3f s, observe %.3f s, ratio %.3fx (target <= 1.15x)"
            % (args.objects, args.repeats, b, o, o / b)
        )
        print(
            "  per run: bare %s | observe %s"
            % (" ".join("%.3f" % t for t in bare_times), " ".join("%.3f" % t for t in obs_times))
        )

        figures = {}
        for label, prefix in (("small", "small/"), ("big", "big/")):
            child = subprocess.run(
                [sys.executable, __file__, "--measure", prefix],
                env=dict(os.environ),
                capture_output=True,
                text=True,
                check=True,
            )
            figures[label] = json.loads(child.stdout.strip().splitlines()[-1])
        s, g = figures["small"], figures["big"]
        print("peak memory of a fresh observing process:")
        print(
            "  %6d objects: maxrss %7.1f MB, tracemalloc peak during observe %6.2f MB"
            % (s["count"], s["maxrss_kb"] / 1024, s["tracemalloc_peak"] / 2**20)
        )
        print(
            "  %6d objects: maxrss %7.1f MB, tracemalloc peak during observe %6.2f MB"
            % (g["count"], g["maxrss_kb"] / 1024, g["tracemalloc_peak"] / 2**20)
        )
        print(
            "  ratio %d/%d: maxrss %.3fx, tracemalloc peak %.3fx (target within 1.2x)"
            % (g["count"], s["count"], g["maxrss_kb"] / s["maxrss_kb"], g["tracemalloc_peak"] / s["tracemalloc_peak"])
        )
        print(
            "stored value: %d bytes (the whole observation: %d bytes) (target <= 4096)"
            % (g["value_bytes"], g["observation_bytes"])
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
