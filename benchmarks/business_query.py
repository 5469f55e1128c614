"""Peak memory of streaming a business query in batches: 10k rows vs 1M rows from fakesnow.

Each measurement is a fresh process (peak RSS via getrusage) that iterates
``query_batches`` and keeps only a row count; sides alternate. A ratio near 1 means
memory is bounded by the batch, not the result. The connector's own ``fetchmany`` loop is
measured beside it: fakesnow answers with the whole result inline (Snowflake stages large
results in chunks the connector downloads as it goes), so the connector holds it, and the
ratio query_batches / connector says what flowproject adds.
Run: python benchmarks/business_query.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))

MEASURE = """
import os, resource, sys
from pathlib import Path
from flowproject.sources.queries import query_batches, query_rows
n = 0
if sys.argv[3] == "connector":
    # The baseline: the connector's own fetchmany loop, no flowproject.
    import snowflake.connector
    conn = snowflake.connector.connect(
        account="fakesnow", user="fake", password="x", host="127.0.0.1",
        port=int(os.environ["SNOWFLAKE_PORT"]), protocol="http",
    )
    cur = conn.cursor()
    cur.execute("SELECT id, name, amount FROM BENCH.S.T WHERE id < %(limit)s", {"limit": int(sys.argv[1])})
    while True:
        rows = cur.fetchmany(10000)
        if not rows:
            break
        n += len(rows)
elif sys.argv[3] == "all":
    n = len(query_rows("rows", {"limit": int(sys.argv[1])}, project_dir=Path(sys.argv[2])))
for batch in [] if sys.argv[3] != "batches" else query_batches("rows", {"limit": int(sys.argv[1])}, project_dir=Path(sys.argv[2]), batch_size=10000):
    n += len(batch)
assert n == int(sys.argv[1]), n
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main() -> None:
    import snowflake.connector

    from flowproject.testing import servers

    with tempfile.TemporaryDirectory() as tmp:
        server = servers.fakesnow(Path(tmp) / "fakesnow")
        try:
            env = dict(os.environ, **servers.fakesnow_env(server))
            conn = snowflake.connector.connect(
                account="fakesnow", user="fake", password="x", host="127.0.0.1", port=server.port, protocol="http"
            )
            cur = conn.cursor()
            cur.execute("CREATE DATABASE IF NOT EXISTS BENCH")
            cur.execute("CREATE SCHEMA IF NOT EXISTS BENCH.S")
            cur.execute(
                "CREATE TABLE BENCH.S.T AS SELECT seq4() AS id, 'customer-' || seq4() AS name, 12.5 AS amount"
                " FROM TABLE(GENERATOR(ROWCOUNT => 1000000))"
            )
            conn.close()
            (Path(tmp) / "sql").mkdir()
            (Path(tmp) / "sql" / "rows.sql").write_text("SELECT id, name, amount FROM BENCH.S.T WHERE id < %(limit)s")
            sides = [
                (10_000, "batches"),
                (1_000_000, "batches"),
                (1_000_000, "all"),
                (10_000, "connector"),
                (1_000_000, "connector"),
            ]
            peaks = {side: [] for side in sides}
            for _ in range(ROUNDS):
                for side in sides:  # alternate sides each round
                    rows, mode = side
                    out = subprocess.run(
                        [sys.executable, "-c", MEASURE, str(rows), tmp, mode],
                        env=env,
                        cwd=REPO,
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    peaks[side].append(int(out.stdout.split()[-1]))
        finally:
            server.close()
    small, big, whole, bare_small, bare_big = (min(peaks[side]) for side in sides)
    print("peak RSS 10k rows, batches: %.1f MiB" % (small / 1024))
    print("peak RSS 1M rows, batches:  %.1f MiB" % (big / 1024))
    print("peak RSS 1M rows, all rows: %.1f MiB (query_rows, the baseline)" % (whole / 1024))
    print("ratio 1M / 10k (batches): %.2f (100x the rows)" % (big / small))
    print("ratio batches / all rows at 1M: %.2f" % (big / whole))
    print(
        "peak RSS 1M rows, the connector's own fetchmany: %.1f MiB (10k: %.1f MiB)"
        % (bare_big / 1024, bare_small / 1024)
    )
    print(
        "ratio query_batches / connector at 1M: %.2f; the connector's own 1M / 10k: %.2f"
        % (big / bare_big, bare_big / bare_small)
    )


if __name__ == "__main__":
    main()
