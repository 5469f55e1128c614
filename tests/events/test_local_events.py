"""`flowproject events serve` and `flowproject trigger`: a real receiver process on 127.0.0.1,
real SensorFlow and downstream runs."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from conftest import REPO, run_id_of, write_project
from serving import Server

TOML = """
project_name = "looped"
[data]
type = "local"
check_mode = "files_metadata"
path = "watched"
[sensor]
event_name = "watched_changed"
payload_key = "new_value"
"""

PARAM_FLOW = """
from metaflow import Parameter, current, namespaced_event_name, step, trigger
from flowproject import BaseFlow


@trigger(event={"name": namespaced_event_name("param_evt"), "parameters": {"alpha": "a_key"}})
class ParamFlow(BaseFlow):
    alpha = Parameter("alpha", default="unset")

    @step
    def start(self):
        self.seen_alpha = self.alpha
        self.trigger_name = current.trigger.event.name if current.trigger else None
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParamFlow()
"""

FAILING_FLOW = """
from metaflow import namespaced_event_name, step, trigger
from flowproject import BaseFlow


@trigger(event=namespaced_event_name("explode"))
class BoomFlow(BaseFlow):
    @step
    def start(self):
        raise RuntimeError("boom on purpose")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BoomFlow()
"""


@pytest.fixture
def project(tmp_path):
    root = write_project(tmp_path / "proj", TOML, {"param.flow.py": PARAM_FLOW, "boom.flow.py": FAILING_FLOW})
    for name in ("sensor.flow.py", "downstream.flow.py"):
        shutil.copy(REPO / "flows" / name, root / "flows" / name)
    (root / "watched").mkdir()
    (root / "watched" / "a.csv").write_text("1,2,3\n")
    return root


@pytest.fixture
def server(sandbox, project):
    srv = Server(sandbox, project)
    try:
        yield srv
    finally:
        srv.stop()


def artifacts(sandbox, project, pathspec, names):
    return sandbox.client(
        "namespace(None)\nd = Run(%r).data\nresult = {k: getattr(d, k) for k in %r}" % (pathspec, names), cwd=project
    )


def user_branch(sandbox):
    return "user.%s" % sandbox.env["METAFLOW_USER"]


def test_sensor_change_starts_downstream_with_the_new_value(sandbox, project, server):
    sensor = sandbox.run_ok(
        ["flows/sensor.flow.py", "run"], cwd=project, env={"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": server.url}
    )
    sensor_run = "SensorFlow/%s" % run_id_of(sensor)
    name = "mfns.looped.%s.watched_changed" % user_branch(sandbox)
    line = server.wait_for(r"^%s: started" % re.escape(name))
    started = re.findall(r"(DownstreamFlow/\d+)", line)
    assert len(started) == 1 and "ParamFlow" not in line and "BoomFlow" not in line
    server.wait_for(r"%s finished" % started[0])
    down = artifacts(sandbox, project, started[0], ["sensor_input"])
    sensed = artifacts(sandbox, project, sensor_run, ["value", "event"])
    assert sensed["event"]["sent"] is True
    assert down["sensor_input"] == sensed["value"]
    tags = sandbox.client("namespace(None)\nresult = sorted(Run(%r).tags)" % started[0], cwd=project)
    assert "project_branch:%s" % user_branch(sandbox) in tags


def test_payload_parameters_and_current_trigger_as_deployed(sandbox, project, server):
    name = "mfns.looped.%s.param_evt" % user_branch(sandbox)
    assert server.post({"name": name, "payload": {"name": name, "a_key": "from the payload"}}) == 200
    line = server.wait_for(r"^%s: started" % re.escape(name))
    pathspec = re.search(r"(ParamFlow/\d+)", line).group(1)
    server.wait_for(r"%s finished" % pathspec)
    art = artifacts(sandbox, project, pathspec, ["seen_alpha", "trigger_name"])
    assert art == {"seen_alpha": "from the payload", "trigger_name": name}


def test_events_of_other_branches_and_projects_start_nothing(sandbox, project, server):
    other_branch = "mfns.looped.test.someone_else.watched_changed"
    assert server.post({"name": other_branch, "payload": {"new_value": 1}}) == 200
    server.wait_for(r"^%s: ignored, branch test.someone_else is not served" % re.escape(other_branch))
    other_project = "mfns.elsewhere.%s.watched_changed" % user_branch(sandbox)
    assert server.post({"name": other_project, "payload": {}}) == 200
    server.wait_for(r"^%s: no flow in flows/ listens to it" % re.escape(other_project))
    assert not (project / ".metaflow" / "DownstreamFlow").exists()


def test_malformed_requests_get_webhook_status_codes(sandbox, project, server):
    assert server.post(b"{not json") == 400
    assert server.post({"payload": {}}) == 400  # no name
    assert server.post({"name": "x", "payload": [1]}) == 400
    assert server.post(b"", method="GET") == 405
    assert server.post(b"x" * (1024 * 1024 + 1)) == 413
    server.wait_for(r"^rejected a request: the body is not JSON")


def test_failed_flow_is_reported_and_ctrl_c_waits_for_runs(sandbox, project):
    srv = Server(sandbox, project)
    boom = "mfns.looped.%s.explode" % user_branch(sandbox)
    assert srv.post({"name": boom, "payload": {}}) == 200
    srv.wait_for(r"^%s: started BoomFlow/\d+" % re.escape(boom))
    param = "mfns.looped.%s.param_evt" % user_branch(sandbox)
    srv.post({"name": param, "payload": {"a_key": "late"}})
    line = srv.wait_for(r"^%s: started ParamFlow/\d+" % re.escape(param))
    pathspec = re.search(r"(ParamFlow/\d+)", line).group(1)
    # Ctrl-C while ParamFlow runs: the server stops listening but waits for it.
    assert srv.stop() == 0
    out = "\n".join(srv.seen)
    assert re.search(r"BoomFlow/\d+ FAILED \(exit 1\): .*boom on purpose", out), out
    assert out.index("%s finished" % pathspec) < out.index("stopped")


def cli(sandbox, project, *args, ok=True):
    run = sandbox.run_ok if ok else sandbox.run
    return run(["-m", "flowproject.cli", *args], cwd=project)


def test_trigger_runs_downstream_with_a_given_value(sandbox, project):
    proc = cli(sandbox, project, "trigger", "flows/downstream.flow.py", "--value", '{"rows": 42}')
    assert "as if mfns.looped.%s.watched_changed had triggered it" % user_branch(sandbox) in proc.stdout
    art = artifacts(sandbox, project, "DownstreamFlow/%s" % run_id_of(proc), ["sensor_input"])
    assert art == {"sensor_input": {"rows": 42}}


def test_trigger_maps_payload_to_parameters_in_a_test_branch(sandbox, project):
    proc = cli(
        sandbox,
        project,
        "trigger",
        "flows/param.flow.py",
        "--branch",
        "test.feat",
        "--payload",
        '{"a_key": "via payload"}',
    )
    pathspec = "ParamFlow/%s" % run_id_of(proc)
    art = artifacts(sandbox, project, pathspec, ["seen_alpha", "trigger_name"])
    assert art == {"seen_alpha": "via payload", "trigger_name": "mfns.looped.test.feat.param_evt"}
    tags = sandbox.client("namespace(None)\nresult = sorted(Run(%r).tags)" % pathspec, cwd=project)
    assert "project_branch:test.feat" in tags


def test_trigger_refuses_bad_input_in_one_line(sandbox, project):
    shutil.copy(REPO / "flows" / "hello.flow.py", project / "flows" / "hello.flow.py")
    for args, expected in (
        (["flows/hello.flow.py", "--value", "1"], "HelloFlow has no @trigger or @on_sensor_event"),
        (["flows/downstream.flow.py", "--value", "{oops"], "--value: not JSON"),
        (["flows/downstream.flow.py", "--payload", "[1]"], "--payload: expected a JSON object"),
        (["flows/downstream.flow.py", "--branch", "feature"], "not a Metaflow project branch"),
    ):
        proc = cli(sandbox, project, "trigger", *args, ok=False)
        assert proc.returncode == 2, proc.stderr
        assert expected in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_readme_manual_form_without_the_tool(sandbox, project):
    # docs/local-loop.md: "Without the tool, the same run is METAFLOW_ARGO_EVENT_PAYLOAD_event_x=... run".
    name = "mfns.looped.%s.watched_changed" % user_branch(sandbox)
    payload = json.dumps({"name": name, "new_value": [1, 2]})
    proc = sandbox.run_ok(
        ["flows/downstream.flow.py", "run"], cwd=project, env={"METAFLOW_ARGO_EVENT_PAYLOAD_event_x": payload}
    )
    art = artifacts(sandbox, project, "DownstreamFlow/%s" % run_id_of(proc), ["sensor_input"])
    assert art == {"sensor_input": [1, 2]}


def test_serve_on_a_busy_port_is_one_line(sandbox, project):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = cli(sandbox, project, "events", "serve", "--port", str(port), ok=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: cannot listen on 127.0.0.1:%d: Address already in use" % port
