"""[environments.<name>] overlays: chosen by the run's Metaflow branch, recorded, validated."""

from __future__ import annotations

import base64
import json
import re

import pytest
from conftest import run_id_of, sensor_project, write_project

from flowproject import cli, config
from flowproject.errors import ConfigError

ENV_FLOW = """
from metaflow import Parameter, current, step
from flowproject import BaseFlow


class EnvFlow(BaseFlow):
    alpha = Parameter("alpha", default=1)

    @step
    def start(self):
        self.alpha_seen = self.alpha
        self.event_name = self.flowconfig.sensor.event_name
        self.next(self.end)

    @step
    def end(self):
        # A later task process reads the same (snapshotted) environment.
        self.end_event_name = self.flowconfig.sensor.event_name


if __name__ == "__main__":
    EnvFlow()
"""

TOML = """
project_name = "envdemo"

[sensor]
event_name = "base_event"

[flows.EnvFlow.parameters]
alpha = 1

[deploy]
environments = { "release/*" = "staging" }

[environments.production.sensor]
event_name = "prod_event"

[environments.production.flows.EnvFlow.parameters]
alpha = 100

[environments.branch.sensor]
event_name = "branch_event"

[environments.staging.flows.EnvFlow]
tags = ["stage"]

[environments.staging.flows.EnvFlow.parameters]
alpha = 50
"""


def recorded(sandbox, run_id: str):
    return sandbox.client(
        """
        namespace(None)
        r = Run("EnvFlow/%s")
        result = [r.data.flowproject_environment, r.data.alpha_seen, r.data.event_name,
                  r.data.end_event_name, sorted(t for t in r.user_tags if t.startswith(("environment:", "stage")))]
        """
        % run_id
    )


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path / "p", TOML, {"env.flow.py": ENV_FLOW})


@pytest.mark.parametrize(
    "flags,env,expected",
    [
        ([], {}, ["user", 1, "base_event", "base_event", ["environment:user"]]),
        (["--branch", "feat"], {}, ["branch", 1, "branch_event", "branch_event", ["environment:branch"]]),
        (["--production"], {}, ["production", 100, "prod_event", "prod_event", ["environment:production"]]),
        # ./deploy hands the git branch to the flow process; [deploy] environments maps it.
        (
            ["--branch", "release_1"],
            {"FLOWPROJECT_GIT_BRANCH": "release/1"},
            ["staging", 50, "base_event", "base_event", ["environment:staging", "stage"]],
        ),
        # Without it the --branch name itself is matched.
        (["--branch", "release_1"], {}, ["branch", 1, "branch_event", "branch_event", ["environment:branch"]]),
    ],
    ids=["user", "branch", "production", "mapped_git_branch", "unmapped_branch"],
)
def test_the_metaflow_branch_picks_the_overlay(sandbox, project, flags, env, expected):
    proc = sandbox.run_ok([project / "flows" / "env.flow.py", *flags, "run"], cwd=project, env=env)
    assert recorded(sandbox, run_id_of(proc)) == expected


def test_runner_with_production_picks_the_overlay(sandbox, project):
    # metaflow.Runner puts top-level options (production=True) on the command line it
    # launches, where the config is parsed.
    script = (
        "from metaflow import Runner\n"
        "with Runner(%r, production=True, cwd=%r).run() as running:\n"
        "    print('@@' + running.run.id)\n" % (str(project / "flows" / "env.flow.py"), str(project))
    )
    proc = sandbox.run_ok(["-c", script], cwd=project)
    run_id = [line for line in proc.stdout.splitlines() if line.startswith("@@")][-1][2:]
    assert recorded(sandbox, run_id)[:3] == ["production", 100, "prod_event"]


def test_validate_env_prints_the_resolved_config(project, capsys):
    assert cli.main(["validate", "--env", "production", str(project / "flowproject.toml")]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert resolved["environment"] == "production"
    assert resolved["sensor"]["event_name"] == "prod_event"
    assert resolved["flows"]["EnvFlow"]["parameters"] == {"alpha": 100}
    # The resolved config is itself a valid config that keeps its environment.
    again = config.parse_text(json.dumps(resolved), "resolved.json")
    assert again == resolved
    assert cli.main(["validate", "--env", "staging", str(project / "flowproject.toml")]) == 0
    assert json.loads(capsys.readouterr().out)["flows"]["EnvFlow"]["tags"] == ["stage"]
    assert cli.main(["validate", "--env", "stagin", str(project / "flowproject.toml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: %s: environment: unknown environment 'stagin'; defined: branch, production, staging, user" % (
        config.display_path(project / "flowproject.toml")
    )


@pytest.mark.parametrize(
    "extra,expected",
    [
        (
            "[environments.production.data]\npth = 'x'\n",
            "environments.production.data.pth: unknown key; known keys: type, check_mode, path",
        ),
        (
            "[environments.staging]\nproject_name = 'other'\n",
            "environments.staging.project_name: not allowed in an overlay; allowed keys: data, sensor, deploy, getters, launch, flows",
        ),
        (
            "[environments.production.data]\ncheck_mode = 'sometimes'\n",
            "environments.production.data.check_mode: expected one of files_metadata, file_modified_ts, file_size; got 'sometimes'",
        ),
        (
            "[environments.production.flows.EnvFlow]\ntimezone = 'Nowhere/Land'\n",
            "environments.production.flows.EnvFlow.timezone: expected an IANA time zone like 'Europe/Paris'; got 'Nowhere/Land'",
        ),
        (
            "[environments.qa.deploy]\nenvironments = { 'x' = 'qa' }\n",
            "environments.qa.deploy.environments: unknown key; known keys: production_branches",
        ),
        (
            "[environments.production.flows.EnvFlow]\ndecorator = []\n",
            "environments.production.flows.EnvFlow.decorator: unknown key; known keys: parameters, tags",
        ),
    ],
    ids=["unknown_data_key", "project_name", "bad_value", "bad_flow_value", "mapping_in_overlay", "unknown_flow_key"],
)
def test_a_bad_overlay_fails_like_the_top_level(tmp_path, extra, expected):
    path = tmp_path / "flowproject.toml"
    path.write_text(TOML + extra)
    with pytest.raises(ConfigError) as err:
        config.load(path, environment="production")
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith("%s: %s" % (config.display_path(path), expected)), text


def test_a_mapping_to_an_undefined_environment_is_an_error(tmp_path):
    path = tmp_path / "flowproject.toml"
    path.write_text(TOML.replace('"staging" }', '"stagign" }'))
    with pytest.raises(ConfigError, match=r'deploy.environments."release/\*": expected an environment name'):
        config.load(path)


def test_a_bad_overlay_stops_a_run_before_any_step(sandbox, project):
    (project / "flowproject.toml").write_text(TOML + "[environments.user.sensor]\nevent_name = 'not valid!'\n")
    proc = sandbox.run([project / "flows" / "env.flow.py", "run"], cwd=project)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "flowproject.toml: environments.user.sensor.event_name: expected a name of" in out
    assert "Task is starting" not in out and "Traceback" not in out


def test_sensor_card_shows_the_environment(sandbox, tmp_path):
    toml = """
project_name = "sensed"
[data]
type = "local"
path = "watched"
[sensor]
card = true
[environments.branch.sensor]
event_name = "branch_changed"
"""
    root = sensor_project(tmp_path / "proj", toml, "1\n")
    run_id = run_id_of(sandbox.run_ok(["flows/sensor.flow.py", "--branch", "feat", "run"], cwd=root))
    html_path = tmp_path / "card.html"
    sandbox.run_ok(
        [
            "flows/sensor.flow.py",
            "--branch",
            "feat",
            "card",
            "get",
            "%s/start" % run_id,
            "--id",
            "sensor",
            str(html_path),
        ],
        cwd=root,
    )
    data = re.search(r'window.__MF_DATA__\["[^"]+"\] = "([^"]+)"', html_path.read_text()).group(1)
    content = base64.b64decode(data).decode("utf-8")
    assert re.search(r'"Environment",\s*"branch"', content), content[:2000]


@pytest.mark.parametrize(
    "git_branch,environment,alpha,event",
    [
        ("main", "production", "100", "prod_event"),
        ("release/1", "staging", "50", "base_event"),
        ("feat/x", "branch", "1", "branch_event"),
    ],
)
def test_deploy_renders_each_branch_with_its_environment(
    sandbox, project, tmp_path, s3_server, git_branch, environment, alpha, event
):
    from deploying import ARGO_EVENTS_ENV

    env = dict(
        s3_server.env,
        METAFLOW_DEFAULT_DATASTORE="s3",
        METAFLOW_DATASTORE_SYSROOT_S3="s3://%s/metaflow" % s3_server.new_bucket("envs"),
        **ARGO_EVENTS_ENV,
    )
    out = tmp_path / "rendered"
    proc = sandbox.run_ok(
        ["-m", "flowproject.cli", "deploy", "--json", "--branch", git_branch, "--only-json", str(out)],
        cwd=project,
        env=env,
    )
    assert [r["status"] for r in json.loads(proc.stdout)] == ["ok"]
    template = json.loads((out / "EnvFlow.json").read_text())
    annotations = template["metadata"]["annotations"]
    assert "environment:%s" % environment in json.loads(annotations["metaflow/tags"])
    params = {p["name"]: p["value"] for p in template["spec"]["arguments"]["parameters"]}
    assert params["alpha"] == alpha
    # The config snapshot pods get (inside the code package) is that environment's.
    snapshot = code_package_config(s3_server, template)
    assert snapshot["environment"] == environment
    assert snapshot["sensor"]["event_name"] == event


def code_package_config(s3_server, template: dict) -> dict:
    import io
    import tarfile

    url = re.search(r'"METAFLOW_CODE_URL", "value": "([^"]+)"', json.dumps(template)).group(1)
    bucket, key = url[len("s3://") :].split("/", 1)
    blob = s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            text = tar.extractfile(member).read().decode("utf-8", "replace")
            if '"flowconfig"' in text and '"project_name"' in text:
                return json.loads(text)["user_configs"]["flowconfig"][0]
        raise AssertionError("no config in the code package: %s" % [m.name for m in tar.getmembers()][:50])
