"""Getter costs on the S3 datastore (moto's server on 127.0.0.1), with baselines in the same run.

1. get_artifact of a 10 MB artifact in two fresh processes one after the other: the first
   with an empty Client cache, the second served from it (checked: a third process still
   gets the artifact after its blobs were deleted from S3).
2. get_artifact of the latest run with 300 past runs as a ratio to 3 (target <= 1.2x).
3. `python -c "import flowproject"` as a ratio to `python -c "import metaflow"`
   (target <= 1.10x: boto3 and the Snowflake connector stay unimported until used).

Usage: python benchmarks/getters.py
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys

from _common import baseflow_file, isolated_env, median, run, run_many, tempdir

PRODUCER = baseflow_file(
    "ProducerFlow",
    "self.payload = os.urandom(self.size)",
    imports="import os\nfrom metaflow import Parameter, step",
    body='size = Parameter("size", type=int, default=1)',
)

TIMED_GET = """
import json, time
t = time.perf_counter()
from flowproject import get_artifact
value = get_artifact("ProducerFlow", "payload", branch=%r)
print(json.dumps({"seconds": time.perf_counter() - t, "bytes": len(value)}))
"""

REPEATED_GET = """
import json, time
from flowproject import get_artifact
get_artifact("ProducerFlow", "payload", branch="test.hist")
samples = []
for _ in range(20):
    t = time.perf_counter(); get_artifact("ProducerFlow", "payload", branch="test.hist")
    samples.append(time.perf_counter() - t)
print(json.dumps({"seconds": sorted(samples)[10]}))
"""


def py(code, env, cwd):
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(cwd), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = "http://127.0.0.1:%d" % port
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket="bench-getters")

    root = tempdir("bench_getters_")
    project = root / "proj"
    (project / "flows").mkdir(parents=True)
    (project / "flowproject.toml").write_text('project_name = "bench"\n')
    (project / "flows" / "producer.flow.py").write_text(PRODUCER)
    env = isolated_env(
        root,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
        METAFLOW_S3_ENDPOINT_URL=endpoint,
        METAFLOW_DEFAULT_DATASTORE="s3",
        METAFLOW_DATASTORE_SYSROOT_S3="s3://bench-getters/metaflow",
        METAFLOW_CLIENT_CACHE_PATH="",
        XDG_CACHE_HOME=str(root / "xdg"),
    )
    try:
        run(["flows/producer.flow.py", "--branch", "big", "run", "--size", str(10 * 1024 * 1024)], env, project)
        first = py(TIMED_GET % "test.big", env, project)
        second = py(TIMED_GET % "test.big", env, project)
        for obj in s3.list_objects_v2(Bucket="bench-getters").get("Contents", []):
            if "/data/" in obj["Key"]:
                s3.delete_object(Bucket="bench-getters", Key=obj["Key"])
        third = py(TIMED_GET % "test.big", env, project)
        print("1. get_artifact of a 10 MB artifact (%d bytes), fresh processes" % first["bytes"])
        print("   first, empty cache:   %.3f s" % first["seconds"])
        print(
            "   second, warm cache:   %.3f s   (%.2fx of the first)"
            % (second["seconds"], second["seconds"] / first["seconds"])
        )
        print(
            "   third, with every artifact blob deleted from S3: %d bytes read -> served by the Client cache"
            % third["bytes"]
        )

        hist = ["flows/producer.flow.py", "--branch", "hist", "run"]
        run_many(hist, env, project, 3, jobs=1)
        small = py(REPEATED_GET, env, project)
        run_many(hist, env, project, 297)
        large = py(REPEATED_GET, env, project)
        print("\n2. get_artifact of the latest run (median of 20, warm process)")
        print("   3 past runs:   %.2f ms" % (small["seconds"] * 1e3))
        print("   300 past runs: %.2f ms" % (large["seconds"] * 1e3))
        print("   ratio: %.2fx (target <= 1.2x)" % (large["seconds"] / small["seconds"]))
    finally:
        server.stop()

    plain = isolated_env(root)
    fp, mf = [], []
    for _ in range(10):
        mf.append(run(["-c", "import metaflow"], plain, root))
        fp.append(run(["-c", "import flowproject"], plain, root))
    print("\n3. import time, median of 10 alternated")
    print("   import metaflow:    %.3f s" % median(mf))
    print("   import flowproject: %.3f s" % median(fp))
    print("   ratio: %.2fx (target <= 1.10x)" % (median(fp) / median(mf)))


if __name__ == "__main__":
    main()
