"""Item-level sensors on an S3 prefix, through moto's S3 server and real SensorFlow runs.

The prefix holds more than 1,000 objects, so the listing arrives in pages; the runs keep
their manifest, lease and state in an S3 datastore on the same server. Faults come from
outside: a webhook that answers 500 from its 3rd request. About 75-125 s on a loaded 2-core
machine (2,100 webhook requests, six runs against moto).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import test_sensor_items
from conftest import run_id_of, sensor_project
from test_sensor_items import Items, payload_items

# The items tests' webhook that answers 500 from its n-th request, a fixture here too.
hook = test_sensor_items.hook

N_OBJECTS = 1_050  # list_objects_v2 answers at most 1,000 keys per page

TOML = """
project_name = "itemized"
[data]
type = "s3"
bucket = "s3://%s/landing/"
[sensor]
event_name = "landed"
emit = "items"
emit_removed = true
max_events_per_tick = 1000
"""


def etags(s3, bucket: str) -> dict:
    """Every object under landing/ as {key below the prefix: ETag without quotes}."""
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="landing/"):
        out.update({o["Key"][len("landing/") :]: o["ETag"].strip('"') for o in page.get("Contents", ())})
    return out


def test_a_paged_prefix_is_published_once_per_object_across_a_failed_publish(sandbox, s3_server, tmp_path, hook):
    bucket = s3_server.new_bucket("items")
    s3 = s3_server.client()
    names = ["day=%02d/part-%04d.csv" % (i // 100, i) for i in range(N_OBJECTS)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: s3.put_object(Bucket=bucket, Key="landing/" + n, Body=n.encode()), names))
    s3.put_object(Bucket=bucket, Key="elsewhere/not-watched.csv", Body=b"x")
    sandbox.env.update(s3_server.datastore_env(bucket, "mf"))
    project = sensor_project(tmp_path / "p", TOML % bucket)
    items = Items(sandbox, project, hook.url)
    env = {"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": hook.url}

    preview = sandbox.run_ok(["-m", "flowproject.cli", "sensor", "preview", "--json"], cwd=project, env=env)
    before = json.loads(preview.stdout)
    assert before["count"] == N_OBJECTS
    promised = {i["key"]: i["dedupe_key"] for i in before["items"]}

    # A webhook that fails on the 3rd event: the first two are recorded as sent.
    hook.fail_from = 3
    failed = items.run(ok=False)
    assert failed.returncode != 0
    assert "event 3 of 1000; the 2 item(s) sent before it are recorded" in failed.stdout + failed.stderr
    hook.fail_from = None
    second = items.art(run_id_of(items.run()))
    assert (second["items_published"], second["items_pending"]) == (1000, N_OBJECTS - 1002)
    third = run_id_of(items.run())
    assert items.art(third)["items_pending"] == 0

    sent = payload_items(hook.events)
    assert [i["key"] for i in sent] == sorted(names)  # every object once, in key order
    assert {i["change"] for i in sent} == {"added"}
    assert {i["key"]: i["dedupe_key"] for i in sent} == promised  # the preview's keys, in every process
    versions = etags(s3, bucket)
    assert all(i["version"] == versions[i["key"]] and i["size"] == len(i["key"]) for i in sent)
    manifests = s3.list_objects_v2(Bucket=bucket, Prefix="mf/SensorFlow/_flowproject/manifests/")
    assert manifests["KeyCount"] >= 1

    # Modified (new content: new ETag), added, removed; an object outside the prefix is not seen.
    changed, gone = names[500], names[7]
    s3.put_object(Bucket=bucket, Key="landing/" + changed, Body=b"new content")
    s3.put_object(Bucket=bucket, Key="landing/day=99/late.csv", Body=b"late")
    s3.delete_object(Bucket=bucket, Key="landing/" + gone)
    s3.put_object(Bucket=bucket, Key="elsewhere/also-not.csv", Body=b"y")
    items.run()
    later = payload_items(hook.events[len(sent) :])
    assert [(i["key"], i["change"]) for i in later] == [
        (changed, "modified"),
        ("day=99/late.csv", "added"),
        (gone, "removed"),
    ]
    assert later[0]["version"] == etags(s3, bucket)[changed] != versions[changed]
    assert later[0]["dedupe_key"] != promised[changed]

    quiet = run_id_of(items.run())
    assert len(payload_items(hook.events)) == N_OBJECTS + 3  # nothing new, nothing sent
    assert items.art(quiet)["outcome"] == "no change"
