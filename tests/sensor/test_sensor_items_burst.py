"""A 1,000-file burst drained by real SensorFlow ticks, 100 events per tick.

Eleven runs of this repository's SensorFlow (the smallest flow that ticks: two steps):
ten publish 100 items each, the eleventh nothing. The events are counted at a webhook on
127.0.0.1 by ``dedupe_key``, which is what a consumer dedupes by. About 30 s on a loaded
2-core machine (some 2.8 s per tick).
"""

from __future__ import annotations

from collections import Counter

from conftest import run_id_of, sensor_project
from test_sensor_items import TOML, Items

N_FILES, PER_TICK = 1_000, 100


def test_a_1000_file_burst_is_drained_by_ten_ticks_exactly_once(sandbox, tmp_path, webhook):
    project = sensor_project(tmp_path / "p", TOML.replace("emit_removed = true", "max_events_per_tick = %d" % PER_TICK))
    (project / "watched" / "a.csv").unlink()
    names = ["burst-%04d.csv" % i for i in range(N_FILES)]
    for name in names:
        (project / "watched" / name).write_text(name)
    items = Items(sandbox, project, webhook.url)

    per_tick = []
    for tick in range(N_FILES // PER_TICK):
        before = len(webhook.events)
        proc = items.run()
        left = N_FILES - (tick + 1) * PER_TICK
        assert "publishing %d in %d events, %d left for the next tick" % (PER_TICK, PER_TICK, left) in proc.stdout
        per_tick.append(len(webhook.events) - before)
    assert per_tick == [PER_TICK] * 10

    by_key = Counter(e["payload"]["dedupe_key"] for e in webhook.events)
    assert len(by_key) == N_FILES and set(by_key.values()) == {1}  # none twice
    assert sorted(e["payload"]["key"] for e in webhook.events) == names  # none dropped
    assert {e["payload"]["change"] for e in webhook.events} == {"added"}
    batches = [e["payload"]["batch"] for e in webhook.events]
    assert batches == [{"index": i % PER_TICK, "count": PER_TICK} for i in range(N_FILES)]

    eleventh = run_id_of(items.run())
    assert len(webhook.events) == N_FILES
    assert items.art(eleventh)["outcome"] == "no change"
