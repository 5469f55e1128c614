"""Getters with real runs across branches and production."""

from __future__ import annotations

import pytest
from conftest import run_id_of, write_project
from flow_sources import base_flow

TOML = 'project_name = "getproj"\n'

PRODUCER = base_flow(
    "ProducerFlow",
    """
    self.value = self.number
    self.blob = b"x" * self.number
    """,
    'if self.fail:\n    raise RuntimeError("failing on purpose")',
    metaflow="Parameter, step",
    body='number = Parameter("number", type=int, default=0)\nfail = Parameter("fail", type=bool, default=False)',
)

CONSUMER = base_flow("ConsumerFlow", 'self.got = self.get_artifact("ProducerFlow", "value")\nprint("GOT", self.got)')


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path / "proj", TOML, {"producer.flow.py": PRODUCER, "consumer.flow.py": CONSUMER})


def produce(sandbox, project, number, *flags, ok=True, env=None, run_args=()):
    cmd = ["flows/producer.flow.py", *flags, "run", "--number", str(number), *run_args]
    proc = (sandbox.run_ok if ok else sandbox.run)(cmd, cwd=project, env=env)
    return run_id_of(proc)


def get(sandbox, project, args):
    return sandbox.client("from flowproject import get_artifact\nresult = get_artifact(%s)" % args, cwd=project)


def test_latest_per_branch_and_production(sandbox, project):
    produce(sandbox, project, 1, "--production")
    produce(sandbox, project, 2, "--branch", "a")
    produce(sandbox, project, 3)
    assert get(sandbox, project, '"ProducerFlow", "value"') == 1  # outside a run: prod
    assert get(sandbox, project, '"ProducerFlow", "value", branch="test.a"') == 2
    assert get(sandbox, project, '"ProducerFlow", "value", branch="any"') == 3


def test_inside_a_run_the_flows_own_branch_is_used(sandbox, project):
    produce(sandbox, project, 10, "--production")
    produce(sandbox, project, 20, "--branch", "a")
    proc = sandbox.run_ok(["flows/consumer.flow.py", "--branch", "a", "run"], cwd=project)
    assert "GOT 20" in proc.stdout
    proc = sandbox.run_ok(["flows/consumer.flow.py", "--production", "run"], cwd=project)
    assert "GOT 10" in proc.stdout


def test_newer_run_is_picked_up_at_once_and_failed_runs_never(sandbox, project):
    produce(sandbox, project, 1, "--production")
    assert get(sandbox, project, '"ProducerFlow", "value"') == 1
    produce(sandbox, project, 2, "--production")
    assert get(sandbox, project, '"ProducerFlow", "value"') == 2
    produce(sandbox, project, 3, "--production", ok=False, run_args=("--fail", "true"))
    assert get(sandbox, project, '"ProducerFlow", "value"') == 2


def test_pinned_run_id_wins_over_latest(sandbox, project):
    pinned = produce(sandbox, project, 1, "--production")
    produce(sandbox, project, 2, "--production")
    (project / "flowproject.toml").write_text(TOML + '[getters.ProducerFlow]\nrun_id = "%s"\n' % pinned)
    assert get(sandbox, project, '"ProducerFlow", "value"') == 1
    proc = sandbox.run_ok(["flows/consumer.flow.py", "--production", "run"], cwd=project)
    assert "GOT 1" in proc.stdout
    # An explicit run id wins over the pin.
    latest = sandbox.client("namespace(None)\nresult = [r.id for r in Flow('ProducerFlow')][0]", cwd=project)
    assert get(sandbox, project, '"ProducerFlow", "value", run_id="%s"' % latest) == 2


ERRORS = """
from flowproject import get_artifact, GetterError
from metaflow import namespace, get_namespace
namespace("user:someone_else")
result = {}
for name, kwargs in [
    ("no_flow", dict(flow_name="NoSuchFlow", artifact="value")),
    ("no_run", dict(flow_name="ProducerFlow", artifact="value", branch="test.nothing")),
    ("no_artifact", dict(flow_name="ProducerFlow", artifact="nope", branch="any")),
    ("bad_pin", dict(flow_name="ProducerFlow", artifact="value", run_id="argo-producerflow-xyz")),
]:
    try:
        get_artifact(**kwargs)
        result[name] = None
    except GetterError as e:
        result[name] = str(e)
result["namespace"] = get_namespace()
"""


def test_errors_name_what_was_searched_and_namespace_is_restored(sandbox, project):
    run_id = produce(sandbox, project, 1)
    res = sandbox.client(ERRORS, cwd=project)
    assert res["no_flow"] == "no flow named 'NoSuchFlow' in this Metaflow metadata"
    assert res["no_run"] == (
        "no successful run of ProducerFlow in project 'getproj', branch 'test.nothing'; run it there "
        'first or pass branch=... (branch="any" searches the whole project)'
    )
    assert (
        res["no_artifact"]
        == "ProducerFlow/%s has no artifact 'nope'; it has: blob, fail, flowconfig, lineage_inputs, name, number, test_mode, value"
        % run_id
    )
    assert res["bad_pin"] == "run_id='argo-producerflow-xyz': no run ProducerFlow/argo-producerflow-xyz"
    assert res["namespace"] == "user:someone_else"


def test_client_cache_is_persistent_per_user_and_cleared(sandbox, project, s3_server, tmp_path):
    bucket = s3_server.new_bucket("getters")
    env = dict(s3_server.datastore_env(bucket), METAFLOW_CLIENT_CACHE_PATH="", XDG_CACHE_HOME=str(tmp_path / "xdg"))
    produce(sandbox, project, 4096, env=env)
    code = "from flowproject import get_artifact\nresult = len(get_artifact('ProducerFlow', 'blob', branch='any'))"
    assert sandbox.client(code, env=env, cwd=project) == 4096
    cache = tmp_path / "xdg" / "flowproject" / "metaflow_client"
    assert any(p.is_file() for p in cache.rglob("*"))
    # Remove every artifact blob from S3: a second process can only answer from the cache.
    s3 = s3_server.client()
    blobs = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"] if "/data/" in o["Key"]]
    assert blobs
    for key in blobs:
        s3.delete_object(Bucket=bucket, Key=key)
    assert sandbox.client(code, env=env, cwd=project) == 4096
    proc = sandbox.run_ok(["-m", "flowproject.cli", "cache", "clear"], env=env, cwd=project)
    assert "cleared %s" % cache in proc.stdout
    assert not cache.exists()
