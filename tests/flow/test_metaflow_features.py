"""Metaflow's own features keep working on a BaseFlow subclass."""

from __future__ import annotations

import json

import pytest
from conftest import run_id_of, write_project

FEATURE_FLOW = """
import os
from metaflow import card, current, step
from flowproject import BaseFlow


class FeatureFlow(BaseFlow):
    @card
    @step
    def start(self):
        self.event_name = self.flowconfig.sensor.event_name
        self.items = [1, 2, 3]
        self.next(self.square, foreach="items")

    @step
    def square(self):
        if os.environ.get("FLAKY") and current.retry_count == 0:
            raise RuntimeError("flaky on the first attempt")
        self.squared = self.input ** 2
        self.next(self.join)

    @step
    def join(self, inputs):
        if os.environ.get("FAIL_JOIN"):
            raise RuntimeError("join fails until fixed")
        self.total = sum(i.squared for i in inputs)
        self.event_name = inputs[0].event_name
        self.next(self.end)

    @step
    def end(self):
        print("TOTAL", self.total, "EVENT", self.event_name)


if __name__ == "__main__":
    FeatureFlow()
"""

TOML = 'project_name = "features"\n[sensor]\nevent_name = "original"\n'


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path / "proj", TOML, {"feature.flow.py": FEATURE_FLOW})


def test_foreach_runs_on_a_baseflow(sandbox, project):
    proc = sandbox.run_ok(["flows/feature.flow.py", "run"], cwd=project)
    assert "TOTAL 14 EVENT original" in proc.stdout


def test_resume_reloads_the_origin_config_and_refuses_config(sandbox, project, tmp_path):
    failed = sandbox.run(["flows/feature.flow.py", "run"], cwd=project, env={"FAIL_JOIN": "1"})
    assert failed.returncode != 0 and "join fails until fixed" in failed.stdout + failed.stderr
    other = tmp_path / "other.toml"
    other.write_text(TOML.replace("original", "other"))
    refused = sandbox.run(["flows/feature.flow.py", "--config", "flowconfig", str(other), "resume"], cwd=project)
    assert refused.returncode != 0
    assert "Cannot specify --config or --config-value with 'resume'" in refused.stderr
    (project / "flowproject.toml").write_text(TOML.replace("original", "edited_later"))
    resumed = sandbox.run_ok(["flows/feature.flow.py", "resume"], cwd=project)
    # The origin run's config values come back, not the edited file's.
    assert "TOTAL 14 EVENT original" in resumed.stdout
    assert "Gathering required information to resume run" in resumed.stdout + resumed.stderr


def test_retry_decorator_from_the_command_line(sandbox, project):
    proc = sandbox.run_ok(["flows/feature.flow.py", "run", "--with", "retry"], cwd=project, env={"FLAKY": "1"})
    run_id = run_id_of(proc)
    attempts = sandbox.client(
        "namespace(None)\nresult = sorted(t.current_attempt for t in Step('FeatureFlow/%s/square'))" % run_id
    )
    assert attempts == [1, 1, 1]


def test_card_get_renders_the_start_card(sandbox, project, tmp_path):
    run_id = run_id_of(sandbox.run_ok(["flows/feature.flow.py", "run"], cwd=project))
    out = tmp_path / "card.html"
    sandbox.run_ok(["flows/feature.flow.py", "card", "get", "%s/start" % run_id, str(out)], cwd=project)
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "__MF_DATA__" in html


def test_show_and_output_dot_describe_the_graph(sandbox, project):
    show = sandbox.run_ok(["flows/feature.flow.py", "show"], cwd=project)
    for step_name in ("start", "square", "join", "end"):
        assert "Step %s" % step_name in show.stdout
    dot = sandbox.run_ok(["flows/feature.flow.py", "output-dot"], cwd=project)
    assert dot.stdout.lstrip().startswith("digraph") and "start -> square" in dot.stdout


def test_argo_template_of_a_foreach_flow(sandbox, project, s3_server):
    from hera.workflows.models import WorkflowTemplate

    bucket = s3_server.new_bucket("features")
    env = s3_server.datastore_env(bucket)
    proc = sandbox.run_ok(
        ["flows/feature.flow.py", "--branch", "x", "argo-workflows", "create", "--only-json"], cwd=project, env=env
    )
    template = json.loads(proc.stdout)
    WorkflowTemplate.model_validate(template)
    names = {t["name"] for t in template["spec"]["templates"]}
    assert {"start", "square", "join", "end"} <= names
    dag = json.dumps(template["spec"]["templates"])
    assert "withParam" in dag  # the foreach fan-out
    assert template["metadata"]["annotations"]["metaflow/branch_name"] == "test.x"
