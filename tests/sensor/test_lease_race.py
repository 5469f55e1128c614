"""Issue 17 item 5: the local lease never has two holders, proven with racing processes.

Three processes race for one fresh lease per round (each round its own key), many rounds.
A process that gets the lease appends "<round> <process>" to a shared log; a round with
two lines is a double holder. The old exclusive create opened the file empty and wrote it
afterwards: a racer read it empty, took it for expired, deleted it and took over.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from flowproject.getters.store import StateStore
from flowproject.sensor.lease import lease_key

PROCESSES = 3
ROUNDS = 600

WORKER = r"""
import os, sys, time
from flowproject.getters.store import StateStore
from flowproject.sensor.lease import acquire, lease_key

root, me, rounds, go, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
store = StateStore("local", root)
while not os.path.exists(go):  # start together, so the rounds overlap
    time.sleep(0.001)
fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
for r in range(rounds):
    if acquire(store, lease_key("RaceFlow", "p", "b%d" % r), "RaceFlow/%s" % me, 3600).held:
        os.write(fd, ("%d %s\n" % (r, me)).encode())  # one write: O_APPEND keeps lines whole
"""


@pytest.mark.parametrize("start", ["absent", "expired"])
def test_racing_processes_never_hold_one_lease_twice(tmp_path: Path, capsys, start):
    go, log = tmp_path / "go", tmp_path / "held.log"
    if start == "expired":
        # A dead holder's lease in every round: each racer takes it for expired at once.
        store = StateStore("local", str(tmp_path / "ds"))
        for r in range(ROUNDS):
            store.write_json(lease_key("RaceFlow", "p", "b%d" % r), {"run": "RaceFlow/dead", "expires_at": 0})
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path / "ds"), "p%d" % i, str(ROUNDS), str(go), str(log)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    holders = Counter(line.split()[0] for line in log.read_text().splitlines())
    doubles = sum(1 for n in holders.values() if n > 1)
    winners = Counter(line.split()[1] for line in log.read_text().splitlines())
    with capsys.disabled():
        print(
            "\nlease race (%s): %d processes x %d rounds: %d rounds held, %d double holders, wins %s"
            % (start, PROCESSES, ROUNDS, len(holders), doubles, dict(sorted(winners.items())))
        )
    assert doubles == 0
    # Every round had exactly one holder: nobody gave up on a lease that was free.
    assert len(holders) == ROUNDS
    # The temporary files never stay behind.
    assert not [p for p in (tmp_path / "ds").rglob("*") if p.name.endswith(".tmp")]
