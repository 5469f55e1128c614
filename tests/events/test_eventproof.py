"""No event sets test_mode on Argo (issue 17): the Sensor Metaflow renders, and a step run
with the environment an Argo pod gives it."""

from __future__ import annotations

import json
import re

import pytest
from conftest import run_id_of, write_project
from deploying import ARGO_EVENTS_ENV

TOML = """
project_name = "proofed"
[data]
type = "local"
path = "data"
[sensor]
event_name = "data_changed"
"""


def flow(name: str, decorator: str, params: str = "", imports: str = "") -> str:
    return """
from metaflow import Parameter, step, trigger
from flowproject import BaseFlow, on_sensor_event
%s

%s
class %s(BaseFlow):
%s

    @step
    def start(self):
        self.mode = self.test_mode
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    %s()
""" % (imports, decorator, name, params or "    pass", name)


FLOWS = {
    "sensed.flow.py": flow("SensedFlow", "@on_sensor_event", '    rows = Parameter("rows", default=0)'),
    "plain.flow.py": flow(
        "PlainFlow",
        '@trigger(event="plain_evt")',
        '    alpha = Parameter("alpha", default="a")\n    beta = Parameter("beta_2", default=2)',
    ),
    "bare.flow.py": flow("BareFlow", "@on_sensor_event"),
    "dashed.flow.py": flow("DashedFlow", '@trigger(event="dashed_evt")', '    most = Parameter("max-rows", default=5)'),
}

# Prints the Sensor beside the WorkflowTemplate: `--only-json` prints the template alone.
RENDER = """
import json, runpy, sys
from metaflow.plugins.argo import argo_workflows as aw

def both(self):
    sensor = self._sensor.to_json() if self._sensor else None
    return json.dumps({"template": self._workflow_template.to_json(), "sensor": sensor})

aw.ArgoWorkflows.__str__ = both
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.fixture
def project(tmp_path):
    root = write_project(tmp_path / "p", TOML, FLOWS)
    (root / "data").mkdir()
    return root


def sensor_mapping(sandbox, project, s3_server, flow_file):
    """{parameter: payload key} of the rendered Sensor (`argo-workflows create --only-json`)."""
    bucket = s3_server.new_bucket("proof")
    env = dict(s3_server.datastore_env(bucket), **ARGO_EVENTS_ENV)
    args = ["-c", RENDER, flow_file, "--branch", "x", "argo-workflows", "create", "--only-json"]
    proc = sandbox.run_ok(args, cwd=project, env=env)
    rendered = json.loads(proc.stdout[proc.stdout.index("{") :])
    (trig,) = rendered["sensor"]["spec"]["triggers"]
    out = {}
    for p in trig["template"]["k8s"]["parameters"]:
        name = re.fullmatch(r"spec\.arguments\.parameters\.#\(name=(.+)\)\.value", p["dest"]).group(1)
        template = p["src"]["dataTemplate"]
        out[name] = (
            re.match(r'\{\{ if \(hasKey \$\.Input\.body\.payload "([^"]+)"\)', template).group(1) if template else None
        )
    return out


def test_the_rendered_sensor_maps_every_parameter_but_test_mode(sandbox, project, s3_server):
    sensed = sensor_mapping(sandbox, project, s3_server, "flows/sensed.flow.py")
    # Metaflow's automatic mapping, minus test-mode: the same keys fill the same parameters.
    assert {k: v for k, v in sensed.items() if v} == {"rows": "rows"}
    plain = sensor_mapping(sandbox, project, s3_server, "flows/plain.flow.py")
    assert {k: v for k, v in plain.items() if v} == {"alpha": "alpha", "beta_2": "beta_2"}
    assert "test-mode" not in sensed and "test-mode" not in plain


def test_where_metaflow_cannot_pin_the_mapping_it_stays_as_before(sandbox, project, s3_server):
    # Metaflow refuses a mapped key with "-" and reads an empty mapping as none: these keep
    # the automatic mapping (test-mode included), and the run-time check below guards them.
    dashed = sensor_mapping(sandbox, project, s3_server, "flows/dashed.flow.py")
    assert {k: v for k, v in dashed.items() if v} == {"max-rows": "max-rows", "test-mode": "test-mode"}
    bare = sensor_mapping(sandbox, project, s3_server, "flows/bare.flow.py")
    assert {k: v for k, v in bare.items() if v} == {"test-mode": "test-mode"}


def pod_run(sandbox, project, flow_file, payload):
    """A local run with what an Argo pod's steps get: ARGO_WORKFLOW_TEMPLATE and the payload."""
    env = {
        "ARGO_WORKFLOW_TEMPLATE": "proofed.user.x",
        "METAFLOW_ARGO_EVENT_PAYLOAD_event_mfnsproofed_abcd": json.dumps(payload),
    }
    return sandbox.run([flow_file, "run"], cwd=project, env=env)


def test_a_payload_with_the_mapped_key_fails_the_deployed_run_in_one_line(sandbox, project):
    name = "mfns.proofed.user.%s.data_changed" % sandbox.env["METAFLOW_USER"]
    proc = pod_run(sandbox, project, "flows/bare.flow.py", {"name": name, "test-mode": False})
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    line = "BareFlow: event %s carries payload key 'test-mode', which this flow's Argo Sensor maps" % name
    assert line in out and "Traceback" not in out, out[-3000:]
    # Pinned: the Sensor does not map the key, so the same payload is harmless there.
    ok = pod_run(sandbox, project, "flows/sensed.flow.py", {"name": name, "test-mode": False})
    assert ok.returncode == 0, ok.stderr[-3000:]


def test_a_mapping_that_names_test_mode_is_refused_in_one_line(sandbox, project):
    decorator = '@trigger(event={"name": "x", "parameters": {"test-mode": "mode"}})'
    (project / "flows" / "mapped.flow.py").write_text(flow("MappedFlow", decorator))
    proc = sandbox.run(["flows/mapped.flow.py", "show"], cwd=project)
    assert proc.returncode != 0
    assert "MappedFlow: @trigger maps payload key 'mode' to test-mode" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_locally_the_same_payloads_end_the_same_way(sandbox, project):
    """`flowproject trigger` (as `events serve`): the laptop behaves as the deployed Sensor."""
    cli = ["-m", "flowproject.cli", "trigger"]
    bare = sandbox.run([*cli, "flows/bare.flow.py", "--payload", '{"test-mode": false}'], cwd=project)
    assert bare.returncode != 0
    assert "BareFlow: event mfns.proofed.user." in bare.stdout + bare.stderr
    assert "carries payload key 'test-mode'" in bare.stdout + bare.stderr
    sensed = sandbox.run_ok([*cli, "flows/sensed.flow.py", "--payload", '{"test-mode": false, "rows": 3}'], cwd=project)
    code = "namespace(None)\nd = Run('SensedFlow/%s').data\nresult = [d.mode, d.rows]" % run_id_of(sensed)
    assert sandbox.client(code, cwd=project) == [True, 3]
