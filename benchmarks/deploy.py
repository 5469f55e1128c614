"""Benchmark: render 8 flows with ./deploy --jobs 4 against --jobs 1, in the same run.

Renders (argo-workflows create --only-json) need no cluster, only an S3 datastore that
answers, so this starts moto's S3 server on 127.0.0.1. It prints the seconds of both and
their ratio (target: --jobs 4 takes at most 0.6x the time of --jobs 1). No asserts: the
figure depends on the machine's cores.

    python benchmarks/deploy.py [--flows 8] [--jobs 4]
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from _common import baseflow_file  # noqa: E402

from flowproject.config.discovery import FlowTarget, discover  # noqa: E402
from flowproject.deploy import run  # noqa: E402
from flowproject.deploy.branches import decide  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args()

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    load_before = os.getloadavg()[0]
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = "http://127.0.0.1:%d" % port
    try:
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        ).create_bucket(Bucket="deploy-bench")
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "proj"
            (root / "flows").mkdir(parents=True)
            (root / "flowproject.toml").write_text('project_name = "bench"\n')
            for i in range(args.flows):
                (root / "flows" / ("bench%d.flow.py" % i)).write_text(baseflow_file("Bench%dFlow" % i))
            (Path(tmp) / "mfhome").mkdir()
            env = {k: v for k, v in os.environ.items() if not k.startswith(("METAFLOW_", "AWS_", "FLOWPROJECT_"))}
            env.update(
                METAFLOW_HOME=str(Path(tmp) / "mfhome"),
                METAFLOW_USER="bench",
                METAFLOW_DEFAULT_METADATA="local",
                METAFLOW_DEFAULT_DATASTORE="s3",
                METAFLOW_DATASTORE_SYSROOT_S3="s3://deploy-bench/metaflow",
                METAFLOW_S3_ENDPOINT_URL=endpoint,
                AWS_ENDPOINT_URL=endpoint,
                AWS_ACCESS_KEY_ID="bench",
                AWS_SECRET_ACCESS_KEY="bench",
                AWS_DEFAULT_REGION="us-east-1",
            )
            targets = discover(root)
            decision = decide("bench/branch", env={})

            def children_cpu() -> float:
                usage = resource.getrusage(resource.RUSAGE_CHILDREN)
                return usage.ru_utime + usage.ru_stime

            def render(jobs: int, which=targets):
                out = Path(tmp) / ("out%d" % jobs)
                cpu, started = children_cpu(), time.monotonic()
                results = run(which, decision, root=root, jobs=jobs, only_json=out, env=env)
                seconds = time.monotonic() - started
                failed = [r for r in results if r.status != "ok"]
                if failed:
                    sys.exit("render failed: %s: %s" % (failed[0].flow, failed[0].error))
                return seconds, children_cpu() - cpu

            # Control: stand-in "flows" that only sleep 1 s show what the pool itself
            # achieves when CPU is not the limit.
            sleepers = []
            for i in range(args.flows):
                stand_in = Path(tmp) / ("sleep%d.py" % i)
                stand_in.write_text("import time\ntime.sleep(1)\n")
                sleepers.append(FlowTarget(stand_in, "Sleep%d" % i))

            def control(jobs: int) -> float:
                started = time.monotonic()
                run(sleepers, decision, root=root, jobs=jobs, env=env)
                return time.monotonic() - started

            control_serial, control_parallel = control(1), control(args.jobs)

            # One warm-up render so neither measured run pays for first-time imports.
            render(1, targets[:1])
            serial, serial_cpu = render(1)
            parallel, parallel_cpu = render(args.jobs)
    finally:
        server.stop()

    # Each render is mostly CPU (importing Metaflow, packaging the code): the speed-up is
    # bounded by the cores that are actually free, so print what the machine had.
    print("flows: %d, cpus: %s, load average before: %.2f" % (args.flows, os.cpu_count(), load_before))
    print(
        "--jobs 1: %.2f s wall, %.2f s CPU in renders (%.2f s wall per flow)"
        % (serial, serial_cpu, serial / args.flows)
    )
    print("--jobs %d: %.2f s wall, %.2f s CPU in renders" % (args.jobs, parallel, parallel_cpu))
    print("ratio --jobs %d / --jobs 1: %.2fx (target <= 0.60x)" % (args.jobs, parallel / serial))
    print(
        "control, %d stand-ins sleeping 1 s: --jobs 1 %.2f s, --jobs %d %.2f s, ratio %.2fx"
        % (args.flows, control_serial, args.jobs, control_parallel, control_parallel / control_serial)
    )


if __name__ == "__main__":
    main()
