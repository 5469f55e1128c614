"""``[getters] read_branch``: a branch's getters read another branch on purpose, while the
run writes its own namespace, and its lineage says which branch it read."""

from __future__ import annotations

import json

from conftest import run_id_of, write_project
from flow_sources import base_flow

from flowproject.cli.main import main

TOML = """
project_name = "rb"
[data]
type = "local"
path = "watched"

# Feature-branch runs read production's results...
[environments.branch.getters]
read_branch = "prod"

# ...and, to show the per-producer key wins, production reads ProducerFlow from test.x.
[environments.production.getters.ProducerFlow]
read_branch = "test.x"
"""

PRODUCER = base_flow("ProducerFlow", "self.made_in = current.branch_name", metaflow="current, step")

CONSUMER = base_flow(
    "ConsumerFlow",
    """
    self.got = self.get_artifact("ProducerFlow", "made_in")
    # The module-level getter reads the running flow's config too.
    self.latest = latest_successful_run("ProducerFlow").pathspec
    self.own = current.branch_name
    """,
    metaflow="current, step",
    flowproject="BaseFlow, latest_successful_run",
)


def test_branch_run_reads_prod_and_production_reads_the_branch(sandbox, metadata, tmp_path):
    root = write_project(tmp_path / "proj", TOML, {"producer.flow.py": PRODUCER, "consumer.flow.py": CONSUMER})
    (root / "watched").mkdir()
    producer, consumer = root / "flows" / "producer.flow.py", root / "flows" / "consumer.flow.py"
    prod = run_id_of(sandbox.run_ok([producer, "--production", "run"], cwd=root))
    branch = run_id_of(sandbox.run_ok([producer, "--branch", "x", "run"], cwd=root))
    in_branch = run_id_of(sandbox.run_ok([consumer, "--branch", "x", "run"], cwd=root))
    in_prod = run_id_of(sandbox.run_ok([consumer, "--production", "run"], cwd=root))
    got = sandbox.client(
        """
        from flowproject.getters.runs import latest_successful_run
        namespace(None)
        result = {}
        for rid in (%r, %r):
            run = Run("ConsumerFlow/" + rid)
            d = run.data
            result[rid] = [d.got, d.latest, d.own, d.lineage_inputs, sorted(t for t in run.system_tags if "branch" in t)]
        result["pointer"] = latest_successful_run("ConsumerFlow", project="rb", branch="test.x").id
        """
        % (in_branch, in_prod)
    )
    prod_run, branch_run = "ProducerFlow/%s" % prod, "ProducerFlow/%s" % branch
    # The --branch x run read production's result through both getters...
    assert got[in_branch][:3] == ["prod", prod_run, "test.x"]
    assert got[in_branch][3] == [
        {"kind": "read", "pathspec": prod_run, "artifacts": ["made_in"], "how": "latest", "branch": "prod"}
    ]
    # ...while it wrote its own namespace: its branch tag and its branch's latest-run pointer.
    assert got[in_branch][4] == ["project_branch:test.x"]
    assert got["pointer"] == in_branch
    # The production run read ProducerFlow from test.x ([getters.ProducerFlow] over [getters]).
    assert got[in_prod][:3] == ["test.x", branch_run, "prod"]
    assert got[in_prod][3][0]["branch"] == "test.x"
    assert got[in_prod][4] == ["project_branch:prod"]
    # `lineage --down` from production's run finds the feature-branch run that read it.
    out = sandbox.run_ok(["-m", "flowproject.cli", "lineage", prod_run, "--down", "--json"], cwd=root).stdout
    edges = json.loads(out.strip().splitlines()[-1])["edges"]
    assert edges == [{"from": prod_run, "to": "ConsumerFlow/%s" % in_branch, "kind": "read"}]


def test_validate_prints_the_branch_each_getter_reads(tmp_path, capsys):
    path = tmp_path / "flowproject.toml"
    path.write_text(
        TOML + '[getters]\nread_branch = "test.shared"\n[getters.TrainFlow]\nrun_id = "12"\n'
        '[getters.ScoreFlow]\nread_branch = "user.ann"\n'
    )
    expected = {
        "user": [
            "getters: ScoreFlow: reads branch 'user.ann' (getters.ScoreFlow.read_branch)",
            "getters: TrainFlow: reads the pinned run TrainFlow/12 (getters.TrainFlow.run_id)",
            "getters: every other flow: reads branch 'test.shared' (getters.read_branch)",
        ],
        "branch": [
            "getters: ScoreFlow: reads branch 'user.ann' (getters.ScoreFlow.read_branch)",
            "getters: TrainFlow: reads the pinned run TrainFlow/12 (getters.TrainFlow.run_id)",
            "getters: every other flow: reads branch 'prod' (getters.read_branch)",
        ],
        "production": [
            "getters: ProducerFlow: reads branch 'test.x' (getters.ProducerFlow.read_branch)",
            "getters: ScoreFlow: reads branch 'user.ann' (getters.ScoreFlow.read_branch)",
            "getters: TrainFlow: reads the pinned run TrainFlow/12 (getters.TrainFlow.run_id)",
            "getters: every other flow: reads branch 'test.shared' (getters.read_branch)",
        ],
    }
    for env, lines in expected.items():
        assert main(["validate", "--env", env, str(path)]) == 0
        assert capsys.readouterr().err.splitlines() == lines, env


def test_a_bad_read_branch_is_one_line_naming_the_key(tmp_path, capsys):
    path = tmp_path / "flowproject.toml"
    for body, expected in [
        ('[getters]\nread_branch = "main"\n', "getters.read_branch: expected a Metaflow project branch"),
        ('[getters.A]\nread_branch = "test.X-1"\n', "getters.A.read_branch: expected a Metaflow project branch"),
        ("[environments.production.getters]\nread_branch = 1\n", "getters.read_branch: expected"),
        ('[getters]\nread_brnch = "prod"\n', "getters.read_brnch: expected a [getters.<FlowName>] table, or one of"),
    ]:
        path.write_text('project_name = "p"\n' + body)
        assert main(["validate", "--env", "production", str(path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0], err
