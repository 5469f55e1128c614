"""Launch-time hooks: called once in the launching process, snapshotted for every task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_id_of, two_step_flow, write_project

from flowproject import config
from flowproject.errors import ConfigError

HOOK_MODULE = '''
import os


def stamp(prefix, log):
    """Records which process called it, and returns a value only that call could know."""
    with open(log, "a") as f:
        f.write("%d\\n" % os.getpid())
    return "%s-%d" % (prefix, os.getpid())


def data_dir(name, log):
    stamp("data", log)
    return name


def boom():
    raise ValueError("the warehouse is closed")
'''

HOOKED_FLOW = """
import os
from metaflow import Parameter, step
from flowproject import BaseFlow


class HookedFlow(BaseFlow):
    token = Parameter("token", default="unset")

    @step
    def start(self):
        self.start_token = self.token
        self.start_pid = os.getpid()
        self.data_path = self.flowconfig.data.path
        self.next(self.end)

    @step
    def end(self):
        self.end_token = self.token
        self.end_pid = os.getpid()


if __name__ == "__main__":
    HookedFlow()
"""


def hooked_project(root: Path, log: Path, extra: str = "") -> Path:
    toml = (
        f"""
project_name = "hooks"

[data]
type = "local"
path = {{ hook = "hookmods.stamps:data_dir", args = ["watched"], kwargs = {{ log = "{log}" }} }}

[flows.HookedFlow.parameters]
token = {{ hook = "hookmods.stamps:stamp", args = ["tok"], kwargs = {{ log = "{log}" }} }}
"""
        + extra
    )
    project = write_project(root, toml, {"hooked.flow.py": HOOKED_FLOW, "other.flow.py": two_step_flow("OtherFlow")})
    (project / "hookmods").mkdir()
    (project / "hookmods" / "__init__.py").write_text("")
    (project / "hookmods" / "stamps.py").write_text(HOOK_MODULE)
    return project


def test_a_hook_runs_once_in_the_launching_process_and_tasks_see_its_value(sandbox, tmp_path):
    log = tmp_path / "calls.log"
    project = hooked_project(tmp_path / "p", log)
    proc = sandbox.run_ok([project / "flows" / "hooked.flow.py", "run"], cwd=project)
    data = sandbox.client(
        "namespace(None)\nr = Run('HookedFlow/%s')\n"
        "s, e = r['start'].task.data, r['end'].task.data\n"
        "result = [s.start_token, e.end_token, s.start_pid, e.end_pid, s.data_path]" % run_id_of(proc)
    )
    start_token, end_token, start_pid, end_pid, data_path = data
    calls = log.read_text().split()
    # One call per hook ([data] path and the parameter), both in the same process...
    assert len(calls) == 2 and len(set(calls)) == 1
    launcher = int(calls[0])
    # ...which is neither task process: the tasks read the snapshotted values.
    assert launcher not in (start_pid, end_pid)
    assert start_token == end_token == "tok-%d" % launcher
    assert data_path == str(project / "watched")


def test_hooks_of_other_flows_are_not_called(sandbox, tmp_path):
    log = tmp_path / "calls.log"
    project = hooked_project(tmp_path / "p", log)
    sandbox.run_ok([project / "flows" / "other.flow.py", "run"], cwd=project)
    # Only the [data] hook: OtherFlow has no [flows.OtherFlow] parameters.
    assert len(log.read_text().split()) == 1


def test_deploy_calls_the_hook_in_the_flow_process_and_freezes_the_value(sandbox, tmp_path, s3_server):
    from deploying import ARGO_EVENTS_ENV

    log = tmp_path / "calls.log"
    project = hooked_project(tmp_path / "p", log)
    bucket = s3_server.new_bucket("hooks")
    env = dict(s3_server.datastore_env(bucket), **ARGO_EVENTS_ENV)
    out = tmp_path / "rendered"
    proc = sandbox.run_ok(
        ["-m", "flowproject.cli", "deploy", "--json", "--jobs", "1", "--branch", "main", "--only-json", str(out)],
        cwd=project,
        env=env,
    )
    assert [r["status"] for r in json.loads(proc.stdout)] == ["ok", "ok"]
    calls = log.read_text().split()
    # HookedFlow's process: [data] and token; OtherFlow's process: [data] only;
    # ./deploy's own process: none.
    assert len(calls) == 3
    template = json.loads((out / "HookedFlow.json").read_text())
    params = {p["name"]: p["value"] for p in template["spec"]["arguments"]["parameters"]}
    token = json.loads(params["token"])
    assert token.startswith("tok-") and token[len("tok-") :] in calls
    # The value is in the config snapshot the pods get, too.
    assert "tok-" in json.dumps(template)


@pytest.mark.parametrize(
    "value,expected",
    [
        (
            '{ hook = "hookmods.missing:f" }',
            "flows.HookedFlow.parameters.token: hook hookmods.missing:f cannot be imported: ModuleNotFoundError: "
            "No module named 'hookmods.missing'",
        ),
        (
            '{ hook = "hookmods.stamps:nope" }',
            "flows.HookedFlow.parameters.token: hook hookmods.stamps:nope cannot be imported: AttributeError: "
            "module 'hookmods.stamps' has no function 'nope'",
        ),
        (
            '{ hook = "hookmods.stamps:boom" }',
            "flows.HookedFlow.parameters.token: hook hookmods.stamps:boom raised ValueError: the warehouse is closed",
        ),
        (
            '{ hook = "hookmods.stamps" }',
            "flows.HookedFlow.parameters.token.hook: expected 'package.module:function'; got 'hookmods.stamps'",
        ),
        (
            '{ hook = "hookmods.stamps:boom", arg = [] }',
            "flows.HookedFlow.parameters.token.arg: unknown key in a hook table; known keys: hook, args, kwargs",
        ),
    ],
    ids=["missing_module", "missing_function", "raises", "no_function", "unknown_key"],
)
def test_a_broken_hook_is_one_line_naming_key_and_hook(tmp_path, value, expected):
    log = tmp_path / "calls.log"
    project = hooked_project(tmp_path / "p", log)
    path = project / "flowproject.toml"
    text = path.read_text()
    start = text.index("token = ")
    path.write_text(text[:start] + "token = " + value + "\n")
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert str(err.value) == "%s: %s" % (config.display_path(path), expected)


def test_a_raising_hook_stops_the_run_before_any_step(sandbox, tmp_path):
    log = tmp_path / "calls.log"
    project = hooked_project(tmp_path / "p", log)
    path = project / "flowproject.toml"
    path.write_text(
        path.read_text().replace(
            '"hookmods.stamps:stamp", args = ["tok"], kwargs = { log = "%s" }' % log, '"hookmods.stamps:boom"'
        )
    )
    proc = sandbox.run([project / "flows" / "hooked.flow.py", "run"], cwd=project)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert (
        "flowproject.toml: flows.HookedFlow.parameters.token: hook hookmods.stamps:boom raised ValueError: the warehouse is closed"
        in out
    )
    assert "Task is starting" not in out and "Traceback" not in out


def test_a_hook_cannot_decide_the_data_type(tmp_path):
    path = tmp_path / "flowproject.toml"
    path.write_text('project_name = "x"\n[data]\ntype = { hook = "os:getcwd" }\n')
    with pytest.raises(ConfigError, match="data.type: cannot be a hook"):
        config.load(path)


def test_a_hook_result_is_checked_like_a_written_value(tmp_path):
    path = tmp_path / "flowproject.toml"
    path.write_text('project_name = "x"\n[data]\ntype = "s3"\nbucket = { hook = "os:getpid" }\nkey = "k"\n')
    with pytest.raises(ConfigError, match=r"data.bucket: expected a non-empty string; got \d+"):
        config.load(path)
