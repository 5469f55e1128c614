"""[flows.<FlowName>]: parameter defaults, tags, step decorators, schedule, deploy_branches.

Every test runs real flows (or renders real Argo templates with moto's S3).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import run_id_of, two_step_flow, write_project

OPT_FLOW = """
from metaflow import JSONType, Parameter, current, step
from flowproject import BaseFlow


class OptFlow(BaseFlow):
    alpha = Parameter("alpha", default=1)
    ratio = Parameter("ratio", type=float, default=0.5)
    label = Parameter("label", default="none")
    spec = Parameter("spec", type=JSONType, default='{}')

    @step
    def start(self):
        self.seen = {"alpha": self.alpha, "ratio": self.ratio, "label": self.label, "spec": self.spec}
        self.attempt = current.retry_count
        if current.retry_count == 0 and self.label == "flaky":
            raise RuntimeError("first attempt fails on purpose")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    OptFlow()
"""


OPTIONS = """
project_name = "demo"

[flows.OptFlow]
tags = ["team:ml", "cost:low"]
decorators = ["retry:times=2,minutes_between_retries=0"]

[flows.OptFlow.parameters]
alpha = 7
ratio = 2
label = "flaky"
spec = { depth = 3 }
"""


def seen(sandbox, run_id: str, flow: str = "OptFlow"):
    return sandbox.client(
        "namespace(None)\nr = Run('%s/%s')\nresult = [r['start'].task.data.seen, r['start'].task.data.attempt, sorted(r.user_tags)]"
        % (flow, run_id)
    )


def test_parameter_defaults_tags_and_decorators_apply_to_a_plain_run(sandbox, tmp_path):
    project = write_project(tmp_path / "p", OPTIONS, {"opt.flow.py": OPT_FLOW})
    proc = sandbox.run_ok([project / "flows" / "opt.flow.py", "run"], cwd=project)
    values, attempt, tags = seen(sandbox, run_id_of(proc))
    assert values == {"alpha": 7, "ratio": 2.0, "label": "flaky", "spec": {"depth": 3}}
    # label = "flaky" fails the first attempt: only the config's @retry lets the run succeed.
    assert attempt == 1
    assert tags == ["cost:low", "team:ml"]


def test_command_line_still_wins_over_config_defaults(sandbox, tmp_path):
    project = write_project(tmp_path / "p", OPTIONS, {"opt.flow.py": OPT_FLOW})
    proc = sandbox.run_ok([project / "flows" / "opt.flow.py", "run", "--alpha", "9", "--label", "steady"], cwd=project)
    values, attempt, _ = seen(sandbox, run_id_of(proc))
    assert (values["alpha"], values["label"], attempt) == (9, "steady", 0)


def test_without_flow_options_nothing_changes(sandbox, tmp_path):
    project = write_project(tmp_path / "p", 'project_name = "demo"\n', {"opt.flow.py": OPT_FLOW})
    proc = sandbox.run_ok([project / "flows" / "opt.flow.py", "run", "--label", "steady"], cwd=project)
    values, _, tags = seen(sandbox, run_id_of(proc))
    assert values == {"alpha": 1, "ratio": 0.5, "label": "steady", "spec": {}}
    assert tags == []


@pytest.mark.parametrize(
    "toml,expected",
    [
        (
            "[flows.OptFlow.parameters]\nalpha = 'five'\n",
            "flows.OptFlow.parameters.alpha: expected a value of the Parameter's type (int); got 'five'",
        ),
        (
            "[flows.OptFlow.parameters]\nalpah = 5\n",
            "flows.OptFlow.parameters.alpah: OptFlow has no such Parameter; its parameters: alpha, label, ratio, spec, test-mode",
        ),
        (
            "[flows.OptFlow.parameters]\nlabel = true\n",
            "flows.OptFlow.parameters.label: expected a value of the Parameter's type (str); got True",
        ),
        (
            "[flows.OptFlow]\ndecorators = ['retry:tims=2']\n",
            "flows.OptFlow.decorators: 'retry:tims=2' is not a valid step decorator (Decorator 'retry' does not "
            "support the attribute 'tims'",
        ),
        (
            "[flows.OptFlow]\ndecorators = ['no_such_decorator']\n",
            "flows.OptFlow.decorators: 'no_such_decorator' is not a valid step decorator (Unknown step decorator",
        ),
        (
            "[flows.OptFlow]\ntimezone = 'Mars/Olympus'\n",
            "flows.OptFlow.timezone: expected an IANA time zone like 'Europe/Paris'; got 'Mars/Olympus'",
        ),
        ("[flows.OptFlow]\ntag = ['x']\n", "flows.OptFlow.tag: unknown key (did you mean 'tags'?)"),
    ],
    ids=[
        "wrong_type",
        "unknown_parameter",
        "bool_for_str",
        "bad_decorator_attribute",
        "unknown_decorator",
        "bad_timezone",
        "unknown_key",
    ],
)
def test_bad_flow_options_fail_in_one_line_before_any_step(sandbox, tmp_path, toml, expected):
    project = write_project(tmp_path / "p", 'project_name = "demo"\n' + toml, {"opt.flow.py": OPT_FLOW})
    proc = sandbox.run([project / "flows" / "opt.flow.py", "run"], cwd=project)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    line = [line.strip() for line in out.splitlines() if "flowproject.toml: flows.OptFlow" in line]
    assert line and line[0].startswith("flowproject.toml: " + expected), out[-2000:]
    assert "Traceback" not in out
    assert "Workflow starting" not in out and "Task is starting" not in out


# -- the deploy side: what lands in the Argo template ---------------------------------------------------


DEPLOY_OPTIONS = """
project_name = "demo"

[flows.OptFlow]
tags = ["team:ml"]
decorators = ["retry:times=3", "kubernetes:cpu=2,memory=8000"]

[flows.OptFlow.parameters]
alpha = 42
label = "from-config"

[flows.TickFlow]
cron_schedule = "5 4 * * *"
timezone = "Europe/Paris"

[flows.HelloFlow]
deploy_branches = ["main", "release/*"]
"""


def git_repo(root: Path, branch: str) -> None:
    def git(*args):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)

    git("init", "-q", "-b", branch)
    git("add", "-A")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "init")


def render(sandbox, project: Path, branch: str, out: Path, env):
    proc = sandbox.run_ok(
        ["-m", "flowproject.cli", "deploy", "--json", "--branch", branch, "--only-json", str(out)], cwd=project, env=env
    )
    return {r["flow"]: r for r in json.loads(proc.stdout)}


@pytest.fixture
def render_env(s3_server):
    from deploying import ARGO_EVENTS_ENV

    bucket = s3_server.new_bucket("flowopts")
    return dict(
        s3_server.env,
        METAFLOW_DEFAULT_DATASTORE="s3",
        METAFLOW_DATASTORE_SYSROOT_S3="s3://%s/metaflow" % bucket,
        **ARGO_EVENTS_ENV,
    )


def test_deployed_template_carries_defaults_tags_decorators_and_schedule(sandbox, tmp_path, render_env):
    project = write_project(
        tmp_path / "p",
        DEPLOY_OPTIONS,
        {
            "opt.flow.py": OPT_FLOW,
            "tick.flow.py": two_step_flow("TickFlow", scheduled=True),
            "hello.flow.py": two_step_flow("HelloFlow"),
        },
    )
    git_repo(project, "main")
    out = tmp_path / "rendered"
    results = render(sandbox, project, "main", out, render_env)
    assert {f: r["status"] for f, r in results.items()} == {"OptFlow": "ok", "TickFlow": "ok", "HelloFlow": "ok"}

    opt = json.loads((out / "OptFlow.json").read_text())
    params = {p["name"]: p["value"] for p in opt["spec"]["arguments"]["parameters"]}
    assert params["alpha"] == "42"
    assert json.loads(params["label"]) == "from-config"
    assert "team:ml" in json.loads(opt["metadata"]["annotations"]["metaflow/tags"])
    steps = {t["name"]: t for t in opt["spec"]["templates"] if t["name"] in ("start", "end")}
    assert set(steps) == {"start", "end"}
    for template in steps.values():
        assert template["retryStrategy"]["limit"] == 3
        assert template["container"]["resources"]["requests"]["cpu"] == "2"
        assert template["container"]["resources"]["requests"]["memory"] == "8000M"

    tick = json.loads((out / "TickFlow.json").read_text())
    assert json.loads(tick["metadata"]["annotations"]["metaflow/cron"]) == {
        "schedule": "5 4 * * *",
        "tz": "Europe/Paris",
    }
    # Flows without options keep Metaflow's defaults.
    assert "team:ml" not in json.loads(tick["metadata"]["annotations"]["metaflow/tags"])
    hello_steps = [
        t for t in json.loads((out / "HelloFlow.json").read_text())["spec"]["templates"] if t["name"] == "start"
    ]
    assert "retryStrategy" not in hello_steps[0]


def test_scheduled_flow_without_options_uses_the_sensor_cron_in_utc(sandbox, tmp_path, render_env):
    toml = 'project_name = "demo"\n[sensor]\ncron_schedule = "7 3 * * 1"\n'
    project = write_project(tmp_path / "p", toml, {"tick.flow.py": two_step_flow("TickFlow", scheduled=True)})
    out = tmp_path / "rendered"
    render(sandbox, project, "feat/x", out, render_env)
    tick = json.loads((out / "TickFlow.json").read_text())
    assert json.loads(tick["metadata"]["annotations"]["metaflow/cron"]) == {"schedule": "7 3 * * 1", "tz": ""}


def test_deploy_branches_skip_a_flow_elsewhere_and_say_so(sandbox, tmp_path):
    project = write_project(
        tmp_path / "p", DEPLOY_OPTIONS, {"opt.flow.py": OPT_FLOW, "hello.flow.py": two_step_flow("HelloFlow")}
    )
    git_repo(project, "main")
    proc = sandbox.run_ok(["-m", "flowproject.cli", "deploy", "--dry-run", "--branch", "feat/x"], cwd=project)
    assert "skipped: git branch 'feat/x' is not in [flows.HelloFlow] deploy_branches (main, release/*)" in proc.stdout
    assert "hello.flow.py --branch" not in proc.stdout
    assert "opt.flow.py --branch feat_x" in proc.stdout
    for branch in ("main", "release/2.0"):
        proc = sandbox.run_ok(
            ["-m", "flowproject.cli", "deploy", "--json", "--dry-run", "--branch", branch], cwd=project
        )
        assert {r["flow"]: r["status"] for r in json.loads(proc.stdout)} == {
            "HelloFlow": "planned",
            "OptFlow": "planned",
        }
    proc = sandbox.run_ok(["-m", "flowproject.cli", "deploy", "--json", "--dry-run", "--branch", "feat/x"], cwd=project)
    rows = {r["flow"]: r for r in json.loads(proc.stdout)}
    assert rows["HelloFlow"]["status"] == "skipped" and rows["HelloFlow"]["command"] == []
    # The per-flow tags ride on argo-workflows create --tag.
    assert rows["OptFlow"]["command"][-2:] == ["--tag", "team:ml"]
