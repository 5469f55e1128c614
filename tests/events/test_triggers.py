"""flowproject.events.triggers: reading flows' event declarations and building a triggered run."""

from __future__ import annotations

import json
import textwrap

from flowproject.events import triggers

HEADER = (
    "from metaflow import step, trigger, namespaced_event_name\nfrom flowproject import BaseFlow, on_sensor_event\n"
)


def flow_file(tmp_path, decorators, name="x.flow.py"):
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(decorators) + "\nclass XFlow(BaseFlow):\n    pass\n")
    return path


def test_declarations_read_from_the_file(tmp_path):
    found = triggers.read_triggers(flow_file(tmp_path, "@on_sensor_event\n"), "data_changed")
    assert found.flow == "XFlow" and found.problem is None
    assert found.subscriptions == [triggers.Subscription("data_changed", namespaced=True)]
    found = triggers.read_triggers(
        flow_file(
            tmp_path,
            """
        @trigger(events=["plain.name", namespaced_event_name("ns"),
                         {"name": namespaced_event_name("mapped"), "parameters": ["a", ("B", "key_b")]}])
        """,
        ),
        None,
    )
    assert found.subscriptions == [
        triggers.Subscription("plain.name", namespaced=False),
        triggers.Subscription("ns", namespaced=True),
        triggers.Subscription("mapped", namespaced=True, parameters={"a": "a", "b": "key_b"}),
    ]


def test_declarations_it_cannot_evaluate_are_reported(tmp_path):
    found = triggers.read_triggers(flow_file(tmp_path, "@trigger(event=make_name())\n"), None)
    assert found.subscriptions == [] and "make_name()" in found.problem and "x.flow.py" in found.problem


def test_branch_carried_by_the_event_name():
    sub = triggers.Subscription("data_changed", namespaced=True)
    assert triggers.branch_of("mfns.p.prod.data_changed", "p", sub) == "prod"
    assert triggers.branch_of("mfns.p.test.feat_a.data_changed", "p", sub) == "test.feat_a"
    assert triggers.branch_of("mfns.p.user.jo.doe.data_changed", "p", sub) == "user.jo.doe"
    assert triggers.branch_of("mfns.other.prod.data_changed", "p", sub) is None
    assert triggers.branch_of("mfns.p.prod.other_event", "p", sub) is None
    assert triggers.branch_of("mfns.p.nonsense.data_changed", "p", sub) is None
    assert triggers.branch_flags("prod") == (["--production"], {})
    assert triggers.branch_flags("test.feat_a") == (["--branch", "feat_a"], {})
    assert triggers.branch_flags("user.jo") == ([], {"METAFLOW_USER": "jo"})


def test_launch_environment_maps_payload_like_argo(tmp_path):
    target = triggers.read_triggers(flow_file(tmp_path, "@on_sensor_event\n"), "data_changed")
    name = "mfns.p.test.b.data_changed"
    payload = {"name": name, "value": {"a": 1}, "test_mode": False, "alpha": "s", "tag": "x", "max_workers": 99}
    cmd, env = triggers.launch_spec(target, target.subscriptions[0], name, payload, "test.b", python="py")
    assert cmd == ["py", str(target.file), "--branch", "b", "run"]
    assert json.loads(env["METAFLOW_ARGO_EVENT_PAYLOAD_event_" + triggers.sanitized_name(name)]) == payload
    assert "METAFLOW_RUN_TEST_MODE" not in env and env["METAFLOW_RUN_ALPHA"] == "s"
    assert env["METAFLOW_RUN_VALUE"] == '{"a": 1}'
    # Metaflow's own `run` options are never set from a payload.
    assert "METAFLOW_RUN_TAG" not in env and "METAFLOW_RUN_MAX_WORKERS" not in env


def test_what_is_read_matches_what_metaflow_deploys(sandbox, tmp_path, s3_server):
    """The event names and payload variable equal those of a rendered WorkflowTemplate."""
    from conftest import REPO, write_project

    root = write_project(
        tmp_path / "proj",
        'project_name = "rendered"\n[sensor]\nevent_name = "data_changed"\n',
        {
            "mapped.flow.py": HEADER
            + textwrap.dedent("""
            from metaflow import Parameter
            @trigger(event={"name": namespaced_event_name("mapped"), "parameters": {"alpha": "key_a"}})
            class MappedFlow(BaseFlow):
                alpha = Parameter("alpha", default="x")
                @step
                def start(self):
                    self.next(self.end)
                @step
                def end(self):
                    pass
            if __name__ == "__main__":
                MappedFlow()
            """)
        },
    )
    (root / "flows" / "downstream.flow.py").write_text((REPO / "flows" / "downstream.flow.py").read_text())
    env = dict(
        s3_server.env,
        METAFLOW_DEFAULT_DATASTORE="s3",
        METAFLOW_DATASTORE_SYSROOT_S3="s3://%s/metaflow" % s3_server.new_bucket("triggers"),
        METAFLOW_ARGO_EVENTS_EVENT="metaflow-event",
        METAFLOW_ARGO_EVENTS_EVENT_SOURCE="metaflow-webhook",
        METAFLOW_ARGO_EVENTS_SERVICE_ACCOUNT="operate-workflow-sa",
    )
    _, flows = triggers.project_flows(root)
    for target in flows:
        proc = sandbox.run_ok(
            [target.file, "--branch", "b", "argo-workflows", "create", "--only-json"], cwd=root, env=env
        )
        template = json.loads(proc.stdout[proc.stdout.index("{") :])
        deployed = json.loads(template["metadata"]["annotations"]["metaflow/triggers"])
        names = [s.resolve("rendered", "test.b") for s in target.subscriptions]
        assert [d["name"] for d in deployed] == names
        text = json.dumps(template)
        for name in names:
            assert "METAFLOW_ARGO_EVENT_PAYLOAD_event_%s" % triggers.sanitized_name(name) in text
    # (The parameter mapping lives in the Argo Sensor, which --only-json does not print.)
    assert {t.flow for t in flows} == {"MappedFlow", "DownstreamFlow"}


def test_payload_keys_never_fold_into_run_options_or_test_mode(tmp_path):
    target = triggers.read_triggers(flow_file(tmp_path, "@on_sensor_event\n"), "data_changed")
    name = "mfns.p.test.b.data_changed"
    payload = {
        "tagſ": "t",
        "decoſpecs": "environment:vars={}",
        "runner_attribute_fıle": "/tmp/x",
        "test_mode": False,
        "test-mode": False,
        "ALPHA": "upper",
        "beta": "ok",
    }
    _, env = triggers.launch_spec(target, target.subscriptions[0], name, payload, "test.b", python="py")
    params = {k: v for k, v in env.items() if k.startswith("METAFLOW_RUN_")}
    # Argo's Sensor matches `hasKey payload "<lower-case parameter name>"` exactly.
    assert params == {"METAFLOW_RUN_BETA": "ok"}


def test_on_sensor_event_without_an_event_name_waits_for_the_sensor_run_to_finish(tmp_path):
    # publishing.on_sensor_event falls back to @trigger_on_finish(flow=sensor_flow) then.
    found = triggers.read_triggers(flow_file(tmp_path, "@on_sensor_event\n"), None)
    assert found.problem is None
    assert found.subscriptions == [triggers.Subscription("SensorFlow", True, kind="run")]
    found = triggers.read_triggers(flow_file(tmp_path, '@on_sensor_event(sensor_flow="Watcher")\n'), "")
    assert [(s.name, s.kind) for s in found.subscriptions] == [("Watcher", "run")]
    found = triggers.read_triggers(flow_file(tmp_path, "@on_sensor_event(sensor_flow=1)\n"), None)
    assert found.subscriptions == [] and "sensor_flow must be a flow name" in found.problem
