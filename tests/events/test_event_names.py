"""Publisher and trigger agree: the compiled Argo templates of SensorFlow and DownstreamFlow."""

from __future__ import annotations

import json

import pytest
from conftest import REPO


def render(sandbox, s3_server, bucket, flow_file, flags):
    env = dict(
        s3_server.env,
        METAFLOW_DEFAULT_DATASTORE="s3",
        METAFLOW_DATASTORE_SYSROOT_S3="s3://%s/metaflow" % bucket,
        METAFLOW_ARGO_EVENTS_EVENT="metaflow-event",
        METAFLOW_ARGO_EVENTS_EVENT_SOURCE="argo-events-webhook",
        METAFLOW_ARGO_EVENTS_SERVICE_ACCOUNT="operate-workflow-sa",
    )
    proc = sandbox.run_ok(
        [REPO / "flows" / flow_file, *flags, "argo-workflows", "create", "--only-json"], cwd=REPO, env=env
    )
    return json.loads(proc.stdout)


@pytest.mark.parametrize(
    "flags,branch", [(["--branch", "x"], "test.x"), (["--production"], "prod")], ids=["branch_x", "production"]
)
def test_sensor_and_downstream_templates_agree_on_the_event_name(sandbox, s3_server, flags, branch):
    bucket = s3_server.new_bucket("mf")
    sensor = render(sandbox, s3_server, bucket, "sensor.flow.py", flags)
    downstream = render(sandbox, s3_server, bucket, "downstream.flow.py", flags)

    published = json.loads(sensor["metadata"]["annotations"]["metaflow/parameters"])["sensor-event"]["value"]
    triggers = json.loads(downstream["metadata"]["annotations"]["metaflow/triggers"])
    expected = "mfns.flowproject.%s.data_changed" % branch
    assert json.loads(published) == expected
    assert [t["name"] for t in triggers] == [expected]
    for template in (sensor, downstream):
        assert template["metadata"]["annotations"]["metaflow/branch_name"] == branch
    assert json.loads(sensor["metadata"]["annotations"]["metaflow/cron"])["schedule"] == "*/15 * * * *"
